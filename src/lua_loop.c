/* Lua binding of the event loop, Engine requests and sessions (loop.h, engine.h).
 * Handles follow liolib: __gc and __close share one idempotent close; a closed handle
 * raises "attempt to use a closed ...". */
#include <errno.h>
#include <lauxlib.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core.h"
#include "lua_class.h"
#include "loop.h"

#define LOOP_MT "dpty.loop"
#define REQUEST_MT "dpty.request"
#define SESSION_MT "dpty.session"

typedef struct {
  loop l;
  int open;
} loop_ud;

typedef struct {
  request *r;
  loop_ud *owner;
} request_ud;

typedef struct {
  session *s;
  loop_ud *owner;
} session_ud;

static loop_ud *check_loop(lua_State *L, int i) {
  loop_ud *u = luaL_checkudata(L, i, LOOP_MT);
  if (!u->open) luaL_error(L, "attempt to use a closed event loop");
  return u;
}

static session *check_session(lua_State *L, int i) {
  session_ud *u = luaL_checkudata(L, i, SESSION_MT);
  if (!u->s || u->s->closed) luaL_error(L, "attempt to use a closed session");
  return u->s;
}

static request_ud *check_request(lua_State *L, int i) {
  request_ud *u = luaL_checkudata(L, i, REQUEST_MT);
  if (!u->r) luaL_error(L, "attempt to use a closed request");
  return u;
}

/* {unix = "/var/run/docker.sock", base = "http://localhost"}; strings stay on the stack's
 * table, which the caller keeps for as long as the target is used. */
static engine_target check_target(lua_State *L, int i) {
  engine_target t;
  dpty_check_target(L, i, &t); /* lua_transport.c: unix, base, name, tls, command */
  return t;
}

/* ---- loop ------------------------------------------------------------------------- */

static int l_loop_new(lua_State *L) {
  char err[256];
  loop_ud *u = lua_newuserdatauv(L, sizeof *u, 0);
  u->open = 0;
  if (loop_init(&u->l, err, sizeof err) != 0) return luaL_error(L, "%s", err);
  u->open = 1;
  luaL_setmetatable(L, LOOP_MT);
  return 1;
}

static int l_loop_close(lua_State *L) {
  loop_ud *u = luaL_checkudata(L, 1, LOOP_MT);
  if (u->open) {
    u->open = 0;
    loop_close(&u->l);
  }
  return 0;
}

static const char *event_names[] = {"request", "eof",   "key",  "signal", "output_closed",
                                    "output",  "input", "data", "head"};

/* l:wait(timeout_seconds|nil) -> flat list {kind, id, value, kind, id, value, ...} */
static int l_loop_wait(lua_State *L) {
  loop_ud *u = check_loop(L, 1);
  long ms = -1;
  if (!lua_isnoneornil(L, 2)) {
    double t = luaL_checknumber(L, 2);
    ms = t <= 0 ? 0 : (long)(t * 1000.0 + 0.5);
  }
  loop_wait(&u->l, ms);
  lua_createtable(L, (int)u->l.nevents * 3, 0);
  for (size_t i = 0; i < u->l.nevents; i++) {
    loop_event *e = &u->l.events[i];
    lua_pushstring(L, event_names[e->kind]);
    lua_rawseti(L, -2, (lua_Integer)(i * 3 + 1));
    lua_pushinteger(L, e->id);
    lua_rawseti(L, -2, (lua_Integer)(i * 3 + 2));
    lua_pushinteger(L, e->value);
    lua_rawseti(L, -2, (lua_Integer)(i * 3 + 3));
  }
  u->l.nevents = 0;
  return 1;
}

static int l_loop_watch_signal(lua_State *L) {
  loop_ud *u = check_loop(L, 1);
  int sig = (int)luaL_checkinteger(L, 2);
  if (signals_watch(&u->l.signals, sig) != 0)
    return luaL_error(L, "cannot watch signal %d: %s", sig, strerror(errno));
  return 0;
}

