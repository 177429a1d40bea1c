/*
 * Runtime calls: `<runtime> create|run --detach|start|exec|delete`, the console socket
 * that receives a pty master, the ready line to the daemon, and starting exec processes
 * (through the runtime, or by entering the container: enter.c).
 */
#define _GNU_SOURCE
#include "shim.h"
#include "child.h"
#include "enter.h"
#include "fdpass.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Tells the daemon how create went; the first line on the ready fd is the answer. */
void ready(const char *fmt, ...)
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
int run_runtime_nice(const char *const *cmd, int in, int out, int err, int niceness)
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
		int null = open("/dev/null", O_RDWR);
		/* Ignored dispositions survive exec: the container must not inherit ours. */
		child_default_signals();
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

int run_runtime(const char *const *cmd, int in, int out, int err)
{
	return run_runtime_nice(cmd, in, out, err, 0);
}

/* Output pipes (from the shim's side): grown to PIPE_SIZE, best effort (an unprivileged
 * shim may be refused past the user limit). */
int output_pipe(int p[2])
{
	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	fcntl(p[0], F_SETPIPE_SZ, PIPE_SIZE);
	return 0;
}

int ok_status(int st)
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

int unix_listen(const char *name)
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

/* Create failed after the runtime may have made the container: undo and exit. */
static void create_failed(const char *fmt, int arg)
{
	const char *del[] = {"delete", "--force", o.id, NULL};
	ready(fmt, arg);
	run_runtime(del, -1, -1, -1);
	out_sink->ops->shutdown(out_sink);
	unlink("shim.sock");
	unlink("console.sock");
	exit(1);
}

void do_create(void)
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

/* `runtime start` (with a tty; without one `run --detach` started it already).
 * Returns 0 or -1. */
int runtime_start(void)
{
	if (!o.tty)
		return 0;
	const char *cmd[] = {"start", o.id, NULL};
	return ok_status(run_runtime(cmd, -1, -1, -1)) ? 0 : -1;
}

/* `runtime delete --force`. After the container has exited nothing waits for this
 * teardown (~20 ms of a Go process's CPU): at the lowest priority it does not compete
 * with the next `docker` command for the cores. Returns 0 or -1. */
int runtime_delete(void)
{
	const char *cmd[] = {"delete", "--force", o.id, NULL};
	return ok_status(run_runtime_nice(cmd, -1, -1, -1, INIT->exited ? 19 : 0)) ? 0 : -1;
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
pid_t start_runtime_exec(const char *eid, int tty, int in, int out, int err, int *master)
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
pid_t start_direct_exec(const char *eid, int tty, int in, int out, int err, int *master)
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
