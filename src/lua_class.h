/* The metatable of a handle type, made the same way for every binding. */
#ifndef DPTY_LUA_CLASS_H
#define DPTY_LUA_CLASS_H

#include <lauxlib.h>

/* Registers metatable `name` (once): methods as __index; close, when given, as both __gc
 * and __close, so `local h <close>` and the collector share one idempotent close (as
 * liolib does); tostring, when given, as __tostring. Leaves the stack as it was. */
void dpty_class(lua_State *L, const char *name, const luaL_Reg *methods, lua_CFunction close,
                lua_CFunction tostring);

#endif
