/*
 * stevedore_native: the few system calls the daemon needs in-process and Node
 * does not expose. Each function is a thin, synchronous wrapper: it validates
 * its arguments, makes one call, and throws an Error carrying `code` (the errno
 * name, e.g. "EPERM") and `errno` on failure. No state, no threads, no policy.
 */
#include <node_api.h>
#include <errno.h>
#include <seccomp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#define PATH_BUF 4096
#define NAME_BUF 256

static const char *errno_name(int e) {
  switch (e) {
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case EIO: return "EIO";
    case EBADF: return "EBADF";
    case EAGAIN: return "EAGAIN";
    case ENOMEM: return "ENOMEM";
    case EACCES: return "EACCES";
    case EBUSY: return "EBUSY";
    case EEXIST: return "EEXIST";
    case ENOTDIR: return "ENOTDIR";
    case EISDIR: return "EISDIR";
    case EINVAL: return "EINVAL";
    case ENOSPC: return "ENOSPC";
    case EROFS: return "EROFS";
    case ERANGE: return "ERANGE";
    case ENAMETOOLONG: return "ENAMETOOLONG";
    case ELOOP: return "ELOOP";
    case ENODATA: return "ENODATA";
    case ENOTSUP: return "ENOTSUP";
    case E2BIG: return "E2BIG";
    case EXDEV: return "EXDEV";
    case EINTR: return "EINTR";
    case ENOEXEC: return "ENOEXEC";
    case EMFILE: return "EMFILE";
    case ENFILE: return "ENFILE";
    case ECHILD: return "ECHILD";
    default: return "EUNKNOWN";
  }
}

static napi_value throw_errno(napi_env env, const char *syscall, const char *path, int e) {
  char msg[PATH_BUF + 128];
  snprintf(msg, sizeof msg, "%s: %s%s%s", syscall, strerror(e), path ? " " : "", path ? path : "");
  napi_value code, message, err, num, sc;
  napi_create_string_utf8(env, errno_name(e), NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message);
  napi_create_error(env, code, message, &err);
  napi_create_int32(env, -e, &num);
  napi_set_named_property(env, err, "errno", num);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &sc);
  napi_set_named_property(env, err, "syscall", sc);
  if (path) {
    napi_value p;
    napi_create_string_utf8(env, path, NAPI_AUTO_LENGTH, &p);
    napi_set_named_property(env, err, "path", p);
  }
  napi_throw(env, err);
  return NULL;
}

static int get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < want) {
    napi_throw_type_error(env, NULL, "wrong number of arguments");
    return 0;
  }
  return 1;
}

/* Copies a JS string into buf; throws TypeError when it is not a string, is too
 * long, or contains a NUL byte (which would silently truncate a path). */
static int get_str(napi_env env, napi_value v, char *buf, size_t cap) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "expected a string");
    return 0;
  }
  if (len + 1 > cap) {
    napi_throw_range_error(env, "ENAMETOOLONG", "string too long");
    return 0;
  }
  napi_get_value_string_utf8(env, v, buf, cap, &len);
  if (strlen(buf) != len) {
    napi_throw_type_error(env, NULL, "string contains a NUL byte");
    return 0;
  }
  return 1;
}

static int get_u32(napi_env env, napi_value v, uint32_t *out) {
  if (napi_get_value_uint32(env, v, out) != napi_ok) {
    napi_throw_type_error(env, NULL, "expected a number");
    return 0;
  }
  return 1;
}

