-- A session driven by a script: what the program prints feeds a virtual screen (libvterm)
-- and the expect buffer; keys are sent encoded for the program's terminal modes; while no
-- person's terminal is attached, the virtual terminal answers the program's queries.
-- Installed into the Session class by session.lua.
local core = require "dpty.core"
local cjson = require "cjson.safe"
local loop = require "dpty.loop"
local keys = require "dpty.keys"
local expect = require "dpty.expect"

local H = {}

local DEFAULT_TIMEOUT = 10

local function check_open(self)
  if self.closed then error("attempt to use a closed session", 3) end
  if not self.conn then error("session not started: call s:start() first", 3) end
end

local function check_scripted(self)
  check_open(self)
  if not self.stream then
    error("this session was made for the terminal (opts.size = \"host\"): it has no screen or expect buffer", 3)
  end
end

-- ---- the output side ----------------------------------------------------------------------

function H:_headless_init()
  -- a session made for the person's terminal (the verbs, dpty.start) is never read by the
  -- script: what comes before interact() waits for the terminal, none of it is consumed
  if self.opts.size == "host" then return end
  local rows, cols = self:_size()
  self.stream = expect.buffer(self.opts.window)
  if core.screen then self.vt = core.screen(rows, cols) end
  self.last_output = core.monotonic()
  self.conn:want_data(true)
end

function H:_headless_event(kind)
  if not self.stream then -- a session for the terminal: its output waits for interact()
    if kind == "eof" then self.eof = true end
    return
  end
  if kind == "data" then
    self:_absorb(self.conn:take_output())
  elseif kind == "eof" then
    self:_absorb(self.conn:take_output())
    self.eof = true
  end
end

-- Output the script sees: hooks first (they may change or drop it), then the screen, the
-- expect buffer and the transcripts.
function H:_absorb(data)
  if data == "" then return end
  data = self:_filter("output", data, 1)
  if not data or data == "" then return end
  self.last_output = core.monotonic()
  if self.vt then
    local replies = self.vt:feed(data)
    -- a person's terminal answers for itself; a script's virtual one answers here
    if replies ~= "" and loop.host_session ~= self and not self.conn:closed() then self.conn:send(replies) end
  end
  self.stream:push(data)
  self:_transcribe("out", data)
end

local function iso_time()
  local t = core.realtime and core.realtime() or os.time()
  return os.date("!%Y-%m-%dT%H:%M:%S", math.floor(t)) .. ("%.3fZ"):format(t % 1):sub(2)
end

function H:_transcribe(direction, data)
  if self._log then
    self._log:write(iso_time(), " ", direction, " ", expect.visible(data), "\n")
    self._log:flush()
  end
  if self._cast and direction == "out" then
    self._cast:write(cjson.encode({ core.monotonic() - self._cast_start, "o", data }), "\n")
    self._cast:flush()
  end
end

-- s:log(path): a timestamped transcript tagged by direction (in/out); s:log(false) stops.
function H:log(path)
  check_open(self)
  if self._log then self._log:close() end
  self._log = nil
  if path then self._log = assert(io.open(path, "a")) end
  self:_update_taps()
  return self
end

-- s:record(path): an asciicast v2 file of the output with its timing (asciinema plays it).
function H:record(path)
  check_open(self)
  if self._cast then self._cast:close() end
  self._cast = nil
  if path then
    local rows, cols = self:_size()
    local f = assert(io.open(path, "w"))
    f:write(cjson.encode({ version = 2, width = cols, height = rows, timestamp = os.time(),
      env = { TERM = "xterm", SHELL = "/bin/sh" } }), "\n")
    self._cast, self._cast_start = f, core.monotonic()
  end
  self:_update_taps()
  return self
end

-- ---- the input side -----------------------------------------------------------------------

-- Text then Enter: "\r" on a terminal; a non-tty stream has no terminal to turn it into a
-- newline, so there the line ends with "\n".
function H:sendline(text) return self:send((text or "") .. (self.tty and "\r" or "\n")) end

