/*
 * stevedore-shim: the parent of one container. It detaches from the daemon, runs
 * `<runtime> create` (and `start` when asked), holds the container's stdio (pipes or a
 * pty master), writes Docker json-file logs, serves attach and control requests on a
 * unix socket in its state dir, reaps the container and records its exit status in
 * exit.json. It also hosts the container's exec processes, started by entering the
 * container itself (enter.c) or with `runtime exec --detach`: each has its own stdio,
 * attach clients and exit record (exec-<eid>.exit).
 * See docs/shim.md for the protocol and the files.
 *
 * One thread, one poll loop. Every buffer is bounded. No library beyond libc.
 */
#define _GNU_SOURCE
#include "enter.h"
#include "fdpass.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

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
#define DRAIN_MS 2000 /* after a process exits, wait this long at most for its stdio EOF */
#define MAX_PROCS 33   /* the container's init (procs[0]) and up to 32 exec processes */
#define EID_MAX 64

struct opts {
	const char *id, *bundle, *state, *runtime, *root, *log;
	long long log_max_size;
	int log_max_files, tty, open_stdin, stdin_once, ready_fd;
	const char *rt_args[MAX_RT_ARGS];
	int n_rt_args;
};

enum cmode { C_REQ, C_ATTACH, C_WAIT };

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

static struct opts o;
static struct logfile logf;
static struct linebuf lb_out = {.stream = "stdout"}, lb_err = {.stream = "stderr"};
static struct client clients[MAX_CLIENTS];
static struct proc procs[MAX_PROCS];
#define INIT (&procs[0])
static char init_stdin_buf[STDIN_BUF];
static int listen_fd = -1, sig_fd = -1;
static int started;
static char oom_path[PATH_MAX];
static char p_log[PATH_MAX], p_pid[PATH_MAX], p_console[PATH_MAX];

static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("shim: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputs("\n", stderr);
	va_end(ap);
	exit(1);
}


static void set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		die("fcntl: %s", strerror(errno));
}

static long long parse_num(const char *s, const char *what)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || *end || end == s || v < 0)
		die("bad %s: %s", what, s);
	return v;
}

static void usage(void)
{
	die("usage: stevedore-shim --id ID --bundle DIR --state-dir DIR --runtime BIN --runtime-root DIR "
	    "[--runtime-arg ARG]... [--log PATH] [--log-max-size N] [--log-max-files N] [--tty] "
	    "[--stdin] [--stdin-once] [--ready-fd N]");
}

static void parse_args(int argc, char **argv)
{
	o.ready_fd = -1;
	o.log_max_files = 1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		int takes = 1;
		if (!strcmp(a, "--id") && v)
			o.id = v;
		else if (!strcmp(a, "--bundle") && v)
			o.bundle = v;
		else if (!strcmp(a, "--state-dir") && v)
			o.state = v;
		else if (!strcmp(a, "--runtime") && v)
			o.runtime = v;
		else if (!strcmp(a, "--runtime-root") && v)
			o.root = v;
		else if (!strcmp(a, "--runtime-arg") && v) {
			if (o.n_rt_args == MAX_RT_ARGS)
				die("too many --runtime-arg");
			o.rt_args[o.n_rt_args++] = v;
		} else if (!strcmp(a, "--log") && v)
			o.log = v;
		else if (!strcmp(a, "--log-max-size") && v)
			o.log_max_size = parse_num(v, "--log-max-size");
		else if (!strcmp(a, "--log-max-files") && v)
			o.log_max_files = (int)parse_num(v, "--log-max-files");
		else if (!strcmp(a, "--ready-fd") && v)
			o.ready_fd = (int)parse_num(v, "--ready-fd");
		else {
			takes = 0;
			if (!strcmp(a, "--tty"))
				o.tty = 1;
			else if (!strcmp(a, "--stdin"))
				o.open_stdin = 1;
			else if (!strcmp(a, "--stdin-once"))
				o.stdin_once = 1;
			else
				usage();
		}
		i += takes;
	}
	if (!o.id || !o.bundle || !o.state || !o.runtime || !o.root || o.state[0] != '/')
		usage();
}

/* Tells the daemon how create went; the first line on the ready fd is the answer. */
static void ready(const char *fmt, ...)
{
	char line[256];
	va_list ap;
	if (o.ready_fd < 0)
		return;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (n > 0 && (size_t)n < sizeof line && write_all(o.ready_fd, line, (size_t)n) < 0)
		perror("shim: ready fd");
	close(o.ready_fd);
	o.ready_fd = -1;
}

/* Runs `<runtime> --root R --log L --log-format json [args] <cmd...>` and waits for it.
 * stdio: in/out/err fds for the child (-1 = /dev/null); niceness: added to the child's
 * (for teardown nobody waits on). Returns the wait status. */
