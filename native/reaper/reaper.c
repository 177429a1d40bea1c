/*
 * stevedore-reaper: a Ryuk-compatible resource reaper (the protocol of testcontainers'
 * moby-ryuk, written from its documentation; see docs/reaper.md).
 *
 * It listens on TCP RYUK_PORT (8080). Each client sends filter lines, `key=value&key=value`
 * URL-encoded as a query string (e.g. `label=org.testcontainers.session-id=<id>`), and
 * each non-empty line is answered `ACK\n`. When no client has been connected for
 * RYUK_RECONNECTION_TIMEOUT (10s) after at least one was, or when none connected within
 * RYUK_CONNECTION_TIMEOUT (60s), it removes through the engine's socket every container
 * (force, with its anonymous volumes), network, volume and image that matches any one of
 * the filter sets — containers first, each kind retried up to RYUK_REMOVE_RETRIES times,
 * one second apart —, logs what it removed and exits (0, or 1 if something was left).
 * Containers labelled org.testcontainers.ryuk=true (reapers) are never removed.
 * SIGTERM/SIGINT stop accepting clients; the prune runs at once when none is connected,
 * else when the last leaves or after RYUK_SHUTDOWN_TIMEOUT (10m).
 *
 * The engine is reached over HTTP/1.1 on a unix socket: DOCKER_HOST (unix:// only) or
 * /var/run/docker.sock. Single-threaded: one ppoll loop over the listener and the clients.
 * Logs in the key=value form of Go's slog text handler on stdout ("Started" is the line
 * testcontainers waits for).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_CLIENTS 256
#define LINE_MAX_BYTES 65536
#define RYUK_LABEL "org.testcontainers.ryuk"

struct config {
  int port;
  long connection_ms, reconnection_ms, request_ms, shutdown_ms;
  int remove_retries;
  int verbose;
  char socket_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};
static struct config cfg;

/* ---- logging ---------------------------------------------------------------------- */

static void logf_(const char *level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(const char *level, const char *fmt, ...) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  char when[64];
  strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
  printf("time=%s.%03ldZ level=%s ", when, ts.tv_nsec / 1000000, level);
  va_list ap;
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  putchar('\n');
  fflush(stdout);
}
#define LOG_INFO(...) logf_("INFO", __VA_ARGS__)
#define LOG_WARN(...) logf_("WARN", __VA_ARGS__)
#define LOG_ERROR(...) logf_("ERROR", __VA_ARGS__)
#define LOG_DEBUG(...) \
  do { \
    if (cfg.verbose) logf_("DEBUG", __VA_ARGS__); \
  } while (0)

static void *xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (!p) {
    LOG_ERROR("msg=\"out of memory\"");
    exit(1);
  }
  return p;
}
static void *xrealloc(void *p, size_t n) {
  void *q = realloc(p, n ? n : 1);
  if (!q) {
    LOG_ERROR("msg=\"out of memory\"");
    exit(1);
  }
  return q;
}
static char *xstrndup(const char *s, size_t n) {
  char *p = xmalloc(n + 1);
  memcpy(p, s, n);
  p[n] = 0;
  return p;
}

/* A growable byte buffer. */
struct buf {
  char *p;
  size_t n, cap;
};
static void buf_add(struct buf *b, const char *s, size_t n) {
  if (b->n + n + 1 > b->cap) {
    b->cap = (b->n + n + 1) * 2;
    b->p = xrealloc(b->p, b->cap);
  }
  memcpy(b->p + b->n, s, n);
  b->n += n;
  b->p[b->n] = 0;
}
static void buf_str(struct buf *b, const char *s) { buf_add(b, s, strlen(s)); }
static void buf_free(struct buf *b) {
  free(b->p);
  b->p = NULL;
  b->n = b->cap = 0;
}

/* ---- configuration (Go durations, ints, bools) ------------------------------------ */