static napi_value undef(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

/* flock(fd, operation): LOCK_SH=1, LOCK_EX=2, LOCK_NB=4, LOCK_UN=8. */
static napi_value js_flock(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  uint32_t fd, op;
  if (!get_args(env, info, 2, argv) || !get_u32(env, argv[0], &fd) || !get_u32(env, argv[1], &op)) return NULL;
  int r;
  do { r = flock((int)fd, (int)op); } while (r < 0 && errno == EINTR);
  if (r < 0) return throw_errno(env, "flock", NULL, errno);
  return undef(env);
}

/* mount(source, target, fstype, flags, data) */
static napi_value js_mount(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  char src[PATH_BUF], tgt[PATH_BUF], fstype[NAME_BUF];
  uint32_t flags;
  if (!get_args(env, info, 5, argv) || !get_str(env, argv[0], src, sizeof src) ||
      !get_str(env, argv[1], tgt, sizeof tgt) || !get_str(env, argv[2], fstype, sizeof fstype) ||
      !get_u32(env, argv[3], &flags))
    return NULL;
  /* overlay option strings can exceed a page only when the kernel rejects them anyway */
  size_t dlen = 0;
  if (napi_get_value_string_utf8(env, argv[4], NULL, 0, &dlen) != napi_ok) {
    napi_throw_type_error(env, NULL, "data must be a string");
    return NULL;
  }
  char *data = malloc(dlen + 1);
  if (!data) return throw_errno(env, "mount", tgt, ENOMEM);
  napi_get_value_string_utf8(env, argv[4], data, dlen + 1, &dlen);
  int r = mount(src, tgt, fstype[0] ? fstype : NULL, flags, dlen ? data : NULL);
  int e = errno;
  free(data);
  if (r < 0) return throw_errno(env, "mount", tgt, e);
  return undef(env);
}

/* umount2(target, flags): MNT_FORCE=1, MNT_DETACH=2, UMOUNT_NOFOLLOW=8 */
static napi_value js_umount2(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  char tgt[PATH_BUF];
  uint32_t flags;
  if (!get_args(env, info, 2, argv) || !get_str(env, argv[0], tgt, sizeof tgt) || !get_u32(env, argv[1], &flags))
    return NULL;
  if (umount2(tgt, (int)flags) < 0) return throw_errno(env, "umount2", tgt, errno);
  return undef(env);
}

/* mknod(path, mode, major, minor): mode includes the file type bits. */
static napi_value js_mknod(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  char path[PATH_BUF];
  uint32_t mode, maj, min;
  if (!get_args(env, info, 4, argv) || !get_str(env, argv[0], path, sizeof path) || !get_u32(env, argv[1], &mode) ||
      !get_u32(env, argv[2], &maj) || !get_u32(env, argv[3], &min))
    return NULL;
  if (mknod(path, (mode_t)mode, makedev(maj, min)) < 0) return throw_errno(env, "mknod", path, errno);
  return undef(env);
}

/* lsetxattr(path, name, value: Buffer, flags) — never follows a final symlink. */
static napi_value js_lsetxattr(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  char path[PATH_BUF], name[NAME_BUF];
  uint32_t flags;
  void *data = NULL;
  size_t len = 0;
  if (!get_args(env, info, 4, argv) || !get_str(env, argv[0], path, sizeof path) ||
      !get_str(env, argv[1], name, sizeof name) || !get_u32(env, argv[3], &flags))
    return NULL;
  if (napi_get_buffer_info(env, argv[2], &data, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "value must be a Buffer");
    return NULL;
  }
  if (lsetxattr(path, name, data, len, (int)flags) < 0) return throw_errno(env, "lsetxattr", path, errno);
  return undef(env);
}

/* lgetxattr(path, name) → Buffer, or null when the attribute is absent. */
static napi_value js_lgetxattr(napi_env env, napi_callback_info info) {
  napi_value argv[2], out;
  char path[PATH_BUF], name[NAME_BUF];
  if (!get_args(env, info, 2, argv) || !get_str(env, argv[0], path, sizeof path) ||
      !get_str(env, argv[1], name, sizeof name))
    return NULL;
  for (;;) {
    ssize_t n = lgetxattr(path, name, NULL, 0);
    if (n < 0) {
      if (errno == ENODATA) { napi_get_null(env, &out); return out; }
      return throw_errno(env, "lgetxattr", path, errno);
    }
    void *buf;
    if (napi_create_buffer(env, (size_t)n, &buf, &out) != napi_ok) return NULL;
    ssize_t m = n ? lgetxattr(path, name, buf, (size_t)n) : 0;
    if (m < 0 && errno == ERANGE) continue; /* grew in between: ask again */
    if (m < 0) return throw_errno(env, "lgetxattr", path, errno);
    if (m != n) { napi_value sliced; napi_create_buffer_copy(env, (size_t)m, buf, NULL, &sliced); return sliced; }
    return out;
  }
}

/* llistxattr(path) → string[] */
static napi_value js_llistxattr(napi_env env, napi_callback_info info) {
  napi_value argv[1], arr;
  char path[PATH_BUF];
  if (!get_args(env, info, 1, argv) || !get_str(env, argv[0], path, sizeof path)) return NULL;
  for (;;) {
    ssize_t n = llistxattr(path, NULL, 0);
    if (n < 0) return throw_errno(env, "llistxattr", path, errno);
    char *buf = malloc((size_t)n + 1);
    if (!buf) return throw_errno(env, "llistxattr", path, ENOMEM);
    ssize_t m = n ? llistxattr(path, buf, (size_t)n) : 0;
    if (m < 0) {
      int e = errno;
      free(buf);
      if (e == ERANGE) continue;
      return throw_errno(env, "llistxattr", path, e);
    }
    napi_create_array(env, &arr);
    uint32_t idx = 0;
    for (ssize_t off = 0; off < m;) {
      size_t l = strnlen(buf + off, (size_t)(m - off));
      napi_value s;
      napi_create_string_utf8(env, buf + off, l, &s);
      napi_set_element(env, arr, idx++, s);
      off += (ssize_t)l + 1;
    }
    free(buf);
    return arr;
  }
}

/* ---- seccomp: compile a profile to classic BPF with libseccomp -------------
 * The profile arrives validated and normalised by src/engine/sys/seccomp.ts:
 *   { defaultAction: u32, arches: u32[],
 *     rules: [{ action: u32, syscall: string,
 *               args: [{ index: u32, op: u32, value: bigint, valueTwo: bigint }] }] }
 * Actions, arches and ops are libseccomp's numeric constants (SCMP_ACT_*, SCMP_ARCH_*,
 * SCMP_CMP_*). Each rule is one seccomp_rule_add_array call, in order; a rule whose
 * syscall name libseccomp does not know is skipped (runc does the same). The filter
 * never sets no_new_privs. Returns the host-endian struct sock_filter[] that
 * seccomp_export_bpf writes. Failures throw an Error naming the step. */

static napi_value throw_seccomp(napi_env env, scmp_filter_ctx ctx, const char *what, const char *name, int rc) {
  char msg[512];
  if (ctx) seccomp_release(ctx);
  snprintf(msg, sizeof msg, "seccomp: %s%s%s: %s", what, name ? " " : "", name ? name : "", strerror(rc < 0 ? -rc : rc));
  napi_throw_error(env, NULL, msg);
  return NULL;
}

static int get_prop(napi_env env, napi_value obj, const char *key, napi_value *out) {
  bool has = false;
  if (napi_has_named_property(env, obj, key, &has) != napi_ok || !has ||
      napi_get_named_property(env, obj, key, out) != napi_ok) {
    char msg[128];
    snprintf(msg, sizeof msg, "seccompCompile: missing property \"%s\"", key);
    napi_throw_type_error(env, NULL, msg);
    return 0;
  }
  return 1;
}

static int get_u32_prop(napi_env env, napi_value obj, const char *key, uint32_t *out) {
  napi_value v;
  return get_prop(env, obj, key, &v) && get_u32(env, v, out);
}

static int get_u64_prop(napi_env env, napi_value obj, const char *key, uint64_t *out) {
  napi_value v;
  bool lossless = false;
  if (!get_prop(env, obj, key, &v)) return 0;
  if (napi_get_value_bigint_uint64(env, v, out, &lossless) != napi_ok || !lossless) {
    napi_throw_type_error(env, NULL, "seccompCompile: argument values must be bigints in [0, 2^64)");
    return 0;
  }
  return 1;
}

static int get_array_prop(napi_env env, napi_value obj, const char *key, napi_value *arr, uint32_t *len) {
  bool is = false;
  if (!get_prop(env, obj, key, arr)) return 0;
  if (napi_is_array(env, *arr, &is) != napi_ok || !is || napi_get_array_length(env, *arr, len) != napi_ok) {
    char msg[128];
    snprintf(msg, sizeof msg, "seccompCompile: \"%s\" must be an array", key);
    napi_throw_type_error(env, NULL, msg);
    return 0;
  }
  return 1;
}

/* Adds one rule; returns 0 after throwing. */
static int add_rule(napi_env env, scmp_filter_ctx ctx, napi_value rule) {
  uint32_t action, nargs;
  napi_value name_v, args;
  char name[NAME_BUF];
  struct scmp_arg_cmp cmp[6];
  if (!get_u32_prop(env, rule, "action", &action) || !get_prop(env, rule, "syscall", &name_v) ||
      !get_str(env, name_v, name, sizeof name) || !get_array_prop(env, rule, "args", &args, &nargs))
    return 0;
  if (nargs > 6) {
    napi_throw_range_error(env, NULL, "seccompCompile: a rule has at most 6 conditions");
    return 0;
  }
  for (uint32_t i = 0; i < nargs; i++) {
    napi_value a;
    uint32_t index, op;
    if (napi_get_element(env, args, i, &a) != napi_ok || !get_u32_prop(env, a, "index", &index) ||
        !get_u32_prop(env, a, "op", &op) || !get_u64_prop(env, a, "value", &cmp[i].datum_a) ||
        !get_u64_prop(env, a, "valueTwo", &cmp[i].datum_b))
      return 0;
    cmp[i].arg = index;
    cmp[i].op = (enum scmp_compare)op;
  }
  int nr = seccomp_syscall_resolve_name(name);
  if (nr == __NR_SCMP_ERROR) return 1; /* unknown to libseccomp: skipped, as runc does */
  int rc = seccomp_rule_add_array(ctx, action, nr, nargs, nargs ? cmp : NULL);
  if (rc < 0) {
    throw_seccomp(env, NULL, "adding the rule for syscall", name, rc);
    return 0;
  }
  return 1;
}

/* seccompCompile(profile) → Buffer (struct sock_filter[]) */
static napi_value js_seccomp_compile(napi_env env, napi_callback_info info) {
  napi_value argv[1], arches, rules, out;
  uint32_t def_action, narches, nrules;
  if (!get_args(env, info, 1, argv) || !get_u32_prop(env, argv[0], "defaultAction", &def_action) ||
      !get_array_prop(env, argv[0], "arches", &arches, &narches) ||
      !get_array_prop(env, argv[0], "rules", &rules, &nrules))
    return NULL;
  scmp_filter_ctx ctx = seccomp_init(def_action);
  if (!ctx) return throw_seccomp(env, NULL, "creating the filter (invalid default action?)", NULL, EINVAL);
  int rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
  if (rc < 0) return throw_seccomp(env, ctx, "clearing the no_new_privs attribute", NULL, rc);
  for (uint32_t i = 0; i < narches; i++) {
    napi_value a;
    uint32_t arch;
    if (napi_get_element(env, arches, i, &a) != napi_ok || !get_u32(env, a, &arch)) {
      seccomp_release(ctx);
      return NULL;
    }
    rc = seccomp_arch_add(ctx, arch);
    if (rc < 0 && rc != -EEXIST) return throw_seccomp(env, ctx, "adding an architecture", NULL, rc);
  }
  for (uint32_t i = 0; i < nrules; i++) {
    napi_value r;
    if (napi_get_element(env, rules, i, &r) != napi_ok || !add_rule(env, ctx, r)) {
      seccomp_release(ctx);
      return NULL;
    }
  }
  int fd = memfd_create("stevedore-seccomp", MFD_CLOEXEC);
  if (fd < 0) return throw_seccomp(env, ctx, "memfd_create", NULL, errno);
  rc = seccomp_export_bpf(ctx, fd);
  seccomp_release(ctx);
  if (rc < 0) {
    close(fd);
    return throw_seccomp(env, NULL, "exporting the BPF program", NULL, rc);
  }
  struct stat st;
  if (fstat(fd, &st) < 0) {
    int e = errno;
    close(fd);
    return throw_seccomp(env, NULL, "fstat of the exported program", NULL, e);
  }
  void *buf;
  if (napi_create_buffer(env, (size_t)st.st_size, &buf, &out) != napi_ok) {
    close(fd);
    return NULL;
  }
  for (off_t off = 0; off < st.st_size;) {
    ssize_t n = pread(fd, (char *)buf + off, (size_t)(st.st_size - off), off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int e = n < 0 ? errno : EIO;
      close(fd);
      return throw_seccomp(env, NULL, "reading the exported program", NULL, e);
    }
    off += n;
  }
  close(fd);
  return out;
}

/* seccompResolveSyscalls(arch, names) → number[]: each name's number on that arch
 * (SCMP_ARCH_* value, 0 = native); -1 when unknown, other negatives are libseccomp's
 * pseudo numbers for calls the arch lacks. */
static napi_value js_seccomp_resolve(napi_env env, napi_callback_info info) {
  napi_value argv[2], arr;
  uint32_t arch, n;
  bool is = false;
  if (!get_args(env, info, 2, argv) || !get_u32(env, argv[0], &arch)) return NULL;
  if (napi_is_array(env, argv[1], &is) != napi_ok || !is || napi_get_array_length(env, argv[1], &n) != napi_ok) {
    napi_throw_type_error(env, NULL, "seccompResolveSyscalls: names must be an array");
    return NULL;
  }
  napi_create_array_with_length(env, n, &arr);
  for (uint32_t i = 0; i < n; i++) {
    napi_value v, num;
    char name[NAME_BUF];
    if (napi_get_element(env, argv[1], i, &v) != napi_ok || !get_str(env, v, name, sizeof name)) return NULL;
    napi_create_int32(env, seccomp_syscall_resolve_name_arch(arch, name), &num);
    napi_set_element(env, arr, i, num);
  }
  return arr;
}

/* fd passing (attach hand-over): defined in its own block at the end of the file */
static napi_value js_send_fd(napi_env env, napi_callback_info info);

/* process start without fork: defined in its own block at the end of the file */
static napi_value js_spawn_ready(napi_env env, napi_callback_info info);
static napi_value js_waitpid_nohang(napi_env env, napi_callback_info info);

/* confinement of the docker cp helper: defined in its own block at the end of the file */
static napi_value js_chroot_fd(napi_env env, napi_callback_info info);
static napi_value js_open_tree(napi_env env, napi_callback_info info);
static napi_value js_move_mount(napi_env env, napi_callback_info info);

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"flock", NULL, js_flock, NULL, NULL, NULL, napi_enumerable, NULL},
    {"mount", NULL, js_mount, NULL, NULL, NULL, napi_enumerable, NULL},
    {"umount2", NULL, js_umount2, NULL, NULL, NULL, napi_enumerable, NULL},
    {"mknod", NULL, js_mknod, NULL, NULL, NULL, napi_enumerable, NULL},
    {"lsetxattr", NULL, js_lsetxattr, NULL, NULL, NULL, napi_enumerable, NULL},
    {"lgetxattr", NULL, js_lgetxattr, NULL, NULL, NULL, napi_enumerable, NULL},
    {"llistxattr", NULL, js_llistxattr, NULL, NULL, NULL, napi_enumerable, NULL},
    {"seccompCompile", NULL, js_seccomp_compile, NULL, NULL, NULL, napi_enumerable, NULL},
    {"seccompResolveSyscalls", NULL, js_seccomp_resolve, NULL, NULL, NULL, napi_enumerable, NULL},
    {"sendFd", NULL, js_send_fd, NULL, NULL, NULL, napi_enumerable, NULL},
    {"spawnReady", NULL, js_spawn_ready, NULL, NULL, NULL, napi_enumerable, NULL},
    {"waitpidNoHang", NULL, js_waitpid_nohang, NULL, NULL, NULL, napi_enumerable, NULL},
    {"chrootFd", NULL, js_chroot_fd, NULL, NULL, NULL, napi_enumerable, NULL},
    {"openTree", NULL, js_open_tree, NULL, NULL, NULL, napi_enumerable, NULL},
    {"moveMount", NULL, js_move_mount, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)

