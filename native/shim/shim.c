/*
 * stevedore-shim: the parent of one container. It detaches from the daemon, runs
 * `<runtime> create` (and `start` when asked), holds the container's stdio (pipes or a
 * pty master), writes Docker json-file logs, serves attach and control requests on a
 * unix socket in its state dir, reaps the container and records its exit status in
 * exit.json. See docs/shim.md for the protocol and the files.
 *
 * One thread, one poll loop. Every buffer is bounded. No library beyond libc.
 */
#define _GNU_SOURCE
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
#define CLIENT_OUT_MAX (4 * 1024 * 1024) /* an attach client further behind is dropped */
#define STDIN_BUF 65536
#define READ_CHUNK 32768
#define MAX_RT_ARGS 16
#define DRAIN_MS 2000 /* after init exits, wait this long at most for stdio EOF */

struct opts {
	const char *id, *bundle, *state, *runtime, *root, *log;
	long long log_max_size;
	int log_max_files, tty, open_stdin, stdin_once, ready_fd;
	const char *rt_args[MAX_RT_ARGS];
	int n_rt_args;
};

enum cmode { C_REQ, C_ATTACH, C_WAIT };

struct client {
	int fd;
	enum cmode mode;
	int want_in, want_out, want_err, in_eof, closing;
	size_t reqlen;
	char req[REQ_MAX];
	char *out;
	size_t outlen, outcap;
};

static struct opts o;
static struct logfile logf;
static struct linebuf lb_out = {.stream = "stdout"}, lb_err = {.stream = "stderr"};
static struct client clients[MAX_CLIENTS];
static int listen_fd = -1, sig_fd = -1;
static int out_fd = -1, err_fd = -1; /* read ends; with a tty out_fd is the pty master */
static int in_fd = -1;               /* write end of stdin (the master again with a tty) */
static char stdin_buf[STDIN_BUF];
static size_t stdin_len;
static int stdin_close_pending;
static pid_t init_pid = -1;
static int started, exited, finalized;
static int exit_status;
static struct timespec exit_time;
static char oom_path[PATH_MAX];
static char exit_json[512];
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

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
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
 * stdio: in/out/err fds for the child (-1 = /dev/null). Returns the wait status. */
static int run_runtime(const char *const *cmd, int in, int out, int err)
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

static int ok_status(int st)
{
	return st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* Receives the pty master that the runtime sends over the console socket. */
static int recv_master(int lfd)
{
	char dummy[256];
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {.iov_base = dummy, .iov_len = sizeof dummy};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
	int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (c < 0)
		return -1;
	ssize_t r;
	do
		r = recvmsg(c, &msg, MSG_CMSG_CLOEXEC);
	while (r < 0 && errno == EINTR);
	close(c);
	if (r < 0)
		return -1;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS && cm->cmsg_len == CMSG_LEN(sizeof(int))) {
			int fd;
			memcpy(&fd, CMSG_DATA(cm), sizeof fd);
			return fd;
		}
	}
	errno = EPROTO;
	return -1;
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
	snprintf(p, sizeof p, "/proc/%d/cgroup", (int)init_pid);
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
	cmd[n++] = "create";
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
		if ((o.open_stdin && pipe2(in_p, O_CLOEXEC) < 0) || pipe2(out_p, O_CLOEXEC) < 0 ||
		    pipe2(err_p, O_CLOEXEC) < 0)
			die("pipe: %s", strerror(errno));
	}
	cmd[n++] = o.id;
	cmd[n] = NULL;

	int st = run_runtime(cmd, in_p[0], out_p[1], err_p[1]);
	if (!o.tty) {
		if (in_p[0] >= 0)
			close(in_p[0]);
		close(out_p[1]);
		close(err_p[1]);
		in_fd = in_p[1];
		out_fd = out_p[0];
		err_fd = err_p[0];
	}
	if (!ok_status(st))
		create_failed("error create %d\n", st >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : 255);
	if (o.tty) {
		out_fd = recv_master(con);
		close(con);
		unlink("console.sock");
		if (out_fd < 0)
			create_failed("error console %d\n", errno);
		in_fd = o.open_stdin ? out_fd : -1;
	}
	FILE *pf = fopen(p_pid, "re");
	int pid = 0;
	int got = pf ? fscanf(pf, "%d", &pid) : 0;
	if (pf)
		fclose(pf);
	if (got != 1 || pid <= 0)
		create_failed("error pid-file %d\n", 0);
	init_pid = pid;
	set_nonblock(out_fd);
	if (err_fd >= 0)
		set_nonblock(err_fd);
	if (in_fd >= 0 && in_fd != out_fd)
		set_nonblock(in_fd);
	find_oom_path();
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
	while (c->outlen > 0) {
		ssize_t w = send(c->fd, c->out, c->outlen, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				drop(c);
			return;
		}
		memmove(c->out, c->out + w, c->outlen - (size_t)w);
		c->outlen -= (size_t)w;
	}
	if (c->outcap > 65536) { /* caught up after a burst: give the memory back */
		free(c->out);
		c->out = NULL;
		c->outcap = 0;
	}
	if (c->closing)
		drop(c);
}

