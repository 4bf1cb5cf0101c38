-- Image pulls: `docker:pull(image, {on_progress = fn})`, and the `run --pull` policy.
--   local pull = require "dpty.pull"        -- also adds the pull method to docker objects
--   assert(docker:pull("127.0.0.1:5000/team/tool:1.2", { on_progress = print_event }))
--   assert(pull.ensure_image(docker, "busybox", "missing"))   -- what `dpty run` does first
-- The Engine answers POST /images/create with a stream of JSON lines (progress for each
-- layer, then "Digest: ..." and "Status: ..."); a failure after the stream began arrives as
-- an {"error": ...} line under HTTP 200. Credentials come from $DOCKER_CONFIG/config.json
-- the way the docker CLI finds them: "auths", "credHelpers", "credsStore".
local cjson = require "cjson.safe"
local config = require "dpty.config"
local engine = require "dpty.engine"
local loop = require "dpty.loop"
local progress = require "dpty.progress"

local M = {}

M.DEFAULT_DOMAIN = "docker.io"
M.INDEX_SERVER = "https://index.docker.io/v1/" -- the key docker keeps Docker Hub's credentials under
M.POLL = 0.1 -- seconds between looks at a running pull's stream

---------------------------------------------------------------------------------------------
-- Image references (distribution/reference, as the docker CLI normalizes them)

local function bad(ref, why)
  return nil, ("invalid reference format%s: %q"):format(why and (": " .. why) or "", ref)
end