static int run_runtime_nice(const char *const *cmd, int in, int out, int err, int niceness)
{
	const char *argv[MAX_RT_ARGS + 24];
	int n = 0;
	argv[n++] = o.runtime;
	argv[n++] = "--root";
	argv[n++] = o.root;
	argv[n++] = "--log";
	argv[n++] = p_log;
	argv[n++] = "--log-format";
	argv[n++] = "json";
	for (int i = 0; i < o.n_rt_args; i++)
		argv[n++] = o.rt_args[i];
	for (int i = 0; cmd[i] && n < (int)(sizeof argv / sizeof argv[0]) - 1; i++)
		argv[n++] = cmd[i];
	argv[n] = NULL;

	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		sigset_t none;
		int null = open("/dev/null", O_RDWR);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		/* Ignored dispositions survive exec: the container must not inherit ours. */
		signal(SIGPIPE, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		if (niceness && nice(niceness) < 0)
			perror("shim: nice");
		if (null < 0 || dup2(in >= 0 ? in : null, 0) < 0 || dup2(out >= 0 ? out : null, 1) < 0 ||
		    dup2(err >= 0 ? err : null, 2) < 0)
			_exit(127);
		execvp(o.runtime, (char *const *)argv);
		int lf = open(p_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		if (lf >= 0)
			dprintf(lf, "{\"level\":\"error\",\"msg\":\"exec %s: %s\"}\n", o.runtime, strerror(errno));
		_exit(127);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return status;
}

static int run_runtime(const char *const *cmd, int in, int out, int err)
{
	return run_runtime_nice(cmd, in, out, err, 0);
}

/* Output pipes (from the shim's side): grown to PIPE_SIZE, best effort (an unprivileged
 * shim may be refused past the user limit). */
static int output_pipe(int p[2])
{
	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	fcntl(p[0], F_SETPIPE_SZ, PIPE_SIZE);
	return 0;
}

static int ok_status(int st)
{
	return st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* Receives the pty master that the runtime sends over the console socket. */
static int recv_master(int lfd)
{
	char dummy[256];
	int fd = -1;
	int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (c < 0)
		return -1;
	ssize_t r = recv_with_fd(c, dummy, sizeof dummy, &fd, 0);
	close(c);
	if (r < 0)
		return -1;
	if (fd < 0)
		errno = EPROTO;
	return fd;
}

static int unix_listen(const char *name)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(name) >= sizeof sa.sun_path)
		return -1;
	strcpy(sa.sun_path, name);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	unlink(name);
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || chmod(name, 0600) < 0 || listen(fd, 32) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Finds the memory cgroup of the container so that an OOM kill can be detected. */
static void find_oom_path(void)
{
	char p[64], line[1024];
	snprintf(p, sizeof p, "/proc/%d/cgroup", (int)INIT->pid);
	FILE *f = fopen(p, "re");
	if (!f)
		return;
	while (fgets(line, sizeof line, f)) {
		line[strcspn(line, "\n")] = '\0';
		char *c1 = strchr(line, ':');
		char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2)
			continue;
		*c2 = '\0';
		const char *ctrl = c1 + 1, *cg = c2 + 1;
		int n = -1;
		if (!strcmp(ctrl, "memory") || strstr(ctrl, "memory,") || strstr(ctrl, ",memory"))
			n = snprintf(oom_path, sizeof oom_path, "/sys/fs/cgroup/memory%s/memory.oom_control", cg);
		else if (!strcmp(ctrl, "") && line[0] == '0' && oom_path[0] == '\0') {
			n = snprintf(oom_path, sizeof oom_path, "/sys/fs/cgroup%s/memory.events", cg);
			if (n > 0 && (size_t)n < sizeof oom_path && access(oom_path, R_OK) < 0)
				n = snprintf(oom_path, sizeof oom_path, "/sys/fs/cgroup/unified%s/memory.events", cg);
		}
		if (n < 0 || (size_t)n >= sizeof oom_path)
			oom_path[0] = '\0';
		if (!strcmp(ctrl, "memory") && oom_path[0])
			break;
	}
	fclose(f);
}

static int oom_killed(void)
{
	char line[256];
	long long v = 0;
	if (!oom_path[0])
		return 0;
	FILE *f = fopen(oom_path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "oom_kill %lld", &v) == 1)
			break;
	fclose(f);
	return v > 0;
}

/* Create failed after the runtime may have made the container: undo and exit. */
static void create_failed(const char *fmt, int arg)
{
	const char *del[] = {"delete", "--force", o.id, NULL};
	ready(fmt, arg);
	run_runtime(del, -1, -1, -1);
	unlink("shim.sock");
	unlink("console.sock");
	exit(1);
}

static void do_create(void)
{
	int in_p[2] = {-1, -1}, out_p[2] = {-1, -1}, err_p[2] = {-1, -1};
	int con = -1;
	const char *cmd[10];
	int n = 0;
	/* Without a tty, `run --detach` is create + start in one runtime call (one process
	 * start fewer on every container start). The process runs from here on, but its output is not read
	 * and its exit not reported until the daemon says "start" (after it has attached
	 * its clients), so nothing it writes is lost to them: until then it can fill a pipe
	 * buffer and block, exactly like a process that has not started. */
	if (o.tty) {
		/* a terminal's size is set between create and start: the process must not
		 * run before "start" */
		cmd[n++] = "create";
	} else {
		cmd[n++] = "run";
		cmd[n++] = "--detach";
	}
	cmd[n++] = "--bundle";
	cmd[n++] = o.bundle;
	cmd[n++] = "--pid-file";
	cmd[n++] = p_pid;
	if (o.tty) {
		con = unix_listen("console.sock");
		if (con < 0)
			die("console socket: %s", strerror(errno));
		cmd[n++] = "--console-socket";
		cmd[n++] = p_console;
	} else {
		if ((o.open_stdin && pipe2(in_p, O_CLOEXEC) < 0) || output_pipe(out_p) < 0 || output_pipe(err_p) < 0)
			die("pipe: %s", strerror(errno));
	}
	cmd[n++] = o.id;
	cmd[n] = NULL;

	int st = run_runtime(cmd, in_p[0], out_p[1], err_p[1]);
	struct proc *p = INIT;
	if (!o.tty) {
		if (in_p[0] >= 0)
			close(in_p[0]);
		close(out_p[1]);
		close(err_p[1]);
		p->in_fd = in_p[1];
		p->out_fd = out_p[0];
		p->err_fd = err_p[0];
	}
	if (!ok_status(st))
		create_failed("error create %d\n", st >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : 255);
	if (o.tty) {
		p->out_fd = recv_master(con);
		close(con);
		unlink("console.sock");
		if (p->out_fd < 0)
			create_failed("error console %d\n", errno);
		p->in_fd = o.open_stdin ? p->out_fd : -1;
	}
	FILE *pf = fopen(p_pid, "re");
	int pid = 0;
	int got = pf ? fscanf(pf, "%d", &pid) : 0;
	if (pf)
		fclose(pf);
	if (got != 1 || pid <= 0)
		create_failed("error pid-file %d\n", 0);
	p->pid = pid;
	set_nonblock(p->out_fd);
	if (p->err_fd >= 0)
		set_nonblock(p->err_fd);
	if (p->in_fd >= 0 && p->in_fd != p->out_fd)
		set_nonblock(p->in_fd);
	find_oom_path();
}

/* ---- processes ---- */

static int proc_index(const struct proc *p)
{
	return (int)(p - procs);
}

