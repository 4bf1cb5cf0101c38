/* luaopen_dpty_core: the entry point of the C runtime, for `require "dpty.core"` from stock
 * lua5.4 (dpty/core.so) and for the dpty executable, which preloads it. */
#include <curl/curl.h>
#include <lauxlib.h>

#include "core.h"

int luaopen_dpty_core(lua_State *L) {
  CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
  if (rc != CURLE_OK) return luaL_error(L, "libcurl failed to initialise: %s", curl_easy_strerror(rc));
  lua_newtable(L);
  dpty_open_keys(L);
  dpty_open_frames(L);
  dpty_open_http(L);
  dpty_open_pty(L);
  dpty_open_loop(L);
  dpty_open_screen(L);
  dpty_open_regex(L);
  dpty_open_transport(L);
  lua_pushliteral(L, DPTY_VERSION);
  lua_setfield(L, -2, "version");
  return 1;
}
