/*
 * The CRI log format, as containerd's CRI plugin writes a container's log
 * (pkg/cri/io/logger.go) for the kubelet to read:
 *
 *   <time RFC3339Nano> <stdout|stderr> <F|P> <content>\n
 *
 * A line ending in "\n" (or "\r\n": both dropped) is one F entry. A line longer than
 * max_line bytes is cut: each max_line bytes become a P entry, the rest continues the
 * line. A tail with no newline when the output ends is a P entry. A '\r' that ends the
 * buffered bytes waits for the next byte before it counts (it may be half of "\r\n"), as
 * containerd's reader unreads it. Time is when the bytes were read. A tty's output is
 * stdout.
 *
 * Entries are batched and written once per read from the container (flush). A failed
 * write drops the batch (counted), is reported once on stderr with its errno, and
 * writes are tried again at most every 100 ms, as json-file does.
 */
#define _GNU_SOURCE
#include "sink.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#define CRI_BATCH (64 * 1024)
#define CRI_RETRY_MS 100

static void emit_tail(struct cri_line *l, const char *p, size_t n, char tag, const struct timespec *t, cri_emit_fn emit,
		      void *ctx)
{
	/* the buffered bytes, then p[0..n): one entry */
	if (l->len == 0) {
		emit(ctx, l->stream, tag, p, n, t);
		return;
	}
	memcpy(l->buf + l->len, p, n); /* fits: callers keep len + n <= max + 1 */
	emit(ctx, l->stream, tag, l->buf, l->len + n, t);
	l->len = 0;
}

void cri_feed(struct cri_line *l, const char *p, size_t n, const struct timespec *t, cri_emit_fn emit, void *ctx)
{
	/* l->len <= max, or max + 1 with a '\r' last (waiting to see whether "\n" follows) */
	while (n > 0) {
		if (l->len == l->max + 1) {
			if (p[0] == '\n') {
				emit(ctx, l->stream, 'F', l->buf, l->max, t);
				l->len = 0;
				p++;
				n--;
				continue;
			}
			emit(ctx, l->stream, 'P', l->buf, l->max, t);
			l->buf[0] = '\r';
			l->len = 1;
			continue;
		}
		size_t room = l->max + 1 - l->len; /* >= 1 */
		size_t take = n < room ? n : room;
		const char *nl = memchr(p, '\n', take);
		if (nl) {
			/* the line ends within max bytes: one F entry, "\r\n" or "\n" dropped */
			size_t k = (size_t)(nl - p), end = k;
			if (k > 0 && p[k - 1] == '\r')
				end = k - 1;
			else if (k == 0 && l->len > 0 && l->buf[l->len - 1] == '\r')
				l->len--;
			emit_tail(l, p, end, 'F', t, emit, ctx);
			p += k + 1;
			n -= k + 1;
			continue;
		}
		memcpy(l->buf + l->len, p, take);
		l->len += take;
		p += take;
		n -= take;
		if (l->len == l->max + 1 && l->buf[l->max] != '\r') {
			/* longer than max: the first max bytes are a P entry */
			emit(ctx, l->stream, 'P', l->buf, l->max, t);
			l->buf[0] = l->buf[l->max];
			l->len = 1;
		}
	}
}

void cri_end(struct cri_line *l, const struct timespec *t, cri_emit_fn emit, void *ctx)
{
	if (l->len > l->max) { /* max bytes and a '\r' that never met its '\n' */
		emit(ctx, l->stream, 'P', l->buf, l->max, t);
		memmove(l->buf, l->buf + l->max, l->len - l->max);
		l->len -= l->max;
	}
	if (l->len > 0)
		emit(ctx, l->stream, 'P', l->buf, l->len, t);
	l->len = 0;
}

struct cri_sink {
	struct sink base;
	const char *path;
	int fd;
	struct cri_line out, err;
	char *batch;
	size_t blen;
	int fail_errno;
	unsigned long long dropped;
	struct timespec retry_at;
};

static struct cri_sink cri;