static void proc_reset(struct proc *p)
{
	memset(p, 0, sizeof *p);
	p->out_fd = p->err_fd = p->in_fd = -1;
	p->pid = -1;
}

static struct proc *find_exec(const char *eid)
{
	for (int i = 1; i < MAX_PROCS; i++)
		if (procs[i].used && !strcmp(procs[i].eid, eid))
			return &procs[i];
	return NULL;
}

/* A free exec slot: never used, or finalized with no client still pointing at it. */
static struct proc *alloc_exec(void)
{
	for (int i = 1; i < MAX_PROCS; i++) {
		struct proc *p = &procs[i];
		if (p->used && !p->finalized)
			continue;
		int busy = 0;
		for (int k = 0; k < MAX_CLIENTS; k++)
			if (clients[k].fd >= 0 && clients[k].proc == i)
				busy = 1;
		if (busy)
			continue;
		free(p->stdin_buf);
		proc_reset(p);
		return p;
	}
	return NULL;
}

/* ---- clients ---- */

static void drop(struct client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c->out);
	memset(c, 0, sizeof *c);
	c->fd = -1;
}

static void flush_client(struct client *c)
{
	size_t off = 0;
	while (off < c->outlen) {
		ssize_t w = send(c->fd, c->out + off, c->outlen - off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN) {
				drop(c);
				return;
			}
			break;
		}
		off += (size_t)w;
	}
	if (off > 0) { /* one move for everything sent, however many sends it took */
		memmove(c->out, c->out + off, c->outlen - off);
		c->outlen -= off;
	}
	if (c->outlen > 0)
		return;
	if (c->outcap > 65536) { /* caught up after a burst: give the memory back */
		free(c->out);
		c->out = NULL;
		c->outcap = 0;
	}
	if (c->closing)
		drop(c);
}

/* Appends the bytes of iov[] after the first `skip` to a client's queue; an observer
 * whose queue would pass CLIENT_OUT_MAX is dropped (a primary client holds the output
 * instead: primary_behind). Returns 0, or -1 when it was dropped. */
static int queue_iov(struct client *c, const struct iovec *iov, int cnt, size_t skip)
{
	size_t n = 0;
	for (int i = 0; i < cnt; i++)
		n += iov[i].iov_len;
	n -= skip;
	if (c->outlen + n > CLIENT_OUT_MAX && !c->primary) {
		drop(c);
		return -1;
	}
	if (c->outlen + n > c->outcap) {
		size_t cap = c->outcap ? c->outcap : 4096;
		while (cap < c->outlen + n)
			cap *= 2;
		char *nb = realloc(c->out, cap);
		if (!nb) {
			drop(c);
			return -1;
		}
		c->out = nb;
		c->outcap = cap;
	}
	for (int i = 0; i < cnt; i++) {
		size_t len = iov[i].iov_len;
		if (skip >= len) {
			skip -= len;
			continue;
		}
		memcpy(c->out + c->outlen, (const char *)iov[i].iov_base + skip, len - skip);
		c->outlen += len - skip;
		skip = 0;
	}
	return 0;
}

/* Sends bytes to a client: straight from the caller's buffers with one sendmsg when
 * nothing is queued before them, the rest queued (see queue_iov for slow clients). */
static void enqueue_iov(struct client *c, const struct iovec *iov, int cnt)
{
	size_t sent = 0;
	if (c->fd < 0)
		return;
	if (c->outlen == 0) {
		struct msghdr m = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)cnt};
		ssize_t w;
		do
			w = sendmsg(c->fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
		while (w < 0 && errno == EINTR);
		if (w < 0 && errno != EAGAIN) {
			drop(c);
			return;
		}
		if (w > 0)
			sent = (size_t)w;
	}
	if (queue_iov(c, iov, cnt, sent) == 0)
		flush_client(c);
}

/* Queues bytes for a client (see queue_iov for the slow-client rules). */
static void enqueue(struct client *c, const char *p, size_t n)
{
	struct iovec iov = {.iov_base = (void *)p, .iov_len = n};
	enqueue_iov(c, &iov, 1);
}

static void reply(struct client *c, const char *msg)
{
	c->closing = 1;
	c->mode = C_REQ;
	enqueue(c, msg, strlen(msg));
}

/* Output of a process: to every client attached to it and to the log (init only).
 * Without a tty the bytes go out as stdcopy frames of at most FRAME_MAX bytes, as
 * Docker's 32 KiB copy buffer makes them; all frames of one read leave in one sendmsg. */
#define FRAME_MAX 32768
#define MAX_FRAMES ((READ_CHUNK + FRAME_MAX - 1) / FRAME_MAX)
static void fan_out(struct proc *pr, int stream, const char *p, size_t n)
{
	unsigned char hdr[MAX_FRAMES][8];
	struct iovec iov[2 * MAX_FRAMES];
	int cnt = 0;
	int idx = proc_index(pr);
	if (pr->tty) {
		iov[cnt++] = (struct iovec){.iov_base = (void *)p, .iov_len = n};
	} else {
		for (size_t off = 0; off < n && cnt < 2 * MAX_FRAMES; off += FRAME_MAX) {
			size_t len = n - off < FRAME_MAX ? n - off : FRAME_MAX;
			unsigned char *h = hdr[cnt / 2];
			h[0] = (unsigned char)stream;
			h[1] = h[2] = h[3] = 0;
			h[4] = (unsigned char)(len >> 24);
			h[5] = (unsigned char)(len >> 16);
			h[6] = (unsigned char)(len >> 8);
			h[7] = (unsigned char)len;
			iov[cnt++] = (struct iovec){.iov_base = h, .iov_len = 8};
			iov[cnt++] = (struct iovec){.iov_base = (void *)(p + off), .iov_len = len};
		}
	}
	/* clients first: they (and the daemon and CLI behind them) work on this chunk while
	 * the log is written */
	for (int i = 0; i < MAX_CLIENTS; i++) {
		struct client *c = &clients[i];
		if (c->fd < 0 || c->mode != C_ATTACH || c->closing || c->proc != idx)
			continue;
		if ((stream == 1 && !c->want_out) || (stream == 2 && !c->want_err))
			continue;
		enqueue_iov(c, iov, cnt);
	}
	if (pr->is_init) {
		log_feed(&logf, stream == 1 ? &lb_out : &lb_err, p, n);
		log_sync(&logf);
	}
}

