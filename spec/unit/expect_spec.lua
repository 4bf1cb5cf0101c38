-- dpty.expect: pattern kinds, the stream buffer and its search, the failure report.
-- Pure logic, no engine.
local E = require "dpty.expect"

local function buffer_with(window, ...)
  local b = E.buffer(window)
  for _, chunk in ipairs { ... } do b:push(chunk) end
  return b
end

describe("expect patterns", function()
  it("normalizes a single pattern or a list; a plain string is its exact text", function()
    local one = E.normalize("login: ")
    assert.are.equal(1, #one)
    assert.are.equal("text", one[1].kind)
    assert.are.equal("login: ", one[1].source)
    local p, r = E.pat("%d+"), E.re("[0-9]+")
    local list = E.normalize { "a.b", p, r, E.EOF, E.TIMEOUT }
    assert.are.equal(5, #list)
    assert.are.equal("text", list[1].kind)
    assert.are.equal(p, list[2])
    assert.are.equal(r, list[3])
    assert.are.equal(E.EOF, list[4]) -- the sentinels stay themselves: callers look for them
    assert.are.equal(E.TIMEOUT, list[5])
    assert.are.equal(E.EOF, E.normalize(E.EOF)[1])
    assert.are.equal(list, E.normalize(list))
  end)

  it("describes each kind as a report lists it", function()
    assert.are.equal('"login: "', tostring(E.normalize("login: ")[1]))
    assert.are.equal('pat "%$ $"', tostring(E.pat "%$ $"))
    assert.are.equal('re "^[a-z]+\\\\d"', tostring(E.re "^[a-z]+\\d"))
    assert.are.equal('re "x" (flags "in")', tostring(E.re("x", "ni")))
    assert.are.equal('"a\\r\\n\\"q\\""', tostring(E.normalize('a\r\n"q"')[1]))
    assert.are.equal("dpty.EOF", tostring(E.EOF))
    assert.are.equal("dpty.TIMEOUT", tostring(E.TIMEOUT))
    assert.has_error(function() E.EOF.kind = "x" end)
  end)

  it("refuses what is not a pattern, naming the entry", function()
    local function err_of(...)
      local ok, err = pcall(E.normalize, ...)
      assert.is_false(ok)
      return err
    end
    assert.matches("pattern #2 is a number", err_of { "a", 3 }, 1, true)
    assert.matches("pattern #1 is a table that is no pattern", err_of { {} }, 1, true)
    assert.matches("no patterns given", err_of {}, 1, true)
    assert.matches("has a key 3 besides 1..1 (a nil in the list?)", err_of { "a", nil, "c" }, 1, true)
    assert.matches("patterns must be a pattern or a list of them, got a number", err_of(42), 1, true)
  end)

  it("raises a bad pattern where it is written, naming it", function()
    local line = debug.getinfo(1, "l").currentline
    local ok, err = pcall(function() local p = E.pat "(%d+"; return p end)
    assert.is_false(ok)
    assert.are.equal(('spec/unit/expect_spec.lua:%d: bad Lua pattern "(%%d+": unfinished capture'):format(line + 1), err)
    ok, err = pcall(function() local r = E.re "a("; return r end)
    assert.is_false(ok)
    assert.are.equal(('spec/unit/expect_spec.lua:%d: bad regex "a(": Unmatched ( or \\('):format(line + 4), err)
    ok, err = pcall(function() local r = E.re("a", "x"); return r end)
    assert.is_false(ok)
    assert.matches('expect_spec.lua:%d+: dpty.re: unknown flag "x"', err)
  end)

  it("finds malformed Lua patterns that string.find would only meet while matching", function()
    for p, msg in pairs {
      ["a[b"] = "malformed pattern (missing ']')",
      ["ab%"] = "malformed pattern (ends with '%')",
      ["x(y"] = "unfinished capture",
      ["x)"] = "invalid pattern capture",
      ["x%1"] = "invalid capture index %1",
      ["(x%1)"] = "invalid capture index %1",
      ["x%b("] = "malformed pattern (missing arguments to '%b')",
      ["x%fa"] = "missing '[' after '%f' in pattern",
      ["x" .. ("()"):rep(33)] = "too many captures",
    } do
      local ok, err = pcall(E.pat, p)
      assert.is_false(ok, p)
      assert.matches(msg, err, 1, true)
      -- Lua agrees once the match reaches that far
      local lua_ok, lua_err = pcall(string.find, "x" .. ("x"):rep(3), p)
      if not lua_ok then assert.matches(msg, lua_err, 1, true) end
    end
    for _, p in ipairs { "[]]", "[^]]x", "%]", "a$b", "^^", "%b()", "%f[%w]x", "(a)%1", "()", "[%]]" } do
      assert.has_no.errors(function() E.pat(p) end, p)
    end
  end)

  it("bounds the match length of a Lua pattern when it can", function()
    local info = E._lua_pattern_info
    for p, want in pairs {
      ["abc"] = 3, ["a?b"] = 2, ["%d%d%d"] = 3, ["[abc]x"] = 2, ["[]x]y"] = 2, ["%]"] = 1, ["(a)(b)()"] = 2,
      ["%f[%w]ab"] = 2, ["x$"] = 1, ["^ab"] = 2, ["a*"] = false, ["a+"] = false, ["a-b"] = false,
      ["%b()"] = false, ["(a)%1"] = false, ["a.b"] = 3, ["%$ $"] = 2,
    } do
      local anchored, len = info(p)
      assert.are.equal(p:sub(1, 1) == "^", anchored, p)
      assert.are.equal(want or nil, len, p)
    end
  end)

  it("bounds the match length of a regex when it can, 16 bytes a character", function()
    local len = E._regex_maxlen
    for p, want in pairs {
      ["abc"] = 48, ["a{2,3}"] = 48, ["a{3}"] = 48, ["a{,3}"] = 48, ["(ab|c){2}"] = 64, ["[]a]x"] = 32,
      ["[[:alpha:]]"] = 16, ["x?y"] = 32, ["^a$"] = 16, ["\\$ $"] = 32, ["a{0}"] = 0, ["(a*){0}"] = 0,
      ["a{1,2}{3}"] = 96, ["[\\]x"] = 32, ["()"] = 0,
      ["a*"] = false, ["a+"] = false, ["a{2,}"] = false, ["(a|b)+"] = false, ["(a)\\1"] = false,
      ["[[.a.]]"] = false, ["a)"] = false,
    } do
      assert.are.equal(want or nil, len(p), p)
    end
  end)
end)

describe("expect buffer", function()
  it("finds plain text: before, text, captures, stream positions", function()
    local b = buffer_with(nil, "Welcome\r\nlogin: ")
    local i, m = b:search { "login: " }
    assert.are.equal(1, i)
    assert.are.same({ before = "Welcome\r\n", text = "login: ", captures = { n = 0 }, start = 10, stop = 16 }, m)
    assert.are.equal("", b:pending())
  end)

  it("finds a Lua pattern: string captures, and position captures as stream positions", function()
    local b = buffer_with(nil, "xx", "total 42 files")
    local i, m = b:search(E.pat "total (%d+)() (%a+)")
    assert.are.equal(1, i)
    assert.are.equal("xx", m.before)
    assert.are.equal("total 42 files", m.text)
    assert.are.same({ "42", 11, "files", n = 3 }, m.captures)
    assert.are.same({ 3, 16 }, { m.start, m.stop })
    b:push("..()..")
    local _, m2 = b:search(E.pat "()%(%)()")
    assert.are.same({ 19, 21, n = 2 }, m2.captures)
  end)

  it("finds a regex: captures, nil for a group that took no part", function()
    local b = buffer_with(nil, "exit status: 3\n")
    local i, m = b:search(E.re "(exit|quit)( code)? status: ([0-9]+)")
    assert.are.equal(1, i)
    assert.are.same({ "exit", nil, "3", n = 3 }, m.captures)
    assert.are.equal("exit status: 3", m.text)
    assert.are.equal("\n", b:pending())
  end)

  it("chooses the match that starts earliest in the stream, across kinds", function()
    local list = { "world", E.pat "o w", E.re "l+o" }
    local i, m = buffer_with(nil, "hello world"):search(list)
    assert.are.equal(3, i)
    assert.are.equal("llo", m.text)
    assert.are.equal("he", m.before)
    i = buffer_with(nil, "hexo world"):search(list)
    assert.are.equal(2, i)
  end)

  it("breaks ties by the order of the list", function()
    local data = "hello there"
    assert.are.equal(1, (buffer_with(nil, data):search { E.re "hel+", "hello", E.pat "h%a+" }))
    assert.are.equal(1, (buffer_with(nil, data):search { "hello", E.pat "h%a+", E.re "hel+" }))
    local i, m = buffer_with(nil, data):search { E.pat "h%a+", E.re "hel+", "hello" }
    assert.are.equal(1, i)
    assert.are.equal("hello", m.text)
    -- a later entry that starts at the same place does not win, even if longer
    i, m = buffer_with(nil, data):search { "he", "hello there" }
    assert.are.same({ 1, "he" }, { i, m.text })
  end)

  it("consumes through the match: the next search starts after it", function()
    local b = buffer_with(nil, "a=1 a=2 a=3")
    local texts = {}
    for _ = 1, 3 do
      local _, m = b:search(E.pat "a=(%d)")
      texts[#texts + 1] = m.before .. "|" .. m.captures[1]
    end
    assert.are.same({ "|1", " |2", " |3" }, texts)
    assert.is_nil(b:search(E.pat "a=(%d)"))
    assert.is_nil(b:search { "a=1", E.re "a=[0-9]" })
    b:push(" a=4")
    local i, m = b:search { "a=1", E.re "a=[0-9]" }
    assert.are.same({ 2, " ", "a=4", 13, 15 }, { i, m.before, m.text, m.start, m.stop })
  end)

  it("finds matches that span pushes, byte by byte, for every kind", function()
    for _, pattern in ipairs { "login: ", E.pat "lo%a+: ", E.re "lo[a-z]+: ", E.pat "lo.-: ", E.re "lo.*: " } do
      local b = E.buffer()
      local data = "Welcome!\r\nlogin: "
      local found
      for k = 1, #data do
        b:push(data:sub(k, k))
        local i, m = b:search { "NOPE", pattern }
        if i then
          assert.is_nil(found, tostring(pattern))
          found = { k, i, m.before, m.text }
        end
      end
      assert.are.same({ #data, 2, "Welcome!\r\n", "login: " }, found, tostring(pattern))
    end
  end)

  it("sees a boundary that only the next byte settles (%f, \\<, \\B)", function()
    local b = buffer_with(nil, "foo ")
    local list = { E.pat "foo %f[%w]", E.re "foo \\<" }
    assert.is_nil(b:search(list))
    b:push("x")
    local i, m = b:search(list)
    assert.are.same({ 1, "foo " }, { i, m.text })
    b = buffer_with(nil, "foo")
    assert.is_nil(b:search { E.re "foo\\B" })
    b:push("x")
    assert.are.equal(1, (b:search { E.re "foo\\B" }))
  end)

  it("passes over EOF and TIMEOUT (the caller handles them)", function()
    local b = buffer_with(nil, "abc")
    assert.is_nil(b:search { E.EOF, E.TIMEOUT })
    local i, m = b:search { E.EOF, "b", E.TIMEOUT }
    assert.are.same({ 2, "b" }, { i, m.text })
  end)

  describe("^ and $", function()
    it("anchors ^ at the first unconsumed byte", function()
      local b = buffer_with(nil, "$ ls\r\nfoo\r\n$ ")
      assert.is_nil(b:search { E.pat "^foo", E.re "^foo" })
      assert.are.equal(1, (b:search { E.pat "^%$ " }))
      assert.is_nil(b:search { E.pat "^foo", E.re "^foo" })
      assert.are.equal(1, (b:search { "\r\n" }))
      assert.are.equal(2, (b:search { E.pat "^x", E.re "^foo" }))
      assert.are.equal(1, (b:search { "\r\n" }))
      assert.are.equal(1, (b:search { E.pat "^%$ $" }))
    end)

    it("matches a regex's ^ after every newline with flag n", function()
      local b = buffer_with(nil, "ab\ncd\nef")
      local i, m = b:search { E.re("^c", "n") }
      assert.are.same({ 1, "ab\n", 4 }, { i, m.before, m.start })
      assert.is_nil(b:search { E.re "^e" })
      i, m = b:search { E.re("^e", "n") }
      assert.are.same({ 1, 7 }, { i, m.start })
    end)

    it("matches $ at the end of what arrived so far, and before newlines with flag n", function()
      local b = buffer_with(nil, "foo")
      local i, m = b:search { E.pat "o$" }
      assert.are.same({ 1, 3 }, { i, m.start })
      b:push("bar\nbaz")
      assert.are.equal(2, (b:search { E.re "ar$", E.re "az$" }))
      b = buffer_with(nil, "bar\nbaz")
      assert.are.equal(1, (b:search { E.re("ar$", "n"), E.re "az$" }))
    end)
  end)

  describe("the search window", function()
    it("keeps the unconsumed text within the window, counting what it discards", function()
      local b = buffer_with(8, "xxabc", "defxxx")
      assert.are.equal("bcdefxxx", b:pending())
      assert.are.equal(3, b.discarded)
      assert.are.equal("xxabcdefxxx", b:tail()) -- the tail keeps 512 bytes whatever the window
    end)

    it("does not report a match that straddles the discarded bytes", function()
      local b = buffer_with(8, "xxabc", "defxxx")
      assert.is_nil(b:search { "abcdef", E.pat "a%a+f", E.re "abc[a-z]+" })
      local i, m = b:search { "abcdef", E.pat "a%a+f", E.re "[a-z]cdef" }
      assert.are.same({ 3, "", "bcdef", 4, 8 }, { i, m.before, m.text, m.start, m.stop })
    end)

    it("does not match ^ where bytes were discarded rather than matched", function()
      local b = buffer_with(4, "abcdef")
      assert.are.equal("cdef", b:pending())
      assert.is_nil(b:search { E.pat "^cd", E.re "^cd" })
      assert.are.equal(1, (b:search { E.pat "cd" }))
      b = buffer_with(2, "ab\ncd")
      assert.is_nil(b:search { E.re "^c" })
      assert.are.equal(1, (b:search { E.re("^c", "n") })) -- the newline before is still known
    end)

    it("keeps the last window bytes of a push larger than the window", function()
      local b = buffer_with(16, ("a"):rep(100) .. "needle" .. ("b"):rep(10))
      assert.are.equal(16, #b:pending())
      assert.are.equal(100, b.discarded)
      assert.are.same({ 101, 106 }, { select(2, b:search { "needle" }).start, 106 })
    end)

    it("stays bounded in memory however much arrives", function()
      local b = E.buffer(1024)
      local chunk = ("0123456789abcdef"):rep(64)
      for _ = 1, 1000 do
        b:push(chunk)
        assert.is_nil(b:search { "NEVER", E.pat "NEVER%d+", E.re "NEVER[0-9]+" })
        assert.is_true(#b.data <= 1025)
        assert.is_true(#b:pending() <= 1024)
      end
      assert.are.equal(1024 * 1000 - 1024, b.discarded)
      assert.are.equal(1024 * 1000, b:total())
    end)

    it("refuses a window that is not a positive integer", function()
      assert.has_error(function() E.buffer(0) end)
      assert.has_error(function() E.buffer(1.5) end)
      assert.has_error(function() E.buffer("big") end)
    end)
  end)

  describe("NUL bytes", function()
    it("are ordinary bytes in the data, in plain strings and in Lua patterns", function()
      local b = buffer_with(nil, "a\0b\0\0c", "\0x")
      local i, m = b:search { "\0\0c\0" }
      assert.are.same({ 1, "a\0b", "\0\0c\0", 4 }, { i, m.before, m.text, m.start })
      b = buffer_with(nil, "k=\0\1\0;")
      i, m = b:search { E.pat "=([\0\1]+);" }
      assert.are.equal(1, i)
      assert.are.same({ "\0\1\0", n = 1 }, m.captures)
    end)

    it("are matched by a regex's bracket expressions", function()
      local i, m = buffer_with(nil, "<\0\0>"):search { E.re "<([^>]*)>" }
      assert.are.same({ 1, "\0\0" }, { i, m.captures[1] })
      local ok, err = pcall(E.re, "a\0")
      assert.is_false(ok)
      assert.matches("contains a NUL byte", err, 1, true)
    end)
  end)

  it("tells the tail, the unconsumed text, and takes it all", function()
    local b = buffer_with(nil, ("x"):rep(600), "end")
    assert.are.equal(("x"):rep(509) .. "end", b:tail())
    assert.are.equal("xend", b:tail(4))
    assert.are.equal("", b:tail(0))
    b:search { "xxe" }
    assert.are.equal("nd", b:pending())
    assert.are.equal("xend", b:tail(4)) -- consumed bytes stay in the tail
    assert.are.equal("nd", b:take_all())
    assert.are.equal("", b:pending())
    assert.is_nil(b:search { "nd" })
    b:push("!")
    assert.are.same({ 1, "" }, { b:search { E.pat "^!" } and 1, b:pending() })
  end)

  it("ignores empty pushes and refuses what is not a string", function()
    local b = buffer_with(nil, "ab", "")
    assert.are.equal("ab", b:pending())
    assert.has_error(function() b:push(12) end)
  end)

  it("resumes a bounded search near the new bytes, and skips it when nothing arrived", function()
    -- a regex that reports where each search starts
    local m = E.re "NEVER[0-9]{2}"
    local inits, real = {}, m.regex
    m.regex = { find = function(_, data, init, first)
      inits[#inits + 1] = init
      return real:find(data, init, first)
    end }
    local b = E.buffer()
    b:push(("x"):rep(1000))
    assert.is_nil(b:search { m })
    assert.is_nil(b:search { m })
    assert.are.same({ 1 }, inits) -- nothing new: not searched again
    b:push(("x"):rep(10))
    assert.is_nil(b:search { m })
    assert.are.same({ 1, 1000 + 1 - 7 * 16 }, inits) -- 7 characters of at most 16 bytes
    b:push("NEVER42")
    local i, found = b:search { m }
    assert.are.same({ 1, "NEVER42" }, { i, found.text })
    assert.are.equal(1010 + 1 - 7 * 16, inits[3])
  end)

  -- The resumed search must find exactly what a search over the whole unconsumed text finds.
  it("resumes a search with the same results as searching everything again", function()
    local pool = {
      "abc", "c\n", "", E.pat "a%d+", E.pat "b.c", E.pat "%f[%a]ab", E.pat "c$", E.pat "^ab",
      E.pat "a%d?b", E.pat "(a)%1", E.pat "b[^\n]-c", E.re "a[0-9]{1,3}", E.re "(ab|c)c",
      E.re "b$", E.re("^c", "n"), E.re "\\<ab", E.re "a.*c", E.re "1\\B", E.re("c$", "n"),
      E.re "(a|b)+1", E.re "ab?c{2}",
    }
    local alphabet = { "a", "b", "c", "1", "2", " ", "\n", "ab", "abc" }
    math.randomseed(20240601)
    local searches, matches = 0, 0
    for _ = 1, 300 do
      local window = math.random(4, 40)
      local fast, slow = E.buffer(window), E.buffer(window)
      slow.resume = false
      for _ = 1, 40 do
        local chunk = {}
        for k = 1, math.random(0, 6) do chunk[k] = alphabet[math.random(#alphabet)] end
        chunk = table.concat(chunk)
        fast:push(chunk)
        slow:push(chunk)
        local list = {}
        for k = 1, math.random(1, 3) do list[k] = pool[math.random(#pool)] end
        list = E.normalize(list)
        local fi, fm = fast:search(list)
        local si, sm = slow:search(list)
        searches = searches + 1
        if si then matches = matches + 1 end
        assert.are.same({ si, sm }, { fi, fm })
        assert.are.equal(slow:pending(), fast:pending())
      end
    end
    assert.is_true(matches > searches / 10 and matches < searches, ("%d of %d"):format(matches, searches))
  end)
end)

describe("expect.visible", function()
  it("makes control characters visible and leaves text alone", function()
    assert.are.equal("plain text, é ü ✓", E.visible("plain text, é ü ✓"))
    assert.are.equal("a\\r\\n\\t\\x1b[1mb\\x1b[0m", E.visible("a\r\n\t\27[1mb\27[0m"))
    assert.are.equal("\\x00\\x01\\x07\\x08\\x7f", E.visible("\0\1\7\8\127"))
    assert.are.equal("C:\\\\dir", E.visible("C:\\dir"))
  end)

  it("shows bytes that are not UTF-8 text as \\xNN", function()
    assert.are.equal("\\xff\\xfe", E.visible("\255\254"))
    assert.are.equal("x\\xc3", E.visible("x\xc3")) -- a character cut short
    assert.are.equal("\\xc0\\xaf", E.visible("\xc0\xaf")) -- overlong
    assert.are.equal("\\xed\\xa0\\x80", E.visible("\xed\xa0\x80")) -- a surrogate
    assert.are.equal("é\\x80", E.visible("é\x80")) -- a stray continuation byte
    assert.are.equal("\\xc2\\x85", E.visible("\xc2\x85")) -- a C1 control (NEL)
    assert.are.equal("\\xc2\\x9b[1m", E.visible("\xc2\x9b[1m")) -- CSI
  end)
end)

describe("expect.report", function()
  it("lists the patterns, the time waited, the screen and the visible tail", function()
    local text = E.report {
      patterns = { "login: ", E.pat "%$ $", E.re("^[a-z]+@", "n"), E.EOF },
      reason = "timeout", waited = 10.02, timeout = 10,
      screen = "Welcome   \n$ ls      \nfoo  bär  \n          \n          \n",
      tail = "Welcome\r\n$ ls\r\nfoo  b\xc3\xa4r\r\n\27[1m$\27[0m ",
    }
    assert.are.equal(table.concat({
      "expect: timed out before any pattern matched",
      "patterns:",
      '  1. "login: "',
      '  2. pat "%$ $"',
      '  3. re "^[a-z]+@" (flags "n")',
      "  4. dpty.EOF",
      "waited 10.0 s of a 10 s timeout",
      "screen:",
      "  +--------+",
      "  |Welcome |",
      "  |$ ls    |",
      "  |foo  bär|",
      "  +--------+",
      "  (and 2 blank rows below)",
      "last 36 bytes of output (control characters made visible):",
      '  "Welcome\\r\\n"',
      '  "$ ls\\r\\n"',
      '  "foo  bär\\r\\n"',
      '  "\\x1b[1m$\\x1b[0m "',
    }, "\n"), text)
  end)

  it("says when the output ended, when there was no timeout, screen or output", function()
    local text = E.report { patterns = E.normalize { "x" }, reason = "eof", waited = 0.25, timeout = 2.5, tail = "" }
    assert.are.equal(table.concat({
      "expect: the output ended (EOF) before any pattern matched",
      "patterns:",
      '  1. "x"',
      "waited 0.2 s of a 2.5 s timeout",
      "output: none",
    }, "\n"), text)
    text = E.report { patterns = "x", reason = "timeout", waited = 3, timeout = math.huge,
      tail = ("y"):rep(100), discarded = 70000, window = 65536 }
    assert.matches("waited 3.0 s (no timeout)", text, 1, true)
    assert.matches("70000 bytes of output were discarded unmatched (search window 65536 bytes)", text, 1, true)
    -- a long line is cut into pieces
    local ending = 'last 100 bytes of output (control characters made visible):\n  "' .. ("y"):rep(72)
      .. '"\n  "' .. ("y"):rep(28) .. '"'
    assert.are.equal(ending, text:sub(-#ending))
  end)
end)

describe("expect performance", function()
  it("searches 100 MB of endless output in 4 KiB chunks in linear time and bounded memory", function()
    local line = "lorem ipsum dolor sit amet, consectetur 0123456789 \27[1mbold\27[0m\r\n"
    local chunk = line:rep(math.ceil(4096 / #line)):sub(1, 4096)
    local total = 100 * 1024 * 1024
    -- one of each kind, none ever matching: plain, bounded and unbounded Lua patterns and regexes
    local list = E.normalize { "NEVER-MATCHES", E.pat "NEVER%d%d%d", E.re "NEVER[0-9]{3}",
      E.pat "NEVER%d+", E.re "NEVER[0-9]+" }
    local b = E.buffer()
    collectgarbage()
    collectgarbage()
    local base = collectgarbage("count")
    local peak = base
    local t0 = os.clock()
    for k = 1, total // #chunk do
      b:push(chunk)
      assert(b:search(list) == nil)
      if k % 256 == 0 then peak = math.max(peak, collectgarbage("count")) end
    end
    local cpu = os.clock() - t0
    io.stderr:write(("\n  expect performance: 100 MB in 4 KiB chunks, 5 patterns: %.2f s CPU (%.0f MB/s), "
      .. "Lua heap peak +%.0f KiB\n"):format(cpu, 100 / cpu, peak - base))
    assert.is_true(cpu < 30, ("took %.1f s"):format(cpu))
    assert.is_true(peak - base < 4096, ("heap grew by %.0f KiB"):format(peak - base))
    assert.is_true(#b.data <= 65537)
    assert.are.equal(total - 65536, b.discarded)
  end)
end)
