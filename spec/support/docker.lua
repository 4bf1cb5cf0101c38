-- Helpers for engine specs: run shell and docker commands, name and clean up test containers.
--   local T = require "support.docker"
--   local out, err, code = T.docker { "run", "--rm", "--network", "none", "--label", T.label, "busybox", "true" }
-- Every container a spec creates carries the label T.label (`dpty.test=<run id>`) so that
-- T.cleanup() and spec/support/test.sh can remove whatever a failing spec left behind. The run
-- id ($DPTY_TEST_RUN, set by test.sh; else one per process) keeps test runs that share an
-- engine from removing or counting each other's containers: use T.filter, not the bare key.
-- Sweep every run's leftovers by hand with:
--   docker ps -aq --filter label=dpty.test | xargs -r docker rm -f
local M = {}

M.image = "busybox"

-- Quote one word for /bin/sh.
function M.quote(s)
  s = tostring(s)
  if s:match("^[%w%%+,./:=@_-]+$") then return s end
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

local function command_line(args)
  if type(args) == "table" then
    local words = {}
    for i, a in ipairs(args) do words[i] = M.quote(a) end
    return table.concat(words, " ")
  end
  return args
end

local function slurp(path)
  local f = io.open(path, "rb")
  if not f then return "" end
  local s = f:read("a")
  f:close()
  return s
end

-- Run a shell command with stdin from /dev/null.
-- Returns stdout, stderr, exit code (128+N when killed by signal N).
function M.sh(cmd)
  cmd = command_line(cmd)
  local out, err = os.tmpname(), os.tmpname()
  local ok, how, n = os.execute("(" .. cmd .. ") </dev/null >" .. out .. " 2>" .. err)
  local code
  if how == "exit" then code = n
  elseif how == "signal" then code = 128 + n
  else code = ok and 0 or 1 end
  local o, e = slurp(out), slurp(err)
  os.remove(out)
  os.remove(err)
  return o, e, code
end

-- The docker CLI (DOCKER names another one). LD_PRELOAD is dropped: under the sanitizer run
-- it holds libasan, which the CLI has no use for.
function M.docker(args)
  return M.sh("env -u LD_PRELOAD " .. M.quote(os.getenv("DOCKER") or "docker") .. " " .. command_line(args))
end

local cwd
local function absolute(path)
  if path:sub(1, 1) == "/" then return path end
  if not cwd then
    local p = io.popen("pwd -P")
    cwd = p:read("l")
    p:close()
  end
  return cwd .. "/" .. path
end

-- The dpty executable under test: $DPTY_BIN, else <$DPTY_BUILD or build>/dpty; absolute.
function M.bin()
  local bin = os.getenv("DPTY_BIN")
  if not bin or bin == "" then bin = (os.getenv("DPTY_BUILD") or "build") .. "/dpty" end
  return absolute(bin)
end

local function random_hex(n)
  local f = io.open("/dev/urandom", "rb")
  local bytes = f and f:read(n)
  if f then f:close() end
  if not bytes or #bytes < n then
    bytes = ""
    for _ = 1, n do bytes = bytes .. string.char(math.random(0, 255)) end
  end
  return (bytes:gsub(".", function(c) return ("%02x"):format(c:byte()) end))
end

M.run = os.getenv("DPTY_TEST_RUN")
if not M.run or not M.run:match("^[%w_.-]+$") then M.run = random_hex(4) end
M.label = "dpty.test=" .. M.run
M.filter = "label=" .. M.label

-- A fresh container name: dpty-test-<prefix>-<random>.
function M.name(prefix)
  prefix = tostring(prefix or "c"):gsub("[^%w_.-]", "-")
  return "dpty-test-" .. prefix .. "-" .. random_hex(5)
end

-- Ids of this run's containers (running or not).
function M.containers()
  local out = M.docker { "ps", "-aq", "--filter", M.filter }
  local ids = {}
  for id in out:gmatch("%S+") do ids[#ids + 1] = id end
  return ids
end

-- Remove this run's containers (running or not).
function M.cleanup()
  local ids = M.containers()
  if #ids == 0 then return "", "", 0 end
  local args = { "rm", "-f" }
  for _, id in ipairs(ids) do args[#args + 1] = id end
  return M.docker(args)
end

-- Does a container with this name or id exist?
function M.exists(name)
  local _, _, code = M.docker { "container", "inspect", "--format", "{{.Id}}", name }
  return code == 0
end

-- Is it running?
function M.running(name)
  local out, _, code = M.docker { "container", "inspect", "--format", "{{.State.Running}}", name }
  return code == 0 and out:match("^true") ~= nil
end

return M
