/* Docker json-file log writer: one JSON object per line, rotation by size. */
#ifndef STEVEDORE_SHIM_LOG_H
#define STEVEDORE_SHIM_LOG_H
#include <stddef.h>
#include <time.h>

/* A partial line longer than this is flushed as its own entry, as Docker does. */
#define LINE_BUF_MAX 16384

struct logfile {
	int fd;              /* -1 when logging is off or the file could not be opened */
	const char *path;
	long long max_size;  /* bytes; <= 0 means no rotation */
	int max_files;       /* files kept including the live one; < 2 means truncate in place */
	long long size;
};

struct linebuf {
	const char *stream;  /* "stdout" or "stderr" */
	size_t len;
	char buf[LINE_BUF_MAX];
};

/* Writes all n bytes, retrying short writes and EINTR. Returns 0 or -errno (errno set). */
int write_all(int fd, const char *p, size_t n);
/* Opens (appends to) the log; path NULL disables logging. Returns 0 or -errno. */
int log_open(struct logfile *l, const char *path, long long max_size, int max_files);
/* Splits bytes on '\n' into entries; keeps the unterminated tail for later. */
void log_feed(struct logfile *l, struct linebuf *b, const char *p, size_t n);
/* Writes the entries batched so far (call after each chunk read from the container). */
void log_sync(struct logfile *l);
/* Writes any unterminated tail as its own entry (on EOF). */
void log_flush(struct logfile *l, struct linebuf *b);
/* Writes ts as UTC RFC 3339 with nanoseconds, trailing zeros trimmed (Go's
 * RFC3339Nano), NUL-terminated; out must hold 40 bytes. Returns the length. */
size_t rfc3339nano(char *out, const struct timespec *ts);

#endif
