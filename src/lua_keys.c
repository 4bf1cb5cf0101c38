/* placeholder: replaced by the real binding */
#include "core.h"
void dpty_open_keys(lua_State *L) { (void)L; }