-- s:sendcontrol("c") sends ctrl-c
function H:sendcontrol(ch)
  assert(type(ch) == "string" and #ch == 1, "sendcontrol: one character expected")
  local b = ch:lower():byte()
  if ch == "?" then return self:send("\127") end
  return self:send(string.char(b & 31))
end

-- End of input: ctrl-d for a terminal; for a non-tty stream the input side is closed, which
-- the Engine passes on as EOF.
function H:sendeof()
  check_open(self)
  if self.tty then return self:send("\4") end
  self.conn:close_write()
  return true
end

-- s:key("up"), s:key("f5"), s:key("x", "ctrl"): encoded for the program's current modes
-- (application cursor keys and so on) by the virtual terminal.
function H:key(name, mods)
  check_open(self)
  assert(type(name) == "string" and name ~= "", "key: a key name expected")
  -- the binding grammar's prefixes: s:key("ctrl-c"), s:key("alt-x"), s:key("alt-up")
  local m = { mods ~= "" and mods or nil }
  while true do
    local prefix, rest = name:match("^(%a+)%-(.+)$")
    if prefix ~= "alt" and prefix ~= "ctrl" then break end
    m[#m + 1], name = prefix, rest
  end
  if name == "DEL" then return self:send("\127") end
  mods = #m > 0 and table.concat(m, "+") or nil
  local bytes
  if self.vt then
    bytes = self.vt:key(name, mods)
  else
    local seqs, err = keys.sequences((mods and mods ~= "" and (mods .. "-") or "") .. name)
    if not seqs then error(err, 2) end
    bytes = seqs[1]
  end
  return self:send(bytes)
end

-- s:paste(text): bracketed when the program asked for it (mode 2004)
function H:paste(text)
  check_open(self)
  return self:send(self.vt and self.vt:paste(text) or text)
end

-- s:resize(rows, cols): the program's terminal and the virtual screen
function H:resize(rows, cols)
  check_open(self)
  assert(math.type(rows) == "integer" and math.type(cols) == "integer" and rows > 0 and cols > 0,
    "resize: rows and cols must be positive integers")
  self.opts.rows, self.opts.cols = rows, cols
  if self.vt then self.vt:resize(rows, cols) end
  local ok, err = self:_resize(rows, cols)
  if ok == nil and err then return nil, err end
  return true
end

-- ---- expect -------------------------------------------------------------------------------

local function screen_text(self)
  return self.vt and self.vt:text() or nil
end

local function fail(self, matchers, reason, waited, timeout, level)
  error(expect.report {
    patterns = matchers, reason = reason, waited = waited, timeout = timeout,
    screen = screen_text(self), tail = self.stream:tail(512),
    discarded = self.stream.discarded, window = self.stream.window,
  }, level + 1)
end

local function sentinel_index(matchers, sentinel)
  for i, m in ipairs(matchers) do
    if m == sentinel then return i end
  end
end

-- s:expect(patterns, timeout) -> index, m (m.before, m.text, m.captures); consumes the
-- stream through the match. EOF/TIMEOUT raise a report unless the list names them.
function H:expect(patterns, timeout)
  check_scripted(self)
  local matchers = expect.normalize(patterns, 2)
  timeout = timeout or self.timeout or DEFAULT_TIMEOUT
  local t0 = core.monotonic()
  local index, m
  local done = loop.run_until(function()
    index, m = self.stream:search(matchers)
    return index ~= nil or self.eof
  end, timeout)
  if index then return index, m end
  local waited = core.monotonic() - t0
  local reason = done and "eof" or "timeout"
  local wanted = sentinel_index(matchers, reason == "eof" and expect.EOF or expect.TIMEOUT)
  if wanted then
    return wanted, { before = self.stream:take_all(), text = "", captures = {} }
  end
  fail(self, matchers, reason, waited, timeout, 2)
end

-- s:expect_screen(patterns, timeout): the same patterns, matched against the rendered
-- screen (nothing is consumed) -> index, m
function H:expect_screen(patterns, timeout)
  check_scripted(self)
  if not self.vt then error("expect_screen: no virtual screen (dpty was built without libvterm)", 2) end
  local matchers = expect.normalize(patterns, 2)
  timeout = timeout or self.timeout or DEFAULT_TIMEOUT
  local t0 = core.monotonic()
  local seen_generation, index, m
  local done = loop.run_until(function()
    local g = self.vt:generation()
    if g ~= seen_generation then
      seen_generation = g
      local b = expect.buffer()
      b:push(self.vt:text())
      index, m = b:search(matchers)
      if index then return true end
    end
    return self.eof
  end, timeout)
  if index then return index, m end
  local reason = done and "eof" or "timeout"
  local wanted = sentinel_index(matchers, reason == "eof" and expect.EOF or expect.TIMEOUT)
  if wanted then return wanted, { before = self.vt:text(), text = "", captures = {} } end
  fail(self, matchers, reason, core.monotonic() - t0, timeout, 2)
end

-- Waits until quiet_for() (seconds the condition has held) reaches `span`, waking exactly
-- when it could have; true, or nil, "timeout".
local function wait_for_calm(self, span, timeout, held_for)
  local deadline = core.monotonic() + (timeout or self.timeout or DEFAULT_TIMEOUT)
  while true do
    local held = held_for()
    if held >= span or self.eof then return true end
    local now = core.monotonic()
    if now >= deadline then return nil, "timeout" end
    loop.run_until(function() return false end, math.min(span - held, deadline - now))
  end
end

-- s:wait_quiet(ms, timeout): true once no output came for ms milliseconds | nil, "timeout"
function H:wait_quiet(ms, timeout)
  check_scripted(self)
  local started = core.monotonic()
  return wait_for_calm(self, (ms or 200) / 1000, timeout, function()
    return core.monotonic() - math.max(self.last_output, started)
  end)
end

-- s:wait_stable(ms, timeout): true once the screen stayed unchanged for ms | nil, "timeout"
function H:wait_stable(ms, timeout)
  check_scripted(self)
  if not self.vt then return self:wait_quiet(ms, timeout) end
  local g, since = self.vt:generation(), core.monotonic()
  return wait_for_calm(self, (ms or 200) / 1000, timeout, function()
    local now_g = self.vt:generation()
    if now_g ~= g then g, since = now_g, core.monotonic() end
    return core.monotonic() - since
  end)
end

-- ---- the screen object --------------------------------------------------------------------

local Screen = {}
Screen.__index = Screen
function Screen:text() return self.vt:text() end
function Screen:line(n) return self.vt:line(n) end
function Screen:cursor() return self.vt:cursor() end
function Screen:cell(row, col) return self.vt:cell(row, col) end
function Screen:size() return self.vt:size() end
function Screen:__tostring() return self.vt:text() end

-- s:screen() -> the virtual screen: :text(), :line(n), :cursor(), :cell(row, col)
function H:screen()
  check_scripted(self)
  if not self.vt then error("no virtual screen (dpty was built without libvterm)", 2) end
  return setmetatable({ vt = self.vt }, Screen)
end

-- ---- many sessions ------------------------------------------------------------------------

-- dpty.expect_any({{s1, patterns}, {s2, patterns}}, timeout) -> session, index, m
function H.expect_any(list, timeout)
  local prepared = {}
  for i, pair in ipairs(list) do prepared[i] = { s = pair[1], matchers = expect.normalize(pair[2]) } end
  timeout = timeout or DEFAULT_TIMEOUT
  local t0 = core.monotonic()
  local hit_s, hit_i, hit_m
  loop.run_until(function()
    for _, p in ipairs(prepared) do
      local i, m = p.s.stream:search(p.matchers)
      if i then
        hit_s, hit_i, hit_m = p.s, i, m
        return true
      end
    end
    for _, p in ipairs(prepared) do if not p.s.eof then return false end end
    return true
  end, timeout)
  if hit_s then return hit_s, hit_i, hit_m end
  for _, p in ipairs(prepared) do
    local t = sentinel_index(p.matchers, expect.TIMEOUT)
    if t then return p.s, t, { before = "", text = "", captures = {} } end
  end
  local lines = {}
  for _, p in ipairs(prepared) do
    lines[#lines + 1] = tostring(p.s) .. ":\n" .. expect.report {
      patterns = p.matchers, reason = p.s.eof and "eof" or "timeout", waited = core.monotonic() - t0,
      timeout = timeout, screen = screen_text(p.s), tail = p.s.stream:tail(512),
    }
  end
  error("expect_any: nothing matched\n" .. table.concat(lines, "\n"), 2)
end

function H.install(Session, M)
  for k, v in pairs(H) do
    if k ~= "install" and k ~= "expect_any" then Session[k] = v end
  end
  M.expect_any = H.expect_any
end

return H
