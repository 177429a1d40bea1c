/* Direct exec: see enter.h. The steps and their order follow runc's setns path
 * (nsexec.c + setns_init_linux.go) so that the process ends up exactly where a
 * `runc exec` would put it; docs/shim.md lists them. */
#define _GNU_SOURCE
#include "enter.h"
#include "child.h"
#include "fdpass.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/keyctl.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

#define SPEC_MAX (4 * 1024 * 1024)
#define BPF_MAX 65535
#define SETUP_TIMEOUT_MS 60000

/* ---- the spec file: `key=value` entries, each ended by a NUL ---- */

static int fail(char *err, size_t n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, n, fmt, ap);
	va_end(ap);
	return -1;
}

/* The whole file (NUL-terminated) if it holds at most max bytes; /proc files report
 * no size, so this reads to EOF. NULL with errno on failure. */
static char *read_file(const char *name, size_t max, size_t *len)
{
	int fd = open(name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	size_t cap = 4096, got = 0;
	char *buf = malloc(cap + 1);
	ssize_t r = 0;
	while (buf && (r = read(fd, buf + got, cap - got)) != 0) {
		if (r < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		got += (size_t)r;
		if (got == cap) {
			char *more = cap >= max ? NULL : realloc(buf, (cap *= 2) + 1);
			if (!more) {
				errno = EFBIG;
				r = -1;
				break;
			}
			buf = more;
		}
	}
	int e = errno;
	close(fd);
	if (!buf || r < 0 || got > max) {
		free(buf);
		errno = buf ? (r < 0 ? e : EFBIG) : ENOMEM;
		return NULL;
	}
	buf[got] = '\0';
	*len = got;
	return buf;
}

static int num(const char *v, unsigned long long max, unsigned long long *out)
{
	char *end;
	errno = 0;
	if (*v == '-' || !*v)
		return -1;
	unsigned long long x = strtoull(v, &end, 0);
	if (errno || *end || x > max)
		return -1;
	*out = x;
	return 0;
}

static const char *const cap_keys[CAP_SETS] = {"cap.bounding", "cap.effective", "cap.permitted", "cap.inheritable",
						  "cap.ambient"};

static int parse_entry(struct enter_spec *s, char *e, int *na, int *ne, const char **bpf_file, char *err, size_t n)
{
	char *v = strchr(e, '=');
	if (!v)
		return fail(err, n, "bad exec spec entry");
	*v++ = '\0';
	unsigned long long x, y, z;
	if (!strcmp(e, "arg")) {
		s->argv[(*na)++] = v;
	} else if (!strcmp(e, "env")) {
		s->envp[(*ne)++] = v;
	} else if (!strcmp(e, "cwd")) {
		s->cwd = v;
	} else if (!strcmp(e, "keyring")) {
		s->keyring = v;
	} else if (!strcmp(e, "seccomp")) {
		*bpf_file = v;
	} else if (!strcmp(e, "uid") && !num(v, UINT_MAX - 1, &x)) {
		s->uid = (uid_t)x;
	} else if (!strcmp(e, "gid") && !num(v, UINT_MAX - 1, &x)) {
		s->gid = (gid_t)x;
	} else if (!strcmp(e, "group") && !num(v, UINT_MAX - 1, &x) && s->n_gids < ENTER_MAX_GIDS) {
		s->gids[s->n_gids++] = (gid_t)x;
	} else if (!strcmp(e, "umask") && !num(v, 0777, &x)) {
		s->has_umask = 1;
		s->umask = (mode_t)x;
	} else if (!strcmp(e, "nnp")) {
		s->nnp = !strcmp(v, "1");
	} else if (!strcmp(e, "oom")) {
		char *end;
		long o = strtol(v, &end, 10);
		if (*end || o < -1000 || o > 1000)
			return fail(err, n, "bad oom score adj");
		s->has_oom = 1;
		s->oom = (int)o;
	} else if (!strcmp(e, "rows") && !num(v, 65535, &x)) {
		s->rows = (unsigned short)x;
	} else if (!strcmp(e, "cols") && !num(v, 65535, &x)) {
		s->cols = (unsigned short)x;
	} else if (!strcmp(e, "rlimit")) {
		char *a = strtok(v, " "), *b = strtok(NULL, " "), *c = strtok(NULL, " ");
		if (!a || !b || !c || num(a, RLIMIT_NLIMITS - 1, &x) || num(b, ULLONG_MAX, &y) || num(c, ULLONG_MAX, &z) ||
		    s->n_rl >= ENTER_MAX_RLIMITS)
			return fail(err, n, "bad rlimit");
		s->rl[s->n_rl].resource = (int)x;
		s->rl[s->n_rl].lim.rlim_cur = (rlim_t)y;
		s->rl[s->n_rl].lim.rlim_max = (rlim_t)z;
		s->n_rl++;
	} else {
		for (int i = 0; i < CAP_SETS; i++)
			if (!strcmp(e, cap_keys[i]) && !num(v, ULLONG_MAX, &x)) {
				s->caps[i] = x;
				return 0;
			}
		return fail(err, n, "bad exec spec entry %s", e);
	}
	return 0;
}

int enter_parse(const char *file, struct enter_spec *s, char *err, size_t n)
{
	size_t len = 0;
	memset(s, 0, sizeof *s);
	s->buf = read_file(file, SPEC_MAX, &len);
	if (!s->buf)
		return fail(err, n, "cannot read %s: %s", file, strerror(errno));
	int entries = 0;
	for (size_t i = 0; i < len; i++)
		entries += s->buf[i] == '\0';
	s->argv = calloc((size_t)entries + 1, sizeof *s->argv);
	s->envp = calloc((size_t)entries + 1, sizeof *s->envp);
	if (!s->argv || !s->envp)
		return fail(err, n, "out of memory");
	int na = 0, ne = 0;
	const char *bpf_file = NULL;
	for (size_t i = 0, l; i < len; i += l + 1) {
		l = strlen(s->buf + i); /* before parse_entry splits the entry at its '=' */
		if (parse_entry(s, s->buf + i, &na, &ne, &bpf_file, err, n) < 0)
			return -1;
	}
	if (na == 0)
		return fail(err, n, "exec spec has no args");
	if (!s->cwd || s->cwd[0] != '/')
		return fail(err, n, "exec spec has no absolute cwd");
	if (bpf_file) {
		size_t blen = 0;
		s->bpf = (struct sock_filter *)read_file(bpf_file, BPF_MAX * sizeof(struct sock_filter), &blen);
		if (!s->bpf || blen == 0 || blen % sizeof(struct sock_filter))
			return fail(err, n, "bad seccomp program %s", bpf_file);
		s->bpf_len = (unsigned short)(blen / sizeof(struct sock_filter));
	}
	return 0;
}

void enter_free(struct enter_spec *s)
{
	free(s->buf);
	free(s->argv);
	free(s->envp);
	free(s->bpf);
	memset(s, 0, sizeof *s);
}

/* ---- messages from the children to the shim (SOCK_SEQPACKET) ---- */

static void say(int sp, int fd, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	int len = vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (len < 0)
		return;
	send_with_fd(sp, msg, (size_t)len < sizeof msg ? (size_t)len : sizeof msg - 1, fd, 0);
}

__attribute__((noreturn)) static void child_fail(int sp, const char *fmt, ...)
{
	char msg[900];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	say(sp, -1, "err %s", msg);
	_exit(127);
}

/* ---- the first child: cgroups, namespaces and per-process limits, still on the host ---- */

struct cg_mount {
	const char *root, *mp, *opts; /* opts: the super options ("rw,cpu,cpuacct"); NULL for cgroup2 */
};

static int has_token(const char *list, const char *tok, size_t len)
{
	for (const char *p = list; p && *p;) {
		const char *c = strchr(p, ',');
		size_t l = c ? (size_t)(c - p) : strlen(p);
		if (l == len && !strncmp(p, tok, len))
			return 1;
		p = c ? c + 1 : NULL;
	}
	return 0;
}

/* The mount of the hierarchy with these controllers ("" = the unified one). */
static const struct cg_mount *find_hierarchy(const struct cg_mount *m, int nm, const char *ctrls)
{
	for (int i = 0; i < nm; i++) {
		if (!*ctrls) {
			if (!m[i].opts)
				return &m[i];
			continue;
		}
		if (!m[i].opts)
			continue;
		int all = 1;
		for (const char *p = ctrls; *p && all;) {
			const char *c = strchr(p, ',');
			size_t l = c ? (size_t)(c - p) : strlen(p);
			all = has_token(m[i].opts, p, l);
			p = c ? c + 1 : p + l;
		}
		if (all)
			return &m[i];
	}
	return NULL;
}

/* Moves the calling process into every cgroup the container's init is in. */
static void join_cgroups(int sp, pid_t init)
{
	size_t len;
	char *mi = read_file("/proc/self/mountinfo", SPEC_MAX, &len);
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/cgroup", (int)init);
	char *cg = read_file(path, 65536, &len);
	if (!mi || !cg)
		child_fail(sp, "cannot read the container's cgroups: %s", strerror(errno));
	struct cg_mount m[64];
	int nm = 0;
	for (char *line = strtok(mi, "\n"); line && nm < 64; line = strtok(NULL, "\n")) {
		char *f[6] = {0}, *sep = strstr(line, " - ");
		if (!sep)
			continue;
		*sep = '\0';
		char *save, *tok = strtok_r(line, " ", &save);
		for (int i = 0; tok && i < 6; i++, tok = strtok_r(NULL, " ", &save))
			f[i] = tok;
		char *type = strtok_r(sep + 3, " ", &save), *src = strtok_r(NULL, " ", &save), *opts = strtok_r(NULL, " ", &save);
		(void)src;
		if (!f[3] || !f[4] || !type || !opts)
			continue;
		if (!strcmp(type, "cgroup2"))
			m[nm++] = (struct cg_mount){f[3], f[4], NULL};
		else if (!strcmp(type, "cgroup"))
			m[nm++] = (struct cg_mount){f[3], f[4], opts};
	}
	for (char *line = strtok(cg, "\n"); line; line = strtok(NULL, "\n")) {
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2)
			continue;
		*c2 = '\0';
		const char *ctrls = c1 + 1, *rel = c2 + 1;
		const struct cg_mount *h = find_hierarchy(m, nm, ctrls);
		if (!h)
			continue; /* a hierarchy not mounted on this host */
		size_t rl = strlen(h->root);
		if (strcmp(h->root, "/")) {
			if (strncmp(rel, h->root, rl) || (rel[rl] != '/' && rel[rl] != '\0'))
				continue;
			rel += rl;
		}
		char procs[PATH_MAX];
		if (snprintf(procs, sizeof procs, "%s%s/cgroup.procs", h->mp, rel) >= (int)sizeof procs)
			child_fail(sp, "cgroup path too long");
		int fd = open(procs, O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, "0", 1) != 1)
			child_fail(sp, "failed to join the container's cgroup %s: %s", procs, strerror(errno));
		close(fd);
	}
	free(mi);
	free(cg);
}

