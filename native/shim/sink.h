/*
 * Output sinks: where a container's output goes besides its attach clients. One sink per
 * container, chosen by the daemon at create (--log-driver); exec output is never logged.
 *
 *   json-file  Docker's json-file (log.c): escaping, 16 KiB partial entries, rotation,
 *              the disk-full policy
 *   cri        the Kubernetes CRI log format, as containerd writes it:
 *              `<RFC3339Nano> <stdout|stderr> <F|P> <line>\n`
 *   none       nothing (Docker's "none" driver)
 *   binary     a logging program, containerd's binary-logger contract: started with
 *              fd 3 = the stdout pipe, 4 = the stderr pipe, 5 = a "ready" pipe it writes
 *              or closes once it is reading; CONTAINER_ID / CONTAINER_NAMESPACE in its env
 *
 * Every call is made from the shim's one thread. A sink never blocks the loop on a
 * failing destination: what cannot be written is counted, dropped and reported a few
 * times on the shim's stderr (shim.log).
 */
#ifndef STEVEDORE_SHIM_SINK_H
#define STEVEDORE_SHIM_SINK_H
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#define SINK_STDOUT 1
#define SINK_STDERR 2

enum sink_kind { SINK_NONE, SINK_JSON_FILE, SINK_CRI, SINK_BINARY };

#define SINK_MAX_ARGS 32

/* What the daemon chose, from the shim's arguments. */
struct sink_config {
	enum sink_kind kind;
	const char *path;        /* json-file / cri: the log file; binary: the program */
	long long max_size;      /* json-file: rotate at this size (<= 0: never) */
	int max_files;           /* json-file: files kept including the live one */
	long long max_line;      /* cri: longer lines are cut into P entries of this size */
	const char *args[SINK_MAX_ARGS]; /* binary: its arguments */
	int n_args;
	const char *env[SINK_MAX_ARGS];  /* binary: extra KEY=VALUE entries */
	int n_env;
	const char *id, *ns;     /* binary: CONTAINER_ID, CONTAINER_NAMESPACE */
};

struct sink;
struct sink_ops {
	/* Output of one stream read at `t` (CLOCK_REALTIME). */
	void (*write)(struct sink *s, int stream, const char *p, size_t n, const struct timespec *t);
	/* The end of one read from the container: batched entries go out. */
	void (*flush)(struct sink *s);
	/* The container's output has ended: partial lines out, destinations closed. */
	void (*close)(struct sink *s);
	/* The shim is going away (delete): anything left running is stopped. */
	void (*shutdown)(struct sink *s);
	/* Optional, for a sink that queues output for a destination that is not ready
	 * (the binary logger's pipes): the descriptors to poll for POLLOUT (returns how
	 * many, at most 2), what to do when one is writable, and whether so much is queued
	 * that the loop must stop reading the container's output (backpressure) for now. */
	int (*poll_fds)(struct sink *s, int fds[2]);
	void (*drain)(struct sink *s);
	int (*behind)(struct sink *s);
};

struct sink {
	const struct sink_ops *ops;
	enum sink_kind kind;
};

/* Opens the sink `c` describes. Returns NULL with *err set (an errno) and `why` filled. */
struct sink *sink_open(const struct sink_config *c, int *err, char *why, size_t whylen);
/* The optional operations, with their defaults (nothing queued, never behind). */
int sink_poll_fds(struct sink *s, int fds[2]);
void sink_drain(struct sink *s);
int sink_behind(struct sink *s);
/* A child of the shim was reaped (a logging binary that exited is not killed later). */
void sink_reaped(pid_t pid);
/* Parses a --log-driver value; -1 when unknown. */
int sink_kind_parse(const char *name);

/* The implementations (sink.c, sink_cri.c, sink_binary.c). */
struct sink *sink_json_open(const struct sink_config *c, int *err);
struct sink *sink_cri_open(const struct sink_config *c, int *err);
struct sink *sink_binary_open(const struct sink_config *c, int *err, char *why, size_t whylen);

/* CRI formatting, exposed for its unit test: feeds bytes of one stream, writing
 * complete entries through `emit`. State per stream. */
struct cri_line {
	const char *stream;   /* "stdout" / "stderr" */
	size_t len, cap, max;
	char *buf;            /* max + 1 bytes: a pending '\r' may sit past max */
};
typedef void (*cri_emit_fn)(void *ctx, const char *stream, char tag, const char *p, size_t n, const struct timespec *t);
void cri_feed(struct cri_line *l, const char *p, size_t n, const struct timespec *t, cri_emit_fn emit, void *ctx);
void cri_end(struct cri_line *l, const struct timespec *t, cri_emit_fn emit, void *ctx);

#endif
