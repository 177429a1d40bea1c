/* Passing a descriptor along with a message over a unix socket (SCM_RIGHTS). */
#ifndef STEVEDORE_SHIM_FDPASS_H
#define STEVEDORE_SHIM_FDPASS_H
#include <stddef.h>
#include <sys/types.h>

/* One sendmsg of len bytes with fd attached (fd < 0: none), retried on EINTR. */
ssize_t send_with_fd(int sock, const void *buf, size_t len, int fd, int flags);
/* One recvmsg into buf; the first descriptor that came along is stored in *fd (which
 * must be -1 on entry; any further ones are closed), close-on-exec. */
ssize_t recv_with_fd(int sock, void *buf, size_t len, int *fd, int flags);

#endif
