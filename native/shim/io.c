/*
 * Attach clients and output fan-out: per-client queues (non-blocking sockets), the
 * slow-client rules (a primary client holds the output, an observer is dropped), each
 * client's framing (raw or stdcopy, as its request asked), and reading requests.
 */
#define _GNU_SOURCE
#include "shim.h"
#include "fdpass.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

void drop(struct client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c->out);
	memset(c, 0, sizeof *c);
	c->fd = -1;
}

void flush_client(struct client *c)
{
	size_t off = 0;
	while (off < c->outlen) {
		ssize_t w = send(c->fd, c->out + off, c->outlen - off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN) {
				drop(c);
				return;
			}
			break;
		}
		off += (size_t)w;
	}
	if (off > 0) { /* one move for everything sent, however many sends it took */
		memmove(c->out, c->out + off, c->outlen - off);
		c->outlen -= off;
	}
	if (c->outlen > 0)
		return;
	if (c->outcap > 65536) { /* caught up after a burst: give the memory back */
		free(c->out);
		c->out = NULL;
		c->outcap = 0;
	}
	if (!c->closing)
		return;
	if (c->mode == C_ATTACH && !c->in_eof) {
		if (!c->draining) {
			shutdown(c->fd, SHUT_WR);
			c->draining = 1;
			clock_gettime(CLOCK_MONOTONIC, &c->drain_since);
		}
		return; /* dropped when it hangs up (client_readable) or after CLIENT_LINGER_MS */
	}
	drop(c);
}

/* Appends the bytes of iov[] after the first `skip` to a client's queue; an observer
 * whose queue would pass CLIENT_OUT_MAX is dropped (a primary client holds the output
 * instead: primary_behind). Returns 0, or -1 when it was dropped. */
static int queue_iov(struct client *c, const struct iovec *iov, int cnt, size_t skip)
{
	size_t n = 0;
	for (int i = 0; i < cnt; i++)
		n += iov[i].iov_len;
	n -= skip;
	if (c->outlen + n > CLIENT_OUT_MAX && !c->primary) {
		drop(c);
		return -1;
	}
	if (c->outlen + n > c->outcap) {
		size_t cap = c->outcap ? c->outcap : 4096;
		while (cap < c->outlen + n)
			cap *= 2;
		char *nb = realloc(c->out, cap);
		if (!nb) {
			drop(c);
			return -1;
		}
		c->out = nb;
		c->outcap = cap;
	}
	for (int i = 0; i < cnt; i++) {
		size_t len = iov[i].iov_len;
		if (skip >= len) {
			skip -= len;
			continue;
		}
		memcpy(c->out + c->outlen, (const char *)iov[i].iov_base + skip, len - skip);
		c->outlen += len - skip;
		skip = 0;
	}
	return 0;
}

/* Sends bytes to a client: straight from the caller's buffers with one sendmsg when
 * nothing is queued before them, the rest queued (see queue_iov for slow clients). */
static void enqueue_iov(struct client *c, const struct iovec *iov, int cnt)
{
	size_t sent = 0;
	if (c->fd < 0)
		return;
	if (c->outlen == 0) {
		struct msghdr m = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)cnt};
		ssize_t w;
		do
			w = sendmsg(c->fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
		while (w < 0 && errno == EINTR);
		if (w < 0 && errno != EAGAIN) {
			drop(c);
			return;
		}
		if (w > 0)
			sent = (size_t)w;
	}
	if (queue_iov(c, iov, cnt, sent) == 0)
		flush_client(c);
}

/* Queues bytes for a client (see queue_iov for the slow-client rules). */
void enqueue(struct client *c, const char *p, size_t n)
{
	struct iovec iov = {.iov_base = (void *)p, .iov_len = n};
	enqueue_iov(c, &iov, 1);
}

void reply(struct client *c, const char *msg)
{
	c->closing = 1;
	c->mode = C_REQ;
	enqueue(c, msg, strlen(msg));
}

/* Whether process i's primary client is so far behind that its output must wait. */
int primary_behind(int i)
{
	for (int k = 0; k < MAX_CLIENTS; k++) {
		const struct client *c = &clients[k];
		if (c->fd >= 0 && c->mode == C_ATTACH && c->primary && c->proc == i && c->outlen >= PRIMARY_HIGH)
			return 1;
	}
	return 0;
}

/* Output of a process: to every client attached to it, each in the framing it asked
 * for, and to the sink (init only). stdcopy frames are at most FRAME_MAX bytes, as
 * Docker's 32 KiB copy buffer makes them; all frames of one read leave in one sendmsg. */
