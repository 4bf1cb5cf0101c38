-- The test environment itself: an engine that answers, a busybox image that runs without
-- network, a built dpty, and the helpers of spec/support/docker.lua.
local T = require "support.docker"

describe("test environment", function()
  it("has an engine that answers", function()
    local out, err, code = T.docker { "version", "--format", "{{.Server.Version}}" }
    assert.are.equal(0, code, err)
    assert.is_truthy(out:match("^%d+%.%d+"), out)
  end)

  it("runs busybox with no network", function()
    local out, err, code = T.docker { "run", "--rm", "--network", "none", "--label", T.label, T.image, "echo", "hi" }
    assert.are.equal(0, code, err)
    assert.are.equal("hi\n", out)
  end)

  it("has a built dpty executable", function()
    local bin = T.bin()
    assert.are.equal("/", bin:sub(1, 1))
    local _, _, code = T.sh { "test", "-x", bin }
    assert.are.equal(0, code, bin .. " is not an executable")
  end)

  it("reports exit codes and signals like a shell", function()
    local out, err, code = T.sh "echo out; echo err >&2; exit 3"
    assert.are.same({ "out\n", "err\n", 3 }, { out, err, code })
    _, _, code = T.sh "kill -TERM $$"
    assert.are.equal(143, code)
  end)

  it("names and finds containers", function()
    local a, b = T.name("engine up"), T.name("engine up")
    assert.are_not.equal(a, b)
    assert.is_truthy(a:match("^dpty%-test%-engine%-up%-%x+$"), a)
    assert.is_false(T.exists(a))
    local _, err, code = T.docker { "run", "-d", "--network", "none", "--label", T.label, "--name", a, T.image, "sleep", "60" }
    assert.are.equal(0, code, err)
    assert.is_true(T.exists(a))
    assert.is_true(T.running(a))
    T.docker { "rm", "-f", a }
    assert.is_false(T.exists(a))
    assert.is_false(T.running(a))
  end)

  it("cleans up this run's containers and no other run's", function()
    local mine, theirs = T.name("mine"), T.name("theirs")
    local other = "dpty.test=" .. T.run .. "-other"
    for _, c in ipairs { { mine, T.label }, { theirs, other } } do
      local _, err, code = T.docker { "create", "--network", "none", "--label", c[2], "--name", c[1], T.image, "true" }
      assert.are.equal(0, code, err)
    end
    assert.is_true(#T.containers() >= 1)
    T.cleanup()
    assert.is_false(T.exists(mine))
    assert.is_true(T.exists(theirs))
    assert.are.same({}, T.containers())
    T.docker { "rm", "-f", theirs }
  end)
end)
