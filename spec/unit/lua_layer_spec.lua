-- Pure parts of the Lua layer, no engine: flags, DOCKER_HOST forms, queries, error bodies,
-- detach key resolution, start-failure codes.
local flags = require "dpty.flags"
local engine = require "dpty.engine"
local keys = require "dpty.keys"
local session = require "dpty.session"

describe("flags", function()
  local spec = {
    { long = "interactive", short = "i" }, { long = "tty", short = "t" }, { long = "rm" },
    { long = "name", arg = true }, { long = "env", short = "e", arg = true, multi = true },
  }

  it("takes combined short flags, repeated and attached values, and stops at the image", function()
    local o, rest = flags.parse(spec, { "-it", "--rm", "-e", "A=1", "-eB=2", "--name=x", "img", "-e", "C" })
    assert.is_true(o.interactive)
    assert.is_true(o.tty)
    assert.is_true(o.rm)
    assert.are.same({ "A=1", "B=2" }, o.env)
    assert.are.equal("x", o.name)
    assert.are.same({ "img", "-e", "C" }, rest)
  end)

  it("accepts --flag=false and -- as the end of flags", function()
    local o, rest = flags.parse(spec, { "--tty=false", "--", "-i" })
    assert.is_false(o.tty)
    assert.are.same({ "-i" }, rest)
  end)

  it("names what it refuses", function()
    assert.are.same({ nil, "unknown flag: --bogus" }, { flags.parse(spec, { "--bogus" }) })
    assert.are.same({ nil, "unknown shorthand flag: 'x' in -ix" }, { flags.parse(spec, { "-ix" }) })
    assert.are.same({ nil, "flag needs an argument: --name" }, { flags.parse(spec, { "--name" }) })
    local _, err = flags.parse(spec, { "--rm=maybe" })
    assert.matches("invalid value", err)
  end)
end)

describe("DOCKER_HOST", function()
  it("defaults to the local socket", function()
    assert.are.same({ unix = "/var/run/docker.sock", base = "http://localhost", name = "unix:///var/run/docker.sock" },
      engine.parse_host(nil))
    assert.are.equal("/var/run/docker.sock", engine.parse_host("unix://").unix)
    assert.are.equal("/tmp/d.sock", engine.parse_host("unix:///tmp/d.sock").unix)
  end)

  it("takes tcp with the default port, a base path and bare host:port", function()
    assert.are.equal("http://10.0.0.1:2375", engine.parse_host("tcp://10.0.0.1").base)
    assert.are.equal("http://h:1234/base", engine.parse_host("tcp://h:1234/base/").base)
    assert.are.equal("http://h:99", engine.parse_host("h:99").base)
  end)

  it("refuses what it cannot speak to", function()
    local t, err = engine.parse_host("fd://")
    assert.is_nil(t)
    assert.matches("fd://", err, 1, true)
  end)
end)

describe("engine helpers", function()
  it("builds sorted, encoded queries", function()
    assert.are.equal("?a=1&b=x%20y&c=0", engine.query_string({ b = "x y", a = true, c = false }))
    assert.are.equal("", engine.query_string(nil))
  end)

  it("finds the message in JSON and plain-text error bodies", function()
    assert.are.equal("No such container: x", engine.error_message('{"message":"No such container: x"}\n', 404))
    assert.are.equal("No such container: x", engine.error_message("No such container: x\r\n", 404))
    assert.are.equal("No such container: x", engine.error_message({ message = "No such container: x" }, 404))
    assert.are.equal("the Docker daemon answered HTTP 500", engine.error_message("", 500))
  end)
end)

describe("detach keys", function()
  local saved = os.getenv("DOCKER_CONFIG")
  local dir
  before_each(function()
    dir = os.tmpname()
    os.remove(dir)
    os.execute("mkdir -p " .. dir)
  end)
  after_each(function() os.execute("rm -rf " .. dir) end)

  local function with_config(text, fn)
    if text then
      local f = assert(io.open(dir .. "/config.json", "w"))
      f:write(text)
      f:close()
    end
    -- keys.detach reads DOCKER_CONFIG through os.getenv: swap it for the call
    local getenv = os.getenv
    os.getenv = function(k) if k == "DOCKER_CONFIG" then return dir end return getenv(k) end -- luacheck: ignore
    local ok, a, b = pcall(fn)
    os.getenv = getenv -- luacheck: ignore
    assert(ok, a)
    return a, b
  end

  it("defaults to ctrl-p,ctrl-q", function()
    local spec, bytes = with_config(nil, function() return keys.detach(nil) end)
    assert.are.equal("ctrl-p,ctrl-q", spec)
    assert.are.equal("\16\17", bytes)
  end)

  it("takes detachKeys from config.json, and an explicit spec over it", function()
    assert.are.equal("ctrl-a,a", (with_config('{"detachKeys":"ctrl-a,a"}', function() return keys.detach(nil) end)))
    assert.are.equal("ctrl-x", (with_config('{"detachKeys":"ctrl-a,a"}', function() return keys.detach("ctrl-x") end)))
  end)

  it("reports a broken config.json with its path", function()
    local spec, err = with_config("{not json", function() return keys.detach(nil) end)
    assert.is_nil(spec)
    assert.matches("config.json: not valid JSON", err, 1, true)
  end)

  it("reports a bad spec with the key named", function()
    local spec, err = keys.detach("ctrl-p,ctrl-Q")
    assert.is_nil(spec)
    assert.matches("invalid detach keys: unknown key 'ctrl%-Q'", err)
  end)
  assert(saved == os.getenv("DOCKER_CONFIG"))
end)

describe("start failures", function()
  it("map to the docker CLI's exit codes", function()
    assert.are.equal(127, session.start_failure_code('exec: "/nosuch": stat /nosuch: no such file or directory: unknown'))
    assert.are.equal(127, session.start_failure_code('exec: "x": executable file not found in $PATH: unknown'))
    assert.are.equal(126, session.start_failure_code('exec: "/etc": permission denied: unknown'))
    assert.are.equal(125, session.start_failure_code("something else"))
  end)
end)