/* Queues bytes for a client; a client that falls too far behind is dropped. */
static void enqueue(struct client *c, const char *p, size_t n)
{
	if (c->fd < 0)
		return;
	if (c->outlen + n > CLIENT_OUT_MAX) {
		drop(c);
		return;
	}
	if (c->outlen + n > c->outcap) {
		size_t cap = c->outcap ? c->outcap : 4096;
		while (cap < c->outlen + n)
			cap *= 2;
		char *nb = realloc(c->out, cap);
		if (!nb) {
			drop(c);
			return;
		}
		c->out = nb;
		c->outcap = cap;
	}
	memcpy(c->out + c->outlen, p, n);
	c->outlen += n;
	flush_client(c);
}

static void reply(struct client *c, const char *msg)
{
	c->closing = 1;
	c->mode = C_REQ;
	enqueue(c, msg, strlen(msg));
}

/* Output from the container: to the log and to every attached client. */
static void fan_out(int stream, const char *p, size_t n)
{
	unsigned char hdr[8] = {(unsigned char)stream, 0, 0, 0, (unsigned char)(n >> 24), (unsigned char)(n >> 16),
				(unsigned char)(n >> 8), (unsigned char)n};
	log_feed(&logf, stream == 1 ? &lb_out : &lb_err, p, n);
	log_sync(&logf);
	for (int i = 0; i < MAX_CLIENTS; i++) {
		struct client *c = &clients[i];
		if (c->fd < 0 || c->mode != C_ATTACH || c->closing)
			continue;
		if ((stream == 1 && !c->want_out) || (stream == 2 && !c->want_err))
			continue;
		if (!o.tty)
			enqueue(c, (const char *)hdr, sizeof hdr);
		if (c->fd >= 0)
			enqueue(c, p, n);
	}
}

static void format_exit(void)
{
	char ts[48];
	struct tm tm;
	int code, sig = 0;
	if (WIFEXITED(exit_status))
		code = WEXITSTATUS(exit_status);
	else if (WIFSIGNALED(exit_status)) {
		sig = WTERMSIG(exit_status);
		code = 128 + sig;
	} else
		code = 255;
	gmtime_r(&exit_time.tv_sec, &tm);
	size_t n = strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
	char frac[16];
	snprintf(frac, sizeof frac, ".%09ld", exit_time.tv_nsec);
	size_t f = strlen(frac);
	while (f > 1 && frac[f - 1] == '0')
		frac[--f] = '\0';
	snprintf(ts + n, sizeof ts - n, "%sZ", f > 1 ? frac : "");
	snprintf(exit_json, sizeof exit_json,
		 "{\"exitCode\":%d,\"signal\":%d,\"oomKilled\":%s,\"finishedAt\":\"%s\",\"pid\":%d}", code, sig,
		 oom_killed() ? "true" : "false", ts, (int)init_pid);
}

/* Records the exit status (write temp + fsync + rename), wakes waiters, ends attaches. */
static void finalize(void)
{
	char line[600];
	if (finalized)
		return;
	finalized = 1;
	log_flush(&logf, &lb_out);
	log_flush(&logf, &lb_err);
	if (logf.fd >= 0)
		fsync(logf.fd);
	format_exit();
	int fd = open("exit.json.tmp", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write_all(fd, exit_json, strlen(exit_json)) < 0 || fsync(fd) < 0 || close(fd) < 0 ||
	    rename("exit.json.tmp", "exit.json") < 0)
		perror("shim: write exit.json");
	snprintf(line, sizeof line, "exit %s\n", exit_json);
	for (int i = 0; i < MAX_CLIENTS; i++) {
		struct client *c = &clients[i];
		if (c->fd < 0)
			continue;
		if (c->mode == C_WAIT)
			reply(c, line);
		else if (c->mode == C_ATTACH) {
			c->closing = 1;
			flush_client(c);
		}
	}
	if (in_fd >= 0 && in_fd != out_fd)
		close(in_fd);
	in_fd = -1;
}

