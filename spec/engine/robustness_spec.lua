-- What must not go wrong: a slow terminal (no loss, no busy loop, bounded memory) and the
-- engine disappearing mid-session (terminal restored, a clear message, exit 125).
local P = require "support.pty"
local T = require "support.docker"

local dpty = T.bin()

local function cpu_seconds(pid)
  local f = io.open("/proc/" .. pid .. "/stat")
  if not f then return nil end
  local stat = f:read("a")
  f:close()
  local fields = {}
  for w in stat:match("%) (.*)"):gmatch("%S+") do fields[#fields + 1] = w end
  return (tonumber(fields[12]) + tonumber(fields[13])) / 100 -- utime, stime (after pid and comm)
end

local function rss_kb(pid)
  local f = io.open("/proc/" .. pid .. "/status")
  if not f then return nil end
  local kb = f:read("a"):match("VmRSS:%s*(%d+)")
  f:close()
  return tonumber(kb)
end

describe("a slow terminal", function()
  after_each(function() T.cleanup() end)

  it("loses nothing, does not spin and keeps memory bounded while the terminal is not read", function()
    local p <close> = P.spawn({ dpty, "run", "-it", "--rm", "--network", "none", "--label", T.label,
      "busybox", "sh", "-c", "sleep 0.5; yes | head -c 5000000" })
    -- let the output back up: the pty fills, then dpty's buffer, then the engine stalls
    P.sleep(4)
    local cpu_before, rss_before = cpu_seconds(p:pid()), rss_kb(p:pid())
    P.sleep(3)
    local cpu_stalled = cpu_seconds(p:pid()) - cpu_before
    assert.is_true(cpu_stalled < 0.15, ("dpty used %.2f s of CPU in 3 s of a stalled terminal"):format(cpu_stalled))
    assert.is_true(rss_before < 40000, "dpty's RSS grew to " .. rss_before .. " kB")
    local out = p:expect_eof(120)
    local all = p:output()
    assert.are.equal(0, p:wait())
    assert.are.equal(7500000, #all, "received " .. #all .. " bytes")
    assert.is_nil(all:find("[^y\r\n]"))
    assert.is_true(#out > 0)
  end)
end)

describe("the engine going away mid-session", function()
  after_each(function() T.cleanup() end)

  it("restores the terminal, says what happened and exits 125", function()
    local sock = os.tmpname() .. ".sock"
    local proxy = io.popen("exec /usr/bin/python3 spec/support/unix_proxy.py " .. sock .. " & echo $!")
    local proxy_pid = proxy:read("l")
    -- wait for the socket to exist
    for _ = 1, 100 do
      if io.open(sock) then break end
      P.sleep(0.05)
    end
    local name = T.name("gone")
    local p <close> = P.spawn({ dpty, "run", "-it", "--network", "none", "--label", T.label, "--name", name,
      "busybox", "sh" }, { env = { DOCKER_HOST = "unix://" .. sock } })
    local before = p:termios()
    p:expect("/ # ")
    os.execute("kill -9 " .. proxy_pid)
    proxy:close()
    local rest = p:expect_eof(20)
    assert.are.equal(125, p:wait())
    assert.are.equal(before, p:termios())
    assert.matches("Docker daemon", rest)
    os.remove(sock)
  end)
end)
