-- dpty with a person's terminal: run under a real pty, type, resize, detach, reattach, signal,
-- and check the exit codes and that the terminal comes back exactly as it was.
local P = require "support.pty"
local T = require "support.docker"

local dpty = T.bin()
local PROMPT = "/ # "

local function spawn(args, opts)
  opts = opts or {}
  local argv = { dpty }
  for _, a in ipairs(args) do argv[#argv + 1] = a end
  return P.spawn(argv, { rows = opts.rows or 24, cols = opts.cols or 80, env = opts.env })
end

local function run_it(name, extra, opts)
  local args = { "run", "-it", "--network", "none", "--label", T.label, "--name", name }
  for _, a in ipairs(extra or {}) do args[#args + 1] = a end
  args[#args + 1] = "busybox"
  args[#args + 1] = "sh"
  return spawn(args, opts)
end

-- The file-status flags of the terminal's open file description, read through a child.
local FLAGS = "grep flags /proc/self/fdinfo/0"

describe("dpty run -it", function()
  after_each(function() T.cleanup() end)

  it("gives the shell the terminal: prompt, typing, size, resize, exit code, settings restored", function()
    local name = T.name("it")
    local p <close> = run_it(name, { "--rm" }, { rows = 30, cols = 100 })
    local before = p:termios()
    p:expect(PROMPT)
    assert.are_not.equal(before, p:termios()) -- raw while the session runs
    p:sendline("stty size; echo typed-$((40+2))")
    p:expect("30 100")
    p:expect("typed-42")
    p:expect(PROMPT)
    p:resize(40, 132)
    -- the resize goes through the API; give the shell a moment to get SIGWINCH
    local deadline = os.time() + 10
    repeat
      p:sendline("stty size")
      local _, m = p:expect({ pattern = "(%d+ %d+)\r\n" })
      local size = m:match("%d+ %d+")
      p:expect(PROMPT)
    until size == "40 132" or os.time() > deadline
    p:sendline("exit 3")
    p:expect_eof()
    assert.are.equal(3, p:wait())
    assert.are.equal(before, p:termios())
    assert.is_false(T.exists(name))
  end)

  it("detaches on ctrl-p ctrl-q, leaves it running, and reattaches with the prompt redrawn", function()
    local name = T.name("detach")
    do
      local p <close> = run_it(name)
      local before = p:termios()
      p:expect(PROMPT)
      p:sendline("echo first-session")
      p:expect("first-session")
      p:expect(PROMPT)
      p:send("\16")
      P.sleep(0.2)
      p:send("\17")
      local rest = p:expect_eof()
      assert.matches("detached from " .. name:gsub("%-", "%%-"), rest)
      assert.are.equal(0, p:wait())
      assert.are.equal(before, p:termios())
    end
    assert.is_true(T.running(name))
    local p <close> = spawn({ "attach", name })
    p:expect(PROMPT) -- redrawn without typing anything: the resize nudge
    p:sendline("echo second-session")
    p:expect("second-session")
    p:sendline("exit 42")
    p:expect_eof()
    assert.are.equal(42, p:wait())
  end)

  it("detaches on ctrl-p ctrl-p ctrl-q, delivering the first ctrl-p", function()
    local name = T.name("ppq")
    local p <close> = run_it(name)
    p:expect(PROMPT)
    p:sendline("stty -ixon; cat -v")
    P.sleep(0.3)
    p:send("\16")
    P.sleep(0.1)
    p:send("\16")
    P.sleep(0.1)
    p:send("\17")
    p:expect_eof()
    assert.are.equal(0, p:wait())
    assert.is_true(T.running(name))
  end)

  it("delivers a held ctrl-p as soon as the next key does not continue the sequence", function()
    local name = T.name("partial")
    local p <close> = run_it(name, { "--rm" })
    p:expect(PROMPT)
    p:sendline("stty -ixon; cat -v")
    P.sleep(0.3)
    p:send("\16")
    P.sleep(0.2)
    p:send("x\r")
    p:expect("^Px")
    p:send("\4")
    p:expect(PROMPT)
    p:sendline("exit 0")
    p:expect_eof()
    assert.are.equal(0, p:wait())
  end)

  it("uses --detach-keys: ctrl-p ctrl-q reach the container, ctrl-x x detaches", function()
    local name = T.name("keys")
    local p <close> = run_it(name, { "--detach-keys=ctrl-x,x" })
    p:expect(PROMPT)
    p:sendline("stty -ixon; cat -v")
    P.sleep(0.3)
    p:send("\16\17\r")
    p:expect("^P^Q")
    p:send("\4")
    p:expect(PROMPT)
    p:send("\24x")
    p:expect_eof()
    assert.are.equal(0, p:wait())
    assert.is_true(T.running(name))
  end)

  it("takes detachKeys from $DOCKER_CONFIG/config.json", function()
    local dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p " .. dir))
    local f = assert(io.open(dir .. "/config.json", "w"))
    f:write('{"detachKeys": "ctrl-a,a"}')
    f:close()
    local name = T.name("conf")
    local p <close> = run_it(name, {}, { env = { DOCKER_CONFIG = dir } })
    p:expect(PROMPT)
    p:sendline("stty -ixon; cat -v")
    P.sleep(0.3)
    p:send("\16\17\r")
    p:expect("^P^Q")
    p:send("\4")
    p:expect(PROMPT)
    p:send("\1a")
    p:expect_eof()
    assert.are.equal(0, p:wait())
    assert.is_true(T.running(name))
    os.execute("rm -rf " .. dir)
  end)

  for _, sig in ipairs { { "TERM", 143 }, { "HUP", 129 }, { "QUIT", 131 } } do
    it("ends cleanly on SIG" .. sig[1] .. ": terminal and its flags restored, --rm container removed", function()
      local name = T.name("sig")
      local cmd = FLAGS .. "; sh -c 'echo PID=$$; exec " .. dpty .. " run -it --rm --network none --label "
        .. T.label .. " --name " .. name .. " busybox sh'; echo rc=$?; " .. FLAGS
      local p <close> = P.spawn({ "/bin/sh", "-c", cmd })
      local before = p:termios()
      local _, flags_before = p:expect({ pattern = "flags:%s*%d+" })
      local _, pid = p:expect({ pattern = "PID=%d+" })
      p:expect(PROMPT)
      assert(os.execute("kill -" .. sig[1] .. " " .. pid:match("%d+")))
      p:expect("rc=" .. sig[2])
      local _, flags_after = p:expect({ pattern = "flags:%s*%d+" })
      assert.are.equal(flags_before, flags_after)
      assert.are.equal(0, p:wait())
      assert.are.equal(before, p:termios())
      assert.is_false(T.exists(name))
    end)
  end
end)

describe("dpty exec -it", function()
  local name
  setup(function()
    name = T.name("exec-it")
    local _, err, code = T.docker { "run", "-d", "--name", name, "--network", "none", "--label", T.label, "busybox", "sleep", "600" }
    assert(code == 0, err)
  end)
  teardown(function() T.cleanup() end)

  it("runs a shell with the terminal's size and passes its exit code on", function()
    local p <close> = spawn({ "exec", "-it", name, "sh" }, { rows = 33, cols = 90 })
    local before = p:termios()
    p:expect(PROMPT)
    p:sendline("stty size")
    p:expect("33 90")
    p:sendline("exit 4")
    p:expect_eof()
    assert.are.equal(4, p:wait())
    assert.are.equal(before, p:termios())
  end)

  it("detaches from an exec with exit 1, as docker does, and restores the terminal", function()
    local p <close> = spawn({ "exec", "-it", name, "sh" })
    local before = p:termios()
    p:expect(PROMPT)
    p:send("\16\17")
    local rest = p:expect_eof()
    assert.matches("detached from an exec", rest)
    assert.are.equal(1, p:wait())
    assert.are.equal(before, p:termios())
  end)
end)
