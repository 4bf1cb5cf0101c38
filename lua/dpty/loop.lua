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
  elseif kind == "head" then
    -- a response head came in: nothing to call, the waiting predicates look again
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

-- ---- tasks: coroutines that wait by yielding to the main thread's loop -------------------

local tasks = {}         -- live tasks, in creation order
local task_of = setmetatable({}, { __mode = "k" }) -- coroutine -> task

local Task = {}
Task.__index = Task
function Task:__tostring() return "dpty task " .. tostring(self.co):match("0x%x+") end
function Task:done() return self.status ~= "running" end

-- dpty.go(fn, ...) -> task: runs fn as a task; waits inside it let the other tasks run.
function M.go(fn, ...)
  assert(type(fn) == "function", "go: a function expected")
  local args = table.pack(...)
  local t = setmetatable({ status = "running" }, Task)
  t.co = coroutine.create(function()
    return fn(table.unpack(args, 1, args.n))
  end)
  task_of[t.co] = t
  tasks[#tasks + 1] = t
  return t
end

local function current_task()
  local co = coroutine.running()
  return task_of[co]
end

local function resume(t)
  local r = table.pack(coroutine.resume(t.co))
  if coroutine.status(t.co) == "dead" then
    if r[1] then
      t.status, t.results = "ok", table.pack(table.unpack(r, 2, r.n))
    else
      t.status, t.error = "error", debug.traceback(t.co, tostring(r[2]))
      -- a failed task's <close> variables (its sessions) are closed now, not at collection
      coroutine.close(t.co)
    end
    for i, x in ipairs(tasks) do
      if x == t then
        table.remove(tasks, i)
        break
      end
    end
  end
end

-- Resumes every task whose wait is over (or that has not started). True if any ran.
local function run_tasks()
  local ran = false
  for _, t in ipairs(table.move(tasks, 1, #tasks, 1, {})) do
    if t.status == "running" then
      -- a predicate may have effects (expect consumes what it matched): evaluated once,
      -- here, and its verdict handed to the task
      t.ready = not t.pred or t.pred()
      if t.ready or (t.deadline and core.monotonic() >= t.deadline) then
        ran = true
        resume(t)
      end
    end
  end
  return ran
end

-- The earliest deadline of a waiting task, for the loop's timeout.
local function next_task_deadline()
  local d
  for _, t in ipairs(tasks) do
    if not t.pred then return core.monotonic() end
    if t.deadline and (not d or t.deadline < d) then d = t.deadline end
  end
  return d
end

-- Runs the loop until pred() is true or timeout seconds passed; true if pred held.
-- Inside a task it yields to the main thread instead, which keeps everything running.
function M.run_until(pred, timeout)
  local deadline = timeout and core.monotonic() + timeout
  local t = current_task()
  if t and coroutine.isyieldable() then
    if pred() then return true end
    while true do
      if deadline and core.monotonic() >= deadline then return false end
      t.pred, t.deadline = pred, deadline
      coroutine.yield()
      t.pred, t.deadline = nil, nil
      if t.ready then return true end
    end
  end
  while true do
    run_tasks()
    if pred() then return true end
    local now = core.monotonic()
    if deadline and now >= deadline then return false end
    local left = deadline and deadline - now
    local td = next_task_deadline()
    if td and (not left or td - now < left) then left = math.max(0, td - now) end
    M.step(left)
  end
end

-- dpty.wait_all(tasks) -> a list of each task's results (a table.pack each); a task's error
-- is raised here, with its traceback.
function M.wait_all(list)
  M.run_until(function()
    for _, t in ipairs(list) do
      if not t:done() then return false end
    end
    return true
  end)
  local out = {}
  for i, t in ipairs(list) do
    if t.status == "error" then error(t.error, 0) end
    out[i] = t.results
  end
  return out
end

-- Lets unfinished tasks run to their end (a script's end waits for them).
function M.finish_tasks()
  M.run_until(function() return #tasks == 0 end)
end

function M.await(request)
  M.run_until(function() return request:done() end)
end

function M.sleep(seconds)
  local deadline = core.monotonic() + seconds
  M.run_until(function() return core.monotonic() >= deadline end, seconds)
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
