#include "loop.h"

#include <errno.h>
#include <signal.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define STDIN_CHUNK 16384
#define MAX_POLL 256
/* Output that trickles in small pieces (a tty's output comes from the Engine in pieces of a
 * few hundred bytes) is gathered for a moment before the next poll: one wakeup, one read
 * and one write per COALESCE_US instead of per piece. The wakeups are what costs on a busy
 * machine: each one takes a core from the Engine, which does the real work of a session.
 * A turn that read COALESCE_BELOW or more does not wait (the stream is fast; reads are big
 * anyway), and the delay, two milliseconds, is far below what a person can see (a frame of
 * a 60 Hz screen lasts 16 ms). */
#define COALESCE_BELOW 16384
#define COALESCE_US 2000

int64_t loop_now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* DPTY_COALESCE_US overrides COALESCE_US (0: off), for measuring what it is worth. */
static long coalesce_us(void) {
  const char *v = getenv("DPTY_COALESCE_US");
  if (!v || !*v) return COALESCE_US;
  long us = strtol(v, NULL, 10);
  return us < 0 ? 0 : us > 100000 ? 100000 : us;
}

int loop_init(loop *l, char *err, size_t errcap) {
  memset(l, 0, sizeof *l);
  l->host_stdin = -1;
  l->term.fd = -1;
  l->out[1].fd = l->out[1].wfd = l->out[2].fd = l->out[2].wfd = -1;
  l->coalesce_us = coalesce_us();
  l->multi = curl_multi_init();
  if (!l->multi) {
    snprintf(err, errcap, "libcurl could not create a multi handle");
    return -1;
  }
  if (signals_open(&l->signals) != 0) {
    snprintf(err, errcap, "cannot watch signals: %s", strerror(errno));
    curl_multi_cleanup(l->multi);
    l->multi = NULL;
    return -1;
  }
  /* A reader of our stdout that went away must show up as EPIPE, not kill us. */
  if (signals_ignore(&l->signals, SIGPIPE) != 0) {
    snprintf(err, errcap, "cannot ignore SIGPIPE: %s", strerror(errno));
    loop_close(l);
    return -1;
  }
  return 0;
}

void loop_close(loop *l) {
  host_detach(l);
  while (l->sessions) session_close(l->sessions);
  while (l->requests) loop_remove_request(l, l->requests);
  if (l->multi) {
    CURLMcode rc = curl_multi_cleanup(l->multi);
    (void)rc; /* nothing left to do about it at close */
    l->multi = NULL;
    signals_close(&l->signals);
  }
  free(l->events);
  l->events = NULL;
  l->nevents = l->cap_events = 0;
}

int loop_push(loop *l, int kind, int id, long value) {
  if (l->nevents == l->cap_events) {
    size_t cap = l->cap_events ? l->cap_events * 2 : 16;
    loop_event *e = realloc(l->events, cap * sizeof *e);
    if (!e) return -1;
    l->events = e;
    l->cap_events = cap;
  }
  l->events[l->nevents++] = (loop_event){kind, id, value};
  return 0;
}

int loop_add_request(loop *l, request *r, char *err, size_t errcap) {
  CURLMcode rc = curl_multi_add_handle(l->multi, r->easy);
  if (rc != CURLM_OK) {
    snprintf(err, errcap, "libcurl: %s", curl_multi_strerror(rc));
    return -1;
  }
  r->id = ++l->next_id;
  r->next = l->requests;
  l->requests = r;
  return 0;
}

/* Takes a request out of the loop (finished or abandoned); the caller frees it. */
void loop_remove_request(loop *l, request *r) {
  for (request **p = &l->requests; *p; p = &(*p)->next) {
    if (*p == r) {
      *p = r->next;
      (void)curl_multi_remove_handle(l->multi, r->easy);
      r->next = NULL;
      return;
    }
  }
}

/* A response head that came in wakes the script (EV_HEAD): a wait that must be registered
 * before a start is waited for by its head, and the start goes out at once. */
