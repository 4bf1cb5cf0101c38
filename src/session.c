/* A session's stream: bytes to the container, bytes from it (to the host's terminal when
 * attached, else held for later), half-close, and the host's output side. */
#include <errno.h>
#include <poll.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loop.h"

#define READ_CHUNK 65536
#define OUTLET_CAP (4 * READ_CHUNK)
#define TO_CONTAINER_CAP (4 * READ_CHUNK)
#define PENDING_CAP (16 * READ_CHUNK)

/* ---- host output ------------------------------------------------------------------ */

/* A tty or a pipe gets a private description opened O_NONBLOCK, so the shell's
 * description (shared with our fds 0..2) never changes flags; a socket is written with
 * MSG_DONTWAIT; a regular file never blocks anyway. */
static int outlet_open(outlet *o, int fd) {
  struct stat st;
  o->fd = o->wfd = fd;
  o->is_socket = 0;
  o->broken = 0;
  if (buffer_init(&o->buf, OUTLET_CAP) != 0) return -1;
  if (fstat(fd, &st) != 0) {
    o->broken = 1; /* closed fd: output is dropped, as writing would fail */
    return 0;
  }
  if (S_ISSOCK(st.st_mode)) {
    o->is_socket = 1;
  } else if (S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode)) {
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    int w = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (w >= 0) o->wfd = w;
  }
  return 0;
}

static void outlet_close(outlet *o) {
  if (o->wfd != o->fd && o->wfd >= 0) close(o->wfd);
  o->wfd = o->fd = -1;
  buffer_free(&o->buf);
}

static ssize_t outlet_raw_write(outlet *o, const unsigned char *p, size_t n) {
  ssize_t w;
  do {
    w = o->is_socket ? send(o->wfd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL) : write(o->wfd, p, n);
  } while (w < 0 && errno == EINTR);
  if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
  return w;
}

static void outlet_mark_broken(loop *l, outlet *o) {
  if (o->broken) return;
  o->broken = 1;
  buffer_clear(&o->buf);
  if (l->host) loop_push(l, EV_OUTPUT_CLOSED, l->host->id, o->fd);
}

/* Writes what the buffer holds; called when poll says writable. */
static void outlet_flush(loop *l, outlet *o) {
  while (o->buf.len && !o->broken) {
    ssize_t w = outlet_raw_write(o, buffer_head(&o->buf), o->buf.len);
    if (w < 0) {
      outlet_mark_broken(l, o);
      return;
    }
    if (w == 0) return;
    buffer_consume(&o->buf, (size_t)w);
  }
}

/* Direct write when nothing is queued (no copy on the fast path), the rest is queued.
 * The caller guarantees room: it reads from the stream only when the outlets have it. */
static void outlet_put(loop *l, outlet *o, const unsigned char *p, size_t n) {
  if (o->broken || n == 0) return;
  if (o->buf.len == 0) {
    ssize_t w = outlet_raw_write(o, p, n);
    if (w < 0) {
      outlet_mark_broken(l, o);
      return;
    }
    p += w;
    n -= (size_t)w;
  }
  buffer_append(&o->buf, p, n);
}

int outlets_drained(loop *l) { return l->out[1].buf.len == 0 && l->out[2].buf.len == 0; }

void outlets_flush(loop *l) {
  outlet_flush(l, &l->out[1]);
  outlet_flush(l, &l->out[2]);
}

static int outlets_have_room(loop *l) {
  return buffer_space(&l->out[1].buf) >= READ_CHUNK && buffer_space(&l->out[2].buf) >= READ_CHUNK;
}

/* ---- sessions --------------------------------------------------------------------- */

/* A session over a plain fd (a local pty): no curl handle, fd owned by the caller. */
session *session_new_fd(loop *l, int fd, int tty) {
  hijack_conn c;
  memset(&c, 0, sizeof c);
  c.sock = fd;
  return session_new(l, &c, tty);
}

session *session_new(loop *l, hijack_conn *conn, int tty) {
  session *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  if (buffer_init(&s->to_container, TO_CONTAINER_CAP) || buffer_init(&s->pending, PENDING_CAP) ||
      buffer_init(&s->key_rest, READ_CHUNK) || !(s->keys = keymatcher_new())) {
    buffer_free(&s->to_container);
    buffer_free(&s->pending);
    buffer_free(&s->key_rest);
    free(s);
    return NULL;
  }
  s->id = ++l->next_id;
  s->loop = l;
  s->conn = *conn;
  memset(conn, 0, sizeof *conn);
  s->tty = tty;
  s->readable = 1;
  s->key_timeout_ms = -1;
  frame_demux_init(&s->demux);
  /* Stream bytes that came with the response head are output like any other. */
  if (s->conn.leftover_len) {
    buffer_append(&s->pending, s->conn.leftover, s->conn.leftover_len);
    free(s->conn.leftover);
    s->conn.leftover = NULL;
    s->conn.leftover_len = 0;
  }
  s->next = l->sessions;
  l->sessions = s;
  return s;
}