/* l:request(target, method, path, headers, body, timeout_seconds) -> request */
static int l_loop_request(lua_State *L) {
  loop_ud *u = check_loop(L, 1);
  engine_target t = check_target(L, 2);
  const char *method = luaL_checkstring(L, 3);
  const char *path = luaL_checkstring(L, 4);
  size_t body_len = 0;
  const char *body = luaL_optlstring(L, 6, "", &body_len);
  double timeout = luaL_optnumber(L, 7, 0);
  const char *headers[32];
  int nh = 0;
  if (!lua_isnoneornil(L, 5)) {
    luaL_checktype(L, 5, LUA_TTABLE);
    for (lua_Integer i = 1; nh < 31; i++, nh++) {
      if (lua_rawgeti(L, 5, i) == LUA_TNIL) {
        lua_pop(L, 1);
        break;
      }
      headers[nh] = luaL_checkstring(L, -1); /* kept alive by the table */
      lua_pop(L, 1);
    }
  }
  headers[nh] = NULL;
  char err[256];
  request_ud *ru = lua_newuserdatauv(L, sizeof *ru, 1);
  ru->r = NULL;
  ru->owner = u;
  luaL_setmetatable(L, REQUEST_MT);
  lua_pushvalue(L, 1);
  lua_setiuservalue(L, -2, 1); /* the request keeps its loop alive */
  ru->r = request_new(&t, method, path, headers, body, body_len, (long)(timeout * 1000), err, sizeof err);
  if (!ru->r) return luaL_error(L, "%s", err);
  if (loop_add_request(&u->l, ru->r, err, sizeof err) != 0) {
    request_free(ru->r);
    ru->r = NULL;
    return luaL_error(L, "%s", err);
  }
  return 1;
}

/* A session handle (its session still to be set) that keeps the loop at stack index 1
 * alive, and the value at owner_index (a pty) when that is not 0. */
static session_ud *push_session_ud(lua_State *L, loop_ud *u, int owner_index) {
  session_ud *su = lua_newuserdatauv(L, sizeof *su, 2);
  su->s = NULL;
  su->owner = u;
  luaL_setmetatable(L, SESSION_MT);
  lua_pushvalue(L, 1);
  lua_setiuservalue(L, -2, 1);
  if (owner_index) {
    lua_pushvalue(L, owner_index);
    lua_setiuservalue(L, -2, 2);
  }
  return su;
}

/* l:hijack(target, method, path, content_type, body, tty, timeout_seconds)
 *   -> session | nil, status, message */
static int l_loop_hijack(lua_State *L) {
  loop_ud *u = check_loop(L, 1);
  engine_target t = check_target(L, 2);
  const char *method = luaL_checkstring(L, 3);
  const char *path = luaL_checkstring(L, 4);
  const char *ctype = luaL_optstring(L, 5, NULL);
  size_t body_len = 0;
  const char *body = luaL_optlstring(L, 6, "", &body_len);
  int tty = lua_toboolean(L, 7);
  double timeout = luaL_optnumber(L, 8, 30);
  hijack_conn conn;
  long status = 0;
  char refusal[1024] = "", err[512] = "";
  int rc = engine_hijack(&t, method, path, ctype, body, body_len, (int)(timeout * 1000), &conn,
                         &status, refusal, sizeof refusal, err, sizeof err);
  if (rc != 0) {
    lua_pushnil(L);
    lua_pushinteger(L, status);
    lua_pushstring(L, rc > 0 ? refusal : err);
    return 3;
  }
  session_ud *su = push_session_ud(L, u, 0);
  su->s = session_new(&u->l, &conn, tty);
  if (!su->s) {
    hijack_close(&conn);
    return luaL_error(L, "out of memory");
  }
  return 1;
}

/* l:fd_session(fd, tty, owner) -> session over a local fd; owner (the pty) is kept alive */
static int l_loop_fd_session(lua_State *L) {
  loop_ud *u = check_loop(L, 1);
  int fd = (int)luaL_checkinteger(L, 2);
  int tty = lua_toboolean(L, 3);
  luaL_checkany(L, 4);
  session_ud *su = push_session_ud(L, u, 4);
  su->s = session_new_fd(&u->l, fd, tty);
  if (!su->s) return luaL_error(L, "out of memory");
  return 1;
}