static const struct {
	const char *name;
	int flag;
} ns_order[] = {{"ipc", CLONE_NEWIPC}, {"uts", CLONE_NEWUTS}, {"net", CLONE_NEWNET},
		{"pid", CLONE_NEWPID}, {"mnt", CLONE_NEWNS},  {"cgroup", CLONE_NEWCGROUP}};
#define N_NS (sizeof ns_order / sizeof ns_order[0])

static int same_ns(pid_t init, const char *name, int *fd)
{
	char p[64];
	struct stat a, b;
	snprintf(p, sizeof p, "/proc/%d/ns/%s", (int)init, name);
	*fd = open(p, O_RDONLY | O_CLOEXEC);
	snprintf(p, sizeof p, "/proc/self/ns/%s", name);
	if (*fd < 0 || fstat(*fd, &a) < 0 || stat(p, &b) < 0)
		return -1;
	return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

static void join_namespaces(int sp, pid_t init)
{
	int fds[N_NS], u;
	int same = same_ns(init, "user", &u);
	if (same < 0)
		child_fail(sp, "cannot open the container's namespaces: %s", strerror(errno));
	close(u);
	if (!same)
		child_fail(sp, "the container has its own user namespace");
	for (size_t i = 0; i < N_NS; i++) {
		same = same_ns(init, ns_order[i].name, &fds[i]);
		if (same < 0)
			child_fail(sp, "cannot open the container's %s namespace: %s", ns_order[i].name, strerror(errno));
		if (same) {
			close(fds[i]);
			fds[i] = -1;
		}
	}
	for (size_t i = 0; i < N_NS; i++) {
		if (fds[i] >= 0 && setns(fds[i], ns_order[i].flag) < 0)
			child_fail(sp, "failed to setns to %s: %s", ns_order[i].name, strerror(errno));
		if (fds[i] >= 0)
			close(fds[i]);
	}
}

/* ---- the process itself, inside the container ---- */

static void set_stdio(int sp, const struct enter_spec *s, int tty, int in, int out, int errfd, int null_fd)
{
	if (!tty) {
		if (dup2(in >= 0 ? in : null_fd, 0) < 0 || dup2(out >= 0 ? out : null_fd, 1) < 0 ||
		    dup2(errfd >= 0 ? errfd : null_fd, 2) < 0)
			child_fail(sp, "dup2: %s", strerror(errno));
		if (setsid() < 0)
			child_fail(sp, "setsid failed: %s", strerror(errno));
		return;
	}
	/* A pty of the container's own devpts instance (its /dev/ptmx), as runc makes it. */
	int mfd = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	char name[64];
	int unlock = 0;
	if (mfd < 0 || ioctl(mfd, TIOCSPTLCK, &unlock) < 0 || ptsname_r(mfd, name, sizeof name))
		child_fail(sp, "failed to allocate a pty: %s", strerror(errno));
	int sfd = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (sfd < 0)
		child_fail(sp, "open %s: %s", name, strerror(errno));
	if (s->rows && s->cols) {
		struct winsize ws = {.ws_row = s->rows, .ws_col = s->cols};
		ioctl(mfd, TIOCSWINSZ, &ws);
	}
	say(sp, mfd, "pty");
	close(mfd);
	if (setsid() < 0 || ioctl(sfd, TIOCSCTTY, 0) < 0)
		child_fail(sp, "failed to set the controlling terminal: %s", strerror(errno));
	if (dup2(sfd, 0) < 0 || dup2(sfd, 1) < 0 || dup2(sfd, 2) < 0)
		child_fail(sp, "dup2: %s", strerror(errno));
	close(sfd);
}

/* runc's fixStdioPermissions: stdio (but /dev/null) is handed to the process's uid. */
static void chown_stdio(int sp, uid_t uid)
{
	struct stat null, st;
	if (stat("/dev/null", &null) < 0)
		child_fail(sp, "stat /dev/null: %s", strerror(errno));
	for (int fd = 0; fd < 3; fd++) {
		if (fstat(fd, &st) < 0)
			child_fail(sp, "fstat %d: %s", fd, strerror(errno));
		if (st.st_rdev == null.st_rdev || st.st_uid == uid)
			continue;
		if (fchown(fd, uid, st.st_gid) < 0 && errno != EINVAL && errno != EPERM && errno != EROFS)
			child_fail(sp, "fchown stdio: %s", strerror(errno));
	}
}

static void load_seccomp(int sp, const struct enter_spec *s)
{
	struct sock_fprog prog = {.len = s->bpf_len, .filter = s->bpf};
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
		child_fail(sp, "error loading seccomp filter into kernel: %s", strerror(errno));
}

static void set_caps(int sp, const struct enter_spec *s, int last_cap)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	struct __user_cap_data_struct d[2];
	for (int i = 0; i < 2; i++) {
		d[i].effective = (uint32_t)(s->caps[CAP_SET_EFFECTIVE] >> (32 * i));
		d[i].permitted = (uint32_t)(s->caps[CAP_SET_PERMITTED] >> (32 * i));
		d[i].inheritable = (uint32_t)(s->caps[CAP_SET_INHERITABLE] >> (32 * i));
	}
	if (syscall(SYS_capset, &h, d) < 0)
		child_fail(sp, "capset: %s", strerror(errno));
	/* Best effort, as runc 1.1 (its capability library ignores these errors): an ambient
	 * cap needs to be permitted and inheritable, which specs often do not arrange. */
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	for (int c = 0; c <= last_cap && c < 64; c++)
		if (s->caps[CAP_SET_AMBIENT] >> c & 1)
			prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0);
}

