/*
 * The process table (the container's init is procs[0], exec processes the rest), reaping,
 * exit records (exit.json, exec-<eid>.exit) and OOM detection; reading a process's
 * output (pump) and writing its stdin (pump_stdin).
 */
#define _GNU_SOURCE
#include "shim.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

static char oom_path[PATH_MAX];

int proc_index(const struct proc *p)
{
	return (int)(p - procs);
}

void proc_reset(struct proc *p)
{
	memset(p, 0, sizeof *p);
	p->out_fd = p->err_fd = p->in_fd = -1;
	p->pid = -1;
}

struct proc *find_exec(const char *eid)
{
	for (int i = 1; i < MAX_PROCS; i++)
		if (procs[i].used && !strcmp(procs[i].eid, eid))
			return &procs[i];
	return NULL;
}

/* A free exec slot: never used, or finalized with no client still pointing at it. */
struct proc *alloc_exec(void)
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

int valid_eid(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > EID_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

/* Finds the memory cgroup of the container so that an OOM kill can be detected. */
void find_oom_path(void)
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

void reap(int sig_fd)
{
	struct signalfd_siginfo si;
	while (read(sig_fd, &si, sizeof si) == (ssize_t)sizeof si)
		;
	for (;;) {
		int st;
		pid_t p = waitpid(-1, &st, WNOHANG);
		if (p <= 0)
			return;
		sink_reaped(p);
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

void close_proc_fd(struct proc *p, int *fd)
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

void close_stdin(struct proc *p)
{
	p->stdin_close_pending = 1;
	if (p->stdin_len == 0 && p->in_fd >= 0) {
		if (p->in_fd != p->out_fd)
			close(p->in_fd);
		p->in_fd = -1;
	}
}

/* Reads one chunk of a process's output; closes the fd on EOF/error. */
void pump(struct proc *p, int *fd, int stream)
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

void pump_stdin(struct proc *p)
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

/* Records a process's exit status (exit.json / exec-<eid>.exit), wakes its waiters, ends its attaches. */
void finalize(struct proc *p)
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
		/* partial lines out; written, not fsync'd (Docker's json-file does not sync
		 * either): a sync here holds the exit, and with it the attach EOF, until the
		 * whole log is on disk */
		out_sink->ops->close(out_sink);
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