/* l:attach_host(session, use_stdin, raw) -> true | nil, err */
static int l_loop_attach_host(lua_State *L) {
  loop_ud *u = check_loop(L, 1);
  session *s = check_session(L, 2);
  char err[256];
  if (host_attach(&u->l, s, lua_toboolean(L, 3), lua_toboolean(L, 4), err, sizeof err) != 0) {
    lua_pushnil(L);
    lua_pushstring(L, err);
    return 2;
  }
  lua_pushboolean(L, 1);
  return 1;
}

static int l_loop_detach_host(lua_State *L) {
  loop_ud *u = check_loop(L, 1);
  host_detach(&u->l);
  return 0;
}

/* ---- requests --------------------------------------------------------------------- */

static void request_release(request_ud *u) {
  if (!u->r) return;
  if (u->owner->open) loop_remove_request(&u->owner->l, u->r);
  request_free(u->r);
  u->r = NULL;
}

static int l_request_close(lua_State *L) {
  request_release(luaL_checkudata(L, 1, REQUEST_MT));
  return 0;
}

static int l_request_id(lua_State *L) {
  lua_pushinteger(L, check_request(L, 1)->r->id);
  return 1;
}

static int l_request_done(lua_State *L) {
  lua_pushboolean(L, check_request(L, 1)->r->done);
  return 1;
}

/* r:head_done() -> whether the response head is in (or the request is over): a /wait is
 * registered once its head is in */
static int l_request_head_done(lua_State *L) {
  request *r = check_request(L, 1)->r;
  lua_pushboolean(L, r->head_done || r->done);
  return 1;
}

/* r:result() -> status, body, head | nil, message (transport failure) */
static int l_request_result(lua_State *L) {
  request_ud *u = check_request(L, 1);
  request *r = u->r;
  if (!r->done) return luaL_error(L, "request still in flight");
  if (r->result != CURLE_OK) {
    char msg[768];
    engine_target t = check_target(L, 2);
    request_describe_error(r, &t, msg, sizeof msg);
    lua_pushnil(L);
    lua_pushstring(L, msg);
    return 2;
  }
  lua_pushinteger(L, r->status);
  lua_pushlstring(L, r->response.data ? r->response.data : "", r->response.len);
  lua_pushlstring(L, r->response_head.data ? r->response_head.data : "", r->response_head.len);
  return 3;
}

/* r:take_body() -> the response bytes that arrived so far (for streamed answers such as
 * a pull's progress); they are not returned again by result(). */
static int l_request_take_body(lua_State *L) {
  request *r = check_request(L, 1)->r;
  lua_pushlstring(L, r->response.data ? r->response.data : "", r->response.len);
  r->response.len = 0;
  return 1;
}

/* ---- sessions --------------------------------------------------------------------- */

static int l_session_close(lua_State *L) {
  session_ud *u = luaL_checkudata(L, 1, SESSION_MT);
  if (u->s) {
    if (!u->s->closed) session_close(u->s);
    free(u->s);
    u->s = NULL;
  }
  return 0;
}

static int l_session_closed(lua_State *L) {
  session_ud *u = luaL_checkudata(L, 1, SESSION_MT);
  lua_pushboolean(L, !u->s || u->s->closed);
  return 1;
}

static int l_session_id(lua_State *L) {
  lua_pushinteger(L, check_session(L, 1)->id);
  return 1;
}

static int l_session_send(lua_State *L) {
  session *s = check_session(L, 1);
  size_t n;
  const char *p = luaL_checklstring(L, 2, &n);
  lua_pushinteger(L, (lua_Integer)session_send(s, p, n));
  if (s->shutdown_after_tap && !s->tapped_in.len) {
    s->shutdown_after_tap = 0;
    session_close_write(s);
  }
  return 1;
}

/* s:writable() -> false once nothing more can be sent (half-closed, or the peer stopped
 * reading) */
static int l_session_writable(lua_State *L) {
  session *s = check_session(L, 1);
  lua_pushboolean(L, !s->write_closed && !s->want_shutdown);
  return 1;
}

static int l_session_close_write(lua_State *L) {
  session_close_write(check_session(L, 1));
  return 0;
}

static int l_session_eof(lua_State *L) {
  session *s = check_session(L, 1);
  lua_pushboolean(L, s->read_eof);
  if (s->error[0]) {
    lua_pushstring(L, s->error);
    return 2;
  }
  return 1;
}