static void set_user(int sp, const struct enter_spec *s)
{
	chown_stdio(sp, s->uid);
	if (setgroups((size_t)s->n_gids, s->gids) < 0)
		child_fail(sp, "setgroups: %s", strerror(errno));
	if (setgid(s->gid) < 0)
		child_fail(sp, "setgid %u: %s", (unsigned)s->gid, strerror(errno));
	if (setuid(s->uid) < 0)
		child_fail(sp, "setuid %u: %s", (unsigned)s->uid, strerror(errno));
}

/* 0 when path names an executable file, else -1 with errno (Go's findExecutable). */
static int executable(const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return -1;
	if (S_ISDIR(st.st_mode) || !(st.st_mode & 0111)) {
		errno = EACCES;
		return -1;
	}
	return 0;
}

/* Go's exec.LookPath over the process's own PATH, with its error wording. */
static void look_path(int sp, const struct enter_spec *s, char *out, size_t n)
{
	const char *file = s->argv[0];
	if (strchr(file, '/')) {
		if (executable(file) < 0) {
			if (errno == EACCES)
				child_fail(sp, "exec: \"%s\": permission denied", file);
			child_fail(sp, "exec: \"%s\": stat %s: %s", file, file, strerror(errno));
		}
		snprintf(out, n, "%s", file);
		return;
	}
	const char *path = "";
	for (char **e = s->envp; *e; e++)
		if (!strncmp(*e, "PATH=", 5)) {
			path = *e + 5;
			break;
		}
	for (const char *p = path; *path;) {
		const char *c = strchr(p, ':');
		size_t l = c ? (size_t)(c - p) : strlen(p);
		int w = l ? snprintf(out, n, "%.*s/%s", (int)l, p, file) : snprintf(out, n, "./%s", file);
		if (w > 0 && (size_t)w < n && executable(out) == 0)
			return;
		if (!c)
			break;
		p = c + 1;
	}
	child_fail(sp, "exec: \"%s\": executable file not found in $PATH", file);
}

