-- core.http_parse_head: the HTTP/1.x response head in front of a hijacked stream.
local core = require "dpty.core"

-- engine-protocol.md §3.1: the daemon's answer to an attach with Upgrade: tcp (exact, 109 bytes)
local UPGRADED = "HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\n"
  .. "Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n"
-- §3.4: errors on hijack endpoints, a raw head then plain text then EOF
local NOT_FOUND = "HTTP/1.1 404 Not Found\r\nContent-Type: application/vnd.docker.raw-stream\r\n\r\n"
  .. "No such container: nonexistent-dkr\r\n"
local BAD_REQUEST = "HTTP/1.1 400 Bad Request\r\nContent-Type: application/vnd.docker.raw-stream\r\n\r\n"
  .. "Invalid detach keys (ctrl-P) provided\r\n"

local function malformed(s)
  local v, err = core.http_parse_head(s)
  assert.are.equal(false, v, s)
  assert.matches("^malformed HTTP response head: ", err)
  return err
end

describe("core.http_parse_head", function()
  it("parses the exact 101 UPGRADED head of an attach", function()
    assert.are.equal(109, #UPGRADED)
    assert.are.same({
      status = 101,
      minor = 1,
      reason = "UPGRADED",
      head_len = 109,
      headers = {
        ["content-type"] = "application/vnd.docker.raw-stream",
        connection = "Upgrade",
        upgrade = "tcp",
      },
    }, core.http_parse_head(UPGRADED))
  end)

  it("stops at the blank line: stream bytes read with the head are left over", function()
    local wire = UPGRADED .. "\r\n/ # \27[6n"
    local h = core.http_parse_head(wire)
    assert.are.equal(109, h.head_len)
    assert.are.equal("\r\n/ # \27[6n", wire:sub(h.head_len + 1))
  end)

  it("parses the 200 OK head of an attach without Upgrade", function()
    local h = core.http_parse_head("HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.raw-stream\r\n\r\n")
    assert.are.equal(200, h.status)
    assert.are.equal("OK", h.reason)
    assert.are.equal("application/vnd.docker.raw-stream", h.headers["content-type"])
  end)

  it("parses the longer 101 head of an exec start", function()
    local wire = "HTTP/1.1 101 UPGRADED\r\nApi-Version: 1.50\r\nContent-Type: application/vnd.docker.raw-stream\r\n"
      .. "Docker-Experimental: false\r\nOstype: linux\r\nServer: Docker/28.2.2 (linux)\r\n"
      .. "Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n"
    local h = core.http_parse_head(wire)
    assert.are.equal(101, h.status)
    assert.are.equal(#wire, h.head_len)
    assert.are.equal("1.50", h.headers["api-version"])
    assert.are.equal("linux", h.headers.ostype)
    assert.are.equal("Docker/28.2.2 (linux)", h.headers.server)
  end)

  it("parses a 404 and leaves the plain-text body to the caller", function()
    local h = core.http_parse_head(NOT_FOUND)
    assert.are.equal(404, h.status)
    assert.are.equal("Not Found", h.reason)
    assert.are.equal("No such container: nonexistent-dkr\r\n", NOT_FOUND:sub(h.head_len + 1))
  end)

  it("parses a 400 and leaves the plain-text body to the caller", function()
    local h = core.http_parse_head(BAD_REQUEST)
    assert.are.equal(400, h.status)
    assert.are.equal("Bad Request", h.reason)
    assert.are.equal("Invalid detach keys (ctrl-P) provided\r\n", BAD_REQUEST:sub(h.head_len + 1))
  end)

  it("reports incomplete for every proper prefix of a head", function()
    for _, wire in ipairs { UPGRADED, NOT_FOUND, BAD_REQUEST } do
      local head_len = core.http_parse_head(wire).head_len
      for n = 0, head_len - 1 do
        assert.is_nil(core.http_parse_head(wire:sub(1, n)), "prefix of " .. n)
      end
      for n = head_len, #wire do
        assert.are.equal(head_len, core.http_parse_head(wire:sub(1, n)).head_len, "prefix of " .. n)
      end
    end
  end)

  it("tolerates bare LF line ends, also mixed with CRLF", function()
    local h = core.http_parse_head("HTTP/1.1 101 UPGRADED\nConnection: Upgrade\nUpgrade: tcp\n\nrest")
    assert.are.equal(101, h.status)
    assert.are.equal("UPGRADED", h.reason)
    assert.are.equal("tcp", h.headers.upgrade)
    assert.are.equal(#"HTTP/1.1 101 UPGRADED\nConnection: Upgrade\nUpgrade: tcp\n\n", h.head_len)
    h = core.http_parse_head("HTTP/1.1 200 OK\r\nA: 1\nB: 2\r\n\nrest")
    assert.are.same({ a = "1", b = "2" }, h.headers)
    assert.are.equal(#"HTTP/1.1 200 OK\r\nA: 1\nB: 2\r\n\n", h.head_len)
  end)

  it("reads HTTP/1.0, an empty reason and a reason with spaces", function()
    assert.are.equal(0, core.http_parse_head("HTTP/1.0 200 OK\r\n\r\n").minor)
    local h = core.http_parse_head("HTTP/1.1 204\r\n\r\n")
    assert.are.equal(204, h.status)
    assert.are.equal("", h.reason)
    assert.are.equal("", core.http_parse_head("HTTP/1.1 204 \r\n\r\n").reason)
    assert.are.equal("Internal Server Error",
      core.http_parse_head("HTTP/1.1 500 Internal Server Error\r\n\r\n").reason)
  end)

  it("accepts a head without headers", function()
    local h = core.http_parse_head("HTTP/1.1 200 OK\r\n\r\n")
    assert.are.same({}, h.headers)
    assert.are.equal(19, h.head_len)
  end)

  it("lowercases names, trims values and joins repeated headers", function()
    local h = core.http_parse_head("HTTP/1.1 200 OK\r\nX-Thing:  \t spaced value \t \r\n"
      .. "Empty:\r\nVia: a\r\nVIA: b\r\n\r\n")
    assert.are.same({ ["x-thing"] = "spaced value", empty = "", via = "a, b" }, h.headers)
  end)

  it("accepts 48 headers and rejects 49", function()
    local lines = {}
    for i = 1, 48 do lines[i] = "H" .. i .. ": v" .. i .. "\r\n" end
    local h = core.http_parse_head("HTTP/1.1 200 OK\r\n" .. table.concat(lines) .. "\r\n")
    assert.are.equal("v48", h.headers.h48)
    lines[49] = "H49: v49\r\n"
    malformed("HTTP/1.1 200 OK\r\n" .. table.concat(lines) .. "\r\n")
    malformed("HTTP/1.1 200 OK\r\n" .. table.concat(lines)) -- known before the head ends
  end)

  describe("rejects", function()
    it("garbage, as soon as it cannot be HTTP/1.x", function()
      malformed("garbage")
      malformed("g")
      malformed("SSH-2.0-OpenSSH_9.2\r\n")
      malformed("GET / HTTP/1.1\r\n\r\n")
      malformed("\r\n\r\n")
      malformed("\0\0\0\0")
      malformed("\1\0\0\0\0\0\0\5out1\n") -- a frame where a head was expected
    end)

    it("other HTTP versions", function()
      malformed("HTTP/2 200\r\n\r\n")
      malformed("HTTP/2.0 200 OK\r\n\r\n")
      malformed("HTTP/1.x 200 OK\r\n\r\n")
      malformed("HTTP/1.11 200 OK\r\n\r\n")
      malformed("http/1.1 200 OK\r\n\r\n")
    end)

    it("bad status codes", function()
      malformed("HTTP/1.1 2x0 OK\r\n\r\n")
      malformed("HTTP/1.1 20 OK\r\n\r\n")
      malformed("HTTP/1.1 2000 OK\r\n\r\n")
      malformed("HTTP/1.1 -200 OK\r\n\r\n")
      malformed("HTTP/1.1  200 OK\r\n\r\n")
      malformed("HTTP/1.1\r\n\r\n")
      malformed("HTTP/1.1 \r\n\r\n")
      malformed("HTTP/1.1 OK\r\n\r\n")
    end)

    it("bad header lines", function()
      malformed("HTTP/1.1 200 OK\r\nno colon\r\n\r\n")
      malformed("HTTP/1.1 200 OK\r\n: empty name\r\n\r\n")
      malformed("HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n")
      malformed("HTTP/1.1 200 OK\r\nName : x\r\n\r\n")
      malformed("HTTP/1.1 200 OK\r\nA: 1\r\n folded\r\n\r\n")
      malformed("HTTP/1.1 200 OK\r\nA: 1\r2\r\n\r\n")
      malformed("HTTP/1.1 200 OK\r\nA: 1\0002\r\n\r\n")
      malformed("HTTP/1.1 200 OK\r\r\n\r\n")
    end)

    it("with the first line, escaped, in the message", function()
      assert.are.equal([[malformed HTTP response head: "SSH-2.0\x0D\x0A"]], malformed("SSH-2.0\r\nmore"))
      local err = malformed("X" .. ("y"):rep(200))
      assert.are.equal([[malformed HTTP response head: "X]] .. ("y"):rep(79) .. [[..."]], err)
    end)
  end)

  it("raises on a non-string argument", function()
    assert.has_error(function() core.http_parse_head({}) end)
    assert.has_error(function() core.http_parse_head() end)
  end)
end)
