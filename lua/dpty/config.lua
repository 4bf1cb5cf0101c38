-- The docker CLI's configuration that dpty honours: $DOCKER_CONFIG/config.json
-- (default ~/.docker/config.json), for detachKeys.
local cjson = require "cjson.safe"

local M = {}

function M.dir()
  local d = os.getenv("DOCKER_CONFIG")
  if d and d ~= "" then return d end
  return (os.getenv("HOME") or "") .. "/.docker"
end

-- The parsed config.json of dir (default: M.dir()), or {} when there is none; a broken file
-- is an error that says where.
function M.load(dir)
  local path = (dir or M.dir()) .. "/config.json"
  local f = io.open(path, "rb")
  if not f then return {} end
  local text = f:read("a")
  f:close()
  local conf, err = cjson.decode(text)
  if type(conf) ~= "table" then
    return nil, ("%s: not valid JSON (%s); fix or remove it"):format(path, err or "not an object")
  end
  return conf
end

return M