#define FRAME_MAX 32768
#define MAX_FRAMES ((READ_CHUNK + FRAME_MAX - 1) / FRAME_MAX)
void fan_out(struct proc *pr, int stream, const char *p, size_t n)
{
	unsigned char hdr[MAX_FRAMES][8];
	struct iovec framed[2 * MAX_FRAMES];
	struct iovec raw = {.iov_base = (void *)p, .iov_len = n};
	int cnt = 0; /* stdcopy iovecs, built for the first client that wants them */
	int idx = proc_index(pr);
	/* clients first: they (and the daemon and CLI behind them) work on this chunk while
	 * the log is written */
	for (int i = 0; i < MAX_CLIENTS; i++) {
		struct client *c = &clients[i];
		if (c->fd < 0 || c->mode != C_ATTACH || c->closing || c->proc != idx)
			continue;
		if ((stream == 1 && !c->want_out) || (stream == 2 && !c->want_err))
			continue;
		if (c->framing == FRAME_RAW) {
			enqueue_iov(c, &raw, 1);
			continue;
		}
		if (cnt == 0) {
			for (size_t off = 0; off < n && cnt < 2 * MAX_FRAMES; off += FRAME_MAX) {
				size_t len = n - off < FRAME_MAX ? n - off : FRAME_MAX;
				unsigned char *h = hdr[cnt / 2];
				h[0] = (unsigned char)stream;
				h[1] = h[2] = h[3] = 0;
				h[4] = (unsigned char)(len >> 24);
				h[5] = (unsigned char)(len >> 16);
				h[6] = (unsigned char)(len >> 8);
				h[7] = (unsigned char)len;
				framed[cnt++] = (struct iovec){.iov_base = h, .iov_len = 8};
				framed[cnt++] = (struct iovec){.iov_base = (void *)(p + off), .iov_len = len};
			}
		}
		enqueue_iov(c, framed, cnt);
	}
	if (pr->is_init) {
		struct timespec now;
		clock_gettime(CLOCK_REALTIME, &now);
		out_sink->ops->write(out_sink, stream, p, n, &now);
		out_sink->ops->flush(out_sink);
	}
}

/* A free client slot, or NULL. */
struct client *free_client(void)
{
	for (int i = 0; i < MAX_CLIENTS; i++)
		if (clients[i].fd < 0)
			return &clients[i];
	return NULL;
}

void accept_clients(int listen_fd)
{
	for (;;) {
		int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0)
			return;
		struct client *c = free_client();
		if (!c) {
			send(fd, "error too many clients\n", 23, MSG_NOSIGNAL | MSG_DONTWAIT);
			close(fd);
			continue;
		}
		memset(c, 0, sizeof *c);
		c->fd = fd;
	}
}

/* Bytes from an attach client go to its process's stdin; a request connection's bytes
 * are its request line (a `hello` line may come before it on the same connection). */
void client_readable(struct client *c)
{
	char buf[4096];
	if (c->mode == C_ATTACH) {
		struct proc *p = &procs[c->proc];
		int to_stdin = c->want_in && !c->closing && p->in_fd >= 0 && p->stdin_buf;
		size_t room = STDIN_BUF - p->stdin_len;
		if (to_stdin && room == 0)
			return;
		ssize_t r = read(c->fd, to_stdin ? p->stdin_buf + p->stdin_len : buf, to_stdin ? room : sizeof buf);
		if (r < 0) {
			if (errno != EAGAIN && errno != EINTR)
				drop(c);
			return;
		}
		if (r == 0) {
			if (c->draining) {
				drop(c);
				return;
			}
			c->in_eof = 1;
			/* As Docker: a client's EOF closes the process's stdin only without a tty. */
			if (c->want_in && !c->closing && p->stdin_once && !p->tty)
				close_stdin(p);
			return;
		}
		if (to_stdin)
			p->stdin_len += (size_t)r;
		return;
	}
	if (c->mode != C_REQ || c->closing) {
		/* A waiter or a replied client only tells us when it goes away. */
		ssize_t r = read(c->fd, buf, sizeof buf);
		if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
			drop(c);
		return;
	}
	int passed = -1; /* a descriptor sent with the request (SCM_RIGHTS): attach-fd */
	ssize_t r = recv_with_fd(c->fd, c->req + c->reqlen, REQ_MAX - 1 - c->reqlen, &passed, MSG_DONTWAIT);
	if (r < 0) {
		if (errno != EAGAIN && errno != EINTR)
			drop(c);
		return;
	}
	if (r == 0) {
		if (passed >= 0)
			close(passed);
		drop(c);
		return;
	}
	c->reqlen += (size_t)r;
	c->req[c->reqlen] = '\0';
	for (;;) {
		char *nl = strchr(c->req, '\n');
		if (!nl) {
			if (passed >= 0) /* a descriptor comes in one message with its whole request */
				close(passed);
			if (c->reqlen == REQ_MAX - 1)
				reply(c, "error request too long\n");
			return;
		}
		/* Bytes after the request line (stdin sent eagerly by an attach client, or the
		 * request after a `hello`) are kept. */
		size_t rest = c->reqlen - (size_t)(nl + 1 - c->req);
		char extra[REQ_MAX];
		memcpy(extra, nl + 1, rest);
		*nl = '\0';
		if (handle_request(c, passed)) {
			/* `hello` answered: the connection reads another request line */
			memcpy(c->req, extra, rest);
			c->reqlen = rest;
			c->req[rest] = '\0';
			continue;
		}
		if (rest > 0 && c->fd >= 0 && c->mode == C_ATTACH && c->want_in) {
			struct proc *p = &procs[c->proc];
			if (p->in_fd >= 0 && p->stdin_buf && rest <= STDIN_BUF - p->stdin_len) {
				memcpy(p->stdin_buf + p->stdin_len, extra, rest);
				p->stdin_len += rest;
			}
		}
		return;
	}
}
