-- The dpty side of spec/bench/rigs.sh: N concurrent busybox sessions from one dpty process
-- (as examples/rig-parallel.lua), each starting a shell, waiting for its prompt, running a
-- command, matching its output and exiting. Prints one line per session with its timings
-- (seconds since the script started):
--   S <i> <created> <started> <prompt> <answer> <eof> <exited> <exit code>
-- then  T <wall s> <cpu s> <lua heap KiB>  and exits non-zero if any session failed.
--   dpty spec/bench/rig50.lua [N] [labels k=v,k=v] [image]
local dpty = require "dpty"
local core = require "dpty.core"

local n = tonumber(arg[1]) or 50
local labels = {}
for kv in (arg[2] or "dpty.bench=1"):gmatch("[^,]+") do
  local k, v = kv:match("^([^=]+)=(.*)$")
  labels[k] = v
end
local image = arg[3] or "busybox"
local timeout = tonumber(os.getenv("RIG_TIMEOUT")) or 180

local t0 = core.monotonic()
local function now() return core.monotonic() - t0 end

local docker = dpty.docker()

local function one(i)
  local t = {}
  local id = assert(docker:create {
    Image = image, Cmd = { "sh" }, Tty = true, OpenStdin = true,
    Env = { "PS1=c" .. i .. "$ " }, Labels = labels,
    HostConfig = { NetworkMode = "none", AutoRemove = true },
  })
  t.created = now()
  local s <close> = assert(dpty.attach(docker, id))
  assert(s:start())
  t.started = now()
  s:expect("c" .. i .. "$ ", timeout)
  t.prompt = now()
  s:sendline(("echo task-%d-$((%d * %d))"):format(i, i, i))
  s:expect(("task-%d-%d"):format(i, i * i), timeout)
  t.answer = now()
  s:sendline("exit")
  s:expect(dpty.EOF, timeout)
  t.eof = now()
  local code = s:wait()
  t.exited = now()
  return t, code
end

local tasks = {}
for i = 1, n do
  tasks[i] = dpty.go(function()
    local ok, t, code = pcall(one, i)
    if not ok then return nil, t end
    return t, code
  end)
end
local results = dpty.wait_all(tasks)
local failed = 0
for i, r in ipairs(results) do
  local t, code = r[1], r[2]
  if t then
    print(("S %d %.4f %.4f %.4f %.4f %.4f %.4f %s"):format(i, t.created, t.started, t.prompt, t.answer,
      t.eof, t.exited, tostring(code)))
    if code ~= 0 then failed = failed + 1 end
  else
    failed = failed + 1
    io.stderr:write(("session %d failed: %s\n"):format(i, tostring(code)))
    print(("F %d"):format(i))
  end
end
print(("T %.4f %.4f %.0f"):format(now(), os.clock(), collectgarbage("count")))
io.stdout:flush()
if failed > 0 then os.exit(1) end