static void format_exit(struct proc *p)
{
	char ts[48];
	int code, sig = 0;
	if (WIFEXITED(p->status))
		code = WEXITSTATUS(p->status);
	else if (WIFSIGNALED(p->status)) {
		sig = WTERMSIG(p->status);
		code = 128 + sig;
	} else
		code = 255;
	rfc3339nano(ts, &p->exit_time);
	snprintf(p->exit_json, sizeof p->exit_json,
		 "{\"exitCode\":%d,\"signal\":%d,\"oomKilled\":%s,\"finishedAt\":\"%s\",\"pid\":%d}", code, sig,
		 p->is_init && oom_killed() ? "true" : "false", ts, (int)p->pid);
}

/* Writes `data` to `name` atomically (temp file, rename). No fsync: the state dir lives
 * in the exec root (a /run-like dir), whose contents only matter while the machine is
 * up, and rename alone is atomic against any process crash. An fsync here was ~5-10 ms
 * on the path of every exit (`docker run` and `docker exec` wait for it). */
static void write_atomic(const char *name, const char *data)
{
	char tmp[PATH_MAX];
	snprintf(tmp, sizeof tmp, "%s.tmp", name);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write_all(fd, data, strlen(data)) < 0 || close(fd) < 0 || rename(tmp, name) < 0)
		fprintf(stderr, "shim: write %s: %s\n", name, strerror(errno));
}

static void close_proc_fd(struct proc *p, int *fd)
{
	if (*fd < 0)
		return;
	int same = p->in_fd == p->out_fd;
	close(*fd);
	if (fd == &p->out_fd && same)
		p->in_fd = -1;
	if (fd == &p->in_fd && same)
		p->out_fd = -1;
	*fd = -1;
}

/* Records a process's exit status (exit.json / exec-<eid>.exit), wakes its waiters, ends its attaches. */
static void finalize(struct proc *p)
{
	char line[600];
	if (p->finalized)
		return;
	if (p->is_init) {
		/* Exec processes die with the container's pid namespace: record them first. */
		for (int i = 1; i < MAX_PROCS; i++) {
			struct proc *e = &procs[i];
			if (!e->used || e->finalized)
				continue;
			if (!e->exited) {
				e->exited = 1;
				e->status = SIGKILL; /* a wait status: killed by SIGKILL */
				clock_gettime(CLOCK_REALTIME, &e->exit_time);
			}
			finalize(e);
		}
	}
	p->finalized = 1;
	if (p->is_init) {
		/* written, not fsync'd (Docker's json-file does not sync either): a sync here
		 * holds the exit, and with it the attach EOF, until the whole log is on disk */
		log_flush(&logf, &lb_out);
		log_flush(&logf, &lb_err);
	}
	format_exit(p);
	if (p->is_init)
		write_atomic("exit.json", p->exit_json);
	else {
		char name[EID_MAX + 16];
		snprintf(name, sizeof name, "exec-%s.exit", p->eid);
		write_atomic(name, p->exit_json);
	}
	snprintf(line, sizeof line, "exit %s\n", p->exit_json);
	int idx = proc_index(p);
	for (int i = 0; i < MAX_CLIENTS; i++) {
		struct client *c = &clients[i];
		if (c->fd < 0 || c->proc != idx || c->closing)
			continue;
		if (c->mode == C_WAIT)
			reply(c, line);
		else if (c->mode == C_ATTACH) {
			c->closing = 1;
			flush_client(c);
		}
	}
	if (p->in_fd >= 0 && p->in_fd != p->out_fd)
		close(p->in_fd);
	p->in_fd = -1;
	if (!p->is_init) {
		close_proc_fd(p, &p->out_fd);
		close_proc_fd(p, &p->err_fd);
		free(p->stdin_buf);
		p->stdin_buf = NULL;
		p->stdin_len = 0;
	}
}

static void close_stdin(struct proc *p)
{
	p->stdin_close_pending = 1;
	if (p->stdin_len == 0 && p->in_fd >= 0) {
		if (p->in_fd != p->out_fd)
			close(p->in_fd);
		p->in_fd = -1;
	}
}

