/* placeholder: replaced by the real binding */
#include "core.h"
void dpty_open_frames(lua_State *L) { (void)L; }
