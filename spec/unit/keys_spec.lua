-- core.keys_parse (docker's detach-key grammar) and core.keymatcher (the input-path matcher).
local core = require "dpty.core"

local GRAMMAR = "(docker's grammar: ctrl-a..ctrl-z, ctrl-@, ctrl-[, ctrl-\\, ctrl-], ctrl-^, "
  .. "ctrl-_, DEL or a single character, comma-separated)"

-- Joins adjacent "pass" events, so results compare independently of how bytes were chunked.
local function merged(events)
  local out = {}
  for _, e in ipairs(events) do
    local last = out[#out]
    if e[1] == "pass" and last and last[1] == "pass" then
      last[2] = last[2] .. e[2]
    else
      out[#out + 1] = { e[1], e[2] }
    end
  end
  return out
end

-- Feeds each chunk in turn; returns every event, merged.
local function feed_all(m, ...)
  local all = {}
  for _, chunk in ipairs { ... } do
    for _, e in ipairs(m:feed(chunk)) do all[#all + 1] = e end
  end
  return merged(all)
end

local function bytes_of(s)
  local t = {}
  for i = 1, #s do t[i] = s:sub(i, i) end
  return t
end

local function matcher(bindings)
  local m = core.keymatcher()
  for seq, id in pairs(bindings) do m:add(seq, id) end
  return m
end

describe("core.keys_parse", function()
  it("parses docker's default ctrl-p,ctrl-q to \\16\\17", function()
    assert.are.equal("\16\17", core.keys_parse("ctrl-p,ctrl-q"))
  end)

  it("maps ctrl-a .. ctrl-z to 0x01 .. 0x1A", function()
    for c = string.byte "a", string.byte "z" do
      assert.are.equal(string.char(c - 96), core.keys_parse("ctrl-" .. string.char(c)))
    end
  end)

  it("maps ctrl-@ ctrl-[ ctrl-\\ ctrl-] ctrl-^ ctrl-_ to 0x00 and 0x1B .. 0x1F", function()
    assert.are.equal("\0", core.keys_parse("ctrl-@"))
    assert.are.equal("\27", core.keys_parse("ctrl-["))
    assert.are.equal("\28", core.keys_parse("ctrl-\\"))
    assert.are.equal("\29", core.keys_parse("ctrl-]"))
    assert.are.equal("\30", core.keys_parse("ctrl-^"))
    assert.are.equal("\31", core.keys_parse("ctrl-_"))
  end)

  it("maps DEL to 0x7F", function()
    assert.are.equal("\127", core.keys_parse("DEL"))
  end)

  it("takes any single byte but NUL and the comma as itself", function()
    for b = 1, 255 do
      if b ~= string.byte "," then
        local c = string.char(b)
        assert.are.equal(c, core.keys_parse(c), "byte " .. b)
      end
    end
  end)

  it("takes single characters that look like tokens literally", function()
    assert.are.equal("q", core.keys_parse("q"))
    assert.are.equal("Z", core.keys_parse("Z"))
    assert.are.equal(" ", core.keys_parse(" "))
    assert.are.equal("-", core.keys_parse("-"))
  end)

  it("concatenates comma-separated tokens in order", function()
    assert.are.equal("\24x", core.keys_parse("ctrl-x,x"))
    assert.are.equal("a\0\127\27b", core.keys_parse("a,ctrl-@,DEL,ctrl-[,b"))
    assert.are.equal("\16\16\17", core.keys_parse("ctrl-p,ctrl-p,ctrl-q"))
  end)

  it("accepts 32 keys and rejects 33", function()
    local keys = {}
    for i = 1, 32 do keys[i] = "ctrl-a" end
    assert.are.equal(("\1"):rep(32), core.keys_parse(table.concat(keys, ",")))
    keys[33] = "b"
    local v, err = core.keys_parse(table.concat(keys, ","))
    assert.is_nil(v)
    assert.matches("longer than 32 keys", err, 1, true)
  end)

  describe("rejects", function()
    local function rejects(spec, expected)
      local v, err = core.keys_parse(spec)
      assert.is_nil(v, spec)
      assert.are.equal(expected, err)
    end

    it("an unknown token, naming it and the spec", function()
      rejects("ctrl-P,q", "unknown key 'ctrl-P' in \"ctrl-P,q\" " .. GRAMMAR)
    end)

    it("tokens in the wrong case", function()
      for _, tok in ipairs { "ctrl-P", "CTRL-p", "Ctrl-p", "del", "Del", "ctrl-A" } do
        rejects(tok, "unknown key '" .. tok .. "' in \"" .. tok .. "\" " .. GRAMMAR)
      end
    end)

    it("whitespace around tokens (no trimming)", function()
      rejects("ctrl-p, ctrl-q", "unknown key ' ctrl-q' in \"ctrl-p, ctrl-q\" " .. GRAMMAR)
      rejects("ctrl-p ", "unknown key 'ctrl-p ' in \"ctrl-p \" " .. GRAMMAR)
      rejects("a ,b", "unknown key 'a ' in \"a ,b\" " .. GRAMMAR)
    end)

    it("near misses of the ctrl- tokens", function()
      for _, tok in ipairs { "ctrl-", "ctrl-ab", "ctrl-1", "ctrl-{", "ctrl-?", "ctrl--", "ctrl",
        "ctl-a", "c-a", "^P", "DELETE", "DE", "ab" } do
        rejects(tok, "unknown key '" .. tok .. "' in \"" .. tok .. "\" " .. GRAMMAR)
      end
    end)

    it("a multi-byte character (one token must be one byte)", function()
      rejects("é", "unknown key '\\xC3\\xA9' in \"\\xC3\\xA9\" " .. GRAMMAR)
    end)

    it("the empty spec", function()
      rejects("", 'empty key spec "" ' .. GRAMMAR)
    end)

    it("empty tokens: doubled, leading and trailing commas, a lone comma", function()
      rejects("a,,b", 'empty key at offset 2 in "a,,b" ' .. GRAMMAR)
      rejects("ctrl-p,", 'empty key at offset 7 in "ctrl-p," ' .. GRAMMAR)
      rejects(",q", 'empty key at offset 0 in ",q" ' .. GRAMMAR)
      rejects(",", 'empty key at offset 0 in "," ' .. GRAMMAR)
    end)

    it("a spec with a NUL byte", function()
      local v, err = core.keys_parse("a\0b")
      assert.is_nil(v)
      assert.are.equal("key spec contains a NUL byte", err)
    end)

    it("a non-string argument with an error", function()
      assert.has_error(function() core.keys_parse({}) end)
      assert.has_error(function() core.keys_parse() end)
    end)
  end)

  it("escapes control bytes and shortens long specs in messages", function()
    local v, err = core.keys_parse("ctrl-p,\1\1")
    assert.is_nil(v)
    assert.are.equal("unknown key '\\x01\\x01' in \"ctrl-p,\\x01\\x01\" " .. GRAMMAR, err)
    v, err = core.keys_parse(("ctrl-a,"):rep(20) .. "bad")
    assert.is_nil(v)
    assert.matches("^unknown key 'bad' in \"ctrl%-a,[ctrl%-a,]*%.%.%.\" %(docker's grammar", err)
  end)
end)

describe("core.keymatcher", function()
  local DETACH = "\16\17" -- ctrl-p,ctrl-q

  it("passes everything through with no bindings", function()
    local m = core.keymatcher()
    assert.are.same({ { "pass", "hello\16\17" } }, m:feed("hello\16\17"))
    assert.are.equal(0, m:pending())
  end)

  it("returns no events for empty input", function()
    local m = matcher { [DETACH] = 1 }
    assert.are.same({}, m:feed(""))
    assert.are.same({}, m:flush())
  end)

  it("passes bytes that start no binding through in one event", function()
    local m = matcher { [DETACH] = 1 }
    assert.are.same({ { "pass", "ls -l\r" } }, m:feed("ls -l\r"))
  end)

  it("coalesces a released prefix with the bytes around it", function()
    local m = matcher { [DETACH] = 1 }
    assert.are.same({ { "pass", "abc\16xdef" } }, m:feed("abc\16xdef"))
    assert.are.equal(0, m:pending())
  end)

  it("matches a binding inside a chunk", function()
    local m = matcher { [DETACH] = 7 }
    assert.are.same({ { "pass", "ab" }, { "match", 7 } }, m:feed("ab\16\17"))
    assert.are.equal(0, m:pending())
  end)

  it("holds a prefix across feeds and matches on the next chunk", function()
    local m = matcher { [DETACH] = 1 }
    assert.are.same({ { "pass", "ab" } }, m:feed("ab\16"))
    assert.are.equal(1, m:pending())
    assert.are.same({ { "match", 1 } }, m:feed("\17"))
    assert.are.equal(0, m:pending())
  end)

  it("holds a long prefix over many one-byte feeds", function()
    local seq = "\24\25\26\27\28"
    local m = matcher { [seq] = 3 }
    for i = 1, #seq - 1 do
      assert.are.same({}, m:feed(seq:sub(i, i)))
      assert.are.equal(i, m:pending())
    end
    assert.are.same({ { "match", 3 } }, m:feed(seq:sub(-1)))
  end)

  it("delivers the held prefix with the byte that broke it", function()
    local m = matcher { [DETACH] = 1 }
    assert.are.same({}, m:feed("\16"))
    assert.are.same({ { "pass", "\16y" } }, m:feed("y"))
    assert.are.equal(0, m:pending())
  end)

  it("delivers a held prefix broken by the start of another attempt, and keeps that", function()
    local m = matcher { ["abc"] = 1 }
    assert.are.same({}, m:feed("ab"))
    assert.are.same({ { "pass", "ab" } }, m:feed("a"))
    assert.are.equal(1, m:pending())
    assert.are.same({ { "match", 1 } }, m:feed("bc"))
  end)

  it("matches ctrl-p ctrl-p ctrl-q (moby's proxy would not)", function()
    local m = matcher { [DETACH] = 1 }
    assert.are.same({ { "pass", "\16" }, { "match", 1 } }, m:feed("\16\16\17"))
    assert.are.same({ { "pass", "\16" }, { "match", 1 } }, feed_all(m, "\16", "\16", "\17"))
    assert.are.same({ { "pass", "\16\16\16" }, { "match", 1 } }, feed_all(m, "\16\16", "\16\16\17"))
  end)

  it("matches a,a,b on aaab and aaaab", function()
    local m = matcher { aab = 5 }
    assert.are.same({ { "pass", "a" }, { "match", 5 } }, m:feed("aaab"))
    assert.are.same({ { "pass", "aa" }, { "match", 5 } }, m:feed("aaaab"))
    assert.are.same({ { "pass", "a" }, { "match", 5 } }, feed_all(m, table.unpack(bytes_of "aaab")))
  end)

  it("leaves the bytes after a match to the caller, in order", function()
    local m = matcher { [DETACH] = 1 }
    assert.are.same({ { "pass", "x" }, { "match", 1 }, { "pass", "y" }, { "match", 1 }, { "pass", "z" } },
      m:feed("x\16\17y\16\17z"))
    assert.are.same({ { "match", 1 }, { "match", 1 } }, m:feed("\16\17\16\17"))
    assert.are.same({ { "match", 1 } }, m:feed("\16\17\16"))
    assert.are.equal(1, m:pending())
  end)

  it("tells apart bindings that share a prefix", function()
    local m = matcher { ["\16\17"] = 1, ["\16\18"] = 2, ["\16\19\20"] = 3 }
    assert.are.same({ { "match", 2 }, { "match", 1 } }, m:feed("\16\18\16\17"))
    assert.are.same({ { "pass", "a" }, { "match", 3 }, { "pass", "b" } }, m:feed("a\16\19\20b"))
    assert.are.same({ { "pass", "\16x\16\19y" } }, m:feed("\16x\16\19y"))
    assert.are.same({}, m:feed("\16\19"))
    assert.are.same({ { "match", 3 } }, m:feed("\20"))
  end)

  describe("longest match", function()
    it("waits while a longer binding may still follow", function()
      local m = matcher { ["\16"] = 1, ["\16\17"] = 2 }
      assert.are.same({}, m:feed("\16"))
      assert.are.equal(1, m:pending())
      assert.are.same({ { "match", 2 } }, m:feed("\17"))
    end)

    it("fires the shorter binding on a mismatch, then handles the byte", function()
      local m = matcher { ["\16"] = 1, ["\16\17"] = 2 }
      assert.are.same({}, m:feed("\16"))
      assert.are.same({ { "match", 1 }, { "pass", "x" } }, m:feed("x"))
      assert.are.same({ { "match", 1 }, { "match", 2 } }, m:feed("\16\16\17"))
    end)

    it("fires the longest complete binding and re-feeds the bytes held after it", function()
      local m = matcher { ab = 1, abcd = 2, c = 3 }
      assert.are.same({}, m:feed("abc"))
      assert.are.equal(3, m:pending())
      assert.are.same({ { "match", 1 }, { "match", 3 }, { "pass", "x" } }, m:feed("x"))
      assert.are.same({ { "match", 2 } }, m:feed("abcd"))
    end)

    it("fires on flush", function()
      local m = matcher { ["\16"] = 1, ["\16\17"] = 2 }
      assert.are.same({}, m:feed("\16"))
      assert.are.same({ { "match", 1 } }, m:flush())
      assert.are.equal(0, m:pending())
    end)

    it("prefers the longest of three nested bindings", function()
      local m = matcher { a = 1, ab = 2, abc = 3 }
      assert.are.same({ { "match", 3 } }, m:feed("abc"))
      assert.are.same({}, m:feed("ab"))
      assert.are.same({ { "match", 2 } }, m:feed("a")) -- the new "a" may start "abc" again
      assert.are.equal(1, m:pending())
      assert.are.same({ { "match", 1 } }, m:flush())
    end)
  end)

  describe("flush", function()
    it("emits a held prefix that matched nothing", function()
      local m = matcher { abc = 1 }
      assert.are.same({ { "pass", "x" } }, m:feed("xab"))
      assert.are.same({ { "pass", "ab" } }, m:flush())
      assert.are.equal(0, m:pending())
      assert.are.same({}, m:flush())
    end)

    it("fires a complete binding and then resolves the bytes held after it", function()
      local m = matcher { ab = 1, abcd = 2 }
      assert.are.same({}, m:feed("abc"))
      assert.are.same({ { "match", 1 }, { "pass", "c" } }, m:flush())
      assert.are.equal(0, m:pending())
    end)

    it("fires again on the bytes held after a first match", function()
      local m = matcher { ab = 1, abcd = 2, c = 3 }
      assert.are.same({}, m:feed("abc"))
      assert.are.same({ { "match", 1 }, { "match", 3 } }, m:flush())
    end)

    it("emits the first held byte and re-feeds the rest", function()
      local m = matcher { abc = 1, b = 2 }
      assert.are.same({}, m:feed("ab"))
      assert.are.same({ { "pass", "a" }, { "match", 2 } }, m:flush())
    end)

    it("leaves the matcher ready for more input", function()
      local m = matcher { [DETACH] = 1 }
      m:feed("\16")
      assert.are.same({ { "pass", "\16" } }, m:flush())
      assert.are.same({ { "match", 1 } }, m:feed("\16\17"))
    end)
  end)

  it("matches bindings with a NUL byte and of the maximum length", function()
    local long = ("\1\2\3\4"):rep(8)
    local m = matcher { ["\0q"] = 1, [long] = 2 }
    assert.are.same({ { "pass", "a" }, { "match", 1 } }, m:feed("a\0q"))
    assert.are.same({ { "match", 2 } }, m:feed(long))
    assert.are.same({}, m:feed(long:sub(1, 31)))
    assert.are.equal(31, m:pending())
    assert.are.same({ { "pass", long:sub(1, 31) .. "x" } }, m:feed("x"))
  end)

  it("replaces the id of a sequence added again", function()
    local m = matcher { [DETACH] = 1 }
    m:add(DETACH, 9)
    assert.are.same({ { "match", 9 } }, m:feed(DETACH))
  end)

  it("accepts bindings added while bytes are held", function()
    local m = matcher { abc = 1 }
    assert.are.same({}, m:feed("ab"))
    m:add("b", 2)
    assert.are.same({ { "pass", "a" }, { "match", 2 }, { "pass", "x" } }, m:feed("x"))
  end)

  it("clear removes every binding and drops the held bytes", function()
    local m = matcher { [DETACH] = 1 }
    assert.are.same({}, m:feed("\16"))
    m:clear()
    assert.are.equal(0, m:pending())
    assert.are.same({ { "pass", "\16\17" } }, m:feed("\16\17"))
    m:add("q", 4)
    assert.are.same({ { "pass", "\16" }, { "match", 4 } }, m:feed("\16q"))
  end)

  it("rejects bad bindings", function()
    local m = core.keymatcher()
    assert.has_error(function() m:add("", 1) end)
    assert.has_error(function() m:add(("x"):rep(33), 1) end)
    assert.has_error(function() m:add("x", -1) end)
    assert.has_error(function() m:add("x", 1.5) end)
    assert.has_error(function() m:add("x") end)
    m:add(("x"):rep(32), 0)
  end)

  it("rejects calls on other objects", function()
    local m = core.keymatcher()
    assert.has_error(function() m.feed({}, "x") end)
    assert.has_error(function() m:feed() end)
  end)

  it("has metatable dpty.keymatcher and is collectable", function()
    local m = core.keymatcher()
    assert.are.equal("dpty.keymatcher", getmetatable(m).__name)
    m = nil -- luacheck: ignore
    collectgarbage()
    collectgarbage()
  end)

  describe("randomized", function()
    -- The matcher's semantics over a whole stream (then flushed), written the plain way:
    -- at each position take the longest binding reachable by extending while still a prefix
    -- of some binding (stopping at one that nothing extends); if none, pass one byte.
    local function reference(bindings, input)
      local function is_prefix(p)
        for seq in pairs(bindings) do
          if seq:sub(1, #p) == p then return true end
        end
        return false
      end
      local function extensible(p)
        for seq in pairs(bindings) do
          if #seq > #p and seq:sub(1, #p) == p then return true end
        end
        return false
      end
      local events, i = {}, 1
      while i <= #input do
        local best, j = nil, i
        while j <= #input and is_prefix(input:sub(i, j)) do
          local p = input:sub(i, j)
          if bindings[p] then
            best = j
            if not extensible(p) then break end
          end
          j = j + 1
        end
        if best then
          events[#events + 1] = { "match", bindings[input:sub(i, best)] }
          i = best + 1
        else
          events[#events + 1] = { "pass", input:sub(i, i) }
          i = i + 1
        end
      end
      return merged(events)
    end

    local ALPHABET = { "a", "b", "c", "\16", "\17" }

    local function random_string(len)
      local t = {}
      for i = 1, len do t[i] = ALPHABET[math.random(#ALPHABET)] end
      return table.concat(t)
    end

    local function random_bindings()
      local bindings, by_id = {}, {}
      for id = 0, math.random(0, 4) do
        local seq = random_string(math.random(1, 4))
        if not bindings[seq] then
          bindings[seq] = id
          by_id[id] = seq
        end
      end
      return bindings, by_id
    end

    local function random_chunks(input)
      local chunks, i = {}, 1
      while i <= #input do
        local n = math.random(1, 6)
        chunks[#chunks + 1] = input:sub(i, i + n - 1)
        i = i + n
      end
      return chunks
    end

    local function run(bindings, chunks)
      local m = matcher(bindings)
      local all = {}
      for _, chunk in ipairs(chunks) do
        for _, e in ipairs(m:feed(chunk)) do all[#all + 1] = e end
        assert.is_true(m:pending() <= 4)
      end
      for _, e in ipairs(m:flush()) do all[#all + 1] = e end
      assert.are.equal(0, m:pending())
      return merged(all)
    end

    local function reconstruct(events, by_id)
      local t = {}
      for _, e in ipairs(events) do
        t[#t + 1] = e[1] == "pass" and e[2] or by_id[e[2]]
      end
      return table.concat(t)
    end

    it("passed bytes and matched sequences reconstruct the input, whatever the chunking", function()
      for seed = 1, 3000 do
        math.randomseed(seed)
        local bindings, by_id = random_bindings()
        local input = random_string(math.random(0, 40))
        local events = run(bindings, random_chunks(input))
        assert.are.equal(input, reconstruct(events, by_id), "seed " .. seed)
        assert.are.same(reference(bindings, input), events, "seed " .. seed)
      end
    end)

    it("gives the same events for whole, chunked and byte-by-byte input", function()
      for seed = 1, 1000 do
        math.randomseed(seed)
        local bindings = random_bindings()
        local input = random_string(math.random(0, 60))
        local whole = run(bindings, { input })
        assert.are.same(whole, run(bindings, random_chunks(input)), "seed " .. seed)
        assert.are.same(whole, run(bindings, bytes_of(input)), "seed " .. seed)
      end
    end)

    it("passes every byte in order when no binding occurs in the input", function()
      for seed = 1, 1000 do
        math.randomseed(seed)
        -- bindings all contain "\17", the input never does
        local bindings = {}
        for id = 0, math.random(0, 3) do
          bindings[random_string(math.random(0, 3)) .. "\17"] = id
        end
        local input = random_string(math.random(0, 50)):gsub("\17", "")
        local events = run(bindings, random_chunks(input))
        if input == "" then
          assert.are.same({}, events, "seed " .. seed)
        else
          assert.are.same({ { "pass", input } }, events, "seed " .. seed)
        end
      end
    end)
  end)
end)
