/* Lua binding of http_head.c: core.http_parse_head(str). */
#include <lauxlib.h>
#include <stdio.h>
#include <string.h>

#include "core.h"
#include "http_head.h"

/* Adds s[0..len) to b, control and non-ASCII bytes as \xHH (for error messages). */
static void add_escaped(luaL_Buffer *b, const char *s, size_t len) {
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c >= 0x20 && c < 0x7f) {
      luaL_addchar(b, (char)c);
    } else {
      char hex[8];
      snprintf(hex, sizeof hex, "\\x%02X", c);
      luaL_addstring(b, hex);
    }
  }
}

#define SHOWN_BYTES 80

static void push_malformed(lua_State *L, const char *s, size_t len) {
  const char *lf = memchr(s, '\n', len);
  size_t n = lf ? (size_t)(lf - s) + 1 : len;
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  luaL_addstring(&b, "malformed HTTP response head: \"");
  add_escaped(&b, s, n < SHOWN_BYTES ? n : SHOWN_BYTES);
  luaL_addstring(&b, n > SHOWN_BYTES ? "...\"" : "\"");
  luaL_pushresult(&b);
}

static void push_lower(lua_State *L, const char *s, size_t len) {
  luaL_Buffer b;
  char *p = luaL_buffinitsize(L, &b, len);
  for (size_t i = 0; i < len; i++) p[i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] + 32) : s[i];
  luaL_pushresultsize(&b, len);
}

/* headers[lowercased name] = value; a repeated header joins its values with ", " */
static void push_headers(lua_State *L, const http_head *h) {
  lua_createtable(L, 0, (int)h->nheaders);
  for (size_t i = 0; i < h->nheaders; i++) {
    const http_header *hd = &h->headers[i];
    push_lower(L, hd->name, hd->name_len);
    lua_pushvalue(L, -1);
    if (lua_rawget(L, -3) == LUA_TSTRING) {
      lua_pushliteral(L, ", ");
      lua_pushlstring(L, hd->value, hd->value_len);
      lua_concat(L, 3);
    } else {
      lua_pop(L, 1);
      lua_pushlstring(L, hd->value, hd->value_len);
    }
    lua_rawset(L, -3);
  }
}

/* core.http_parse_head(str) -> nil (incomplete) | head table | false, message */
static int l_http_parse_head(lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  http_head h;
  int r = http_head_parse(s, len, &h);
  if (r == 0) {
    lua_pushnil(L);
    return 1;
  }
  if (r < 0) {
    lua_pushboolean(L, 0);
    push_malformed(L, s, len);
    return 2;
  }
  lua_createtable(L, 0, 5);
  lua_pushinteger(L, h.status);
  lua_setfield(L, -2, "status");
  lua_pushinteger(L, h.minor);
  lua_setfield(L, -2, "minor");
  lua_pushlstring(L, h.reason, h.reason_len);
  lua_setfield(L, -2, "reason");
  lua_pushinteger(L, (lua_Integer)h.head_len);
  lua_setfield(L, -2, "head_len");
  push_headers(L, &h);
  lua_setfield(L, -2, "headers");
  return 1;
}

void dpty_open_http(lua_State *L) {
  lua_pushcfunction(L, l_http_parse_head);
  lua_setfield(L, -2, "http_parse_head");
}
