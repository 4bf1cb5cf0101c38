-- core.regex: POSIX extended regular expressions (regcomp/regexec with REG_STARTEND).
local core = require "dpty.core"

local function found(re, subject, ...)
  return table.pack(re:find(subject, ...))
end

describe("core.regex", function()
  it("finds like string.find: 1-based inclusive positions, then the captures", function()
    local re = core.regex("([a-z]+)=([0-9]+)")
    assert.are.same({ 5, 10, "abc", "42", n = 4 }, found(re, "xx, abc=42;"))
    assert.are.same({ n = 1 }, found(re, "no pairs here"))
    assert.are.equal(2, re:groups())
  end)

  it("gives an empty match an end one before its start, as string.find does", function()
    local re = core.regex("x*")
    assert.are.same({ string.find("abc", "x*") }, { re:find("abc") })
    assert.are.same({ 4, 3 }, { re:find("abc", 4) })
    assert.are.same({ string.find("abc", "x*", 4) }, { re:find("abc", 4) })
    assert.is_nil(re:find("abc", 5))
    assert.is_nil(string.find("abc", "x*", 5))
  end)

  it("gives nil for a group that took no part in the match", function()
    local re = core.regex("(a)|(b)")
    assert.are.same({ 2, 2, nil, "b", n = 4 }, found(re, "xb"))
    assert.are.same({ 1, 1, "a", nil, n = 4 }, found(re, "ab"))
    assert.are.same({ 1, 1, "", n = 3 }, found(core.regex("a(x*)"), "ab"))
  end)

  it("returns every capture of a regex with many groups", function()
    local re = core.regex(("(.)"):rep(20))
    local subject = "abcdefghijklmnopqrstuvwxyz"
    local r = found(re, subject, 3)
    assert.are.equal(22, r.n)
    assert.are.equal(3, r[1])
    assert.are.equal(22, r[2])
    for i = 1, 20 do assert.are.equal(subject:sub(i + 2, i + 2), r[i + 2]) end
  end)

  it("is leftmost-longest (POSIX), not leftmost-first", function()
    assert.are.same({ 1, 2 }, { core.regex("a|ab"):find("abc") })
    assert.are.same({ 2, 5 }, { core.regex("b+|bbb"):find("abbbb") })
  end)

  it("starts at init, counting a negative init from the end", function()
    local re = core.regex("[0-9]+")
    assert.are.same({ 1, 2 }, { re:find("12ab34") })
    assert.are.same({ 5, 6 }, { re:find("12ab34", 3) })
    assert.are.same({ 6, 6 }, { re:find("12ab34", -1) })
    assert.are.same({ 1, 2 }, { re:find("12ab34", -100) })
    assert.are.same({ 2, 2 }, { re:find("12ab34", 2) }) -- a match may start inside a number
  end)

  describe("^ and REG_NOTBOL", function()
    it("matches ^ at the beginning of the subject only", function()
      local re = core.regex("^a")
      assert.are.same({ 1, 1 }, { re:find("aaa") })
      assert.is_nil(re:find("aaa", 2))
      assert.is_nil(re:find("ba"))
      assert.is_nil(re:find("b\na", 3))
    end)

    it("matches ^ after a newline with flag n, also from init > 1", function()
      local re = core.regex("^a", "n")
      assert.are.same({ 3, 3 }, { re:find("b\na") })
      assert.are.same({ 3, 3 }, { re:find("b\na", 2) })
      assert.are.same({ 3, 3 }, { re:find("b\na", 3) })
      assert.is_nil(re:find("ba", 2))
    end)

    it("takes the text to begin at first: ^ matches there, positions count from the subject", function()
      local re = core.regex("^(b+)")
      assert.are.same({ 3, 4, "bb" }, { re:find("abbb", 3, 3) })
      assert.is_nil(re:find("abbb", 4, 3)) -- init past first: REG_NOTBOL
      assert.are.same({ 2, 4, "bbb" }, { re:find("abbb", nil, 2) })
      assert.are.same({ 2, 4, "bbb" }, { re:find("abbb", 1, 2) }) -- init before first counts as first
      -- nothing before first is seen: a word boundary is a boundary there
      assert.are.same({ 3, 4 }, { core.regex("\\<bb"):find("abbb", 3, 3) })
      assert.is_nil(core.regex("\\<bb"):find("abbb", 3))
    end)

    it("matches $ at the end of the subject, and before newlines with flag n", function()
      assert.are.same({ 2, 2 }, { core.regex("b$"):find("ab") })
      assert.is_nil(core.regex("b$"):find("ab\ncd"))
      assert.are.same({ 2, 2 }, { core.regex("b$", "n"):find("ab\ncd") })
    end)
  end)

  describe("NUL bytes", function()
    it("searches subjects that hold NUL bytes, and returns captures with them", function()
      assert.are.same({ 4, 4 }, { core.regex("b"):find("a\0\0b") })
      assert.are.same({ 1, 5, "\0\0\0" }, { core.regex("a([^x]*)b"):find("a\0\0\0b") })
      assert.are.same({ 3, 5 }, { core.regex("x[0-9]+"):find("\0\0x12\0", 2) })
    end)

    it("does not match NUL with . (glibc's POSIX syntax), but with [^...]", function()
      assert.is_nil(core.regex("a.b"):find("a\0b"))
      assert.are.same({ 1, 3 }, { core.regex("a[^x]b"):find("a\0b") })
    end)

    it("refuses a NUL byte in the pattern, saying so", function()
      local ok, err = pcall(core.regex, "a\0b")
      assert.is_false(ok)
      assert.matches('bad regex "a\\x00b": contains a NUL byte', err, 1, true)
    end)
  end)

  it("ignores case with flag i", function()
    assert.are.same({ 2, 4 }, { core.regex("abc", "i"):find("xAbC") })
    assert.is_nil(core.regex("abc"):find("xAbC"))
    assert.are.same({ 1, 1 }, { core.regex("[a-c]", "in"):find("B") })
  end)

  it("refuses an unknown flag", function()
    local ok, err = pcall(core.regex, "a", "x")
    assert.is_false(ok)
    assert.matches("unknown flag 'x'", err, 1, true)
  end)

  it("names the pattern in regerror's message when the pattern is bad", function()
    for _, p in ipairs { "a(", "[z-a]", "x{2,1}", "*a", "a{1", "[[:foo:]]" } do
      local ok, err = pcall(core.regex, p)
      if ok then error("compiled: " .. p) end
      assert.matches('bad regex "' .. p .. '": ', err, 1, true)
      assert.is_true(#err > #('bad regex "' .. p .. '": ') + 3, err)
    end
    local _, err = pcall(core.regex, "\t(\"")
    assert.matches('bad regex "\\t(\\"": ', err, 1, true)
  end)

  it("searches a large subject without copying it", function()
    local subject = ("a"):rep(1024 * 1024) .. "XYZ" .. ("b"):rep(100)
    assert.are.same({ 1024 * 1024 + 1, 1024 * 1024 + 3 }, { core.regex("X[A-Z]+"):find(subject) })
    assert.are.same({ 1024 * 1024 + 1, 1024 * 1024 + 3 }, { core.regex("XYZ"):find(subject, 1024 * 1024) })
  end)

  it("closes once, through __close or __gc, and refuses use after", function()
    local re = core.regex("a")
    do
      local r <close> = re
      assert.are.same({ 1, 1 }, { r:find("a") })
    end
    local ok, err = pcall(re.find, re, "a")
    assert.is_false(ok)
    assert.matches("attempt to use a closed regex", err, 1, true)
    local mt = getmetatable(re)
    mt.__gc(re)
    mt.__close(re)
    assert.are.equal('dpty.regex "a" (closed)', tostring(re))
    assert.are.equal('dpty.regex "x\\ny"', tostring(core.regex("x\ny")))
  end)

  it("checks its arguments", function()
    local re = core.regex("a")
    assert.has_error(function() re:find() end)
    assert.has_error(function() re.find({}, "a") end)
    assert.has_error(function() core.regex() end)
  end)
end)
