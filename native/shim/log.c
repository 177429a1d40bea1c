/* Docker json-file log writer. Each entry:
 *   {"log":"<escaped bytes>","stream":"stdout","time":"2026-11-27T10:30:00.123456789Z"}\n
 * Escaping follows Docker's encoder: \" \\ \n \r \t, other control bytes and <>& as
 * \u00XX, U+2028/U+2029 escaped, invalid UTF-8 bytes replaced by \ufffd.
 * Rotation follows Docker: before a write, when the file has reached max_size, rename
 * log.(n-1) -> log.n ... log -> log.1 and start a new empty file.
 * A write that fails (a full disk) follows Docker's copier: the output is dropped, the
 * container never blocked; the failure is reported once, then as counts (docs/shim.md). */
#define _GNU_SOURCE
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
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

static void escape_init(void);

int log_open(struct logfile *l, const char *path, long long max_size, int max_files)
{
	escape_init();
	struct stat st;
	l->fd = -1;
	l->path = path;
	l->max_size = max_size;
	l->max_files = max_files;
	l->size = 0;
	l->disk = 0;
	l->fail_errno = 0;
	l->dropping = 0;
	l->dropped = 0;
	if (path == NULL)
		return 0;
	l->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (l->fd < 0)
		return -errno;
	if (fstat(l->fd, &st) == 0)
		l->size = l->disk = st.st_size;
	return 0;
}

/* Raw bytes of container output in the entries batched in wbuf (dropped if the write fails). */
static unsigned long long wraw;

static void after_ms(struct timespec *t, const struct timespec *now, long ms)
{
	t->tv_sec = now->tv_sec + ms / 1000;
	t->tv_nsec = now->tv_nsec + (ms % 1000) * 1000000L;
	if (t->tv_nsec >= 1000000000L) {
		t->tv_sec++;
		t->tv_nsec -= 1000000000L;
	}
}

static int reached(const struct timespec *now, const struct timespec *t)
{
	return now->tv_sec > t->tv_sec || (now->tv_sec == t->tv_sec && now->tv_nsec >= t->tv_nsec);
}

/* A failed write: the file is cut back to its last whole entry, the batch is dropped,
 * and output is dropped unformatted until the next try. Reported once when it begins,
 * then once every LOG_REPORT_S seconds with the count (log_sync). */
static void write_failed(struct logfile *l, int err)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (ftruncate(l->fd, l->disk) < 0) {
		struct stat st; /* cannot cut back: go on from wherever the file ends */
		if (fstat(l->fd, &st) == 0)
			l->disk = st.st_size;
	}
	l->size = l->disk;
	l->dropped += wraw;
	if (l->fail_errno == 0) {
		fprintf(stderr, "shim: write log %s: %s; dropping the container's output until it can be written\n", l->path,
			strerror(err));
		after_ms(&l->report_at, &now, LOG_REPORT_S * 1000L);
	}
	l->fail_errno = err;
	l->dropping = 1;
	after_ms(&l->retry_at, &now, LOG_RETRY_MS);
}

void log_sync(struct logfile *l)
{
	if (l->dropping) {
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (reached(&now, &l->report_at)) {
			fprintf(stderr, "shim: write log %s: %s; %llu bytes of output dropped so far\n", l->path, strerror(l->fail_errno),
				l->dropped);
			after_ms(&l->report_at, &now, LOG_REPORT_S * 1000L);
		}
		if (reached(&now, &l->retry_at))
			l->dropping = 0; /* the next chunk is formatted and written again: a try */
	} else if (wlen > 0 && l->fd >= 0) {
		int r = write_all(l->fd, wbuf, wlen);
		if (r < 0) {
			write_failed(l, -r);
		} else {
			l->disk += (long long)wlen;
			if (l->fail_errno != 0) {
				fprintf(stderr, "shim: write log %s: writable again; %llu bytes of output dropped\n", l->path, l->dropped);
				l->fail_errno = 0;
				l->dropped = 0;
			}
		}
	}
	wlen = 0;
	wraw = 0;
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
	l->disk = 0;
}

