/* core.pty_spawn: a local command in a new pty, as a "dpty.pty" userdata (see pty.h).
 *
 *   local p = core.pty_spawn({"sh", "-c", "..."}, {rows=24, cols=80, env={NAME="v"}, cwd="/"})
 *   p:read(timeout) p:write(data, timeout) p:resize(rows, cols) p:size() p:termios() p:stty()
 *   p:wait(timeout) p:kill(sig, target) p:pid() p:foreground() p:fd() p:close()
 *
 * Timeouts are seconds; nil means no limit. Expected failures (timeout, EOF, exec failure)
 * return nil, err; misuse (bad arguments, a closed pty) raises. */
#include <errno.h>
#include <lauxlib.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core.h"
#include "lua_class.h"
#include "pty.h"

#define PTY_MT "dpty.pty"
#define READ_CHUNK 65536
#define READ_MAX (1024 * 1024) /* one read call returns at most about this much */
#define CLOSE_GRACE_MS 500

typedef struct {
  pty_proc p;
  int open;
} lpty;

static lpty *check_pty(lua_State *L) {
  lpty *u = luaL_checkudata(L, 1, PTY_MT);
  if (!u->open) luaL_error(L, "attempt to use a closed pty");
  return u;
}

/* seconds (nil: no limit) -> milliseconds (-1: no limit) */
static int opt_timeout(lua_State *L, int arg) {
  if (lua_isnoneornil(L, arg)) return -1;
  lua_Number s = luaL_checknumber(L, arg);
  if (s != s || s < 0) luaL_argerror(L, arg, "timeout must be a number >= 0");
  if (s == HUGE_VAL || s * 1000.0 >= 2147483647.0) return -1;
  return (int)ceil(s * 1000.0);
}

static int push_errno(lua_State *L, const char *what, int err) {
  lua_pushnil(L);
  lua_pushfstring(L, "%s: %s", what, strerror(err));
  return 2;
}

static int check_dim(lua_State *L, int arg, const char *what) {
  lua_Integer v = luaL_checkinteger(L, arg);
  if (v < 1 || v > 65535) luaL_argerror(L, arg, lua_pushfstring(L, "%s must be 1..65535", what));
  return (int)v;
}

/* ---- spawn ---- */

static int opt_dim(lua_State *L, int opts, const char *key, int dflt) {
  int t = lua_getfield(L, opts, key);
  int v = dflt;
  if (t != LUA_TNIL) {
    int isint;
    lua_Integer n = lua_tointegerx(L, -1, &isint);
    if (!isint || n < 1 || n > 65535)
      luaL_error(L, "bad option '%s' to 'pty_spawn' (an integer 1..65535 expected)", key);
    v = (int)n;
  }
  lua_pop(L, 1);
  return v;
}