__attribute__((noreturn)) static void process_main(const struct enter_spec *s, int sp, int tty, int in, int out,
						   int errfd, int null_fd, int last_cap)
{
	set_stdio(sp, s, tty, in, out, errfd, null_fd);
	if (null_fd > 2)
		close(null_fd);
	/* Nothing of the shim's may reach the process: every other fd closes on exec. */
	if (syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
		child_fail(sp, "close_range: %s", strerror(errno));
	if (s->has_umask)
		umask(s->umask);
	if (s->nnp && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		child_fail(sp, "prctl(PR_SET_NO_NEW_PRIVS): %s", strerror(errno));
	/* Without no_new_privs loading a filter needs CAP_SYS_ADMIN: before the caps go. */
	if (s->bpf && !s->nnp)
		load_seccomp(sp, s);
	int chdir_later = 0;
	if (chdir(s->cwd) < 0) {
		if (errno != EACCES && errno != EPERM)
			child_fail(sp, "chdir to cwd (\"%s\") set in config.json failed: %s", s->cwd, strerror(errno));
		chdir_later = 1; /* maybe the user may enter it where root may not (root-squashed mounts) */
	}
	for (int c = 0; c <= last_cap && c < 64; c++)
		if (!(s->caps[CAP_SET_BOUNDING] >> c & 1) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0)
			child_fail(sp, "drop capability %d from the bounding set: %s", c, strerror(errno));
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		child_fail(sp, "prctl(PR_SET_KEEPCAPS): %s", strerror(errno));
	set_user(sp, s);
	if (chdir_later && chdir(s->cwd) < 0)
		child_fail(sp, "chdir to cwd (\"%s\") set in config.json failed: %s", s->cwd, strerror(errno));
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
		child_fail(sp, "prctl(PR_SET_KEEPCAPS): %s", strerror(errno));
	set_caps(sp, s, last_cap);
	if (s->bpf && s->nnp)
		load_seccomp(sp, s);
	char path[PATH_MAX];
	look_path(sp, s, path, sizeof path);
	execve(path, s->argv, s->envp);
	child_fail(sp, "exec %s: %s", path, strerror(errno));
}

static int read_last_cap(void)
{
	size_t len;
	char *t = read_file("/proc/sys/kernel/cap_last_cap", 64, &len);
	int c = t ? atoi(t) : CAP_LAST_CAP;
	free(t);
	return c > 0 && c < 64 ? c : CAP_LAST_CAP;
}

__attribute__((noreturn)) static void setup_main(const struct enter_spec *s, int sp, pid_t init, int tty, int in,
						 int out, int errfd)
{
	/* Non-dumpable first, before joining anything, as runc's nsexec (the CVE-2016-9962 class):
	 * otherwise a process in the container could ptrace this one, or open its
	 * /proc/<pid>/ files, while it still holds the shim's view of the host. execve
	 * resets the flag for the container's program. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		child_fail(sp, "failed to set process as non-dumpable: %s", strerror(errno));
	/* Ignored dispositions survive exec: the process must not inherit the shim's. */
	child_default_signals();
	int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	int last_cap = read_last_cap();
	if (null_fd < 0)
		child_fail(sp, "open /dev/null: %s", strerror(errno));
	if (s->keyring && syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, s->keyring) < 0 && errno != ENOSYS)
		child_fail(sp, "unable to join session keyring: %s", strerror(errno));
	for (int i = 0; i < s->n_rl; i++)
		if (setrlimit(s->rl[i].resource, &s->rl[i].lim) < 0)
			child_fail(sp, "error setting rlimit type %d: %s", s->rl[i].resource, strerror(errno));
	if (s->has_oom) {
		char v[16];
		int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
		int l = snprintf(v, sizeof v, "%d", s->oom);
		if (fd < 0 || write(fd, v, (size_t)l) != l)
			child_fail(sp, "failed to set oom_score_adj: %s", strerror(errno));
		close(fd);
	}
	join_cgroups(sp, init);
	join_namespaces(sp, init);
	pid_t p = fork(); /* the pid namespace applies to children only */
	if (p < 0)
		child_fail(sp, "fork: %s", strerror(errno));
	if (p == 0)
		process_main(s, sp, tty, in, out, errfd, null_fd, last_cap);
	say(sp, -1, "pid %d", (int)p);
	_exit(0);
}

/* ---- the shim's side ---- */

pid_t enter_start(const struct enter_spec *s, pid_t init_pid, int tty, int in, int out, int errfd, int *master,
		  char *err, size_t errlen)
{
	int sp[2];
	*master = -1;
	err[0] = '\0';
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
		return fail(err, errlen, "socketpair: %s", strerror(errno));
	pid_t setup = fork();
	if (setup < 0) {
		close(sp[0]);
		close(sp[1]);
		return fail(err, errlen, "fork: %s", strerror(errno));
	}
	if (setup == 0) {
		close(sp[0]);
		setup_main(s, sp[1], init_pid, tty, in, out, errfd);
	}
	close(sp[1]);
	pid_t pid = -1;
	int failed = 0;
	for (;;) {
		struct pollfd pfd = {.fd = sp[0], .events = POLLIN};
		int r = poll(&pfd, 1, SETUP_TIMEOUT_MS);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			fail(err, errlen, "timed out starting the exec process");
			failed = 1;
			break;
		}
		char msg[1025];
		int fd = -1;
		ssize_t got = recv_with_fd(sp[0], msg, sizeof msg - 1, &fd, 0);
		if (got <= 0)
			break; /* EOF: the process has exec'd (or every child is gone) */
		msg[got] = '\0';
		if (fd >= 0) {
			if (!strcmp(msg, "pty") && *master < 0)
				*master = fd;
			else
				close(fd);
		} else if (!strncmp(msg, "pid ", 4)) {
			pid = (pid_t)atoi(msg + 4);
		} else if (!strncmp(msg, "err ", 4) && !failed) {
			snprintf(err, errlen, "%s", msg + 4);
			failed = 1;
		}
	}
	close(sp[0]);
	while (waitpid(setup, NULL, 0) < 0 && errno == EINTR)
		;
	if (!failed && (pid <= 0 || (tty && *master < 0))) {
		fail(err, errlen, "the exec process did not start");
		failed = 1;
	}
	if (failed) {
		if (pid > 0)
			kill(pid, SIGKILL); /* only if it is still in its setup (timed out) */
		if (*master >= 0)
			close(*master);
		*master = -1;
		return -1;
	}
	return pid;
}