void session_close(session *s) {
  if (s->closed) return;
  loop *l = s->loop;
  if (l->host == s) host_detach(l);
  for (session **p = &l->sessions; *p; p = &(*p)->next) {
    if (*p == s) {
      *p = s->next;
      break;
    }
  }
  hijack_close(&s->conn);
  buffer_free(&s->to_container);
  buffer_free(&s->pending);
  buffer_free(&s->key_rest);
  dynbuf_free(&s->tapped_out);
  dynbuf_free(&s->tapped_in);
  keymatcher_free(s->keys);
  s->keys = NULL;
  s->closed = 1;
}

/* One read or write on the stream: the hijacked connection through libcurl (plain or TLS),
 * or a plain fd (a local command's pty, whose master reads EIO once the child is gone).
 * -> bytes moved, 0 at EOF (reads), -1 when it would block, -2 on an error (why set). */
static long stream_io(session *s, int writing, void *buf, size_t n, char *why, size_t cap) {
  if (!s->conn.easy) {
    ssize_t k;
    do {
      k = writing ? write(s->conn.sock, buf, n) : read(s->conn.sock, buf, n);
    } while (k < 0 && errno == EINTR);
    if (k >= 0) return (long)k;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return -1;
    if (!writing && errno == EIO) return 0;
    snprintf(why, cap, "%s", strerror(errno));
    return -2;
  }
  size_t k = 0;
  CURLcode rc = writing ? curl_easy_send(s->conn.easy, buf, n, &k) : curl_easy_recv(s->conn.easy, buf, n, &k);
  if (rc == CURLE_AGAIN) return -1;
  if (rc != CURLE_OK) {
    snprintf(why, cap, "%s", curl_easy_strerror(rc));
    return -2;
  }
  return (long)k;
}

static void session_fail(session *s, const char *what) {
  if (!s->error[0]) snprintf(s->error, sizeof s->error, "%s", what);
  s->read_eof = 1;
}

size_t session_send(session *s, const void *p, size_t n) {
  if (s->closed || s->write_closed || s->want_shutdown) return 0;
  size_t k = buffer_append(&s->to_container, p, n);
  session_pump_write(s);
  return k;
}

void session_close_write(session *s) {
  if (s->closed || s->write_closed) return;
  s->want_shutdown = 1;
  session_pump_write(s);
}

void session_pump_write(session *s) {
  while (s->to_container.len) {
    char why[128];
    long k = stream_io(s, 1, (void *)buffer_head(&s->to_container), s->to_container.len, why, sizeof why);
    if (k == -1) return;
    if (k < 0) {
      /* The Engine stopped reading (the process ended): input is moot, output may go on. */
      buffer_clear(&s->to_container);
      s->write_closed = 1;
      return;
    }
    buffer_consume(&s->to_container, (size_t)k);
  }
  if (s->want_shutdown && !s->write_closed && s->conn.easy) {
    /* Half-close: the Engine delivers EOF to the process's stdin (non-tty sessions). */
    if (hijack_shutdown_write(&s->conn) != 0)
      snprintf(s->error, sizeof s->error, "could not close the container's input: %s", strerror(errno));
    s->write_closed = 1;
  }
}

/* A piece of output for Lua's output hooks: [stream][length, 4 bytes][bytes]. */
static void tap_piece(session *s, int stream, const unsigned char *p, size_t n) {
  unsigned char head[5] = {(unsigned char)stream, (unsigned char)(n >> 24), (unsigned char)(n >> 16),
                           (unsigned char)(n >> 8), (unsigned char)n};
  if (dynbuf_add(&s->tapped_out, head, 5) || dynbuf_add(&s->tapped_out, p, n))
    session_fail(s, "out of memory for output hooks");
}

static void put_stream(session *s, int stream, const unsigned char *p, size_t n) {
  loop *l = s->loop;
  if (s->tap_output)
    tap_piece(s, stream, p, n);
  else
    outlet_put(l, stream == 2 || stream == 3 ? &l->out[2] : &l->out[1], p, n);
}

/* Output to the host: tty streams go to stdout whole; frames by their stream. */
static void deliver_frame(void *ud, int stream, const unsigned char *p, size_t n) {
  put_stream(ud, stream, p, n);
}

static void deliver(session *s, const unsigned char *p, size_t n) {
  if (s->tty) {
    put_stream(s, 1, p, n);
  } else if (frame_demux_feed(&s->demux, p, n, deliver_frame, s) != 0) {
    session_fail(s, "the Docker daemon sent a malformed stream frame");
  }
  if (s->tapped_out.len) loop_push(s->loop, EV_OUTPUT, s->id, 0);
}

/* Reads what the stream has, as far as there is room for it. Reads are gathered into one
 * chunk until the stream has no more for now, then written to the host at once: the
 * Engine sends a tty's output in pieces of a few hundred bytes, and one write per piece
 * would double the system calls of a bulk transfer. */
