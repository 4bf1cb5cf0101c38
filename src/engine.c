#include "engine.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http_head.h"

#define USER_AGENT "dpty/" DPTY_VERSION

int dynbuf_add(dynbuf *b, const void *p, size_t n) {
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < b->len + n + 1) cap *= 2;
    char *d = realloc(b->data, cap);
    if (!d) return -1;
    b->data = d;
    b->cap = cap;
  }
  memcpy(b->data + b->len, p, n);
  b->len += n;
  b->data[b->len] = '\0';
  return 0;
}

void dynbuf_free(dynbuf *b) {
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud) {
  request *r = ud;
  return dynbuf_add(&r->response, p, size * n) == 0 ? size * n : 0;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud) {
  request *r = ud;
  /* A 1xx interim response or a redirect starts a new head: keep only the last. */
  if (size * n > 5 && memcmp(p, "HTTP/", 5) == 0) r->response_head.len = 0;
  return dynbuf_add(&r->response_head, p, size * n) == 0 ? size * n : 0;
}

#define SET(h, opt, val)                                                            \
  do {                                                                              \
    CURLcode rc_ = curl_easy_setopt(h, opt, val);                                   \
    if (rc_ != CURLE_OK) {                                                          \
      snprintf(err, errcap, "libcurl refused option %s: %s", #opt, curl_easy_strerror(rc_)); \
      goto fail;                                                                    \
    }                                                                               \
  } while (0)

static char *join_url(const engine_target *t, const char *path) {
  size_t n = strlen(t->base_url) + strlen(path) + 1;
  char *url = malloc(n);
  if (url) snprintf(url, n, "%s%s", t->base_url, path);
  return url;
}

request *request_new(const engine_target *t, const char *method, const char *path,
                     const char *const *headers, const char *body, size_t body_len,
                     long timeout_ms, char *err, size_t errcap) {
  request *r = calloc(1, sizeof *r);
  char *url = join_url(t, path);
  if (!r || !url) {
    snprintf(err, errcap, "out of memory");
    free(url);
    free(r);
    return NULL;
  }
  r->easy = curl_easy_init();
  if (!r->easy) {
    snprintf(err, errcap, "libcurl could not create a handle");
    goto fail;
  }
  SET(r->easy, CURLOPT_URL, url);
  if (t->unix_path) SET(r->easy, CURLOPT_UNIX_SOCKET_PATH, t->unix_path);
  SET(r->easy, CURLOPT_NOSIGNAL, 1L);
  SET(r->easy, CURLOPT_USERAGENT, USER_AGENT);
  SET(r->easy, CURLOPT_ERRORBUFFER, r->errbuf);
  SET(r->easy, CURLOPT_WRITEFUNCTION, on_body);
  SET(r->easy, CURLOPT_WRITEDATA, r);
  SET(r->easy, CURLOPT_HEADERFUNCTION, on_header);
  SET(r->easy, CURLOPT_HEADERDATA, r);
  SET(r->easy, CURLOPT_PRIVATE, r);
  SET(r->easy, CURLOPT_CONNECTTIMEOUT_MS, 30000L);
  if (timeout_ms > 0) SET(r->easy, CURLOPT_TIMEOUT_MS, timeout_ms);
  if (strcmp(method, "HEAD") == 0) {
    SET(r->easy, CURLOPT_NOBODY, 1L);
  } else if (strcmp(method, "GET") != 0) {
    SET(r->easy, CURLOPT_CUSTOMREQUEST, method);
    r->body = malloc(body_len + 1);
    if (!r->body) {
      snprintf(err, errcap, "out of memory");
      goto fail;
    }
    if (body_len) memcpy(r->body, body, body_len);
    r->body[body_len] = '\0';
    SET(r->easy, CURLOPT_POSTFIELDS, r->body);
    SET(r->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
  }
  for (const char *const *h = headers; h && *h; h++) {
    struct curl_slist *l = curl_slist_append(r->headers, *h);
    if (!l) {
      snprintf(err, errcap, "out of memory");
      goto fail;
    }
    r->headers = l;
  }
  if (!body_len) { /* no body: no Content-Type (curl would claim a form) */
    struct curl_slist *l = curl_slist_append(r->headers, "Content-Type:");
    if (!l) {
      snprintf(err, errcap, "out of memory");
      goto fail;
    }
    r->headers = l;
  }
  SET(r->easy, CURLOPT_HTTPHEADER, r->headers);
  free(url);
  return r;
fail:
  free(url);
  request_free(r);
  return NULL;
}

void request_free(request *r) {
  if (!r) return;
  if (r->easy) curl_easy_cleanup(r->easy);
  curl_slist_free_all(r->headers);
  free(r->body);
  dynbuf_free(&r->response);
  dynbuf_free(&r->response_head);
  free(r);
}

static void describe_target(const engine_target *t, char *out, size_t cap) {
  if (t->unix_path)
    snprintf(out, cap, "unix://%s", t->unix_path);
  else
    snprintf(out, cap, "%s", t->base_url);
}

void request_describe_error(const request *r, const engine_target *t, char *out, size_t cap) {
  char where[512];
  describe_target(t, where, sizeof where);
  const char *why = r->errbuf[0] ? r->errbuf : curl_easy_strerror(r->result);
  if (r->result == CURLE_COULDNT_CONNECT || r->result == CURLE_COULDNT_RESOLVE_HOST)
    snprintf(out, cap, "Cannot connect to the Docker daemon at %s (%s). Is the docker daemon running?",
             where, why);
  else if (r->result == CURLE_PARTIAL_FILE || r->result == CURLE_RECV_ERROR ||
           r->result == CURLE_GOT_NOTHING || r->result == CURLE_SEND_ERROR)
    snprintf(out, cap, "lost the connection to the Docker daemon at %s (%s)", where, why);
  else
    snprintf(out, cap, "request to the Docker daemon at %s failed: %s", where, why);
}

static long elapsed_ms(const struct timespec *since) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (now.tv_sec - since->tv_sec) * 1000 + (now.tv_nsec - since->tv_nsec) / 1000000;
}

/* Waits until the socket is ready for `events`, within the remaining time. */
static int wait_socket(curl_socket_t s, short events, const struct timespec *start, int timeout_ms) {
  for (;;) {
    long left = timeout_ms - elapsed_ms(start);
    if (left <= 0) return 0;
    struct pollfd p = {.fd = s, .events = events};
    int n = poll(&p, 1, (int)left);
    if (n > 0) return 1;
    if (n < 0 && errno != EINTR) return -1;
  }
}

int engine_hijack(const engine_target *t, const char *method, const char *path,
                  const char *content_type, const char *body, size_t body_len, int timeout_ms,
                  hijack_conn *conn, long *status, char *refusal, size_t refcap, char *err,
                  size_t errcap) {
  char where[512], errbuf[CURL_ERROR_SIZE] = "";
  dynbuf req = {0}, resp = {0};
  struct timespec start;
  CURLcode rc;
  const char *base_path = "";
  memset(conn, 0, sizeof *conn);
  conn->sock = CURL_SOCKET_BAD;
  *status = 0;
  clock_gettime(CLOCK_MONOTONIC, &start);
  describe_target(t, where, sizeof where);

  /* For tcp://host:port/base the base path prefixes the request target. */
  if (!t->unix_path) {
    const char *p = strstr(t->base_url, "://");
    p = p ? strchr(p + 3, '/') : NULL;
    if (p) base_path = p;
  }
  conn->easy = curl_easy_init();
  if (!conn->easy) {
    snprintf(err, errcap, "libcurl could not create a handle");
    return -1;
  }
  SET(conn->easy, CURLOPT_URL, t->base_url);
  if (t->unix_path) SET(conn->easy, CURLOPT_UNIX_SOCKET_PATH, t->unix_path);
  SET(conn->easy, CURLOPT_CONNECT_ONLY, 1L);
  SET(conn->easy, CURLOPT_NOSIGNAL, 1L);
  SET(conn->easy, CURLOPT_ERRORBUFFER, errbuf);
  SET(conn->easy, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms);
  SET(conn->easy, CURLOPT_TCP_KEEPALIVE, 1L);
  SET(conn->easy, CURLOPT_TCP_KEEPIDLE, 30L);
  rc = curl_easy_perform(conn->easy);
  if (rc != CURLE_OK) {
    snprintf(err, errcap, "Cannot connect to the Docker daemon at %s (%s). Is the docker daemon running?",
             where, errbuf[0] ? errbuf : curl_easy_strerror(rc));
    goto fail;
  }
  rc = curl_easy_getinfo(conn->easy, CURLINFO_ACTIVESOCKET, &conn->sock);
  if (rc != CURLE_OK || conn->sock == CURL_SOCKET_BAD) {
    snprintf(err, errcap, "libcurl gave no socket for %s", where);
    goto fail;
  }

  char head[1024];
  int n = snprintf(head, sizeof head,
                   "%s %s%s HTTP/1.1\r\nHost: api.moby.localhost\r\nUser-Agent: " USER_AGENT
                   "\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Type: %s\r\n"
                   "Content-Length: %zu\r\n\r\n",
                   method, base_path, path, content_type ? content_type : "text/plain", body_len);
  if (n < 0 || (size_t)n >= sizeof head) {
    snprintf(err, errcap, "request path too long: %s", path);
    goto fail;
  }
  if (dynbuf_add(&req, head, (size_t)n) || (body_len && dynbuf_add(&req, body, body_len))) {
    snprintf(err, errcap, "out of memory");
    goto fail;
  }
  for (size_t sent = 0; sent < req.len;) {
    size_t k = 0;
    rc = curl_easy_send(conn->easy, req.data + sent, req.len - sent, &k);
    if (rc == CURLE_AGAIN) {
      if (wait_socket(conn->sock, POLLOUT, &start, timeout_ms) <= 0) {
        snprintf(err, errcap, "timed out sending to the Docker daemon at %s", where);
        goto fail;
      }
      continue;
    }
    if (rc != CURLE_OK) {
      snprintf(err, errcap, "lost the Docker daemon at %s: %s", where, curl_easy_strerror(rc));
      goto fail;
    }
    sent += k;
  }

  http_head h;
  int parsed = 0, eof = 0;
  for (;;) {
    char chunk[16384];
    size_t k = 0;
    rc = curl_easy_recv(conn->easy, chunk, sizeof chunk, &k);
    if (rc == CURLE_AGAIN) {
      int w = wait_socket(conn->sock, POLLIN, &start, timeout_ms);
      if (w <= 0) {
        snprintf(err, errcap, "the Docker daemon at %s did not answer %s %s in time", where, method,
                 path);
        goto fail;
      }
      continue;
    }
    if (rc != CURLE_OK) {
      snprintf(err, errcap, "lost the Docker daemon at %s: %s", where, curl_easy_strerror(rc));
      goto fail;
    }
    if (k == 0) eof = 1;
    if (k && dynbuf_add(&resp, chunk, k)) {
      snprintf(err, errcap, "out of memory");
      goto fail;
    }
    if (!parsed) {
      parsed = http_head_parse(resp.data ? resp.data : "", resp.len, &h);
      if (parsed < 0) {
        snprintf(err, errcap, "the Docker daemon at %s sent a malformed response to %s %s", where,
                 method, path);
        goto fail;
      }
      if (parsed > 0 && (h.status == 101 || h.status == 200)) break;
    }
    if (eof) {
      if (!parsed) {
        snprintf(err, errcap, "the Docker daemon at %s closed the connection before answering %s %s",
                 where, method, path);
        goto fail;
      }
      break; /* a refusal: its plain-text body ran to the end of the connection */
    }
  }
  *status = h.status;
  if (h.status != 101 && h.status != 200) {
    size_t blen = resp.len - h.head_len;
    const char *b = resp.data + h.head_len;
    while (blen && (b[blen - 1] == '\n' || b[blen - 1] == '\r')) blen--;
    snprintf(refusal, refcap, "%.*s", (int)blen, b);
    /* Errors from a JSON-speaking layer still come as {"message": ...}: leave that to Lua. */
    dynbuf_free(&resp);
    dynbuf_free(&req);
    hijack_close(conn);
    return 1;
  }
  conn->leftover_len = resp.len - h.head_len;
  if (conn->leftover_len) {
    conn->leftover = malloc(conn->leftover_len);
    if (!conn->leftover) {
      snprintf(err, errcap, "out of memory");
      goto fail;
    }
    memcpy(conn->leftover, resp.data + h.head_len, conn->leftover_len);
  }
  dynbuf_free(&resp);
  dynbuf_free(&req);
  return 0;
fail:
  dynbuf_free(&resp);
  dynbuf_free(&req);
  hijack_close(conn);
  return -1;
}

void hijack_close(hijack_conn *c) {
  if (c->easy) curl_easy_cleanup(c->easy);
  c->easy = NULL;
  c->sock = CURL_SOCKET_BAD;
  free(c->leftover);
  c->leftover = NULL;
  c->leftover_len = 0;
}
