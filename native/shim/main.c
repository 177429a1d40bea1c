/*
 * The shim's entry point: arguments, daemonizing, and the one poll loop that drives
 * everything else (see shim.h for the files by job, docs/shim.md for the protocol).
 */
#define _GNU_SOURCE
#include "shim.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <unistd.h>

struct opts o;
struct sink *out_sink;
struct client clients[MAX_CLIENTS];
struct proc procs[MAX_PROCS];
int started;
char p_log[PATH_MAX], p_pid[PATH_MAX], p_console[PATH_MAX];
static char init_stdin_buf[STDIN_BUF];

void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("shim: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputs("\n", stderr);
	va_end(ap);
	exit(1);
}

void set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		die("fcntl: %s", strerror(errno));
}

long ms_since(const struct timespec *t)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t->tv_sec) * 1000 + (now.tv_nsec - t->tv_nsec) / 1000000;
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
	    "[--runtime-arg ARG]... [--log-driver json-file|cri|none|binary] [--log PATH] [--log-max-size N] "
	    "[--log-max-files N] [--log-max-line N] [--log-arg ARG]... [--log-env K=V]... [--namespace NS] [--tty] "
	    "[--stdin] [--stdin-once] [--ready-fd N [--gate]]");
}

static void parse_args(int argc, char **argv)
{
	struct sink_config *s = &o.sink;
	int driver = -1;
	o.ready_fd = -1;
	s->max_files = 1;
	s->max_line = 16384; /* containerd's default max_container_log_line_size */
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
		} else if (!strcmp(a, "--log-driver") && v) {
			if ((driver = sink_kind_parse(v)) < 0)
				die("unknown --log-driver: %s", v);
		} else if (!strcmp(a, "--log") && v)
			s->path = v;
		else if (!strcmp(a, "--log-max-size") && v)
			s->max_size = parse_num(v, "--log-max-size");
		else if (!strcmp(a, "--log-max-files") && v)
			s->max_files = (int)parse_num(v, "--log-max-files");
		else if (!strcmp(a, "--log-max-line") && v) {
			s->max_line = parse_num(v, "--log-max-line");
			if (s->max_line < 1 || s->max_line > 1024 * 1024)
				die("bad --log-max-line: %s", v);
		} else if (!strcmp(a, "--log-arg") && v) {
			if (s->n_args == SINK_MAX_ARGS)
				die("too many --log-arg");
			s->args[s->n_args++] = v;
		} else if (!strcmp(a, "--log-env") && v) {
			if (s->n_env == SINK_MAX_ARGS || !strchr(v, '='))
				die("bad --log-env: %s", v);
			s->env[s->n_env++] = v;
		} else if (!strcmp(a, "--namespace") && v)
			s->ns = v;
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
			else if (!strcmp(a, "--gate"))
				o.gate = 1;
			else
				usage();
		}
		i += takes;
	}
	if (!o.id || !o.bundle || !o.state || !o.runtime || !o.root || o.state[0] != '/' || (o.gate && o.ready_fd < 0))
		usage();
	/* Without --log-driver: json-file when a log path is given, else none (the
	 * arguments of earlier shims). */
	s->kind = driver >= 0 ? (enum sink_kind)driver : s->path ? SINK_JSON_FILE : SINK_NONE;
	if (s->kind != SINK_NONE && !s->path)
		die("a --log-driver other than none needs --log");
	s->id = o.id;
}

/* poll slots for process fds are tagged PFD_BASE + proc*3 + {0 out, 1 err, 2 in} */
#define PFD_BASE 1000

static void loop(int listen_fd, int sig_fd)
{
	struct pollfd pf[MAX_CLIENTS + 4 + 3 * MAX_PROCS];
	int cidx[MAX_CLIENTS + 4 + 3 * MAX_PROCS];
	for (;;) {
		int n = 0;
		int timeout = -1;
		pf[n] = (struct pollfd){.fd = listen_fd, .events = POLLIN};
		cidx[n++] = -1;
		pf[n] = (struct pollfd){.fd = sig_fd, .events = POLLIN};
		cidx[n++] = -2;
		int sink_fds[2];
		for (int k = 0, m = sink_poll_fds(out_sink, sink_fds); k < m; k++) {
			pf[n] = (struct pollfd){.fd = sink_fds[k], .events = POLLOUT};
			cidx[n++] = -3;
		}
		int again = 0;
		for (int i = 0; i < MAX_PROCS; i++) {
			struct proc *p = &procs[i];
			if (!p->used || p->finalized)
				continue;
			if (p == INIT && !started)
				continue; /* held until "start": see do_create */
			int held = primary_behind(i);
			/* a sink that cannot keep up holds the output too, but not the exit: at
			 * the end of the drain time what it has queued gets a last chance (close) */
			int sink_held = p->is_init && sink_behind(out_sink);
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
			if (p->out_fd >= 0 && (!(held || sink_held) || (p->in_fd == p->out_fd && p->stdin_len > 0))) {
				short ev = held || sink_held ? 0 : POLLIN;
				if (p->in_fd == p->out_fd && p->stdin_len > 0)
					ev |= POLLOUT;
				pf[n] = (struct pollfd){.fd = p->out_fd, .events = ev};
				cidx[n++] = PFD_BASE + i * 3;
			}
			if (p->err_fd >= 0 && !(held || sink_held)) {
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
			if (c->draining) {
				long left = CLIENT_LINGER_MS - ms_since(&c->drain_since);
				if (left <= 0) {
					drop(c);
					continue;
				}
				if (timeout < 0 || left < timeout)
					timeout = (int)left;
			}
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
				accept_clients(listen_fd);
			} else if (cidx[k] == -2) {
				reap(sig_fd);
			} else if (cidx[k] == -3) {
				sink_drain(out_sink);
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

/* --gate: the daemon started this shim before the container's bundle was ready (while
 * it mounts the rootfs and runs its start hooks), so that starting the shim overlaps that
 * work. Wait for the line "go" on the ready fd; anything else (EOF: the start failed, or
 * the daemon is gone) means there is nothing to create: leave without a trace but the
 * state dir, which the daemon removes. */
static void wait_gate(void)
{
	char buf[8];
	size_t n = 0;
	for (;;) {
		ssize_t r = read(o.ready_fd, buf + n, sizeof buf - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
		if (memchr(buf, '\n', n) || n == sizeof buf)
			break;
	}
	if (n == 3 && !memcmp(buf, "go\n", 3))
		return;
	unlink("shim.pid");
	exit(0);
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
	int sig_fd;
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0 || (sig_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK)) < 0)
		die("signalfd: %s", strerror(errno));

	char pid[32];
	int pfd = open("shim.pid.tmp", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	int pn = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
	if (pfd < 0 || write_all(pfd, pid, (size_t)pn) < 0 || close(pfd) < 0 || rename("shim.pid.tmp", "shim.pid") < 0)
		die("shim.pid: %s", strerror(errno));
	if (o.gate)
		wait_gate();
	int serr = 0;
	char why[256] = "";
	out_sink = sink_open(&o.sink, &serr, why, sizeof why);
	if (!out_sink)
		die("open log %s: %s%s%s", o.sink.path ? o.sink.path : "", strerror(serr), why[0] ? ": " : "", why);
	int listen_fd = unix_listen("shim.sock");
	if (listen_fd < 0)
		die("shim.sock: %s", strerror(errno));

	do_create();
	ready("ok %d\n", (int)INIT->pid);
	loop(listen_fd, sig_fd);
	return 0;
}