static int valid_eid(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > EID_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

/* A failed exec start in runc's words, where the daemon reads runtime errors. */
static void runtime_error(const char *msg)
{
	char t[40], line[2300], *q = line;
	time_t now = time(NULL);
	struct tm tm;
	strftime(t, sizeof t, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
	q += sprintf(q, "{\"level\":\"error\",\"msg\":\"exec failed: unable to start container process: ");
	for (const char *m = msg; *m && q < line + sizeof line - 80; m++) {
		if (*m == '"' || *m == '\\')
			*q++ = '\\';
		if ((unsigned char)*m >= 0x20)
			*q++ = *m;
	}
	q += sprintf(q, "\",\"time\":\"%s\"}\n", t);
	int fd = open(p_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd >= 0) {
		write_all(fd, line, (size_t)(q - line));
		close(fd);
	}
}

/* Starts an exec with `runtime exec --detach --process exec-<eid>.json`. */
static pid_t start_runtime_exec(const char *eid, int tty, int in, int out, int err, int *master)
{
	char spec[PATH_MAX], pidf[PATH_MAX];
	snprintf(spec, sizeof spec, "%s/exec-%s.json", o.state, eid);
	snprintf(pidf, sizeof pidf, "%s/exec-%s.pid", o.state, eid);
	const char *cmd[12];
	int n = 0, con = -1;
	cmd[n++] = "exec";
	cmd[n++] = "--detach";
	cmd[n++] = "--pid-file";
	cmd[n++] = pidf;
	cmd[n++] = "--process";
	cmd[n++] = spec;
	if (tty) {
		if ((con = unix_listen("console.sock")) < 0)
			return -1;
		cmd[n++] = "--console-socket";
		cmd[n++] = p_console;
	}
	cmd[n++] = o.id;
	cmd[n] = NULL;
	int st = run_runtime(cmd, in, out, err);
	if (ok_status(st) && tty)
		*master = recv_master(con);
	if (con >= 0) {
		close(con);
		unlink("console.sock");
	}
	FILE *pf = fopen(pidf, "re");
	int pid = 0;
	int got = pf ? fscanf(pf, "%d", &pid) : 0;
	if (pf)
		fclose(pf);
	unlink(pidf);
	return ok_status(st) && got == 1 && pid > 0 ? pid : -1;
}

/* Starts an exec by entering the container (enter.c) as exec-<eid>.enter describes. */
static pid_t start_direct_exec(const char *eid, int tty, int in, int out, int err, int *master)
{
	char spec[PATH_MAX], msg[1024];
	struct enter_spec es;
	snprintf(spec, sizeof spec, "exec-%s.enter", eid);
	pid_t pid = -1;
	if (enter_parse(spec, &es, msg, sizeof msg) == 0)
		pid = enter_start(&es, INIT->pid, tty, in, out, err, master, msg, sizeof msg);
	enter_free(&es);
	if (pid < 0)
		runtime_error(msg);
	return pid;
}

/* `exec|enter <eid> <tty> <stdin> <attach-in> <attach-out> <attach-err>`: starts an exec
 * process (through the runtime, or entering the container directly) and hands the
 * connection over as its attach stream (when any stream is wanted) after "ok <pid>". */
static void do_exec(struct client *c, const char *eid, int direct, unsigned tty, unsigned in, unsigned a_in,
		    unsigned a_out, unsigned a_err)
{
	char line[PATH_MAX];
	if (!valid_eid(eid)) {
		reply(c, "error invalid exec id\n");
		return;
	}
	if (!started || INIT->exited) {
		reply(c, "error container is not running\n");
		return;
	}
	snprintf(line, sizeof line, "%s/exec-%s.exit", o.state, eid);
	if (find_exec(eid) || access(line, F_OK) == 0) {
		reply(c, "error exec already started\n");
		return;
	}
	struct proc *p = alloc_exec();
	char *buf = in ? malloc(STDIN_BUF) : NULL;
	if (!p || (in && !buf)) {
		free(buf);
		reply(c, "error too many exec processes\n");
		return;
	}
	int in_p[2] = {-1, -1}, out_p[2] = {-1, -1}, err_p[2] = {-1, -1};
	if (!tty && ((in && pipe2(in_p, O_CLOEXEC) < 0) || output_pipe(out_p) < 0 || output_pipe(err_p) < 0)) {
		for (int i = 0; i < 2; i++) {
			if (in_p[i] >= 0)
				close(in_p[i]);
			if (out_p[i] >= 0)
				close(out_p[i]);
		}
		free(buf);
		reply(c, "error pipe\n");
		return;
	}
	int master = -1;
	pid_t pid = (direct ? start_direct_exec : start_runtime_exec)(eid, tty, in_p[0], out_p[1], err_p[1], &master);
	int out_fd = tty ? master : out_p[0], err_fd = err_p[0], in_fd = tty ? (in ? master : -1) : in_p[1];
	if (!tty) {
		if (in_p[0] >= 0)
			close(in_p[0]);
		close(out_p[1]);
		close(err_p[1]);
	}
	if (pid <= 0 || out_fd < 0) {
		if (in_fd >= 0 && in_fd != out_fd)
			close(in_fd);
		if (out_fd >= 0)
			close(out_fd);
		if (err_fd >= 0)
			close(err_fd);
		free(buf);
		reply(c, "error exec failed\n");
		return;
	}
	p->used = 1;
	p->tty = tty != 0;
	p->open_stdin = in != 0;
	p->stdin_once = 1;
	snprintf(p->eid, sizeof p->eid, "%s", eid);
	p->pid = pid;
	p->out_fd = out_fd;
	p->err_fd = err_fd;
	p->in_fd = in_fd;
	p->stdin_buf = buf;
	set_nonblock(out_fd);
	if (err_fd >= 0)
		set_nonblock(err_fd);
	if (in_fd >= 0 && in_fd != out_fd)
		set_nonblock(in_fd);
	snprintf(line, sizeof line, "ok %d\n", pid);
	if (!a_in && !a_out && !a_err) {
		reply(c, line);
		return;
	}
	c->mode = C_ATTACH;
	c->proc = proc_index(p);
	c->want_in = a_in && p->open_stdin;
	c->want_out = a_out != 0;
	c->want_err = a_err != 0;
	c->primary = 1;
	enqueue(c, line, strlen(line));
}

static void reply_exit_file(struct client *c, const char *eid)
{
	char name[EID_MAX + 16], line[600];
	snprintf(name, sizeof name, "exec-%s.exit", eid);
	int fd = open(name, O_RDONLY | O_CLOEXEC);
	ssize_t r = fd >= 0 ? read(fd, line + 5, sizeof line - 7) : -1;
	if (fd >= 0)
		close(fd);
	if (r <= 0) {
		reply(c, "error no such exec\n");
		return;
	}
	memcpy(line, "exit ", 5);
	line[5 + r] = '\n';
	line[6 + r] = '\0';
	reply(c, line);
}

static void handle_request(struct client *c)
{
	char *r = c->req;
	char eid[EID_MAX + 2];
	unsigned a, b, d, e, f, g;
	if (sscanf(r, "attach %u %u %u", &a, &b, &d) == 3) {
		if (INIT->finalized) {
			reply(c, "error container has exited\n");
			return;
		}
		c->mode = C_ATTACH;
		c->proc = 0;
		c->primary = !started;
		c->want_in = a && o.open_stdin;
		c->want_out = b != 0;
		c->want_err = d != 0;
		enqueue(c, "ok\n", 3);
	} else if (sscanf(r, "exec %65s %u %u %u %u %u", eid, &a, &b, &d, &e, &f) == 6) {
		do_exec(c, eid, 0, a, b, d, e, f);
	} else if (sscanf(r, "enter %65s %u %u %u %u %u", eid, &a, &b, &d, &e, &f) == 6) {
		do_exec(c, eid, 1, a, b, d, e, f);
	} else if (sscanf(r, "wait-exec %65s", eid) == 1) {
		struct proc *p = valid_eid(eid) ? find_exec(eid) : NULL;
		if (p && !p->finalized) {
			c->mode = C_WAIT;
			c->proc = proc_index(p);
		} else if (valid_eid(eid))
			reply_exit_file(c, eid);
		else
			reply(c, "error invalid exec id\n");
	} else if (sscanf(r, "resize-exec %65s %u %u", eid, &g, &b) == 3) {
		struct proc *p = valid_eid(eid) ? find_exec(eid) : NULL;
		struct winsize ws = {.ws_row = (unsigned short)g, .ws_col = (unsigned short)b};
		if (!p || p->finalized)
			reply(c, "error exec is not running\n");
		else if (!p->tty || p->out_fd < 0)
			reply(c, "error not a tty\n");
		else if (ioctl(p->out_fd, TIOCSWINSZ, &ws) < 0)
			reply(c, "error resize failed\n");
		else
			reply(c, "ok\n");
	} else if (!strcmp(r, "wait")) {
		if (INIT->finalized) {
			char line[600];
			snprintf(line, sizeof line, "exit %s\n", INIT->exit_json);
			reply(c, line);
		} else {
			c->mode = C_WAIT;
			c->proc = 0;
		}
	} else if (!strcmp(r, "start")) {
		if (started) {
			reply(c, "error container already started\n");
			return;
		}
		if (o.tty) {
			const char *cmd[] = {"start", o.id, NULL};
			if (!ok_status(run_runtime(cmd, -1, -1, -1))) {
				reply(c, "error start failed\n");
				return;
			}
		}
		/* without a tty the runtime started it already (run --detach); either way its
		 * output is read and its exit reported from now on */
		started = 1;
		if (INIT->exited) {
			/* it ran to its end before "start": it cannot have finished before it was
			 * started, so its finish time is now (as if it ran after the start) */
			clock_gettime(CLOCK_REALTIME, &INIT->exit_time);
			clock_gettime(CLOCK_MONOTONIC, &INIT->exited_mono);
		}
		reply(c, "ok\n");
	} else if (sscanf(r, "resize %u %u", &a, &b) == 2) {
		struct winsize ws = {.ws_row = (unsigned short)a, .ws_col = (unsigned short)b};
		if (!o.tty || INIT->out_fd < 0)
			reply(c, "error not a tty\n");
		else if (ioctl(INIT->out_fd, TIOCSWINSZ, &ws) < 0)
			reply(c, "error resize failed\n");
		else
			reply(c, "ok\n");
	} else if (!strcmp(r, "close-stdin")) {
		close_stdin(INIT);
		reply(c, "ok\n");
	} else if (!strcmp(r, "state")) {
		char line[64];
		snprintf(line, sizeof line, "ok %s %d\n", INIT->finalized ? "stopped" : started ? "running" : "created",
			 (int)INIT->pid);
		reply(c, line);
	} else if (!strcmp(r, "delete")) {
		/* After the container has exited nothing waits for this teardown (~20 ms of a Go
		 * process's CPU): at the lowest priority it does not compete with the next
		 * `docker` command for the cores. */
		const char *cmd[] = {"delete", "--force", o.id, NULL};
		int st = run_runtime_nice(cmd, -1, -1, -1, INIT->exited ? 19 : 0);
		if (!ok_status(st)) {
			reply(c, "error runtime delete failed\n");
			return;
		}
		/* Best effort: tell the client, then go away. */
		send(c->fd, "ok\n", 3, MSG_NOSIGNAL | MSG_DONTWAIT);
		unlink("shim.sock");
		exit(0);
	} else
		reply(c, "error unknown request\n");
}

/* `attach-fd <in> <out> <err>` with a connected socket passed along: that socket becomes
 * an attach client of the container's init, output only, exactly like an `attach`
 * connection (same frames, same 4 MiB lag limit, closed when the output ends), so the
 * daemon need not copy the stream. The request connection gets "ok" and is closed. */
static void attach_fd(struct client *c, int fd)
{
	unsigned a = 0, b = 0, d = 0;
	struct stat st;
	int i;
	if (fd < 0) {
		reply(c, "error attach-fd needs a descriptor\n");
		return;
	}
	if (sscanf(c->req, "attach-fd %u %u %u", &a, &b, &d) != 3) {
		close(fd);
		reply(c, "error bad attach-fd request\n");
		return;
	}
	if (a != 0) { /* stdin, detach keys and their half-close rules stay in the daemon */
		close(fd);
		reply(c, "error attach-fd is output only\n");
		return;
	}
	if (fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode)) {
		close(fd);
		reply(c, "error attach-fd needs a socket\n");
		return;
	}
	if (INIT->finalized) {
		close(fd);
		reply(c, "error container has exited\n");
		return;
	}
	for (i = 0; i < MAX_CLIENTS && clients[i].fd >= 0; i++)
		;
	if (i == MAX_CLIENTS) {
		close(fd);
		reply(c, "error too many clients\n");
		return;
	}
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		close(fd);
		reply(c, "error attach-fd: bad descriptor\n");
		return;
	}
	struct client *n = &clients[i];
	memset(n, 0, sizeof *n);
	n->fd = fd;
	n->mode = C_ATTACH;
	n->proc = 0;
	n->want_out = b != 0;
	n->want_err = d != 0;
	n->primary = !started;
	reply(c, "ok\n");
}

