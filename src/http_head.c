/* The HTTP response head parser (see http_head.h). */
#include "http_head.h"

#include <string.h>

static const char VERSION_PREFIX[] = "HTTP/1.";
#define VERSION_PREFIX_LEN (sizeof VERSION_PREFIX - 1)

typedef struct {
  const char *p;
  size_t len; /* without the line end */
} line;

static int is_digit(char c) { return c >= '0' && c <= '9'; }
static int is_blank(char c) { return c == ' ' || c == '\t'; }

static int lower(int c) { return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c; }

/* RFC 9110 token characters, the only ones allowed in a header name. */
static int is_tchar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c)) return 1;
  return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Next line starting at *pos: 1 and the line (CR of a CRLF stripped), 0 if no LF yet,
 * -1 on a CR or NUL inside the line. */
static int next_line(const char *buf, size_t len, size_t *pos, line *out) {
  const char *start = buf + *pos;
  const char *lf = memchr(start, '\n', len - *pos);
  if (!lf) return 0;
  size_t n = (size_t)(lf - start);
  if (n > 0 && start[n - 1] == '\r') n--;
  for (size_t i = 0; i < n; i++)
    if (start[i] == '\r' || start[i] == '\0') return -1;
  out->p = start;
  out->len = n;
  *pos += (size_t)(lf - start) + 1;
  return 1;
}

/* Rejects garbage before the first line end: whatever has arrived must agree with "HTTP/1.". */
static int plausible_start(const char *buf, size_t len) {
  size_t n = len < VERSION_PREFIX_LEN ? len : VERSION_PREFIX_LEN;
  return memcmp(buf, VERSION_PREFIX, n) == 0;
}

/* "HTTP/1.<d> <ddd>[ <reason>]" */
static int parse_status_line(line l, http_head *out) {
  const char *p = l.p;
  if (l.len < VERSION_PREFIX_LEN + 5 || memcmp(p, VERSION_PREFIX, VERSION_PREFIX_LEN) != 0)
    return -1;
  p += VERSION_PREFIX_LEN;
  if (!is_digit(p[0]) || p[1] != ' ') return -1;
  out->minor = p[0] - '0';
  p += 2;
  size_t rest = l.len - (size_t)(p - l.p);
  if (rest < 3 || !is_digit(p[0]) || !is_digit(p[1]) || !is_digit(p[2])) return -1;
  if (rest > 3 && p[3] != ' ') return -1; /* "2000", "20x" */
  out->status = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
  out->reason = rest > 3 ? p + 4 : p + 3;
  out->reason_len = rest > 3 ? rest - 4 : 0;
  return 0;
}

/* "<name>:<blanks><value><blanks>" */
static int parse_header_line(line l, http_header *h) {
  const char *colon = memchr(l.p, ':', l.len);
  if (!colon || colon == l.p) return -1;
  for (const char *q = l.p; q < colon; q++)
    if (!is_tchar(*q)) return -1; /* also rejects continuation lines (leading blank) */
  const char *v = colon + 1, *end = l.p + l.len;
  while (v < end && is_blank(*v)) v++;
  while (end > v && is_blank(end[-1])) end--;
  h->name = l.p;
  h->name_len = (size_t)(colon - l.p);
  h->value = v;
  h->value_len = (size_t)(end - v);
  return 0;
}

int http_head_parse(const char *buf, size_t len, http_head *out) {
  memset(out, 0, sizeof *out);
  if (!buf || len == 0) return 0;
  if (!plausible_start(buf, len)) return -1;
  size_t pos = 0;
  line l;
  int r = next_line(buf, len, &pos, &l);
  if (r <= 0) return r;
  if (parse_status_line(l, out) < 0) return -1;
  for (;;) {
    r = next_line(buf, len, &pos, &l);
    if (r <= 0) return r;
    if (l.len == 0) break; /* the blank line */
    if (out->nheaders == HTTP_MAX_HEADERS) return -1;
    if (parse_header_line(l, &out->headers[out->nheaders]) < 0) return -1;
    out->nheaders++;
  }
  out->head_len = pos;
  return 1;
}

static int name_equals(const http_header *h, const char *name, size_t n) {
  if (h->name_len != n) return 0;
  for (size_t i = 0; i < n; i++)
    if (lower((unsigned char)h->name[i]) != lower((unsigned char)name[i])) return 0;
  return 1;
}

const http_header *http_head_find(const http_head *h, const char *name) {
  size_t n = strlen(name);
  for (size_t i = 0; i < h->nheaders; i++)
    if (name_equals(&h->headers[i], name, n)) return &h->headers[i];
  return NULL;
}
