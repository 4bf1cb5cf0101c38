/* The event loop: one blocking wait over the Engine requests in flight (libcurl multi),
 * the hijacked session streams, the host terminal and the signal pipe. The byte pump
 * between the host and the session it is attached to runs here, in C; Lua sees only
 * events (a request finished, a stream ended, a key binding matched, a signal). */
#ifndef DPTY_LOOP_H
#define DPTY_LOOP_H

#include <stdint.h>

#include "buffer.h"
#include "engine.h"
#include "frames.h"
#include "keys.h"
#include "signals.h"
#include "term.h"

enum event_kind { EV_REQUEST, EV_EOF, EV_KEY, EV_SIGNAL, EV_OUTPUT_CLOSED, EV_OUTPUT, EV_INPUT, EV_DATA, EV_HEAD };

typedef struct {
  int kind;
  int id;     /* request or session id */
  long value; /* key binding id, signal number */
} loop_event;

/* Where output goes on the host: a write end we may use non-blockingly without changing
 * the file-status flags the user's shell shares with us. */
typedef struct {
  int fd;      /* the host's fd (1 or 2) */
  int wfd;     /* what we write to: fd, or a private reopened description */
  int is_socket;
  int broken;  /* the reader went away */
  buffer buf;
} outlet;

typedef struct session {
  int id;
  struct loop *loop;
  hijack_conn conn;
  int tty;               /* raw stream; else multiplexed frames */
  frame_demux demux;
  buffer to_container;   /* keys/stdin waiting to be sent */
  buffer pending;        /* output received while no host is attached */
  buffer key_rest;       /* input after a key match, fed once Lua has acted on it */
  int keys_unsettled;    /* a match was reported: feed key_rest (maybe empty) next */
  /* Taps: with a Lua output/input hook, bytes stop here (as {stream, len, data} records
   * for output) until Lua has seen them; without one, the data path never enters Lua. */
  int tap_output, tap_input;
  int shutdown_after_tap;  /* stdin ended while input waited in the tap */
  dynbuf tapped_out, tapped_in;
  int64_t last_input_ms; /* when the host last typed into this session */
  int want_data;         /* a script reads the output: signal EV_DATA when some arrives */
  int data_signalled;    /* EV_DATA sent, not yet taken */
  keymatcher *keys;
  long key_timeout_ms;   /* <0: wait forever for the rest of a bound sequence */
  int64_t key_deadline;  /* 0: none */
  int want_shutdown;     /* half-close once to_container is sent */
  int write_closed;
  int read_eof;          /* the Engine ended the stream */
  int readable;          /* poll said so, or a read stopped before EAGAIN: read again */
  int eof_reported;
  int closed;
  char error[256];       /* why the stream ended, if not a clean EOF */
  struct session *next;
} session;

typedef struct loop {
  CURLM *multi;
  signal_watch signals;
  session *sessions;
  request *requests;
  int next_id;
  /* the host link: at most one session has the host's terminal at a time */
  session *host;
  int host_stdin;        /* fd 0 while stdin goes to the session, else -1 */
  int stdin_eof;
  outlet out[3];         /* [1] stdout, [2] stderr */
  term_state term;
  loop_event *events;
  size_t nevents, cap_events;
  long coalesce_us;      /* how long trickling output is gathered before a poll (loop.c) */
} loop;

int loop_init(loop *l, char *err, size_t errcap);
void loop_close(loop *l);
/* Runs until at least one event is queued or timeout_ms passes (<0: no timeout). */
int loop_wait(loop *l, long timeout_ms);
int loop_add_request(loop *l, request *r, char *err, size_t errcap);
void loop_remove_request(loop *l, request *r);

session *session_new(loop *l, hijack_conn *conn, int tty);
session *session_new_fd(loop *l, int fd, int tty);
void session_close(session *s);
/* Queues bytes for the container; returns how many were taken (bounded buffer). */
size_t session_send(session *s, const void *p, size_t n);
void session_close_write(session *s);

int host_attach(loop *l, session *s, int use_stdin, int raw, char *err, size_t errcap);
/* Output to the host's stdout (stream 1) or stderr (2), queued after what is pending;
 * waits for a slow terminal rather than drop anything. */
void host_write(loop *l, int stream, const unsigned char *p, size_t n);
void host_detach(loop *l);

/* internal, shared by loop.c and session.c */
int loop_push(loop *l, int kind, int id, long value);
int64_t loop_now_ms(void);
void session_pump_write(session *s);
/* -> bytes read from the stream in this call */
size_t session_pump_read(session *s);
void session_feed_keys(session *s, const unsigned char *p, size_t n);
int session_flush_keys(session *s); /* emits held keys; a binding id they complete, or -1 */
int session_wants_read(const session *s);
int outlets_drained(loop *l);
void outlets_flush(loop *l);

#endif
