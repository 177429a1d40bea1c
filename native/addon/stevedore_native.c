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
    case ENODEV: return "ENODEV";
    case ENXIO: return "ENXIO";
    case ENOBUFS: return "ENOBUFS";
    case EADDRINUSE: return "EADDRINUSE";
    case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
    case ENETDOWN: return "ENETDOWN";
    case ENETUNREACH: return "ENETUNREACH";
    case ETIMEDOUT: return "ETIMEDOUT";
    case EAFNOSUPPORT: return "EAFNOSUPPORT";
    case EPROTONOSUPPORT: return "EPROTONOSUPPORT";
    case EMSGSIZE: return "EMSGSIZE";
    case EBADMSG: return "EBADMSG";
    case ECANCELED: return "ECANCELED";
    default: return "EUNKNOWN";
  }
}

/* An Error with code (EXXX), errno (negative), syscall and path, as Node's own. */
static napi_value errno_error(napi_env env, const char *syscall, const char *path, int e) {
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
  return err;
}

static napi_value throw_errno(napi_env env, const char *syscall, const char *path, int e) {
  napi_throw(env, errno_error(env, syscall, path, e));
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

/* docker cp's detached trees (openTree, openat2, moveMountAt, chmodAt): defined in the
 * confinement block below */
static napi_value js_open_tree(napi_env env, napi_callback_info info);
static napi_value js_openat2(napi_env env, napi_callback_info info);
static napi_value js_move_mount_at(napi_env env, napi_callback_info info);
static napi_value js_chmod_at(napi_env env, napi_callback_info info);

/* network namespaces and rtnetlink: defined in their own block at the end of the file */
static napi_value js_netns_create(napi_env env, napi_callback_info info);
static napi_value js_netns_delete(napi_env env, napi_callback_info info);
static napi_value js_netlink_open(napi_env env, napi_callback_info info);
static napi_value js_netlink_request(napi_env env, napi_callback_info info);

/* docker cp before Linux 6.15 (a view in a private mount namespace): defined in its own block at the end of the file */
static napi_value js_cp_namespace_open(napi_env env, napi_callback_info info);
static napi_value js_cp_namespace_attach(napi_env env, napi_callback_info info);

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
    {"openTree", NULL, js_open_tree, NULL, NULL, NULL, napi_enumerable, NULL},
    {"openat2", NULL, js_openat2, NULL, NULL, NULL, napi_enumerable, NULL},
    {"moveMountAt", NULL, js_move_mount_at, NULL, NULL, NULL, napi_enumerable, NULL},
    {"chmodAt", NULL, js_chmod_at, NULL, NULL, NULL, napi_enumerable, NULL},
    {"netnsCreate", NULL, js_netns_create, NULL, NULL, NULL, napi_enumerable, NULL},
    {"netnsDelete", NULL, js_netns_delete, NULL, NULL, NULL, napi_enumerable, NULL},
    {"netlinkOpen", NULL, js_netlink_open, NULL, NULL, NULL, napi_enumerable, NULL},
    {"netlinkRequest", NULL, js_netlink_request, NULL, NULL, NULL, napi_enumerable, NULL},
    {"cpNamespaceOpen", NULL, js_cp_namespace_open, NULL, NULL, NULL, napi_enumerable, NULL},
    {"cpNamespaceAttach", NULL, js_cp_namespace_attach, NULL, NULL, NULL, napi_enumerable, NULL},
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
  /* a socket pair rather than a pipe: the daemon can answer on it too (the shim's
   * `--gate` waits for a "go" line on its fd 3 before it creates the container) */
  int p[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p) < 0) {
    int e = errno;
    free_strv(args);
    free_strv(envp);
    return throw_errno(env, "socketpair", NULL, e);
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
 * openTree(path, readOnly) → fd: open_tree(2) with OPEN_TREE_CLONE | AT_RECURSIVE |
 * OPEN_TREE_CLOEXEC: a detached copy of the mount tree at `path` (a recursive bind
 * mount not attached anywhere yet), made read-only (mount_setattr MOUNT_ATTR_RDONLY,
 * recursively) when asked. docker cp's views (src/daemon/containers/archive/rootview.ts)
 * take the container's root and mount sources this way and attach them with moveMountAt. */
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


/* ---- docker cp in the daemon: confined lookups on detached trees ----
 * (src/daemon/containers/archive/rootview.ts; docs/archive.md "Confinement")
 * openat2(dirfd, path, flags, mode, resolve) → fd: openat2(2) with `how` = {flags |
 *   O_CLOEXEC, mode, resolve} (RESOLVE_* bits as the kernel defines them: NO_XDEV 1,
 *   NO_MAGICLINKS 2, NO_SYMLINKS 4, BENEATH 8, IN_ROOT 0x10). Throws (code, syscall
 *   'openat2', the path).
 * moveMountAt(fromFd, toDirFd, toPath): move_mount(2) of the detached tree `fromFd` onto
 *   `toPath` relative to `toDirFd` ("" = toDirFd itself, MOVE_MOUNT_T_EMPTY_PATH); the
 *   target may itself be in a detached tree (Linux 6.15+), which is how the copy builds
 *   a container's view (its root and its volumes) that no namespace ever shows.
 * chmodAt(dirfd, name, mode): fchmodat2(2) with AT_SYMLINK_NOFOLLOW: never follows a
 *   link in `name`'s last component (EOPNOTSUPP on a link). */
#include <linux/openat2.h>
#include <sys/uio.h>
#include <time.h>
#ifndef MOVE_MOUNT_T_EMPTY_PATH
#define MOVE_MOUNT_T_EMPTY_PATH 0x00000040
#endif
#ifndef SYS_openat2
#define SYS_openat2 437
#endif
#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452
#endif

static int get_i32(napi_env env, napi_value v, int32_t *out) {
  if (napi_get_value_int32(env, v, out) != napi_ok) {
    napi_throw_type_error(env, NULL, "expected an integer");
    return 0;
  }
  return 1;
}

static napi_value js_openat2(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  int32_t dirfd;
  uint32_t flags, mode, resolve;
  char p[PATH_BUF];
  if (!get_args(env, info, 5, argv) || !get_i32(env, argv[0], &dirfd) || !get_str(env, argv[1], p, sizeof p) ||
      !get_u32(env, argv[2], &flags) || !get_u32(env, argv[3], &mode) || !get_u32(env, argv[4], &resolve)) return NULL;
  struct open_how how;
  memset(&how, 0, sizeof how);
  how.flags = (uint64_t)flags | O_CLOEXEC;
  how.mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0;
  how.resolve = resolve;
  /* EAGAIN: a rename or mount raced a ".." lookup; retried a bounded number of times, so
   * a container renaming in a loop cannot hold the daemon's thread here */
  int fd, tries = 0;
  do fd = (int)syscall(SYS_openat2, dirfd, p, &how, sizeof how); while (fd < 0 && errno == EAGAIN && ++tries < 64);
  if (fd < 0) return throw_errno(env, "openat2", p, errno);
  napi_value out;
  napi_create_int32(env, fd, &out);
  return out;
}

static napi_value js_move_mount_at(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  uint32_t from, to;
  char tgt[PATH_BUF];
  if (!get_args(env, info, 3, argv) || !get_u32(env, argv[0], &from) || !get_u32(env, argv[1], &to) || !get_str(env, argv[2], tgt, sizeof tgt)) return NULL;
  unsigned int fl = MOVE_MOUNT_F_EMPTY_PATH | (tgt[0] == '\0' ? MOVE_MOUNT_T_EMPTY_PATH : 0);
  if (syscall(SYS_move_mount, (int)from, "", (int)to, tgt, fl) < 0) return throw_errno(env, "move_mount", tgt, errno);
  return undef(env);
}

static napi_value js_chmod_at(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  uint32_t dirfd, mode;
  char name[PATH_BUF];
  if (!get_args(env, info, 3, argv) || !get_u32(env, argv[0], &dirfd) || !get_str(env, argv[1], name, sizeof name) || !get_u32(env, argv[2], &mode)) return NULL;
  if (syscall(SYS_fchmodat2, (int)dirfd, name, (mode_t)mode, AT_SYMLINK_NOFOLLOW) < 0) return throw_errno(env, "fchmodat2", name, errno);
  return undef(env);
}


/* ---- network namespaces and rtnetlink ----
 * Node's main thread never changes namespace. Whatever must happen inside a network
 * namespace happens on a short-lived thread of its own (a thread's network namespace is
 * its own: unshare(CLONE_NEWNET) and setns(…, CLONE_NEWNET) are allowed in a
 * multithreaded process and affect only the calling thread), which ends right after, so
 * no thread is ever left in a namespace other than the daemon's.
 *
 * netnsCreate(path) → Promise<void>: a thread unshares a new network namespace,
 *   bind-mounts its /proc/thread-self/ns/net onto `path` (an existing empty file), sets
 *   `lo` up and ends; the bind mount keeps the namespace alive. Rejects with
 *   code/errno/syscall.
 * netnsDelete(path) → Promise<void>: detached unmounts until nothing is mounted there, then
 *   unlink; a missing file or mount is fine. On a thread of its own (an unmount can wait
 *   for an RCU grace period).
 * netlinkOpen(nsPath | null) → fd: a NETLINK_ROUTE socket (O_CLOEXEC, extended acks,
 *   capped acks, a 10 s receive timeout) in the daemon's namespace, or in the namespace
 *   bind-mounted at nsPath (opened by a thread that setns()es there; a socket stays in
 *   the namespace it was made in). The caller closes it.
 * netlinkRequest(fd | nsPath, messages: Buffer[]) → Promise<{error, extack, data}[]>: on
 *   a thread of its own (not libuv's pool: see bg_start) — with a path instead of a
 *   socket, that thread enters the namespace bind-mounted there, makes a socket in it,
 *   and closes it after (so the JS thread never waits for a namespace) — sends each complete rtnetlink message in turn (its sequence number is
 *   overwritten) and reads the answers until its ack (NLMSG_ERROR) or, for a dump, its
 *   NLMSG_DONE (a request with neither NLM_F_ACK nor NLM_F_DUMP: its one answer).
 *   `error` is 0 or the positive errno (EINTR: a dump the kernel marked interrupted by a
 *   concurrent change, NLM_F_DUMP_INTR; ask again) of the kernel's answer, `extack` the
 *   kernel's explanation ("" when none), `data` the answer's other messages, concatenated
 *   as received. Stops after the first message that fails; a socket error rejects. One
 *   request at a time per socket. */
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/time.h>


/* -- work on a thread of its own --
 * Netlink requests can block for tens of ms (deleting a veth waits for the kernel's RCU
 * grace periods), so they do not run on libuv's thread pool, whose 4 threads the
 * daemon's file system calls need: each request gets a detached thread of its own, and
 * its result comes back to the JS thread through a thread-safe function. The function
 * keeps the event loop alive until the result is delivered. */
struct bg_call {
  napi_threadsafe_function tsfn;
  void (*exec)(void *job);
  void (*done)(napi_env env, void *job); /* env NULL: the environment is gone; free only */
  void *job;
};

static void *bg_thread(void *arg) {
  struct bg_call *b = arg;
  b->exec(b->job);
  napi_threadsafe_function tsfn = b->tsfn;
  if (napi_call_threadsafe_function(tsfn, b, napi_tsfn_blocking) != napi_ok) {
    b->done(NULL, b->job); /* closing: nobody is waiting any more */
    free(b);
  }
  napi_release_threadsafe_function(tsfn, napi_tsfn_release);
  return NULL;
}

static void bg_call_js(napi_env env, napi_value js_cb, void *context, void *data) {
  (void)js_cb;
  (void)context;
  struct bg_call *b = data;
  if (env) {
    napi_handle_scope scope;
    napi_open_handle_scope(env, &scope);
    b->done(env, b->job);
    napi_close_handle_scope(env, scope);
  } else {
    b->done(NULL, b->job);
  }
  free(b);
}

/* Starts exec(job) on a new detached thread; done(env, job) runs later on the JS thread.
 * Returns 0, or an errno (nothing started, nothing freed: the caller still owns job). */
static int bg_start(napi_env env, const char *name, void (*exec)(void *), void (*done)(napi_env, void *), void *job) {
  struct bg_call *b = calloc(1, sizeof *b);
  if (!b) return ENOMEM;
  b->exec = exec;
  b->done = done;
  b->job = job;
  napi_value n;
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &n);
  if (napi_create_threadsafe_function(env, NULL, NULL, n, 0, 1, NULL, NULL, NULL, bg_call_js, &b->tsfn) != napi_ok) {
    free(b);
    return EAGAIN;
  }
  pthread_attr_t at;
  pthread_t t;
  pthread_attr_init(&at);
  pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&at, 256 * 1024);
  int rc = pthread_create(&t, &at, bg_thread, b);
  pthread_attr_destroy(&at);
  if (rc) {
    napi_release_threadsafe_function(b->tsfn, napi_tsfn_abort);
    free(b);
    return rc;
  }
  return 0;
}

