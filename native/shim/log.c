/* Docker json-file log writer. Each entry:
 *   {"log":"<escaped bytes>","stream":"stdout","time":"2026-11-27T10:30:00.123456789Z"}\n
 * Escaping follows Docker's encoder: \" \\ \n \r \t, other control bytes and <>& as
 * \u00XX, U+2028/U+2029 escaped, invalid UTF-8 bytes replaced by \ufffd.
 * Rotation follows Docker: before a write, when the file has reached max_size, rename
 * log.(n-1) -> log.n ... log -> log.1 and start a new empty file. */
#define _GNU_SOURCE
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Entries are batched here and written once per chunk read from the container
 * (log_sync) or when full. Worst case every input byte becomes a 6-byte escape. */
#define ENTRY_MAX (LINE_BUF_MAX * 6 + 256)
#define WBUF_SOFT 16384 /* flush beyond this, so few pages of wbuf are ever touched */
static char wbuf[ENTRY_MAX + WBUF_SOFT];
static size_t wlen;

int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int log_open(struct logfile *l, const char *path, long long max_size, int max_files)
{
	struct stat st;
	l->fd = -1;
	l->path = path;
	l->max_size = max_size;
	l->max_files = max_files;
	l->size = 0;
	if (path == NULL)
		return 0;
	l->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (l->fd < 0)
		return -errno;
	if (fstat(l->fd, &st) == 0)
		l->size = st.st_size;
	return 0;
}

void log_sync(struct logfile *l)
{
	if (wlen > 0 && l->fd >= 0 && write_all(l->fd, wbuf, wlen) < 0)
		perror("shim: write log");
	wlen = 0;
}

static void rotate(struct logfile *l)
{
	char from[4096], to[4096];
	log_sync(l);
	if (close(l->fd) < 0)
		perror("shim: close log");
	l->fd = -1;
	if (l->max_files >= 2) {
		for (int i = l->max_files - 1; i > 1; i--) {
			if (snprintf(from, sizeof from, "%s.%d", l->path, i - 1) >= (int)sizeof from ||
			    snprintf(to, sizeof to, "%s.%d", l->path, i) >= (int)sizeof to)
				break;
			if (rename(from, to) < 0 && errno != ENOENT)
				perror("shim: rotate log");
		}
		if (snprintf(to, sizeof to, "%s.1", l->path) < (int)sizeof to && rename(l->path, to) < 0)
			perror("shim: rotate log");
	}
	l->fd = open(l->path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0640);
	if (l->fd < 0)
		perror("shim: reopen log");
	l->size = 0;
}

void rfc3339nano(char *out, size_t outlen)
{
	static time_t last_sec = -1;
	static char last[32];
	struct timespec ts;
	struct tm tm;
	char frac[16];
	size_t n;
	if (clock_gettime(CLOCK_REALTIME, &ts) < 0) {
		snprintf(out, outlen, "1970-01-01T00:00:00Z");
		return;
	}
	if (ts.tv_sec != last_sec) {
		if (gmtime_r(&ts.tv_sec, &tm) == NULL || strftime(last, sizeof last, "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
			snprintf(out, outlen, "1970-01-01T00:00:00Z");
			return;
		}
		last_sec = ts.tv_sec;
	}
	n = (size_t)snprintf(out, outlen, "%s", last);
	if (n >= outlen)
		return;
	snprintf(frac, sizeof frac, ".%09ld", ts.tv_nsec);
	size_t f = strlen(frac);
	while (f > 1 && frac[f - 1] == '0')
		frac[--f] = '\0';
	if (f == 1)
		frac[0] = '\0';
	snprintf(out + n, outlen - n, "%sZ", frac);
}

/* Length of the valid UTF-8 sequence at p (1..4), or 0 when invalid. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
	unsigned char c = p[0];
	size_t len;
	unsigned char lo = 0x80, hi = 0xBF;
	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		len = 2;
	else if (c >= 0xE0 && c <= 0xEF) {
		len = 3;
		if (c == 0xE0)
			lo = 0xA0;
		else if (c == 0xED)
			hi = 0x9F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4;
		if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;
	} else
		return 0;
	if (n < len || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (p[i] < 0x80 || p[i] > 0xBF)
			return 0;
	return len;
}

static size_t escape(char *o, const unsigned char *p, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t k = 0;
	for (size_t i = 0; i < n;) {
		unsigned char c = p[i];
		if (c < 0x80) {
			if (c == '"' || c == '\\') {
				o[k++] = '\\';
				o[k++] = (char)c;
			} else if (c == '\n') {
				o[k++] = '\\';
				o[k++] = 'n';
			} else if (c == '\r') {
				o[k++] = '\\';
				o[k++] = 'r';
			} else if (c == '\t') {
				o[k++] = '\\';
				o[k++] = 't';
			} else if (c < 0x20 || c == '<' || c == '>' || c == '&') {
				memcpy(o + k, "\\u00", 4);
				k += 4;
				o[k++] = hex[c >> 4];
				o[k++] = hex[c & 15];
			} else
				o[k++] = (char)c;
			i++;
			continue;
		}
		size_t len = utf8_len(p + i, n - i);
		if (len == 0) {
			memcpy(o + k, "\\ufffd", 6);
			k += 6;
			i++;
		} else if (len == 3 && c == 0xE2 && p[i + 1] == 0x80 && (p[i + 2] == 0xA8 || p[i + 2] == 0xA9)) {
			memcpy(o + k, p[i + 2] == 0xA8 ? "\\u2028" : "\\u2029", 6);
			k += 6;
			i += 3;
		} else {
			memcpy(o + k, p + i, len);
			k += len;
			i += len;
		}
	}
	return k;
}

static void log_entry(struct logfile *l, const char *stream, const char *p, size_t n)
{
	char ts[48];
	size_t k = 0;
	int m;
	if (l->path == NULL || n == 0)
		return;
	if (l->max_size > 0 && l->size >= l->max_size)
		rotate(l);
	if (l->fd < 0)
		return;
	if (wlen >= WBUF_SOFT || sizeof wbuf - wlen < n * 6 + 256)
		log_sync(l);
	char *entry = wbuf + wlen;
	memcpy(entry, "{\"log\":\"", 8);
	k = 8;
	k += escape(entry + k, (const unsigned char *)p, n);
	rfc3339nano(ts, sizeof ts);
	m = snprintf(entry + k, ENTRY_MAX - k, "\",\"stream\":\"%s\",\"time\":\"%s\"}\n", stream, ts);
	if (m < 0 || (size_t)m >= ENTRY_MAX - k)
		return;
	k += (size_t)m;
	wlen += k;
	l->size += (long long)k;
}

void log_feed(struct logfile *l, struct linebuf *b, const char *p, size_t n)
{
	while (n > 0) {
		size_t room = LINE_BUF_MAX - b->len;
		size_t take = n < room ? n : room;
		const char *nl = memchr(p, '\n', take);
		if (nl != NULL)
			take = (size_t)(nl - p) + 1;
		memcpy(b->buf + b->len, p, take);
		b->len += take;
		p += take;
		n -= take;
		if (nl != NULL || b->len == LINE_BUF_MAX) {
			log_entry(l, b->stream, b->buf, b->len);
			b->len = 0;
		}
	}
}

void log_flush(struct logfile *l, struct linebuf *b)
{
	log_entry(l, b->stream, b->buf, b->len);
	b->len = 0;
	log_sync(l);
}
