/* Engine transport over libcurl: ordinary requests (run by the loop's multi handle, so a
 * long-poll such as /wait never blocks anything) and the hijack that turns one request
 * into the duplex byte stream of an attach or an exec. */
#ifndef DPTY_ENGINE_H
#define DPTY_ENGINE_H

#include <curl/curl.h>
#include <stddef.h>

/* Where the Engine listens: unix_path for a unix socket (then base_url is
 * "http://localhost"), or only base_url ("http://host:port[/base]"). */
typedef struct {
  const char *unix_path;
  const char *base_url;
} engine_target;

typedef struct {
  char *data;
  size_t len, cap;
} dynbuf;

typedef struct request {
  CURL *easy;
  struct curl_slist *headers;
  char *body;           /* request body, owned */
  dynbuf response;      /* response body */
  dynbuf response_head; /* response header lines */
  long status;
  int done;             /* 1 when finished (result tells how) */
  CURLcode result;
  char errbuf[CURL_ERROR_SIZE];
  int id;               /* the Lua side's handle for completion events */
  struct request *next; /* in the loop's list of requests in flight */
} request;

/* Builds a request; method "HEAD" sends no body. headers: NULL-terminated "Name: value".
 * timeout_ms 0 = none (long polls). Returns NULL with err set. */
request *request_new(const engine_target *t, const char *method, const char *path,
                     const char *const *headers, const char *body, size_t body_len,
                     long timeout_ms, char *err, size_t errcap);
void request_free(request *r);
/* A message for a failed transfer, naming the endpoint. */
void request_describe_error(const request *r, const engine_target *t, char *out, size_t cap);

/* A connected hijack: the curl handle that owns the socket, and the stream bytes that
 * arrived with the response head. */
typedef struct {
  CURL *easy;
  curl_socket_t sock;
  char *leftover;
  size_t leftover_len;
} hijack_conn;

/* Sends `method path` with Upgrade: tcp and reads the response head (blocking, up to
 * timeout_ms). Returns 0 on 101/200 (conn filled), 1 when the Engine refused (status and
 * its plain-text message in refusal), -1 on a transport error (err set). */
int engine_hijack(const engine_target *t, const char *method, const char *path,
                  const char *content_type, const char *body, size_t body_len, int timeout_ms,
                  hijack_conn *conn, long *status, char *refusal, size_t refcap, char *err,
                  size_t errcap);
void hijack_close(hijack_conn *c);

int dynbuf_add(dynbuf *b, const void *p, size_t n);
void dynbuf_free(dynbuf *b);

#endif
