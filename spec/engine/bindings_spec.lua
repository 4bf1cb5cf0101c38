-- Key bindings, hooks, timers and the user's init file, under a real pty against the engine.
local P = require "support.pty"
local T = require "support.docker"

local dpty = T.bin()
local PROMPT = "/ # "

local function tmpfile(text, suffix)
  local path = os.tmpname() .. (suffix or ".lua")
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
  return path
end

local function read_file(path)
  local f = io.open(path)
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

-- dpty run -it ... busybox sh with the given init file text (or env)
local function run_with(config, opts)
  opts = opts or {}
  local env = opts.env or {}
  if config then env.DPTY_CONFIG = tmpfile(config) end
  local argv = { dpty }
  for _, a in ipairs(opts.global or {}) do argv[#argv + 1] = a end
  for _, a in ipairs { "run", "-it", "--network", "none", "--label", T.label } do argv[#argv + 1] = a end
  if opts.name then argv[#argv + 1] = "--name=" .. opts.name end
  if opts.rm ~= false then argv[#argv + 1] = "--rm" end
  argv[#argv + 1] = "busybox"
  for _, a in ipairs(opts.cmd or { "sh" }) do argv[#argv + 1] = a end
  return P.spawn(argv, { env = env, rows = 24, cols = 80 })
end

local function finish(p, code)
  p:sendline("exit " .. (code or 0))
  p:expect_eof()
  assert.are.equal(code or 0, p:wait())
end

-- a cat -v that shows every byte it gets (no flow control eating ctrl-q/ctrl-s)
local function cat_v(p)
  p:expect(PROMPT)
  p:sendline("stty -ixon; cat -v")
  P.sleep(0.3)
end

describe("key bindings", function()
  after_each(function() T.cleanup() end)

  it("a string action sends text in place of a named key (f2) and an alt- key", function()
    local p <close> = run_with([[
      local dpty = require "dpty"
      dpty.bind("f2", "echo from-f2\r")
      dpty.bind("alt-e", "echo from-alt-e\r")
    ]])
    p:expect(PROMPT)
    p:send("\27OQ")
    p:expect("from-f2\r\n")
    p:send("\27[12~") -- the other encoding of f2
    p:expect("from-f2\r\n")
    p:send("\27e")
    p:expect("from-alt-e\r\n")
    finish(p)
  end)

  it("a function action decides: swallow, send a string, or detach", function()
    local name = T.name("fnaction")
    local p <close> = run_with([[
      local dpty = require "dpty"
      local n = 0
      dpty.bind("ctrl-g", function(s)
        n = n + 1
        if n == 1 then s:send("echo first-" .. s.kind .. "\r") return nil end
        if n == 2 then return "echo second\r" end
        return "detach"
      end)
    ]], { name = name, rm = false })
    p:expect(PROMPT)
    p:send("\7")
    p:expect("first-container\r\n")
    p:send("\7")
    p:expect("second\r\n")
    p:send("\7")
    p:expect_eof()
    assert.are.equal(0, p:wait())
    assert.is_true(T.running(name))
  end)

  it("delivers a held prefix when the next key does not continue it", function()
    local p <close> = run_with([[require("dpty").bind("ctrl-a,b", "BOUND")]])
    cat_v(p)
    p:send("\1")
    P.sleep(0.2)
    p:send("x\r")
    p:expect("^Ax")
    p:send("\1b\r")
    p:expect("BOUND")
    p:send("\4")
    finish(p)
  end)

  it("delivers a held prefix after key_timeout when typing stalls (moby#32895)", function()
    local p <close> = run_with(nil)
    cat_v(p)
    p:send("\16") -- ctrl-p, the first key of the detach sequence, then nothing for a while
    P.sleep(1.6)   -- past the default key_timeout of 1 s: the ctrl-p has gone to the shell
    p:send("\17\r") -- so this ctrl-q does not complete a detach
    p:expect("^P^Q")
    p:send("\4")
    finish(p)
  end)

  it("waits forever for the rest of a prefix with key_timeout = false, as docker does", function()
    local name = T.name("forever")
    local script = tmpfile(([[
      local dpty = require "dpty"
      local docker = dpty.docker()
      local id = assert(docker:create({ Image = "busybox", Cmd = { "sh" }, Tty = true, OpenStdin = true,
        Labels = { ["dpty.test"] = %q }, HostConfig = { NetworkMode = "none" } }, %q))
      print(dpty.start(docker, id, { key_timeout = false }))
    ]]):format(T.run, name))
    local p <close> = P.spawn({ dpty, "--no-config", script })
    cat_v(p)
    p:send("\16")
    P.sleep(1.6)
    p:send("\17")
    p:expect("nil\tdetached")
    assert.are.equal(0, p:wait())
    assert.is_true(T.running(name))
  end)

  it("matches an arrow in application cursor-key mode", function()
    local p <close> = run_with([[require("dpty").bind("up", "ARROW")]])
    p:expect(PROMPT)
    p:sendline("printf '\\033[?1h'; stty -ixon; cat -v")
    P.sleep(0.3)
    p:send("\27OA\r") -- what a terminal sends for up once DECCKM is on
    p:expect("ARROW")
    p:send("\27[A\r")
    p:expect("ARROW")
    p:send("\4")
    finish(p)
  end)

  it("keeps docker's detachKeys when the user's configuration binds no detach", function()
    local dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p " .. dir))
    local f = assert(io.open(dir .. "/config.json", "w"))
    f:write('{"detachKeys": "ctrl-a,a"}')
    f:close()
    local name = T.name("keep")
    local p <close> = run_with([[require("dpty").bind("f2", "x")]], { env = { DOCKER_CONFIG = dir }, name = name, rm = false })
    p:expect(PROMPT)
    p:send("\1a")
    p:expect_eof()
    assert.are.equal(0, p:wait())
    assert.is_true(T.running(name))
    os.execute("rm -rf " .. dir)
  end)

  it("a user detach binding replaces docker's: ctrl-p ctrl-q reach the program", function()
    local name = T.name("userdetach")
    local p <close> = run_with([[require("dpty").bind("ctrl-]", "detach")]], { name = name, rm = false })
    cat_v(p)
    p:send("\16\17\r")
    p:expect("^P^Q")
    p:send("\29")
    p:expect_eof()
    assert.are.equal(0, p:wait())
    assert.is_true(T.running(name))
  end)
end)

describe("hooks", function()
  after_each(function() T.cleanup() end)

  it("run in registration order; replace, drop and pass data on", function()
    local log = os.tmpname()
    local p <close> = run_with(([[
      local dpty = require "dpty"
      local log = assert(io.open(%q, "w"))
      dpty.on("start", function(s) log:write("start ", s.kind, "\n") log:flush() end)
      dpty.on("output", function(s, data) return (data:gsub("secret", "******")) end)
      dpty.on("output", function(s, data)
        if data:find("******", 1, true) then log:write("second saw the replacement\n") log:flush() end
      end)
      dpty.on("output", function(s, data) if data:find("DROPME", 1, true) then return false end end)
      dpty.on("input", function(s, data) return (data:gsub("q", "Q")) end)
      dpty.on("exit", function(s, code) log:write("exit ", code, "\n") log:close() end)
    ]]):format(log))
    p:expect(PROMPT)
    p:sendline("echo the secret")
    p:expect("the ******")
    p:sendline("echo quiet")
    p:expect("Quiet")
    p:sendline("echo DROPME; sleep 0.5; echo after-drop")
    p:expect("after-drop")
    assert.is_nil(p:output():find("DROPME\r\n", 1, true))
    finish(p, 4)
    local text = read_file(log)
    assert.matches("^start container\n", text)
    assert.matches("second saw the replacement", text, 1, true)
    assert.matches("exit 4\n$", text)
    os.remove(log)
  end)

  it("a raising hook is reported as file:line without leaving the terminal raw, and the session goes on", function()
    local p <close> = run_with([[
      local dpty = require "dpty"
      local raised = false
      dpty.on("output", function(s, data)
        if not raised and data:find("boom-now", 1, true) then
          raised = true
          error("hook went boom")
        end
      end)
    ]])
    local before = p:termios()
    p:expect(PROMPT)
    p:sendline("echo boom-now")
    p:expect({ pattern = "dpty: output hook: [^\r\n]+%.lua:%d+: hook went boom" })
    p:sendline("echo still-here")
    p:expect("still-here")
    finish(p)
    assert.are.equal(before, p:termios())
  end)
end)

describe("timers and messages", function()
  after_each(function() T.cleanup() end)

  it("after and every fire during a session; cancel stops them; notify shows a line", function()
    local p <close> = run_with([[
      local dpty = require "dpty"
      dpty.on("start", function(s)
        local ticks = 0
        local t
        t = dpty.every(0.2, function()
          ticks = ticks + 1
          if ticks == 3 then
            t:cancel()
            s:notify("three ticks")
          end
        end)
        dpty.after(1.5, function() s:notify("ticks stayed at " .. ticks) end)
      end)
    ]])
    p:expect(PROMPT)
    p:expect("three ticks")
    p:expect("ticks stayed at 3")
    p:expect(PROMPT) -- the shell redrew its prompt
    finish(p)
  end)
end)

describe("the user's init file", function()
  after_each(function() T.cleanup() end)

  it("is found in $XDG_CONFIG_HOME/dpty/init.lua and applies to dpty run", function()
    local dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p " .. dir .. "/dpty"))
    local f = assert(io.open(dir .. "/dpty/init.lua", "w"))
    f:write('require("dpty").bind("f3", "echo from-xdg\\r")\n')
    f:close()
    local p <close> = run_with(nil, { env = { XDG_CONFIG_HOME = dir } })
    p:expect(PROMPT)
    p:send("\27OR")
    p:expect("from-xdg\r\n")
    finish(p)
    os.execute("rm -rf " .. dir)
  end)

  it("is found in ~/.config/dpty/init.lua, and --no-config skips it", function()
    local home = os.tmpname()
    os.remove(home)
    assert(os.execute("mkdir -p " .. home .. "/.config/dpty"))
    local f = assert(io.open(home .. "/.config/dpty/init.lua", "w"))
    f:write('io.stderr:write("init ran\\n")\n')
    f:close()
    local env = "HOME=" .. home .. " XDG_CONFIG_HOME= DPTY_CONFIG= "
    local _, err = T.sh(env .. T.quote(dpty) .. " version")
    assert.matches("init ran", err, 1, true)
    _, err = T.sh(env .. T.quote(dpty) .. " --no-config version")
    assert.is_nil(err:find("init ran", 1, true))
    os.execute("rm -rf " .. home)
  end)

  it("is refused with file:line before any container exists when it is broken", function()
    for _, text in ipairs { "local x = = 1\n", "require('dpty').bind('f13', 'x')\n", "error('nope')\n" } do
      local path = tmpfile(text)
      local _, err, code = T.sh("DPTY_CONFIG=" .. path .. " " .. T.quote(dpty) .. " run --rm --label " .. T.label
        .. " --network none busybox true")
      assert.are.equal(125, code)
      assert.matches(path:gsub("%p", "%%%0") .. ":1:", err)
      assert.matches("nothing was started", err, 1, true)
      assert.are.equal(0, #T.containers())
      os.remove(path)
    end
  end)
end)
