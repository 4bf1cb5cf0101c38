-- core.frame_demuxer: Docker's multiplexed stream (non-tty output), header[8] = {stream, 0, 0, 0,
-- size big-endian 32}, then size bytes of payload.
local core = require "dpty.core"

local function frame(stream, payload)
  return string.char(stream, 0, 0, 0) .. string.pack(">I4", #payload) .. payload
end

-- Joins consecutive pieces of the same stream, so results compare whatever the chunking.
local function merged(pieces)
  local out = {}
  for _, p in ipairs(pieces) do
    local last = out[#out]
    if last and last[1] == p[1] then
      last[2] = last[2] .. p[2]
    else
      out[#out + 1] = { p[1], p[2] }
    end
  end
  return out
end

local function feed_all(d, chunks)
  local all = {}
  for _, chunk in ipairs(chunks) do
    for _, p in ipairs(d:feed(chunk)) do all[#all + 1] = p end
  end
  return all
end

describe("core.frame_demuxer", function()
  it("demuxes the real bytes of `echo out1; echo err1 >&2`", function()
    local d = core.frame_demuxer()
    local wire = "\1\0\0\0\0\0\0\5out1\n\2\0\0\0\0\0\0\5err1\n"
    assert.are.same({ { 1, "out1\n" }, { 2, "err1\n" } }, d:feed(wire))
    assert.is_true(d:idle())
  end)

  it("delivers a single frame", function()
    local d = core.frame_demuxer()
    assert.are.same({ { 1, "hello" } }, d:feed(frame(1, "hello")))
    assert.is_true(d:idle())
  end)

  it("delivers several frames of one feed in order, one piece each", function()
    local d = core.frame_demuxer()
    local wire = frame(1, "a") .. frame(2, "bb") .. frame(1, "ccc") .. frame(0, "in")
    assert.are.same({ { 1, "a" }, { 2, "bb" }, { 1, "ccc" }, { 0, "in" } }, d:feed(wire))
  end)

  it("returns no pieces for empty input", function()
    local d = core.frame_demuxer()
    assert.are.same({}, d:feed(""))
    assert.is_true(d:idle())
  end)

  it("reassembles a header split at every offset", function()
    local wire = frame(2, "payload") .. frame(1, "next")
    for cut = 0, #wire do
      local d = core.frame_demuxer()
      local pieces = merged(feed_all(d, { wire:sub(1, cut), wire:sub(cut + 1) }))
      assert.are.same({ { 2, "payload" }, { 1, "next" } }, pieces, "cut at " .. cut)
      assert.is_true(d:idle(), "cut at " .. cut)
    end
  end)

  it("reassembles a stream fed one byte at a time", function()
    local wire = frame(1, "out") .. frame(2, "") .. frame(2, "err") .. frame(3, "sys")
    local bytes = {}
    for i = 1, #wire do bytes[i] = wire:sub(i, i) end
    local d = core.frame_demuxer()
    assert.are.same({ { 1, "out" }, { 2, "err" }, { 3, "sys" } }, merged(feed_all(d, bytes)))
  end)

  it("is idle only between frames", function()
    local d = core.frame_demuxer()
    assert.is_true(d:idle())
    d:feed("\1\0\0")
    assert.is_false(d:idle()) -- partial header
    d:feed("\0\0\0\0\4ab")
    assert.is_false(d:idle()) -- partial payload
    d:feed("cd")
    assert.is_true(d:idle())
  end)

  it("delivers a payload split across feeds as pieces of its stream", function()
    local d = core.frame_demuxer()
    local wire = frame(2, "0123456789")
    assert.are.same({ { 2, "01" } }, d:feed(wire:sub(1, 10)))
    assert.are.same({ { 2, "2345" } }, d:feed(wire:sub(11, 14)))
    assert.are.same({ { 2, "6789" }, { 1, "x" } }, d:feed(wire:sub(15) .. frame(1, "x")))
  end)

  it("passes a large payload through in the pieces it arrives in", function()
    local payload = ("0123456789abcdef"):rep(8192) -- 128 KiB, above the 32 KiB daemon frames
    local wire = frame(1, payload)
    local d = core.frame_demuxer()
    local chunks, i = {}, 1
    while i <= #wire do
      chunks[#chunks + 1] = wire:sub(i, i + 4999)
      i = i + 5000
    end
    local pieces = feed_all(d, chunks)
    assert.are.equal(#chunks, #pieces)
    assert.are.same({ { 1, payload } }, merged(pieces))
    assert.is_true(d:idle())
  end)

  it("reads the size as big-endian 32 bits", function()
    local d = core.frame_demuxer()
    assert.are.same({ { 1, "x" } }, d:feed("\1\0\0\0\0\1\0\0x"))
    assert.is_false(d:idle()) -- 65536 bytes announced
    assert.are.same({ { 1, ("y"):rep(65535) } }, d:feed(("y"):rep(65535)))
    assert.is_true(d:idle())
  end)

  it("accepts zero-size frames without producing a piece", function()
    local d = core.frame_demuxer()
    assert.are.same({}, d:feed(frame(1, "")))
    assert.is_true(d:idle())
    assert.are.same({ { 2, "e" } }, d:feed(frame(1, "") .. frame(2, "e") .. frame(2, "")))
    assert.is_true(d:idle())
  end)

  it("accepts streams 0 (stdin) and 3 (systemerr)", function()
    local d = core.frame_demuxer()
    assert.are.same({ { 0, "in" }, { 3, "error text" } }, d:feed(frame(0, "in") .. frame(3, "error text")))
  end)

  describe("malformed headers", function()
    local function raises(wire)
      local d = core.frame_demuxer()
      assert.has_error(function() d:feed(wire) end)
      local ok, err = pcall(d.feed, d, "")
      assert.is_false(ok)
      assert.matches("^malformed frame header", err)
      return d
    end

    it("raises on a stream above 3", function()
      raises("\4\0\0\0\0\0\0\1x")
      raises("\255\0\0\0\0\0\0\0")
    end)

    it("raises on nonzero bytes 1..3", function()
      raises("\1\1\0\0\0\0\0\1x")
      raises("\1\0\1\0\0\0\0\1x")
      raises("\1\0\0\1\0\0\0\1x")
    end)

    it("raises on text that is not framed (a tty stream read as multiplexed)", function()
      local d = core.frame_demuxer()
      local ok, err = pcall(d.feed, d, "/ # ls\r\n")
      assert.is_false(ok)
      assert.are.equal("malformed frame header (2F 20 23 20 6C 73 0D 0A)", err)
    end)

    it("raises once the bad header completes, after good frames, and stays failed", function()
      local d = core.frame_demuxer()
      assert.are.same({ { 1, "ok" } }, d:feed(frame(1, "ok") .. "\9\0\0"))
      assert.has_error(function() d:feed("\0\0\0\0\0") end)
      assert.has_error(function() d:feed(frame(1, "later")) end)
      assert.is_false(d:idle())
    end)
  end)

  it("rejects calls on other objects", function()
    local d = core.frame_demuxer()
    assert.has_error(function() d.feed({}, "x") end)
    assert.has_error(function() d:feed() end)
    assert.has_error(function() d.idle(core.keymatcher()) end)
  end)
end)
