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
}

-- dockerpty parity: attach, start if needed, give it the terminal until it exits.
-- -> exit code | nil, "detached" | nil, err
function dpty.start(docker, id, opts)
  local s, err = session.attach(docker, id, opts)
  if not s then return nil, err end
  local code, why, extra = s:interact(opts)
  s:close()
  return code, why, extra
end

function dpty.exec_command(docker, id, cmd, opts)
  local s, err = session.exec(docker, id, cmd, opts)
  if not s then return nil, err end
  local code, why, extra = s:interact(opts)
  s:close()
  return code, why, extra
end

return dpty