/* A Go time.ParseDuration string ("10s", "1m30s", "500ms", "0") in milliseconds; -1 if invalid. */
static long parse_duration_ms(const char *s) {
  if (strcmp(s, "0") == 0) return 0;
  if (!*s) return -1;
  double total = 0;
  while (*s) {
    char *end;
    if (!((*s >= '0' && *s <= '9') || *s == '.')) return -1;
    double v = strtod(s, &end);
    if (end == s) return -1;
    s = end;
    double unit;
    if (strncmp(s, "ns", 2) == 0) unit = 1e-6, s += 2;
    else if (strncmp(s, "us", 2) == 0) unit = 1e-3, s += 2;
    else if (strncmp(s, "\xc2\xb5s", 3) == 0) unit = 1e-3, s += 3;
    else if (strncmp(s, "ms", 2) == 0) unit = 1, s += 2;
    else if (*s == 's') unit = 1000, s += 1;
    else if (*s == 'm') unit = 60000, s += 1;
    else if (*s == 'h') unit = 3600000, s += 1;
    else return -1;
    total += v * unit;
  }
  return (long)total;
}

static void config_fail(const char *name, const char *value) {
  LOG_ERROR("msg=run error=\"load config: invalid %s: %s\"", name, value);
  exit(1);
}

static long env_duration(const char *name, long dflt) {
  const char *v = getenv(name);
  if (!v) return dflt;
  long ms = parse_duration_ms(v);
  if (ms < 0) config_fail(name, v);
  return ms;
}

static long env_int(const char *name, long dflt, long min, long max) {
  const char *v = getenv(name);
  if (!v) return dflt;
  char *end;
  errno = 0;
  long n = strtol(v, &end, 10);
  if (errno || end == v || *end || n < min || n > max) config_fail(name, v);
  return n;
}

static int env_bool(const char *name, int dflt) {
  const char *v = getenv(name);
  if (!v) return dflt;
  static const char *const yes[] = {"1", "t", "T", "TRUE", "true", "True"};
  static const char *const no[] = {"0", "f", "F", "FALSE", "false", "False"};
  for (size_t i = 0; i < 6; i++) {
    if (strcmp(v, yes[i]) == 0) return 1;
    if (strcmp(v, no[i]) == 0) return 0;
  }
  config_fail(name, v);
  return 0;
}

static void load_config(void) {
  cfg.port = (int)env_int("RYUK_PORT", 8080, 0, 65535);
  cfg.connection_ms = env_duration("RYUK_CONNECTION_TIMEOUT", 60000);
  cfg.reconnection_ms = env_duration("RYUK_RECONNECTION_TIMEOUT", 10000);
  cfg.request_ms = env_duration("RYUK_REQUEST_TIMEOUT", 10000);
  cfg.shutdown_ms = env_duration("RYUK_SHUTDOWN_TIMEOUT", 600000);
  cfg.remove_retries = (int)env_int("RYUK_REMOVE_RETRIES", 10, 1, 1000);
  cfg.verbose = env_bool("RYUK_VERBOSE", 0);
  const char *host = getenv("DOCKER_HOST");
  const char *path = "/var/run/docker.sock";
  if (host && *host) {
    if (strncmp(host, "unix://", 7) != 0) config_fail("DOCKER_HOST (only unix:// is supported)", host);
    path = host + 7;
  }
  if (strlen(path) >= sizeof cfg.socket_path) config_fail("DOCKER_HOST", host);
  strcpy(cfg.socket_path, path);
}

/* ---- the engine's API: HTTP/1.1 over the unix socket -------------------------------- */

static int write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* Decodes a chunked body in place; returns its length or -1. */
static long dechunk(char *p, size_t n) {
  size_t in = 0, out = 0;
  for (;;) {
    char *end;
    if (in >= n) return -1;
    unsigned long size = strtoul(p + in, &end, 16);
    char *eol = memmem(p + in, n - in, "\r\n", 2);
    if (!eol || end == p + in) return -1;
    in = (size_t)(eol - p) + 2;
    if (size == 0) return (long)out;
    if (in + size > n) return -1;
    memmove(p + out, p + in, size);
    out += size;
    in += size + 2;
  }
}

/*
 * Sends `method path` with no body; the response body (NUL-terminated) goes to *body.
 * Returns the HTTP status, or -1 when the engine could not be reached or answered garbage.
 */
