/* Parser of the HTTP/1.x response head that answers a hijacking request (attach, exec start):
 * "HTTP/1.1 101 UPGRADED\r\n...\r\n\r\n", after which the connection carries the raw stream.
 * Pure logic: no I/O, no globals, no copies (every pointer points into the parsed buffer). */
#ifndef DPTY_HTTP_HEAD_H
#define DPTY_HTTP_HEAD_H

#include <stddef.h>

typedef struct {
  const char *name;
  size_t name_len;
  const char *value; /* trimmed of surrounding spaces and tabs */
  size_t value_len;
} http_header;

#define HTTP_MAX_HEADERS 48

typedef struct {
  int minor;  /* HTTP/1.<minor> */
  int status; /* three digits */
  const char *reason;
  size_t reason_len;
  http_header headers[HTTP_MAX_HEADERS];
  size_t nheaders;
  size_t head_len; /* bytes through the blank line; what follows belongs to the stream */
} http_head;

/* 1 = complete head in buf[0..head_len); 0 = incomplete so far (read more and parse again);
 * -1 = malformed (no "HTTP/1.<digit> <3 digits>" status line, a header line without a name
 * and colon, a stray CR or NUL, continuation lines, or more than HTTP_MAX_HEADERS headers).
 * Lines end in CRLF; a bare LF is tolerated. */
int http_head_parse(const char *buf, size_t len, http_head *out);

/* The first header called name (case-insensitive), or NULL. */
const http_header *http_head_find(const http_head *h, const char *name);

#endif
