/* Lua binding of regex.c: core.regex(pattern [, flags]) -> regex, with
 *   re:find(subject [, init [, first]]) -> start, end, captures... | nil
 *   re:groups() -> number of parenthesised groups
 * The handle follows liolib: __gc and __close share one idempotent close; a closed regex
 * raises "attempt to use a closed regex". */
#include <lauxlib.h>
#include <regex.h> /* src/regex.h, which includes the system's */
#include <string.h>

#include "core.h"
#include "lua_class.h"

#define REGEX_MT "dpty.regex"

typedef struct {
  dpty_regex *re; /* NULL once closed */
} regex_box;

/* Pushes s as a double-quoted string with control characters, quotes and backslashes escaped,
 * so an error message can name any pattern. */
static void push_quoted(lua_State *L, const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  luaL_addchar(&b, '"');
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    switch (c) {
      case '"': luaL_addstring(&b, "\\\""); break;
      case '\\': luaL_addstring(&b, "\\\\"); break;
      case '\n': luaL_addstring(&b, "\\n"); break;
      case '\r': luaL_addstring(&b, "\\r"); break;
      case '\t': luaL_addstring(&b, "\\t"); break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char esc[4] = {'\\', 'x', hex[c >> 4], hex[c & 15]};
          luaL_addlstring(&b, esc, sizeof esc);
        } else {
          luaL_addchar(&b, (char)c);
        }
    }
  }
  luaL_addchar(&b, '"');
  luaL_pushresult(&b);
}

static regex_box *check_box(lua_State *L) { return luaL_checkudata(L, 1, REGEX_MT); }

static dpty_regex *check_regex(lua_State *L) {
  regex_box *b = check_box(L);
  if (!b->re) luaL_error(L, "attempt to use a closed regex");
  return b->re;
}

/* core.regex(pattern [, flags]): flags is a string of letters, "i" (ignore case) and/or
 * "n" (newline-sensitive: ^ and $ at line ends; . and [^x] never match a newline) */
static int l_regex(lua_State *L) {
  size_t len;
  const char *pattern = luaL_checklstring(L, 1, &len);
  const char *f = luaL_optstring(L, 2, "");
  int flags = 0;
  for (; *f; f++) {
    if (*f == 'i') flags |= DPTY_REGEX_ICASE;
    else if (*f == 'n') flags |= DPTY_REGEX_NEWLINE;
    else return luaL_argerror(L, 2, lua_pushfstring(L, "unknown flag '%c' (flags: \"i\" ignore case, \"n\" newline-sensitive)", *f));
  }
  regex_box *b = lua_newuserdatauv(L, sizeof *b, 1);
  b->re = NULL;
  luaL_setmetatable(L, REGEX_MT);
  lua_pushvalue(L, 1);
  lua_setiuservalue(L, -2, 1); /* the pattern, for __tostring */
  char err[256];
  b->re = dpty_regex_new(pattern, len, flags, err, sizeof err);
  if (!b->re) {
    push_quoted(L, pattern, len);
    return luaL_error(L, "bad regex %s: %s", lua_tostring(L, -1), err);
  }
  return 1;
}

/* A position argument as string.find reads one: negative counts from the end; clamped to
 * 1 below. Returns 0-based offsets; > len means "past the end". */
static size_t position(lua_Integer pos, size_t len) {
  if (pos > 0) return (size_t)pos - 1;
  if (pos == 0) return 0;
  if (pos < -(lua_Integer)len) return 0;
  return len - (size_t)(-pos);
}

/* re:find(subject [, init [, first]]) -> start, end, captures... | nil
 * Positions are 1-based and inclusive, like string.find (an empty match gives end = start - 1).
 * The text searched is subject from first (default 1) on, without copying: ^ matches at first
 * and not after it (but after a newline with "n"); the search starts at init (default first;
 * before first counts as first). Captures are strings, nil for a group that took no part. */
static int l_find(lua_State *L) {
  dpty_regex *re = check_regex(L);
  size_t len;
  const char *subject = luaL_checklstring(L, 2, &len);
  size_t first = position(luaL_optinteger(L, 4, 1), len);
  size_t init = lua_isnoneornil(L, 3) ? first : position(luaL_checkinteger(L, 3), len);
  if (init < first) init = first;
  if (init > len) { /* past the end, where not even the empty text is (string.find agrees) */
    lua_pushnil(L);
    return 1;
  }
  size_t groups = dpty_regex_groups(re);
  size_t nm = groups + 1;
  regmatch_t local[16];
  regmatch_t *m = local;
  if (nm > sizeof local / sizeof local[0]) m = lua_newuserdatauv(L, nm * sizeof *m, 0);
  char err[256];
  int rc = dpty_regex_exec(re, subject + first, len - first, init - first, m, nm, err, sizeof err);
  if (rc < 0) return luaL_error(L, "regex search failed: %s", err);
  if (rc == 0) {
    lua_pushnil(L);
    return 1;
  }
  luaL_checkstack(L, (int)groups + 2, "too many captures");
  lua_pushinteger(L, (lua_Integer)first + m[0].rm_so + 1);
  lua_pushinteger(L, (lua_Integer)first + m[0].rm_eo);
  for (size_t i = 1; i <= groups; i++) {
    if (m[i].rm_so < 0) lua_pushnil(L);
    else lua_pushlstring(L, subject + first + m[i].rm_so, (size_t)(m[i].rm_eo - m[i].rm_so));
  }
  return (int)groups + 2;
}

static int l_groups(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)dpty_regex_groups(check_regex(L)));
  return 1;
}

/* __gc and __close: idempotent */
static int l_close(lua_State *L) {
  regex_box *b = check_box(L);
  dpty_regex_free(b->re);
  b->re = NULL;
  return 0;
}

static int l_tostring(lua_State *L) {
  regex_box *b = check_box(L);
  lua_getiuservalue(L, 1, 1);
  size_t len;
  const char *pattern = lua_tolstring(L, -1, &len);
  push_quoted(L, pattern ? pattern : "", pattern ? len : 0);
  lua_pushfstring(L, "dpty.regex %s%s", lua_tostring(L, -1), b->re ? "" : " (closed)");
  return 1;
}

static const luaL_Reg methods[] = {{"find", l_find}, {"groups", l_groups}, {NULL, NULL}};

void dpty_open_regex(lua_State *L) {
  dpty_class(L, REGEX_MT, methods, l_close, l_tostring);
  lua_pushcfunction(L, l_regex);
  lua_setfield(L, -2, "regex");
}