static void close_stdin(void)
{
	stdin_close_pending = 1;
	if (stdin_len == 0 && in_fd >= 0) {
		if (in_fd != out_fd)
			close(in_fd);
		in_fd = -1;
	}
}

static void handle_request(struct client *c)
{
	char *r = c->req;
	unsigned a, b, d;
	if (sscanf(r, "attach %u %u %u", &a, &b, &d) == 3) {
		if (finalized) {
			reply(c, "error container has exited\n");
			return;
		}
		c->mode = C_ATTACH;
		c->want_in = a && o.open_stdin;
		c->want_out = b != 0;
		c->want_err = d != 0;
		enqueue(c, "ok\n", 3);
	} else if (!strcmp(r, "wait")) {
		if (finalized) {
			char line[600];
			snprintf(line, sizeof line, "exit %s\n", exit_json);
			reply(c, line);
		} else
			c->mode = C_WAIT;
	} else if (!strcmp(r, "start")) {
		if (started) {
			reply(c, "error container already started\n");
			return;
		}
		const char *cmd[] = {"start", o.id, NULL};
		int st = run_runtime(cmd, -1, -1, -1);
		if (ok_status(st)) {
			started = 1;
			reply(c, "ok\n");
		} else
			reply(c, "error start failed\n");
	} else if (sscanf(r, "resize %u %u", &a, &b) == 2) {
		struct winsize ws = {.ws_row = (unsigned short)a, .ws_col = (unsigned short)b};
		if (!o.tty || out_fd < 0)
			reply(c, "error not a tty\n");
		else if (ioctl(out_fd, TIOCSWINSZ, &ws) < 0)
			reply(c, "error resize failed\n");
		else
			reply(c, "ok\n");
	} else if (!strcmp(r, "close-stdin")) {
		close_stdin();
		reply(c, "ok\n");
	} else if (!strcmp(r, "state")) {
		char line[64];
		snprintf(line, sizeof line, "ok %s %d\n", finalized ? "stopped" : started ? "running" : "created",
			 (int)init_pid);
		reply(c, line);
	} else if (!strcmp(r, "delete")) {
		const char *cmd[] = {"delete", "--force", o.id, NULL};
		int st = run_runtime(cmd, -1, -1, -1);
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

static void client_readable(struct client *c)
{
	char buf[4096];
	if (c->mode == C_ATTACH) {
		size_t room = STDIN_BUF - stdin_len;
		if (c->want_in && in_fd >= 0 && room == 0)
			return;
		ssize_t r = read(c->fd, c->want_in && in_fd >= 0 ? stdin_buf + stdin_len : buf,
				 c->want_in && in_fd >= 0 ? room : sizeof buf);
		if (r < 0) {
			if (errno != EAGAIN && errno != EINTR)
				drop(c);
			return;
		}
		if (r == 0) {
			c->in_eof = 1;
			if (c->want_in && o.stdin_once)
				close_stdin();
			return;
		}
		if (c->want_in && in_fd >= 0)
			stdin_len += (size_t)r;
		return;
	}
	if (c->mode != C_REQ || c->closing) {
		/* A waiter or a replied client only tells us when it goes away. */
		ssize_t r = read(c->fd, buf, sizeof buf);
		if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
			drop(c);
		return;
	}
	ssize_t r = read(c->fd, c->req + c->reqlen, REQ_MAX - 1 - c->reqlen);
	if (r < 0) {
		if (errno != EAGAIN && errno != EINTR)
			drop(c);
		return;
	}
	if (r == 0) {
		drop(c);
		return;
	}
	c->reqlen += (size_t)r;
	c->req[c->reqlen] = '\0';
	char *nl = strchr(c->req, '\n');
	if (!nl) {
		if (c->reqlen == REQ_MAX - 1)
			reply(c, "error request too long\n");
		return;
	}
	/* Bytes after the request line (stdin sent eagerly by an attach client) are kept. */
	size_t rest = c->reqlen - (size_t)(nl + 1 - c->req);
	char extra[REQ_MAX];
	memcpy(extra, nl + 1, rest);
	*nl = '\0';
	handle_request(c);
	if (rest > 0 && c->fd >= 0 && c->mode == C_ATTACH && c->want_in && in_fd >= 0 && rest <= STDIN_BUF - stdin_len) {
		memcpy(stdin_buf + stdin_len, extra, rest);
		stdin_len += rest;
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
		if (p == init_pid && !exited) {
			exited = 1;
			exit_status = st;
			clock_gettime(CLOCK_REALTIME, &exit_time);
		}
	}
}

/* Reads one chunk of container output; returns 0 on EOF/error (fd closed). */
static int pump(int *fd, int stream)
{
	static char buf[READ_CHUNK];
	ssize_t r = read(*fd, buf, sizeof buf);
	if (r > 0) {
		fan_out(stream, buf, (size_t)r);
		return 1;
	}
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return 1;
	/* EOF, or EIO from a pty master once every slave is closed. */
	if (*fd == in_fd)
		in_fd = -1;
	close(*fd);
	*fd = -1;
	return 0;
}

static void pump_stdin(void)
{
	while (stdin_len > 0 && in_fd >= 0) {
		ssize_t w = write(in_fd, stdin_buf, stdin_len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN) {
				stdin_len = 0; /* the container closed its stdin: discard */
				if (in_fd != out_fd)
					close(in_fd);
				in_fd = -1;
			}
			break;
		}
		memmove(stdin_buf, stdin_buf + w, stdin_len - (size_t)w);
		stdin_len -= (size_t)w;
	}
	if (stdin_close_pending && stdin_len == 0)
		close_stdin();
}

static long ms_since(const struct timespec *t)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t->tv_sec) * 1000 + (now.tv_nsec - t->tv_nsec) / 1000000;
}

