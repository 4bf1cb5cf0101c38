#include "lua_class.h"

void dpty_class(lua_State *L, const char *name, const luaL_Reg *methods, lua_CFunction close,
                lua_CFunction tostring) {
  if (luaL_newmetatable(L, name)) {
    lua_newtable(L);
    luaL_setfuncs(L, methods, 0);
    lua_setfield(L, -2, "__index");
    if (close) {
      lua_pushcfunction(L, close);
      lua_setfield(L, -2, "__gc");
      lua_pushcfunction(L, close);
      lua_setfield(L, -2, "__close");
    }
    if (tostring) {
      lua_pushcfunction(L, tostring);
      lua_setfield(L, -2, "__tostring");
    }
  }
  lua_pop(L, 1);
}
