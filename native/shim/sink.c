/*
 * Output sinks (sink.h): choosing one, and the two simplest: `none` and `json-file`
 * (Docker's format; the encoder, rotation and disk-full policy are log.c's).
 */
#define _GNU_SOURCE
#include "sink.h"
#include "log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int sink_kind_parse(const char *name)
{
	if (!strcmp(name, "none"))
		return SINK_NONE;
	if (!strcmp(name, "json-file"))
		return SINK_JSON_FILE;
	if (!strcmp(name, "cri"))
		return SINK_CRI;
	if (!strcmp(name, "binary"))
		return SINK_BINARY;
	return -1;
}

/* ---- none ---- */

static void none_write(struct sink *s, int stream, const char *p, size_t n, const struct timespec *t)
{
	(void)s, (void)stream, (void)p, (void)n, (void)t;
}

static void none_op(struct sink *s)
{
	(void)s;
}

static const struct sink_ops none_ops = {none_write, none_op, none_op, none_op, NULL, NULL, NULL};
static struct sink none_sink = {&none_ops, SINK_NONE};

/* ---- json-file ---- */

struct json_sink {
	struct sink base;
	struct logfile file;
	struct linebuf out, err;
};

static struct json_sink json; /* one container per shim: static, like log.c's buffers */

static void json_write(struct sink *s, int stream, const char *p, size_t n, const struct timespec *t)
{
	struct json_sink *j = (struct json_sink *)s;
	(void)t; /* log.c stamps each entry itself, when it is formatted */
	log_feed(&j->file, stream == SINK_STDOUT ? &j->out : &j->err, p, n);
}

static void json_flush(struct sink *s)
{
	log_sync(&((struct json_sink *)s)->file);
}

static void json_close(struct sink *s)
{
	struct json_sink *j = (struct json_sink *)s;
	log_flush(&j->file, &j->out);
	log_flush(&j->file, &j->err);
}

static const struct sink_ops json_ops = {json_write, json_flush, json_close, none_op, NULL, NULL, NULL};

struct sink *sink_json_open(const struct sink_config *c, int *err)
{
	json.base = (struct sink){&json_ops, SINK_JSON_FILE};
	json.out.stream = "stdout";
	json.err.stream = "stderr";
	int r = log_open(&json.file, c->path, c->max_size, c->max_files);
	if (r < 0) {
		*err = -r;
		return NULL;
	}
	return &json.base;
}

int sink_poll_fds(struct sink *s, int fds[2])
{
	return s->ops->poll_fds ? s->ops->poll_fds(s, fds) : 0;
}

void sink_drain(struct sink *s)
{
	if (s->ops->drain)
		s->ops->drain(s);
}

int sink_behind(struct sink *s)
{
	return s->ops->behind ? s->ops->behind(s) : 0;
}

struct sink *sink_open(const struct sink_config *c, int *err, char *why, size_t whylen)
{
	*err = 0;
	if (why && whylen)
		why[0] = '\0';
	switch (c->kind) {
	case SINK_NONE:
		return &none_sink;
	case SINK_JSON_FILE:
		return sink_json_open(c, err);
	case SINK_CRI:
		return sink_cri_open(c, err);
	case SINK_BINARY:
		return sink_binary_open(c, err, why, whylen);
	}
	*err = EINVAL;
	return NULL;
}