/* -- netnsCreate -- */
struct netns_job {
  napi_deferred deferred;
  char path[PATH_BUF];
  int err;             /* errno of the failed step, 0 when done */
  const char *step;    /* the failed step's name */
};

/* Runs on a thread of its own that ends right after: the new namespace dies with it
 * unless the bind mount holds it. */
static void netns_exec(void *arg) {
  struct netns_job *j = arg;
  char self[64];
  if (unshare(CLONE_NEWNET) < 0) { j->err = errno; j->step = "unshare(CLONE_NEWNET)"; return; }
  snprintf(self, sizeof self, "/proc/self/task/%d/ns/net", (int)gettid());
  if (mount(self, j->path, NULL, MS_BIND, NULL) < 0) { j->err = errno; j->step = "mount"; return; }
  /* lo up: SIOCSIFFLAGS on a datagram socket of the new namespace */
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) s = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) { j->err = errno; j->step = "socket"; goto undo; }
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strcpy(ifr.ifr_name, "lo");
  if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) { j->err = errno; j->step = "ioctl(SIOCGIFFLAGS lo)"; close(s); goto undo; }
  ifr.ifr_flags |= IFF_UP;
  if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) { j->err = errno; j->step = "ioctl(SIOCSIFFLAGS lo)"; close(s); goto undo; }
  close(s);
  return;
