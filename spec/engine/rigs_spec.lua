-- Test rigs against the engine: headless container sessions from busted itself (a rig is a
-- spec), the rig examples, a failing rig's report and exit code, many sessions at once.
local dpty = require "dpty"
local T = require "support.docker"

local docker = dpty.docker()

local function shell(extra)
  local body = { Image = T.image, Cmd = { "sh" }, Tty = true, OpenStdin = true, Env = { "PS1=rig$ " },
    Labels = { ["dpty.test"] = T.run }, HostConfig = { NetworkMode = "none", AutoRemove = true } }
  for k, v in pairs(extra or {}) do body[k] = v end
  local id = assert(docker:create(body))
  local s = assert(dpty.attach(docker, id, { kill_on_close = true }))
  assert(s:start())
  return s, id
end

describe("headless container sessions", function()
  after_each(function() T.cleanup() end)

  it("expect, screen and exit code, with the default 24x80 size", function()
    local s <close> = shell()
    s:expect("rig$ ")
    s:sendline("stty size; echo $((6*7))")
    s:expect("24 80")
    local _, m = s:expect(dpty.re("([0-9]+)\r\n"))
    assert.are.equal("42", m.captures[1])
    s:wait_quiet(200)
    assert.matches("rig%$ stty size; echo %$%(%(6%*7%)%)\n24 80\n42\nrig%$", s:screen():text())
    s:sendline("exit 3")
    s:expect(dpty.EOF)
    assert.are.equal(3, s:wait())
  end)

  it("opts.rows/cols and s:resize reach the program and the virtual screen", function()
    local body = { Image = T.image, Cmd = { "sh" }, Tty = true, OpenStdin = true, Env = { "PS1=rig$ " },
      Labels = { ["dpty.test"] = T.run }, HostConfig = { NetworkMode = "none", AutoRemove = true } }
    local id = assert(docker:create(body))
    local s <close> = assert(dpty.attach(docker, id, { rows = 30, cols = 100 }))
    assert(s:start())
    s:expect("rig$ ")
    s:sendline("stty size")
    s:expect("30 100")
    assert(s:resize(40, 120))
    s:sendline("stty size")
    s:expect("40 120")
    assert.are.same({ 40, 120 }, { s:screen():size() })
    s:sendline("exit")
    s:expect(dpty.EOF)
  end)

  it("a headless exec session, and sendeof ending a non-tty one", function()
    local s <close>, id = shell()
    s:expect("rig$ ")
    local e <close> = assert(dpty.exec(docker, id, { "sh", "-c", "read x; echo got-$x; cat; echo after-eof; exit 4" },
      { tty = false }))
    assert(e:start())
    e:sendline("line")
    e:expect("got-line")
    e:send("more\n")
    e:expect("more")
    e:sendeof()
    e:expect("after-eof")
    assert.are.equal(4, e:wait())
    s:sendline("exit")
  end)

  it("a busybox vi screen: keys, cursor and cells", function()
    local s <close> = shell({ Cmd = { "vi", "/tmp/x" } })
    s:expect_screen(dpty.pat("\n~\n~\n"))
    s:send("ifirst line")
    s:key("enter")
    s:send("second")
    s:key("esc")
    s:wait_quiet(200) -- else vi reads ESC and the arrow's "[A" as one key
    s:key("up")
    s:wait_stable(300)
    local sc = s:screen()
    assert.matches("^first line", sc:line(1))
    assert.matches("^second", sc:line(2))
    local row = sc:cursor()
    assert.are.equal(1, row)
    s:send(":q!\r")
    s:expect(dpty.EOF)
  end)

  it("20 sessions at once from tasks", function()
    local tasks = {}
    for i = 1, 20 do
      tasks[i] = dpty.go(function()
        local s <close> = shell()
        s:expect("rig$ ", 30)
        s:sendline("echo n=$((" .. i .. "*3))")
        s:expect("n=" .. i * 3, 30)
        s:sendline("exit " .. i)
        s:expect(dpty.EOF, 30)
        return s:wait()
      end)
    end
    local results = dpty.wait_all(tasks)
    for i = 1, 20 do assert.are.equal(i, results[i][1]) end
  end)
end)

describe("rig scripts", function()
  after_each(function() T.cleanup() end)

  for _, ex in ipairs { { "rig-shell.lua" }, { "rig-screen.lua" }, { "rig-parallel.lua", "12" } } do
    it("examples/" .. ex[1] .. " passes", function()
      local out, err, code = T.sh("DPTY_TEST_RUN=" .. T.run .. " " .. T.quote(T.bin()) .. " --no-config examples/"
        .. ex[1] .. " " .. (ex[2] or ""))
      assert.are.equal(0, code, err)
      assert.matches("ok\n$", out)
    end)
  end

  it("a failing expectation exits non-zero with the report", function()
    local path = os.tmpname() .. ".lua"
    local f = assert(io.open(path, "w"))
    f:write(([[
      local dpty = require "dpty"
      local docker = dpty.docker()
      local id = assert(docker:create { Image = "busybox", Cmd = { "sh" }, Tty = true, OpenStdin = true,
        Labels = { ["dpty.test"] = %q }, HostConfig = { NetworkMode = "none", AutoRemove = true } })
      local s <close> = assert(dpty.attach(docker, id, { kill_on_close = true }))
      assert(s:start())
      s:sendline("echo something-else")
      s:expect("the-expected-text", 1)
    ]]):format(T.run))
    f:close()
    local _, err, code = T.sh(T.quote(T.bin()) .. " --no-config " .. path)
    assert.are.equal(1, code)
    assert.matches(path:gsub("%p", "%%%0") .. ":8: expect: timed out", err)
    assert.matches('"the-expected-text"', err, 1, true)
    assert.matches("something-else", err, 1, true)
    assert.matches("waited 1.0 s of a 1 s timeout", err, 1, true)
    -- the failed rig's container did not outlive it
    local gone = false
    for _ = 1, 50 do
      if #T.containers() == 0 then gone = true break end
      os.execute("sleep 0.1")
    end
    assert.is_true(gone, "the failed rig left its container running")
    os.remove(path)
  end)
end)
