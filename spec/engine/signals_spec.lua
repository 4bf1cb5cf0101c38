-- Signals for non-tty sessions (forwarded to the container, as docker's --sig-proxy), the
-- forced way out, and log replay on attach.
local P = require "support.pty"
local T = require "support.docker"

local dpty = T.bin()

local TRAPS = "for s in INT TERM HUP QUIT USR1 USR2; do trap \"echo got-$s\" $s; done; echo ready; "
  .. "while :; do sleep 0.1; done"

local function spawn_run(name, extra)
  local argv = { dpty, "--no-config", "run", "--rm", "--network", "none", "--label", T.label, "--name", name }
  for _, a in ipairs(extra or {}) do argv[#argv + 1] = a end
  argv[#argv + 1] = "busybox"
  argv[#argv + 1] = "sh"
  argv[#argv + 1] = "-c"
  argv[#argv + 1] = TRAPS
  return P.spawn(argv)
end

describe("signals to a non-tty session", function()
  after_each(function() T.cleanup() end)

  it("are forwarded to the container; three SIGINTs force dpty out and remove the --rm container", function()
    local name = T.name("sigproxy")
    local p <close> = spawn_run(name)
    p:expect("ready")
    for _, sig in ipairs { "USR1", "TERM", "HUP", "USR2", "QUIT", "INT" } do
      p:kill(sig)
      p:expect("got-" .. sig)
    end
    assert.is_true(T.running(name))
    p:kill("INT")
    p:expect("got-INT")
    p:kill("INT")
    local rest = p:expect_eof(20)
    assert.matches("got 3 SIGTERM/SIGINTs, forcefully exiting", rest, 1, true)
    assert.are.equal(1, p:wait())
    assert.is_false(T.exists(name))
  end)

  it("--sig-proxy=false: a signal ends dpty instead", function()
    local name = T.name("noproxy")
    local p <close> = spawn_run(name, { "--sig-proxy=false" })
    p:expect("ready")
    p:kill("TERM")
    local rest = p:expect_eof(20)
    assert.is_nil(rest:find("got-TERM", 1, true))
    assert.are.equal(143, p:wait())
    assert.is_false(T.exists(name))
  end)
end)

describe("attach --logs", function()
  after_each(function() T.cleanup() end)

  it("replays the earlier output, and refuses an exited container instead of restarting it", function()
    local name = T.name("logs")
    local _, err, code = T.docker { "run", "-d", "--name", name, "--network", "none", "--label", T.label, "busybox",
      "sh", "-c", "echo before-attach; sleep 2; echo after-attach" }
    assert.are.equal(0, code, err)
    local out, _, acode = T.sh(T.quote(dpty) .. " --no-config attach --logs --no-stdin " .. name)
    assert.are.equal(0, acode)
    assert.matches("before%-attach\nafter%-attach\n", out)
    local _, aerr, xcode = T.sh(T.quote(dpty) .. " --no-config attach " .. name)
    assert.are.equal(1, xcode)
    assert.matches("start it first", aerr)
  end)
end)
