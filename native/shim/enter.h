/* Starting an exec process by entering a running container directly (no runtime call):
 * the shim joins the container init's cgroups and namespaces in a child, forks the
 * process inside them and applies the process spec as runc's setns init does (session
 * keyring, rlimits, oom_score_adj, stdio or a pty from the container's devpts, setsid,
 * no_new_privs, seccomp, capabilities, user and groups, cwd), then execs it.
 * The spec is a file the daemon writes; see docs/shim.md ("Direct exec"). */
#ifndef STEVEDORE_SHIM_ENTER_H
#define STEVEDORE_SHIM_ENTER_H
#include <linux/filter.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

#define ENTER_MAX_RLIMITS 16
#define ENTER_MAX_GIDS 64

enum { CAP_SET_BOUNDING, CAP_SET_EFFECTIVE, CAP_SET_PERMITTED, CAP_SET_INHERITABLE, CAP_SET_AMBIENT, CAP_SETS };

struct enter_spec {
	char *buf; /* the file's bytes: the strings below point into it */
	char **argv, **envp;
	const char *cwd, *keyring;
	uid_t uid;
	gid_t gid;
	gid_t gids[ENTER_MAX_GIDS];
	int n_gids;
	int has_umask;
	mode_t umask;
	int has_caps;
	uint64_t caps[CAP_SETS];
	int nnp;
	int has_oom, oom;
	struct {
		int resource;
		struct rlimit lim;
	} rl[ENTER_MAX_RLIMITS];
	int n_rl;
	unsigned short rows, cols;
	struct sock_filter *bpf;
	unsigned short bpf_len;
};

/* Reads the spec file (and the seccomp program it names, relative to the cwd).
 * Returns 0, or -1 with a message in err. */
int enter_parse(const char *file, struct enter_spec *s, char *err, size_t errlen);
void enter_free(struct enter_spec *s);

/* Starts the process in the container whose init is init_pid. Without a tty its stdio
 * are in/out/errfd (-1 = /dev/null); with one it gets a new pty of the container's
 * devpts and the master is returned in *master. Returns the process's pid (host pid
 * namespace), or -1 with runc's wording of the failure in err (e.g. `exec: "x":
 * executable file not found in $PATH`). The process is re-parented to the caller,
 * which must be a child subreaper. */
pid_t enter_start(const struct enter_spec *s, pid_t init_pid, int tty, int in, int out, int errfd, int *master,
		  char *err, size_t errlen);

#endif