static int engine(const char *method, const char *path, struct buf *body) {
  body->n = 0;
  buf_add(body, "", 0);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  struct timeval tv = {.tv_sec = cfg.request_ms / 1000, .tv_usec = (cfg.request_ms % 1000) * 1000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  strcpy(sa.sun_path, cfg.socket_path);
  struct buf req = {0}, resp = {0};
  int status = -1;
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) goto out;
  buf_str(&req, method);
  buf_str(&req, " ");
  buf_str(&req, path);
  buf_str(&req, " HTTP/1.1\r\nHost: docker\r\nUser-Agent: stevedore-reaper\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
  if (write_all(fd, req.p, req.n) < 0) goto out;
  char chunk[16384];
  for (;;) {
    ssize_t r = recv(fd, chunk, sizeof chunk, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) goto out; /* timed out or failed */
    if (r == 0) break;
    buf_add(&resp, chunk, (size_t)r);
  }
  if (resp.n < 12 || strncmp(resp.p, "HTTP/1.", 7) != 0) goto out;
  char *hend = strstr(resp.p, "\r\n\r\n");
  if (!hend) goto out;
  int code = atoi(resp.p + 9);
  *hend = 0;
  char *content = hend + 4;
  size_t clen = resp.n - (size_t)(content - resp.p);
  int chunked = 0;
  for (char *h = strstr(resp.p, "\r\n"); h; h = strstr(h + 2, "\r\n")) {
    if (strncasecmp(h + 2, "Transfer-Encoding:", 18) == 0 && strcasestr(h + 2, "chunked")) {
      char *eol = strstr(h + 2, "\r\n");
      char *c = strcasestr(h + 2, "chunked");
      if (!eol || c < eol) chunked = 1;
    } else if (strncasecmp(h + 2, "Content-Length:", 15) == 0) {
      size_t l = strtoul(h + 17, NULL, 10);
      if (l < clen) clen = l;
    }
  }
  if (chunked) {
    long l = dechunk(content, clen);
    if (l < 0) goto out;
    clen = (size_t)l;
  }
  body->n = 0;
  buf_add(body, content, clen);
  status = code;
out:
  close(fd);
  buf_free(&req);
  buf_free(&resp);
  return status;
}

/* ---- just enough JSON to read list answers ----------------------------------------- */

struct json {
  const char *p, *end;
  int bad;
};

static void js_ws(struct json *j) {
  while (j->p < j->end && (*j->p == ' ' || *j->p == '\n' || *j->p == '\r' || *j->p == '\t')) j->p++;
}
static int js_peek(struct json *j) {
  js_ws(j);
  return j->p < j->end ? (unsigned char)*j->p : -1;
}
static int js_eat(struct json *j, char c) {
  if (js_peek(j) != c) return 0;
  j->p++;
  return 1;
}
/* A string (escapes \uXXXX outside ASCII become '?'); out may be NULL. */
static void js_string(struct json *j, struct buf *out) {
  if (out) {
    out->n = 0;
    buf_add(out, "", 0);
  }
  if (!js_eat(j, '"')) {
    j->bad = 1;
    return;
  }
  while (j->p < j->end && *j->p != '"') {
    char c = *j->p++;
    if (c == '\\') {
      if (j->p >= j->end) break;
      char e = *j->p++;
      switch (e) {
      case 'n': c = '\n'; break;
      case 't': c = '\t'; break;
      case 'r': c = '\r'; break;
      case 'b': c = '\b'; break;
      case 'f': c = '\f'; break;
      case 'u':
        if (j->end - j->p < 4) {
          j->bad = 1;
          return;
        }
        {
          char hex[5] = {j->p[0], j->p[1], j->p[2], j->p[3], 0};
          unsigned long u = strtoul(hex, NULL, 16);
          c = u < 0x80 ? (char)u : '?';
        }
        j->p += 4;
        break;
      default: c = e;
      }
    }
    if (out) buf_add(out, &c, 1);
  }
  if (!js_eat(j, '"')) j->bad = 1;
}
/* An object member's key (into key) and its ':'; 0 when the JSON is not of that shape. */
static int js_key(struct json *j, struct buf *key) {
  js_string(j, key);
  if (!js_eat(j, ':')) j->bad = 1;
  return !j->bad;
}
static void js_skip(struct json *j) {
  int c = js_peek(j);
  if (c == '"') {
    js_string(j, NULL);
  } else if (c == '{' || c == '[') {
    char close_ = c == '{' ? '}' : ']';
    j->p++;
    if (js_eat(j, close_)) return;
    do {
      if (c == '{') js_key(j, NULL);
      js_skip(j);
    } while (!j->bad && js_eat(j, ','));
    if (!js_eat(j, close_)) j->bad = 1;
  } else if (c >= 0) {
    while (j->p < j->end && !strchr(",]} \t\r\n", *j->p)) j->p++;
  } else {
    j->bad = 1;
  }
}

/* A list of owned strings, kept without duplicates. */
struct strlist {
  char **v;
  size_t n;
};
static void sl_add(struct strlist *l, const char *s) {
  for (size_t i = 0; i < l->n; i++)
    if (strcmp(l->v[i], s) == 0) return;
  l->v = xrealloc(l->v, (l->n + 1) * sizeof *l->v);
  l->v[l->n++] = xstrndup(s, strlen(s));
}
static void sl_free(struct strlist *l) {
  for (size_t i = 0; i < l->n; i++) free(l->v[i]);
  free(l->v);
  l->v = NULL;
  l->n = 0;
}

/*
 * Reads an array of objects (at the top, or under the key `wrapper` of a top object) and
 * adds each element's string `field` to `out` — except reapers (Labels[RYUK_LABEL] ==
 * "true") when skip_reapers. Returns 0, or -1 if the JSON is not of that shape.
 */
static int collect(const char *text, size_t len, const char *wrapper, const char *field, int skip_reapers, struct strlist *out) {
  struct json j = {text, text + len, 0};
  struct buf key = {0}, val = {0};
  int found_array = 0;
  if (wrapper) {
    if (!js_eat(&j, '{')) goto done;
    if (js_eat(&j, '}')) goto done;
    do {
      if (!js_key(&j, &key)) goto done;
      if (strcmp(key.p, wrapper) == 0 && js_peek(&j) == '[') break;
      js_skip(&j);
    } while (!j.bad && js_eat(&j, ','));
    if (j.bad || js_peek(&j) != '[') {
      /* no array under the key (e.g. "Volumes": null): nothing to collect */
      j.bad = js_peek(&j) == '}' ? 0 : j.bad;
      found_array = !j.bad;
      goto done;
    }
  }
  if (!js_eat(&j, '[')) {
    j.bad = 1;
    goto done;
  }
  found_array = 1;
  if (js_eat(&j, ']')) goto done;
  do {
    if (!js_eat(&j, '{')) {
      js_skip(&j);
      continue;
    }
    char *id = NULL;
    int reaper = 0;
    if (!js_eat(&j, '}')) {
      do {
        if (!js_key(&j, &key)) break;
        if (strcmp(key.p, field) == 0 && js_peek(&j) == '"') {
          js_string(&j, &val);
          free(id);
          id = xstrndup(val.p, val.n);
        } else if (strcmp(key.p, "Labels") == 0 && js_peek(&j) == '{') {
          j.p++;
          if (!js_eat(&j, '}')) {
            do {
              if (!js_key(&j, &key)) break;
              if (strcmp(key.p, RYUK_LABEL) == 0 && js_peek(&j) == '"') {
                js_string(&j, &val);
                if (strcmp(val.p, "true") == 0) reaper = 1;
              } else {
                js_skip(&j);
              }
            } while (!j.bad && js_eat(&j, ','));
            if (!js_eat(&j, '}')) j.bad = 1;
          }
        } else {
          js_skip(&j);
        }
      } while (!j.bad && js_eat(&j, ','));
      if (!js_eat(&j, '}')) j.bad = 1;
    }
    if (!j.bad && id) {
      if (skip_reapers && reaper) LOG_DEBUG("msg=\"skipping reaper container\" id=%s", id);
      else sl_add(out, id);
    }
    free(id);
  } while (!j.bad && js_eat(&j, ','));
  if (!js_eat(&j, ']')) j.bad = 1;
done:
  buf_free(&key);
  buf_free(&val);
  return j.bad || !found_array ? -1 : 0;
}

/* ---- filters ------------------------------------------------------------------------ */

struct pair {
  char *key, *val;
};
struct filter {
  struct pair *pairs;
  size_t n;
};
static struct filter *filters;
static size_t nfilters;

/* Go's url.QueryUnescape: '+' is a space, %XX a byte; anything else malformed fails. */
static char *query_unescape(const char *s, size_t n, int *ok) {
  char *out = xmalloc(n + 1);
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (c == '+') {
      out[o++] = ' ';
    } else if (c == '%') {
      char hex[3] = {0};
      if (i + 2 >= n) {
        *ok = 0;
        break;
      }
      hex[0] = s[i + 1];
      hex[1] = s[i + 2];
      char *end;
      long v = strtol(hex, &end, 16);
      if (*end || !hex[0] || !hex[1] || strchr("+- ", hex[0])) {
        *ok = 0;
        break;
      }
      out[o++] = (char)v;
      i += 2;
    } else {
      out[o++] = c;
    }
  }
  out[o] = 0;
  return out;
}

