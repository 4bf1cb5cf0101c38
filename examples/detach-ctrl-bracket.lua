-- Detach with ctrl-] (as telnet does) instead of ctrl-p,ctrl-q, which then reach the program.
-- Use it as your init file (~/.config/dpty/init.lua), or for one run:
--   DPTY_CONFIG=examples/detach-ctrl-bracket.lua dpty run -it --rm busybox sh
local dpty = require "dpty"

dpty.bind("ctrl-]", "detach")
