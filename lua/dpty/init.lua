-- dpty: the pseudo-terminal of a Docker container, for a person's terminal or a script.
--   local dpty = require "dpty"
--   local docker = dpty.docker()
--   local code = dpty.start(docker, id)
local core = require "dpty.core"
local engine = require "dpty.engine"
local session = require "dpty.session"
local loop = require "dpty.loop"
local keys = require "dpty.keys"
local defaults = require "dpty.defaults"
local expect = require "dpty.expect"
local spawn = require "dpty.spawn"
local pull = require "dpty.pull" -- also gives docker objects their :pull method

local dpty = {
  version = core.version,
  docker = engine.docker,
  attach = session.attach,
  exec = session.exec,
  sleep = loop.sleep,
  after = loop.after,
  every = loop.every,
  bind = defaults.bind,   -- dpty.bind(spec, action): a binding for every later session
  on = defaults.on,       -- dpty.on(event, fn): a hook for every later session
  keys = keys.sequences,  -- spec -> the byte sequences it stands for
  spawn = spawn.spawn,    -- a local command in a pty, with the session API
  pull = pull.pull,       -- dpty.pull(docker, image, {on_progress = fn}), as docker:pull
  ensure_image = pull.ensure_image,
  -- test rigs
  go = loop.go,
  wait_all = loop.wait_all,
  expect_any = session.expect_any,
  pat = expect.pat,
  re = expect.re,
  EOF = expect.EOF,
  TIMEOUT = expect.TIMEOUT,
}

-- dockerpty parity: attach, start if needed, give it the terminal until it exits.
-- -> exit code | nil, "detached" | nil, err
-- Sized like the person's terminal (opts.size = "host"), unless opts says otherwise.
local function for_terminal(opts)
  local o = {}
  for k, v in pairs(opts or {}) do o[k] = v end
  if o.size == nil then o.size = "host" end
  return o
end

-- The session (or why there is none) given the terminal until it ends, then closed.
local function to_the_end(s, err, opts)
  if not s then return nil, err end
  local code, why, extra = s:interact(opts)
  s:close()
  return code, why, extra
end

function dpty.start(docker, id, opts)
  opts = for_terminal(opts)
  local s, err = session.attach(docker, id, opts)
  return to_the_end(s, err, opts)
end

function dpty.exec_command(docker, id, cmd, opts)
  opts = for_terminal(opts)
  local s, err = session.exec(docker, id, cmd, opts)
  return to_the_end(s, err, opts)
end

return dpty