static void client_readable(struct client *c)
{
	char buf[4096];
	if (c->mode == C_ATTACH) {
		struct proc *p = &procs[c->proc];
		int to_stdin = c->want_in && !c->closing && p->in_fd >= 0 && p->stdin_buf;
		size_t room = STDIN_BUF - p->stdin_len;
		if (to_stdin && room == 0)
			return;
		ssize_t r = read(c->fd, to_stdin ? p->stdin_buf + p->stdin_len : buf, to_stdin ? room : sizeof buf);
		if (r < 0) {
			if (errno != EAGAIN && errno != EINTR)
				drop(c);
			return;
		}
		if (r == 0) {
			c->in_eof = 1;
			/* As Docker: a client's EOF closes the process's stdin only without a tty. */
			if (c->want_in && !c->closing && p->stdin_once && !p->tty)
				close_stdin(p);
			return;
		}
		if (to_stdin)
			p->stdin_len += (size_t)r;
		return;
	}
	if (c->mode != C_REQ || c->closing) {
		/* A waiter or a replied client only tells us when it goes away. */
		ssize_t r = read(c->fd, buf, sizeof buf);
		if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
			drop(c);
		return;
	}
	int passed = -1; /* a descriptor sent with the request (SCM_RIGHTS): attach-fd */
	ssize_t r = recv_with_fd(c->fd, c->req + c->reqlen, REQ_MAX - 1 - c->reqlen, &passed, MSG_DONTWAIT);
	if (r < 0) {
		if (errno != EAGAIN && errno != EINTR)
			drop(c);
		return;
	}
	if (r == 0) {
		if (passed >= 0)
			close(passed);
		drop(c);
		return;
	}
	c->reqlen += (size_t)r;
	c->req[c->reqlen] = '\0';
	char *nl = strchr(c->req, '\n');
	if (!nl) {
		if (passed >= 0) /* a descriptor comes in one message with its whole request */
			close(passed);
		if (c->reqlen == REQ_MAX - 1)
			reply(c, "error request too long\n");
		return;
	}
	/* Bytes after the request line (stdin sent eagerly by an attach client) are kept. */
	size_t rest = c->reqlen - (size_t)(nl + 1 - c->req);
	char extra[REQ_MAX];
	memcpy(extra, nl + 1, rest);
	*nl = '\0';
	if (!strncmp(c->req, "attach-fd ", 10)) {
		attach_fd(c, passed);
		return;
	}
	if (passed >= 0)
		close(passed);
	handle_request(c);
	if (rest > 0 && c->fd >= 0 && c->mode == C_ATTACH && c->want_in) {
		struct proc *p = &procs[c->proc];
		if (p->in_fd >= 0 && p->stdin_buf && rest <= STDIN_BUF - p->stdin_len) {
			memcpy(p->stdin_buf + p->stdin_len, extra, rest);
			p->stdin_len += rest;
		}
	}
}

