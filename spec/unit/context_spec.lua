-- Which Engine: context precedence, the context store, TLS from the environment, host
-- forms (ssh, TLS) and core.sha256_hex. No engine needed: nothing here connects.
local core = require "dpty.core"
local context = require "dpty.context"
local engine = require "dpty.engine"

-- a getenv over a table
local function env(t)
  return function(k) return t[k] end
end

local function tmpdir()
  local d = os.tmpname()
  os.remove(d)
  assert(os.execute("mkdir -p " .. d))
  return d
end

local function write(path, text)
  assert(os.execute("mkdir -p '" .. path:match("^(.*)/[^/]*$") .. "'"))
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
end

describe("core.sha256_hex", function()
  it("gives the FIPS 180-4 test vectors", function()
    assert.are.equal("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", core.sha256_hex(""))
    assert.are.equal("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", core.sha256_hex("abc"))
    assert.are.equal("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
      core.sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"))
    assert.are.equal("cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1",
      core.sha256_hex("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu"))
    assert.are.equal("cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0",
      core.sha256_hex(("a"):rep(1000000)))
  end)

  it("hashes every length around the block boundaries, binary bytes included", function()
    -- against sha256sum, the reference at hand
    local data = {}
    for i = 0, 130 do data[#data + 1] = string.char((i * 7 + 3) % 256) end
    data = table.concat(data)
    for _, n in ipairs { 1, 55, 56, 57, 63, 64, 65, 119, 120, 128, 131 } do
      local s = data:sub(1, n)
      local path = os.tmpname()
      local f = assert(io.open(path, "wb"))
      f:write(s)
      f:close()
      local p = io.popen("sha256sum " .. path)
      local want = p:read("a"):match("^(%x+)")
      p:close()
      os.remove(path)
      assert.are.equal(want, core.sha256_hex(s), "length " .. n)
    end
  end)

  it("names the context store's directories as the docker CLI does", function()
    -- `docker context create x` makes contexts/meta/<sha256hex("x")>
    assert.are.equal("37a8eec1ce19687d132fe29051dca629d164e2c4958ba141d5f4133a33f0688f", core.sha256_hex("default"))
    local p = context.paths("my-ctx", "/cfg")
    assert.are.equal("/cfg/contexts/meta/" .. core.sha256_hex("my-ctx") .. "/meta.json", p.meta)
    assert.are.equal("/cfg/contexts/tls/" .. core.sha256_hex("my-ctx") .. "/docker", p.tls)
  end)
end)

describe("context precedence", function()
  local function name(opts, vars, conf)
    opts.getenv = env(vars or {})
    opts.config = conf
    return context.resolve_name(opts)
  end

  it("--context > -H > DOCKER_HOST > DOCKER_CONTEXT > currentContext > default", function()
    local all = { DOCKER_HOST = "tcp://h:1", DOCKER_CONTEXT = "from-env" }
    local conf = { currentContext = "from-config" }
    assert.are.same({ "flag", "--context" }, { name({ context = "flag", host = "unix:///x" }, all, conf) })
    assert.are.same({ "default", "-H" }, { name({ host = "unix:///x" }, all, conf) })
    assert.are.same({ "default", "DOCKER_HOST" }, { name({}, all, conf) })
    assert.are.same({ "from-env", "DOCKER_CONTEXT" }, { name({}, { DOCKER_CONTEXT = "from-env" }, conf) })
    assert.are.same({ "from-config", "currentContext" }, { name({}, {}, conf) })
    assert.are.same({ "default", "default" }, { name({}, {}, {}) })
    assert.are.same({ "default", "default" }, { name({}, {}, nil) })
  end)

  it("takes empty values as unset", function()
    assert.are.same({ "from-config", "currentContext" },
      { name({ context = "", host = "" }, { DOCKER_HOST = "", DOCKER_CONTEXT = "" }, { currentContext = "from-config" }) })
    assert.are.same({ "default", "default" }, { name({}, {}, { currentContext = "" }) })
  end)

  it("reads config.json only when it matters, and reports a broken one", function()
    local read = false
    local conf = function() read = true return nil, "config.json: not valid JSON" end
    assert.are.same({ "default", "DOCKER_HOST" }, { name({}, { DOCKER_HOST = "tcp://h:1" }, conf) })
    assert.is_false(read)
    assert.are.same({ nil, "config.json: not valid JSON" }, { name({}, {}, conf) })
  end)
end)

describe("TLS from the environment", function()
  local dir
  setup(function()
    dir = tmpdir()
    write(dir .. "/certs/ca.pem", "ca")
    write(dir .. "/certs/cert.pem", "cert")
    write(dir .. "/only-ca/ca.pem", "ca")
    write(dir .. "/cfg/ca.pem", "ca")
  end)
  teardown(function() os.execute("rm -rf " .. dir) end)

  it("is off unless DOCKER_TLS_VERIFY or DOCKER_TLS is non-empty", function()
    assert.is_nil(context.env_tls(env {}))
    assert.is_nil(context.env_tls(env { DOCKER_TLS_VERIFY = "", DOCKER_TLS = "" }))
  end)

  it("verifies for any DOCKER_TLS_VERIFY value (even 0); DOCKER_TLS alone does not", function()
    assert.is_true(context.env_tls(env { DOCKER_TLS_VERIFY = "0", DOCKER_CERT_PATH = dir .. "/certs" }).verify)
    assert.is_false(context.env_tls(env { DOCKER_TLS = "1", DOCKER_CERT_PATH = dir .. "/certs" }).verify)
  end)

  it("takes the files of DOCKER_CERT_PATH that exist, else of DOCKER_CONFIG", function()
    local t = context.env_tls(env { DOCKER_TLS_VERIFY = "1", DOCKER_CERT_PATH = dir .. "/certs" })
    assert.are.equal(dir .. "/certs/ca.pem", t.ca)
    assert.are.equal(dir .. "/certs/cert.pem", t.cert)
    assert.is_nil(t.key)
    t = context.env_tls(env { DOCKER_TLS_VERIFY = "1", DOCKER_CONFIG = dir .. "/cfg" })
    assert.are.equal(dir .. "/cfg/ca.pem", t.ca)
    t = context.env_tls(env { DOCKER_TLS_VERIFY = "1", HOME = dir .. "/nohome" })
    assert.are.equal(dir .. "/nohome/.docker", t.dir)
    assert.is_nil(t.ca)
  end)
end)

describe("context endpoints", function()
  local dir
  local function store(name, meta, tls_files)
    local p = context.paths(name, dir)
    write(p.meta, meta)
    for k, v in pairs(tls_files or {}) do write(p.tls .. "/" .. k .. ".pem", v) end
    return p
  end
  setup(function()
    dir = tmpdir()
    store("tls-ctx", [[{"Name":"tls-ctx","Metadata":{},"Endpoints":{"docker":{"Host":"tcp://10.1.2.3:2376","SkipTLSVerify":false}}}]],
      { ca = "c", cert = "c", key = "k" })
    store("skip-ctx", [[{"Name":"skip-ctx","Endpoints":{"docker":{"Host":"tcp://10.1.2.3:2376","SkipTLSVerify":true}}}]])
    store("plain-ctx", [[{"Name":"plain-ctx","Endpoints":{"docker":{"Host":"tcp://10.1.2.3:2375"}}}]])
    store("ssh-ctx", [[{"Name":"ssh-ctx","Endpoints":{"docker":{"Host":"ssh://me@box:2200"}}}]])
    store("broken-ctx", [[{"Name":]])
    store("noep-ctx", [[{"Name":"noep-ctx","Endpoints":{}}]])
  end)
  teardown(function() os.execute("rm -rf " .. dir) end)

  local function ep(opts, vars)
    opts.getenv = env(vars or {})
    opts.config_dir = dir
    return context.endpoint(opts)
  end

  it("reads a context's host and TLS files", function()
    local e = ep({}, { DOCKER_CONTEXT = "tls-ctx" })
    assert.are.equal("tls-ctx", e.context)
    assert.are.equal("tcp://10.1.2.3:2376", e.host)
    assert.is_true(e.tls.verify)
    assert.are.equal(context.paths("tls-ctx", dir).tls .. "/ca.pem", e.tls.ca)
    assert.are.equal(context.paths("tls-ctx", dir).tls .. "/key.pem", e.tls.key)
  end)

  it("makes SkipTLSVerify TLS without verification, and no TLS data plain", function()
    local e = ep({ context = "skip-ctx" })
    assert.is_false(e.tls.verify)
    assert.is_nil(e.tls.ca)
    assert.is_nil(ep({ context = "plain-ctx" }).tls)
  end)

  it("ignores the TLS environment for a named context, uses it for the default one", function()
    local vars = { DOCKER_TLS_VERIFY = "1", DOCKER_CERT_PATH = "/nowhere", DOCKER_CONTEXT = "plain-ctx" }
    assert.is_nil(ep({}, vars).tls)
    vars.DOCKER_HOST = "tcp://10.9.9.9:2376"
    local e = ep({}, vars)
    assert.are.equal("default", e.context)
    assert.are.equal("tcp://10.9.9.9:2376", e.host)
    assert.is_true(e.tls.verify)
  end)

  it("defaults to tcp://localhost:2376 when TLS is on and no host is given", function()
    assert.are.equal("tcp://localhost:2376", ep({}, { DOCKER_TLS = "1" }).host)
    assert.is_nil(ep({}, {}).host)
  end)

  it("uses config.json's currentContext", function()
    write(dir .. "/config.json", [[{"currentContext":"ssh-ctx"}]])
    local e = ep({}, {})
    os.remove(dir .. "/config.json")
    assert.are.equal("ssh-ctx", e.context)
    assert.are.equal("currentContext", e.why)
    assert.are.equal("ssh://me@box:2200", e.host)
  end)

  it("says which context is missing or broken, and who named it", function()
    local e, err = ep({}, { DOCKER_CONTEXT = "nope" })
    assert.is_nil(e)
    assert.matches('context "nope" not found', err, 1, true)
    assert.matches("DOCKER_CONTEXT", err, 1, true)
    e, err = ep({ context = "broken-ctx" })
    assert.is_nil(e)
    assert.matches("not valid JSON", err, 1, true)
    e, err = ep({ context = "noep-ctx" })
    assert.is_nil(e)
    assert.matches("no docker endpoint", err, 1, true)
  end)
end)

describe("Engine hosts", function()
  it("makes tcp TLS on request: https and port 2376", function()
    local t = engine.parse_host("tcp://10.0.0.1", { tls = { ca = "/c/ca.pem", verify = true } })
    assert.are.equal("https://10.0.0.1:2376", t.base)
    assert.are.equal("tcp://10.0.0.1:2376", t.name)
    assert.are.same({ ca = "/c/ca.pem", verify = true }, t.tls)
    assert.is_false(engine.parse_host("h:99", { tls = { verify = false } }).tls.verify)
    assert.is_nil(engine.parse_host("tcp://h:1").tls)
  end)

  it("runs ssh for ssh:// as the docker CLI does", function()
    local t = engine.parse_host("ssh://me@box:2200/run/user/1/docker.sock", { ssh_opts = { "-F", "/x/cfg" } })
    assert.are.equal("http://docker.example.com", t.base)
    assert.are.equal("ssh://me@box:2200/run/user/1/docker.sock", t.name)
    assert.are.same({ "ssh", "-F", "/x/cfg", "-o", "ConnectTimeout=30", "-o", "BatchMode=yes", "-T",
      "-l", "me", "-p", "2200", "--", "box", "docker", "--host=unix:///run/user/1/docker.sock", "system", "dial-stdio" },
      t.command)
    assert.are.same({ "ssh", "-o", "ConnectTimeout=30", "-o", "BatchMode=yes", "-T", "--", "box", "docker", "system", "dial-stdio" },
      engine.parse_host("ssh://box").command)
    assert.are.same({ "ssh", "-o", "ConnectTimeout=5", "-o", "BatchMode=yes", "-T", "--", "box", "docker", "system", "dial-stdio" },
      engine.parse_host("ssh://box/", { ssh_opts = { "-o", "ConnectTimeout=5" } }).command)
    local q = engine.parse_host("ssh://[::1]:22/a b").command
    assert.are.equal("::1", q[#q - 4])
    assert.are.equal("'--host=unix:///a b'", q[#q - 2])
  end)

  it("refuses ssh URLs the docker CLI refuses", function()
    local cases = {
      ["ssh://me:secret@box"] = "plain-text password is not supported",
      ["ssh://box?x=1"] = "query parameters and fragments are not allowed",
      ["ssh://box#f"] = "query parameters and fragments are not allowed",
      ["ssh://"] = "hostname is empty",
      ["ssh://me@"] = "hostname is empty",
      ["ssh://box:port"] = "the port must be a number",
    }
    for host, why in pairs(cases) do
      local t, err = engine.parse_host(host)
      assert.is_nil(t, host)
      assert.matches(why, err, 1, true)
    end
  end)

  it("splits DPTY_SSH_OPTS on white space", function()
    assert.are.same({ "-F", "/x/cfg", "-o", "Port=2" }, engine.split_words("  -F /x/cfg\t-o Port=2 "))
    assert.are.same({}, engine.split_words(nil))
  end)
end)

describe("dpty.docker(...)", function()
  local saved = {}
  before_each(function()
    saved.host, saved.context = engine.default_host, engine.default_context
  end)
  after_each(function()
    engine.default_host, engine.default_context = saved.host, saved.context
  end)

  it("takes a host string, or a table with host and tls", function()
    local d = engine.docker("unix:///tmp/x.sock")
    assert.are.equal("unix:///tmp/x.sock", d.host)
    d = engine.docker { host = "tcp://127.0.0.1:2376", tls = { ca = "/c/ca.pem", cert = "/c/cert.pem", key = "/c/key.pem" } }
    assert.are.equal("https://127.0.0.1:2376", d.target.base)
    assert.are.same({ ca = "/c/ca.pem", cert = "/c/cert.pem", key = "/c/key.pem", verify = true }, d.target.tls)
    d = engine.docker { host = "tcp://127.0.0.1:2375", tls = false }
    assert.are.equal("http://127.0.0.1:2375", d.target.base)
  end)

  it("lets --context (default_context) outrank -H (default_host); an argument outranks both", function()
    engine.default_host = "unix:///tmp/from-H.sock"
    assert.are.equal("unix:///tmp/from-H.sock", engine.docker().host)
    engine.default_context = "surely-not-a-context-" .. tostring(os.time())
    local ok, err = pcall(engine.docker)
    assert.is_false(ok)
    assert.matches('context "surely%-not%-a%-context', err)
    assert.are.equal("unix:///tmp/arg.sock", engine.docker("unix:///tmp/arg.sock").host)
  end)

  it("raises a clear error for hosts it cannot use", function()
    assert.has_error(function() engine.docker("npipe:////./pipe/docker_engine") end,
      'DOCKER_HOST "npipe:////./pipe/docker_engine": the npipe:// scheme is not supported (use unix://, tcp:// or ssh://)')
    assert.has_error(function() engine.docker(42) end)
  end)
end)
