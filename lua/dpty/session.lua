-- The session: one hijacked connection to a container (attach) or an exec, and the
-- calls that give it the host's terminal. Bytes move in C; this file decides what
-- happens around them: key bindings, hooks, exit codes.
local core = require "dpty.core"
local cjson = require "cjson.safe"
local loop = require "dpty.loop"
local keys = require "dpty.keys"
local engine = require "dpty.engine"
local defaults = require "dpty.defaults"

local M = {}
local Session = {}
Session.__index = Session

local SIG = core.signals
local SIG_NAME = {}
for name, n in pairs(SIG) do SIG_NAME[n] = name end

local function check_open(self)
  if self.closed then error("attempt to use a closed session", 3) end
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

-- Bindings and hooks start as the defaults (dpty.bind, dpty.on); the detach keys: opts,
-- then a detach the user bound, then config.json, then ctrl-p,ctrl-q.
-- The Engine matches detach keys too, and would detach on a prefix that the key timeout
-- delivered followed by the rest typed later: with a timeout it gets keys nobody types and
-- dpty alone detaches; with key_timeout = false (docker's behaviour) it gets the same keys.
-- -> bindings, hooks, client detach spec, Engine detach spec
function M.prepare(opts)
  local bindings, hooks = defaults.snapshot()
  local spec = opts.detach_keys
  if spec == nil or spec == "" then spec = defaults.engine_detach_spec(bindings) end
  local detach_spec, err = keys.detach(spec)
  if not detach_spec then error(err, 3) end
  local engine_spec = opts.key_timeout == false and detach_spec or defaults.UNTYPEABLE
  return bindings, hooks, detach_spec, engine_spec
end

local function new(fields)
  local s = setmetatable(fields, Session)
  s.key_timeout = fields.opts.key_timeout
  if s.key_timeout == nil then s.key_timeout = 1 end
  s.timeout = fields.opts.timeout
  if fields.conn then s:_connect(fields.conn) end
  return s
end
M.new = new

-- Every event of the session's stream comes here: to interact while it runs, else to the
-- script's side (the virtual screen and the expect buffer, see headless.lua).
function Session:_connect(conn)
  self.conn = conn
  self._cid = conn:id()
  loop.listen(self._cid, function(kind, v)
    local h = self._interact_handler
    if h then return h(kind, v) end
    self:_headless_event(kind, v)
  end)
  self:_headless_init()
end

-- dpty.attach(docker, id, opts) -> session | nil, err
-- opts: stdin (default: if the container has one), detach_keys, key_timeout, logs, rows/cols
function M.attach(docker, id, opts)
  opts = opts or {}
  local bindings, hooks, spec, engine_spec = M.prepare(opts)
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
  if stdin and tty then query.detachKeys = engine_spec end
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
    tty = tty, stdin = stdin, conn = conn, waiter = waiter, detach_spec = spec,
    bindings = bindings, hooks = hooks,
    state = st.Running and "running" or "attached", opts = opts, reattach = st.Running,
  }
end

-- dpty.exec(docker, id, cmd, opts) -> session | nil, err
-- opts: tty (default: stdin is a terminal), stdin (default true), env, workdir, user,
-- privileged, detach_keys, key_timeout
function M.exec(docker, id, cmd, opts)
  opts = opts or {}
  if type(cmd) == "string" then cmd = { "sh", "-c", cmd } end
  local bindings, hooks, spec, engine_spec = M.prepare(opts)
  local tty = opts.tty
  if tty == nil then tty = core.isatty(0) end
  local stdin = opts.stdin ~= false
  local exec_id, err = docker:exec_create(id, {
    AttachStdin = stdin, AttachStdout = true, AttachStderr = true, Tty = tty and true or false,
    Cmd = cmd, Env = opts.env, WorkingDir = opts.workdir, User = opts.user,
    Privileged = opts.privileged or false, DetachKeys = (stdin and tty) and engine_spec or nil,
  })
  if not exec_id then return nil, err end
  return new {
    docker = docker, kind = "exec", id = id, exec_id = exec_id, tty = tty and true or false,
    stdin = stdin, detach_spec = spec, bindings = bindings, hooks = hooks, state = "created",
    opts = opts, name = id,
  }
end

-- ---- hooks and bindings ---------------------------------------------------------------

-- s:on(event, fn): several handlers per event, called in registration order.
function Session:on(event, fn)
  check_open(self)
  defaults.check_event(event, fn, 2)
  self.hooks[event] = self.hooks[event] or {}
  table.insert(self.hooks[event], fn)
  if self.conn and (event == "output" or event == "input") then self:_update_taps() end
  return self