/* ---- fd passing ----
 * sendFd(sockFd, data, fd) → bytes sent: one sendmsg(2) on a connected unix socket
 * carrying `data` and a copy of `fd` (SCM_RIGHTS), non-blocking (EAGAIN is thrown,
 * never waited for). Node can pass handles only to its own children; the daemon uses
 * this to hand a client's connection to a container's shim (docs/shim.md). */
#include <sys/socket.h>

static napi_value js_send_fd(napi_env env, napi_callback_info info) {
  napi_value argv[3], out;
  uint32_t sock, fd;
  void *data = NULL;
  size_t len = 0;
  if (!get_args(env, info, 3, argv) || !get_u32(env, argv[0], &sock) || !get_u32(env, argv[2], &fd)) return NULL;
  if (napi_get_buffer_info(env, argv[1], &data, &len) != napi_ok || len == 0) {
    napi_throw_type_error(env, NULL, "data must be a non-empty Buffer");
    return NULL;
  }
  char cbuf[CMSG_SPACE(sizeof(int))];
  memset(cbuf, 0, sizeof cbuf);
  struct iovec iov = {.iov_base = data, .iov_len = len};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
  struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
  cm->cmsg_level = SOL_SOCKET;
  cm->cmsg_type = SCM_RIGHTS;
  cm->cmsg_len = CMSG_LEN(sizeof(int));
  int f = (int)fd;
  memcpy(CMSG_DATA(cm), &f, sizeof f);
  ssize_t w;
  do
    w = sendmsg((int)sock, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
  while (w < 0 && errno == EINTR);
  if (w < 0) return throw_errno(env, "sendmsg", NULL, errno);
  napi_create_double(env, (double)w, &out);
  return out;
}

/* ---- process start without fork ----
 * spawnReady(file, argv, env, stdio) → {pid, readyFd}: starts `file` with posix_spawn(3).
 * glibc starts it with clone(CLONE_VM|CLONE_VFORK), so the daemon's page tables are not
 * copied (libuv's fork() of an 80+ MB Node process stops its event loop for 5–15 ms). The
 * child gets a new session, an empty signal mask and every signal at its default
 * disposition (Node ignores SIGPIPE; that must not leak), fds 0–2 from `stdio` (-1 =
 * /dev/null), fd 3 = the write end of a new pipe, and no other fd. `readyFd` is the
 * pipe's read end (O_CLOEXEC; read it non-blocking). `env` null = the daemon's environ.
 * The caller must reap `pid` (waitpidNoHang): libuv reaps only the children it started.
 * waitpidNoHang(pid) → null while `pid` runs, else {code, signal} (it is reaped then). */
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <sys/wait.h>

extern char **environ;

static void free_strv(char **v) {
  if (!v) return;
  for (char **p = v; *p; p++) free(*p);
  free(v);
}

/* A JS array of strings → a NULL-terminated malloc'd vector; NULL (and thrown) on error. */
static char **get_strv(napi_env env, napi_value arr, const char *what) {
  bool is_arr = false;
  uint32_t n = 0;
  char msg[96];
  snprintf(msg, sizeof msg, "%s must be an array of strings", what);
  if (napi_is_array(env, arr, &is_arr) != napi_ok || !is_arr || napi_get_array_length(env, arr, &n) != napi_ok ||
      n > 65536) {
    napi_throw_type_error(env, NULL, msg);
    return NULL;
  }
  char **v = calloc((size_t)n + 1, sizeof *v);
  if (!v) {
    napi_throw_error(env, "ENOMEM", "out of memory");
    return NULL;
  }
  for (uint32_t i = 0; i < n; i++) {
    napi_value s;
    size_t len = 0;
    if (napi_get_element(env, arr, i, &s) != napi_ok || napi_get_value_string_utf8(env, s, NULL, 0, &len) != napi_ok) {
      free_strv(v);
      napi_throw_type_error(env, NULL, msg);
      return NULL;
    }
    v[i] = malloc(len + 1);
    if (!v[i]) {
      free_strv(v);
      napi_throw_error(env, "ENOMEM", "out of memory");
      return NULL;
    }
    napi_get_value_string_utf8(env, s, v[i], len + 1, &len);
    if (strlen(v[i]) != len) {
      free_strv(v);
      napi_throw_type_error(env, NULL, "string contains a NUL byte");
      return NULL;
    }
  }
  return v;
}

/* stdio: null, or 3 numbers, each -1 (/dev/null), its own slot number (inherited) or an
 * fd >= 3 (dup'ed before fd 3 is set and the others closed). */
static int get_stdio(napi_env env, napi_value v, int fds[3]) {
  napi_valuetype t;
  fds[0] = fds[1] = fds[2] = -1;
  if (napi_typeof(env, v, &t) != napi_ok) return 0;
  if (t == napi_null || t == napi_undefined) return 1;
  bool is_arr = false;
  uint32_t n = 0;
  if (napi_is_array(env, v, &is_arr) != napi_ok || !is_arr || napi_get_array_length(env, v, &n) != napi_ok || n != 3) {
    napi_throw_type_error(env, NULL, "stdio must be null or an array of 3 fds");
    return 0;
  }
  for (uint32_t i = 0; i < 3; i++) {
    napi_value e;
    int32_t fd;
    if (napi_get_element(env, v, i, &e) != napi_ok || napi_get_value_int32(env, e, &fd) != napi_ok ||
        !(fd == -1 || fd == (int32_t)i || fd >= 3)) {
      napi_throw_type_error(env, NULL, "stdio fds must be -1, the slot's own number or >= 3");
      return 0;
    }
    fds[i] = fd;
  }
  return 1;
}

static napi_value js_spawn_ready(napi_env env, napi_callback_info info) {
  napi_value argv[4], out, v;
  napi_valuetype envt;
  char file[PATH_BUF];
  int fds[3];
  if (!get_args(env, info, 4, argv) || !get_str(env, argv[0], file, sizeof file) || !get_stdio(env, argv[3], fds))
    return NULL;
  char **args = get_strv(env, argv[1], "argv");
  if (!args) return NULL;
  if (!args[0]) {
    free_strv(args);
    napi_throw_type_error(env, NULL, "argv must not be empty");
    return NULL;
  }
  char **envp = NULL;
  if (napi_typeof(env, argv[2], &envt) != napi_ok || (envt != napi_null && envt != napi_undefined)) {
    envp = get_strv(env, argv[2], "env");
    if (!envp) {
      free_strv(args);
      return NULL;
    }
  }
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0) {
    int e = errno;
    free_strv(args);
    free_strv(envp);
    return throw_errno(env, "pipe2", NULL, e);
  }
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t at;
  sigset_t none, all;
  sigemptyset(&none);
  /* every signal, glibc's internal ones (32, 33) included: sigfillset leaves those out,
   * and posix_spawn's child would then exec with them ignored, which runc and the
   * container would inherit (libuv's fork+exec ends with them at their default) */
  memset(&all, 0xff, sizeof all);
  /* both only clear their struct in glibc; destroy is then safe whatever follows */
  posix_spawn_file_actions_init(&fa);
  posix_spawnattr_init(&at);
  int rc = 0;
  for (int i = 0; i < 3 && !rc; i++)
    rc = fds[i] < 0 ? posix_spawn_file_actions_addopen(&fa, i, "/dev/null", O_RDWR, 0)
                    : posix_spawn_file_actions_adddup2(&fa, fds[i], i); /* same fd: glibc clears FD_CLOEXEC */
  if (!rc) rc = posix_spawn_file_actions_adddup2(&fa, p[1], 3);
  if (!rc) rc = posix_spawn_file_actions_addclosefrom_np(&fa, 4);
  if (!rc) rc = posix_spawnattr_setsigmask(&at, &none);
  if (!rc) rc = posix_spawnattr_setsigdefault(&at, &all);
  if (!rc) rc = posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSID);
  pid_t pid = -1;
  if (!rc) rc = posix_spawn(&pid, file, &fa, &at, args, envp ? envp : environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&at);
  close(p[1]);
  free_strv(args);
  free_strv(envp);
  if (rc) {
    close(p[0]);
    return throw_errno(env, "posix_spawn", file, rc);
  }
  napi_create_object(env, &out);
  napi_create_int32(env, (int32_t)pid, &v);
  napi_set_named_property(env, out, "pid", v);
  napi_create_int32(env, p[0], &v);
  napi_set_named_property(env, out, "readyFd", v);
  return out;
}