size_t session_pump_read(session *s) {
  loop *l = s->loop;
  size_t fresh = 0;
  unsigned char chunk[READ_CHUNK];
  size_t have = 0;
  int attached = l->host == s;
  /* Output that arrived before the host was attached goes first, as room allows. */
  while (attached && s->pending.len && outlets_have_room(l) && !s->tapped_out.len) {
    size_t k = s->pending.len < READ_CHUNK ? s->pending.len : READ_CHUNK;
    deliver(s, buffer_head(&s->pending), k);
    buffer_consume(&s->pending, k);
  }
  if (attached && (s->pending.len || s->tapped_out.len)) return 0;
  if (attached && !outlets_have_room(l)) return 0;
  while (!s->read_eof) {
    size_t room = attached ? READ_CHUNK - have : buffer_space(&s->pending);
    if (room > READ_CHUNK) room = READ_CHUNK;
    if (room == 0) {
      s->readable = 1; /* stopped before EAGAIN: TLS may hold the rest of a record */
      break;
    }
    char why[160], what[256];
    long got = stream_io(s, 0, attached ? chunk + have : chunk, room, why, sizeof why);
    if (got == -1) {
      s->readable = 0; /* drained: wait for poll */
      break;
    }
    if (got == -2) {
      snprintf(what, sizeof what, s->conn.easy ? "lost the connection to the Docker daemon: %s" : "%s", why);
      session_fail(s, what);
      break;
    }
    if (got == 0) {
      s->read_eof = 1;
      break;
    }
    fresh += (size_t)got;
    if (attached) {
      have += (size_t)got;
    } else {
      buffer_append(&s->pending, chunk, (size_t)got);
      if (s->want_data && !s->data_signalled) { /* a script reads this session */
        s->data_signalled = 1;
        loop_push(l, EV_DATA, s->id, 0);
      }
    }
  }
  if (have) deliver(s, chunk, have);
  return fresh;
}

static void queue_key_bytes(void *ud, const unsigned char *p, size_t n) {
  session *s = ud;
  if (s->tap_input) {
    if (dynbuf_add(&s->tapped_in, p, n)) session_fail(s, "out of memory for input hooks");
  } else {
    buffer_append(&s->to_container, p, n);
  }
}

int session_flush_keys(session *s) { return keymatcher_flush(s->keys, queue_key_bytes, s); }

/* Whether the stream should be read now: only with room for what it may bring. */
int session_wants_read(const session *s) {
  loop *l = s->loop;
  if (s->read_eof) return 0;
  if (l->host == s) return !s->pending.len && !s->tapped_out.len && outlets_have_room(l);
  return buffer_space(&s->pending) > 0;
}

/* Host keys through the session's bindings; a match stops the feed and becomes an event,
 * the rest waits in key_rest until Lua has acted on the match. */
void session_feed_keys(session *s, const unsigned char *p, size_t n) {
  s->keys_unsettled = 0;
  do { /* an empty feed settles bytes still held after a match */
    int match = -1;
    size_t used = keymatcher_feed(s->keys, p, n, queue_key_bytes, s, &match);
    p += used;
    n -= used;
    if (match >= 0) {
      buffer_append(&s->key_rest, p, n);
      s->keys_unsettled = 1;
      loop_push(s->loop, EV_KEY, s->id, match);
      break;
    }
  } while (n);
  s->key_deadline =
      keymatcher_pending(s->keys) && s->key_timeout_ms >= 0 ? loop_now_ms() + s->key_timeout_ms : 0;
  if (s->tapped_in.len) loop_push(s->loop, EV_INPUT, s->id, 0);
  session_pump_write(s);
}

/* ---- the host link ---------------------------------------------------------------- */

void host_write(loop *l, int stream, const unsigned char *p, size_t n) {
  outlet *o = &l->out[stream == 2 ? 2 : 1];
  while (n && !o->broken) {
    size_t k = buffer_append(&o->buf, p, n);
    p += k;
    n -= k;
    outlet_flush(l, o);
    if (n) { /* more than fits and a slow terminal: wait for it (hook output is rare) */
      struct pollfd pf = {.fd = o->wfd, .events = POLLOUT};
      (void)poll(&pf, 1, 100);
    }
  }
}

int host_attach(loop *l, session *s, int use_stdin, int raw, char *err, size_t errcap) {
  if (l->host) {
    snprintf(err, errcap, "the terminal is already attached to another session");
    return -1;
  }
  fflush(stdout); /* what Lua printed goes out before the session's output */
  fflush(stderr);
  if (outlet_open(&l->out[1], 1) || outlet_open(&l->out[2], 2)) {
    snprintf(err, errcap, "out of memory");
    outlet_close(&l->out[1]);
    return -1;
  }
  if (raw && term_raw(&l->term, 0) != 0) {
    snprintf(err, errcap, "cannot put the terminal in raw mode: %s", strerror(errno));
    outlet_close(&l->out[1]);
    outlet_close(&l->out[2]);
    return -1;
  }
  l->host = s;
  s->last_input_ms = loop_now_ms();
  l->host_stdin = use_stdin ? 0 : -1;
  l->stdin_eof = 0;
  return 0;
}

void host_detach(loop *l) {
  if (!l->host) return;
  term_restore(&l->term);
  /* Output still queued goes out blocking-free as far as it can; a detach must not hang. */
  outlets_flush(l);
  outlet_close(&l->out[1]);
  outlet_close(&l->out[2]);
  l->host = NULL;
  l->host_stdin = -1;
}