/* The seconds part is formatted once per second. */
size_t rfc3339nano(char *out, const struct timespec *ts)
{
	static time_t last_sec = -1;
	static char last[32];
	static size_t last_len;
	struct tm tm;
	if (ts->tv_sec != last_sec) {
		if (gmtime_r(&ts->tv_sec, &tm) == NULL || (last_len = strftime(last, sizeof last, "%Y-%m-%dT%H:%M:%S", &tm)) == 0) {
			memcpy(out, "1970-01-01T00:00:00Z", 21);
			last_sec = -1;
			return 20;
		}
		last_sec = ts->tv_sec;
	}
	size_t n = last_len;
	memcpy(out, last, n);
	long ns = ts->tv_nsec;
	if (ns > 0) { /* Go's RFC3339Nano: up to 9 digits, trailing zeros dropped */
		char d[9];
		for (int i = 8; i >= 0; i--, ns /= 10)
			d[i] = (char)('0' + ns % 10);
		int len = 9;
		while (d[len - 1] == '0')
			len--;
		out[n++] = '.';
		memcpy(out + n, d, (size_t)len);
		n += (size_t)len;
	}
	out[n++] = 'Z';
	out[n] = '\0';
	return n;
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

/* Byte classes for escape(): 0 = copied as is, 1 = ASCII with an escape in esc[],
 * 2 = the first byte of a (possibly invalid) UTF-8 sequence. */
static unsigned char cls[256];
/* Each ASCII byte's escape, padded to 8 bytes so that one 8-byte copy writes it. */
static char esc[128][8];
static unsigned char esc_len[128];

static void escape_init(void)
{
	static const char hex[] = "0123456789abcdef";
	for (int c = 0; c < 256; c++) {
		if (c >= 0x80) {
			cls[c] = 2;
			continue;
		}
		const char *two = c == '"' ? "\\\"" : c == '\\' ? "\\\\" : c == '\n' ? "\\n" : c == '\r' ? "\\r" : c == '\t' ? "\\t" : NULL;
		if (two) {
			memcpy(esc[c], two, 2);
			esc_len[c] = 2;
			cls[c] = 1;
		} else if (c < 0x20 || c == '<' || c == '>' || c == '&') {
			memcpy(esc[c], "\\u00", 4);
			esc[c][4] = hex[c >> 4];
			esc[c][5] = hex[c & 15];
			esc_len[c] = 6;
			cls[c] = 1;
		}
	}
}

/* How many bytes from p on (1..n) equal p[0]: eight at a time where it can. */
static size_t run_length(const unsigned char *p, size_t n)
{
	uint64_t pat = 0x0101010101010101ULL * p[0], w;
	size_t r = 1;
	while (r + 8 <= n) {
		memcpy(&w, p + r, 8);
		if (w != pat)
			break;
		r += 8;
	}
	while (r < n && p[r] == p[0])
		r++;
	return r;
}

/* Escapes n bytes into o, which must have room for 6 * n + 2 bytes (escapes are
 * written 8 bytes at a time). Returns the length written. */
static size_t escape(char *o, const unsigned char *p, size_t n)
{
	size_t k = 0, i = 0;
	while (i < n) {
		size_t j = i;
		while (j < n && cls[p[j]] == 0)
			j++;
		memcpy(o + k, p + i, j - i);
		k += j - i;
		i = j;
		while (i < n && cls[p[i]] == 1) {
			unsigned char e = p[i];
			size_t r = run_length(p + i, n - i), el = esc_len[e];
			memcpy(o + k, esc[e], 8);
			/* a run of one escaped byte (NUL padding, say): double the copy */
			for (size_t have = el, want = r * el; have < want; have *= 2)
				memcpy(o + k + have, o + k, have < want - have ? have : want - have);
			k += r * el;
			i += r;
		}
		if (i == n || cls[p[i]] != 2)
			continue;
		unsigned char c = p[i];
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
	struct timespec ts;
	size_t k, sl;
	if (l->path == NULL || n == 0)
		return;
	if (l->dropping) {
		l->dropped += n;
		return;
	}
	if (l->max_size > 0 && l->size >= l->max_size)
		rotate(l);
	if (l->fd < 0)
		return;
	if (l->dropping) { /* the batch written before the rotation failed */
		l->dropped += n;
		return;
	}
	if (wlen >= WBUF_SOFT || sizeof wbuf - wlen < n * 6 + 256) {
		log_sync(l);
		if (l->dropping) {
			l->dropped += n;
			return;
		}
	}
	char *entry = wbuf + wlen;
	memcpy(entry, "{\"log\":\"", 8);
	k = 8;
	k += escape(entry + k, (const unsigned char *)p, n);
	memcpy(entry + k, "\",\"stream\":\"", 12);
	k += 12;
	sl = strlen(stream);
	memcpy(entry + k, stream, sl);
	k += sl;
	memcpy(entry + k, "\",\"time\":\"", 10);
	k += 10;
	if (clock_gettime(CLOCK_REALTIME, &ts) < 0) {
		ts.tv_sec = 0;
		ts.tv_nsec = 0;
	}
	k += rfc3339nano(entry + k, &ts);
	memcpy(entry + k, "\"}\n", 3);
	k += 3;
	wlen += k;
	wraw += n;
	l->size += (long long)k;
}

void log_feed(struct logfile *l, struct linebuf *b, const char *p, size_t n)
{
	if (l->dropping) { /* no line splitting, no formatting: a count */
		l->dropped += n + b->len;
		b->len = 0;
		return;
	}
	while (n > 0) {
		size_t room = LINE_BUF_MAX - b->len;
		size_t take = n < room ? n : room;
		const char *nl = memchr(p, '\n', take);
		if (nl != NULL)
			take = (size_t)(nl - p) + 1;
		if (nl == NULL && b->len + take < LINE_BUF_MAX) {
			memcpy(b->buf + b->len, p, take); /* an unterminated tail: kept for later */
			b->len += take;
		} else if (b->len == 0) {
			log_entry(l, b->stream, p, take); /* a whole entry in the chunk: no copy */
		} else {
			memcpy(b->buf + b->len, p, take);
			log_entry(l, b->stream, b->buf, b->len + take);
			b->len = 0;
		}
		p += take;
		n -= take;
	}
}

void log_flush(struct logfile *l, struct linebuf *b)
{
	l->dropping = 0; /* a last try for the tail */
	log_entry(l, b->stream, b->buf, b->len);
	b->len = 0;
	log_sync(l);
	if (l->fail_errno != 0 && l->dropped > 0) {
		fprintf(stderr, "shim: write log %s: %s; %llu bytes of output dropped\n", l->path, strerror(l->fail_errno), l->dropped);
		l->dropped = 0;
	}
}