static napi_value js_waitpid_nohang(napi_env env, napi_callback_info info) {
  napi_value argv[1], out, code, sig;
  uint32_t pid;
  if (!get_args(env, info, 1, argv) || !get_u32(env, argv[0], &pid)) return NULL;
  if (pid == 0 || pid > INT_MAX) { /* 0 or -1 would wait for any child */
    napi_throw_range_error(env, "EINVAL", "pid must be a positive process id");
    return NULL;
  }
  int st = 0;
  pid_t r;
  do
    r = waitpid((pid_t)pid, &st, WNOHANG);
  while (r < 0 && errno == EINTR);
  if (r < 0) return throw_errno(env, "waitpid", NULL, errno);
  if (r == 0) {
    napi_get_null(env, &out);
    return out;
  }
  napi_create_object(env, &out);
  if (WIFEXITED(st)) napi_create_int32(env, WEXITSTATUS(st), &code);
  else napi_get_null(env, &code);
  if (WIFSIGNALED(st)) napi_create_int32(env, WTERMSIG(st), &sig);
  else napi_get_null(env, &sig);
  napi_set_named_property(env, out, "code", code);
  napi_set_named_property(env, out, "signal", sig);
  return out;
}

/* ---- confinement ----
 * chrootFd(fd): makes the directory open as `fd` the process's root and working
 * directory: fchdir(fd), chroot("."), chdir("/"). The docker cp helper
 * (src/daemon/containers/archive/helper.ts) calls it once, before touching any path
 * of the container, so that every later path lookup (symbolic links and `..`
 * included) resolves inside the container's root, whatever the container swaps in.
 * It does not close `fd`. Threads share the root (no CLONE_FS unshare is made). */
