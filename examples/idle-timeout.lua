-- Detaches after DPTY_IDLE seconds (default 300) without a key pressed; the container keeps
-- running, and `dpty attach` brings you back. A minute before, it warns you.
--   DPTY_IDLE=60 DPTY_CONFIG=examples/idle-timeout.lua dpty run -it busybox sh
local dpty = require "dpty"

local limit = tonumber(os.getenv("DPTY_IDLE")) or 300

dpty.on("start", function(s)
  local warned = false
  local timer
  timer = dpty.every(math.min(1, limit / 4), function()
    if s.closed then return timer:cancel() end
    local idle = s:idle()
    if idle >= limit then
      timer:cancel()
      s:notify(("idle for %d s: detaching (dpty attach to come back)"):format(limit))
      s:detach()
    elseif idle >= limit - 60 and idle >= limit / 2 and not warned then
      warned = true
      s:notify(("idle: detaching in %d s unless you type"):format(math.floor(limit - idle)))
    elseif idle < limit / 2 then
      warned = false
    end
  end)
  s:on("detach", function() timer:cancel() end)
  s:on("exit", function() timer:cancel() end)
end)