/* pty_spawn(argv, opts) -> pty | nil, err */
static int l_pty_spawn(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  int has_opts = !lua_isnoneornil(L, 2);
  if (has_opts) luaL_checktype(L, 2, LUA_TTABLE);
  lua_settop(L, 2);

  /* strings the pointer arrays point into stay referenced from this table */
  lua_newtable(L); /* 3: keeps strings alive */
  lua_Integer argc = luaL_len(L, 1);
  if (argc < 1) luaL_argerror(L, 1, "empty argv");
  if (argc > 1 << 20) luaL_argerror(L, 1, "argv too long");
  const char **argv = lua_newuserdatauv(L, (size_t)(argc + 1) * sizeof *argv, 0); /* 4 */
  for (lua_Integer i = 1; i <= argc; i++) {
    int t = lua_geti(L, 1, i);
    if (t != LUA_TSTRING && t != LUA_TNUMBER)
      luaL_argerror(L, 1, lua_pushfstring(L, "argv[%d] is %s, a string expected", (int)i, luaL_typename(L, -1)));
    argv[i - 1] = lua_tostring(L, -1);
    lua_seti(L, 3, i);
  }
  argv[argc] = NULL;

  pty_spawn_opts o = {argv, NULL, NULL, 24, 80};
  if (has_opts) {
    o.rows = opt_dim(L, 2, "rows", 24);
    o.cols = opt_dim(L, 2, "cols", 80);
    int t = lua_getfield(L, 2, "cwd");
    if (t == LUA_TSTRING) {
      o.cwd = lua_tostring(L, -1);
      lua_setfield(L, 3, "cwd");
    } else if (t == LUA_TNIL) {
      lua_pop(L, 1);
    } else {
      luaL_error(L, "bad option 'cwd' to 'pty_spawn' (a string expected, got %s)", luaL_typename(L, -1));
    }
    t = lua_getfield(L, 2, "env");
    int envi = lua_gettop(L);
    if (t == LUA_TTABLE) {
      size_t n = 0;
      lua_pushnil(L);
      while (lua_next(L, envi)) {
        n++;
        lua_pop(L, 1);
      }
      const char **env = lua_newuserdatauv(L, (n + 1) * sizeof *env, 0);
      size_t k = 0;
      lua_Integer slot = argc + 1;
      lua_pushnil(L);
      while (lua_next(L, envi)) {
        size_t ln;
        if (lua_type(L, -2) != LUA_TSTRING)
          luaL_error(L, "bad option 'env' to 'pty_spawn' (names must be strings)");
        const char *name = lua_tolstring(L, -2, &ln);
        if (ln == 0 || strchr(name, '=') || strlen(name) != ln)
          luaL_error(L, "bad option 'env' to 'pty_spawn' (bad variable name \"%s\")", name);
        int vt = lua_type(L, -1);
        if (vt == LUA_TSTRING || vt == LUA_TNUMBER) {
          lua_pushfstring(L, "%s=%s", name, lua_tostring(L, -1));
        } else if (vt == LUA_TBOOLEAN && !lua_toboolean(L, -1)) {
          lua_pushvalue(L, -2); /* NAME alone: removed from the environment */
        } else {
          luaL_error(L, "bad option 'env' to 'pty_spawn' (%s: a string or false expected, got %s)", name,
                     luaL_typename(L, -1));
        }
        env[k++] = lua_tostring(L, -1);
        lua_seti(L, 3, slot++);
        lua_pop(L, 1); /* the value */
      }
      env[k] = NULL;
      o.env = env;
    } else if (t != LUA_TNIL) {
      luaL_error(L, "bad option 'env' to 'pty_spawn' (a table expected, got %s)", luaL_typename(L, -1));
    }
  }

  /* the userdata exists before the child does: no error after the fork can leak it */
  lpty *u = lua_newuserdatauv(L, sizeof *u, 0);
  memset(u, 0, sizeof *u);
  u->p.fd = -1;
  u->p.pid = -1;
  u->p.reaped = 1;
  u->p.status = -1;
  luaL_setmetatable(L, PTY_MT);

  char err[512];
  if (pty_spawn(&u->p, &o, err, sizeof err) < 0) {
    lua_pushnil(L);
    lua_pushstring(L, err);
    return 2;
  }
  u->open = 1;
  return 1;
}

/* ---- methods ---- */

/* p:read(timeout) -> data | "" on timeout | nil, "eof" | nil, err */
static int l_read(lua_State *L) {
  lpty *u = check_pty(L);
  int timeout = opt_timeout(L, 2);
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  size_t total = 0;
  for (;;) {
    char *buf = luaL_prepbuffsize(&b, READ_CHUNK);
    ssize_t n = pty_read(&u->p, buf, READ_CHUNK, total ? 0 : timeout);
    if (n > 0) {
      luaL_addsize(&b, (size_t)n);
      total += (size_t)n;
      if (total >= READ_MAX) break;
      continue;
    }
    if (n == 0 || errno == EAGAIN || errno == EWOULDBLOCK) break;
    if (total) break; /* give what we have; the error comes back on the next call */
    int e = errno;
    luaL_pushresult(&b);
    return push_errno(L, "read from pty", e);
  }
  if (total == 0 && u->p.eof) {
    luaL_pushresult(&b);
    lua_pushnil(L);
    lua_pushliteral(L, "eof");
    return 2;
  }
  luaL_pushresult(&b);
  return 1;
}

