/*
 * Test driver for the CRI formatter (sink_cri.c), built by src/engine/runtime/sinks.test.ts
 * into a temp dir; not part of the shim.
 *   cri_format_test MAX CHUNK...   CHUNK: o:<hex> (stdout bytes), e:<hex> (stderr), end
 * prints each entry as containerd writes it, at a fixed time (2026-01-02T03:04:05.12Z).
 */
#define _GNU_SOURCE
#include "sink.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void emit(void *ctx, const char *stream, char tag, const char *p, size_t n, const struct timespec *t)
{
	char ts[48];
	(void)ctx;
	rfc3339nano(ts, t);
	printf("%s %s %c ", ts, stream, tag);
	fwrite(p, 1, n, stdout);
	putchar('\n');
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	size_t max = (size_t)strtoul(argv[1], NULL, 10);
	struct cri_line out = {.stream = "stdout", .max = max, .buf = malloc(max + 1)};
	struct cri_line err = {.stream = "stderr", .max = max, .buf = malloc(max + 1)};
	struct timespec t = {.tv_sec = 1767323045, .tv_nsec = 120000000};
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "end")) {
			cri_end(&out, &t, emit, NULL);
			cri_end(&err, &t, emit, NULL);
			continue;
		}
		size_t hl = strlen(a + 2), n = hl / 2;
		char *b = malloc(n + 1);
		for (size_t k = 0; k < n; k++) {
			char h[3] = {a[2 + 2 * k], a[3 + 2 * k], 0};
			b[k] = (char)strtoul(h, NULL, 16);
		}
		cri_feed(a[0] == 'o' ? &out : &err, b, n, &t, emit, NULL);
		free(b);
	}
	return 0;
}