static void loop(void)
{
	struct pollfd pf[MAX_CLIENTS + 4];
	int cidx[MAX_CLIENTS + 4];
	struct timespec exited_mono = {0};
	for (;;) {
		int n = 0;
		pf[n] = (struct pollfd){.fd = listen_fd, .events = POLLIN};
		cidx[n++] = -1;
		pf[n] = (struct pollfd){.fd = sig_fd, .events = POLLIN};
		cidx[n++] = -2;
		if (out_fd >= 0) {
			short ev = POLLIN;
			if (in_fd == out_fd && stdin_len > 0)
				ev |= POLLOUT;
			pf[n] = (struct pollfd){.fd = out_fd, .events = ev};
			cidx[n++] = -3;
		}
		if (err_fd >= 0) {
			pf[n] = (struct pollfd){.fd = err_fd, .events = POLLIN};
			cidx[n++] = -4;
		}
		if (in_fd >= 0 && in_fd != out_fd && stdin_len > 0) {
			pf[n] = (struct pollfd){.fd = in_fd, .events = POLLOUT};
			cidx[n++] = -5;
		}
		for (int i = 0; i < MAX_CLIENTS; i++) {
			struct client *c = &clients[i];
			if (c->fd < 0)
				continue;
			short ev = 0;
			int wants_stdin_room = c->mode == C_ATTACH && c->want_in && in_fd >= 0;
			if (!c->in_eof && (!wants_stdin_room || STDIN_BUF - stdin_len >= 4096))
				ev |= POLLIN;
			if (c->outlen > 0)
				ev |= POLLOUT;
			pf[n] = (struct pollfd){.fd = c->fd, .events = ev};
			cidx[n++] = i;
		}
		int timeout = -1;
		if (exited && !finalized) {
			if (exited_mono.tv_sec == 0)
				clock_gettime(CLOCK_MONOTONIC, &exited_mono);
			long left = DRAIN_MS - ms_since(&exited_mono);
			if (left <= 0 || (out_fd < 0 && err_fd < 0)) {
				finalize();
				continue;
			}
			timeout = (int)left;
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
			switch (cidx[k]) {
			case -1:
				accept_clients();
				break;
			case -2:
				reap();
				break;
			case -3:
				if (re & POLLOUT)
					pump_stdin();
				if ((re & (POLLIN | POLLHUP | POLLERR)) && out_fd >= 0)
					pump(&out_fd, 1);
				break;
			case -4:
				pump(&err_fd, 2);
				break;
			case -5:
				pump_stdin();
				break;
			default: {
				struct client *c = &clients[cidx[k]];
				if (c->fd < 0 || c->fd != pf[k].fd)
					break;
				if (re & POLLOUT)
					flush_client(c);
				if (c->fd >= 0 && (re & (POLLIN | POLLHUP | POLLERR)))
					client_readable(c);
				if (c->fd >= 0 && (re & POLLHUP) && c->in_eof)
					drop(c);
			}
			}
		}
		if (stdin_len > 0 && in_fd >= 0)
			pump_stdin();
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
	ready("ok %d\n", (int)init_pid);
	loop();
	return 0;
}
