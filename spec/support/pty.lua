-- Expect-style driver for a command in a local pty (core.pty_spawn), for interactive specs:
--   local P = require "support.pty"
--   local p <close> = P.spawn({ "/bin/sh", "-i" }, { rows = 24, cols = 80, env = { PS1 = "$ " } })
--   p:send("echo $((6*7))\r")
--   local before, match = p:expect("42")              -- plain text
--   p:expect({ pattern = "(%d+) (%d+)" })             -- Lua pattern; captures follow the match
--   p:resize(30, 100)  p:kill("TERM")  p:termios()
--   local rest = p:expect_eof()  local code = p:wait()
-- Failures raise (this is a test helper): a timeout shows what was expected and the last
-- bytes received with control characters made visible. Timeouts are seconds (default 10).
local core = require "dpty.core"

local P = {}
P.timeout = 10
P.tail_size = 600

-- "a\r\n\27[1m" -> "a\r\n\x1b[1m": bytes a reader can see in an error message
function P.visible(s)
  return (s:gsub("[%z\1-\31\127-\255\\]", function(c)
    if c == "\r" then return "\\r" end
    if c == "\n" then return "\\n\n" end -- keep the lines apart
    if c == "\t" then return "\\t" end
    if c == "\\" then return "\\\\" end
    return string.format("\\x%02x", c:byte())
  end))
end

-- Pause between keystrokes (the pty buffers whatever arrives meanwhile).
function P.sleep(seconds)
  os.execute(("sleep %.3f"):format(seconds))
end

local Pty = {}
Pty.__index = Pty

-- P.spawn(argv, opts) -> driver; opts as core.pty_spawn (rows, cols, env, cwd).
-- LD_PRELOAD is dropped from the child's environment unless opts.env sets it: in the
-- sanitizer pass it holds libasan, which stock tools have no use for (ps even hangs with it).
function P.spawn(argv, opts)
  opts = opts or {}
  local env = { LD_PRELOAD = false }
  for k, v in pairs(opts.env or {}) do env[k] = v end
  local o = {}
  for k, v in pairs(opts) do o[k] = v end
  o.env = env
  local h, err = core.pty_spawn(argv, o)
  if not h then error(err, 2) end
  return setmetatable({
    h = h,
    argv = argv,
    buf = "",       -- received, not consumed by expect
    seen = {},      -- every chunk received, for :output()
    tail = "",      -- the last P.tail_size bytes received
    eof = false,
  }, Pty)
end

function Pty:__tostring()
  return "pty driver for " .. table.concat(self.argv, " ")
end

local function describe_what(what)
  if type(what) == "table" then return string.format("pattern %q", what.pattern) end
  return string.format("%q", what)
end

function Pty:_fail(msg, level)
  error(string.format("%s\n(%s)\nlast %d bytes received:\n%s", msg, tostring(self),
    #self.tail, P.visible(self.tail)), level + 1)
end

-- one read of at most `timeout` seconds; false once at EOF
function Pty:_pull(timeout)
  if self.eof then return false end
  local data, err = self.h:read(timeout)
  if data == nil then
    if err ~= "eof" then self:_fail("read failed: " .. tostring(err), 3) end
    self.eof = true
    return false
  end
  if #data > 0 then
    self.buf = self.buf .. data
    self.seen[#self.seen + 1] = data
    local t = self.tail .. data
    self.tail = #t > P.tail_size and t:sub(-P.tail_size) or t
  end
  return true
end

function Pty:send(s, timeout)
  local ok, err = self.h:write(s, timeout or P.timeout)
  if not ok then self:_fail("send " .. string.format("%q", s) .. " failed: " .. err, 2) end
  return self
end

function Pty:sendline(s, timeout)
  return self:send(s .. "\r", timeout)
end

-- expect(what, timeout) -> text before the match, the match, captures...
-- what: plain string, or {pattern = "lua pattern"}. Consumes the buffer through the match.
function Pty:expect(what, timeout)
  local pattern, plain
  if type(what) == "table" then
    pattern, plain = assert(what.pattern, "expect: {pattern = ...} expected"), false
  else
    pattern, plain = assert(type(what) == "string" and what, "expect: a string expected"), true
  end
  local deadline = core.monotonic() + (timeout or P.timeout)
  local from = 1
  while true do
    local r = table.pack(self.buf:find(pattern, plain and from or 1, plain))
    if r[1] then
      local s, e = r[1], r[2]
      local before, match = self.buf:sub(1, s - 1), self.buf:sub(s, e)
      self.buf = self.buf:sub(e + 1)
      return before, match, table.unpack(r, 3, r.n)
    end
    -- a plain match cannot start before the last #pattern - 1 bytes already searched
    if plain then from = math.max(1, #self.buf - #pattern + 2) end
    local left = deadline - core.monotonic()
    if self.eof then
      self:_fail("expected " .. describe_what(what) .. ", got EOF", 2)
    elseif left <= 0 then
      self:_fail(string.format("expected %s within %g s, timed out", describe_what(what), timeout or P.timeout), 2)
    end
    self:_pull(left)
  end
end

-- all remaining output up to EOF (the unconsumed buffer included); consumes it
function Pty:expect_eof(timeout)
  local deadline = core.monotonic() + (timeout or P.timeout)
  local parts = { self.buf }
  self.buf = ""
  while not self.eof do
    local left = deadline - core.monotonic()
    if left <= 0 then
      self.buf = table.concat(parts) .. self.buf
      self:_fail(string.format("expected EOF within %g s, timed out", timeout or P.timeout), 2)
    end
    self:_pull(left)
    if #self.buf > 0 then
      parts[#parts + 1] = self.buf
      self.buf = ""
    end
  end
  return table.concat(parts)
end

-- everything received so far (expect does not consume it)
function Pty:output()
  local all = table.concat(self.seen)
  self.seen = { all }
  return all
end

-- wait(timeout) -> exit code (128 + N for signal N). Output keeps being read meanwhile, so a
-- child blocked on a full terminal can still finish; it stays available to expect.
function Pty:wait(timeout)
  local deadline = core.monotonic() + (timeout or P.timeout)
  while true do
    local code, err = self.h:wait(0)
    if code then return code end
    if err ~= "timeout" then self:_fail("wait failed: " .. tostring(err), 2) end
    local left = deadline - core.monotonic()
    if left <= 0 then
      self:_fail(string.format("process did not exit within %g s", timeout or P.timeout), 2)
    end
    if self.eof then
      code = self.h:wait(math.min(left, 0.05))
      if code then return code end
    else
      self:_pull(math.min(left, 0.05))
    end
  end
end

function Pty:resize(rows, cols)
  local ok, err = self.h:resize(rows, cols)
  if not ok then self:_fail("resize failed: " .. err, 2) end
  return self
end

function Pty:size() return self.h:size() end
function Pty:termios() return assert(self.h:termios()) end
function Pty:stty() return assert(self.h:stty()) end
function Pty:pid() return self.h:pid() end
function Pty:foreground() return assert(self.h:foreground()) end

-- kill(sig, target): sig a number or "TERM", "HUP", ...; target "child" (default), "group",
-- "foreground"
function Pty:kill(sig, target)
  local ok, err = self.h:kill(sig, target)
  if not ok then self:_fail("kill failed: " .. tostring(err), 2) end
  return self
end

-- closes the pty; the child is hung up and killed if still running. Idempotent; returns the
-- exit code when known.
function Pty:close()
  return self.h:close()
end
Pty.__close = Pty.close

return P