static void accept_clients(void)
{
	for (;;) {
		int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0)
			return;
		int i;
		for (i = 0; i < MAX_CLIENTS && clients[i].fd >= 0; i++)
			;
		if (i == MAX_CLIENTS) {
			send(fd, "error too many clients\n", 23, MSG_NOSIGNAL | MSG_DONTWAIT);
			close(fd);
			continue;
		}
		memset(&clients[i], 0, sizeof clients[i]);
		clients[i].fd = fd;
	}
}

static void reap(void)
{
	struct signalfd_siginfo si;
	while (read(sig_fd, &si, sizeof si) == (ssize_t)sizeof si)
		;
	for (;;) {
		int st;
		pid_t p = waitpid(-1, &st, WNOHANG);
		if (p <= 0)
			return;
		for (int i = 0; i < MAX_PROCS; i++) {
			struct proc *pr = &procs[i];
			if (pr->used && pr->pid == p && !pr->exited) {
				pr->exited = 1;
				pr->status = st;
				clock_gettime(CLOCK_REALTIME, &pr->exit_time);
				clock_gettime(CLOCK_MONOTONIC, &pr->exited_mono);
				break;
			}
		}
	}
}

/* Reads one chunk of a process's output; closes the fd on EOF/error. */
static void pump(struct proc *p, int *fd, int stream)
{
	static char buf[READ_CHUNK];
	ssize_t r = read(*fd, buf, sizeof buf);
	if (r > 0) {
		fan_out(p, stream, buf, (size_t)r);
		return;
	}
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	/* EOF, or EIO from a pty master once every slave is closed. */
	close_proc_fd(p, fd);
}

static void pump_stdin(struct proc *p)
{
	while (p->stdin_len > 0 && p->in_fd >= 0) {
		ssize_t w = write(p->in_fd, p->stdin_buf, p->stdin_len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN) {
				p->stdin_len = 0; /* the process closed its stdin: discard */
				if (p->in_fd != p->out_fd)
					close(p->in_fd);
				p->in_fd = -1;
			}
			break;
		}
		memmove(p->stdin_buf, p->stdin_buf + w, p->stdin_len - (size_t)w);
		p->stdin_len -= (size_t)w;
	}
	if (p->stdin_close_pending && p->stdin_len == 0)
		close_stdin(p);
}

static long ms_since(const struct timespec *t)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t->tv_sec) * 1000 + (now.tv_nsec - t->tv_nsec) / 1000000;
}

/* poll slots for process fds are tagged PFD_BASE + proc*3 + {0 out, 1 err, 2 in} */
#define PFD_BASE 1000

/* Whether process i's primary client is so far behind that its output must wait. */
static int primary_behind(int i)
{
	for (int k = 0; k < MAX_CLIENTS; k++) {
		const struct client *c = &clients[k];
		if (c->fd >= 0 && c->mode == C_ATTACH && c->primary && c->proc == i && c->outlen >= PRIMARY_HIGH)
			return 1;
	}
	return 0;
}

