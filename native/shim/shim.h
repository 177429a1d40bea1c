/*
 * stevedore-shim: the parent of one container (docs/shim.md). It detaches from the
 * daemon, runs the runtime's create (and start when asked), holds the container's stdio
 * (pipes or a pty master), sends its output to a sink (json-file, CRI, none, a logging
 * binary) and to attach clients, serves control requests on a unix socket in its state
 * dir, reaps the container and records its exit status. It also hosts the container's
 * exec processes.
 *
 * One thread, one poll loop, every buffer bounded, libc only. The files, by job:
 *   main.c     arguments, daemonizing, the poll loop
 *   proc.c     the process table (init + exec processes), reaping, exit records, OOM
 *   io.c       attach clients: queues, slow clients, fan-out with per-client framing
 *   ctl.c      control requests: one table of {name, handler, min args}, and `hello`
 *   runtime.c  runtime calls: create, start, exec, delete; console socket; ready line
 *   sink*.c    output sinks (sink.h); log.c is json-file's encoder and rotation
 *   enter.c    direct exec (entering the container); fdpass.c SCM_RIGHTS
 *   child.c    what every forked child does before exec (signal mask, dispositions)
 */
#ifndef STEVEDORE_SHIM_H
#define STEVEDORE_SHIM_H
#include "sink.h"

#include <limits.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>

/* The protocol version `hello` answers, and what this shim can do (ctl.c). */
#define SHIM_PROTOCOL 2

#define MAX_CLIENTS 64
#define REQ_MAX 256
#define CLIENT_OUT_MAX (4 * 1024 * 1024) /* an observer further behind is dropped */
#define PRIMARY_HIGH (1024 * 1024) /* the process's output is not read while its primary client is this far behind */
#define STDIN_BUF 65536
/* Output is read up to READ_CHUNK at a time from pipes grown to PIPE_SIZE (from the
 * kernel's 64 KiB): a container writing fast keeps running while the shim writes the
 * log, and the shim reads (and sends, and logs) in fewer, larger pieces. */
#ifndef READ_CHUNK
#define READ_CHUNK (128 * 1024)
#endif
#ifndef PIPE_SIZE
#define PIPE_SIZE (256 * 1024)
#endif
#define MAX_RT_ARGS 16
#define MAX_LOG_ARGS 32
#define DRAIN_MS 2000 /* after a process exits, wait this long at most for its stdio EOF */
#define CLIENT_LINGER_MS 2000 /* a drained attach client that does not hang up is closed after this */
#define MAX_PROCS 33   /* the container's init (procs[0]) and up to 32 exec processes */
#define EID_MAX 64

struct opts {
	const char *id, *bundle, *state, *runtime, *root;
	int tty, open_stdin, stdin_once, ready_fd;
	int gate; /* --gate: wait for "go" on the ready fd before creating */
	const char *rt_args[MAX_RT_ARGS];
	int n_rt_args;
	struct sink_config sink;
};

enum cmode { C_REQ, C_ATTACH, C_WAIT };

/* How an attach client's output is framed: raw bytes, or Docker's stdcopy frames
 * ([stream, 0, 0, 0, uint32 BE length] payload). Chosen by the client's request. */
enum framing { FRAME_RAW, FRAME_STDCOPY };

/* One process whose stdio the shim holds: the container's init, or an exec process. */
struct proc {
	int used, is_init, tty, open_stdin, stdin_once;
	char eid[EID_MAX + 2]; /* exec id ("" for init) */
	pid_t pid;
	int out_fd, err_fd; /* read ends; with a tty out_fd is the pty master */
	int in_fd;          /* write end of stdin (the master again with a tty) */
	char *stdin_buf;    /* STDIN_BUF bytes */
	size_t stdin_len;
	int stdin_close_pending;
	int exited, finalized, status;
	struct timespec exit_time, exited_mono;
	char exit_json[512];
};

struct client {
	int fd;
	enum cmode mode;
	int proc; /* index in procs[] of the process attached to / waited for */
	int want_in, want_out, want_err, in_eof, closing;
	/* An attach client whose process ended: all output was sent and its write side shut
	 * (the peer reads EOF); its input is read and dropped until it hangs up, so that
	 * input in flight does not make the peer's writes fail and lose unread output. */
	int draining;
	struct timespec drain_since;
	enum framing framing;
	/* The process's own consumer (attached before the container started, as `docker run`
	 * and `docker start -a` are, or the connection that started an exec): it is never
	 * dropped for being slow, the process's output waits for it instead, like a pipe. Any
	 * other attach client is an observer that cannot hold the container up. */
	int primary;
	size_t reqlen;
	char req[REQ_MAX];
	char *out;
	size_t outlen, outcap;
};

/* ---- shared state (main.c) ---- */
extern struct opts o;
extern struct sink *out_sink; /* the container's output sink (init only; execs are never logged) */
extern struct client clients[MAX_CLIENTS];
extern struct proc procs[MAX_PROCS];
#define INIT (&procs[0])
extern int started; /* "start" was answered: init's output is read and its exit reported */
extern char p_log[PATH_MAX], p_pid[PATH_MAX], p_console[PATH_MAX];

/* ---- main.c ---- */
__attribute__((noreturn, format(printf, 1, 2))) void die(const char *fmt, ...);
void set_nonblock(int fd);
long ms_since(const struct timespec *t);

/* ---- proc.c ---- */
void proc_reset(struct proc *p);
int proc_index(const struct proc *p);
struct proc *find_exec(const char *eid);
struct proc *alloc_exec(void);
int valid_eid(const char *s);
void close_proc_fd(struct proc *p, int *fd);
void close_stdin(struct proc *p);
void finalize(struct proc *p);
void reap(int sig_fd);
void find_oom_path(void);
void pump(struct proc *p, int *fd, int stream);
void pump_stdin(struct proc *p);

/* ---- io.c ---- */
void drop(struct client *c);
void flush_client(struct client *c);
void enqueue(struct client *c, const char *p, size_t n);
void reply(struct client *c, const char *msg);
struct client *free_client(void);
void accept_clients(int listen_fd);
void client_readable(struct client *c);
int primary_behind(int proc);
void fan_out(struct proc *pr, int stream, const char *p, size_t n);

/* ---- ctl.c ---- */
/* Serves one request line (c->req, NUL-terminated, without '\n'); `passed` is a
 * descriptor that came with it (or -1), which the request takes or closes. Returns 1
 * when the connection stays a request connection for another line (`hello`). */
int handle_request(struct client *c, int passed);

/* ---- runtime.c ---- */
void ready(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int run_runtime(const char *const *cmd, int in, int out, int err);
int run_runtime_nice(const char *const *cmd, int in, int out, int err, int niceness);
int ok_status(int st);
int output_pipe(int p[2]);
int unix_listen(const char *name);
void do_create(void);
int runtime_start(void);
int runtime_delete(void);
pid_t start_runtime_exec(const char *eid, int tty, int in, int out, int err, int *master);
pid_t start_direct_exec(const char *eid, int tty, int in, int out, int err, int *master);

#endif