/* p:write(data, timeout) -> true | nil, "timeout", written | nil, err, written */
static int l_write(lua_State *L) {
  lpty *u = check_pty(L);
  size_t len;
  const char *data = luaL_checklstring(L, 2, &len);
  int timeout = opt_timeout(L, 3);
  size_t written = 0;
  if (pty_write_all(&u->p, data, len, timeout, &written) < 0) {
    int e = errno;
    lua_pushnil(L);
    if (e == ETIMEDOUT) lua_pushliteral(L, "timeout");
    else lua_pushfstring(L, "write to pty: %s", strerror(e));
    lua_pushinteger(L, (lua_Integer)written);
    return 3;
  }
  lua_pushboolean(L, 1);
  return 1;
}

static int l_resize(lua_State *L) {
  lpty *u = check_pty(L);
  int rows = check_dim(L, 2, "rows"), cols = check_dim(L, 3, "cols");
  if (pty_resize(&u->p, rows, cols) < 0) return push_errno(L, "resize pty", errno);
  lua_pushboolean(L, 1);
  return 1;
}

static int l_size(lua_State *L) {
  lpty *u = check_pty(L);
  int rows, cols;
  if (pty_get_size(&u->p, &rows, &cols) < 0) return push_errno(L, "pty size", errno);
  lua_pushinteger(L, rows);
  lua_pushinteger(L, cols);
  return 2;
}

/* p:termios() -> a string of every setting: flags, line discipline, cc, speeds */
static int l_termios(lua_State *L) {
  lpty *u = check_pty(L);
  struct termios t;
  if (pty_termios(&u->p, &t) < 0) return push_errno(L, "tcgetattr", errno);
  speed_t is = cfgetispeed(&t), os = cfgetospeed(&t);
  char buf[4 * sizeof(tcflag_t) + 1 + NCCS + 2 * sizeof(speed_t)], *q = buf;
  memcpy(q, &t.c_iflag, sizeof t.c_iflag), q += sizeof t.c_iflag;
  memcpy(q, &t.c_oflag, sizeof t.c_oflag), q += sizeof t.c_oflag;
  memcpy(q, &t.c_cflag, sizeof t.c_cflag), q += sizeof t.c_cflag;
  memcpy(q, &t.c_lflag, sizeof t.c_lflag), q += sizeof t.c_lflag;
  memcpy(q, &t.c_line, 1), q += 1;
  memcpy(q, t.c_cc, NCCS), q += NCCS;
  memcpy(q, &is, sizeof is), q += sizeof is;
  memcpy(q, &os, sizeof os), q += sizeof os;
  lua_pushlstring(L, buf, (size_t)(q - buf));
  return 1;
}

struct flagname {
  tcflag_t bit;
  const char *name;
};

static const struct flagname iflags[] = {
    {IGNBRK, "ignbrk"}, {BRKINT, "brkint"}, {IGNPAR, "ignpar"}, {PARMRK, "parmrk"},
    {INPCK, "inpck"},   {ISTRIP, "istrip"}, {INLCR, "inlcr"},   {IGNCR, "igncr"},
    {ICRNL, "icrnl"},   {IXON, "ixon"},     {IXANY, "ixany"},   {IXOFF, "ixoff"},
    {IMAXBEL, "imaxbel"}, {IUTF8, "iutf8"}, {0, NULL}};
static const struct flagname oflags[] = {
    {OPOST, "opost"}, {ONLCR, "onlcr"}, {OCRNL, "ocrnl"}, {ONOCR, "onocr"},
    {ONLRET, "onlret"}, {OFILL, "ofill"}, {0, NULL}};
static const struct flagname cflags[] = {
    {CSTOPB, "cstopb"}, {CREAD, "cread"}, {PARENB, "parenb"}, {PARODD, "parodd"},
    {HUPCL, "hupcl"},   {CLOCAL, "clocal"}, {0, NULL}};
static const struct flagname lflags[] = {
    {ISIG, "isig"},     {ICANON, "icanon"}, {ECHO, "echo"},       {ECHOE, "echoe"},
    {ECHOK, "echok"},   {ECHONL, "echonl"}, {NOFLSH, "noflsh"},   {TOSTOP, "tostop"},
    {ECHOCTL, "echoctl"}, {ECHOPRT, "echoprt"}, {ECHOKE, "echoke"}, {IEXTEN, "iexten"},
    {0, NULL}};