-- A path component: [a-z0-9]+ joined by ".", "_", "__" or runs of "-".
local function valid_component(c)
  local rest = c:match("^[a-z0-9]+(.*)$")
  while rest and rest ~= "" do
    local sep = rest:match("^__") or rest:match("^[._]") or rest:match("^%-+")
    rest = sep and rest:sub(#sep + 1):match("^[a-z0-9]+(.*)$")
  end
  return rest == ""
end

-- A registry host: DNS labels or an IPv4 address, or [IPv6]; an optional :port.
local function valid_domain(d)
  local host, port = d:match("^(%[[%x:.]+%])(.*)$")
  if not host then host, port = d:match("^([%w.-]+)(.*)$") end
  if not host or not (port == "" or port:match("^:%d+$")) then return false end
  if host:sub(1, 1) == "[" then return true end
  for label in (host .. "."):gmatch("([^.]*)%.") do
    if not label:match("^%w$") and not label:match("^%w[%w-]*%w$") then return false end
  end
  return true
end

-- M.parse_reference("127.0.0.1:5000/team/tool:1.2") ->
--   { domain = "127.0.0.1:5000", path = "team/tool", tag = "1.2", digest = nil,
--     name = "127.0.0.1:5000/team/tool", familiar = "127.0.0.1:5000/team/tool",
--     display = "127.0.0.1:5000/team/tool:1.2" }
-- "busybox" -> domain "docker.io", path "library/busybox", familiar "busybox", tag "latest"
-- (the default tag is filled in unless a digest names the image). | nil, message
function M.parse_reference(s)
  if type(s) ~= "string" or s == "" then return bad(tostring(s), "empty image name") end
  local rest, digest = s:match("^([^@]*)@(.*)$")
  rest = rest or s
  if digest then
    local algo, hex = digest:match("^([a-z0-9]+[a-z0-9+._-]*):([%w=_-]+)$")
    if not algo or (algo == "sha256" and not hex:match("^" .. ("%x"):rep(64) .. "$")) then
      return bad(s, "invalid digest")
    end
  end
  local name, tag = rest:match("^(.*):([%w_][%w_.-]*)$")
  if not name then name = rest end
  if tag and #tag > 128 then return bad(s, "tag longer than 128 characters") end
  if name == "" then return bad(s) end
  if #name > 255 then return bad(s, "repository name longer than 255 characters") end
  -- the first component is a registry when it looks like a host (has "." or ":", or is
  -- localhost, or has capitals), and more components follow
  local first, after = name:match("^([^/]+)/(.+)$")
  local domain, path
  if first and (first:find("[.:]") or first == "localhost" or first:lower() ~= first) then
    domain, path = first, after
  else
    domain, path = M.DEFAULT_DOMAIN, name
  end
  if domain == "index.docker.io" then domain = M.DEFAULT_DOMAIN end
  if not valid_domain(domain) then return bad(s, "invalid registry host " .. domain) end
  if domain == M.DEFAULT_DOMAIN and not path:find("/", 1, true) then path = "library/" .. path end
  if path:lower() ~= path then return bad(s, "repository name must be lowercase") end
  for c in (path .. "/"):gmatch("([^/]*)/") do
    if not valid_component(c) then return bad(s) end
  end
  if not tag and not digest then tag = "latest" end
  local familiar = domain .. "/" .. path
  if domain == M.DEFAULT_DOMAIN then
    familiar = path:match("^library/([^/]+)$") or path
  end
  return {
    domain = domain, path = path, tag = tag, digest = digest,
    name = domain .. "/" .. path, familiar = familiar,
    display = familiar .. (tag and (":" .. tag) or "") .. (digest and ("@" .. digest) or ""),
  }
end

---------------------------------------------------------------------------------------------
-- Credentials

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

-- Base64 with padding; url = true uses "-" and "_" (Go's URLEncoding, what the Engine reads).
function M.base64(s, url)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    local n = (a << 16) | ((b or 0) << 8) | (c or 0)
    local chars = {}
    for k = 1, 4 do
      local v = (n >> (6 * (4 - k))) & 63
      chars[k] = B64:sub(v + 1, v + 1)
    end
    if not b then chars[3] = "=" end
    if not c then chars[4] = "=" end
    out[#out + 1] = table.concat(chars)
  end
  local r = table.concat(out)
  if url then r = r:gsub("[+/]", { ["+"] = "-", ["/"] = "_" }) end
  return r
end

-- Decodes standard or url base64 (padding optional); nil if it is not base64.
function M.base64_decode(s)
  s = s:gsub("[-_]", { ["-"] = "+", ["_"] = "/" }):gsub("=+$", "")
  if s:find("[^%w+/]") or #s % 4 == 1 then return nil end
  local out, n, bits = {}, 0, 0
  for i = 1, #s do
    n = (n << 6) | (B64:find(s:sub(i, i), 1, true) - 1)
    bits = bits + 6
    if bits >= 8 then
      bits = bits - 8
      out[#out + 1] = string.char((n >> bits) & 255)
    end
  end
  return table.concat(out)
end

-- Where the docker CLI keeps its config: $DOCKER_CONFIG, else ~/.docker.
M.config_dir = config.dir

-- config.json of a config dir (default: config.dir()) -> table ({} when there is none)
-- | nil, message
function M.load_config(dir)
  return config.load(dir)
end

-- The key the docker CLI stores a registry's credentials under.
function M.auth_key(domain)
  return domain == M.DEFAULT_DOMAIN and M.INDEX_SERVER or domain
end

-- "https://host:port/v1/" -> "host:port" (how the CLI matches old-style "auths" keys)
local function hostname(key)
  return (key:gsub("^https?://", ""):match("^[^/]*"))
end

local HUB_HOSTS = { ["docker.io"] = true, ["index.docker.io"] = true, ["registry-1.docker.io"] = true }

local function auths_entry(auths, key)
  if type(auths) ~= "table" then return nil end
  if auths[key] ~= nil then return auths[key] end
  local want = hostname(key)
  for k, v in pairs(auths) do
    local h = hostname(k)
    if h == want or (key == M.INDEX_SERVER and HUB_HOSTS[h]) then return v end
  end
  return nil
end

-- An "auths" entry -> auth config: "auth" is base64 of "user:password".
local function from_auths(entry, key)
  if type(entry) ~= "table" then return nil end
  local a = { serveraddress = key, username = entry.username, password = entry.password,
    identitytoken = entry.identitytoken, registrytoken = entry.registrytoken }
  if type(entry.auth) == "string" and entry.auth ~= "" then
    local plain = M.base64_decode(entry.auth)
    local user, pass = (plain or ""):match("^([^:]*):(.*)$")
    if not user then return nil, ("invalid auth configuration for %s in config.json"):format(key) end
    a.username, a.password = user, pass
  end
  if not (a.username or a.identitytoken or a.registrytoken) then return nil end
  return a
end

local function shell_quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

-- Runs docker-credential-<helper> get, as the CLI does.
-- -> auth config | nil (the helper has nothing for this registry) | nil, message
function M.helper_credentials(helper, key)
  if not helper:match("^[%w_.-]+$") then return nil, ("invalid credential helper name %q"):format(helper) end
  local program = "docker-credential-" .. helper
  local p = io.popen(("printf '%%s' %s | %s get 2>&1"):format(shell_quote(key), program))
  local out = p:read("a")
  local ok, _, code = p:close()
  if not ok then
    if out:find("credentials not found", 1, true) then return nil end
    if code == 127 then
      return nil, ("error getting credentials - err: exec: %q: executable file not found in $PATH, out: ``"):format(program)
    end
    return nil, ("error getting credentials - err: exit status %s, out: `%s`"):format(tostring(code), (out:gsub("%s+$", "")))
  end
  local creds = cjson.decode(out)
  if type(creds) ~= "table" then return nil, ("error getting credentials - %s sent: %s"):format(program, out) end
  if creds.Username == "<token>" then -- the helper's way of holding an identity token
    return { identitytoken = creds.Secret, serveraddress = key }
  end
  return { username = creds.Username, password = creds.Secret, serveraddress = key }
end

-- The credential helper the CLI would ask for this key: credHelpers, then credsStore.
local function helper_for(conf, key)
  local per_host = type(conf.credHelpers) == "table" and conf.credHelpers or {}
  local helper = per_host[key] or per_host[hostname(key)] or conf.credsStore
  if type(helper) == "string" and helper ~= "" then return helper end
  return nil
end

-- Credentials for a registry domain ("docker.io", "127.0.0.1:5000") from a config table
-- (default: $DOCKER_CONFIG/config.json). -> auth config | nil (anonymous) | nil, message
-- credHelpers[domain] wins, then credsStore, then the plain "auths" entry (docker's order).
function M.credentials(domain, conf)
  if not conf then
    local err
    conf, err = M.load_config()
    if not conf then return nil, err end
  end
  local key = M.auth_key(domain)
  local helper = helper_for(conf, key)
  if helper then
    local a, err = M.helper_credentials(helper, key)
    if a or err then return a, err end
    -- nothing stored in the helper: the CLI goes on anonymously (keeping an "auths" entry)
  end
  return from_auths(auths_entry(conf.auths, key), key)
end

-- The X-Registry-Auth value for an auth config (JSON, base64url, as the docker CLI sends).
function M.encode_auth(a)
  local t = {}
  for _, k in ipairs { "username", "password", "serveraddress", "identitytoken", "registrytoken" } do
    if type(a[k]) == "string" and a[k] ~= "" then t[k] = a[k] end
  end
  return M.base64(cjson.encode(t), true)
end

---------------------------------------------------------------------------------------------
-- The pull

-- A line splitter for a JSON-lines stream: feed(chunk) calls on_line(table) for every
-- complete line; finish() takes a last line that had no newline. Undecodable lines become
-- { status = text } so nothing the Engine said is dropped.
function M.line_decoder(on_line)
  local pending = ""
  local function line(text)
    text = text:gsub("\r$", "")
    if text:match("^%s*$") then return end
    local ev = cjson.decode(text)
    if type(ev) ~= "table" then ev = { status = text } end
    on_line(ev)
  end
  return {
    feed = function(chunk)
      if chunk == "" then return end
      pending = pending .. chunk
      local start = 1
      for stop in pending:gmatch("()\n") do
        line(pending:sub(start, stop - 1))
        start = stop + 1
      end
      pending = pending:sub(start)
    end,
    finish = function()
      local last = pending
      pending = ""
      line(last)
    end,
  }
end

local function api_path(docker, path)
  if not docker.api then
    local ok, err = docker:ping()
    if not ok then return nil, err end
  end
  return "/v" .. docker.api .. path
end

-- The message of an error line: {"error": "...", "errorDetail": {"message": "..."}}
local function stream_error(ev)
  local detail = type(ev.errorDetail) == "table" and ev.errorDetail.message
  if type(detail) == "string" and detail ~= "" then return detail end
  if ev.error ~= nil then return tostring(ev.error) end
  return nil
end

-- M.pull(docker, image, opts) -> true, summary | nil, message, http_status
--   opts.on_progress(event): every decoded line, as the Engine sent it ({status=, id=,
--     progressDetail={current=, total=}} ...; an {error=} line last when the pull failed)
--   opts.auth: an auth config table ({username, password} or {identitytoken}) to use instead
--     of config.json; opts.config: a config.json table; opts.platform: "linux/amd64" ...
--   summary = { digest = "sha256:...", status = "Downloaded newer image for ...", reference = ref }
function M.pull(docker, image, opts)
  opts = opts or {}
  local ref, err = M.parse_reference(image)
  if not ref then return nil, err, 0 end
  local auth = opts.auth
  if not auth then
    auth, err = M.credentials(ref.domain, opts.config)
    if err then return nil, err, 0 end
  end
  local path
  path, err = api_path(docker, "/images/create")
  if not path then return nil, err, 0 end
  local query = { fromImage = ref.familiar, tag = ref.digest or ref.tag, platform = opts.platform }
  local headers = auth and { "X-Registry-Auth: " .. M.encode_auth(auth) } or nil

  local summary = { reference = ref.display }
  local failure
  local head_text = "" -- the start of the answer, for an HTTP error's message
  local decoder = M.line_decoder(function(ev)
    -- a plain Engine error body ({"message": ...}) is no progress event
    if ev.message and not (ev.status or ev.error or ev.id) then return end
    failure = failure or stream_error(ev)
    if type(ev.status) == "string" then
      summary.digest = ev.status:match("^Digest: (%S+)") or summary.digest
      summary.status = ev.status:match("^Status: (.*)$") or summary.status
    end
    if opts.on_progress then opts.on_progress(ev) end
  end)
  local function take(chunk)
    if #head_text < 65536 then head_text = head_text .. chunk:sub(1, 65536) end
    decoder.feed(chunk)
  end

  -- No timeout: a large pull takes as long as it takes (docker has none either).
  local req <close> = loop.get():request(docker.target, "POST", path .. engine.query_string(query), headers, nil, 0)
  local function done() return req:done() end
  while not req:done() do
    -- run_until, not step: inside a task it yields, so other tasks and sessions go on
    loop.run_until(done, M.POLL)
    take(req:take_body())
  end
  local status, rest = req:result(docker.target)
  if not status then return nil, rest, 0 end
  if status >= 400 then return nil, engine.error_message(head_text .. rest, status), status end
  take(rest)
  decoder.finish()
  if failure then return nil, failure, status end
  return true, summary
end

-- Docker:pull(image, opts): the method on docker objects (engine.lua stays unaware of pulls).
engine.Docker.pull = function(docker, image, opts) return M.pull(docker, image, opts) end

---------------------------------------------------------------------------------------------
-- `run --pull missing|always|never`

M.POLICIES = { missing = true, always = true, never = true }

local function write(out, s)
  if type(out) == "function" then out(s) else out:write(s) end
  if type(out) ~= "function" and out.flush then out:flush() end
end

-- GET /images/{name}/json -> true (present) | false (404) | nil, message
function M.image_exists(docker, image)
  local status, body = docker:request("GET", "/images/" .. engine.urlencode(image) .. "/json")
  if not status then return nil, body end
  if status == 404 then return false end
  if status >= 400 then return nil, engine.error_message(body, status) end
  return true
end

-- M.pull_with_progress(docker, image, out, opts) -> true | nil, message
--   The pull as `docker run` shows it: "Unable to find image 'x:latest' locally" first when
--   opts.missing, then the progress display on out (a file, default io.stderr, or a
--   function(text); redrawn in place when out is a terminal). opts.display: options for
--   progress.new (tty, cols). For a CLI that, like docker, tries to create the container
--   first and pulls only when the Engine says "No such image" (no extra request per run).
function M.pull_with_progress(docker, image, out, opts)
  opts = opts or {}
  local ref, err = M.parse_reference(image)
  if not ref then return nil, err end
  out = out or io.stderr
  if opts.missing then write(out, ("Unable to find image '%s' locally\n"):format(ref.display)) end
  local display = progress.new(out, opts.display)
  local ok, perr = M.pull(docker, image, { on_progress = function(ev) display:event(ev) end })
  display:finish()
  if not ok then return nil, perr end
  return true
end

-- M.ensure_image(docker, image, policy, out) -> true | nil, message
--   policy "missing" (default): pull when the Engine does not have the image (asked with
--   GET /images/{name}/json); "always": pull; "never": nothing (creating the container then
--   fails with "No such image"). out as for pull_with_progress.
function M.ensure_image(docker, image, policy, out, display_opts)
  policy = policy or "missing"
  if not M.POLICIES[policy] then
    return nil, ('invalid pull option: %q: must be one of "always", "missing" or "never"'):format(tostring(policy))
  end
  if policy == "never" then return true end
  local ref, err = M.parse_reference(image)
  if not ref then return nil, err end
  if policy == "missing" then
    local present, ierr = M.image_exists(docker, image)
    if present == nil then return nil, ierr end
    if present then return true end
  end
  return M.pull_with_progress(docker, image, out, { missing = policy == "missing", display = display_opts })
end

return M