static void announce_heads(loop *l) {
  for (request *r = l->requests; r; r = r->next) {
    if (r->head_done && !r->head_reported) {
      r->head_reported = 1;
      loop_push(l, EV_HEAD, r->id, 0);
    }
  }
}

static void collect_finished_requests(loop *l) {
  CURLMsg *m;
  int left;
  while ((m = curl_multi_info_read(l->multi, &left))) {
    if (m->msg != CURLMSG_DONE) continue;
    request *r = NULL;
    if (curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r) != CURLE_OK || !r) continue;
    r->done = 1;
    r->result = m->data.result;
    if (curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &r->status) != CURLE_OK) r->status = 0;
    loop_push(l, EV_REQUEST, r->id, 0);
  }
}

static void flush_held_keys(session *s);

/* Reads host keys into the attached session, through its bindings. */
static void pump_stdin(loop *l) {
  session *s = l->host;
  unsigned char chunk[STDIN_CHUNK];
  ssize_t n;
  do {
    n = read(l->host_stdin, chunk, sizeof chunk);
  } while (n < 0 && errno == EINTR);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
  if (n > 0) {
    s->last_input_ms = loop_now_ms();
    if (s->tty) {
      session_feed_keys(s, chunk, (size_t)n);
    } else if (s->tap_input) {
      session_feed_keys(s, chunk, (size_t)n); /* no bindings: all of it goes to the tap */
    } else {
      session_send(s, chunk, (size_t)n);
    }
    return;
  }
  /* EOF, or EIO when the terminal went away. Held keys were typed: they go out. A tty
   * stream would end if half-closed (and its process gets no EOF), so only a non-tty
   * session passes the EOF on. */
  l->stdin_eof = 1;
  if (s->tty) {
    flush_held_keys(s);
  } else if (s->tapped_in.len) {
    s->shutdown_after_tap = 1; /* after Lua's input hooks have passed the last bytes on */
  } else {
    session_close_write(s);
  }
}