static int pair_cmp(const void *a, const void *b) {
  const struct pair *x = a, *y = b;
  int c = strcmp(x->key, y->key);
  return c ? c : strcmp(x->val, y->val);
}

static void filter_free(struct filter *f) {
  for (size_t i = 0; i < f->n; i++) {
    free(f->pairs[i].key);
    free(f->pairs[i].val);
  }
  free(f->pairs);
}

static int filter_equal(const struct filter *a, const struct filter *b) {
  if (a->n != b->n) return 0;
  for (size_t i = 0; i < a->n; i++)
    if (pair_cmp(&a->pairs[i], &b->pairs[i]) != 0) return 0;
  return 1;
}

static void log_filter(const char *msg, const struct filter *f) {
  struct buf b = {0};
  for (size_t i = 0; i < f->n;) {
    size_t k = i;
    buf_str(&b, " type=");
    buf_str(&b, f->pairs[i].key);
    buf_str(&b, " values=\"[");
    for (; k < f->n && strcmp(f->pairs[k].key, f->pairs[i].key) == 0; k++) {
      if (k > i) buf_str(&b, " ");
      buf_str(&b, f->pairs[k].val);
    }
    buf_str(&b, "]\"");
    i = k;
  }
  LOG_INFO("msg=\"%s\"%s", msg, b.p ? b.p : "");
  buf_free(&b);
}

