/* Lua binding of keys.c: core.keys_parse(spec) and core.keymatcher(). */
#include <lauxlib.h>
#include <limits.h>
#include <string.h>

#include "core.h"
#include "lua_class.h"
#include "keys.h"

#define KEYMATCHER_MT "dpty.keymatcher"

/* core.keys_parse(spec) -> bytes | nil, message */
static int l_keys_parse(lua_State *L) {
  size_t len;
  const char *spec = luaL_checklstring(L, 1, &len);
  if (strlen(spec) != len) {
    lua_pushnil(L);
    lua_pushliteral(L, "key spec contains a NUL byte");
    return 2;
  }
  unsigned char out[KEYS_MAX_SEQ];
  char err[512];
  int n = keys_parse(spec, out, sizeof out, err, sizeof err);
  if (n < 0) {
    lua_pushnil(L);
    lua_pushstring(L, err);
    return 2;
  }
  lua_pushlstring(L, (const char *)out, (size_t)n);
  return 1;
}

typedef struct {
  keymatcher *m; /* NULL once collected */
} matcher_box;

static keymatcher *check_matcher(lua_State *L) {
  matcher_box *b = luaL_checkudata(L, 1, KEYMATCHER_MT);
  if (!b->m) luaL_error(L, "keymatcher already freed");
  return b->m;
}

/* core.keymatcher() -> matcher */
static int l_keymatcher(lua_State *L) {
  matcher_box *b = lua_newuserdatauv(L, sizeof *b, 0);
  b->m = NULL;
  luaL_setmetatable(L, KEYMATCHER_MT);
  b->m = keymatcher_new();
  if (!b->m) return luaL_error(L, "out of memory");
  return 1;
}

static int l_matcher_gc(lua_State *L) {
  matcher_box *b = luaL_checkudata(L, 1, KEYMATCHER_MT);
  keymatcher_free(b->m);
  b->m = NULL;
  return 0;
}

/* m:add(bytes, id) */
static int l_matcher_add(lua_State *L) {
  keymatcher *m = check_matcher(L);
  size_t len;
  const char *seq = luaL_checklstring(L, 2, &len);
  lua_Integer id = luaL_checkinteger(L, 3);
  luaL_argcheck(L, len >= 1 && len <= KEYS_MAX_SEQ, 2, "key sequence must be 1..32 bytes");
  luaL_argcheck(L, id >= 0 && id <= INT_MAX, 3, "id must be a non-negative int");
  if (keymatcher_add(m, (const unsigned char *)seq, len, (int)id) < 0)
    return luaL_error(L, "out of memory");
  return 0;
}

static int l_matcher_clear(lua_State *L) {
  keymatcher_clear(check_matcher(L));
  return 0;
}

static int l_matcher_pending(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)keymatcher_pending(check_matcher(L)));
  return 1;
}

/* The event list being built: { {"pass", bytes}, {"match", id}, ... } at stack index idx.
 * Adjacent pass pieces are joined into one event. */
typedef struct {
  lua_State *L;
  int idx;
  lua_Integer n;
  int last_is_pass;
} event_list;

static void push_event(event_list *e, const char *kind) {
  lua_State *L = e->L;
  lua_createtable(L, 2, 0);
  lua_pushstring(L, kind);
  lua_rawseti(L, -2, 1);
  lua_insert(L, -2); /* event below its value */
  lua_rawseti(L, -2, 2);
  lua_rawseti(L, e->idx, ++e->n);
}

static void on_pass(void *ud, const unsigned char *bytes, size_t len) {
  event_list *e = ud;
  lua_State *L = e->L;
  if (e->last_is_pass) {
    lua_rawgeti(L, e->idx, e->n);
    lua_rawgeti(L, -1, 2);
    lua_pushlstring(L, (const char *)bytes, len);
    lua_concat(L, 2);
    lua_rawseti(L, -2, 2);
    lua_pop(L, 1);
    return;
  }
  lua_pushlstring(L, (const char *)bytes, len);
  push_event(e, "pass");
  e->last_is_pass = 1;
}

static void on_match(event_list *e, int id) {
  lua_pushinteger(e->L, id);
  push_event(e, "match");
  e->last_is_pass = 0;
}

/* m:feed(data) -> events; feeds until every byte is consumed, recording each match */
static int l_matcher_feed(lua_State *L) {
  keymatcher *m = check_matcher(L);
  size_t n;
  const unsigned char *data = (const unsigned char *)luaL_checklstring(L, 2, &n);
  lua_settop(L, 2);
  lua_newtable(L);
  event_list e = {L, lua_absindex(L, -1), 0, 0};
  size_t off = 0;
  for (;;) { /* a match may leave held bytes to resolve, so feed again even when off == n */
    int match;
    off += keymatcher_feed(m, data + off, n - off, on_pass, &e, &match);
    if (match < 0) break;
    on_match(&e, match);
  }
  return 1;
}

/* m:flush() -> events; resolves every held byte */
static int l_matcher_flush(lua_State *L) {
  keymatcher *m = check_matcher(L);
  lua_settop(L, 1);
  lua_newtable(L);
  event_list e = {L, lua_absindex(L, -1), 0, 0};
  while (keymatcher_pending(m) > 0) { /* each round emits or matches at least one byte */
    int id = keymatcher_flush(m, on_pass, &e);
    if (id >= 0) on_match(&e, id);
  }
  return 1;
}

static const luaL_Reg matcher_methods[] = {
    {"add", l_matcher_add},         {"clear", l_matcher_clear}, {"feed", l_matcher_feed},
    {"flush", l_matcher_flush},     {"pending", l_matcher_pending}, {NULL, NULL}};

static const luaL_Reg functions[] = {
    {"keys_parse", l_keys_parse}, {"keymatcher", l_keymatcher}, {NULL, NULL}};

void dpty_open_keys(lua_State *L) {
  dpty_class(L, KEYMATCHER_MT, matcher_methods, l_matcher_gc, NULL);
  luaL_setfuncs(L, functions, 0);
}
