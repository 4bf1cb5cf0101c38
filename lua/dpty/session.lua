-- The session: one hijacked connection to a container (attach) or an exec, and the
-- calls that give it the host's terminal. Bytes move in C; this file decides.
local core = require "dpty.core"
local cjson = require "cjson.safe"
local loop = require "dpty.loop"
local keys = require "dpty.keys"
local engine = require "dpty.engine"

local M = {}
local Session = {}
Session.__index = Session

local DETACH_ID = 1
local SIG = core.signals

local function closed_error(self, what)
  if self.closed then error("attempt to use a closed session", 3) end
  return self, what
end

-- Size of the host terminal (stdout, as docker), or nil when it is not one.
local function host_size()
  return core.term_size(1)
end

-- The start failure's exit code, as the docker CLI derives it from the message.
function M.start_failure_code(msg)
  if msg:find("executable file not found", 1, true) or msg:find("no such file or directory", 1, true) then
    return 127
  elseif msg:find("permission denied", 1, true) or msg:find("is a directory", 1, true) then
    return 126
  end
  return 125
end

local function new(fields)
  local s = setmetatable(fields, Session)
  s.state = s.state or "attached"
  return s
end

-- dpty.attach(docker, id, opts) -> session | nil, err
-- opts: stdin (default: if the container has one), detach_keys, logs, rows/cols
function M.attach(docker, id, opts)
  opts = opts or {}
  local spec, detach_bytes = keys.detach(opts.detach_keys)
  if not spec then error(detach_bytes, 2) end
  local info, err = docker:inspect(id)
  if not info then return nil, err end
  local st = info.State or {}
  if not st.Running and st.Status ~= "created" then
    return nil, ("You cannot attach to a stopped container, start it first (%s exited with code %s)")
      :format(id, tostring(st.ExitCode))
  end
  if st.Paused then return nil, ("container %s is paused, unpause it first"):format(id) end
  local tty = info.Config.Tty and true or false
  local stdin = info.Config.OpenStdin and opts.stdin ~= false
  local query = { stream = 1, stdout = 1, stderr = 1, stdin = stdin and 1 or 0, logs = opts.logs and 1 or nil }
  if stdin and tty then query.detachKeys = spec end
  local conn, herr = docker:hijack("/containers/" .. engine.urlencode(id) .. "/attach"
    .. engine.query_string(query), nil, tty)
  if not conn then return nil, herr end
  -- Registered before start, so a fast exit is never missed; --rm containers report
  -- their code once removed (as the CLI's condition=removed).
  local cond = (info.HostConfig or {}).AutoRemove and "removed" or "next-exit"
  local waiter, werr = docker:wait_async(id, cond)
  if not waiter then
    conn:close()
    return nil, werr
  end
  return new {
    docker = docker, kind = "container", id = info.Id, name = (info.Name or ""):gsub("^/", ""),
    tty = tty, stdin = stdin, conn = conn, waiter = waiter,
    detach_spec = spec, detach_bytes = detach_bytes,
    state = st.Running and "running" or "attached", opts = opts, reattach = st.Running,
  }
end

-- dpty.exec(docker, id, cmd, opts) -> session | nil, err
-- opts: tty (default: stdin is a terminal), stdin (default true), env, workdir, user,
-- privileged, detach_keys
function M.exec(docker, id, cmd, opts)
  opts = opts or {}
  if type(cmd) == "string" then cmd = { "sh", "-c", cmd } end
  local spec, detach_bytes = keys.detach(opts.detach_keys)
  if not spec then error(detach_bytes, 2) end
  local tty = opts.tty
  if tty == nil then tty = core.isatty(0) end
  local stdin = opts.stdin ~= false
  local exec_id, err = docker:exec_create(id, {
    AttachStdin = stdin, AttachStdout = true, AttachStderr = true, Tty = tty and true or false,
    Cmd = cmd, Env = opts.env, WorkingDir = opts.workdir, User = opts.user,
    Privileged = opts.privileged or false, DetachKeys = (stdin and tty) and spec or nil,
  })
  if not exec_id then return nil, err end
  return new {
    docker = docker, kind = "exec", id = id, exec_id = exec_id, tty = tty and true or false,
    stdin = stdin, detach_spec = spec, detach_bytes = detach_bytes, state = "created", opts = opts,
  }
end

function Session:_resize(rows, cols)
  if self.kind == "exec" then return self.docker:exec_resize(self.exec_id, rows, cols) end
  return self.docker:resize(self.id, rows, cols)
end

-- The size the session's terminal should have: the host's when it will be shown there,
-- else opts.rows/cols.
function Session:_size()
  local rows, cols = host_size()
  if rows and core.isatty(0) then return rows, cols end
  if self.opts.rows and self.opts.cols then return self.opts.rows, self.opts.cols end
  return rows, cols
end

-- s:start() -> true | nil, err, exit code (125, or 126/127 when the command cannot run)
function Session:start()
  closed_error(self)
  if self.kind == "exec" then
    if self.state ~= "created" then return true end
    local body = cjson.encode({ Detach = false, Tty = self.tty })
    local conn, err, status = self.docker:hijack("/exec/" .. self.exec_id .. "/start", body, self.tty)
    if not conn then return nil, err, status == 404 and 125 or 126 end
    self.conn = conn
    self.state = "running"
    -- Only after the 101 (before it the Engine holds the resize for 10 s and fails), and
    -- waited for, so the first command already sees the size (moby#35407).
    if self.tty then
      local rows, cols = self:_size()
      if rows then self.docker:exec_resize(self.exec_id, rows, cols) end
    end
    return true
  end
  if self.state ~= "attached" then return true end
  local ok, err = self.docker:start(self.id)
  if not ok then return nil, err, M.start_failure_code(err) end
  self.state = "running"
  if self.tty then
    local rows, cols = self:_size()
    if rows then
      -- Right after start the Engine may answer 409 until the process exists: retry as
      -- the CLI does (10 times, 10..100 ms apart).
      for attempt = 1, 10 do
        local done, rerr, status = self:_resize(rows, cols)
        if done or status ~= 409 then break end
        if attempt == 10 then io.stderr:write("dpty: failed to resize tty, using default size (", rerr, ")\n") end
        loop.sleep(attempt * 0.01)
      end
    end
  end
  return true
end

-- The exit code: wait's result (container) or the exec's ExitCode.
function Session:wait()
  closed_error(self)
  if self.exit_code then return self.exit_code end
  if self.kind == "exec" then
    local deadline = core.monotonic() + 5
    while true do
      local info, err = self.docker:exec_inspect(self.exec_id)
      if not info then return nil, err end
      if not info.Running and info.ExitCode ~= cjson.null and info.ExitCode ~= nil then
        self.exit_code = math.tointeger(info.ExitCode) or info.ExitCode
        return self.exit_code
      end
      if core.monotonic() > deadline then return nil, "the exec process is still running" end
      loop.sleep(0.02)
    end
  end
  local code, err = self.waiter.result()
  if code == nil then return nil, err end
  self.exit_code = code
  return code
end

-- Watches the end of the stream; true when the container is still running after it
-- (the Engine detached us), so that no one waits forever for an exit that is not coming.
function Session:_ended_without_exit()
  if self.kind == "exec" or self.waiter.done() then return false end
  if loop.run_until(self.waiter.done, 1) then return false end
  local info = self.docker:inspect(self.id)
  return info and info.State and info.State.Running
end

-- s:interact(opts) -> exit code | nil, "detached" | nil, "signal", signo | nil, err
-- Gives the host's terminal (raw when both sides are terminals) to the session until the
-- process ends, the detach keys are typed, or dpty is told to stop.
function Session:interact(iopts)
  closed_error(self)
  iopts = iopts or {}
  if self.state == "attached" or self.state == "created" then
    local ok, err, code = self:start()
    if not ok then return nil, err, code end
  end
  local conn = self.conn
  local cid = conn:id()
  local interactive = self.stdin and core.isatty(0)
  local raw = self.tty and interactive
  local bindings = {}
  if self.tty and self.stdin then bindings[1] = { self.detach_bytes, DETACH_ID } end
  conn:set_bindings(bindings)
  local the_loop = loop.get()
  local attached, aerr = the_loop:attach_host(conn, self.stdin, raw)
  if not attached then return nil, aerr end

  local outcome, value
  local unhooks = {}
  local guard <close> = setmetatable({}, { __close = function()
    for _, u in ipairs(unhooks) do u() end
    loop.listen(cid, nil)
    the_loop:detach_host()
  end })
  loop.listen(cid, function(kind, v)
    if kind == "eof" then
      outcome = outcome or "eof"
    elseif kind == "key" and v == DETACH_ID then
      outcome = outcome or "detach"
    elseif kind == "output_closed" then
      outcome, value = outcome or "output_closed", v
    end
  end)
  local function stop(signo) outcome, value = outcome or "signal", signo end
  for _, sig in ipairs { SIG.TERM, SIG.HUP, SIG.QUIT } do unhooks[#unhooks + 1] = loop.on_signal(sig, stop) end
  if not raw then unhooks[#unhooks + 1] = loop.on_signal(SIG.INT, stop) end
  if self.tty and core.isatty(1) then
    local kind, rid = self.kind, self.kind == "exec" and self.exec_id or self.id
    unhooks[#unhooks + 1] = loop.on_signal(SIG.WINCH, function()
      local rows, cols = host_size()
      if rows then self.docker:resize_async(kind, rid, rows, cols) end
    end)
    if self.state == "running" and self.kind == "container" and iopts.redraw ~= false and self.reattach then
      -- Nothing is replayed on attach: a size change makes the program redraw (moby#8521).
      local rows, cols = host_size()
      if rows then
        self.docker:resize_async("container", self.id, rows + 1, cols + 1)
        self.docker:resize_async("container", self.id, rows, cols)
      end
    end
  end

  loop.run_until(function() return outcome ~= nil end)

  if outcome == "eof" then
    local _, why = conn:eof()
    if why then return nil, why end
    if self:_ended_without_exit() then
      self.state = "detached"
      return nil, "detached"
    end
    return self:wait()
  elseif outcome == "detach" then
    self.state = "detached"
    conn:close()
    return nil, "detached"
  elseif outcome == "output_closed" then
    return nil, "output closed"
  end
  return nil, "signal", value
end

function Session:close()
  if self.closed then return end
  self.closed = true
  if self.conn then self.conn:close() end
  if self.waiter then self.waiter.close() end
end
Session.__close = Session.close
Session.__gc = Session.close

function Session:__tostring()
  return ("dpty session (%s %s)%s"):format(self.kind, self.exec_id or self.id, self.closed and " [closed]" or "")
end

M.Session = Session
return M
