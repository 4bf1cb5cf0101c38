-- Appends a timestamped transcript of everything the container prints to a file while you
-- work (DPTY_TRANSCRIPT, default ./dpty-transcript.log). Output still reaches the screen
-- unchanged: the hook returns nil.
--   DPTY_CONFIG=examples/transcript.lua dpty run -it --rm busybox sh
local dpty = require "dpty"

local path = os.getenv("DPTY_TRANSCRIPT") or "dpty-transcript.log"
local file

dpty.on("start", function(s)
  file = assert(io.open(path, "a"))
  file:write(os.date("!%Y-%m-%dT%H:%M:%SZ"), " start ", s.name or s.id, "\n")
end)

dpty.on("output", function(_, data)
  if not file then return end
  -- one record per chunk: time, then the bytes with control characters made visible
  local shown = data:gsub("[%c\127]", function(c)
    if c == "\n" then return "\\n" end
    if c == "\r" then return "\\r" end
    return ("\\x%02x"):format(c:byte())
  end)
  file:write(os.date("!%Y-%m-%dT%H:%M:%SZ"), " out ", shown, "\n")
  file:flush()
end)

dpty.on("exit", function(_, code)
  if file then
    file:write(os.date("!%Y-%m-%dT%H:%M:%SZ"), " exit ", code, "\n")
    file:close()
    file = nil
  end
end)