static void add_to_buffer(void *ud, int stream, const unsigned char *p, size_t n) {
  (void)stream; /* a script reads stdout and stderr as one stream, as through a terminal */
  luaL_addlstring(ud, (const char *)p, n);
}

/* s:take_output() -> what arrived while no host was attached (frames demultiplexed);
 * re-arms the "data" event */
static int l_session_take_output(lua_State *L) {
  session *s = check_session(L, 1);
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  if (s->tty) {
    luaL_addlstring(&b, (const char *)buffer_head(&s->pending), s->pending.len);
  } else if (frame_demux_feed(&s->demux, buffer_head(&s->pending), s->pending.len, add_to_buffer, &b) != 0) {
    snprintf(s->error, sizeof s->error, "the Docker daemon sent a malformed stream frame");
    s->read_eof = 1;
  }
  buffer_clear(&s->pending);
  s->data_signalled = 0;
  luaL_pushresult(&b);
  return 1;
}

/* s:want_data(on): signal "data" events when output arrives for a script */
static int l_session_want_data(lua_State *L) {
  session *s = check_session(L, 1);
  s->want_data = lua_toboolean(L, 2);
  if (s->want_data && s->pending.len && !s->data_signalled) {
    s->data_signalled = 1;
    loop_push(s->loop, EV_DATA, s->id, 0);
  }
  return 0;
}

/* s:fd_session() -> true for a session over a local fd (a pty) */
static int l_session_local(lua_State *L) {
  lua_pushboolean(L, check_session(L, 1)->conn.easy == NULL);
  return 1;
}

/* s:set_bindings({{bytes, id}, ...}) replaces the key bindings matched on host input */
static int l_session_set_bindings(lua_State *L) {
  session *s = check_session(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  keymatcher_clear(s->keys);
  for (lua_Integer i = 1;; i++) {
    if (lua_rawgeti(L, 2, i) == LUA_TNIL) break;
    lua_rawgeti(L, -1, 1);
    lua_rawgeti(L, -2, 2);
    size_t n;
    const char *seq = luaL_checklstring(L, -2, &n);
    int id = (int)luaL_checkinteger(L, -1);
    if (keymatcher_add(s->keys, (const unsigned char *)seq, n, id) != 0)
      return luaL_error(L, "cannot bind a key sequence of %d bytes", (int)n);
    lua_pop(L, 3);
  }
  return 0;
}

static int l_session_set_key_timeout(lua_State *L) {
  session *s = check_session(L, 1);
  s->key_timeout_ms = lua_toboolean(L, 2) ? (long)(luaL_checknumber(L, 2) * 1000) : -1;
  return 0;
}

/* s:set_taps(output, input): route the data through Lua hooks (or not) */
static int l_session_set_taps(lua_State *L) {
  session *s = check_session(L, 1);
  s->tap_output = lua_toboolean(L, 2);
  s->tap_input = lua_toboolean(L, 3);
  return 0;
}

/* s:take_tapped_output() -> {stream, data, stream, data, ...} */
static int l_session_take_tapped_output(lua_State *L) {
  session *s = check_session(L, 1);
  const unsigned char *p = (const unsigned char *)s->tapped_out.data;
  size_t left = s->tapped_out.len;
  lua_Integer i = 0;
  lua_newtable(L);
  while (left >= 5) {
    size_t n = (size_t)p[1] << 24 | (size_t)p[2] << 16 | (size_t)p[3] << 8 | p[4];
    lua_pushinteger(L, p[0]);
    lua_rawseti(L, -2, ++i);
    lua_pushlstring(L, (const char *)p + 5, n);
    lua_rawseti(L, -2, ++i);
    p += 5 + n;
    left -= 5 + n;
  }
  s->tapped_out.len = 0;
  return 1;
}

static int l_session_take_tapped_input(lua_State *L) {
  session *s = check_session(L, 1);
  lua_pushlstring(L, s->tapped_in.data ? s->tapped_in.data : "", s->tapped_in.len);
  s->tapped_in.len = 0;
  return 1;
}

/* s:idle() -> seconds since the host last typed into the session */
static int l_session_idle(lua_State *L) {
  session *s = check_session(L, 1);
  lua_pushnumber(L, s->last_input_ms ? (lua_Number)(loop_now_ms() - s->last_input_ms) / 1000.0 : 0);
  return 1;
}

/* l:write_host(stream, data): to the attached terminal, in order with the session's output */
static int l_loop_write_host(lua_State *L) {
  loop_ud *u = check_loop(L, 1);
  int stream = (int)luaL_checkinteger(L, 2);
  size_t n;
  const char *p = luaL_checklstring(L, 3, &n);
  if (!u->l.host) return luaL_error(L, "no session has the terminal");
  host_write(&u->l, stream, (const unsigned char *)p, n);
  return 0;
}

/* ---- terminal helpers ------------------------------------------------------------- */

static int l_isatty(lua_State *L) {
  lua_pushboolean(L, isatty((int)luaL_checkinteger(L, 1)));
  return 1;
}

static int l_term_size(lua_State *L) {
  int rows, cols;
  if (term_size((int)luaL_checkinteger(L, 1), &rows, &cols) != 0 || rows == 0 || cols == 0) return 0;
  lua_pushinteger(L, rows);
  lua_pushinteger(L, cols);
  return 2;
}

/* core.monotonic() -> seconds on a clock that never jumps, for deadlines in Lua */
static int l_monotonic(lua_State *L) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec / 1e9);
  return 1;
}


