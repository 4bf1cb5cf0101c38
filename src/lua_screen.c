/* core.screen: a libvterm virtual screen as a "dpty.screen" userdata (see screen.h).
 *
 *   local scr = core.screen(rows, cols)        -- default 24 x 80
 *   scr:feed(data) -> replies ("" when the terminal has nothing to answer)
 *   scr:resize(rows, cols)  scr:size() -> rows, cols
 *   scr:text()  scr:line(n)  scr:cursor() -> row, col, visible
 *   scr:cell(row, col) -> {char=, width=, fg=, bg=, bold=, underline=, italic=, reverse=,
 *                          blink=, strike=}   (fg/bg "#rrggbb", nil for the default colour)
 *   scr:generation()  scr:title()  scr:alt_screen()
 *   scr:key(name [, mods]) -> bytes   scr:paste(text) -> bytes
 *   scr:close()
 *
 * Rows and columns are 1-based. Misuse (bad arguments, out-of-range rows, unknown keys, a
 * closed screen) raises. __gc and __close share one idempotent close. */
#include <lauxlib.h>
#include <string.h>

#include "core.h"
#include "lua_class.h"
#include "screen.h"

#define SCREEN_MT "dpty.screen"

typedef struct {
  screen *s; /* NULL once closed */
} screen_ud;

static screen *check_screen(lua_State *L) {
  screen_ud *u = luaL_checkudata(L, 1, SCREEN_MT);
  if (!u->s) luaL_error(L, "attempt to use a closed screen");
  return u->s;
}

/* rows at arg, cols at arg + 1 */
static void check_size(lua_State *L, int arg, int *rows, int *cols) {
  lua_Integer r = luaL_checkinteger(L, arg), c = luaL_checkinteger(L, arg + 1);
  if (r < 1 || r > SCREEN_MAX_DIM) luaL_argerror(L, arg, "rows must be 1..65535");
  if (c < 1 || c > SCREEN_MAX_DIM) luaL_argerror(L, arg + 1, "cols must be 1..65535");
  if (!screen_size_ok((long)r, (long)c))
    luaL_error(L, "screen size %dx%d too large (at most %d cells)", (int)r, (int)c, (int)SCREEN_MAX_CELLS);
  *rows = (int)r;
  *cols = (int)c;
}

static int check_row(lua_State *L, screen *s, int arg) {
  int rows, cols;
  screen_size(s, &rows, &cols);
  lua_Integer r = luaL_checkinteger(L, arg);
  if (r < 1 || r > rows) luaL_argerror(L, arg, lua_pushfstring(L, "row %I out of range 1..%d", r, rows));
  return (int)r;
}

/* core.screen([rows, cols]) -> screen */
static int l_screen_new(lua_State *L) {
  int rows = 24, cols = 80;
  if (!lua_isnoneornil(L, 1) || !lua_isnoneornil(L, 2)) check_size(L, 1, &rows, &cols);
  screen_ud *u = lua_newuserdatauv(L, sizeof *u, 0);
  u->s = NULL;
  luaL_setmetatable(L, SCREEN_MT);
  u->s = screen_new(rows, cols);
  if (!u->s) return luaL_error(L, "out of memory");
  return 1;
}

/* scr:feed(data) -> replies */
static int l_feed(lua_State *L) {
  screen *s = check_screen(L);
  size_t len;
  const char *data = luaL_checklstring(L, 2, &len);
  if (screen_feed(s, data, len) < 0) return luaL_error(L, "out of memory");
  size_t n;
  const char *r = screen_take_replies(s, &n);
  lua_pushlstring(L, r, n);
  return 1;
}

static int l_resize(lua_State *L) {
  screen *s = check_screen(L);
  int rows, cols;
  check_size(L, 2, &rows, &cols);
  screen_resize(s, rows, cols);
  return 0;
}

static int l_size(lua_State *L) {
  screen *s = check_screen(L);
  int rows, cols;
  screen_size(s, &rows, &cols);
  lua_pushinteger(L, rows);
  lua_pushinteger(L, cols);
  return 2;
}

static int l_text(lua_State *L) {
  screen *s = check_screen(L);
  size_t len;
  const char *t = screen_text(s, &len);
  if (!t) return luaL_error(L, "out of memory");
  lua_pushlstring(L, t, len);
  return 1;
}

/* scr:line(n) -> the text of row n (1-based), trailing blanks trimmed */
static int l_line(lua_State *L) {
  screen *s = check_screen(L);
  int row = check_row(L, s, 2);
  size_t len;
  const char *t = screen_line(s, row, &len);
  if (!t) return luaL_error(L, "out of memory");
  lua_pushlstring(L, t, len);
  return 1;
}

