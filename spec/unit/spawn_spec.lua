-- The rig machinery on local programs (dpty.spawn, no engine): expect, the virtual screen,
-- keys, tasks, transcripts.
local dpty = require "dpty"

local function sh(opts)
  opts = opts or {}
  opts.env = opts.env or {}
  opts.env.PS1 = "$ "
  opts.env.LD_PRELOAD = false
  return assert(dpty.spawn({ "/bin/sh" }, opts))
end

describe("dpty.spawn", function()
  it("runs a command in a pty and gives its exit status", function()
    local s <close> = assert(dpty.spawn({ "/bin/sh", "-c", "echo hi; exit 3" }, { env = { LD_PRELOAD = false } }))
    s:expect("hi")
    s:expect(dpty.EOF)
    assert.are.equal(3, s:wait())
  end)

  it("reports a program that cannot be run", function()
    local s, err = dpty.spawn({ "/nonexistent/program" })
    assert.is_nil(s)
    assert.matches("/nonexistent/program", err)
  end)
end)

describe("expect", function()
  it("returns the earliest match of plain, pat and re patterns, with before/text/captures", function()
    local s <close> = sh()
    s:expect("$ ")
    s:sendline("echo alpha 42 beta")
    local i, m = s:expect({ "beta", dpty.pat("(%d+)"), dpty.re("al(ph)a") })
    assert.are.equal(3, i) -- "alpha" starts first
    assert.are.equal("alpha", m.text)
    assert.are.equal("ph", m.captures[1])
    i, m = s:expect({ "beta", dpty.pat("(%d+)") })
    assert.are.equal(2, i)
    assert.are.equal("42", m.captures[1])
    assert.are.equal(" ", m.before)
    s:sendline("exit")
    assert.are.equal(1, (s:expect({ dpty.EOF, "never" })))
  end)

  it("returns the index of dpty.TIMEOUT, or raises a report naming what was expected", function()
    local s <close> = sh()
    s:expect("$ ")
    s:sendline("printf 'tab\\there\\033[1m\\n'")
    s:expect("here")
    assert.are.equal(2, (s:expect({ "never", dpty.TIMEOUT }, 0.3)))
    local ok, err = pcall(s.expect, s, { "nope", dpty.pat("zz+") }, 0.3)
    assert.is_false(ok)
    assert.matches("timed out", err)
    assert.matches('"nope"', err, 1, true)
    assert.matches('pat "zz+"', err, 1, true)
    assert.matches("waited 0.3 s of a 0.3 s timeout", err, 1, true)
    assert.matches("\\x1b[1m", err, 1, true) -- the tail, control characters visible
    assert.matches("|$", err, 1, true)        -- the screen
  end)

  it("raises at EOF when the list does not name it", function()
    local s <close> = assert(dpty.spawn({ "/bin/sh", "-c", "echo bye" }, { env = { LD_PRELOAD = false } }))
    local ok, err = pcall(s.expect, s, "hello", 5)
    assert.is_false(ok)
    assert.matches("EOF", err)
  end)

  it("stays bounded and linear on endless output", function()
    local s <close> = assert(dpty.spawn({ "/bin/sh", "-c", "yes abcdefghij | head -c 20000000; echo; echo END-MARK" },
      { env = { LD_PRELOAD = false } }))
    local before = collectgarbage("count")
    local t0 = os.clock()
    s:expect("END-MARK", 60)
    assert.is_true(collectgarbage("count") - before < 20000, "Lua heap grew by " .. (collectgarbage("count") - before) .. " KiB")
    assert.is_true(os.clock() - t0 < 30)
  end)
end)