undo:
  umount2(j->path, MNT_DETACH);
}

static void netns_done(napi_env env, void *data) {
  struct netns_job *j = data;
  if (env) {
    if (j->err) napi_reject_deferred(env, j->deferred, errno_error(env, j->step, j->path, j->err));
    else napi_resolve_deferred(env, j->deferred, undef(env));
  }
  free(j);
}

static napi_value js_netns_create(napi_env env, napi_callback_info info) {
  napi_value argv[1], promise;
  if (!get_args(env, info, 1, argv)) return NULL;
  struct netns_job *j = calloc(1, sizeof *j);
  if (!j) return throw_errno(env, "netnsCreate", NULL, ENOMEM);
  if (!get_str(env, argv[0], j->path, sizeof j->path)) { free(j); return NULL; }
  if (napi_create_promise(env, &j->deferred, &promise) != napi_ok) { free(j); return NULL; }
  int rc = bg_start(env, "stevedore:netnsCreate", netns_exec, netns_done, j);
  if (rc) {
    napi_reject_deferred(env, j->deferred, errno_error(env, "pthread_create", j->path, rc));
    free(j);
  }
  return promise;
}

/* -- netnsDelete --
 * Unmounting can wait for an RCU grace period (namespace_unlock): up to a few ms that the
 * JS thread should not spend. Detached unmounts until nothing is mounted on the path
 * (EINVAL: not a mount point; ENOENT: no file), then the file is unlinked (ENOENT is fine). */
