/*
 * The binary logger: a program that receives the container's output and sends it
 * wherever it likes (a log driver provided as a program). The contract is containerd's
 * (runtime/v2 logging, pkg/process NewBinaryIO), so loggers written for containerd work:
 *
 *   - started as `<path> [args...]` with the environment CONTAINER_ID=<id>,
 *     CONTAINER_NAMESPACE=<namespace> (plus the daemon's extra KEY=VALUE entries) and
 *     nothing else; stdin and stdout /dev/null (stderr: the shim's own log, shim.log);
 *   - fd 3: the read end of the container's stdout, fd 4: of its stderr;
 *   - fd 5: the write end of a "ready" pipe: the logger writes a byte (or closes it) once
 *     it is reading; the container is created only after that (at most 10 s).
 *
 * The shim writes the output (raw bytes, as the container wrote them; a tty's is all
 * stdout) to the pipes without blocking its loop: what a pipe cannot take is queued,
 * and while 1 MiB is queued the shim stops reading the container's output, so a logger
 * that reads slowly slows the container down (Docker's blocking log mode; in containerd
 * the container writes to these pipes itself) but never the shim's requests or attach
 * clients. A logger that exits (EPIPE) gets nothing more: the failure is reported once
 * on stderr and the output counted. When the output ends what is queued gets 2 s more,
 * then the pipes are closed; the logger then finishes and exits; at `delete` one still
 * running after 2 s is killed.
 */
#define _GNU_SOURCE
#include "sink.h"
#include "child.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define READY_MS 10000
#define CLOSE_MS 2000
#define LOGGER_PIPE_SIZE (256 * 1024)
#define QUEUE_HIGH (1024 * 1024) /* the container's output is not read while this much waits */

struct queue {
	int fd; /* write end (non-blocking), -1 once closed */
	char *buf;
	size_t len, cap;
};

struct binary_sink {
	struct sink base;
	const char *path;
	pid_t pid;      /* the logger, until reaped */
	struct queue q[2]; /* stdout, stderr */
	int fail_errno;
	unsigned long long dropped;
};

static struct binary_sink bin = {.pid = -1, .q = {{.fd = -1}, {.fd = -1}}};

void sink_reaped(pid_t pid)
{
	if (pid > 0 && pid == bin.pid)
		bin.pid = -1;
}

/* The logger is gone (or its pipe broken): report once, drop what is queued. */
static void failed(struct binary_sink *s, int err)
{
	if (!s->fail_errno)
		fprintf(stderr, "shim: logger %s: %s; the container's output is no longer logged\n", s->path, strerror(err));
	s->fail_errno = err;
	for (int i = 0; i < 2; i++) {
		s->dropped += s->q[i].len;
		s->q[i].len = 0;
	}
}

/* Writes as much of p as the non-blocking pipe fd takes now; *done is how much. 0, or -1
 * after a failure (reported through failed()). */
static int write_now(struct binary_sink *s, int fd, const char *p, size_t n, size_t *done)
{
	*done = 0;
	while (*done < n) {
		ssize_t w = write(fd, p + *done, n - *done);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			failed(s, errno);
			return -1;
		}
		*done += (size_t)w;
	}
	return 0;
}

/* Writes what the pipe takes now; 0, or -1 after a failure. */
static int push(struct binary_sink *s, struct queue *q)
{
	size_t off;
	if (write_now(s, q->fd, q->buf, q->len, &off) < 0)
		return -1;
	memmove(q->buf, q->buf + off, q->len - off);
	q->len -= off;
	return 0;
}

static void binary_write(struct sink *b, int stream, const char *p, size_t n, const struct timespec *t)
{
	struct binary_sink *s = (struct binary_sink *)b;
	struct queue *q = &s->q[stream == SINK_STDOUT ? 0 : 1];
	(void)t;
	if (q->fd < 0 || s->fail_errno) {
		s->dropped += n;
		return;
	}
	if (q->len == 0) { /* straight from the read buffer while the pipe takes it */
		size_t done;
		int r = write_now(s, q->fd, p, n, &done);
		p += done;
		n -= done;
		if (r < 0) {
			s->dropped += n;
			return;
		}
	}
	if (n == 0)
		return;
	if (q->len + n > q->cap) {
		size_t cap = q->cap ? q->cap : 65536;
		while (cap < q->len + n)
			cap *= 2;
		char *nb = realloc(q->buf, cap);
		if (!nb) {
			s->dropped += n;
			return;
		}
		q->buf = nb;
		q->cap = cap;
	}
	memcpy(q->buf + q->len, p, n);
	q->len += n;
}