void dpty_open_loop(lua_State *L) {
  static const luaL_Reg loop_methods[] = {
      {"wait", l_loop_wait},           {"request", l_loop_request},
      {"hijack", l_loop_hijack},       {"attach_host", l_loop_attach_host},
      {"detach_host", l_loop_detach_host}, {"watch_signal", l_loop_watch_signal},
      {"write_host", l_loop_write_host}, {"fd_session", l_loop_fd_session},
      {"close", l_loop_close},         {NULL, NULL}};
  static const luaL_Reg request_methods[] = {{"id", l_request_id},
                                             {"done", l_request_done},
                                             {"head_done", l_request_head_done},
                                             {"result", l_request_result},
                                             {"take_body", l_request_take_body},
                                             {"close", l_request_close},
                                             {NULL, NULL}};
  static const luaL_Reg session_methods[] = {
      {"id", l_session_id},
      {"send", l_session_send},
      {"close_write", l_session_close_write},
      {"writable", l_session_writable},
      {"eof", l_session_eof},
      {"take_output", l_session_take_output},
      {"set_bindings", l_session_set_bindings},
      {"set_key_timeout", l_session_set_key_timeout},
      {"set_taps", l_session_set_taps},
      {"take_tapped_output", l_session_take_tapped_output},
      {"take_tapped_input", l_session_take_tapped_input},
      {"idle", l_session_idle},
      {"want_data", l_session_want_data},
      {"is_local", l_session_local},
      {"closed", l_session_closed},
      {"close", l_session_close},
      {NULL, NULL}};
  static const luaL_Reg fns[] = {
      {"loop", l_loop_new}, {"isatty", l_isatty}, {"term_size", l_term_size},
      {"monotonic", l_monotonic}, {NULL, NULL}};
  dpty_class(L, LOOP_MT, loop_methods, l_loop_close, NULL);
  dpty_class(L, REQUEST_MT, request_methods, l_request_close, NULL);
  dpty_class(L, SESSION_MT, session_methods, l_session_close, NULL);
  luaL_setfuncs(L, fns, 0);

  /* signal numbers by name, for watch_signal and kill */
  static const struct { const char *name; int sig; } sigs[] = {
      {"HUP", SIGHUP},   {"INT", SIGINT},   {"QUIT", SIGQUIT}, {"KILL", SIGKILL},
      {"USR1", SIGUSR1}, {"USR2", SIGUSR2}, {"PIPE", SIGPIPE}, {"ALRM", SIGALRM},
      {"TERM", SIGTERM}, {"CHLD", SIGCHLD}, {"CONT", SIGCONT}, {"STOP", SIGSTOP},
      {"TSTP", SIGTSTP}, {"WINCH", SIGWINCH}};
  lua_createtable(L, 0, (int)(sizeof sigs / sizeof sigs[0]));
  for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
    lua_pushinteger(L, sigs[i].sig);
    lua_setfield(L, -2, sigs[i].name);
  }
  lua_setfield(L, -2, "signals");
}