static void netns_delete_exec(void *arg) {
  struct netns_job *j = arg;
  for (;;) {
    if (umount2(j->path, MNT_DETACH | UMOUNT_NOFOLLOW) == 0) continue;
    if (errno == EINTR) continue;
    if (errno == EINVAL || errno == ENOENT) break;
    j->err = errno;
    j->step = "umount2";
    return;
  }
  if (unlink(j->path) < 0 && errno != ENOENT) {
    j->err = errno;
    j->step = "unlink";
  }
}

static napi_value js_netns_delete(napi_env env, napi_callback_info info) {
  napi_value argv[1], promise;
  if (!get_args(env, info, 1, argv)) return NULL;
  struct netns_job *j = calloc(1, sizeof *j);
  if (!j) return throw_errno(env, "netnsDelete", NULL, ENOMEM);
  if (!get_str(env, argv[0], j->path, sizeof j->path)) { free(j); return NULL; }
  if (napi_create_promise(env, &j->deferred, &promise) != napi_ok) { free(j); return NULL; }
  int rc = bg_start(env, "stevedore:netnsDelete", netns_delete_exec, netns_done, j);
  if (rc) {
    napi_reject_deferred(env, j->deferred, errno_error(env, "pthread_create", j->path, rc));
    free(j);
  }
  return promise;
}

