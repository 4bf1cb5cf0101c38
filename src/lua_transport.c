/* Lua side of the Engine transports: the target table Lua builds (lua/dpty/engine.lua)
 * read into an engine_target, and core.sha256_hex for the docker CLI's context store.
 *
 *   { unix = "/var/run/docker.sock", base = "http://localhost", name = "unix:///..." }
 *   { base = "https://127.0.0.1:2376", name = "tcp://127.0.0.1:2376",
 *     tls = { ca = "/x/ca.pem", cert = "/x/cert.pem", key = "/x/key.pem", verify = true } }
 *   { base = "http://docker.example.com", name = "ssh://me@host",
 *     command = { "ssh", "-o", "BatchMode=yes", ..., "docker", "system", "dial-stdio" } }
 */
#include <lauxlib.h>
#include <string.h>

#include "core.h"
#include "engine.h"
#include "sha256.h"

/* A string field of the table at index t, or NULL; anything else is an error naming it. */
static const char *opt_string(lua_State *L, int t, const char *key, const char *where) {
  int type = lua_getfield(L, t, key);
  const char *s = NULL;
  if (type == LUA_TSTRING)
    s = lua_tostring(L, -1);
  else if (type != LUA_TNIL)
    luaL_error(L, "engine target: %s%s must be a string, not a %s", where, key, lua_typename(L, type));
  lua_pop(L, 1); /* the table still holds the string */
  return s;
}

/* Fills t from the target table at index i. The strings stay owned by the table, which the
 * caller keeps on its stack for as long as t is used. Raises on a malformed table. */
void dpty_check_target(lua_State *L, int i, engine_target *t) {
  char err[256];
  i = lua_absindex(L, i);
  luaL_checktype(L, i, LUA_TTABLE);
  memset(t, 0, sizeof *t);
  t->unix_path = opt_string(L, i, "unix", "");
  t->base_url = opt_string(L, i, "base", "");
  if (!t->base_url) t->base_url = "http://localhost";
  t->name = opt_string(L, i, "name", "");

  int type = lua_getfield(L, i, "tls");
  if (type == LUA_TTABLE) {
    int tls = lua_gettop(L);
    t->tls_ca = opt_string(L, tls, "ca", "tls.");
    t->tls_cert = opt_string(L, tls, "cert", "tls.");
    t->tls_key = opt_string(L, tls, "key", "tls.");
    lua_getfield(L, tls, "verify");
    t->tls_verify = lua_toboolean(L, -1);
    lua_pop(L, 1);
  } else if (type != LUA_TNIL && !(type == LUA_TBOOLEAN && !lua_toboolean(L, -1))) {
    luaL_error(L, "engine target: tls must be a table, not a %s", lua_typename(L, type));
  }
  lua_pop(L, 1); /* strings of a nested table live as long as the outer table holds it */

  type = lua_getfield(L, i, "command");
  if (type == LUA_TTABLE) {
    lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
    if (n < 1) luaL_error(L, "engine target: command is empty");
    if (n > ENGINE_MAX_COMMAND)
      luaL_error(L, "engine target: command has %d words, at most %d are allowed", (int)n, ENGINE_MAX_COMMAND);
    for (lua_Integer k = 1; k <= n; k++) {
      if (lua_rawgeti(L, -1, k) != LUA_TSTRING) luaL_error(L, "engine target: command[%d] is not a string", (int)k);
      t->command[k - 1] = lua_tostring(L, -1);
      lua_pop(L, 1);
    }
    t->command[n] = NULL;
  } else if (type != LUA_TNIL) {
    luaL_error(L, "engine target: command must be a list of strings, not a %s", lua_typename(L, type));
  }
  lua_pop(L, 1);
  if (engine_target_check(t, err, sizeof err) != 0) luaL_error(L, "%s", err);
}

/* core.sha256_hex(s) -> 64 lowercase hex digits */
static int l_sha256_hex(lua_State *L) {
  size_t n;
  const char *s = luaL_checklstring(L, 1, &n);
  char hex[65];
  sha256_hex(s, n, hex);
  lua_pushlstring(L, hex, 64);
  return 1;
}

void dpty_open_transport(lua_State *L) {
  static const luaL_Reg fns[] = {{"sha256_hex", l_sha256_hex}, {NULL, NULL}};
  luaL_setfuncs(L, fns, 0);
}
