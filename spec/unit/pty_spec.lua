-- core.pty_spawn and the spec-side driver (spec/support/pty.lua): local commands in a real pty.
-- No engine needed.
local core = require "dpty.core"
local P = require "support.pty"

-- true while a process with this pid exists
local function alive(pid)
  return os.execute("kill -0 " .. pid .. " 2>/dev/null") == true
end

local function shell()
  local p = P.spawn({ "/bin/sh", "-i" }, { env = { PS1 = "$ ", ENV = false } })
  p:expect("$ ")
  return p
end

describe("core.pty_spawn", function()
  it("runs a command with the window size asked for and reports its exit code", function()
    local p <close> = P.spawn({ "/bin/sh", "-c", "stty size; echo hi; exit 3" }, { rows = 33, cols = 101 })
    assert.are.equal("33 101\r\nhi\r\n", p:expect_eof())
    assert.are.equal(3, p:wait())
  end)

  it("defaults to 24 x 80", function()
    local p <close> = P.spawn { "stty", "size" }
    p:expect("24 80\r\n")
    assert.are.equal(0, p:wait())
  end)

  it("gives a controlling terminal in a new session", function()
    local p <close> = P.spawn { "/bin/sh", "-c", "tty; ps -o pid=,sid=,tpgid= -p $$" }
    local _, name = p:expect({ pattern = "/dev/pts/%d+" })
    assert.is_truthy(name)
    local _, _, pid, sid, tpgid = p:expect({ pattern = "(%d+)%s+(%d+)%s+(%d+)" })
    assert.are.equal(tostring(p:pid()), pid)
    assert.are.same({ pid, pid }, { sid, tpgid })
  end)

  it("passes environment overrides and the working directory", function()
    local p <close> = P.spawn({ "/bin/sh", "-c", 'echo "[$DPTY_A][$DPTY_N][${HOME-unset}]"; pwd' },
      { env = { DPTY_A = "x y", DPTY_N = 5, HOME = false }, cwd = "/tmp" })
    assert.are.equal("[x y][5][unset]\r\n/tmp\r\n", p:expect_eof())
  end)

  it("looks the command up in the child's PATH", function()
    local h, err = core.pty_spawn({ "sh", "-c", "true" }, { env = { PATH = "/nonexistent" } })
    assert.is_nil(h)
    assert.are.equal('cannot run "sh": No such file or directory', err)
  end)

  it("returns nil and a message when the program cannot be run", function()
    local h, err = core.pty_spawn { "dpty-no-such-program", "x" }
    assert.is_nil(h)
    assert.are.equal('cannot run "dpty-no-such-program": No such file or directory', err)
    h, err = core.pty_spawn { "/etc/passwd" }
    assert.is_nil(h)
    assert.are.equal('cannot run "/etc/passwd": Permission denied', err)
    h, err = core.pty_spawn({ "true" }, { cwd = "/nonexistent" })
    assert.is_nil(h)
    assert.are.equal('cannot change to directory "/nonexistent": No such file or directory', err)
  end)

  it("refuses bad arguments", function()
    assert.has_error(function() core.pty_spawn {} end)
    assert.has_error(function() core.pty_spawn({ "true" }, { rows = 0 }) end)
    assert.has_error(function() core.pty_spawn({ "true" }, { env = { ["A=B"] = "x" } }) end)
    assert.has_error(function() core.pty_spawn({ "true" }, { env = { A = true } }) end)
    assert.has_error(function() core.pty_spawn({ true }) end)
  end)

  it("drives an interactive shell", function()
    local p <close> = shell()
    p:send("echo $((6*7))\r")
    local before = p:expect("42\r\n")
    assert.are.equal("echo $((6*7))\r\n", before) -- the terminal echoed the line
    p:expect("$ ")
    p:send("exit 5\r")
    assert.are.equal(5, p:wait())
  end)

  it("resizes the terminal", function()
    local p <close> = shell()
    p:resize(40, 132)
    assert.are.same({ 40, 132 }, { p:size() })
    p:send("stty size\r")
    p:expect("40 132\r\n")
  end)

  it("delivers SIGWINCH to the foreground process group on resize", function()
    local p <close> = P.spawn { "/bin/sh", "-c",
      "trap 'echo winch; stty size' WINCH; echo ready; while :; do sleep 0.05; done" }
    p:expect("ready")
    p:resize(50, 60)
    p:expect("winch\r\n50 60\r\n")
    p:resize(50, 60) -- no change, no signal
    p:resize(51, 61)
    local before = p:expect("winch\r\n51 61\r\n")
    assert.are.equal("", before)
  end)

  it("reads EOF after the child exits, once everything was read", function()
    local h <close> = assert(core.pty_spawn { "/bin/sh", "-c", "echo bye" })
    local out = ""
    while true do
      local data, err = h:read(5)
      if data == nil then
        assert.are.equal("eof", err)
        break
      end
      out = out .. data
    end
    assert.are.equal("bye\r\n", out)
    assert.are.same({ nil, "eof" }, { h:read(0) })
    assert.are.equal(0, h:wait(5))
  end)

  it("returns an empty string when a read times out", function()
    local h <close> = assert(core.pty_spawn { "sleep", "5" })
    local t = core.monotonic()
    assert.are.equal("", h:read(0.1))
    assert.is_true(core.monotonic() - t >= 0.09)
    assert.are.equal("", h:read(0))
  end)

  it("shows termios changes by the child and their restoration", function()
    local p <close> = P.spawn { "/bin/sh", "-c",
      's=$(stty -g); stty raw -echo; echo changed; read x; stty "$s"; echo restored; read y' }
    local before = p:termios()
    assert.are.equal("string", type(before))
    p:expect("changed")
    local raw = p:termios()
    assert.are_not.equal(before, raw)
    assert.is_nil(p:stty():match("[( ]icanon[ )]"), p:stty())
    assert.is_nil(p:stty():match("[( ]echo[ )]"), p:stty())
    p:send("go\n") -- raw: no icrnl, the line ends with \n
    p:expect("restored")
    assert.are.equal(before, p:termios(), p:stty())
    assert.is_truthy(p:stty():match("[( ]icanon[ )]"))
    p:send("\r")
    assert.are.equal(0, p:wait())
  end)

  it("describes termios for people", function()
    local h <close> = assert(core.pty_spawn { "sleep", "5" })
    local s = h:stty()
    assert.is_truthy(s:match("^iflag=0x%x+ %(.-icrnl.-%) oflag=0x%x+ %(.-onlcr.-%) cflag=0x%x+ %(cs8.-%) " ..
      "lflag=0x%x+ %(.-icanon.-%) cc=03 "), s)
  end)

  it("sends signals by name or number, to the child or its group", function()
    local p <close> = P.spawn { "/bin/sh", "-c", "echo ready; exec sleep 30" }
    p:expect("ready")
    p:kill("TERM")
    assert.are.equal(143, p:wait())

    local q <close> = P.spawn { "/bin/sh", "-c", "trap '' INT; echo ready; exec sleep 30" }
    q:expect("ready")
    q:kill(2) -- ignored
    assert.are.same({ nil, "timeout" }, { q.h:wait(0.2) })
    q:kill("SIGKILL", "group")
    assert.are.equal(137, q:wait())
    assert.are.same({ nil, "no such process" }, { q.h:kill("TERM") })
  end)

  it("sends a signal to the foreground process group as ctrl-c would", function()
    local p <close> = shell()
    p:send("sleep 30\r")
    p:expect("sleep 30")
    local t = core.monotonic()
    while p:foreground() == p:pid() do -- until the shell has put sleep in the foreground
      assert.is_true(core.monotonic() - t < 5, "sleep never came to the foreground")
      os.execute("sleep 0.01")
    end
    local sleeper = p:foreground()
    p:kill("INT", "foreground")
    p:expect("$ ", 5)
    p:send("echo $?\r")
    p:expect("130")
    assert.is_false(alive(sleeper))
  end)

  it("refuses unknown signals", function()
    local h <close> = assert(core.pty_spawn { "sleep", "5" })
    assert.has_error(function() h:kill("NOPE") end)
    assert.has_error(function() h:kill("TERM", "everyone") end)
  end)

  it("reads a big output completely", function()
    local p <close> = P.spawn { "/bin/sh", "-c", "yes | head -c 2000000" }
    local out = p:expect_eof(30)
    assert.are.equal(3000000, #out) -- onlcr: y\n -> y\r\n
    assert.are.equal("", (out:gsub("y\r\n", "")))
    assert.are.equal(0, p:wait())
  end)

  it("writes a big input completely", function()
    local p <close> = P.spawn { "/bin/sh", "-c", "stty -echo -icanon; echo ready; head -c 200000 | wc -c" }
    p:expect("ready")
    p:send(string.rep("x", 200000), 20)
    p:expect("200000")
    assert.are.equal(0, p:wait())
  end)

  it("reports a write timeout with the byte count", function()
    -- never reads; not canonical (in canonical mode the terminal drops what exceeds a line)
    local p <close> = P.spawn { "/bin/sh", "-c", "stty -icanon -echo; echo ready; sleep 10" }
    p:expect("ready")
    local h = p.h
    local ok, err, n = h:write(string.rep("x", 1000000), 0.2)
    assert.is_nil(ok)
    assert.are.equal("timeout", err)
    assert.is_true(n > 0 and n < 1000000)
  end)

  it("raises when a closed pty is used, naming the caller", function()
    local h = assert(core.pty_spawn { "sleep", "10" })
    local pid = h:pid()
    assert.is_true(alive(pid))
    assert.are.equal(128 + 1, h:close()) -- SIGHUP
    assert.is_false(alive(pid))
    assert.are.equal(129, h:close()) -- idempotent
    assert.are.equal("dpty.pty (closed)", tostring(h))
    for _, m in ipairs { "read", "write", "resize", "termios", "stty", "wait", "kill", "pid", "fd", "size" } do
      local ok, err = pcall(function() return h[m](h, "x", 1) end)
      assert.is_false(ok)
      assert.is_truthy(err:match("pty_spec%.lua:%d+: attempt to use a closed pty$"), err)
    end
  end)

  it("closes at the end of a <close> scope and when collected", function()
    local pid
    do
      local h <close> = assert(core.pty_spawn { "sleep", "10" })
      pid = h:pid()
    end
    assert.is_false(alive(pid))
    local h = assert(core.pty_spawn { "/bin/sh", "-c", "trap '' HUP; sleep 10" })
    pid = h:pid()
    h = nil -- luacheck: ignore
    collectgarbage()
    collectgarbage()
    assert.is_false(alive(pid))
  end)

  it("keeps the master non-blocking and close-on-exec", function()
    local h <close> = assert(core.pty_spawn { "sleep", "5" })
    local fd = h:fd()
    local f = io.open("/proc/self/fdinfo/" .. fd)
    local info = f:read("a")
    f:close()
    local flags = tonumber(info:match("flags:%s*(%d+)"), 8)
    assert.are.equal(0x800, flags & 0x800) -- O_NONBLOCK
    assert.are.equal(0x80000, flags & 0x80000) -- O_CLOEXEC
  end)

  it("starts the child with no blocked or ignored signals", function()
    local p <close> = P.spawn { "/bin/sh", "-c", "exec grep -E '^Sig(Blk|Ign)' /proc/self/status" }
    local out = p:expect_eof()
    assert.are.equal("SigBlk:\t0000000000000000\r\nSigIgn:\t0000000000000000\r\n", out)
  end)

  it("gives the child no file descriptors but 0, 1, 2", function()
    local p <close> = P.spawn { "ls", "-1", "/proc/self/fd" }
    -- ls itself opens the directory (fd 3)
    assert.are.equal("0\r\n1\r\n2\r\n3\r\n", p:expect_eof())
  end)
end)

describe("support.pty", function()
  it("matches Lua patterns and returns captures", function()
    local p <close> = P.spawn { "/bin/sh", "-c", "echo 'a=1 b=22 c=333'" }
    local before, match, key, value = p:expect({ pattern = "(%a)=(%d%d)" })
    assert.are.same({ "a=1 ", "b=22", "b", "22" }, { before, match, key, value })
    assert.are.equal(" c=333\r\n", p:expect_eof())
    assert.are.equal("a=1 b=22 c=333\r\n", p:output())
  end)

  it("shows what was expected and what came, control characters visible", function()
    local p <close> = P.spawn { "/bin/sh", "-c", "printf 'one\\033[1mtwo\\n'; sleep 5" }
    p:expect("two")
    local ok, err = pcall(function() p:expect("three", 0.2) end)
    assert.is_false(ok)
    assert.is_truthy(err:find('expected "three" within 0.2 s, timed out', 1, true), err)
    assert.is_truthy(err:find("one\\x1b[1mtwo\\r\\n", 1, true), err)
    assert.is_truthy(err:match("^[^\n]*pty_spec%.lua:%d+:"), err) -- the caller's line
  end)

  it("reports EOF while expecting", function()
    local p <close> = P.spawn { "echo", "done" }
    local ok, err = pcall(p.expect, p, "never")
    assert.is_false(ok)
    assert.is_truthy(err:find('expected "never", got EOF', 1, true), err)
  end)

  it("raises when the program cannot be run", function()
    local ok, err = pcall(function() P.spawn { "dpty-no-such-program" } end)
    assert.is_false(ok)
    assert.is_truthy(err:match('pty_spec%.lua:%d+: cannot run "dpty%-no%-such%-program": No such file or directory$'), err)
  end)

  it("keeps reading while waiting so a chatty child can finish", function()
    local p <close> = P.spawn { "/bin/sh", "-c", "yes | head -c 300000; exit 4" }
    assert.are.equal(4, p:wait())
    assert.are.equal(450000, #p:expect_eof())
  end)
end)
