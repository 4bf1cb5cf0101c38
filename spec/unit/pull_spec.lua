-- Image pulls without an engine: image references, credentials from config.json and the
-- X-Registry-Auth header, the JSON-lines stream, and the progress display on a terminal and
-- off one (fed a stream recorded from dockerd 20.10 pulling from a local registry).
local pull = require "dpty.pull"
local progress = require "dpty.progress"
local cjson = require "cjson"
local T = require "support.docker"

-- POST /images/create?fromImage=127.0.0.1:5000/dpty-test/rec&tag=latest, as dockerd sent it
-- (one layer already present, one 3 MB layer downloaded).
local RECORDED = table.concat({
  [[{"status":"Pulling from dpty-test/rec","id":"latest"}]],
  [[{"status":"Already exists","progressDetail":{},"id":"9321b0fa00e2"}]],
  [[{"status":"Pulling fs layer","progressDetail":{},"id":"621e9b72af1c"}]],
  [[{"status":"Downloading","progressDetail":{"current":32768,"total":3001227},"progress":"[\u003e                                                  ]  32.77kB/3.001MB","id":"621e9b72af1c"}]],
  [[{"status":"Verifying Checksum","progressDetail":{},"id":"621e9b72af1c"}]],
  [[{"status":"Download complete","progressDetail":{},"id":"621e9b72af1c"}]],
  [[{"status":"Extracting","progressDetail":{"current":32768,"total":3001227},"progress":"[\u003e                                                  ]  32.77kB/3.001MB","id":"621e9b72af1c"}]],
  [[{"status":"Extracting","progressDetail":{"current":3001227,"total":3001227},"progress":"[==================================================\u003e]  3.001MB/3.001MB","id":"621e9b72af1c"}]],
  [[{"status":"Pull complete","progressDetail":{},"id":"621e9b72af1c"}]],
  [[{"status":"Digest: sha256:8528c359162df65c98139256ec04aa9e6fd4111cad79ef345e4bce121e1f74be"}]],
  [[{"status":"Status: Downloaded newer image for 127.0.0.1:5000/dpty-test/rec:latest"}]],
}, "\r\n") .. "\r\n"