/* Parses one filter line and adds it unless it is already known. Returns 0, or -1 with why. */
static int add_filter(const char *line, const char **why) {
  struct filter f = {0};
  if (strchr(line, ';')) {
    *why = "invalid semicolon separator in query";
    return -1;
  }
  const char *s = line;
  while (*s) {
    size_t n = strcspn(s, "&");
    if (n > 0) {
      const char *eq = memchr(s, '=', n);
      size_t kn = eq ? (size_t)(eq - s) : n;
      int ok = 1;
      char *k = query_unescape(s, kn, &ok);
      char *v = eq ? query_unescape(eq + 1, n - kn - 1, &ok) : xstrndup("", 0);
      if (!ok) {
        free(k);
        free(v);
        filter_free(&f);
        *why = "invalid URL escape";
        return -1;
      }
      f.pairs = xrealloc(f.pairs, (f.n + 1) * sizeof *f.pairs);
      f.pairs[f.n].key = k;
      f.pairs[f.n].val = v;
      f.n++;
    }
    s += n;
    if (*s == '&') s++;
  }
  if (f.n == 0) {
    /* Go would add an empty filter set, which matches everything: refused here. */
    *why = "no filter in the line";
    return -1;
  }
  qsort(f.pairs, f.n, sizeof *f.pairs, pair_cmp);
  size_t w = 1;
  for (size_t i = 1; i < f.n; i++) {
    if (pair_cmp(&f.pairs[i], &f.pairs[w - 1]) == 0) {
      free(f.pairs[i].key);
      free(f.pairs[i].val);
    } else {
      f.pairs[w++] = f.pairs[i];
    }
  }
  f.n = w;
  for (size_t i = 0; i < nfilters; i++) {
    if (filter_equal(&filters[i], &f)) {
      LOG_DEBUG("msg=\"filter already exists\"");
      filter_free(&f);
      return 0;
    }
  }
  log_filter("adding filter", &f);
  filters = xrealloc(filters, (nfilters + 1) * sizeof *filters);
  filters[nfilters++] = f;
  return 0;
}

static void json_escape(struct buf *b, const char *s) {
  buf_str(b, "\"");
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') {
      char e[2] = {'\\', (char)c};
      buf_add(b, e, 2);
    } else if (c < 0x20) {
      char e[8];
      snprintf(e, sizeof e, "\\u%04x", c);
      buf_str(b, e);
    } else {
      buf_add(b, (const char *)&c, 1);
    }
  }
  buf_str(b, "\"");
}