/* " label=0xHEX (name name ...)"; extra (may be NULL) is the first name */
static void add_flags(luaL_Buffer *b, const char *label, tcflag_t v, const struct flagname *names,
                      const char *extra) {
  char hex[48];
  snprintf(hex, sizeof hex, "%s%s=0x%lx (", label[0] == 'i' ? "" : " ", label, (unsigned long)v);
  luaL_addstring(b, hex);
  int first = 1;
  if (extra) {
    luaL_addstring(b, extra);
    first = 0;
  }
  for (const struct flagname *f = names; f->name; f++) {
    if (!(v & f->bit)) continue;
    if (!first) luaL_addchar(b, ' ');
    luaL_addstring(b, f->name);
    first = 0;
  }
  luaL_addchar(b, ')');
}

/* a speed_t code as bits per second (unknown codes as they are) */
static unsigned long baud(speed_t s) {
  static const struct {
    speed_t code;
    unsigned long bps;
  } t[] = {{B0, 0},         {B1200, 1200},     {B2400, 2400},     {B4800, 4800},
           {B9600, 9600},   {B19200, 19200},   {B38400, 38400},   {B57600, 57600},
           {B115200, 115200}, {B230400, 230400}};
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
    if (t[i].code == s) return t[i].bps;
  return (unsigned long)s;
}

/* p:stty() -> "iflag=0x500 (icrnl ixon) oflag=... cflag=... lflag=... cc=03 1c ... speed=38400" */
static int l_stty(lua_State *L) {
  lpty *u = check_pty(L);
  struct termios t;
  if (pty_termios(&u->p, &t) < 0) return push_errno(L, "tcgetattr", errno);
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  add_flags(&b, "iflag", t.c_iflag, iflags, NULL);
  add_flags(&b, "oflag", t.c_oflag, oflags, NULL);
  static const char *sizes[] = {"cs5", "cs6", "cs7", "cs8"};
  tcflag_t csize = t.c_cflag & CSIZE;
  int csz = csize == CS8 ? 3 : csize == CS7 ? 2 : csize == CS6 ? 1 : 0;
  add_flags(&b, "cflag", t.c_cflag, cflags, sizes[csz]);
  add_flags(&b, "lflag", t.c_lflag, lflags, NULL);
  luaL_addstring(&b, " cc=");
  for (int i = 0; i < NCCS; i++) {
    char hx[4];
    snprintf(hx, sizeof hx, "%s%02x", i ? " " : "", (unsigned)t.c_cc[i]);
    luaL_addstring(&b, hx);
  }
  char sp[80];
  snprintf(sp, sizeof sp, " line=%u ispeed=%lu ospeed=%lu", (unsigned)t.c_line,
           baud(cfgetispeed(&t)), baud(cfgetospeed(&t)));
  luaL_addstring(&b, sp);
  luaL_pushresult(&b);
  return 1;
}

/* p:wait(timeout) -> code | nil, "timeout" | nil, err */
static int l_wait(lua_State *L) {
  lpty *u = check_pty(L);
  int timeout = opt_timeout(L, 2);
  int code = pty_wait(&u->p, timeout);
  if (code < 0) {
    if (errno == ETIMEDOUT) {
      lua_pushnil(L);
      lua_pushliteral(L, "timeout");
      return 2;
    }
    return push_errno(L, "wait for pty child", errno);
  }
  lua_pushinteger(L, code);
  return 1;
}

