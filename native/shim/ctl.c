/*
 * Control requests on shim.sock: one line each, split into words and dispatched through
 * one table {name, handler, min args, max args}. `hello` may come first on a connection;
 * it answers the protocol version and capabilities and leaves the connection open for
 * the request that follows (docs/shim.md, "Socket protocol").
 */
#define _GNU_SOURCE
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

/* What `hello` answers after the version: each word a request or feature this shim
 * has that a shim of protocol 1 (which answers hello with "error unknown request") may
 * lack. */
#define CAPABILITIES "enter attach-fd framing sinks"

#define MAX_WORDS 10

/* A decimal number that fills the whole word. */
static int num(const char *s, unsigned *v)
{
	char *end;
	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	unsigned long n = strtoul(s, &end, 10);
	if (errno || *end || n > 0xffffffffUL)
		return -1;
	*v = (unsigned)n;
	return 0;
}

/* Parses words[0..count) as numbers into v[]. */
static int nums(char **w, int count, unsigned *v)
{
	for (int i = 0; i < count; i++)
		if (num(w[i], &v[i]) < 0)
			return -1;
	return 0;
}

/* The framing word of an attach request, or the process's default when absent (raw
 * with a tty, stdcopy without: what a client of protocol 1 always got). */
static int framing(int argc, char **argv, int at, const struct proc *p, enum framing *f)
{
	if (argc <= at) {
		*f = p->tty ? FRAME_RAW : FRAME_STDCOPY;
		return 0;
	}
	if (!strcmp(argv[at], "raw"))
		*f = FRAME_RAW;
	else if (!strcmp(argv[at], "stdcopy"))
		*f = FRAME_STDCOPY;
	else
		return -1;
	return 0;
}

typedef void (*handler_fn)(struct client *c, int argc, char **argv, int fd);

/* `hello`: the protocol version and capabilities; the connection stays open. */
static void req_hello(struct client *c, int argc, char **argv, int fd)
{
	(void)argc, (void)argv, (void)fd;
	char line[128];
	int n = snprintf(line, sizeof line, "ok v%d %s\n", SHIM_PROTOCOL, CAPABILITIES);
	enqueue(c, line, (size_t)n);
}

/* `attach <in> <out> <err> [raw|stdcopy]`: after "ok" the connection is the init's stdio. */
static void req_attach(struct client *c, int argc, char **argv, int fd)
{
	(void)fd;
	unsigned v[3];
	enum framing f;
	if (nums(argv + 1, 3, v) < 0 || framing(argc, argv, 4, INIT, &f) < 0) {
		reply(c, "error bad attach request\n");
		return;
	}
	if (INIT->finalized) {
		reply(c, "error container has exited\n");
		return;
	}
	c->mode = C_ATTACH;
	c->proc = 0;
	c->primary = !started;
	c->want_in = v[0] && o.open_stdin;
	c->want_out = v[1] != 0;
	c->want_err = v[2] != 0;
	c->framing = f;
	enqueue(c, "ok\n", 3);
}

/* `attach-fd <in> <out> <err> [raw|stdcopy]` with a connected socket passed along: that
 * socket becomes an attach client of the container's init, output only, exactly like an
 * `attach` connection (same frames, same 4 MiB lag limit, closed when the output ends),
 * so the daemon need not copy the stream. The request connection gets "ok" and is closed. */