/* `filters=<url-encoded {"key":["v",...],...}>` for a filter set. */
static void filters_query(struct buf *q, const struct filter *f) {
  struct buf js = {0};
  buf_str(&js, "{");
  for (size_t i = 0; i < f->n;) {
    if (i > 0) buf_str(&js, ",");
    json_escape(&js, f->pairs[i].key);
    buf_str(&js, ":[");
    size_t k = i;
    for (; k < f->n && strcmp(f->pairs[k].key, f->pairs[i].key) == 0; k++) {
      if (k > i) buf_str(&js, ",");
      json_escape(&js, f->pairs[k].val);
    }
    buf_str(&js, "]");
    i = k;
  }
  buf_str(&js, "}");
  q->n = 0;
  buf_str(q, "filters=");
  for (size_t i = 0; i < js.n; i++) {
    unsigned char c = (unsigned char)js.p[i];
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr("-._~", c)) {
      buf_add(q, (const char *)&c, 1);
    } else {
      char e[4];
      snprintf(e, sizeof e, "%%%02X", c);
      buf_str(q, e);
    }
  }
  buf_free(&js);
}

/* The start of an engine's error answer, fit for a quoted log value. */
static const char *short_error(int status, const char *body) {
  static char out[201];
  if (status < 0) return "engine unreachable";
  size_t i = 0;
  for (; body[i] && i < sizeof out - 1; i++) out[i] = body[i] == '"' ? '\'' : (body[i] == '\n' ? ' ' : body[i]);
  out[i] = 0;
  return out;
}

/* ---- pruning ------------------------------------------------------------------------ */

struct kind {
  const char *name;      /* for the logs */
  const char *list;      /* list endpoint, followed by ?<filters> (or &<filters>) */
  const char *wrapper;   /* key of the array in the answer, or NULL */
  const char *field;     /* the element's identifier */
  const char *remove;    /* removal path: printf format with the identifier */
  struct strlist found;
  int removed;
};

static struct kind kinds[] = {
    {"container", "/containers/json?all=1&", NULL, "Id", "/containers/%s?force=1&v=1", {0}, 0},
    {"network", "/networks?", NULL, "Id", "/networks/%s", {0}, 0},
    {"volume", "/volumes?", "Volumes", "Name", "/volumes/%s?force=1", {0}, 0},
    {"image", "/images/json?", NULL, "Id", "/images/%s", {0}, 0},
};
#define NKINDS (sizeof kinds / sizeof kinds[0])

/* What matches the filters now; returns the number of list failures. */
static int find_resources(void) {
  int errors = 0;
  struct buf q = {0}, path = {0}, body = {0};
  for (size_t i = 0; i < nfilters; i++) {
    filters_query(&q, &filters[i]);
    for (size_t k = 0; k < NKINDS; k++) {
      path.n = 0;
      buf_str(&path, kinds[k].list);
      buf_str(&path, q.p);
      int st = engine("GET", path.p, &body);
      if (st != 200 || collect(body.p, body.n, kinds[k].wrapper, kinds[k].field, k == 0, &kinds[k].found) < 0) {
        LOG_ERROR("msg=\"affected %ss\" status=%d error=\"%s\"", kinds[k].name, st, short_error(st, body.p));
        errors++;
      }
    }
  }
  buf_free(&q);
  buf_free(&path);
  buf_free(&body);
  return errors;
}

static void url_path_escape(struct buf *b, const char *s) {
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr("-._~:", c)) {
      buf_add(b, (const char *)&c, 1);
    } else {
      char e[4];
      snprintf(e, sizeof e, "%%%02X", c);
      buf_str(b, e);
    }
  }
}

/* Removes every found resource of a kind, retrying; returns how many were left. */
static size_t remove_kind(struct kind *k) {
  size_t n = k->found.n;
  if (n == 0) return 0;
  char *done = calloc(n, 1);
  if (!done) exit(1);
  size_t left = n;
  struct buf path = {0}, id = {0}, body = {0};
  for (int attempt = 1; attempt <= cfg.remove_retries && left > 0; attempt++) {
    for (size_t i = 0; i < n; i++) {
      if (done[i]) continue;
      id.n = 0;
      url_path_escape(&id, k->found.v[i]);
      const char *pct = strstr(k->remove, "%s");
      path.n = 0;
      buf_add(&path, k->remove, (size_t)(pct - k->remove));
      buf_str(&path, id.p);
      buf_str(&path, pct + 2);
      int st = engine("DELETE", path.p, &body);
      if (st >= 200 && st < 300) {
        LOG_INFO("msg=removed resource=%s id=%s", k->name, k->found.v[i]);
        k->removed++;
        done[i] = 1;
        left--;
      } else if (st == 404) {
        LOG_DEBUG("msg=\"not found\" resource=%s id=%s", k->name, k->found.v[i]);
        done[i] = 1;
        left--;
      } else {
        LOG_ERROR("msg=remove resource=%s id=%s attempt=%d status=%d error=\"%s\"", k->name, k->found.v[i], attempt, st, short_error(st, body.p));
      }
    }
    if (left > 0 && attempt < cfg.remove_retries) sleep(1);
  }
  if (left > 0) LOG_ERROR("msg=prune error=\"%s left %zu items\"", k->name, left);
  free(done);
  buf_free(&path);
  buf_free(&id);
  buf_free(&body);
  return left;
}

