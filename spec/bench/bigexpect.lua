-- Expect over a flood of output (spec/bench/rigs.sh): one session prints MB megabytes
-- (`yes abcdefghij | head -c BYTES`), then a marker; s:expect waits for the marker.
--   dpty spec/bench/bigexpect.lua MB local            -- dpty.spawn: a local pty, no engine
--   dpty spec/bench/bigexpect.lua MB container LABELS -- a busybox container (tty)
-- Prints  R <bytes> <expect wall s> <process cpu s> <lua heap KiB before> <lua heap KiB after>
local dpty = require "dpty"
local core = require "dpty.core"

local mb = assert(tonumber(arg[1]), "MB expected")
local mode = arg[2] or "local"
local bytes = math.floor(mb * 1000 * 1000)
-- the marker is printed by the shell, never echoed: sh -c runs without an interactive echo
local cmd = ("yes abcdefghij | head -c %d; echo; echo END-MARK''ER"):format(bytes)
local timeout = tonumber(os.getenv("BIG_TIMEOUT")) or 900

local s
if mode == "local" then
  s = assert(dpty.spawn({ "/bin/sh", "-c", cmd }, { env = { LD_PRELOAD = false } }))
else
  local labels = {}
  for kv in (arg[3] or "dpty.bench=1"):gmatch("[^,]+") do
    local k, v = kv:match("^([^=]+)=(.*)$")
    labels[k] = v
  end
  local docker = dpty.docker()
  local id = assert(docker:create {
    Image = arg[4] or "busybox", Cmd = { "sh", "-c", cmd }, Tty = true, OpenStdin = true, Labels = labels,
    HostConfig = { NetworkMode = "none", AutoRemove = true },
  })
  s = assert(dpty.attach(docker, id))
  assert(s:start())
end

collectgarbage()
local heap0 = collectgarbage("count")
local cpu0 = os.clock()
local t0 = core.monotonic()
s:expect("END-MARKER", timeout)
local wall = core.monotonic() - t0
local cpu = os.clock() - cpu0
local heap1 = collectgarbage("count")
s:expect(dpty.EOF, 60)
local code = s:wait()
s:close()
print(("R %d %.4f %.4f %.0f %.0f"):format(bytes, wall, cpu, heap0, heap1))
io.stdout:flush()
if code ~= 0 then
  io.stderr:write("exit code " .. tostring(code) .. "\n")
  os.exit(1)
end
