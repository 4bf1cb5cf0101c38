-- Which Docker Engine to talk to, as the docker CLI decides it: contexts, DOCKER_HOST and
-- the TLS environment.
--
-- The context name (cli/command/cli.go resolveContextName):
--   --context (engine.default_context)  >  -H (engine.default_host, means "default")
--   >  DOCKER_HOST set (means "default")  >  DOCKER_CONTEXT  >  config.json "currentContext"
--   >  "default"
-- The "default" context is the host from -H or DOCKER_HOST (else the local socket) with TLS
-- from DOCKER_TLS_VERIFY / DOCKER_TLS / DOCKER_CERT_PATH. A named context lives in the store:
--   $DOCKER_CONFIG/contexts/meta/<sha256hex(name)>/meta.json
--     {"Name": "x", "Endpoints": {"docker": {"Host": "tcp://...", "SkipTLSVerify": false}}}
--   $DOCKER_CONFIG/contexts/tls/<sha256hex(name)>/docker/{ca,cert,key}.pem
-- and has TLS when it has TLS files or SkipTLSVerify.
local cjson = require "cjson.safe"

local M = {}

local function nonempty(s)
  if s ~= nil and s ~= "" then return s end
end

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

-- $DOCKER_CONFIG, else ~/.docker
function M.config_dir(getenv)
  getenv = getenv or os.getenv
  return nonempty(getenv("DOCKER_CONFIG")) or ((getenv("HOME") or "") .. "/.docker")
end

-- config.json as a table ({} when absent); nil, err when it is not valid JSON.
function M.config(dir)
  return require("dpty.config").load(dir)
end

-- The context name and why it was chosen ("--context", "-H", "DOCKER_HOST", "DOCKER_CONTEXT",
-- "currentContext", "default"). opts: context, host (the flags), getenv, config (the parsed
-- config.json, or a function returning it / nil, err). -> name, why | nil, err
function M.resolve_name(opts)
  opts = opts or {}
  local getenv = opts.getenv or os.getenv
  if nonempty(opts.context) then return opts.context, "--context" end
  if nonempty(opts.host) then return "default", "-H" end
  if nonempty(getenv("DOCKER_HOST")) then return "default", "DOCKER_HOST" end
  local env = nonempty(getenv("DOCKER_CONTEXT"))
  if env then return env, "DOCKER_CONTEXT" end
  local conf, err = opts.config, nil
  if type(conf) == "function" then conf, err = conf() end
  if conf == nil and err then return nil, err end
  if type(conf) == "table" and type(conf.currentContext) == "string" and conf.currentContext ~= "" then
    return conf.currentContext, "currentContext"
  end
  return "default", "default"
end

local function cert_files(tls, dir)
  tls.dir = dir
  for _, k in ipairs { "ca", "cert", "key" } do
    local path = dir .. "/" .. k .. ".pem"
    if exists(path) then tls[k] = path end
  end
  return tls
end

-- DOCKER_CERT_PATH, else the config directory
function M.cert_dir(getenv)
  getenv = getenv or os.getenv
  return nonempty(getenv("DOCKER_CERT_PATH")) or M.config_dir(getenv)
end

-- TLS of the "default" context, from the environment: nil (plain), or
-- {ca=, cert=, key=, verify=, dir=} with the files of DOCKER_CERT_PATH that exist.
function M.env_tls(getenv)
  getenv = getenv or os.getenv
  local verify = nonempty(getenv("DOCKER_TLS_VERIFY")) ~= nil -- any value, even "0"
  if not verify and not nonempty(getenv("DOCKER_TLS")) then return nil end
  return cert_files({ verify = verify }, M.cert_dir(getenv))
end

local function sha256_hex(s)
  local ok, core = pcall(require, "dpty.core")
  if not ok or type(core.sha256_hex) ~= "function" then
    error("this build of dpty.core has no sha256_hex, which reading docker contexts needs; rebuild dpty", 0)
  end
  return core.sha256_hex(s)
end

-- The store's directory names for a context.
function M.paths(name, dir)
  local id = sha256_hex(name)
  return {
    id = id,
    meta = dir .. "/contexts/meta/" .. id .. "/meta.json",
    tls = dir .. "/contexts/tls/" .. id .. "/docker",
  }
end

-- A named context from the store -> {name=, host=, tls=nil|{...}} | nil, err
function M.load(name, dir)
  local p = M.paths(name, dir)
  local f = io.open(p.meta, "rb")
  if not f then
    return nil, ('context "%s" not found (no %s); list them with "docker context ls", or unset '
      .. 'DOCKER_CONTEXT / "currentContext" to use the default'):format(name, p.meta)
  end
  local text = f:read("a")
  f:close()
  local meta, err = cjson.decode(text)
  if type(meta) ~= "table" then
    return nil, ('context "%s": %s is not valid JSON (%s)'):format(name, p.meta, err or "not an object")
  end
  local ep = type(meta.Endpoints) == "table" and meta.Endpoints.docker
  if type(ep) ~= "table" then
    return nil, ('context "%s" has no docker endpoint (%s)'):format(name, p.meta)
  end
  local host = nonempty(type(ep.Host) == "string" and ep.Host or nil)
  local skip = ep.SkipTLSVerify == true
  local tls = { verify = not skip, dir = p.tls }
  local any = false
  for _, k in ipairs { "ca", "cert", "key" } do
    local path = p.tls .. "/" .. k .. ".pem"
    if exists(path) then
      tls[k] = path
      any = true
    end
  end
  return { name = name, host = host, tls = (any or skip) and tls or nil }
end

-- The endpoint to use -> {context=, why=, host=|nil, tls=|nil} | nil, err
-- opts: host, context (explicit: the flags or dpty.docker's argument), tls (explicit TLS for
-- an explicit host: a table, true = from the environment, false = none), getenv, config_dir.
function M.endpoint(opts)
  opts = opts or {}
  local getenv = opts.getenv or os.getenv
  local dir = opts.config_dir or M.config_dir(getenv)
  local name, why = M.resolve_name {
    context = opts.context, host = opts.host, getenv = getenv,
    config = function() return M.config(dir) end,
  }
  if not name then return nil, why end
  if name ~= "default" then
    local ep, err = M.load(name, dir)
    if not ep then
      if why == "DOCKER_CONTEXT" then err = err .. " (it is named by DOCKER_CONTEXT)" end
      if why == "currentContext" then err = err .. (" (it is the currentContext of %s/config.json)"):format(dir) end
      return nil, err
    end
    ep.context, ep.why = name, why
    return ep
  end
  local host = nonempty(opts.host) or nonempty(getenv("DOCKER_HOST"))
  local tls = opts.tls
  if tls == nil then
    tls = M.env_tls(getenv)
  elseif tls == true then
    tls = M.env_tls(getenv) or cert_files({ verify = true }, M.cert_dir(getenv))
  elseif tls == false then
    tls = nil
  end
  if not host and tls then host = "tcp://localhost:2376" end -- the docker CLI's default with TLS
  return { context = "default", why = why, host = host, tls = tls }
end

return M
