-- The Docker Engine API client: endpoints as Lua over the C transport (libcurl).
-- Expected failures return nil, message (the Engine's own message), status.
local cjson = require "cjson.safe"
local loop = require "dpty.loop"

local M = {}
local Docker = {}
Docker.__index = Docker

M.MAX_API = "1.41" -- the newest API version dpty speaks (what it is tested against)
M.DEFAULT_SOCKET = "/var/run/docker.sock"

M.SSH_BASE = "http://docker.example.com" -- the Host of requests over ssh (any name does)

-- A word for the remote shell that ssh hands its command to.
local function shell_word(s)
  if s:match("^[%w%%+,./:=@_-]+$") then return s end
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

-- Words of DPTY_SSH_OPTS-style strings: split on whitespace (no quoting).
function M.split_words(s)
  local words = {}
  for w in tostring(s or ""):gmatch("%S+") do words[#words + 1] = w end
  return words
end

-- ssh://[user@]host[:port][/socket] -> target | nil, err. The command is the docker CLI's
-- (cli/connhelper): ssh [-l user] [-p port] -- host docker [--host=unix://socket] system
-- dial-stdio, with ssh_opts first (they win: ssh takes the first value of an option), then
-- ConnectTimeout=30 (unless given), BatchMode=yes (never prompt) and -T.
local function parse_ssh(host, ssh_opts)
  local bad = function(why) return nil, ("invalid ssh URL %q: %s"):format(host, why) end
  local rest = host:sub(7)
  if rest:find("[?#]") then return bad("query parameters and fragments are not allowed") end
  local authority, path = rest:match("^([^/]*)(.*)$")
  local user, hostport = authority:match("^(.*)@([^@]*)$")
  if not user then hostport = authority end
  if user and user:find(":", 1, true) then return bad("plain-text password is not supported") end
  if user == "" then user = nil end
  local name, port = hostport:match("^%[([^%]]+)%]:?(%d*)$") -- [v6]:port
  if not name then
    name, port = hostport:match("^([^:]*):?(%d*)$")
    if not name then return bad("the port must be a number") end
  end
  if name == "" then return bad("hostname is empty") end
  local cmd = { "ssh" }
  local has_timeout = false
  for _, w in ipairs(ssh_opts or {}) do
    cmd[#cmd + 1] = w
    if w:find("ConnectTimeout", 1, true) then has_timeout = true end
  end
  if not has_timeout then
    cmd[#cmd + 1] = "-o"
    cmd[#cmd + 1] = "ConnectTimeout=30"
  end
  for _, w in ipairs { "-o", "BatchMode=yes", "-T" } do cmd[#cmd + 1] = w end
  if user then
    cmd[#cmd + 1] = "-l"
    cmd[#cmd + 1] = user
  end
  if port ~= "" then
    cmd[#cmd + 1] = "-p"
    cmd[#cmd + 1] = port
  end
  for _, w in ipairs { "--", name, "docker" } do cmd[#cmd + 1] = w end
  if path:gsub("/", "") ~= "" then cmd[#cmd + 1] = shell_word("--host=unix://" .. path) end
  cmd[#cmd + 1] = "system"
  cmd[#cmd + 1] = "dial-stdio"
  return { base = M.SSH_BASE, name = host, command = cmd }
end

-- DOCKER_HOST forms: unix:///path, unix:// (default path), tcp://host[:port][/base], host:port,
-- ssh://[user@]host[:port][/socket]. opts.tls (a table {ca=, cert=, key=, verify=}) makes a
-- tcp host TLS (https, default port 2376); opts.ssh_opts are extra words for ssh.
function M.parse_host(host, opts)
  opts = opts or {}
  if host == nil or host == "" then return { unix = M.DEFAULT_SOCKET, base = "http://localhost", name = "unix://" .. M.DEFAULT_SOCKET } end
  local path = host:match("^unix://(.*)$")
  if path then
    if path == "" then path = M.DEFAULT_SOCKET end
    return { unix = path, base = "http://localhost", name = "unix://" .. path }
  end
  if host:match("^ssh://") then return parse_ssh(host, opts.ssh_opts) end
  local rest = host:match("^tcp://(.*)$") or (not host:find("://", 1, true) and host)
  if rest then
    local hostport, base = rest:match("^([^/]*)(/?.-)/?$")
    if not hostport or hostport == "" then return nil, ("invalid DOCKER_HOST %q: no host"):format(host) end
    local tls = opts.tls
    if not hostport:find(":%d+$") and not hostport:find("^%[.*%]:%d+$") then
      hostport = hostport .. (tls and ":2376" or ":2375")
    end
    local t = { base = (tls and "https://" or "http://") .. hostport .. base, name = "tcp://" .. hostport .. base }
    if tls then
      t.tls = { ca = tls.ca, cert = tls.cert, key = tls.key, verify = tls.verify ~= false }
    end
    return t
  end
  local scheme = host:match("^(%a+)://")
  return nil, ("DOCKER_HOST %q: the %s:// scheme is not supported (use unix://, tcp:// or ssh://)"):format(host, scheme or "?")
end

-- dpty.docker([host | opts]) -> docker client
--   dpty.docker()                      as the docker CLI: engine.default_context (--context),
--                                      engine.default_host (-H), DOCKER_HOST, DOCKER_CONTEXT,
--                                      config.json currentContext, else the local socket
--   dpty.docker("tcp://host:2376")     that host (TLS from DOCKER_TLS_VERIFY/DOCKER_TLS/DOCKER_CERT_PATH)
--   dpty.docker{ host = "tcp://127.0.0.1:2376", tls = { ca =, cert =, key =, verify = true } }
--   dpty.docker{ context = "name" }    a context of the docker CLI's store
-- opts.tls: a table, true (TLS, files from DOCKER_CERT_PATH) or false (no TLS);
-- opts.ssh_opts: extra ssh words for ssh:// hosts (default: DPTY_SSH_OPTS, split on spaces).
-- A host or context that cannot be used is an error (raised) that says why.
function M.docker(spec)
  local opts
  if type(spec) == "table" then
    opts = spec
  elseif spec == nil or type(spec) == "string" then
    opts = { host = spec }
  else
    error("dpty.docker: expected a host string or an options table, got a " .. type(spec), 2)
  end
  local context = require "dpty.context"
  local explicit = opts.host or opts.context
  local ep, err = context.endpoint {
    host = opts.host or (not explicit and not M.default_context and M.default_host) or nil,
    context = opts.context or (not explicit and M.default_context) or nil,
    tls = opts.tls,
  }
  if not ep then error(err, 2) end
  local tls = ep.tls
  if type(opts.tls) == "table" then tls = opts.tls end
  local target, perr = M.parse_host(ep.host, {
    tls = tls,
    ssh_opts = opts.ssh_opts or M.split_words(os.getenv("DPTY_SSH_OPTS")),
  })
  if not target then error(perr, 2) end
  local pinned = os.getenv("DOCKER_API_VERSION")
  return setmetatable({ target = target, host = target.name, context = ep.context,
    api = pinned ~= "" and pinned or nil }, Docker)
end

local function urlencode(s)
  return (tostring(s):gsub("[^%w%-%._~]", function(c) return ("%%%02X"):format(c:byte()) end))
end

function M.query_string(q)
  if not q then return "" end
  local keys = {}
  for k in pairs(q) do keys[#keys + 1] = k end
  table.sort(keys)
  local parts = {}
  for _, k in ipairs(keys) do
    local v = q[k]
    if v == true then v = "1" elseif v == false then v = "0" end
    parts[#parts + 1] = urlencode(k) .. "=" .. urlencode(v)
  end
  return #parts > 0 and ("?" .. table.concat(parts, "&")) or ""
end

-- The message of an Engine error body: {"message": "..."} or plain text.
function M.error_message(body, status)
  if type(body) == "table" and body.message then return body.message end
  if type(body) == "string" then
    local j = cjson.decode(body)
    if type(j) == "table" and j.message then return j.message end
    local text = body:gsub("%s+$", "")
    if text ~= "" then return text end
  end
  return ("the Docker daemon answered HTTP %s"):format(tostring(status))
end

-- A response header's value (lower-cased), from the raw head curl collected.
local function header(head, name)
  local pattern = "\n" .. name:lower():gsub("%-", "%%-") .. ":[ \t]*([^\r\n]*)"
  return ("\n" .. head:lower()):match(pattern)
end

local function version_less(a, b)
  local a1, a2 = a:match("^(%d+)%.(%d+)")
  local b1, b2 = b:match("^(%d+)%.(%d+)")
  a1, a2, b1, b2 = tonumber(a1), tonumber(a2), tonumber(b1), tonumber(b2)
  return a1 < b1 or (a1 == b1 and a2 < b2)
end

-- One HTTP exchange; the path is used as given (no version prefix).
function Docker:_exchange(method, path, body, headers, timeout)
  local req = loop.get():request(self.target, method, path, headers, body, timeout)
  loop.await(req)
  local status, data, head = req:result(self.target)
  req:close()
  return status, data, head
end

-- Negotiates the API version (HEAD /_ping, as the docker CLI); true or nil, err.
function Docker:ping()
  local status, body, head = self:_exchange("HEAD", "/_ping", nil, nil, 30)
  if not status then return nil, body end
  if status >= 400 then
    -- a HEAD answer has no body to say why: ask again with GET, as the docker CLI does (a
    -- TLS port spoken to in plain HTTP says "Client sent an HTTP request to an HTTPS server.")
    local gstatus, gbody = self:_exchange("GET", "/_ping", nil, nil, 30)
    if gstatus and gstatus >= 400 then status, body = gstatus, gbody end
    return nil, M.error_message(body, status)
  end
  if not self.api then
    local server = head and header(head, "Api-Version")
    self.api = (server and version_less(server, M.MAX_API)) and server or M.MAX_API
  end
  return true
end

local function version_path(self, path)
  if not self.api then
    local ok, err = self:ping()
    if not ok then return nil, err end
  end
  return "/v" .. self.api .. path
end

-- Escape hatch: docker:request(method, path, {query=, body= (table -> JSON), timeout=})
-- -> status, body (decoded JSON when the Engine sent JSON) | nil, err
function Docker:request(method, path, opts)
  opts = opts or {}
  local vpath, err = version_path(self, path)
  if not vpath then return nil, err end
  local body, headers = opts.body, nil
  if type(body) == "table" then
    body = cjson.encode(body)
    headers = { "Content-Type: application/json" }
  end
  local status, data, head = self:_exchange(method, vpath .. M.query_string(opts.query), body, headers, opts.timeout)
  if not status then return nil, data end
  local ctype = header(head or "", "Content-Type") or ""
  if ctype:find("json", 1, true) and data ~= "" then
    local decoded = cjson.decode(data)
    if decoded ~= nil then data = decoded end
  end
  return status, data
end

-- The usual shape: success statuses -> the body; else nil, Engine message, status.
local function call(self, method, path, opts, ok_status)
  local status, body = self:request(method, path, opts)
  if not status then return nil, body, 0 end
  if status >= 400 or (ok_status and not ok_status[status]) then
    return nil, M.error_message(body, status), status
  end
  return body == "" and true or body, nil, status
end

function Docker:create(body, name)
  local r, err, status = call(self, "POST", "/containers/create", { body = body, query = name and { name = name } })
  if not r then return nil, err, status end
  return r.Id, r.Warnings
end

function Docker:start(id)
  local r, err, status = call(self, "POST", "/containers/" .. urlencode(id) .. "/start")
  if not r then return nil, err, status end
  return true
end

function Docker:inspect(id)
  return call(self, "GET", "/containers/" .. urlencode(id) .. "/json")
end

function Docker:kill(id, signal)
  local r, err, status = call(self, "POST", "/containers/" .. urlencode(id) .. "/kill", { query = signal and { signal = signal } })
  if not r then return nil, err, status end
  return true
end

function Docker:remove(id, opts)
  opts = opts or {}
  local r, err, status = call(self, "DELETE", "/containers/" .. urlencode(id), { query = { force = opts.force or nil, v = opts.volumes or nil } })
  if not r then return nil, err, status end
  return true
end

function Docker:resize(id, rows, cols)
  local r, err, status = call(self, "POST", "/containers/" .. urlencode(id) .. "/resize", { query = { h = rows, w = cols } })
  if not r then return nil, err, status end
  return true
end

-- A wait registered now, read later: returns an object with :result() -> code | nil, err.
function Docker:wait_async(id, condition)
  local vpath, err = version_path(self, "/containers/" .. urlencode(id) .. "/wait")
  if not vpath then return nil, err end
  local req = loop.get():request(self.target, "POST", vpath .. M.query_string({ condition = condition }), nil, nil, 0)
  local target = self.target
  -- As the docker CLI (its ContainerWait returns once the response head is in): the Engine
  -- answers the head as soon as the wait is registered. Until then a start could overtake
  -- it, as it does when the wait needs a new connection that takes time (ssh: a login)
  -- while the start reuses an idle one; the wait would then miss the exit (next-exit
  -- blocks for ever, removed answers "No such container").
  if req.head_done then
    loop.run_until(function() return req:done() or req:head_done() end, 60)
  end
  return {
    done = function() return req:done() end,
    result = function()
      loop.await(req)
      local status, body = req:result(target)
      req:close()
      if not status then return nil, body end
      if status >= 400 then return nil, M.error_message(body, status) end
      local r = cjson.decode(body)
      if type(r) ~= "table" then return nil, "the Docker daemon sent an unreadable wait result: " .. body end
      if type(r.Error) == "table" and r.Error.Message and r.Error.Message ~= "" then
        return nil, r.Error.Message, math.tointeger(r.StatusCode)
      end
      return math.tointeger(r.StatusCode) or r.StatusCode
    end,
    close = function() req:close() end,
  }
end

-- docker:wait(id [, condition]) -> exit code | nil, err
function Docker:wait(id, condition)
  local w, err = self:wait_async(id, condition)
  if not w then return nil, err end
  return w.result()
end

function Docker:exec_create(id, body)
  local r, err, status = call(self, "POST", "/containers/" .. urlencode(id) .. "/exec", { body = body })
  if not r then return nil, err, status end
  return r.Id
end

function Docker:exec_inspect(exec_id)
  return call(self, "GET", "/exec/" .. urlencode(exec_id) .. "/json")
end

function Docker:exec_resize(exec_id, rows, cols)
  local r, err, status = call(self, "POST", "/exec/" .. urlencode(exec_id) .. "/resize", { query = { h = rows, w = cols } })
  if not r then return nil, err, status end
  return true
end

-- Fire-and-forget resize, for SIGWINCH while bytes flow; then_fn() runs once it is done.
function Docker:resize_async(kind, id, rows, cols, then_fn)
  local vpath = version_path(self, (kind == "exec" and "/exec/" or "/containers/") .. urlencode(id) .. "/resize")
  if not vpath then return end
  local req = loop.get():request(self.target, "POST", vpath .. M.query_string({ h = rows, w = cols }), nil, nil, 10)
  loop.detach_request(req, then_fn)
end

-- Turns a request into the session stream (attach, exec start).
-- -> core session | nil, message, status
function Docker:hijack(path, body, tty)
  local vpath, err = version_path(self, path)
  if not vpath then return nil, err, 0 end
  local conn, status, msg = loop.get():hijack(self.target, "POST", vpath, body and "application/json" or nil, body, tty)
  if not conn then
    if status == 0 then return nil, msg, 0 end
    return nil, M.error_message(msg, status), status
  end
  return conn
end

M.Docker = Docker
M.urlencode = urlencode
return M
