-- dpty.spawn(argv, opts): a local command in a pty, with the same session API as a
-- container (expect, screen, interact, wait), so rigs drive local programs too.
local core = require "dpty.core"
local loop = require "dpty.loop"
local session = require "dpty.session"

local M = {}

-- opts: rows, cols (default 24x80), env (table NAME = value | false), cwd, timeout,
-- window, key_timeout, detach_keys
function M.spawn(argv, opts)
  opts = opts or {}
  if type(argv) == "string" then argv = { "/bin/sh", "-c", argv } end
  assert(type(argv) == "table" and argv[1], "spawn: argv must be a list of strings (or a shell command)")
  -- bindings, hooks and detach keys as any session's (a bad key spec raises before a spawn)
  local bindings, hooks, detach_spec = session.prepare(opts)
  local rows, cols = opts.rows or 24, opts.cols or 80
  local pty, err = core.pty_spawn(argv, { rows = rows, cols = cols, env = opts.env, cwd = opts.cwd })
  if not pty then return nil, err end
  local conn = loop.get():fd_session(pty:fd(), true, pty)
  local s = session.new {
    kind = "local", argv = argv, id = table.concat(argv, " "), name = argv[1], pty = pty,
    tty = true, stdin = true, conn = conn, state = "running", opts = opts,
    bindings = bindings, hooks = hooks, detach_spec = detach_spec,
  }
  s:_emit("start")
  return s
end

-- The exit status of a local command: its code, or 128+N when killed by signal N.
function M.wait(self)
  if self.exit_code then return self.exit_code end
  -- nothing wakes the loop when the child exits (no SIGCHLD watch): look every 20 ms,
  -- letting everything else run meanwhile
  local code = self.pty:wait(0)
  while code == nil do
    loop.run_until(function() return false end, 0.02)
    code = self.pty:wait(0)
  end
  self.exit_code = code
  return code
end

return M