static void loop(void)
{
	struct pollfd pf[MAX_CLIENTS + 2 + 3 * MAX_PROCS];
	int cidx[MAX_CLIENTS + 2 + 3 * MAX_PROCS];
	for (;;) {
		int n = 0;
		int timeout = -1;
		pf[n] = (struct pollfd){.fd = listen_fd, .events = POLLIN};
		cidx[n++] = -1;
		pf[n] = (struct pollfd){.fd = sig_fd, .events = POLLIN};
		cidx[n++] = -2;
		int again = 0;
		for (int i = 0; i < MAX_PROCS; i++) {
			struct proc *p = &procs[i];
			if (!p->used || p->finalized)
				continue;
			if (p == INIT && !started)
				continue; /* held until "start": see do_create */
			int held = primary_behind(i);
			if (p->exited) {
				long left = DRAIN_MS - ms_since(&p->exited_mono);
				if ((left <= 0 && !held) || (p->out_fd < 0 && p->err_fd < 0)) {
					finalize(p);
					again = 1;
					break;
				}
				/* held past the drain time: wait for the client, not the clock */
				if (left > 0 && (timeout < 0 || left < timeout))
					timeout = (int)left;
			}
			if (p->out_fd >= 0 && (!held || (p->in_fd == p->out_fd && p->stdin_len > 0))) {
				short ev = held ? 0 : POLLIN;
				if (p->in_fd == p->out_fd && p->stdin_len > 0)
					ev |= POLLOUT;
				pf[n] = (struct pollfd){.fd = p->out_fd, .events = ev};
				cidx[n++] = PFD_BASE + i * 3;
			}
			if (p->err_fd >= 0 && !held) {
				pf[n] = (struct pollfd){.fd = p->err_fd, .events = POLLIN};
				cidx[n++] = PFD_BASE + i * 3 + 1;
			}
			if (p->in_fd >= 0 && p->in_fd != p->out_fd && p->stdin_len > 0) {
				pf[n] = (struct pollfd){.fd = p->in_fd, .events = POLLOUT};
				cidx[n++] = PFD_BASE + i * 3 + 2;
			}
		}
		if (again)
			continue;
		for (int i = 0; i < MAX_CLIENTS; i++) {
			struct client *c = &clients[i];
			if (c->fd < 0)
				continue;
			short ev = 0;
			struct proc *p = &procs[c->proc];
			int wants_stdin_room = c->mode == C_ATTACH && c->want_in && p->in_fd >= 0 && !c->closing;
			if (!c->in_eof && (!wants_stdin_room || STDIN_BUF - p->stdin_len >= 4096))
				ev |= POLLIN;
			if (c->outlen > 0)
				ev |= POLLOUT;
			pf[n] = (struct pollfd){.fd = c->fd, .events = ev};
			cidx[n++] = i;
		}
		int r = poll(pf, (nfds_t)n, timeout);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			die("poll: %s", strerror(errno));
		}
		for (int k = 0; k < n; k++) {
			short re = pf[k].revents;
			if (!re)
				continue;
			if (cidx[k] == -1) {
				accept_clients();
			} else if (cidx[k] == -2) {
				reap();
			} else if (cidx[k] >= PFD_BASE) {
				struct proc *p = &procs[(cidx[k] - PFD_BASE) / 3];
				int kind = (cidx[k] - PFD_BASE) % 3;
				if (p->finalized)
					continue;
				if (kind == 0) {
					if (p->out_fd != pf[k].fd)
						continue;
					if (re & POLLOUT)
						pump_stdin(p);
					if ((re & (POLLIN | POLLHUP | POLLERR)) && p->out_fd >= 0)
						pump(p, &p->out_fd, 1);
				} else if (kind == 1) {
					if (p->err_fd == pf[k].fd)
						pump(p, &p->err_fd, 2);
				} else if (p->in_fd == pf[k].fd) {
					pump_stdin(p);
				}
			} else {
				struct client *c = &clients[cidx[k]];
				if (c->fd < 0 || c->fd != pf[k].fd)
					continue;
				if (re & POLLOUT)
					flush_client(c);
				if (c->fd >= 0 && (re & (POLLIN | POLLHUP | POLLERR)))
					client_readable(c);
				if (c->fd >= 0 && (re & POLLHUP) && c->in_eof)
					drop(c);
			}
		}
		for (int i = 0; i < MAX_PROCS; i++)
			if (procs[i].used && !procs[i].finalized && procs[i].stdin_len > 0 && procs[i].in_fd >= 0)
				pump_stdin(&procs[i]);
	}
}

static void daemonize(void)
{
	pid_t p = fork();
	if (p < 0)
		die("fork: %s", strerror(errno));
	if (p > 0)
		_exit(0);
	if (setsid() < 0)
		die("setsid: %s", strerror(errno));
}

int main(int argc, char **argv)
{
	parse_args(argc, argv);
	/* Attach buffers are big and short-lived: keep them in mmap so free() returns them. */
	mallopt(M_MMAP_THRESHOLD, 65536);
	for (int i = 0; i < MAX_CLIENTS; i++)
		clients[i].fd = -1;
	for (int i = 0; i < MAX_PROCS; i++)
		proc_reset(&procs[i]);
	INIT->used = 1;
	INIT->is_init = 1;
	INIT->tty = o.tty;
	INIT->open_stdin = o.open_stdin;
	INIT->stdin_once = o.stdin_once;
	INIT->stdin_buf = init_stdin_buf;
	if (o.ready_fd >= 0 && fcntl(o.ready_fd, F_SETFD, FD_CLOEXEC) < 0)
		die("bad --ready-fd: %s", strerror(errno));
	if (snprintf(p_log, sizeof p_log, "%s/runtime.log", o.state) >= (int)sizeof p_log ||
	    snprintf(p_pid, sizeof p_pid, "%s/init.pid", o.state) >= (int)sizeof p_pid ||
	    snprintf(p_console, sizeof p_console, "%s/console.sock", o.state) >= (int)sizeof p_console)
		die("state dir path too long");
	if (chdir(o.state) < 0)
		die("chdir %s: %s", o.state, strerror(errno));
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	int slog = open("shim.log", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (null < 0 || slog < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(slog, 2) < 0)
		die("stdio: %s", strerror(errno));
	close(null);
	close(slog);
	daemonize();
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
		die("subreaper: %s", strerror(errno));
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0 || (sig_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK)) < 0)
		die("signalfd: %s", strerror(errno));

	char pid[32];
	int pfd = open("shim.pid.tmp", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	int pn = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
	if (pfd < 0 || write_all(pfd, pid, (size_t)pn) < 0 || close(pfd) < 0 || rename("shim.pid.tmp", "shim.pid") < 0)
		die("shim.pid: %s", strerror(errno));
	int lr = log_open(&logf, o.log, o.log_max_size, o.log_max_files);
	if (lr < 0)
		die("open log %s: %s", o.log, strerror(-lr));
	listen_fd = unix_listen("shim.sock");
	if (listen_fd < 0)
		die("shim.sock: %s", strerror(errno));

	do_create();
	ready("ok %d\n", (int)INIT->pid);
	loop();
	return 0;
}
