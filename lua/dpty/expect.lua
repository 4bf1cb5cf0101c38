-- The matching machinery of s:expect(patterns, timeout), free of sessions and engines: pattern
-- constructors, a bounded stream buffer that finds the earliest match, and the failure report.
--
--   local expect = require "dpty.expect"
--   local b = expect.buffer()              -- search window 64 KiB
--   b:push(output)                          -- as it arrives
--   local i, m = b:search { "login: ", expect.pat "%$ $", expect.re("[0-9]+ files?", "i") }
--   -- m.before, m.text, m.captures, m.start, m.stop; the buffer is consumed through the match
--
-- Pattern kinds: a plain string (the exact text), pat(p) (a Lua pattern), re(p [, flags]) (a
-- POSIX extended regex; flags "i" ignore case, "n" newline-sensitive), and the sentinels EOF and
-- TIMEOUT, which only the caller can recognise (a search passes over them).
--
-- The text a search sees is the unconsumed output, the bytes after the previous match:
--   * ^ matches at its first byte, unless the bytes before it were discarded rather than
--     matched (then the text starts in the middle of something, and ^ does not match there);
--     a regex with flag "n" also matches ^ after every newline;
--   * $ matches at the end of the output received so far (more may come: "foo$" can match
--     "foo" of a later "foobar" when "bar" arrives after the search) and, with "n", before
--     every newline;
--   * a Lua pattern's %f sees the byte before the text, a regex's \b and \< do not.
--   * in a regex, . never matches a NUL byte (glibc's POSIX syntax) but [^x] does; a regex
--     cannot contain a NUL byte (use a plain string or a Lua pattern: both can).
-- Which match wins: the one that starts earliest in the stream; at equal starts, the earliest
-- in the list. As with pexpect and Expect, chunking can change the result: {"foobar", "foo"}
-- finds "foo" if "bar" had not arrived yet when the search ran.
--
-- Memory: the buffer retains the last max(window, 512) + 1 bytes of output: the unconsumed
-- text, and before it consumed bytes for tail() and the byte that decides ^ with flag "n" and
-- %f. The unconsumed text never exceeds the window: a push beyond it discards the oldest
-- unconsumed bytes (counted in b.discarded). A single push larger than the window keeps only
-- its last window bytes: push output in pieces no larger than the window if every byte must
-- be searched.
--
-- Cost: a search does not start over on data it has already searched without a match. Per
-- pattern the buffer remembers how far the output had been searched (b.scan). With nothing
-- new since, the pattern is not searched at all; else the search resumes max(L, 1) bytes
-- before that point, where L bounds the length of a match (a pattern may look one byte past
-- its match: $, %f, \b): a plain string's length; a Lua pattern's, counted from its items,
-- when it has no *, +, -, %b or back-reference; a regex's, counted at 16 bytes a character
-- (more than any multibyte encoding takes), when it has no *, +, {n,} or back-reference.
-- A match that did not exist at the previous search must touch the new bytes, so it starts
-- at most L bytes before them: resuming there finds the earliest match a full search would.
-- Patterns without such a bound (and ^-anchored Lua patterns, tried at one place only) are
-- searched over the whole unconsumed text, which the window bounds. So a push and a search
-- cost O(chunk + L) for bounded patterns and O(window) at worst: the total work grows
-- linearly with the output (for unbounded patterns up to window/chunk times the output),
-- never quadratically. Appending a chunk copies the retained bytes once, at memcpy speed.
local M = {}

local DEFAULT_WINDOW = 65536
local TAIL = 512 -- bytes of output kept for tail() and reports, whatever the window
local REGEX_CHAR = 16 -- bytes one character of a regex may take, for the length bound

local find, sub, byte, fmt = string.find, string.sub, string.byte, string.format
local max = math.max

-- ---- making things visible -----------------------------------------------------------------

local NAMED = { ["\r"] = "\\r", ["\n"] = "\\n", ["\t"] = "\\t", ["\\"] = "\\\\" }

local function hex_bytes(s)
  return (s:gsub(".", function(c) return fmt("\\x%02x", byte(c)) end))
end

-- Bytes from 0x80 on: a valid UTF-8 character stays as it is (unless it is a C1 control);
-- anything else is shown byte by byte.
local function visible_high(seq)
  local lead = byte(seq)
  local need = lead >= 0xF0 and 4 or lead >= 0xE0 and 3 or lead >= 0xC2 and 2 or 0
  if need == 0 or #seq < need or lead > 0xF4 or not utf8.len(sub(seq, 1, need))
      or (lead == 0xC2 and byte(seq, 2) < 0xA0) then
    return fmt("\\x%02x", lead) .. hex_bytes(sub(seq, 2))
  end
  return sub(seq, 1, need) .. hex_bytes(sub(seq, need + 1))
end

-- visible(s): s with control characters made visible: \r \n \t, other controls and DEL as
-- \xNN (so ESC is \x1b), a backslash as \\, bytes that are not UTF-8 as \xNN.
function M.visible(s)
  s = s:gsub("[\0-\31\127\\]", function(c) return NAMED[c] or fmt("\\x%02x", byte(c)) end)
  return (s:gsub("[\128-\255][\128-\191]*", visible_high))
end

-- A double-quoted, visible rendering of s.
local function quote(s)
  return '"' .. M.visible(s):gsub('"', '\\"') .. '"'
end
M.quote = quote

-- ---- pattern kinds -------------------------------------------------------------------------

local Matcher = {}
Matcher.__index = Matcher
Matcher.__tostring = function(m)
  if m.kind == "text" then return quote(m.source) end
  local flags = m.flags and m.flags ~= "" and fmt(' (flags "%s")', m.flags) or ""
  return m.kind .. " " .. quote(m.source) .. flags
end

-- EOF and TIMEOUT: read-only tables, recognised by identity
local sentinel_fields = {}
local Sentinel = {
  __index = function(s, k) return sentinel_fields[s][k] end,
  __newindex = function() error("dpty.EOF and dpty.TIMEOUT are read-only", 2) end,
  __tostring = function(s) return sentinel_fields[s].name end,
  __metatable = false,
}
local function sentinel(kind, name)
  local s = setmetatable({}, Sentinel)
  sentinel_fields[s] = { kind = kind, name = name }
  return s
end
M.EOF = sentinel("eof", "dpty.EOF")
M.TIMEOUT = sentinel("timeout", "dpty.TIMEOUT")

local function text_matcher(s)
  return setmetatable({ kind = "text", source = s, maxlen = #s, key = "text\0" .. s }, Matcher)
end

-- Reads a Lua pattern the way lstrlib does, to refuse a malformed one where it is written
-- (string.find would only complain once the match got that far) and to bound its match
-- length. -> anchored, maxlen (nil: unbounded) | nil, message
local function lua_pattern_info(p)
  local n = #p
  local i, anchored = 1, false
  if byte(p, 1) == 94 then i, anchored = 2, true end -- ^
  local len, bounded = 0, true
  local open, closed, ncap = {}, {}, 0 -- capture stack, finished captures
  while i <= n do
    local c = sub(p, i, i)
    if c == "(" then
      ncap = ncap + 1
      if ncap > 32 then return nil, "too many captures" end
      if sub(p, i + 1, i + 1) == ")" then -- position capture
        closed[ncap] = true
        i = i + 2
      else
        open[#open + 1] = ncap
        i = i + 1
      end
    elseif c == ")" then
      if #open == 0 then return nil, "invalid pattern capture" end
      closed[table.remove(open)] = true
      i = i + 1
    elseif c == "$" and i == n then
      i = i + 1
    elseif c == "%" and sub(p, i + 1, i + 1) == "b" then
      if i + 3 > n then return nil, "malformed pattern (missing arguments to '%b')" end
      bounded = false
      i = i + 4
    elseif c == "%" and sub(p, i + 1, i + 1) == "f" then
      i = i + 2
      if sub(p, i, i) ~= "[" then return nil, "missing '[' after '%f' in pattern" end
      local j = i + 1 -- the set, as classEnd reads it
      if sub(p, j, j) == "^" then j = j + 1 end
      repeat
        if j > n then return nil, "malformed pattern (missing ']')" end
        local d = sub(p, j, j)
        j = j + 1
        if d == "%" and j <= n then j = j + 1 end
      until sub(p, j, j) == "]"
      i = j + 1
    elseif c == "%" and find(p, "^%d", i + 1) then
      local l = byte(p, i + 1) - 48
      if l == 0 or not closed[l] then return nil, fmt("invalid capture index %%%d", l) end
      bounded = false -- as long as the capture: not worth bounding
      i = i + 2
    else
      local ep -- end of the single-character class, as classEnd reads it
      if c == "%" then
        if i == n then return nil, "malformed pattern (ends with '%')" end
        ep = i + 2
      elseif c == "[" then
        local j = i + 1
        if sub(p, j, j) == "^" then j = j + 1 end
        repeat
          if j > n then return nil, "malformed pattern (missing ']')" end
          local d = sub(p, j, j)
          j = j + 1
          if d == "%" and j <= n then j = j + 1 end
        until sub(p, j, j) == "]"
        ep = j + 1
      else
        ep = i + 1
      end
      local q = sub(p, ep, ep)
      if q == "*" or q == "+" or q == "-" then
        bounded = false
        i = ep + 1
      elseif q == "?" then
        len = len + 1
        i = ep + 1
      else
        len = len + 1
        i = ep
      end
    end
  end
  if #open > 0 then return nil, "unfinished capture" end
  return anchored, bounded and len or nil
end

-- An upper bound on the bytes a POSIX extended regex (as glibc reads it) can match, or nil
-- when there is none (*, +, {n,}, back-references) or the pattern is not understood here.
-- Zero-width escapes (\b, \<, ...) count as a character: too much is safe, too little is not.
local function regex_maxlen(p)
  local HUGE = math.huge
  local pos, n, unknown = 1, #p, false
  local alternation

  local function bracket() -- p[pos] == "["; returns the index after the closing "]"
    local j = pos + 1
    if sub(p, j, j) == "^" then j = j + 1 end
    if sub(p, j, j) == "]" then j = j + 1 end -- a leading ] is a member
    local multi = false
    while true do
      if j > n then return nil end
      local d = sub(p, j, j)
      if d == "]" then return j + 1, multi end
      local e = sub(p, j + 1, j + 1)
      if d == "[" and (e == ":" or e == "." or e == "=") then
        if e ~= ":" then multi = true end -- collating elements may be several characters
        local close = find(p, e .. "]", j + 2, true)
        if not close then return nil end
        j = close + 2
      else
        j = j + 1 -- a backslash is an ordinary member inside brackets
      end
    end
  end

  local function atom() -- -> length of the atom at pos, or nil when there is none
    local c = sub(p, pos, pos)
    if c == "(" then
      pos = pos + 1
      local len = alternation()
      if sub(p, pos, pos) ~= ")" then
        unknown = true
        return HUGE
      end
      pos = pos + 1
      return len
    elseif c == "[" then
      local after, multi = bracket()
      if not after then
        unknown = true
        return HUGE
      end
      pos = after
      return multi and HUGE or REGEX_CHAR
    elseif c == "\\" then
      local d = sub(p, pos + 1, pos + 1)
      pos = pos + 2
      if find(d, "^%d") then return HUGE end -- back-reference
      return REGEX_CHAR
    elseif c == "^" or c == "$" then
      pos = pos + 1
      return 0
    elseif c == "" or c == "|" or c == ")" or c == "*" or c == "+" or c == "?" or c == "{" then
      return nil
    end
    pos = pos + 1
    return REGEX_CHAR
  end

  local function times(len, k)
    if k == 0 or len == 0 then return 0 end
    return len * k
  end

  local function piece()
    local len = atom()
    if not len then return nil end
    while true do
      local c = sub(p, pos, pos)
      if c == "*" or c == "+" then
        len = times(len, HUGE)
        pos = pos + 1
      elseif c == "?" then
        pos = pos + 1
      elseif c == "{" then
        local lo, comma, hi, after = p:match("^{(%d*)(,?)(%d*)}()", pos)
        if not lo or (lo == "" and comma == "") then
          unknown = true
          return HUGE
        end
        local k = comma == "" and tonumber(lo) or (hi == "" and HUGE or tonumber(hi))
        len = times(len, k)
        pos = after
      else
        return len
      end
    end
  end

  local function sequence()
    local total = 0
    while true do
      local len = piece()
      if not len then return total end
      total = total + len
    end
  end

  function alternation()
    local best = sequence()
    while sub(p, pos, pos) == "|" do
      pos = pos + 1
      best = max(best, sequence())
    end
    return best
  end

  local len = alternation()
  if unknown or pos <= n or len == HUGE then return nil end
  return len
end

M._lua_pattern_info, M._regex_maxlen = lua_pattern_info, regex_maxlen -- for the specs

-- pat(p): a Lua pattern. A malformed one raises here, naming it.
function M.pat(p)
  if type(p) ~= "string" then error("dpty.pat: a string expected, got " .. type(p), 2) end
  local anchored, maxlen = lua_pattern_info(p)
  if anchored == nil then error(fmt("bad Lua pattern %s: %s", quote(p), maxlen), 2) end
  return setmetatable({ kind = "pat", source = p, anchored = anchored, maxlen = maxlen,
    key = "pat\0" .. p }, Matcher)
end

-- re(p [, flags]): a POSIX extended regex, compiled here (a bad one raises here, naming it).
-- flags: "i" ignore case, "n" newline-sensitive (^ and $ at line ends; . and [^x] never
-- match a newline).
function M.re(p, flags)
  if type(p) ~= "string" then error("dpty.re: a string expected, got " .. type(p), 2) end
  flags = flags or ""
  if type(flags) ~= "string" then error("dpty.re: flags must be a string, got " .. type(flags), 2) end
  local bad = flags:match("[^in]")
  if bad then
    error(fmt('dpty.re: unknown flag %s (flags: "i" ignore case, "n" newline-sensitive)', quote(bad)), 2)
  end
  flags = (flags:find("i", 1, true) and "i" or "") .. (flags:find("n", 1, true) and "n" or "")
  local core = require "dpty.core"
  local ok, regex = pcall(core.regex, p, flags)
  if not ok then error(regex, 2) end
  return setmetatable({ kind = "re", source = p, flags = flags, regex = regex,
    maxlen = regex_maxlen(p), key = "re\0" .. flags .. "\0" .. p }, Matcher)
end

local Normalized = {} -- metatable that marks a list normalize() made

local function describe_bad(v)
  local t = type(v)
  if t == "table" then return "a table that is no pattern" end
  return "a " .. t
end

-- normalize(patterns [, level]) -> list of matchers, index for index: a single pattern or a
-- list of them; a plain string stands for its exact text; EOF and TIMEOUT stay themselves.
-- A bad entry raises at level, as the calling function would give it to error() (default 1:
-- the line that called normalize).
function M.normalize(patterns, level)
  level = (level or 1) + 1
  if getmetatable(patterns) == Normalized then return patterns end
  local list
  local mt = getmetatable(patterns)
  if type(patterns) == "string" or mt == Matcher or sentinel_fields[patterns] then
    list = { patterns }
  elseif type(patterns) == "table" and mt == nil then -- a list
    list = patterns
  else
    error("expect: patterns must be a pattern or a list of them, got " .. describe_bad(patterns), level)
  end
  local out = setmetatable({}, Normalized)
  local n = 0
  for i, v in ipairs(list) do
    local vmt = getmetatable(v)
    if type(v) == "string" then
      out[i] = text_matcher(v)
    elseif vmt == Matcher or sentinel_fields[v] then
      out[i] = v
    else
      error(fmt("expect: pattern #%d is %s; expected a string, dpty.pat(...), dpty.re(...), "
        .. "dpty.EOF or dpty.TIMEOUT", i, describe_bad(v)), level)
    end
    n = i
  end
  if n == 0 then error("expect: no patterns given", level) end
  for k in pairs(list) do
    if math.type(k) ~= "integer" or k < 1 or k > n then
      error(fmt("expect: the pattern list has a key %s besides 1..%d (a nil in the list?)", tostring(k), n), level)
    end
  end
  return out
end

-- ---- the stream buffer ---------------------------------------------------------------------

local Buffer = {}
Buffer.__index = Buffer

-- buffer([window]) -> a stream buffer whose unconsumed text never exceeds window bytes
-- (default 65536). Fields a caller may read: window, discarded (unconsumed bytes dropped to
-- keep the window), scan (pattern key -> stream position searched without a match); set
-- resume = false to search the whole unconsumed text every time (for comparisons).
function M.buffer(window)
  window = window or DEFAULT_WINDOW
  if math.type(window) ~= "integer" or window < 1 then
    error("expect.buffer: the window must be a positive integer", 2)
  end
  return setmetatable({
    window = window,
    keep = max(window, TAIL), -- bytes retained besides the context byte
    data = "",  -- the retained bytes: consumed ones (for tail() and context) and unconsumed ones
    base = 0,   -- stream bytes before data (data:byte(1) is stream byte base + 1)
    pos = 1,    -- stream position (1-based) of the first unconsumed byte
    bol = 1,    -- where ^ may match: pos after a match, left behind when bytes are discarded
    discarded = 0,
    scan = {},
    resume = true,
  }, Buffer)
end

-- b:push(data): appends output; trims to the window (see the top of this file).
function Buffer:push(chunk)
  if type(chunk) ~= "string" then error("buffer:push: a string expected, got " .. type(chunk), 2) end
  local nc = #chunk
  if nc == 0 then return end
  local data, base = self.data, self.base
  local total = base + #data + nc
  local from = max(base + 1, total - self.keep) -- first stream byte to retain
  if from == base + 1 then
    data = data .. chunk
  elseif from > base + #data then
    data = sub(chunk, from - (total - nc))
  else
    data = sub(data, from - base) .. chunk
  end
  self.data, self.base = data, from - 1
  local oldest = total - self.window + 1 -- the oldest byte that may stay unconsumed
  if self.pos < oldest then
    self.discarded = self.discarded + (oldest - self.pos)
    self.pos = oldest
  end
end

-- Returns s, e, captures for a match of Lua pattern or regex results; position captures
-- become stream positions.
local function packed(base, s, e, ...)
  if not s then return nil end
  local caps = table.pack(...)
  for i = 1, caps.n do
    if math.type(caps[i]) == "integer" then caps[i] = caps[i] + base end
  end
  return s, e, caps
end

-- b:search(patterns) -> index, m | nil
-- m = {before = the unconsumed text before the match (what the window kept of it),
--      text = the match, captures = {...; n = } (nil for a regex group that took no part),
--      start = , stop = (stream positions, 1-based, inclusive)}
-- The earliest-starting match wins (ties: the earliest in the list); the buffer is consumed
-- through it. EOF and TIMEOUT entries are passed over.
function Buffer:search(patterns)
  local list = M.normalize(patterns, 2)
  local data, base, pos = self.data, self.base, self.pos
  local total = base + #data
  local init0 = pos - base -- pos in data
  local first = self.bol == pos and init0 or max(1, init0 - 1) -- where a regex's text begins
  local scan, nextscan, resume = self.scan, {}, self.resume
  local best, bs, be, bcaps
  for i = 1, #list do
    local m = list[i]
    local kind = m.kind
    if kind == "text" or kind == "pat" or kind == "re" then
      local key = m.key
      local searched = scan[key]
      local init = init0
      if resume and searched and m.maxlen and not m.anchored then
        init = max(init0, searched - base + 1 - max(m.maxlen, 1))
      end
      if resume and searched == total then
        nextscan[key] = total -- nothing arrived since it found nothing
      elseif bs and init >= bs then
        nextscan[key] = searched -- cannot win; what is known stays known
      else
        local s, e, caps
        if kind == "text" then
          s, e = find(data, m.source, init, true)
          if s then caps = { n = 0 } end
        elseif kind == "pat" then
          if not m.anchored or self.bol == pos then s, e, caps = packed(base, find(data, m.source, init)) end
        else
          s, e, caps = packed(0, m.regex:find(data, init, first))
        end
        if s then
          if not bs or s < bs then best, bs, be, bcaps = i, s, e, caps end
        else
          nextscan[key] = total
        end
      end
    end
  end
  if not best then
    self.scan = nextscan
    return nil
  end
  local m = {
    before = sub(data, init0, bs - 1),
    text = sub(data, bs, be),
    captures = bcaps,
    start = bs + base,
    stop = be + base,
  }
  self.pos = be + base + 1
  self.bol = self.pos
  self.scan = {} -- the text now begins elsewhere: ^ may match anew
  return best, m
end

-- b:take_all() -> the unconsumed text, now consumed (for an EOF or TIMEOUT "match")
function Buffer:take_all()
  local rest = sub(self.data, self.pos - self.base)
  self.pos = self.base + #self.data + 1
  self.bol = self.pos
  self.scan = {}
  return rest
end

-- b:tail([n]) -> the last n bytes of output (default 512; consumed ones too; at most
-- max(window, 512) + 1 are kept)
function Buffer:tail(n)
  n = n or TAIL
  if n <= 0 then return "" end
  return sub(self.data, -n)
end

-- b:pending() -> the unconsumed text
function Buffer:pending()
  return sub(self.data, self.pos - self.base)
end

-- b:total() -> bytes pushed so far
function Buffer:total()
  return self.base + #self.data
end

-- ---- the failure report --------------------------------------------------------------------

local function width(s)
  return utf8.len(s) or #s
end

local function framed(screen, out)
  local rows = {}
  if sub(screen, -1) ~= "\n" then screen = screen .. "\n" end
  for line in screen:gmatch("(.-)\n") do rows[#rows + 1] = (line:gsub("%s+$", "")) end
  local blank = 0
  while #rows > 0 and rows[#rows] == "" do
    rows[#rows] = nil
    blank = blank + 1
  end
  local w = 0
  for _, r in ipairs(rows) do w = max(w, width(r)) end
  local edge = "  +" .. ("-"):rep(w) .. "+"
  out[#out + 1] = edge
  for _, r in ipairs(rows) do out[#out + 1] = "  |" .. r .. (" "):rep(w - width(r)) .. "|" end
  out[#out + 1] = edge
  if blank > 0 then out[#out + 1] = fmt("  (and %d blank row%s below)", blank, blank == 1 and "" or "s") end
end

-- The tail as quoted pieces, one per line of output, long lines cut every 72 bytes or so.
local function quoted_lines(tail, out)
  local pos = 1
  while pos <= #tail do
    local nl = find(tail, "\n", pos, true)
    local stop = nl or #tail
    while pos <= stop do
      local piece_end = math.min(stop, pos + 71)
      -- do not cut a UTF-8 character in two
      while piece_end < stop and (byte(tail, piece_end + 1) or 0) & 0xC0 == 0x80 and piece_end > pos do
        piece_end = piece_end - 1
      end
      out[#out + 1] = "  " .. quote(sub(tail, pos, piece_end))
      pos = piece_end + 1
    end
  end
end

local function seconds(t)
  return (fmt("%.3f", t):gsub("0+$", ""):gsub("%.$", ""))
end

-- report{patterns=, reason="timeout"|"eof", waited=, timeout=, screen=, tail=,
--        discarded=, window=} -> the text of the error s:expect raises
function M.report(a)
  local list = M.normalize(a.patterns, 2)
  local out = {}
  if a.reason == "eof" then
    out[1] = "expect: the output ended (EOF) before any pattern matched"
  else
    out[1] = "expect: timed out before any pattern matched"
  end
  out[#out + 1] = "patterns:"
  for i, m in ipairs(list) do out[#out + 1] = fmt("  %d. %s", i, tostring(m)) end
  local waited = fmt("%.1f s", a.waited or 0)
  if a.timeout == nil or a.timeout == math.huge then
    out[#out + 1] = "waited " .. waited .. " (no timeout)"
  else
    out[#out + 1] = fmt("waited %s of a %s s timeout", waited, seconds(a.timeout))
  end
  if (a.discarded or 0) > 0 then
    out[#out + 1] = fmt("%d bytes of output were discarded unmatched (search window %d bytes)",
      a.discarded, a.window or DEFAULT_WINDOW)
  end
  if a.screen then
    out[#out + 1] = "screen:"
    framed(a.screen, out)
  end
  local tail = a.tail or ""
  if tail == "" then
    out[#out + 1] = "output: none"
  else
    out[#out + 1] = fmt("last %d bytes of output (control characters made visible):", #tail)
    quoted_lines(tail, out)
  end
  return table.concat(out, "\n")
end

return M
