/* placeholder: replaced by the real binding */
#include "core.h"
void dpty_open_loop(lua_State *L) { (void)L; }
