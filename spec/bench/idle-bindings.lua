-- The init file of the "dpty+bindings" benchmark client: a set of bindings that never fire
-- during the workloads, and hooks on events that are not on the data path. With no output or
-- input hook the bytes never enter Lua, so this client should match plain dpty within noise.
local dpty = require "dpty"

dpty.bind("ctrl-]", "detach")
dpty.bind("f2", "ls -l\r")
dpty.bind("alt-x", function() return nil end)
dpty.bind("ctrl-a,c", "clear\r")
dpty.bind("up", function(s) return "\27[A" end)
for i = 5, 12 do dpty.bind("f" .. i, "echo f" .. i .. "\r") end
dpty.on("start", function() end)
dpty.on("resize", function() end)
dpty.on("exit", function() end)
