-- The scheduler over the C event loop: one loop per Lua state, created on first use.
-- Code waits with loop.await(request) / loop.sleep(seconds) / loop.run_until(pred); each
-- of them runs the loop (which pumps every session's bytes in C) until it is satisfied.
local core = require "dpty.core"

local M = {}

local the_loop            -- core loop userdata
local timers = {}          -- pending timers, sorted by due time
local listeners = {}      -- session id -> function(kind, value)
local signal_handlers = {} -- signal number -> list of functions(signo)
local detached_requests = {} -- request id -> request: fire-and-forget, closed when done

function M.get()
  if not the_loop then the_loop = core.loop() end
  return the_loop
end

local function dispatch(kind, id, value)
  if kind == "signal" then
    for _, fn in ipairs(signal_handlers[value] or {}) do fn(value) end
  elseif kind == "request" then
    local d = detached_requests[id]
    if d then
      detached_requests[id] = nil
      d.request:close()
      if d.then_fn then M.protect("request", d.then_fn) end
    end
  else
    local fn = listeners[id]
    if fn then fn(kind, value) end
  end
end

-- The session that has the host's terminal now (set by Session:interact), or nil.
M.host_session = nil

-- A message for the person while a handler failed: on the terminal in raw mode it needs
-- \r\n and must go in order with the container's output.
function M.report(msg)
  msg = tostring(msg)
  if M.host_session then
    M.get():write_host(2, "\r\ndpty: " .. msg:gsub("\r?\n", "\r\n") .. "\r\n")
  else
    io.stderr:write("dpty: ", msg, "\n")
  end
end

-- Calls fn(...) protected; a failure is reported as file:line: message, and nil returned.
function M.protect(what, fn, ...)
  local r = table.pack(xpcall(fn, debug.traceback, ...))
  if not r[1] then
    M.report(what .. ": " .. tostring(r[2]):match("^[^\n]*"))
    return nil
  end
  return table.unpack(r, 2, r.n)
end

local function schedule(t)
  local i = #timers + 1
  while i > 1 and timers[i - 1].due > t.due do i = i - 1 end
  table.insert(timers, i, t)
end

local Timer = {}
Timer.__index = Timer
function Timer:cancel()
  self.cancelled = true
  for i, t in ipairs(timers) do
    if t == self then
      table.remove(timers, i)
      return
    end
  end
end

-- dpty.after(seconds, fn) / dpty.every(seconds, fn): fire while the loop runs.
function M.after(seconds, fn, interval)
  assert(type(seconds) == "number" and seconds >= 0, "after: seconds must be a number >= 0")
  assert(type(fn) == "function", "after: a function expected")
  local t = setmetatable({ due = core.monotonic() + seconds, fn = fn, interval = interval }, Timer)
  schedule(t)
  return t
end

function M.every(seconds, fn)
  assert(type(seconds) == "number" and seconds > 0, "every: seconds must be a number > 0")
  return M.after(seconds, fn, seconds)
end

local function fire_timers()
  local now = core.monotonic()
  while timers[1] and timers[1].due <= now do
    local t = table.remove(timers, 1)
    local ok, err = xpcall(t.fn, debug.traceback, t)
    if not ok then
      -- reported once; a periodic timer that fails would fail again every tick
      M.report("timer: " .. tostring(err):match("^[^\n]*") .. (t.interval and " (timer cancelled)" or ""))
    elseif t.interval and not t.cancelled then
      t.due = math.max(t.due + t.interval, now)
      schedule(t)
    end
  end
end

-- One turn: wait up to timeout seconds (nil: until something happens) and dispatch.
function M.step(timeout)
  if timers[1] then
    local until_timer = math.max(0, timers[1].due - core.monotonic())
    if not timeout or until_timer < timeout then timeout = until_timer end
  end
  local ev = M.get():wait(timeout)
  for i = 1, #ev, 3 do dispatch(ev[i], ev[i + 1], ev[i + 2]) end
  if timers[1] then fire_timers() end
end

-- Runs the loop until pred() is true or timeout seconds passed; true if pred held.
function M.run_until(pred, timeout)
  local deadline = timeout and core.monotonic() + timeout
  while not pred() do
    local left
    if deadline then
      left = deadline - core.monotonic()
      if left <= 0 then return false end
    end
    M.step(left)
  end
  return true
end

function M.await(request)
  M.run_until(function() return request:done() end)
end

function M.sleep(seconds)
  local deadline = core.monotonic() + seconds
  M.run_until(function() return core.monotonic() >= deadline end)
end

-- A request nobody waits for (a resize): closed when it completes, then then_fn() runs.
function M.detach_request(request, then_fn)
  detached_requests[request:id()] = { request = request, then_fn = then_fn }
end

function M.listen(session_id, fn) listeners[session_id] = fn end

-- Handles signo until the returned function is called.
function M.on_signal(signo, fn)
  M.get():watch_signal(signo)
  local list = signal_handlers[signo] or {}
  signal_handlers[signo] = list
  list[#list + 1] = fn
  return function()
    for i, f in ipairs(list) do
      if f == fn then
        table.remove(list, i)
        return
      end
    end
  end
end

return M
