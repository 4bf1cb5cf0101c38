/* Lua binding of frames.c: core.frame_demuxer(). */
#include <lauxlib.h>
#include <stdio.h>

#include "core.h"
#include "lua_class.h"
#include "frames.h"

#define DEMUX_MT "dpty.frame_demuxer"

/* core.frame_demuxer() -> demuxer */
static int l_frame_demuxer(lua_State *L) {
  frame_demux *d = lua_newuserdatauv(L, sizeof *d, 0);
  frame_demux_init(d);
  luaL_setmetatable(L, DEMUX_MT);
  return 1;
}

typedef struct {
  lua_State *L;
  int idx;
  lua_Integer n;
} piece_list;

static void on_piece(void *ud, int stream, const unsigned char *data, size_t len) {
  piece_list *p = ud;
  lua_State *L = p->L;
  lua_createtable(L, 2, 0);
  lua_pushinteger(L, stream);
  lua_rawseti(L, -2, 1);
  lua_pushlstring(L, (const char *)data, len);
  lua_rawseti(L, -2, 2);
  lua_rawseti(L, p->idx, ++p->n);
}

/* d:feed(data) -> { {stream, bytes}, ... }; raises on a malformed header */
static int l_demux_feed(lua_State *L) {
  frame_demux *d = luaL_checkudata(L, 1, DEMUX_MT);
  size_t n;
  const unsigned char *data = (const unsigned char *)luaL_checklstring(L, 2, &n);
  lua_settop(L, 2);
  lua_newtable(L);
  piece_list p = {L, lua_absindex(L, -1), 0};
  if (frame_demux_feed(d, data, n, on_piece, &p) < 0) {
    const unsigned char *h = d->hdr;
    char msg[64]; /* lua_pushfstring has no %02X */
    snprintf(msg, sizeof msg, "malformed frame header (%02X %02X %02X %02X %02X %02X %02X %02X)",
             h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]);
    return luaL_error(L, "%s", msg);
  }
  return 1;
}

static int l_demux_idle(lua_State *L) {
  lua_pushboolean(L, frame_demux_idle(luaL_checkudata(L, 1, DEMUX_MT)));
  return 1;
}

static const luaL_Reg demux_methods[] = {{"feed", l_demux_feed}, {"idle", l_demux_idle}, {NULL, NULL}};

void dpty_open_frames(lua_State *L) {
  dpty_class(L, DEMUX_MT, demux_methods, NULL, NULL);
  lua_pushcfunction(L, l_frame_demuxer);
  lua_setfield(L, -2, "frame_demuxer");
}
