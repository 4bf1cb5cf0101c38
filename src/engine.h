/* Engine transport over libcurl: ordinary requests (run by the loop's multi handle, so a
 * long-poll such as /wait never blocks anything) and the hijack that turns one request
 * into the duplex byte stream of an attach or an exec. */
#ifndef DPTY_ENGINE_H
#define DPTY_ENGINE_H

#include <curl/curl.h>
#include <stddef.h>

/* Where the Engine listens, and how to get there:
 *   unix socket   unix_path (base_url is then "http://localhost")
 *   tcp           base_url "http://host:port[/base]"
 *   tcp + TLS     base_url "https://host:port[/base]" and the tls_* settings
 *   a command     command = {"ssh", ..., "docker", "system", "dial-stdio", NULL}: each
 *                 connection runs it and speaks HTTP over its stdin/stdout (ssh://)
 * The strings belong to the caller and need to live only as long as the call that is
 * given the target: requests and hijacks copy what they keep. */
#define ENGINE_MAX_COMMAND 64

typedef struct {
  const char *unix_path;
  const char *base_url;
  const char *name;     /* how messages name the Engine ("ssh://me@host"); NULL: from the above */
  const char *tls_ca;   /* PEM files; NULL: none (the system's CAs for tls_ca) */
  const char *tls_cert;
  const char *tls_key;
  int tls_verify;       /* check the Engine's certificate and host name */
  const char *command[ENGINE_MAX_COMMAND + 1]; /* NULL-terminated; command[0] NULL: none */
} engine_target;

/* A connection command, as a request or a hijack keeps it (copied from the target). */
typedef struct engine_command engine_command;

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
  int head_done;        /* 1 once the final response head has arrived (a long poll such as
                           /wait answers its head at once: then it is registered) */
  int interim;          /* the head being read is a 1xx one */
  int head_reported;    /* the loop has announced head_done (EV_HEAD) */
  CURLcode result;
  char errbuf[CURL_ERROR_SIZE];
  int id;               /* the Lua side's handle for completion events */
  engine_command *command; /* for a command target (ssh): what each connection runs */
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
 * arrived with the response head. Over TLS the bytes go through curl_easy_send/recv; the
 * socket is for poll() and for the half-close. */
typedef struct {
  CURL *easy;
  curl_socket_t sock;
  char *leftover;
  size_t leftover_len;
  engine_command *command; /* owned: the connection command of a command target */
} hijack_conn;

/* Sends `method path` with Upgrade: tcp and reads the response head (blocking, up to
 * timeout_ms). Returns 0 on 101/200 (conn filled), 1 when the Engine refused (status and
 * its plain-text message in refusal), -1 on a transport error (err set). */
int engine_hijack(const engine_target *t, const char *method, const char *path,
                  const char *content_type, const char *body, size_t body_len, int timeout_ms,
                  hijack_conn *conn, long *status, char *refusal, size_t refcap, char *err,
                  size_t errcap);
void hijack_close(hijack_conn *c);
/* Ends the stream towards the Engine, keeping the other direction open: the process in a
 * non-tty attach (StdinOnce) or exec gets EOF on its stdin. Works on every transport: a
 * unix or tcp socket gets shutdown(SHUT_WR); over TLS the same TCP FIN arrives at a record
 * boundary, which Go's crypto/tls (the Engine) reads as a clean io.EOF (libcurl has no
 * close_notify-only call); for a command (ssh) the command's stdin ends, and
 * `docker system dial-stdio` passes that on as CloseWrite. 0, or -1 with errno set. */
int hijack_shutdown_write(hijack_conn *c);

/* Whether the target is well formed (a base URL, a command of at most
 * ENGINE_MAX_COMMAND words, ...); 0, or -1 with err set. */
int engine_target_check(const engine_target *t, char *err, size_t errcap);

/* lua_transport.c: fills t from a Lua target table {unix=, base=, name=, tls={ca=, cert=,
 * key=, verify=}, command={...}}; the strings stay the table's. Raises when malformed. */
struct lua_State;
void dpty_check_target(struct lua_State *L, int idx, engine_target *t);

int dynbuf_add(dynbuf *b, const void *p, size_t n);
void dynbuf_free(dynbuf *b);

#endif
