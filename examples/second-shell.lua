-- ctrl-t opens a second shell (an exec) in the same container; when it exits you are back
-- in the first one, which redraws its screen.
--   DPTY_CONFIG=examples/second-shell.lua dpty run -it --rm busybox sh
local dpty = require "dpty"

dpty.bind("ctrl-t", function(s)
  if s.kind ~= "container" then return "\20" end -- inside the second shell: a plain ctrl-t
  s:notify("second shell: exit it to come back")
  local code, why = dpty.exec_command(s.docker, s.id, { "sh" }, { tty = true })
  s:notify(("back from the second shell (%s)"):format(code or why))
end)
