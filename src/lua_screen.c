/* placeholder: replaced by the real binding */
#include "core.h"
void dpty_open_screen(lua_State *L) { (void)L; }
