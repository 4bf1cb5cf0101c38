/* The dpty executable: a Lua 5.4 state with the runtime (dpty.core), lua-cjson and the
 * embedded Lua layer, running lua/dpty/cli.lua under one protected call. Errors are
 * printed after lua_close(), whose finalizers put the terminal back. */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "embedded.h"

int luaopen_cjson(lua_State *L);

/* Adds a traceback to the error, as lua.c does. */
static int msghandler(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  if (msg == NULL) {
    if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) return 1;
    msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  }
  luaL_traceback(L, L, msg, 1);
  return 1;
}

/* package.searchers entry for dpty and dpty.*: the embedded copy, or with DPTY_LUA_DIR
 * set (development), the file in that directory. */
static int search_embedded(lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  const char *dir = getenv("DPTY_LUA_DIR");
  const char *mod = NULL;
  if (strcmp(name, "dpty") == 0)
    mod = "init";
  else if (strncmp(name, "dpty.", 5) == 0 && strchr(name + 5, '.') == NULL)
    mod = name + 5;
  if (!mod || strcmp(mod, "core") == 0) {
    lua_pushfstring(L, "no embedded module '%s'", name);
    return 1;
  }
  if (dir && *dir) {
    const char *path = lua_pushfstring(L, "%s/%s.lua", dir, mod);
    if (luaL_loadfile(L, path) != LUA_OK) return lua_error(L);
    lua_pushstring(L, path);
    return 2;
  }
  for (const struct embedded_module *m = embedded_modules; m->name; m++) {
    if (strcmp(m->name, name) == 0) {
      const char *chunk = lua_pushfstring(L, "@%s", m->path);
      if (luaL_loadbufferx(L, m->source, m->size, chunk, "t") != LUA_OK) return lua_error(L);
      lua_pushstring(L, m->path);
      return 2;
    }
  }
  lua_pushfstring(L, "no embedded module '%s'", name);
  return 1;
}

static void install_searcher(lua_State *L) {
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "searchers");
  lua_Integer n = (lua_Integer)luaL_len(L, -1);
  for (lua_Integer i = n; i >= 2; i--) { /* shift, then put ours right after preload */
    lua_rawgeti(L, -1, i);
    lua_rawseti(L, -2, i + 1);
  }
  lua_pushcfunction(L, search_embedded);
  lua_rawseti(L, -2, 2);
  lua_getfield(L, -2, "preload");
  lua_pushcfunction(L, luaopen_dpty_core);
  lua_setfield(L, -2, "dpty.core");
  lua_pushcfunction(L, luaopen_cjson);
  lua_setfield(L, -2, "cjson");
  lua_pop(L, 3);
}

/* require("dpty.cli").main(argv) -> exit code */
static int run_cli(lua_State *L) {
  int argc = (int)lua_tointeger(L, 1);
  char **argv = lua_touserdata(L, 2);
  luaL_openlibs(L);
  install_searcher(L);
  lua_getglobal(L, "require");
  lua_pushliteral(L, "dpty.cli");
  lua_call(L, 1, 1);
  lua_getfield(L, -1, "main");
  lua_createtable(L, argc, 1);
  for (int i = 0; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i);
  }
  lua_call(L, 1, 1);
  return 1;
}

int main(int argc, char **argv) {
  lua_State *L = luaL_newstate();
  if (!L) {
    fprintf(stderr, "dpty: not enough memory to start Lua\n");
    return 125;
  }
  lua_pushcfunction(L, msghandler);
  lua_pushcfunction(L, run_cli);
  lua_pushinteger(L, argc);
  lua_pushlightuserdata(L, argv);
  int status = lua_pcall(L, 2, 1, 1);
  int code = 0;
  char *msg = NULL;
  if (status == LUA_OK) {
    int isnum = 0;
    lua_Number n = lua_tonumberx(L, -1, &isnum);
    code = isnum ? (int)n : (lua_toboolean(L, -1) ? 0 : 1);
  } else {
    const char *m = lua_tostring(L, -1);
    msg = strdup(m ? m : "(error without a message)");
    code = 1;
  }
  fflush(stdout);
  lua_close(L); /* finalizers restore the terminal and close the Engine connections */
  if (msg) {
    fprintf(stderr, "dpty: %s\n", msg);
    free(msg);
  }
  return code;
}