static int prune(void) {
  int errors = find_resources();
  for (size_t k = 0; k < NKINDS; k++) /* containers first, then networks, volumes, images */
    if (remove_kind(&kinds[k]) > 0) errors++;
  LOG_INFO("msg=removed containers=%d networks=%d volumes=%d images=%d", kinds[0].removed, kinds[1].removed, kinds[2].removed, kinds[3].removed);
  for (size_t k = 0; k < NKINDS; k++) sl_free(&kinds[k].found);
  return errors;
}

/* ---- clients ------------------------------------------------------------------------ */

struct client {
  int fd;
  char addr[64];
  char *buf;
  size_t len;
};
static struct client clients[MAX_CLIENTS];
static size_t nclients;

static volatile sig_atomic_t got_signal;
static void on_signal(int sig) { got_signal = sig; }

static long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void handle_line(struct client *c, char *line, size_t n) {
  if (n > 0 && line[n - 1] == '\r') n--;
  line[n] = 0;
  if (n == 0) {
    LOG_WARN("msg=\"empty filter received\" address=%s", c->addr);
    return;
  }
  const char *why = NULL;
  if (add_filter(line, &why) < 0) LOG_ERROR("msg=\"add filter\" address=%s error=\"%s\"", c->addr, why);
  if (write_all(c->fd, "ACK\n", 4) < 0) LOG_ERROR("msg=\"ack write\" address=%s error=\"%s\"", c->addr, strerror(errno));
}

