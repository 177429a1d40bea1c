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
	long long size;      /* bytes in the live file, counting entries batched but not yet written */
	long long disk;      /* bytes in the live file as last written: a failed write is cut back to it */
	/* Write failures (a full disk): the first is reported on stderr, then the output is
	 * dropped (Docker's json-file drops the message and goes on) and a write is tried
	 * again at most every LOG_RETRY_MS; counts are reported, never one line per write. */
	int fail_errno;      /* errno of the failure in progress, 0 when writes succeed */
	int dropping;        /* between tries: output is counted and dropped unformatted */
	unsigned long long dropped;   /* bytes of container output dropped since the failure began */
	struct timespec retry_at;     /* the next write try */
	struct timespec report_at;    /* the next "still failing" report */
};

#define LOG_RETRY_MS 100
#define LOG_REPORT_S 60

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
/* Writes any unterminated tail as its own entry (on EOF); reports a failure still in
 * progress with its count. */
void log_flush(struct logfile *l, struct linebuf *b);
/* Writes ts as UTC RFC 3339 with nanoseconds, trailing zeros trimmed (Go's
 * RFC3339Nano), NUL-terminated; out must hold 40 bytes. Returns the length. */
size_t rfc3339nano(char *out, const struct timespec *ts);

#endif