local function events_of(stream)
  local list = {}
  local d = pull.line_decoder(function(ev) list[#list + 1] = ev end)
  d.feed(stream)
  d.finish()
  return list
end

-- Runs the events through a display; returns what it wrote.
local function render(events, opts)
  local out = {}
  local d = progress.new(function(s) out[#out + 1] = s end, opts)
  for _, ev in ipairs(events) do d:event(ev) end
  d:finish()
  return table.concat(out)
end

-- A screen that knows what the display uses: text, \r, \n, ESC[nA, ESC[nB, ESC[2K.
-- Returns the visible lines (trailing empty ones dropped).
local function screen(bytes)
  local lines, row, col = { "" }, 1, 0
  local i = 1
  while i <= #bytes do
    local n, cmd = bytes:match("^\27%[(%d*)([ABK])", i)
    if cmd then
      n = tonumber(n) or 1
      if cmd == "A" then row = math.max(1, row - n)
      elseif cmd == "B" then row = row + n
      else lines[row] = "" end -- 2K: the whole line
      lines[row] = lines[row] or ""
      i = i + #bytes:match("^\27%[%d*[ABK]", i)
    else
      local c = bytes:sub(i, i)
      if c == "\r" then col = 0
      elseif c == "\n" then
        row = row + 1
        col = 0
        lines[row] = lines[row] or ""
      else
        local line = lines[row] or ""
        line = line .. (" "):rep(math.max(0, col - #line))
        lines[row] = line:sub(1, col) .. c .. line:sub(col + 2)
        col = col + 1
      end
      i = i + 1
    end
  end
  for r = 1, #lines do lines[r] = lines[r] or "" end
  while #lines > 0 and lines[#lines] == "" do lines[#lines] = nil end
  return lines
end

describe("image references", function()
  local cases = {
    { "busybox", "docker.io", "library/busybox", "latest", nil, "busybox", "busybox:latest" },
    { "busybox:1.36", "docker.io", "library/busybox", "1.36", nil, "busybox", "busybox:1.36" },
    { "library/busybox", "docker.io", "library/busybox", "latest", nil, "busybox", "busybox:latest" },
    { "docker.io/library/busybox", "docker.io", "library/busybox", "latest", nil, "busybox", "busybox:latest" },
    { "index.docker.io/team/tool:v2", "docker.io", "team/tool", "v2", nil, "team/tool", "team/tool:v2" },
    { "127.0.0.1:5000/dpty-test/busybox:latest", "127.0.0.1:5000", "dpty-test/busybox", "latest", nil,
      "127.0.0.1:5000/dpty-test/busybox", "127.0.0.1:5000/dpty-test/busybox:latest" },
    { "127.0.0.1:5000/busybox", "127.0.0.1:5000", "busybox", "latest", nil, "127.0.0.1:5000/busybox",
      "127.0.0.1:5000/busybox:latest" },
    { "localhost/x", "localhost", "x", "latest", nil, "localhost/x", "localhost/x:latest" },
    { "registry.example.com/a/b/c:1.0-rc_1", "registry.example.com", "a/b/c", "1.0-rc_1", nil,
      "registry.example.com/a/b/c", "registry.example.com/a/b/c:1.0-rc_1" },
    { "my.registry/some-thing__x.y", "my.registry", "some-thing__x.y", "latest", nil,
      "my.registry/some-thing__x.y", "my.registry/some-thing__x.y:latest" },
    { "[::1]:5000/x", "[::1]:5000", "x", "latest", nil, "[::1]:5000/x", "[::1]:5000/x:latest" },
    -- a lone host:port is an image named after the host with the port as tag (as docker reads it)
    { "127.0.0.1:5000", "docker.io", "library/127.0.0.1", "5000", nil, "127.0.0.1", "127.0.0.1:5000" },
  }
  for _, c in ipairs(cases) do
    it(c[1], function()
      local r = assert(pull.parse_reference(c[1]))
      assert.are.same({ c[2], c[3], c[4], c[5], c[6], c[7] },
        { r.domain, r.path, r.tag, r.digest, r.familiar, r.display })
      assert.are.equal(c[2] .. "/" .. c[3], r.name)
    end)
  end

  it("digests: no default tag; a tag and a digest together keep both", function()
    local d = "sha256:" .. ("ab"):rep(32)
    local r = assert(pull.parse_reference("127.0.0.1:5000/x@" .. d))
    assert.are.same({ "127.0.0.1:5000", "x", nil, d, "127.0.0.1:5000/x@" .. d },
      { r.domain, r.path, r.tag, r.digest, r.display })
    r = assert(pull.parse_reference("busybox:1.36@" .. d))
    assert.are.same({ "1.36", d, "busybox:1.36@" .. d }, { r.tag, r.digest, r.display })
  end)

  it("refuses what docker refuses, saying why", function()
    local bad = {
      [""] = "empty", ["Busybox"] = "must be lowercase", ["127.0.0.1:5000/Team/x"] = "must be lowercase",
      ["a..b"] = "", ["-x"] = "", ["x-"] = "", ["a//b"] = "", ["x:"] = "", [":tag"] = "",
      ["x@sha256:1234"] = "invalid digest", ["x@md5"] = "invalid digest",
      ["x:" .. ("t"):rep(129)] = "128", ["bad_host:5000/x"] = "registry host", ["host:port/x"] = "registry host",
    }
    for ref, why in pairs(bad) do
      local r, err = pull.parse_reference(ref)
      assert.is_nil(r, ref)
      assert.matches("invalid reference format", err, 1, true)
      assert.matches(why, err, 1, true)
    end
    assert.is_nil((pull.parse_reference(nil)))
  end)
end)

describe("credentials", function()
  local b64 = pull.base64

  it("base64 and base64url with padding, and back", function()
    assert.are.equal("dXNlcjpwYXNz", b64("user:pass"))
    assert.are.equal("YQ==", b64("a"))
    assert.are.equal("YWI=", b64("ab"))
    assert.are.equal("", b64(""))
    assert.are.equal("-_-_", b64("\251\255\191", true))
    assert.are.equal("+/+/", b64("\251\255\191"))
    for _, s in ipairs { "", "a", "ab", "abc", "user:pa:ss", ("\0\255x"):rep(7) } do
      assert.are.equal(s, pull.base64_decode(b64(s)))
      assert.are.equal(s, pull.base64_decode(b64(s, true)))
    end
    assert.is_nil(pull.base64_decode("not base64!"))
  end)

  it("takes user and password from an auths entry's auth field (the password may hold ':')", function()
    local config = { auths = { ["127.0.0.1:5000"] = { auth = b64("alice:pa:ss") } } }
    assert.are.same({ username = "alice", password = "pa:ss", serveraddress = "127.0.0.1:5000" },
      pull.credentials("127.0.0.1:5000", config))
  end)

  it("Docker Hub's credentials live under https://index.docker.io/v1/", function()
    local config = { auths = { ["https://index.docker.io/v1/"] = { auth = b64("bob:hub") } } }
    assert.are.same({ username = "bob", password = "hub", serveraddress = "https://index.docker.io/v1/" },
      pull.credentials("docker.io", config))
    local r = assert(pull.parse_reference("busybox"))
    assert.are.equal("https://index.docker.io/v1/", pull.auth_key(r.domain))
    -- other spellings of the hub are found too
    config = { auths = { ["docker.io"] = { auth = b64("carol:x") } } }
    assert.are.equal("carol", pull.credentials("docker.io", config).username)
  end)

  it("matches old-style keys by host name, and nothing else", function()
    local config = { auths = { ["http://127.0.0.1:5000/v2/"] = { auth = b64("dave:y") },
      ["127.0.0.1:5001"] = { auth = b64("erin:z") } } }
    assert.are.equal("dave", pull.credentials("127.0.0.1:5000", config).username)
    assert.are.equal("erin", pull.credentials("127.0.0.1:5001", config).username)
    assert.is_nil(pull.credentials("127.0.0.1:5002", config))
    assert.is_nil(pull.credentials("docker.io", config))
    assert.is_nil(pull.credentials("docker.io", {}))
  end)

  it("identity tokens and plain username/password fields", function()
    local config = { auths = { ["r.example"] = { identitytoken = "tok" },
      ["s.example"] = { username = "u", password = "p" } } }
    assert.are.same({ identitytoken = "tok", serveraddress = "r.example" }, pull.credentials("r.example", config))
    assert.are.same({ username = "u", password = "p", serveraddress = "s.example" }, pull.credentials("s.example", config))
  end)

  it("an auth field that is not user:password is an error", function()
    local a, err = pull.credentials("r.example", { auths = { ["r.example"] = { auth = b64("nocolon") } } })
    assert.is_nil(a)
    assert.matches("invalid auth configuration for r.example", err, 1, true)
  end)

  it("X-Registry-Auth is base64url JSON with the fields the Engine reads", function()
    local a = { username = "alice", password = "p?>>?~", serveraddress = "127.0.0.1:5000", identitytoken = "" }
    local h = pull.encode_auth(a)
    assert.is_nil(h:find("[+/]"))
    assert.are.same({ username = "alice", password = "p?>>?~", serveraddress = "127.0.0.1:5000" },
      cjson.decode(pull.base64_decode(h)))
    assert.are.same({ identitytoken = "tok", serveraddress = "r.example" },
      cjson.decode(pull.base64_decode(pull.encode_auth { identitytoken = "tok", serveraddress = "r.example" })))
  end)

  it("reads config.json from a config dir; none is no credentials; bad JSON is an error", function()
    local dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p " .. dir))
    assert.are.same({}, pull.load_config(dir))
    local f = assert(io.open(dir .. "/config.json", "w"))
    f:write('{"auths":{"127.0.0.1:5000":{"auth":"' .. b64("x:y") .. '"}}}')
    f:close()
    assert.are.equal("x", pull.credentials("127.0.0.1:5000", pull.load_config(dir)).username)
    f = assert(io.open(dir .. "/config.json", "w"))
    f:write("{not json")
    f:close()
    local c, err = pull.load_config(dir)
    assert.is_nil(c)
    assert.matches("config.json: not valid JSON", err, 1, true)
    os.execute("rm -rf " .. dir)
  end)

  describe("credential helpers", function()
    local dir
    setup(function()
      dir = os.tmpname()
      os.remove(dir)
      assert(os.execute("mkdir -p " .. dir))
      -- a helper that knows one registry (a user) and one (a token), as docker-credential-* do
      local f = assert(io.open(dir .. "/docker-credential-dptyfake", "w"))
      f:write([[#!/bin/sh
[ "$1" = get ] || exit 3
read -r server || true
case "$server" in
  127.0.0.1:5000) echo '{"ServerURL":"127.0.0.1:5000","Username":"helped","Secret":"s3cret"}' ;;
  https://index.docker.io/v1/) echo '{"ServerURL":"x","Username":"<token>","Secret":"idtok"}' ;;
  broken.example) echo 'the keychain is locked'; exit 2 ;;
  *) echo 'credentials not found in native keychain'; exit 1 ;;
esac
]])
      f:close()
      assert(os.execute("chmod +x " .. dir .. "/docker-credential-dptyfake"))
    end)
    teardown(function() os.execute("rm -rf " .. dir) end)

    -- credentials in a lua5.4 whose PATH holds the fake helper -> the result as JSON
    local function with_helper(domain, config)
      local script = ([[
        package.path = "lua/?.lua;" .. package.path
        package.cpath = %q .. ";" .. package.cpath
        local cjson = require "cjson"
        local a, err = require("dpty.pull").credentials(%q, cjson.decode(%q))
        io.write(cjson.encode { a = a or false, err = err or false })
      ]]):format(package.cpath:match("^[^;]*"), domain, cjson.encode(config))
      local out, err, code = T.sh { "env", "PATH=" .. dir .. ":" .. os.getenv("PATH"), "lua5.4", "-e", script }
      assert.are.equal(0, code, err)
      return cjson.decode(out)
    end

    it("credHelpers for a host, credsStore for all; <token> means an identity token", function()
      assert.are.same({ a = { username = "helped", password = "s3cret", serveraddress = "127.0.0.1:5000" }, err = false },
        with_helper("127.0.0.1:5000", { credHelpers = { ["127.0.0.1:5000"] = "dptyfake" } }))
      assert.are.same({ a = { identitytoken = "idtok", serveraddress = "https://index.docker.io/v1/" }, err = false },
        with_helper("docker.io", { credsStore = "dptyfake" }))
    end)

    it("nothing stored in the helper: the auths entry, else anonymous", function()
      assert.are.same({ a = false, err = false }, with_helper("other.example", { credsStore = "dptyfake" }))
      assert.are.same("u", with_helper("other.example", { credsStore = "dptyfake",
        auths = { ["other.example"] = { auth = pull.base64("u:p") } } }).a.username)
    end)

    it("a failing or missing helper is an error, worded as docker's", function()
      local r = with_helper("broken.example", { credsStore = "dptyfake" })
      assert.are.equal("error getting credentials - err: exit status 2, out: `the keychain is locked`", r.err)
      r = with_helper("127.0.0.1:5000", { credHelpers = { ["127.0.0.1:5000"] = "dptynosuch" } })
      assert.are.equal('error getting credentials - err: exec: "docker-credential-dptynosuch": executable file not found in $PATH, out: ``', r.err)
      r = with_helper("x.example", { credsStore = "bad name;rm" })
      assert.matches("invalid credential helper name", r.err, 1, true)
    end)
  end)
end)

describe("the pull stream", function()
  it("is split into lines wherever the chunks end; \\r\\n, a last line without newline", function()
    local list = {}
    local d = pull.line_decoder(function(ev) list[#list + 1] = ev end)
    for i = 1, #RECORDED, 7 do d.feed(RECORDED:sub(i, i + 6)) end
    d.feed('{"status":"tail"}')
    d.finish()
    assert.are.equal(12, #list)
    assert.are.same({ status = "Pulling from dpty-test/rec", id = "latest" }, list[1])
    assert.are.same({ current = 32768, total = 3001227 }, list[4].progressDetail)
    assert.are.equal("tail", list[12].status)
  end)

  it("keeps a line that is not JSON as its text; skips blank lines", function()
    assert.are.same({ { status = "oops" }, { status = "x" } }, events_of('\r\n\noops\r\n{"status":"x"}\n\n'))
  end)
end)

describe("byte units", function()
  it("are docker's: 1000-based, kB MB GB, four significant digits", function()
    local cases = { [0] = "0B", [1] = "1B", [527] = "527B", [999] = "999B", [1000] = "1kB", [1024] = "1.024kB",
      [32768] = "32.77kB", [3001227] = "3.001MB", [1200000] = "1.2MB", [52170000] = "52.17MB",
      [2e9] = "2GB", [1.5e12] = "1.5TB", [123456789] = "123.5MB" }
    for n, s in pairs(cases) do assert.are.equal(s, progress.human_size(n), tostring(n)) end
  end)

  it("counts: current/total, or the current alone when the total is unknown or smaller", function()
    assert.are.equal(" 32.77kB/3.001MB", progress.counts(32768, 3001227))
    assert.are.equal("   1.2MB", progress.counts(1200000, 0))
    assert.are.equal("     5kB", progress.counts(5000, 10))
  end)

  it("the bar: 50 cells and a head, filled by whole percents halved", function()
    assert.are.equal("[>" .. (" "):rep(50) .. "]", progress.bar(0, 100))
    assert.are.equal("[" .. ("="):rep(50) .. ">]", progress.bar(100, 100))
    assert.are.equal("[" .. ("="):rep(16) .. ">" .. (" "):rep(34) .. "]", progress.bar(33, 100))
    assert.are.equal("[" .. ("="):rep(10) .. ">" .. (" "):rep(10) .. "]", progress.bar(50, 100, 20))
  end)
end)

describe("the progress display", function()
  local events = events_of(RECORDED)

  it("off a terminal: plain lines, each layer state once, no escape codes", function()
    assert.are.equal(table.concat({
      "latest: Pulling from dpty-test/rec",
      "9321b0fa00e2: Already exists",
      "621e9b72af1c: Pulling fs layer",
      "621e9b72af1c: Downloading",
      "621e9b72af1c: Verifying Checksum",
      "621e9b72af1c: Download complete",
      "621e9b72af1c: Extracting",
      "621e9b72af1c: Pull complete",
      "Digest: sha256:8528c359162df65c98139256ec04aa9e6fd4111cad79ef345e4bce121e1f74be",
      "Status: Downloaded newer image for 127.0.0.1:5000/dpty-test/rec:latest",
    }, "\n") .. "\n", render(events, { tty = false }))
  end)

  it("on a terminal: a line per layer, redrawn in place (the bytes, as docker writes them)", function()
    local out = render(events, { tty = true, cols = 120 })
    local expected = "\27[2K\rlatest: Pulling from dpty-test/rec\n"
      .. "\n\27[1A\27[2K\r9321b0fa00e2: Already exists\r\27[1B"
      .. "\n\27[1A\27[2K\r621e9b72af1c: Pulling fs layer\r\27[1B"
      .. "\27[1A\27[2K\r621e9b72af1c: Downloading [>" .. (" "):rep(50) .. "]  32.77kB/3.001MB\r\27[1B"
    assert.are.equal(expected, out:sub(1, #expected))
    assert.matches("\27[1A\27[2K\r621e9b72af1c: Extracting [" .. ("="):rep(50) .. ">]  3.001MB/3.001MB\r\27[1B", out, 1, true)
    assert.are.same({
      "latest: Pulling from dpty-test/rec",
      "9321b0fa00e2: Already exists",
      "621e9b72af1c: Pull complete",
      "Digest: sha256:8528c359162df65c98139256ec04aa9e6fd4111cad79ef345e4bce121e1f74be",
      "Status: Downloaded newer image for 127.0.0.1:5000/dpty-test/rec:latest",
    }, screen(out))
  end)

  it("on a terminal: an earlier layer's line is reached over the later ones", function()
    local function layer(id, status, cur, total)
      return { id = id, status = status, progressDetail = { current = cur, total = total } }
    end
    local out = render({
      { id = "1.0", status = "Pulling from team/app" },
      layer("aaaa", "Pulling fs layer"), layer("bbbb", "Pulling fs layer"), layer("cccc", "Waiting"),
      layer("aaaa", "Downloading", 500000, 1000000), layer("bbbb", "Downloading", 10, 1000),
      layer("aaaa", "Download complete"), layer("cccc", "Downloading", 250, 1000),
      { status = "Digest: sha256:00" },
    }, { tty = true, cols = 80 })
    assert.matches("\27[3A\27[2K\raaaa: Downloading", out, 1, true)
    assert.matches("\27[2A\27[2K\rbbbb: Downloading", out, 1, true)
    assert.matches("\27[1A\27[2K\rcccc: Downloading", out, 1, true)
    assert.are.same({
      "1.0: Pulling from team/app",
      "aaaa: Download complete",
      "bbbb: Downloading [>" .. (" "):rep(45) .. "]      10B/1kB", -- 45 cells: 79 columns in all
      "cccc: Downloading [" .. ("="):rep(10) .. ">" .. (" "):rep(35) .. "]     250B/1kB",
      "Digest: sha256:00",
    }, screen(out))
  end)

  it("fits every line into the terminal: a narrower bar, then none", function()
    local ev = { id = "621e9b72af1c", status = "Downloading", progressDetail = { current = 1500000, total = 3001227 } }
    assert.are.equal("621e9b72af1c: Downloading [" .. ("="):rep(24) .. ">" .. (" "):rep(26) .. "]    1.5MB/3.001MB",
      progress.layer_line(ev, 200))
    local line = progress.layer_line(ev, 70)
    assert.are.equal(69, #line)
    assert.matches("^621e9b72af1c: Downloading %[=+>%s+%]    1.5MB/3.001MB$", line)
    assert.are.equal("621e9b72af1c: Downloading    1.5MB/3.001MB", progress.layer_line(ev, 50))
    assert.are.equal("621e9b72af1c: Downl", progress.layer_line(ev, 20))
    local status = { status = "Status: Downloaded newer image for a/very/long/name:latest" }
    local out = render({ status }, { tty = true, cols = 30 })
    assert.are.equal("\27[2K\rStatus: Downloaded newer imag\n", out)
  end)

  it("leaves error lines to the caller and skips lines without a status", function()
    assert.are.equal("", render({ { error = "boom", errorDetail = { message = "boom" } }, { aux = { ID = "x" } } }, { tty = false }))
    assert.are.equal("", render({ { error = "boom" } }, { tty = true, cols = 80 }))
  end)

  it("progress.handler gives a function for on_progress; a file can be the output", function()
    local path = os.tmpname()
    local f = assert(io.open(path, "w"))
    local h = progress.handler(f)
    for _, ev in ipairs(events) do h(ev) end
    f:close()
    f = assert(io.open(path))
    local text = f:read("a")
    f:close()
    os.remove(path)
    assert.matches("^latest: Pulling from dpty%-test/rec\n", text)
    assert.is_nil(text:find("\27", 1, true))
  end)
end)