/* scr:cursor() -> row, col (1-based), visible */
static int l_cursor(lua_State *L) {
  screen *s = check_screen(L);
  int row, col, visible;
  screen_cursor(s, &row, &col, &visible);
  lua_pushinteger(L, row);
  lua_pushinteger(L, col);
  lua_pushboolean(L, visible);
  return 3;
}

static void set_bool(lua_State *L, const char *k, int v) {
  lua_pushboolean(L, v);
  lua_setfield(L, -2, k);
}

/* scr:cell(row, col) -> table */
static int l_cell(lua_State *L) {
  screen *s = check_screen(L);
  int row = check_row(L, s, 2);
  int rows, cols;
  screen_size(s, &rows, &cols);
  lua_Integer col = luaL_checkinteger(L, 3);
  if (col < 1 || col > cols) luaL_argerror(L, 3, lua_pushfstring(L, "column %I out of range 1..%d", col, cols));
  screen_cell c;
  screen_cell_at(s, row, (int)col, &c);
  lua_createtable(L, 0, 10);
  lua_pushstring(L, c.chars);
  lua_setfield(L, -2, "char");
  lua_pushinteger(L, c.width);
  lua_setfield(L, -2, "width");
  if (c.fg[0]) {
    lua_pushstring(L, c.fg);
    lua_setfield(L, -2, "fg");
  }
  if (c.bg[0]) {
    lua_pushstring(L, c.bg);
    lua_setfield(L, -2, "bg");
  }
  set_bool(L, "bold", c.bold);
  set_bool(L, "underline", c.underline != 0);
  set_bool(L, "italic", c.italic);
  set_bool(L, "reverse", c.reverse);
  set_bool(L, "blink", c.blink);
  set_bool(L, "strike", c.strike);
  return 1;
}

static int l_generation(lua_State *L) {
  screen *s = check_screen(L);
  lua_pushinteger(L, (lua_Integer)screen_generation(s));
  return 1;
}

static int l_title(lua_State *L) {
  screen *s = check_screen(L);
  lua_pushstring(L, screen_title(s));
  return 1;
}

static int l_alt_screen(lua_State *L) {
  screen *s = check_screen(L);
  lua_pushboolean(L, screen_altscreen(s));
  return 1;
}

/* scr:key(name [, mods]) -> bytes */
static int l_key(lua_State *L) {
  screen *s = check_screen(L);
  size_t nlen;
  const char *name = luaL_checklstring(L, 2, &nlen);
  const char *spec = luaL_optstring(L, 3, "");
  unsigned mods;
  char err[256];
  if (screen_parse_mods(spec, &mods, err, sizeof err) < 0) return luaL_argerror(L, 3, err);
  const char *out;
  size_t len;
  int rc = screen_key(s, name, nlen, mods, &out, &len);
  if (rc == -1)
    return luaL_argerror(L, 2, lua_pushfstring(L, "unknown key \"%s\" (a key name such as up, f5, "
                                                  "enter, or one character)", name));
  if (rc < 0) return luaL_error(L, "out of memory");
  lua_pushlstring(L, out, len);
  return 1;
}

/* scr:paste(text) -> bytes */
static int l_paste(lua_State *L) {
  screen *s = check_screen(L);
  size_t tlen;
  const char *text = luaL_checklstring(L, 2, &tlen);
  const char *out;
  size_t len;
  if (screen_paste(s, text, tlen, &out, &len) < 0) return luaL_error(L, "out of memory");
  lua_pushlstring(L, out, len);
  return 1;
}

/* close, __close and __gc: idempotent */
static int l_close(lua_State *L) {
  screen_ud *u = luaL_checkudata(L, 1, SCREEN_MT);
  screen_free(u->s);
  u->s = NULL;
  return 0;
}

static int l_tostring(lua_State *L) {
  screen_ud *u = luaL_checkudata(L, 1, SCREEN_MT);
  if (!u->s) {
    lua_pushliteral(L, "dpty.screen (closed)");
  } else {
    int rows, cols;
    screen_size(u->s, &rows, &cols);
    lua_pushfstring(L, "dpty.screen (%dx%d)", rows, cols);
  }
  return 1;
}

static const luaL_Reg methods[] = {
    {"feed", l_feed},   {"resize", l_resize},         {"size", l_size},         {"text", l_text},
    {"line", l_line},   {"cursor", l_cursor},         {"cell", l_cell},         {"generation", l_generation},
    {"title", l_title}, {"alt_screen", l_alt_screen}, {"key", l_key},           {"paste", l_paste},
    {"close", l_close}, {NULL, NULL}};

void dpty_open_screen(lua_State *L) {
  dpty_class(L, SCREEN_MT, methods, l_close, l_tostring);
  lua_pushcfunction(L, l_screen_new);
  lua_setfield(L, -2, "screen");
}
