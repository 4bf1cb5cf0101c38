-- F2 types a command for you; alt-l clears the screen the way the program would.
--   DPTY_CONFIG=examples/key-types-command.lua dpty run -it --rm busybox sh
local dpty = require "dpty"

dpty.bind("f2", "ls -l /\r")
dpty.bind("alt-l", "clear\r")