static void cri_write_batch(struct cri_sink *s)
{
	struct timespec now;
	if (s->blen == 0)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (s->fail_errno && (now.tv_sec < s->retry_at.tv_sec ||
			      (now.tv_sec == s->retry_at.tv_sec && now.tv_nsec < s->retry_at.tv_nsec))) {
		s->dropped += s->blen;
		s->blen = 0;
		return;
	}
	int r = write_all(s->fd, s->batch, s->blen);
	if (r < 0) {
		if (!s->fail_errno)
			fprintf(stderr, "shim: write log %s: %s; dropping the container's output until it can be written\n",
				s->path, strerror(-r));
		s->fail_errno = -r;
		s->dropped += s->blen;
		s->retry_at = now;
		s->retry_at.tv_nsec += CRI_RETRY_MS * 1000000L;
		if (s->retry_at.tv_nsec >= 1000000000L) {
			s->retry_at.tv_sec++;
			s->retry_at.tv_nsec -= 1000000000L;
		}
	} else if (s->fail_errno) {
		fprintf(stderr, "shim: write log %s: writable again; %llu bytes of log dropped\n", s->path, s->dropped);
		s->fail_errno = 0;
		s->dropped = 0;
	}
	s->blen = 0;
}

static void cri_emit(void *ctx, const char *stream, char tag, const char *p, size_t n, const struct timespec *t)
{
	struct cri_sink *s = ctx;
	size_t sl = strlen(stream);
	size_t need = 40 + 1 + sl + 3 + n + 1;
	if (s->blen + need > CRI_BATCH)
		cri_write_batch(s);
	if (need > CRI_BATCH) { /* a line longer than the batch (max_line > 64 KiB): alone */
		char head[64];
		char ts[48];
		rfc3339nano(ts, t);
		int h = snprintf(head, sizeof head, "%s %s %c ", ts, stream, tag);
		struct iovec iov[3] = {{head, (size_t)h}, {(void *)p, n}, {"\n", 1}};
		ssize_t w = writev(s->fd, iov, 3); /* O_APPEND: one write, one entry */
		if (w < 0 && !s->fail_errno) {
			fprintf(stderr, "shim: write log %s: %s\n", s->path, strerror(errno));
			s->fail_errno = errno;
		}
		return;
	}
	char *q = s->batch + s->blen;
	q += rfc3339nano(q, t);
	*q++ = ' ';
	memcpy(q, stream, sl);
	q += sl;
	*q++ = ' ';
	*q++ = tag;
	*q++ = ' ';
	memcpy(q, p, n);
	q += n;
	*q++ = '\n';
	s->blen = (size_t)(q - s->batch);
}

static void cri_sink_write(struct sink *b, int stream, const char *p, size_t n, const struct timespec *t)
{
	struct cri_sink *s = (struct cri_sink *)b;
	cri_feed(stream == SINK_STDOUT ? &s->out : &s->err, p, n, t, cri_emit, s);
}

static void cri_sink_flush(struct sink *b)
{
	cri_write_batch((struct cri_sink *)b);
}

static void cri_sink_close(struct sink *b)
{
	struct cri_sink *s = (struct cri_sink *)b;
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	cri_end(&s->out, &now, cri_emit, s);
	cri_end(&s->err, &now, cri_emit, s);
	s->fail_errno = 0; /* a last try */
	cri_write_batch(s);
	if (s->fail_errno && s->dropped)
		fprintf(stderr, "shim: write log %s: %s; %llu bytes of log dropped\n", s->path, strerror(s->fail_errno), s->dropped);
}

static void cri_sink_shutdown(struct sink *b)
{
	(void)b;
}

static const struct sink_ops cri_ops = {cri_sink_write, cri_sink_flush, cri_sink_close, cri_sink_shutdown, NULL, NULL, NULL};

struct sink *sink_cri_open(const struct sink_config *c, int *err)
{
	size_t max = (size_t)c->max_line;
	cri.base = (struct sink){&cri_ops, SINK_CRI};
	cri.path = c->path;
	cri.out = (struct cri_line){.stream = "stdout", .max = max, .buf = malloc(max + 1)};
	cri.err = (struct cri_line){.stream = "stderr", .max = max, .buf = malloc(max + 1)};
	cri.batch = malloc(CRI_BATCH);
	if (!cri.out.buf || !cri.err.buf || !cri.batch) {
		*err = ENOMEM;
		return NULL;
	}
	cri.fd = open(c->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (cri.fd < 0) {
		*err = errno;
		return NULL;
	}
	return &cri.base;
}
