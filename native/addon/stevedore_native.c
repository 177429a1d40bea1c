/*
 * stevedore_native: the few system calls the daemon needs in-process and Node
 * does not expose. Each function is a thin, synchronous wrapper: it validates
 * its arguments, makes one call, and throws an Error carrying `code` (the errno
 * name, e.g. "EPERM") and `errno` on failure. No state, no threads, no policy.
 */
#include <node_api.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
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

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"flock", NULL, js_flock, NULL, NULL, NULL, napi_enumerable, NULL},
    {"mount", NULL, js_mount, NULL, NULL, NULL, napi_enumerable, NULL},
    {"umount2", NULL, js_umount2, NULL, NULL, NULL, napi_enumerable, NULL},
    {"mknod", NULL, js_mknod, NULL, NULL, NULL, napi_enumerable, NULL},
    {"lsetxattr", NULL, js_lsetxattr, NULL, NULL, NULL, napi_enumerable, NULL},
    {"lgetxattr", NULL, js_lgetxattr, NULL, NULL, NULL, napi_enumerable, NULL},
    {"llistxattr", NULL, js_llistxattr, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