describe("the virtual screen", function()
  it("renders text, cursor and cell attributes", function()
    local s <close> = sh({ rows = 10, cols = 40 })
    s:expect("$ ")
    s:sendline("clear; printf '\\033[1;31mred\\033[0m plain\\n'")
    s:expect_screen(dpty.pat("red plain"))
    local sc = s:screen()
    local row
    for r = 1, 10 do if sc:line(r):find("red plain", 1, true) then row = r end end
    assert.is_number(row)
    local c = sc:cell(row, 1)
    assert.are.equal("r", c.char)
    assert.is_true(c.bold)
    assert.is_string(c.fg)
    assert.is_nil(sc:cell(row, 5).fg)
    local cr = sc:cursor()
    assert.is_true(cr > row)
  end)

  it("answers the program's cursor-position query while headless", function()
    local s <close> = sh()
    s:expect("$ ")
    -- ask for the cursor position and read the answer back
    s:sendline("stty -echo -icanon min 1; printf 'Q\\033[6n'; dd bs=1 count=6 2>/dev/null | od -c | head -1; stty sane")
    s:expect(dpty.pat("033%s+%[%s+%d"))
  end)

  it("sends keys encoded for the program's modes and resizes", function()
    local s <close> = sh({ rows = 24, cols = 80 })
    s:expect("$ ")
    s:sendline("stty -echo -icanon min 1; printf '\\033[?1h'; dd bs=1 count=3 2>/dev/null | od -c | head -1; stty sane")
    s:wait_quiet(200)
    s:key("up")
    s:expect(dpty.pat("033%s+O%s+A")) -- application cursor keys: ESC O A
    s:expect("$ ") -- the stty sane has run
    s:sendline("stty raw -echo; dd bs=1 count=4 2>/dev/null | od -An -c; stty sane")
    s:wait_quiet(200)
    s:key("ctrl-c")
    s:key("alt-x")
    s:key("DEL")
    s:expect(dpty.pat("003%s+033%s+x%s+177"))
    s:expect("$ ")
    s:resize(30, 100)
    s:sendline("stty size")
    s:expect("30 100")
    local rows, cols = s:screen():size()
    assert.are.equal(30, rows)
    assert.are.equal(100, cols)
  end)

  it("waits for the screen to settle", function()
    local s <close> = sh()
    s:expect("$ ")
    s:sendline("for i in 1 2 3; do echo tick$i; sleep 0.2; done")
    assert.is_true(s:wait_stable(500, 5))
    assert.matches("tick3", s:screen():text())
  end)
end)

describe("tasks", function()
  it("run sessions concurrently; wait_all returns results and re-raises errors", function()
    local t0 = os.time()
    local tasks = {}
    for i = 1, 5 do
      tasks[i] = dpty.go(function()
        local s <close> = assert(dpty.spawn({ "/bin/sh", "-c", "sleep 1; echo done" .. i }, { env = { LD_PRELOAD = false } }))
        s:expect("done" .. i)
        return i * 10
      end)
    end
    local results = dpty.wait_all(tasks)
    assert.is_true(os.time() - t0 <= 3, "tasks ran one after the other")
    for i = 1, 5 do assert.are.equal(i * 10, results[i][1]) end
    local bad = dpty.go(function() error("task failed here") end)
    local ok, err = pcall(dpty.wait_all, { bad })
    assert.is_false(ok)
    assert.matches("task failed here", err)
    assert.matches("stack traceback", err)
  end)

  it("expect_any returns the session that matched first", function()
    local slow <close> = assert(dpty.spawn({ "/bin/sh", "-c", "sleep 2; echo slow" }, { env = { LD_PRELOAD = false } }))
    local fast <close> = assert(dpty.spawn({ "/bin/sh", "-c", "sleep 0.2; echo fast" }, { env = { LD_PRELOAD = false } }))
    local s, i, m = dpty.expect_any({ { slow, "slow" }, { fast, "fast" } }, 5)
    assert.are.equal(fast, s)
    assert.are.equal(1, i)
    assert.are.equal("fast", m.text)
  end)

  it("dpty.sleep in a task lets the others run", function()
    local order = {}
    local a = dpty.go(function() dpty.sleep(0.3) order[#order + 1] = "a" end)
    local b = dpty.go(function() dpty.sleep(0.1) order[#order + 1] = "b" end)
    dpty.wait_all({ a, b })
    assert.are.same({ "b", "a" }, order)
  end)
end)

describe("transcripts", function()
  it("log tags directions with times; record writes asciicast v2", function()
    local log, cast = os.tmpname(), os.tmpname()
    local s <close> = sh()
    s:log(log)
    s:record(cast)
    s:expect("$ ")
    s:sendline("echo logged")
    s:expect("logged\r\n")
    s:sendline("exit")
    s:expect(dpty.EOF)
    s:close()
    local text = assert(io.open(log)):read("a")
    assert.matches("%d%d%d%d%-%d%d%-%d%dT[%d:.]+Z in echo logged\\r\n", text)
    assert.matches("Z out [^\n]*logged", text)
    local lines = {}
    for l in assert(io.open(cast)):lines() do lines[#lines + 1] = l end
    local cjson = require "cjson"
    local header = cjson.decode(lines[1])
    assert.are.equal(2, header.version)
    assert.are.equal(80, header.width)
    local ev = cjson.decode(lines[2])
    assert.are.equal("o", ev[2])
    assert.is_number(ev[1])
    os.remove(log)
    os.remove(cast)
  end)
end)