static napi_value js_chroot_fd(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  uint32_t fd;
  if (!get_args(env, info, 1, argv) || !get_u32(env, argv[0], &fd)) return NULL;
  if (fchdir((int)fd) < 0) return throw_errno(env, "fchdir", NULL, errno);
  if (chroot(".") < 0) return throw_errno(env, "chroot", NULL, errno);
  if (chdir("/") < 0) return throw_errno(env, "chdir", "/", errno);
  return undef(env);
}

/* openTree(path, readOnly) → fd: open_tree(2) with OPEN_TREE_CLONE | AT_RECURSIVE |
 * OPEN_TREE_CLOEXEC: a detached copy of the mount tree at `path` (a recursive bind
 * mount not attached anywhere yet), made read-only (mount_setattr MOUNT_ATTR_RDONLY,
 * recursively) when asked. The copy helper takes the container's mount sources this
 * way before its chroot and attaches them inside it with moveMount. */
#include <sys/syscall.h>
#include <fcntl.h>
#ifndef OPEN_TREE_CLONE
#define OPEN_TREE_CLONE 1
#endif
#ifndef OPEN_TREE_CLOEXEC
#define OPEN_TREE_CLOEXEC O_CLOEXEC
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif
#ifndef MOVE_MOUNT_F_EMPTY_PATH
#define MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#endif
#ifndef MOUNT_ATTR_RDONLY
#define MOUNT_ATTR_RDONLY 0x00000001
#endif
struct stevedore_mount_attr { uint64_t attr_set, attr_clr, propagation, userns_fd; };