static void binary_flush(struct sink *b)
{
	(void)b;
}

static int binary_poll_fds(struct sink *b, int fds[2])
{
	struct binary_sink *s = (struct binary_sink *)b;
	int n = 0;
	for (int i = 0; i < 2; i++)
		if (s->q[i].fd >= 0 && s->q[i].len > 0)
			fds[n++] = s->q[i].fd;
	return n;
}

static void binary_drain(struct sink *b)
{
	struct binary_sink *s = (struct binary_sink *)b;
	for (int i = 0; i < 2; i++)
		if (s->q[i].fd >= 0 && s->q[i].len > 0 && push(s, &s->q[i]) < 0)
			return;
}

static int binary_behind(struct sink *b)
{
	struct binary_sink *s = (struct binary_sink *)b;
	return s->q[0].len >= QUEUE_HIGH || s->q[1].len >= QUEUE_HIGH;
}

/* The output has ended: what is queued gets CLOSE_MS more, then the pipes close (EOF
 * to the logger). */
static void binary_close(struct sink *b)
{
	struct binary_sink *s = (struct binary_sink *)b;
	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		struct pollfd pf[2];
		int n = 0;
		for (int i = 0; i < 2; i++)
			if (s->q[i].fd >= 0 && s->q[i].len > 0)
				pf[n++] = (struct pollfd){.fd = s->q[i].fd, .events = POLLOUT};
		clock_gettime(CLOCK_MONOTONIC, &now);
		long left = CLOSE_MS - ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000);
		if (n == 0 || left <= 0 || s->fail_errno)
			break;
		if (poll(pf, (nfds_t)n, (int)left) < 0 && errno != EINTR)
			break;
		binary_drain(b);
	}
	for (int i = 0; i < 2; i++) {
		struct queue *q = &s->q[i];
		s->dropped += q->len;
		q->len = 0;
		if (q->fd >= 0)
			close(q->fd);
		q->fd = -1;
		free(q->buf);
		q->buf = NULL;
		q->cap = 0;
	}
	if (s->dropped)
		fprintf(stderr, "shim: logger %s: %llu bytes of output not logged\n", s->path, s->dropped);
}

/* Waits up to 2 s for the logger to exit; kills it after that. */
static void binary_shutdown(struct sink *b)
{
	struct binary_sink *s = (struct binary_sink *)b;
	if (s->q[0].fd >= 0 || s->q[1].fd >= 0)
		binary_close(b);
	for (int waited = 0; s->pid > 0; waited += 10) {
		int st;
		pid_t r = waitpid(s->pid, &st, WNOHANG);
		if (r == s->pid || (r < 0 && errno == ECHILD)) {
			s->pid = -1;
			break;
		}
		if (waited >= 2000) {
			kill(s->pid, SIGKILL);
			waitpid(s->pid, &st, 0);
			s->pid = -1;
			break;
		}
		struct timespec ten = {0, 10 * 1000000L};
		nanosleep(&ten, NULL);
	}
}

static const struct sink_ops binary_ops = {binary_write,    binary_flush, binary_close,	binary_shutdown,
					  binary_poll_fds, binary_drain, binary_behind};

static void close_pair(int p[2])
{
	for (int i = 0; i < 2; i++)
		if (p[i] >= 0)
			close(p[i]);
}