/* Reads what a client sent; returns 0 while it stays connected, -1 when it is done. */
static int client_read(struct client *c) {
  ssize_t r = recv(c->fd, c->buf + c->len, LINE_MAX_BYTES - c->len, 0);
  if (r < 0 && (errno == EINTR || errno == EAGAIN)) return 0;
  if (r <= 0) {
    if (r < 0) LOG_ERROR("msg=scan address=%s error=\"%s\"", c->addr, strerror(errno));
    if (r == 0 && c->len > 0) handle_line(c, c->buf, c->len); /* a last line without newline */
    return -1;
  }
  c->len += (size_t)r;
  size_t start = 0;
  for (size_t i = 0; i < c->len; i++) {
    if (c->buf[i] == '\n') {
      handle_line(c, c->buf + start, i - start);
      start = i + 1;
    }
  }
  memmove(c->buf, c->buf + start, c->len - start);
  c->len -= start;
  if (c->len >= LINE_MAX_BYTES - 1) {
    LOG_ERROR("msg=scan address=%s error=\"token too long\"", c->addr);
    return -1;
  }
  return 0;
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  load_config();

  struct buf body = {0};
  int st = engine("GET", "/_ping", &body);
  if (st != 200) {
    LOG_ERROR("msg=run error=\"new reaper: ping: %s (status %d)\"", cfg.socket_path, st);
    return 1;
  }
  buf_free(&body);
  LOG_INFO("msg=starting connection_timeout=%ldms reconnection_timeout=%ldms request_timeout=%ldms shutdown_timeout=%ldms remove_retries=%d port=%d verbose=%s",
           cfg.connection_ms, cfg.reconnection_ms, cfg.request_ms, cfg.shutdown_ms, cfg.remove_retries, cfg.port, cfg.verbose ? "true" : "false");

  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)cfg.port), .sin_addr = {htonl(INADDR_ANY)}};
  if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 || bind(lfd, (struct sockaddr *)&sin, sizeof sin) < 0 ||
      listen(lfd, 64) < 0) {
    LOG_ERROR("msg=run error=\"new reaper: listen: %s\"", strerror(errno));
    return 1;
  }
  socklen_t sl = sizeof sin;
  getsockname(lfd, (struct sockaddr *)&sin, &sl);
  /* This word is what testcontainers' wait strategy looks for. */
  LOG_INFO("msg=Started address=0.0.0.0:%d", ntohs(sin.sin_port));
  LOG_INFO("msg=\"client processing started\"");

  sigset_t block, none;
  sigemptyset(&block);
  sigaddset(&block, SIGTERM);
  sigaddset(&block, SIGINT);
  sigprocmask(SIG_BLOCK, &block, &none);
  sigdelset(&none, SIGTERM);
  sigdelset(&none, SIGINT);
  struct sigaction sa = {0};
  sa.sa_handler = on_signal;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);

  long deadline = now_ms() + cfg.connection_ms;
  int armed = 1, shutting_down = 0;
  for (;;) {
    long now = now_ms();
    if (armed && now >= deadline) break;
    struct pollfd pfds[MAX_CLIENTS + 1];
    size_t np = 0;
    for (size_t i = 0; i < nclients; i++) pfds[np++] = (struct pollfd){.fd = clients[i].fd, .events = POLLIN};
    if (lfd >= 0) pfds[np++] = (struct pollfd){.fd = lfd, .events = POLLIN};
    struct timespec ts = {0}, *tsp = NULL;
    if (armed) {
      long wait = deadline - now;
      ts.tv_sec = wait / 1000;
      ts.tv_nsec = (wait % 1000) * 1000000;
      tsp = &ts;
    }
    int r = ppoll(pfds, np, tsp, &none);
    if (r < 0 && errno != EINTR) {
      LOG_ERROR("msg=poll error=\"%s\"", strerror(errno));
      break;
    }
    if (got_signal && !shutting_down) {
      shutting_down = 1;
      LOG_INFO("msg=\"signal received\" clients=%zu shutdown_timeout=%ldms", nclients, cfg.shutdown_ms);
      if (lfd >= 0) close(lfd);
      lfd = -1;
      armed = 1;
      deadline = now_ms() + (nclients == 0 ? 0 : cfg.shutdown_ms);
      continue;
    }
    if (r <= 0) continue;
    /* clients first: the pollfd array matches clients[] up to nclients */
    size_t before = nclients;
    for (size_t i = before; i-- > 0;) {
      if (!(pfds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      if (client_read(&clients[i]) == 0) continue;
      close(clients[i].fd);
      free(clients[i].buf);
      char addr[64];
      memcpy(addr, clients[i].addr, sizeof addr);
      clients[i] = clients[--nclients];
      LOG_INFO("msg=\"client disconnected\" address=%s clients=%zu", addr, nclients);
      if (nclients == 0) {
        armed = 1;
        deadline = now_ms() + cfg.reconnection_ms;
      }
    }
    if (lfd >= 0 && (pfds[before].revents & POLLIN)) {
      struct sockaddr_in peer;
      socklen_t pl = sizeof peer;
      int fd = accept4(lfd, (struct sockaddr *)&peer, &pl, SOCK_CLOEXEC);
      if (fd < 0) {
        LOG_ERROR("msg=accept error=\"%s\"", strerror(errno));
        continue;
      }
      if (nclients == MAX_CLIENTS) {
        LOG_WARN("msg=\"too many clients, aborting client\"");
        close(fd);
        continue;
      }
      struct client *c = &clients[nclients++];
      c->fd = fd;
      c->buf = xmalloc(LINE_MAX_BYTES);
      c->len = 0;
      char ip[INET_ADDRSTRLEN] = "?";
      inet_ntop(AF_INET, &peer.sin_addr, ip, sizeof ip);
      snprintf(c->addr, sizeof c->addr, "%s:%d", ip, ntohs(peer.sin_port));
      LOG_INFO("msg=\"client connected\" address=%s clients=%zu", c->addr, nclients);
      armed = 0;
    }
  }

  if (lfd >= 0) close(lfd);
  LOG_INFO("msg=\"prune check\" clients=%zu", nclients);
  LOG_INFO("msg=\"client processing stopped\"");
  for (size_t i = 0; i < nclients; i++) close(clients[i].fd);
  int errors = prune();
  LOG_INFO("msg=done");
  return errors ? 1 : 0;
}