end

-- s:bind(spec, action): action "detach", a string to send, a function(s), or false.
function Session:bind(spec, action)
  check_open(self)
  defaults.bind_into(self.bindings, spec, action, 2)
  if self.conn and loop.host_session == self then self:_compile_bindings() end
  return self
end

function Session:_emit(event, ...)
  for _, fn in ipairs(self.hooks[event] or {}) do loop.protect(event .. " hook", fn, self, ...) end
end

-- output/input handlers in order: nil passes the data on, a string replaces it, false drops it.
function Session:_filter(event, data, ...)
  for _, fn in ipairs(self.hooks[event] or {}) do
    local r = loop.protect(event .. " hook", fn, self, data, ...)
    if r == false then return nil end
    if type(r) == "string" then data = r end
  end
  return data
end

-- Output and input go through Lua only when something there wants them: hooks, or a
-- transcript (s:log, s:record) while the person has the terminal.
function Session:_update_taps()
  local h = self.hooks
  local transcripts = self._interacting and (self._log or self._cast)
  self.conn:set_taps((h.output ~= nil and #h.output > 0) or transcripts,
    (h.input ~= nil and #h.input > 0) or (self._interacting and self._log) or false)
end

-- Binding ids index self._actions; the detach spec in force detaches unless the user bound
-- those very keys to something else.
function Session:_compile_bindings()
  local list, actions = {}, {}
  local bound = {}
  for _, b in ipairs(self.bindings) do
    actions[#actions + 1] = b.action
    for _, seq in ipairs(b.seqs) do
      list[#list + 1] = { seq, #actions }
      bound[seq] = true
    end
  end
  local detach_seq = keys.parse(self.detach_spec)
  if self.tty and self.stdin and detach_seq and not bound[detach_seq] then
    actions[#actions + 1] = "detach"
    list[#list + 1] = { detach_seq, #actions }
  end
  self._actions = actions
  self.conn:set_bindings(list)
  self.conn:set_key_timeout(self.key_timeout)
end

-- Sends all of data (waiting for room: the C buffer is bounded).
function Session:send(data)
  check_open(self)
  local conn = self.conn
  if not conn then error("session not started: call s:start() first", 2) end
  local sent = conn:send(data)
  while sent < #data do
    if conn:closed() or conn:eof() or not conn:writable() then return nil, "the session no longer takes input" end
    loop.run_until(function() return false end, 0.005) -- let the stream drain
    sent = sent + conn:send(data:sub(sent + 1))
  end
  if #data > 0 then self:_transcribe("in", data) end
  return true
end

function Session:_run_action(action)
  if type(action) == "function" then
    local r = loop.protect("key binding", action, self)
    if r == nil then return end
    action = r
  end
  if action == "detach" then
    self:detach()
  elseif type(action) == "string" then
    self:send(action)
  end
end

-- Seconds since the person last typed into this session (0 before it had the terminal).
function Session:idle()
  check_open(self)
  return self.conn and self.conn:idle() or 0
end

-- Ends the current interact with nil, "detached" (the container keeps running).
function Session:detach()
  check_open(self)
  self._outcome = self._outcome or "detach"
end

-- s:notify(text): a line for the person at the terminal; the program then redraws.
function Session:notify(text)
  text = tostring(text)
  if loop.host_session == self then
    loop.get():write_host(1, "\r\n\27[7m dpty: " .. text:gsub("[\r\n]+", " ") .. " \27[0m\r\n")
    self:redraw()
  else
    io.stderr:write("dpty: ", text, "\n")
  end
end

-- Makes the program redraw its screen: a size change it will notice (moby#8521).
function Session:redraw()
  if not self.tty then return end
  local rows, cols = host_size()
  if not rows or loop.host_session ~= self then rows, cols = self:_size() end
  if self.kind == "local" then
    self.pty:resize(rows + 1, cols + 1)
    self.pty:resize(rows, cols)
    return
  end
  local kind, rid = self.kind, self.kind == "exec" and self.exec_id or self.id
  -- one after the other: on two connections they could arrive the other way round
  self.docker:resize_async(kind, rid, rows + 1, cols + 1, function()
    self.docker:resize_async(kind, rid, rows, cols)
  end)
end

function Session:_resize(rows, cols)
  if self.kind == "local" then return self.pty:resize(rows, cols) end
  if self.kind == "exec" then return self.docker:exec_resize(self.exec_id, rows, cols) end
  return self.docker:resize(self.id, rows, cols)
end

-- The size the session's terminal should have: opts.rows/cols when given; the host's for a
-- session made to be shown there (opts.size = "host": the verbs, dpty.start); else 24x80.
function Session:_size()
  if self.opts.rows and self.opts.cols then return self.opts.rows, self.opts.cols end
  if self.opts.size == "host" then
    local rows, cols = host_size()
    if rows then return rows, cols end
  end
  return 24, 80
end

-- ---- lifecycle --------------------------------------------------------------------------

-- s:start() -> true | nil, err, exit code (125, or 126/127 when the command cannot run)
function Session:start()
  check_open(self)
  if self.kind == "exec" then
    if self.state ~= "created" then return true end
    local body = cjson.encode({ Detach = false, Tty = self.tty })
    local conn, err, status = self.docker:hijack("/exec/" .. self.exec_id .. "/start", body, self.tty)
    if not conn then return nil, err, status == 404 and 125 or 126 end
    self:_connect(conn)
    self.state = "running"
    -- Only after the 101 (before it the Engine holds the resize for 10 s and fails), and
    -- waited for, so the first command already sees the size (moby#35407).
    if self.tty then
      local rows, cols = self:_size()
      if rows then self.docker:exec_resize(self.exec_id, rows, cols) end
    end
    self:_emit("start")
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
  self:_emit("start")
  return true
end

-- The exit code: wait's result (container) or the exec's ExitCode.
function Session:wait()
  check_open(self)
  if self.exit_code then return self.exit_code end
  if self.kind == "local" then return require("dpty.spawn").wait(self) end
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

-- After the stream ended: true when the container still runs (the Engine detached us), so
-- that no one waits forever for an exit that is not coming.
function Session:_ended_without_exit()
  if self.kind ~= "container" or self.waiter.done() then return false end
  if loop.run_until(self.waiter.done, 1) then return false end
  local info = self.docker:inspect(self.id)
  return info and info.State and info.State.Running
end

-- Gives the host link to this session; returns the function that takes it back (and
-- hands it to the session that had it before, for a session opened from a binding).
function Session:_take_terminal(raw)
  local the_loop = loop.get()
  local outer = loop.host_session
  if outer then the_loop:detach_host() end
  local ok, err = the_loop:attach_host(self.conn, self.stdin, raw)
  if not ok then
    if outer then the_loop:attach_host(outer.conn, outer.stdin, outer._raw) end
    return nil, err
  end
  self._raw = raw
  loop.host_session = self
  return function()
    the_loop:detach_host()
    loop.host_session = outer
    if outer and not outer.conn:closed() then
      the_loop:attach_host(outer.conn, outer.stdin, outer._raw)
      outer:redraw()
    end
  end
end

-- Resizes the program's terminal while bytes flow (no waiting for the answer).
function Session:_resize_async(rows, cols)
  if self.kind == "local" then
    self.pty:resize(rows, cols)
  else
    self.docker:resize_async(self.kind, self.kind == "exec" and self.exec_id or self.id, rows, cols)
  end
end

-- s:interact(opts) -> exit code | nil, "detached" | nil, "signal", signo | nil, err
-- Gives the host's terminal (raw when both sides are terminals) to the session until the
-- process ends, a detach binding fires, or dpty is told to stop. After a detach the session
-- is still connected: a script can go on with it (or interact again).
function Session:interact(iopts)
  check_open(self)
  iopts = iopts or {}
  if self.state == "attached" or self.state == "created" then
    local ok, err, code = self:start()
    if not ok then return nil, err, code end
  end
  local conn = self.conn
  if conn:closed() then return nil, "the session's connection is closed" end
  local raw = self.tty and self.stdin and core.isatty(0)
  self:_compile_bindings()
  self._interacting = true
  self:_update_taps()
  conn:want_data(false) -- output goes to the terminal now, not to the script
  local give_back, aerr = self:_take_terminal(raw)
  if not give_back then
    self._interacting = false
    self:_update_taps()
    conn:want_data(self.stream ~= nil)
    return nil, aerr
  end

  -- a session sized for a script gets the person's terminal size while they have it
  local resized_for_host = false
  local host_rows, host_cols = host_size()
  if self.tty and host_rows and self.opts.size ~= "host" then
    local rows, cols = self:_size()
    if rows ~= host_rows or cols ~= host_cols then
      self:_resize_async(host_rows, host_cols)
      resized_for_host = true
    end
  end

  self._outcome = nil
  local value
  local unhooks = {}
  local guard <close> = setmetatable({}, { __close = function()
    for _, u in ipairs(unhooks) do u() end
    self._interact_handler = nil
    self._interacting = false
    give_back()
    if not conn:closed() then
      self:_update_taps()
      conn:want_data(self.stream ~= nil) -- back to the script, if it reads this session
      if resized_for_host then self:_resize_async(self:_size()) end
    end
  end })
  self._interact_handler = function(kind, v)
    if kind == "eof" then
      self._outcome = self._outcome or "eof"
    elseif kind == "key" then
      self:_run_action(self._actions[v])
    elseif kind == "output" then
      local pieces = conn:take_tapped_output()
      for i = 1, #pieces, 2 do
        local data = self:_filter("output", pieces[i + 1], pieces[i])
        if data and data ~= "" then
          self:_transcribe("out", data)
          loop.get():write_host(pieces[i], data)
        end
      end
    elseif kind == "input" then
      local data = self:_filter("input", conn:take_tapped_input())
      if data and #data > 0 then self:send(data) end
      conn:send("") -- passes on an EOF that waited behind the tapped input
    elseif kind == "output_closed" then
      self._outcome, value = self._outcome or "output_closed", v
    end
  end
  local function stop(signo)
    self._outcome, value = self._outcome or "signal", signo
  end
  if self.kind == "container" and not self.tty and self.opts.sig_proxy ~= false then
    -- as docker's --sig-proxy: the container gets the signal; three ctrl-c in a row force
    -- dpty out (the container may ignore SIGINT: PID 1 without a handler does)
    local ints = 0
    local function forward(signo)
      ints = (signo == SIG.INT or signo == SIG.TERM) and ints + 1 or 0
      if ints >= 3 then
        self._outcome, value = self._outcome or "forced", signo
        return
      end
      local name = SIG_NAME[signo] or tostring(signo)
      local ok, err = self.docker:kill(self.id, name)
      if not ok then loop.report("could not forward SIG" .. name .. ": " .. tostring(err)) end
    end
    for _, sig in ipairs { SIG.INT, SIG.TERM, SIG.HUP, SIG.QUIT, SIG.USR1, SIG.USR2 } do
      unhooks[#unhooks + 1] = loop.on_signal(sig, forward)
    end
  else
    for _, sig in ipairs { SIG.TERM, SIG.HUP, SIG.QUIT } do unhooks[#unhooks + 1] = loop.on_signal(sig, stop) end
    if not raw then unhooks[#unhooks + 1] = loop.on_signal(SIG.INT, stop) end
  end
  if self.tty and core.isatty(1) then
    unhooks[#unhooks + 1] = loop.on_signal(SIG.WINCH, function()
      if loop.host_session ~= self then return end
      local rows, cols = host_size()
      if rows then
        self:_resize_async(rows, cols)
        self:_emit("resize", rows, cols)
      end
    end)
    if self.reattach and iopts.redraw ~= false then
      self.reattach = false
      self:redraw() -- nothing is replayed on attach: make the program draw its screen
    end
  end

  loop.run_until(function() return self._outcome ~= nil end)
  local outcome = self._outcome
  self._outcome = nil

  if outcome == "eof" then
    self.eof = true
    local _, why = conn:eof()
    if why then return nil, why end
    if self:_ended_without_exit() then
      self.state = "detached"
      self:_emit("detach")
      return nil, "detached"
    end
    local code, err = self:wait()
    if code then self:_emit("exit", code) end
    return code, err
  elseif outcome == "detach" then
    self:_emit("detach")
    return nil, "detached"
  elseif outcome == "output_closed" then
    return nil, "output closed"
  elseif outcome == "forced" then
    return nil, "forced", value
  end
  return nil, "signal", value
end

-- opts.kill_on_close: the session owns its container (a rig's): closing the session, also
-- by a <close> variable when an expectation failed, kills it (AutoRemove then removes it).
function Session:close()
  if self.closed then return end
  self.closed = true
  if self.opts.kill_on_close and self.kind == "container" and self.exit_code == nil then
    self.docker:kill(self.id, "KILL") -- an already exited container answers 409: fine
  end
  if self._log then self._log:close() end
  if self._cast then self._cast:close() end
  if self._cid then loop.listen(self._cid, nil) end -- the listener holds the session
  if self.conn then self.conn:close() end
  if self.pty then self.pty:close() end
  if self.waiter then self.waiter.close() end
end
Session.__close = Session.close
-- the collector must not make requests: it only lets go of the connection
function Session:__gc()
  if self.closed then return end
  self.opts.kill_on_close = nil
  self:close()
end

function Session:__tostring()
  return ("dpty session (%s %s)%s"):format(self.kind, self.exec_id or self.id, self.closed and " [closed]" or "")
end

M.Session = Session
require("dpty.headless").install(Session, M)
return M