/* Runs until at least one event is queued or timeout_ms passes (<0: no timeout). */
int loop_wait(loop *l, long timeout_ms) {
  int64_t deadline = timeout_ms >= 0 ? loop_now_ms() + timeout_ms : -1;
  struct curl_waitfd fds[MAX_POLL];
  session *who[MAX_POLL];
  l->nevents = 0;

  session *h = l->host;
  if (h && h->keys_unsettled) { /* input that followed a key match Lua has now handled */
    unsigned char rest[STDIN_CHUNK * 4];
    size_t n = h->key_rest.len < sizeof rest ? h->key_rest.len : sizeof rest;
    memcpy(rest, buffer_head(&h->key_rest), n);
    buffer_consume(&h->key_rest, n);
    session_feed_keys(h, rest, n);
  }

  while (l->nevents == 0) {
    int64_t now = loop_now_ms();
    long wait_ms = 1000;
    size_t n = 0;
    h = l->host;

    /* read what poll reported (or what may still be buffered: TLS, a full buffer), move
     * output held from before an attach; EOF is reported once all of it reached the host */
    size_t fresh = 0; /* bytes read from the streams in this turn */
    for (session *s = l->sessions; s; s = s->next) {
      if (s->readable || (l->host == s && s->pending.len)) fresh += session_pump_read(s);
      if (s->read_eof && !s->eof_reported && (l->host != s || (outlets_drained(l) && !s->pending.len && !s->tapped_out.len))) {
        s->eof_reported = 1;
        loop_push(l, EV_EOF, s->id, 0);
      }
    }
    if (h && h->key_deadline && now >= h->key_deadline) flush_held_keys(h);
    if (l->nevents) break;
    if (deadline >= 0 && now >= deadline) break;

    fds[n++] = (struct curl_waitfd){.fd = l->signals.pipe[0], .events = POLLIN};
    if (h) {
      if (l->host_stdin >= 0 && !l->stdin_eof && !h->key_rest.len && !h->tapped_in.len && !h->write_closed &&
          buffer_space(&h->to_container) >= STDIN_CHUNK + 64)
        who[n] = NULL, fds[n++] = (struct curl_waitfd){.fd = l->host_stdin, .events = POLLIN};
      for (int i = 1; i <= 2; i++)
        if (l->out[i].buf.len && !l->out[i].broken)
          who[n] = NULL, fds[n++] = (struct curl_waitfd){.fd = l->out[i].wfd, .events = POLLOUT};
    }
    for (session *s = l->sessions; s && n < MAX_POLL; s = s->next) {
      short ev = 0;
      if (!s->read_eof) {
        if (session_wants_read(s)) {
          ev |= POLLIN;
          /* its last read stopped short of EAGAIN: bytes may wait where poll cannot see
           * them (a TLS record read in part), so look again without sleeping */
          if (s->readable) wait_ms = 0;
        }
      }
      if (s->to_container.len || (s->want_shutdown && !s->write_closed)) ev |= POLLOUT;
      if (ev) who[n] = s, fds[n++] = (struct curl_waitfd){.fd = s->conn.sock, .events = ev};
    }
    if (deadline >= 0 && deadline - now < wait_ms) wait_ms = (long)(deadline - now);
    if (h && h->key_deadline && h->key_deadline - now < wait_ms) wait_ms = (long)(h->key_deadline - now);
    if (wait_ms < 0) wait_ms = 0;

    if (fresh && fresh < COALESCE_BELOW && wait_ms > 0 && l->coalesce_us > 0) {
      /* never past what the poll would wait for (a timer, a key timeout, the caller's) */
      long us = l->coalesce_us < wait_ms * 1000L ? l->coalesce_us : wait_ms * 1000L;
      struct timespec pause = {us / 1000000, us % 1000000 * 1000};
      (void)nanosleep(&pause, NULL); /* EINTR: a signal is news, go on to the poll */
    }
    int ready = 0;
    CURLMcode mc = curl_multi_wait(l->multi, fds, (unsigned)n, (int)wait_ms, &ready);
    if (mc != CURLM_OK && mc != CURLM_UNRECOVERABLE_POLL) {
      /* EINTR surfaces as OK with no events; anything else is a bug worth seeing */
      fprintf(stderr, "dpty: libcurl wait failed: %s\n", curl_multi_strerror(mc));
    }
    /* libcurl's own sockets or timers: only then is a perform worth its cost (this loop
     * turns once per chunk of a session's output) */
    int ours = 0;
    for (size_t i = 0; i < n; i++) ours += fds[i].revents != 0;
    long curl_due = -1;
    if (l->requests && (ready > ours || (curl_multi_timeout(l->multi, &curl_due) == CURLM_OK && curl_due == 0))) {
      int running = 0;
      mc = curl_multi_perform(l->multi, &running);
      if (mc != CURLM_OK) fprintf(stderr, "dpty: libcurl: %s\n", curl_multi_strerror(mc));
      announce_heads(l);
      collect_finished_requests(l);
    }

    for (size_t i = 0; i < n; i++) {
      if (!fds[i].revents) continue;
      if (i == 0) {
        int sig;
        while ((sig = signals_next(&l->signals)) > 0) loop_push(l, EV_SIGNAL, 0, sig);
      } else if (who[i]) {
        session *s = who[i];
        if (fds[i].revents & POLLOUT) session_pump_write(s);
        if (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) s->readable = 1; /* reading tells which */
      } else if (l->host && fds[i].fd == l->host_stdin) {
        pump_stdin(l);
      } else if (l->host) {
        outlets_flush(l);
      }
    }
  }
  return (int)l->nevents;
}

/* Keys held for a longer binding that did not come in time: deliver them, or fire the
 * binding they complete. */
static void flush_held_keys(session *s) {
  s->key_deadline = 0;
  while (keymatcher_pending(s->keys)) {
    int m = session_flush_keys(s);
    if (m >= 0) {
      loop_push(s->loop, EV_KEY, s->id, m);
      break;
    }
  }
  session_pump_write(s);
}
