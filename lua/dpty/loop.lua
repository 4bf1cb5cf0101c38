-- The scheduler over the C event loop: one loop per Lua state, created on first use.
-- Code waits with loop.await(request) / loop.sleep(seconds) / loop.run_until(pred); each
-- of them runs the loop (which pumps every session's bytes in C) until it is satisfied.
local core = require "dpty.core"

local M = {}

local the_loop            -- core loop userdata
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
    local r = detached_requests[id]
    if r then
      detached_requests[id] = nil
      r:close()
    end
  else
    local fn = listeners[id]
    if fn then fn(kind, value) end
  end
end

-- One turn: wait up to timeout seconds (nil: until something happens) and dispatch.
function M.step(timeout)
  local ev = M.get():wait(timeout)
  for i = 1, #ev, 3 do dispatch(ev[i], ev[i + 1], ev[i + 2]) end
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

-- A request nobody waits for (a resize): closed when it completes.
function M.detach_request(request)
  detached_requests[request:id()] = request
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