/* -- netlinkOpen -- */
static int netlink_socket(void) {
  int s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (s < 0) return -errno;
  int one = 1;
  struct timeval tv = {.tv_sec = 10, .tv_usec = 0};
  /* extended acks are advice only: older kernels refuse the options, which is fine */
  setsockopt(s, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
  setsockopt(s, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
  if (setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0) {
    int e = errno;
    close(s);
    return -e;
  }
  return s;
}

struct ns_socket_job { int nsfd; int result; const char *step; };

static void *ns_socket_thread(void *arg) {
  struct ns_socket_job *j = arg;
  if (setns(j->nsfd, CLONE_NEWNET) < 0) { j->result = -errno; j->step = "setns"; return NULL; }
  j->result = netlink_socket();
  j->step = "socket(AF_NETLINK)";
  return NULL; /* the thread ends here, in the namespace it entered */
}

static napi_value js_netlink_open(napi_env env, napi_callback_info info) {
  napi_value argv[1], out;
  napi_valuetype t;
  char path[PATH_BUF];
  if (!get_args(env, info, 1, argv) || napi_typeof(env, argv[0], &t) != napi_ok) return NULL;
  int s;
  if (t == napi_null || t == napi_undefined) {
    s = netlink_socket();
    if (s < 0) return throw_errno(env, "socket(AF_NETLINK)", NULL, -s);
  } else {
    if (!get_str(env, argv[0], path, sizeof path)) return NULL;
    int nsfd = open(path, O_RDONLY | O_CLOEXEC);
    if (nsfd < 0) return throw_errno(env, "open", path, errno);
    struct ns_socket_job j = {.nsfd = nsfd, .result = -EINVAL, .step = "setns"};
    pthread_t th;
    int rc = pthread_create(&th, NULL, ns_socket_thread, &j);
    if (rc) {
      close(nsfd);
      return throw_errno(env, "pthread_create", NULL, rc);
    }
    pthread_join(th, NULL);
    close(nsfd);
    if (j.result < 0) return throw_errno(env, j.step, path, -j.result);
    s = j.result;
  }
  napi_create_int32(env, s, &out);
  return out;
}

/* -- netlinkRequest -- */
struct nl_result { int error; char extack[256]; char *data; size_t len, cap; };

struct nl_job {
  napi_deferred deferred;
  int fd;                /* the socket; -1 until made when nspath is set */
  char nspath[PATH_BUF]; /* "" or the namespace to make a socket in, on the worker thread */
  uint32_t count, done;  /* messages given; answers complete (the last may be an error) */
  char **msgs;
  size_t *lens;
  struct nl_result *res;
  int sock_err;          /* a socket-level failure: errno */
  const char *sock_step;
};

static int nl_append(struct nl_result *r, const void *p, size_t n) {
  if (r->len + n > r->cap) {
    size_t cap = r->cap ? r->cap * 2 : 4096;
    while (cap < r->len + n) cap *= 2;
    char *d = realloc(r->data, cap);
    if (!d) return 0;
    r->data = d;
    r->cap = cap;
  }
  memcpy(r->data + r->len, p, n);
  r->len += n;
  return 1;
}

static void nl_extack(struct nl_result *r, struct nlmsghdr *h) {
  if (!(h->nlmsg_flags & NLM_F_ACK_TLVS)) return;
  struct nlmsgerr *e = NLMSG_DATA(h);
  /* with NETLINK_CAP_ACK only the failed request's header follows the error (unless
   * it succeeded, where nothing is capped either way) */
  size_t off = NLMSG_HDRLEN + sizeof *e;
  if (!(h->nlmsg_flags & NLM_F_CAPPED)) off += NLMSG_ALIGN(e->msg.nlmsg_len) - sizeof e->msg;
  while (off + sizeof(struct nlattr) <= h->nlmsg_len) {
    struct nlattr *a = (struct nlattr *)((char *)h + off);
    if (a->nla_len < sizeof *a || off + a->nla_len > h->nlmsg_len) return;
    if ((a->nla_type & NLA_TYPE_MASK) == NLMSGERR_ATTR_MSG) {
      size_t n = a->nla_len - sizeof *a;
      if (n >= sizeof r->extack) n = sizeof r->extack - 1;
      memcpy(r->extack, (char *)a + sizeof *a, n);
      r->extack[n] = 0;
      return;
    }
    off += NLA_ALIGN(a->nla_len);
  }
}

static void nl_execute(void *data) {
  struct nl_job *j = data;
  if (j->nspath[0]) {
    /* this thread is ours alone and ends after the request: it may enter the namespace */
    int nsfd = open(j->nspath, O_RDONLY | O_CLOEXEC);
    if (nsfd < 0) { j->sock_err = errno; j->sock_step = "open"; return; }
    int r = setns(nsfd, CLONE_NEWNET);
    int e = errno;
    close(nsfd);
    if (r < 0) { j->sock_err = e; j->sock_step = "setns"; return; }
    j->fd = netlink_socket();
    if (j->fd < 0) { j->sock_err = -j->fd; j->sock_step = "socket(AF_NETLINK)"; return; }
  }
  size_t cap = 65536;
  char *buf = malloc(cap);
  if (!buf) { j->sock_err = ENOMEM; j->sock_step = "netlinkRequest"; goto close_fd; }
  struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
  for (uint32_t i = 0; i < j->count; i++) {
    struct nl_result *r = &j->res[i];
    struct nlmsghdr *req = (struct nlmsghdr *)j->msgs[i];
    uint32_t seq = i + 1;
    req->nlmsg_seq = seq;
    req->nlmsg_pid = 0;
    ssize_t w;
    do w = sendto(j->fd, req, j->lens[i], 0, (struct sockaddr *)&kernel, sizeof kernel);
    while (w < 0 && errno == EINTR);
    if (w < 0) { j->sock_err = errno; j->sock_step = "sendto(netlink)"; break; }
    int finished = 0, interrupted = 0;
    while (!finished) {
      ssize_t n;
      /* MSG_TRUNC: the datagram's real length, so a truncated one is seen, never parsed */
      do n = recv(j->fd, buf, cap, MSG_TRUNC);
      while (n < 0 && errno == EINTR);
      if (n < 0) { j->sock_err = errno == EAGAIN ? ETIMEDOUT : errno; j->sock_step = "recv(netlink)"; goto out; }
      if (n == 0) { j->sock_err = EIO; j->sock_step = "recv(netlink)"; goto out; }
      if ((size_t)n > cap) { j->sock_err = EMSGSIZE; j->sock_step = "recv(netlink)"; goto out; }
      int left = (int)n; /* signed: NLMSG_NEXT may take it below zero, which ends the walk */
      for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
        if (h->nlmsg_seq != seq) continue; /* an answer to nothing we are waiting for */
        if (h->nlmsg_flags & NLM_F_DUMP_INTR) interrupted = 1;
        if (h->nlmsg_type == NLMSG_ERROR) {
          if (h->nlmsg_len < NLMSG_LENGTH(sizeof(struct nlmsgerr))) { j->sock_err = EBADMSG; j->sock_step = "netlink ack"; goto out; }
          struct nlmsgerr *e = NLMSG_DATA(h);
          r->error = -e->error;
          if (r->error) nl_extack(r, h);
          finished = 1;
          break;
        }
        if (h->nlmsg_type == NLMSG_DONE) {
          if (h->nlmsg_len >= NLMSG_LENGTH(sizeof(int))) {
            int e;
            memcpy(&e, NLMSG_DATA(h), sizeof e);
            if (e < 0) { r->error = -e; nl_extack(r, h); }
          }
          finished = 1;
          break;
        }
        if (!nl_append(r, h, h->nlmsg_len)) { j->sock_err = ENOMEM; j->sock_step = "netlinkRequest"; goto out; }
        /* a get that is neither a dump nor asks for an ack has one answer and no ack */
        if (!(req->nlmsg_flags & (NLM_F_ACK | NLM_F_DUMP)) && !(h->nlmsg_flags & NLM_F_MULTI)) { finished = 1; break; }
      }
    }
    if (!r->error && interrupted) {
      /* the kernel's tables changed during the dump: what came is inconsistent */
      r->error = EINTR;
      snprintf(r->extack, sizeof r->extack, "dump interrupted by a change; retry");
    }
    j->done = i + 1;
    if (r->error) break;
  }
out:
  free(buf);
close_fd:
  if (j->nspath[0]) close(j->fd);
}

static void nl_free(struct nl_job *j) {
  for (uint32_t i = 0; i < j->count; i++) {
    if (j->msgs) free(j->msgs[i]);
    if (j->res) free(j->res[i].data);
  }
  free(j->msgs);
  free(j->lens);
  free(j->res);
  free(j);
}

static void nl_done(napi_env env, void *data) {
  struct nl_job *j = data;
  if (!env) {
    nl_free(j);
    return;
  }
  if (j->sock_err) {
    napi_reject_deferred(env, j->deferred, errno_error(env, j->sock_step, j->nspath[0] ? j->nspath : NULL, j->sock_err));
  } else {
    napi_value arr, o, v;
    napi_create_array_with_length(env, j->done, &arr);
    for (uint32_t i = 0; i < j->done; i++) {
      struct nl_result *r = &j->res[i];
      napi_create_object(env, &o);
      napi_create_int32(env, r->error, &v);
      napi_set_named_property(env, o, "error", v);
      napi_create_string_utf8(env, r->extack, NAPI_AUTO_LENGTH, &v);
      napi_set_named_property(env, o, "extack", v);
      if (r->len) napi_create_buffer_copy(env, r->len, r->data, NULL, &v);
      else napi_create_buffer(env, 0, NULL, &v);
      napi_set_named_property(env, o, "data", v);
      napi_set_element(env, arr, i, o);
    }
    napi_resolve_deferred(env, j->deferred, arr);
  }
  nl_free(j);
}

static napi_value js_netlink_request(napi_env env, napi_callback_info info) {
  napi_value argv[2], promise;
  napi_valuetype target;
  uint32_t fd = 0, n = 0;
  bool is_arr = false;
  if (!get_args(env, info, 2, argv) || napi_typeof(env, argv[0], &target) != napi_ok) return NULL;
  if (target != napi_string && !get_u32(env, argv[0], &fd)) return NULL;
  if (napi_is_array(env, argv[1], &is_arr) != napi_ok || !is_arr || napi_get_array_length(env, argv[1], &n) != napi_ok ||
      n == 0 || n > 4096) {
    napi_throw_type_error(env, NULL, "netlinkRequest: messages must be a non-empty array of Buffers");
    return NULL;
  }
  struct nl_job *j = calloc(1, sizeof *j);
  if (!j) return throw_errno(env, "netlinkRequest", NULL, ENOMEM);
  j->fd = (int)fd;
  if (target == napi_string) {
    j->fd = -1;
    if (!get_str(env, argv[0], j->nspath, sizeof j->nspath)) { free(j); return NULL; }
    if (!j->nspath[0]) { free(j); napi_throw_type_error(env, NULL, "netlinkRequest: empty namespace path"); return NULL; }
  }
  j->count = n;
  j->msgs = calloc(n, sizeof *j->msgs);
  j->lens = calloc(n, sizeof *j->lens);
  j->res = calloc(n, sizeof *j->res);
  if (!j->msgs || !j->lens || !j->res) {
    nl_free(j);
    return throw_errno(env, "netlinkRequest", NULL, ENOMEM);
  }
  for (uint32_t i = 0; i < n; i++) {
    napi_value b;
    void *p = NULL;
    size_t len = 0;
    bool is_buf = false;
    if (napi_get_element(env, argv[1], i, &b) != napi_ok || napi_is_buffer(env, b, &is_buf) != napi_ok || !is_buf ||
        napi_get_buffer_info(env, b, &p, &len) != napi_ok || len < NLMSG_HDRLEN ||
        ((struct nlmsghdr *)p)->nlmsg_len != len) {
      nl_free(j);
      napi_throw_type_error(env, NULL, "netlinkRequest: each message must be a Buffer holding one netlink message");
      return NULL;
    }
    j->msgs[i] = malloc(len);
    if (!j->msgs[i]) {
      nl_free(j);
      return throw_errno(env, "netlinkRequest", NULL, ENOMEM);
    }
    memcpy(j->msgs[i], p, len);
    j->lens[i] = len;
  }
  if (napi_create_promise(env, &j->deferred, &promise) != napi_ok) {
    nl_free(j);
    return NULL;
  }
  int rc = bg_start(env, "stevedore:netlinkRequest", nl_execute, nl_done, j);
  if (rc) {
    napi_reject_deferred(env, j->deferred, errno_error(env, "pthread_create", NULL, rc));
    nl_free(j);
  }
  return promise;
}

/* ---- docker cp before Linux 6.15: a view in a private mount namespace ----
 * (src/daemon/containers/archive/rootview.ts; docs/archive.md "Kernels before 6.15")
 * Attaching a mount onto a *detached* tree needs Linux 6.15; older kernels refuse it
 * (EINVAL) but allow move_mount of a detached tree onto a mount of the caller's own
 * namespace. So one dedicated thread of the addon (started at first use, CLONE_FS
 * unshared once so that it may change mount namespace without moving the daemon's
 * other threads) makes a private mount namespace per view, and the view's mounts are
 * attached from inside it. The thread always goes back to the daemon's namespace after
 * a request: only the returned fd keeps a view's namespace alive.
 *
 * cpNamespaceOpen(root) → {rootFd, nsFd}: on that thread, unshare(CLONE_NEWNS),
 *   mount(NULL, "/", MS_REC|MS_PRIVATE) (nothing done in it propagates to the host),
 *   rootFd = open(root, O_PATH|O_DIRECTORY) in the new namespace, nsFd =
 *   /proc/thread-self/ns/mnt, back to the daemon's namespace. Lookups from rootFd
 *   (from any thread) cross the mount points of the namespace's copy (a lookup follows
 *   the mounts of the fd's own mount, whatever namespace the caller is in). Closing both
 *   fds frees the namespace and unmounts everything in it. Throws (code, syscall).
 * cpNamespaceAttach(nsFd, fromFd, toFd): on that thread, setns(nsFd, CLONE_NEWNS),
 *   move_mount(fromFd (a detached tree, open_tree) → toFd (O_PATH fd of the target,
 *   a directory or file in that namespace)), back to the daemon's namespace. Throws.
 * The JS thread waits for the answer (microseconds to a few ms: unshare copies the
 * mount table); requests are serialized. */
#include <pthread.h>
#include <sched.h>

struct cpns_req {
  int op; /* 1 open, 2 attach */
  const char *path;
  int nsfd, from, to;
  int root_out, ns_out;
  int err;
  const char *step;
};

static pthread_mutex_t cpns_call_mu = PTHREAD_MUTEX_INITIALIZER; /* one caller at a time */
static pthread_mutex_t cpns_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cpns_cv = PTHREAD_COND_INITIALIZER;
static struct cpns_req *cpns_pending; /* set by the caller, cleared by the thread when done */
static int cpns_state;                /* 0 not started, 1 running, -errno failed to start */
static int cpns_home = -1;            /* the daemon's mount namespace, held by the thread */

/* Back to the daemon's namespace; if that ever fails the thread cannot be trusted with
 * another request, so it reports the failure and refuses everything after. */
static int cpns_go_home(struct cpns_req *r) {
  if (setns(cpns_home, CLONE_NEWNS) == 0) return 1;
  if (!r->err) { r->err = errno; r->step = "setns(home)"; }
  cpns_state = -(errno ? errno : EIO);
  return 0;
}

static void cpns_exec(struct cpns_req *r) {
  if (r->op == 1) {
    if (unshare(CLONE_NEWNS) < 0) { r->err = errno; r->step = "unshare(CLONE_NEWNS)"; return; }
    r->root_out = r->ns_out = -1;
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) { r->err = errno; r->step = "mount(MS_PRIVATE)"; goto home; }
    r->root_out = open(r->path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (r->root_out < 0) { r->err = errno; r->step = "open"; goto home; }
    r->ns_out = open("/proc/thread-self/ns/mnt", O_RDONLY | O_CLOEXEC);
    if (r->ns_out < 0) { r->err = errno; r->step = "open(/proc/thread-self/ns/mnt)"; goto home; }
  home:
    cpns_go_home(r);
    if (r->err) {
      if (r->root_out >= 0) close(r->root_out);
      if (r->ns_out >= 0) close(r->ns_out);
      r->root_out = r->ns_out = -1;
    }
    return;
  }
  if (setns(r->nsfd, CLONE_NEWNS) < 0) { r->err = errno; r->step = "setns"; return; }
  if (syscall(SYS_move_mount, r->from, "", r->to, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0) {
    r->err = errno;
    r->step = "move_mount";
  }
  cpns_go_home(r);
}

static void *cpns_thread(void *arg) {
  (void)arg;
  pthread_mutex_lock(&cpns_mu);
  int e = 0;
  if (unshare(CLONE_FS) < 0) e = errno;
  else if ((cpns_home = open("/proc/thread-self/ns/mnt", O_RDONLY | O_CLOEXEC)) < 0) e = errno;
  cpns_state = e ? -e : 1;
  pthread_cond_broadcast(&cpns_cv);
  if (e) { pthread_mutex_unlock(&cpns_mu); return NULL; }
  for (;;) {
    while (!cpns_pending || cpns_pending->op == 0) pthread_cond_wait(&cpns_cv, &cpns_mu);
    struct cpns_req *r = cpns_pending;
    if (cpns_state != 1) { r->err = -cpns_state; r->step = "cpNamespace thread"; }
    else cpns_exec(r);
    r->op = 0; /* done */
    pthread_cond_broadcast(&cpns_cv);
  }
  return NULL;
}

/* Runs `r` on the thread (started at first use); returns with r->err set on failure. */
static void cpns_run(struct cpns_req *r) {
  pthread_mutex_lock(&cpns_call_mu);
  pthread_mutex_lock(&cpns_mu);
  if (cpns_state == 0) {
    pthread_attr_t at;
    pthread_t t;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&at, 256 * 1024);
    int rc = pthread_create(&t, &at, cpns_thread, NULL);
    pthread_attr_destroy(&at);
    if (rc) cpns_state = -rc;
    while (cpns_state == 0) pthread_cond_wait(&cpns_cv, &cpns_mu);
  }
  if (cpns_state != 1) {
    r->err = -cpns_state;
    r->step = "cpNamespace thread";
  } else {
    cpns_pending = r;
    pthread_cond_broadcast(&cpns_cv);
    while (r->op != 0) pthread_cond_wait(&cpns_cv, &cpns_mu);
    cpns_pending = NULL;
  }
  pthread_mutex_unlock(&cpns_mu);
  pthread_mutex_unlock(&cpns_call_mu);
}

static napi_value js_cp_namespace_open(napi_env env, napi_callback_info info) {
  napi_value argv[1], out, v;
  char p[PATH_BUF];
  if (!get_args(env, info, 1, argv) || !get_str(env, argv[0], p, sizeof p)) return NULL;
  struct cpns_req r;
  memset(&r, 0, sizeof r);
  r.op = 1;
  r.path = p;
  r.root_out = r.ns_out = -1;
  cpns_run(&r);
  if (r.err) return throw_errno(env, r.step, p, r.err);
  napi_create_object(env, &out);
  napi_create_int32(env, r.root_out, &v);
  napi_set_named_property(env, out, "rootFd", v);
  napi_create_int32(env, r.ns_out, &v);
  napi_set_named_property(env, out, "nsFd", v);
  return out;
}

static napi_value js_cp_namespace_attach(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  uint32_t nsfd, from, to;
  if (!get_args(env, info, 3, argv) || !get_u32(env, argv[0], &nsfd) || !get_u32(env, argv[1], &from) || !get_u32(env, argv[2], &to)) return NULL;
  struct cpns_req r;
  memset(&r, 0, sizeof r);
  r.op = 2;
  r.nsfd = (int)nsfd;
  r.from = (int)from;
  r.to = (int)to;
  cpns_run(&r);
  if (r.err) return throw_errno(env, r.step, NULL, r.err);
  return undef(env);
}
