-- `dpty SCRIPT.lua`: arguments, exit codes, errors with file:line and a traceback after the
-- terminal is restored; the embedded Lua layer, its development override, and the install.
local P = require "support.pty"
local T = require "support.docker"

local dpty = T.bin()

local function script(text)
  local path = os.tmpname() .. ".lua"
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
  return path
end

describe("dpty SCRIPT.lua", function()
  after_each(function() T.cleanup() end)

  it("sees arg and ... as under lua, and returns its exit code", function()
    local path = script([[
      local a, b = ...
      print(arg[0]:match("[^/]+$"), arg[1], arg[2], a, b, #arg)
      return 7
    ]])
    local out, _, code = T.sh(T.quote(dpty) .. " " .. path .. " one two")
    assert.are.equal(path:match("[^/]+$") .. "\tone\ttwo\tone\ttwo\t2\n", out)
    assert.are.equal(7, code)
    os.remove(path)
  end)

  it("reports a syntax error as file:line: message and exits non-zero", function()
    local path = script("local x = \nprint(\n")
    local _, err, code = T.sh(T.quote(dpty) .. " " .. path)
    assert.are_not.equal(0, code)
    assert.matches(path:gsub("%p", "%%%0") .. ":%d+: ", err)
    os.remove(path)
  end)

  it("reports a runtime error with file:line and a traceback", function()
    local path = script("local function f() error('boom') end\nlocal function g() f() end\ng()\n")
    local _, err, code = T.sh(T.quote(dpty) .. " " .. path)
    assert.are.equal(1, code)
    assert.matches(path:gsub("%p", "%%%0") .. ":1: boom", err)
    assert.matches("stack traceback:", err, 1, true)
    assert.matches("in local 'g'", err, 1, true)
    os.remove(path)
  end)

  it("dpty.start gives a script's container the terminal; a later error finds the terminal restored", function()
    local path = script(([[
      local dpty = require "dpty"
      local docker = dpty.docker()
      local id = assert(docker:create { Image = "busybox", Cmd = { "sh" }, Tty = true, OpenStdin = true,
        StdinOnce = true, Labels = { ["dpty.test"] = %q }, HostConfig = { NetworkMode = "none", AutoRemove = true } })
      local code = dpty.start(docker, id)
      io.stderr:write("code=", tostring(code), "\n")
      error("after the session")
    ]]):format(T.run))
    local p <close> = P.spawn({ dpty, path }, { rows = 20, cols = 70 })
    local before = p:termios()
    p:expect("/ # ")
    p:sendline("stty size")
    p:expect("20 70")
    p:sendline("exit 3")
    p:expect("code=3")
    p:expect("after the session")
    p:expect("stack traceback:")
    assert.are.equal(1, p:wait())
    assert.are.equal(before, p:termios())
    os.remove(path)
  end)

  it("dpty.exec_command runs a command in a running container and returns its code", function()
    local name = T.name("execcmd")
    assert(select(3, T.docker { "run", "-d", "--name", name, "--network", "none", "--label", T.label, "busybox", "sleep", "60" }) == 0)
    local path = script(([[
      local dpty = require "dpty"
      local code = dpty.exec_command(dpty.docker(), %q, { "sh", "-c", "echo in-exec; exit 4" }, { tty = false, stdin = false })
      print("code", code)
    ]]):format(name))
    local out, _, code = T.sh(T.quote(dpty) .. " " .. path)
    assert.are.equal("in-exec\ncode\t4\n", out)
    assert.are.equal(0, code)
    os.remove(path)
  end)
end)

describe("the Lua layer", function()
  it("is embedded: dpty runs from any directory with no LUA_PATH", function()
    local out, err, code = T.sh("cd / && env -u LUA_PATH -u LUA_PATH_5_4 -u LUA_CPATH -u LUA_CPATH_5_4 " .. T.quote(dpty) .. " --help")
    assert.are.equal(0, code, err)
    assert.matches("Usage:  dpty", out, 1, true)
  end)

  it("loads from the source tree when DPTY_LUA_DIR is set", function()
    local dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p " .. dir .. " && cp lua/dpty/*.lua " .. dir))
    local f = assert(io.open(dir .. "/flags.lua", "r"))
    local text = f:read("a")
    f:close()
    f = assert(io.open(dir .. "/flags.lua", "w"))
    f:write('io.stdout:write("loaded from DPTY_LUA_DIR\\n")\n', text)
    f:close()
    local out = T.sh("DPTY_LUA_DIR=" .. dir .. " " .. T.quote(dpty) .. " --help")
    assert.matches("^loaded from DPTY_LUA_DIR\n", out)
    os.execute("rm -rf " .. dir)
  end)

  it("installs where lua5.4 finds it", function()
    local build = os.getenv("DPTY_BUILD") or "build"
    local prefix = os.tmpname()
    os.remove(prefix)
    local _, err, code = T.sh("cmake --install " .. build .. " --prefix " .. prefix)
    assert.are.equal(0, code, err)
    local out = T.sh(prefix .. "/bin/dpty --help")
    assert.matches("Usage:  dpty", out, 1, true)
    local lua = ("package.path=%q..package.path package.cpath=%q..package.cpath print(require('dpty').version)")
      :format(prefix .. "/share/lua/5.4/?.lua;" .. prefix .. "/share/lua/5.4/?/init.lua;", prefix .. "/lib/lua/5.4/?.so;")
    local v, verr, vcode = T.sh("cd / && lua5.4 -e " .. T.quote(lua))
    assert.are.equal(0, vcode, verr)
    assert.matches("^%d+%.%d+%.%d+\n$", v)
    os.execute("rm -rf " .. prefix)
  end)
end)