/* In the child: fds 3, 4, 5 and the environment, then exec; errno to `report` on failure. */
__attribute__((noreturn)) static void exec_logger(const struct sink_config *c, int out, int err, int rdy, int report)
{
	char *envp[SINK_MAX_ARGS + 3];
	char *argv[SINK_MAX_ARGS + 2];
	char idv[128], nsv[128];
	int ne = 0, na = 0;
	child_default_signals();
	/* above 5 first, so that no dup2 below overwrites a source */
	int fds[4] = {fcntl(out, F_DUPFD_CLOEXEC, 10), fcntl(err, F_DUPFD_CLOEXEC, 10), fcntl(rdy, F_DUPFD_CLOEXEC, 10),
		      fcntl(report, F_DUPFD_CLOEXEC, 10)};
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fds[0] < 0 || fds[1] < 0 || fds[2] < 0 || fds[3] < 0 || null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 ||
	    dup2(fds[0], 3) < 0 || dup2(fds[1], 4) < 0 || dup2(fds[2], 5) < 0)
		goto fail;
	snprintf(idv, sizeof idv, "CONTAINER_ID=%s", c->id ? c->id : "");
	snprintf(nsv, sizeof nsv, "CONTAINER_NAMESPACE=%s", c->ns ? c->ns : "default");
	envp[ne++] = idv;
	envp[ne++] = nsv;
	for (int i = 0; i < c->n_env; i++)
		envp[ne++] = (char *)c->env[i];
	envp[ne] = NULL;
	argv[na++] = (char *)c->path;
	for (int i = 0; i < c->n_args; i++)
		argv[na++] = (char *)c->args[i];
	argv[na] = NULL;
	execve(c->path, argv, envp);
fail:;
	int e = errno;
	if (write(fds[3] >= 0 ? fds[3] : report, &e, sizeof e) < 0)
		_exit(127);
	_exit(127);
}

struct sink *sink_binary_open(const struct sink_config *c, int *err, char *why, size_t whylen)
{
	int out_p[2] = {-1, -1}, err_p[2] = {-1, -1}, rdy[2] = {-1, -1}, rep[2] = {-1, -1};
	bin.base = (struct sink){&binary_ops, SINK_BINARY};
	bin.path = c->path;
	if (c->path[0] != '/') {
		snprintf(why, whylen, "the logging binary must be an absolute path");
		*err = EINVAL;
		return NULL;
	}
	if (pipe2(out_p, O_CLOEXEC) < 0 || pipe2(err_p, O_CLOEXEC) < 0 || pipe2(rdy, O_CLOEXEC) < 0 ||
	    pipe2(rep, O_CLOEXEC) < 0) {
		*err = errno;
		goto fail;
	}
	fcntl(out_p[1], F_SETPIPE_SZ, LOGGER_PIPE_SIZE);
	fcntl(err_p[1], F_SETPIPE_SZ, LOGGER_PIPE_SIZE);
	pid_t pid = fork();
	if (pid < 0) {
		*err = errno;
		goto fail;
	}
	if (pid == 0)
		exec_logger(c, out_p[0], err_p[0], rdy[1], rep[1]);
	bin.pid = pid;
	close(out_p[0]);
	close(err_p[0]);
	close(rdy[1]);
	close(rep[1]);
	out_p[0] = err_p[0] = rdy[1] = rep[1] = -1;
	int e = 0;
	ssize_t r;
	do
		r = read(rep[0], &e, sizeof e);
	while (r < 0 && errno == EINTR);
	if (r == (ssize_t)sizeof e) { /* the exec failed */
		*err = e;
		snprintf(why, whylen, "cannot start the logging binary");
		waitpid(pid, NULL, 0);
		bin.pid = -1;
		goto fail;
	}
	/* ready: a byte, or EOF (containerd takes either) */
	struct pollfd pf = {.fd = rdy[0], .events = POLLIN};
	int pr;
	do
		pr = poll(&pf, 1, READY_MS);
	while (pr < 0 && errno == EINTR);
	if (pr <= 0) {
		*err = pr == 0 ? ETIMEDOUT : errno;
		snprintf(why, whylen, "the logging binary did not get ready");
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		bin.pid = -1;
		goto fail;
	}
	char byte;
	if (read(rdy[0], &byte, 1) < 0) {
		/* an error reading the ready pipe is as good as EOF */
	}
	close(rdy[0]);
	close(rep[0]);
	for (int i = 0; i < 2; i++) {
		int fd = i == 0 ? out_p[1] : err_p[1];
		int fl = fcntl(fd, F_GETFL);
		if (fl >= 0)
			fcntl(fd, F_SETFL, fl | O_NONBLOCK);
		bin.q[i].fd = fd;
	}
	return &bin.base;
fail:
	close_pair(out_p);
	close_pair(err_p);
	close_pair(rdy);
	close_pair(rep);
	return NULL;
}
