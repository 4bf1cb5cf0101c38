-- Key specs (docker's grammar: "ctrl-p,ctrl-q") and the detach keys in force.
local core = require "dpty.core"
local config = require "dpty.config"

local M = {}

M.DEFAULT_DETACH = "ctrl-p,ctrl-q"

-- spec -> bytes | nil, message naming the bad key
function M.parse(spec)
  return core.keys_parse(spec)
end

-- The detach spec in force: explicit > config.json detachKeys > ctrl-p,ctrl-q.
-- -> spec, bytes | nil, message
function M.detach(explicit)
  local spec = explicit
  if spec == nil or spec == "" then
    local conf, err = config.load()
    if not conf then return nil, err end
    spec = conf.detachKeys
    if spec == nil or spec == "" then spec = M.DEFAULT_DETACH end
  end
  local bytes, err = M.parse(spec)
  if not bytes then return nil, "invalid detach keys: " .. err end
  return spec, bytes
end

return M
