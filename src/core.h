/* The dpty.core Lua module: the C runtime as seen from Lua.
 * Each lua_<module>.c adds its functions (and metatables) to the module table that
 * luaopen_dpty_core() leaves on the stack; one rule: a C module foo.c holds the logic,
 * lua_foo.c its Lua binding. */
#ifndef DPTY_CORE_H
#define DPTY_CORE_H

#include <lua.h>

int luaopen_dpty_core(lua_State *L);

/* Each adds its entries to the table at the top of the stack. */
void dpty_open_keys(lua_State *L);   /* lua_keys.c:   key-spec grammar, matcher */
void dpty_open_frames(lua_State *L); /* lua_frames.c: multiplexed-stream demuxer */
void dpty_open_http(lua_State *L);   /* lua_http.c:   HTTP response head parser */
void dpty_open_pty(lua_State *L);    /* lua_pty.c:    local command in a pty */
void dpty_open_loop(lua_State *L);   /* lua_loop.c:   event loop, engine requests, sessions, host terminal */
void dpty_open_screen(lua_State *L); /* lua_screen.c: libvterm virtual screen */
void dpty_open_regex(lua_State *L);  /* lua_regex.c:  POSIX extended regular expressions */
void dpty_open_transport(lua_State *L); /* lua_transport.c: engine transport helpers (sha256) */

#endif