static void req_attach_fd(struct client *c, int argc, char **argv, int fd)
{
	unsigned v[3];
	enum framing f;
	struct stat st;
	if (fd < 0) {
		reply(c, "error attach-fd needs a descriptor\n");
		return;
	}
	if (nums(argv + 1, 3, v) < 0 || framing(argc, argv, 4, INIT, &f) < 0) {
		close(fd);
		reply(c, "error bad attach-fd request\n");
		return;
	}
	if (v[0] != 0) { /* stdin, detach keys and their half-close rules stay in the daemon */
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
	struct client *n = free_client();
	if (!n) {
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
	memset(n, 0, sizeof *n);
	n->fd = fd;
	n->mode = C_ATTACH;
	n->proc = 0;
	n->want_out = v[1] != 0;
	n->want_err = v[2] != 0;
	n->framing = f;
	n->primary = !started;
	reply(c, "ok\n");
}

/* `exec|enter <eid> <tty> <stdin> <attach-in> <attach-out> <attach-err> [raw|stdcopy]`:
 * starts an exec process (through the runtime, or entering the container directly) and
 * hands the connection over as its attach stream (when any stream is wanted) after
 * "ok <pid>". */
static void do_exec(struct client *c, int argc, char **argv, int direct)
{
	char line[PATH_MAX];
	unsigned v[5];
	const char *eid = argv[1];
	if (nums(argv + 2, 5, v) < 0) {
		reply(c, direct ? "error bad enter request\n" : "error bad exec request\n");
		return;
	}
	unsigned tty = v[0], in = v[1], a_in = v[2], a_out = v[3], a_err = v[4];
	enum framing f = tty ? FRAME_RAW : FRAME_STDCOPY;
	if (argc > 7 && !strcmp(argv[7], "raw"))
		f = FRAME_RAW;
	else if (argc > 7 && !strcmp(argv[7], "stdcopy"))
		f = FRAME_STDCOPY;
	else if (argc > 7) {
		reply(c, direct ? "error bad enter request\n" : "error bad exec request\n");
		return;
	}
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
	pid_t pid = (direct ? start_direct_exec : start_runtime_exec)(eid, (int)tty, in_p[0], out_p[1], err_p[1], &master);
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
	c->framing = f;
	c->primary = 1;
	enqueue(c, line, strlen(line));
}

static void req_exec(struct client *c, int argc, char **argv, int fd)
{
	(void)fd;
	do_exec(c, argc, argv, 0);
}

static void req_enter(struct client *c, int argc, char **argv, int fd)
{
	(void)fd;
	do_exec(c, argc, argv, 1);
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

/* `wait-exec <eid>`: "exit {json}" once the exec has exited. */
static void req_wait_exec(struct client *c, int argc, char **argv, int fd)
{
	(void)argc, (void)fd;
	const char *eid = argv[1];
	struct proc *p = valid_eid(eid) ? find_exec(eid) : NULL;
	if (p && !p->finalized) {
		c->mode = C_WAIT;
		c->proc = proc_index(p);
	} else if (valid_eid(eid))
		reply_exit_file(c, eid);
	else
		reply(c, "error invalid exec id\n");
}

/* Sets a pty's size. */
static void resize(struct client *c, const struct proc *p, unsigned rows, unsigned cols)
{
	struct winsize ws = {.ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols};
	if (!p->tty || p->out_fd < 0)
		reply(c, "error not a tty\n");
	else if (ioctl(p->out_fd, TIOCSWINSZ, &ws) < 0)
		reply(c, "error resize failed\n");
	else
		reply(c, "ok\n");
}

/* `resize-exec <eid> <rows> <cols>` */
static void req_resize_exec(struct client *c, int argc, char **argv, int fd)
{
	(void)argc, (void)fd;
	unsigned v[2];
	if (nums(argv + 2, 2, v) < 0) {
		reply(c, "error bad resize-exec request\n");
		return;
	}
	struct proc *p = valid_eid(argv[1]) ? find_exec(argv[1]) : NULL;
	if (!p || p->finalized)
		reply(c, "error exec is not running\n");
	else
		resize(c, p, v[0], v[1]);
}

/* `resize <rows> <cols>` */
static void req_resize(struct client *c, int argc, char **argv, int fd)
{
	(void)argc, (void)fd;
	unsigned v[2];
	if (nums(argv + 1, 2, v) < 0)
		reply(c, "error bad resize request\n");
	else
		resize(c, INIT, v[0], v[1]);
}

/* `wait`: "exit {json}" when the container has exited (at once if it already has). */
static void req_wait(struct client *c, int argc, char **argv, int fd)
{
	(void)argc, (void)argv, (void)fd;
	if (INIT->finalized) {
		char line[600];
		snprintf(line, sizeof line, "exit %s\n", INIT->exit_json);
		reply(c, line);
	} else {
		c->mode = C_WAIT;
		c->proc = 0;
	}
}

/* `start`: releases the init (see do_create). */
static void req_start(struct client *c, int argc, char **argv, int fd)
{
	(void)argc, (void)argv, (void)fd;
	if (started) {
		reply(c, "error container already started\n");
		return;
	}
	if (runtime_start() < 0) {
		reply(c, "error start failed\n");
		return;
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
}

static void req_close_stdin(struct client *c, int argc, char **argv, int fd)
{
	(void)argc, (void)argv, (void)fd;
	close_stdin(INIT);
	reply(c, "ok\n");
}

static void req_state(struct client *c, int argc, char **argv, int fd)
{
	(void)argc, (void)argv, (void)fd;
	char line[64];
	snprintf(line, sizeof line, "ok %s %d\n", INIT->finalized ? "stopped" : started ? "running" : "created",
		 (int)INIT->pid);
	reply(c, line);
}

/* `delete`: runtime delete, "ok", and the shim exits. */
static void req_delete(struct client *c, int argc, char **argv, int fd)
{
	(void)argc, (void)argv, (void)fd;
	if (runtime_delete() < 0) {
		reply(c, "error runtime delete failed\n");
		return;
	}
	out_sink->ops->shutdown(out_sink);
	/* Best effort: tell the client, then go away. */
	send(c->fd, "ok\n", 3, MSG_NOSIGNAL | MSG_DONTWAIT);
	unlink("shim.sock");
	exit(0);
}

static const struct request {
	const char *name;
	handler_fn fn;
	int min_args, max_args;
	int takes_fd;  /* attach-fd: the descriptor that came with the request */
	int keeps_open; /* hello: another request line may follow on the connection */
} requests[] = {
	{"hello", req_hello, 0, 0, 0, 1},
	{"attach", req_attach, 3, 4, 0, 0},
	{"attach-fd", req_attach_fd, 3, 4, 1, 0},
	{"exec", req_exec, 6, 7, 0, 0},
	{"enter", req_enter, 6, 7, 0, 0},
	{"wait-exec", req_wait_exec, 1, 1, 0, 0},
	{"resize-exec", req_resize_exec, 3, 3, 0, 0},
	{"wait", req_wait, 0, 0, 0, 0},
	{"start", req_start, 0, 0, 0, 0},
	{"resize", req_resize, 2, 2, 0, 0},
	{"close-stdin", req_close_stdin, 0, 0, 0, 0},
	{"state", req_state, 0, 0, 0, 0},
	{"delete", req_delete, 0, 0, 0, 0},
};

int handle_request(struct client *c, int passed)
{
	char line[REQ_MAX];
	char *argv[MAX_WORDS + 1];
	int argc = 0;
	snprintf(line, sizeof line, "%s", c->req);
	for (char *save = NULL, *w = strtok_r(line, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
		if (argc == MAX_WORDS + 1) {
			argc = -1;
			break;
		}
		argv[argc++] = w;
	}
	const struct request *r = NULL;
	for (size_t i = 0; argc > 0 && i < sizeof requests / sizeof requests[0]; i++)
		if (!strcmp(argv[0], requests[i].name))
			r = &requests[i];
	if (r && r->keeps_open && argc - 1 <= r->max_args) {
		r->fn(c, argc, argv, -1);
		return 1; /* the descriptor, if any, belongs to the next request */
	}
	if (passed >= 0 && !(r && r->takes_fd)) {
		close(passed); /* a descriptor sent with any other request is closed */
		passed = -1;
	}
	if (!r || argc - 1 < r->min_args || argc - 1 > r->max_args) {
		if (passed >= 0)
			close(passed);
		reply(c, "error unknown request\n");
		return 0;
	}
	r->fn(c, argc, argv, passed);
	return 0;
}