static napi_value js_open_tree(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  char src[PATH_BUF];
  bool ro;
  if (!get_args(env, info, 2, argv) || !get_str(env, argv[0], src, sizeof src)) return NULL;
  if (napi_get_value_bool(env, argv[1], &ro) != napi_ok) {
    napi_throw_type_error(env, NULL, "readOnly must be a boolean");
    return NULL;
  }
  int fd = (int)syscall(SYS_open_tree, AT_FDCWD, src, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
  if (fd < 0) return throw_errno(env, "open_tree", src, errno);
  if (ro) {
    struct stevedore_mount_attr attr = { MOUNT_ATTR_RDONLY, 0, 0, 0 };
    if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) < 0) {
      int e = errno;
      close(fd);
      return throw_errno(env, "mount_setattr", src, e);
    }
  }
  napi_value out;
  napi_create_int32(env, fd, &out);
  return out;
}

/* moveMount(fd, target): move_mount(2) of the detached tree `fd` onto `target` (a path
 * resolved from the process's root and working directory, i.e. inside the chroot). */
static napi_value js_move_mount(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  uint32_t fd;
  char tgt[PATH_BUF];
  if (!get_args(env, info, 2, argv) || !get_u32(env, argv[0], &fd) || !get_str(env, argv[1], tgt, sizeof tgt)) return NULL;
  if (syscall(SYS_move_mount, (int)fd, "", AT_FDCWD, tgt, MOVE_MOUNT_F_EMPTY_PATH) < 0) return throw_errno(env, "move_mount", tgt, errno);
  return undef(env);
}