static const struct {
  const char *name;
  int sig;
} signames[] = {{"HUP", SIGHUP},   {"INT", SIGINT},   {"QUIT", SIGQUIT}, {"ILL", SIGILL},
                {"TRAP", SIGTRAP}, {"ABRT", SIGABRT}, {"BUS", SIGBUS},   {"FPE", SIGFPE},
                {"KILL", SIGKILL}, {"USR1", SIGUSR1}, {"SEGV", SIGSEGV}, {"USR2", SIGUSR2},
                {"PIPE", SIGPIPE}, {"ALRM", SIGALRM}, {"TERM", SIGTERM}, {"CHLD", SIGCHLD},
                {"CONT", SIGCONT}, {"STOP", SIGSTOP}, {"TSTP", SIGTSTP}, {"TTIN", SIGTTIN},
                {"TTOU", SIGTTOU}, {"URG", SIGURG},   {"XCPU", SIGXCPU}, {"XFSZ", SIGXFSZ},
                {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF}, {"WINCH", SIGWINCH}, {"IO", SIGIO},
                {"SYS", SIGSYS},   {NULL, 0}};

static int check_signal(lua_State *L, int arg) {
  if (lua_type(L, arg) == LUA_TNUMBER) {
    lua_Integer n = luaL_checkinteger(L, arg);
    if (n < 0 || n >= NSIG) luaL_argerror(L, arg, "bad signal number");
    return (int)n;
  }
  const char *s = luaL_optstring(L, arg, "TERM");
  const char *name = strncmp(s, "SIG", 3) == 0 ? s + 3 : s;
  for (int i = 0; signames[i].name; i++)
    if (strcmp(name, signames[i].name) == 0) return signames[i].sig;
  return luaL_argerror(L, arg, lua_pushfstring(L, "unknown signal \"%s\"", s));
}

/* p:kill(sig, target) -> true | nil, err; sig defaults to "TERM", target is
 * "child" (default), "group" or "foreground" */
static int l_kill(lua_State *L) {
  lpty *u = check_pty(L);
  int sig = check_signal(L, 2);
  static const char *const targets[] = {"child", "group", "foreground", NULL};
  int target = luaL_checkoption(L, 3, "child", targets);
  if (pty_kill(&u->p, sig, (enum pty_target)target) < 0) {
    if (errno == ESRCH) {
      lua_pushnil(L);
      lua_pushliteral(L, "no such process");
      return 2;
    }
    return push_errno(L, "kill", errno);
  }
  lua_pushboolean(L, 1);
  return 1;
}

static int l_pid(lua_State *L) {
  lpty *u = check_pty(L);
  lua_pushinteger(L, u->p.pid);
  return 1;
}

/* p:foreground() -> the terminal's foreground process group id | nil, err */
static int l_foreground(lua_State *L) {
  lpty *u = check_pty(L);
  pid_t pg = pty_foreground(&u->p);
  if (pg < 0) return push_errno(L, "tcgetpgrp", errno);
  lua_pushinteger(L, pg);
  return 1;
}

static int l_fd(lua_State *L) {
  lpty *u = check_pty(L);
  lua_pushinteger(L, u->p.fd);
  return 1;
}

/* close, __close and __gc: idempotent; returns the exit code when known, else nil */
static int l_close(lua_State *L) {
  lpty *u = luaL_checkudata(L, 1, PTY_MT);
  if (u->open) {
    u->open = 0;
    pty_close(&u->p, CLOSE_GRACE_MS);
  }
  if (u->p.reaped && u->p.status >= 0) lua_pushinteger(L, u->p.status);
  else lua_pushnil(L);
  return 1;
}

static int l_tostring(lua_State *L) {
  lpty *u = luaL_checkudata(L, 1, PTY_MT);
  if (!u->open) lua_pushliteral(L, "dpty.pty (closed)");
  else lua_pushfstring(L, "dpty.pty (pid %d)", (int)u->p.pid);
  return 1;
}

static const luaL_Reg methods[] = {
    {"read", l_read},     {"write", l_write}, {"resize", l_resize}, {"size", l_size},
    {"termios", l_termios}, {"stty", l_stty}, {"wait", l_wait},     {"kill", l_kill},
    {"pid", l_pid},       {"foreground", l_foreground}, {"fd", l_fd},       {"close", l_close},   {NULL, NULL}};

void dpty_open_pty(lua_State *L) {
  dpty_class(L, PTY_MT, methods, l_close, l_tostring);
  lua_pushcfunction(L, l_pty_spawn);
  lua_setfield(L, -2, "pty_spawn");
}
