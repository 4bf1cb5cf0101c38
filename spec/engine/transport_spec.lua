-- Every Engine transport, for requests and hijacked sessions:
--   tcp:// with TLS  a second dockerd on tcp://127.0.0.1:2376 with --tlsverify
--                    (spec/support/tls-engine.sh)
--   ssh://           a private sshd on 127.0.0.1:2222 (spec/support/sshd.sh) whose
--                    `docker system dial-stdio` reaches the local Engine
--   contexts         a docker CLI context store in a temporary DOCKER_CONFIG, pointing at
--                    the TLS engine
-- The setup scripts run from setup(); when one cannot run (no dockerd, no openssh-server
-- package), its tests are pending with the script's own words, never silently skipped.
local P = require "support.pty"
local T = require "support.docker"
local dpty_core = require "dpty.core"

local DPTY = T.bin()
local PROMPT = "/ # "
local TRANSPORT_VARS = { "DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_TLS_VERIFY", "DOCKER_TLS",
  "DOCKER_CERT_PATH", "DOCKER_CONFIG", "DPTY_SSH_OPTS" }

-- KEY=VALUE lines of a setup script -> table | nil, why
local function setup_env(script)
  local out, err, code = T.sh("env -u LD_PRELOAD spec/support/" .. script)
  if code ~= 0 then
    return nil, ("spec/support/%s failed (exit %d): %s"):format(script, code, (err .. out):gsub("%s+$", ""))
  end
  local env = {}
  for k, v in out:gmatch("([%w_]+)=([^\n]*)") do env[k] = v end
  return env
end

-- `env` prefix: none of the caller's transport variables, then these; no LD_PRELOAD (the
-- sanitizer pass preloads libasan for lua5.4; dpty links it itself, ssh has no use for it)
local function env_prefix(vars)
  local words = { "env", "-u", "LD_PRELOAD" }
  for _, k in ipairs(TRANSPORT_VARS) do
    words[#words + 1] = "-u"
    words[#words + 1] = k
  end
  local keys = {}
  for k in pairs(vars or {}) do keys[#keys + 1] = k end
  table.sort(keys)
  for _, k in ipairs(keys) do words[#words + 1] = T.quote(k .. "=" .. vars[k]) end
  return table.concat(words, " ")
end

-- dpty ARGS with env vars, stdin from a file or /dev/null -> stdout, stderr, code
local function dpty(vars, args, stdin_data)
  local cmd = env_prefix(vars) .. " " .. T.quote(DPTY) .. " " .. args
  if stdin_data then
    local input = os.tmpname()
    local f = assert(io.open(input, "wb"))
    f:write(stdin_data)
    f:close()
    local out, err, code = T.sh("sh -c " .. T.quote(cmd .. " <" .. T.quote(input)))
    os.remove(input)
    return out, err, code
  end
  return T.sh(cmd)
end

-- the docker CLI with these env vars
local function docker(vars, args)
  return T.sh(env_prefix(vars) .. " " .. T.quote(os.getenv("DOCKER") or "docker") .. " " .. args)
end

-- dpty under a pty, with env vars (the rest of the environment as the spec's)
local function spawn(vars, args, rows, cols)
  local env = {}
  for _, k in ipairs(TRANSPORT_VARS) do env[k] = false end
  for k, v in pairs(vars) do env[k] = v end
  local argv = { DPTY }
  for _, a in ipairs(args) do argv[#argv + 1] = a end
  return P.spawn(argv, { rows = rows or 24, cols = cols or 80, env = env })
end

local RUN = "run --rm --network none --label " .. T.label .. " "

-- Resizes the pty until the shell reports the size (the resize goes through the API).
local function resize_until(p, rows, cols)
  p:resize(rows, cols)
  local want = rows .. " " .. cols
  local deadline = os.time() + 10
  local size
  repeat
    p:sendline("stty size")
    local _, m = p:expect({ pattern = "(%d+ %d+)\r\n" })
    size = m:match("%d+ %d+")
    p:expect(PROMPT)
  until size == want or os.time() > deadline
  assert.are.equal(want, size)
end

-- The interactive checks any transport must pass: prompt, size, resize, exit code.
local function interactive_run(vars)
  local p <close> = spawn(vars, { "run", "-it", "--rm", "--network", "none", "--label", T.label, "busybox", "sh" }, 30, 100)
  p:expect(PROMPT, 30)
  p:sendline("stty size; echo typed-$((40+2))")
  p:expect("30 100")
  p:expect("typed-42")
  p:expect(PROMPT)
  resize_until(p, 40, 132)
  p:sendline("exit 3")
  p:expect_eof(30)
  assert.are.equal(3, p:wait(30))
end

describe("over TLS (tcp://127.0.0.1:2376, client certificates)", function()
  local env, why
  local tls_dir
  setup(function()
    env, why = setup_env("tls-engine.sh")
    if env then tls_dir = env.DOCKER_CERT_PATH:gsub("/client$", "") end
  end)
  after_each(function()
    if not env then return end
    local ids = docker(env, "ps -aq --filter " .. T.quote(T.filter))
    if ids:match("%S") then docker(env, "rm -f " .. ids:gsub("%s+", " ")) end
  end)

  it("pings and negotiates the API, from the environment and from the Lua API", function()
    if not env then return pending(why) end
    local out, err, code = dpty(env, "version")
    assert.are.equal(0, code, err)
    assert.matches("at tcp://127.0.0.1:2376", out, 1, true)
    assert.matches("API 1%.%d+", out)
    local script = os.tmpname() .. ".lua"
    local f = assert(io.open(script, "w"))
    f:write(([[
      local dpty = require "dpty"
      local d = dpty.docker { host = "tcp://127.0.0.1:2376",
        tls = { ca = %q, cert = %q, key = %q, verify = true } }
      local ok, err = d:ping()
      print(ok, err, d.api, d.target.base)
    ]]):format(env.DOCKER_CERT_PATH .. "/ca.pem", env.DOCKER_CERT_PATH .. "/cert.pem", env.DOCKER_CERT_PATH .. "/key.pem"))
    f:close()
    out, err, code = dpty({}, T.quote(script))
    os.remove(script)
    assert.are.equal(0, code, err)
    assert.matches("^true\tnil\t1%.%d+\thttps://127%.0%.0%.1:2376\n$", out)
  end)

  it("runs sessions on the local socket and on the TLS engine at once, from one rig", function()
    if not env then return pending(why) end
    local script = os.tmpname() .. ".lua"
    local f = assert(io.open(script, "w"))
    f:write(([[
      local dpty = require "dpty"
      local engines = {
        ["local"] = dpty.docker("unix:///var/run/docker.sock"),
        tls = dpty.docker { host = "tcp://127.0.0.1:2376",
          tls = { ca = %q, cert = %q, key = %q, verify = true } },
      }
      local function one(where)
        local docker = engines[where]
        local id = assert(docker:create { Image = "busybox", Cmd = { "sh" }, Tty = true, OpenStdin = true,
          Env = { "PS1=" .. where .. "$ " }, Labels = { ["dpty.test"] = %q },
          HostConfig = { NetworkMode = "none", AutoRemove = true } })
        local s <close> = assert(dpty.attach(docker, id))
        assert(s:start())
        s:expect(where .. "$ ", 30)
        s:sendline("sleep 1; echo on-" .. where)
        s:expect("on-" .. where, 30)
        s:sendline("exit 7")
        s:expect(dpty.EOF, 30)
        return s:wait()
      end
      local t0 = os.time()
      local r = dpty.wait_all { dpty.go(one, "local"), dpty.go(one, "tls") }
      print(r[1][1], r[2][1], os.time() - t0 <= 8)
    ]]):format(env.DOCKER_CERT_PATH .. "/ca.pem", env.DOCKER_CERT_PATH .. "/cert.pem",
      env.DOCKER_CERT_PATH .. "/key.pem", T.run))
    f:close()
    local out, err, code = dpty({}, T.quote(script))
    os.remove(script)
    assert.are.equal(0, code, err)
    assert.are.equal("7\t7\ttrue\n", out)
  end)

  it("runs a container without a terminal: output, stderr, exit code", function()
    if not env then return pending(why) end
    local out, err, code = dpty(env, RUN .. "busybox sh -c 'echo out1; echo err1 >&2; exit 3'")
    assert.are.equal("out1\n", out)
    assert.are.equal("err1\n", err)
    assert.are.equal(3, code)
  end)

  it("delivers piped stdin and its EOF (the TCP half-close under TLS reaches the Engine)", function()
    if not env then return pending(why) end
    local out, err, code = dpty(env, RUN .. "-i busybox sh -c 'cat; exit 5'", "a\nb\n")
    assert.are.equal("a\nb\n", out, err)
    assert.are.equal(5, code)
    local big = ("0123456789abcdef"):rep(65536) -- 1 MiB through TLS records both ways
    out, err, code = dpty(env, RUN .. "-i busybox sh -c 'sleep 0.5; cat; exit 6'", big)
    assert.are.equal(#big, #out, err)
    assert.is_true(out == big, "stdin came back altered")
    assert.are.equal(6, code)
  end)

  it("gives an interactive shell the terminal: prompt, stty size, resize, exit code", function()
    if not env then return pending(why) end
    interactive_run(env)
  end)

  it("execs with and without a terminal: size, exit codes, stdin EOF", function()
    if not env then return pending(why) end
    local name = T.name("tls-exec")
    local _, err, code = docker(env, "run -d --network none --label " .. T.label .. " --name " .. name .. " busybox sleep 120")
    assert.are.equal(0, code, err)
    local p <close> = spawn(env, { "exec", "-it", name, "sh" }, 33, 90)
    p:expect(PROMPT, 30)
    p:sendline("stty size")
    p:expect("33 90")
    p:expect(PROMPT)
    p:sendline("exit 4")
    p:expect_eof(30)
    assert.are.equal(4, p:wait(30))
    local out
    out, err, code = dpty(env, "exec " .. name .. " sh -c 'echo in-exec; exit 6'")
    assert.are.equal("in-exec\n", out, err)
    assert.are.equal(6, code)
    out, err, code = dpty(env, "exec -i " .. name .. " sh -c 'cat; exit 7'", "x\ny\n")
    assert.are.equal("x\ny\n", out, err)
    assert.are.equal(7, code)
  end)

  it("refuses an Engine whose certificate the CA does not sign: a clear message, exit 125", function()
    if not env then return pending(why) end
    local wrong = { DOCKER_HOST = env.DOCKER_HOST, DOCKER_TLS_VERIFY = "1", DOCKER_CERT_PATH = tls_dir .. "/wrong-ca" }
    local out, err, code = dpty(wrong, RUN .. "busybox true")
    assert.are.equal(125, code)
    assert.are.equal("", out)
    assert.matches("TLS certificate that does not verify", err, 1, true)
    assert.matches("tcp://127.0.0.1:2376", err, 1, true)
    assert.matches("ca.pem", err, 1, true)
    -- DOCKER_TLS: TLS without verification (the client certificate still counts)
    local loose = { DOCKER_HOST = env.DOCKER_HOST, DOCKER_TLS = "1", DOCKER_CERT_PATH = tls_dir .. "/wrong-ca" }
    out, err, code = dpty(loose, RUN .. "busybox sh -c 'echo unverified'")
    assert.are.equal(0, code, err)
    assert.are.equal("unverified\n", out)
    -- no client certificate: the Engine (--tlsverify) ends the handshake
    local nocert = os.tmpname()
    os.remove(nocert)
    assert(os.execute("mkdir -p " .. nocert .. " && cp " .. T.quote(env.DOCKER_CERT_PATH .. "/ca.pem") .. " " .. nocert))
    out, err, code = dpty({ DOCKER_HOST = env.DOCKER_HOST, DOCKER_TLS_VERIFY = "1", DOCKER_CERT_PATH = nocert }, "run --rm busybox true")
    os.execute("rm -rf " .. nocert)
    assert.are.equal(125, code)
    assert.matches("client certificate", err, 1, true)
    -- plain HTTP to the TLS port: the Engine's own answer
    out, err, code = dpty({ DOCKER_HOST = env.DOCKER_HOST }, "run --rm busybox true")
    assert.are.equal(125, code)
    assert.matches("HTTPS", err, 1, true)
  end)

  describe("through a docker CLI context", function()
    local config -- a DOCKER_CONFIG of our own
    setup(function()
      if not env then return end
      config = os.tmpname()
      os.remove(config)
      local c = env.DOCKER_CERT_PATH
      local _, err, code = docker({ DOCKER_CONFIG = config }, ("context create dpty-tls-test --docker host=tcp://127.0.0.1:2376,ca=%s/ca.pem,cert=%s/cert.pem,key=%s/key.pem")
        :format(c, c, c))
      assert(code == 0, "docker context create failed: " .. err)
    end)
    teardown(function()
      if config then os.execute("rm -rf " .. T.quote(config)) end
    end)

    it("finds the store where the docker CLI keeps it (sha256 of the name)", function()
      if not env then return pending(why) end
      local id = dpty_core.sha256_hex("dpty-tls-test")
      local f = io.open(config .. "/contexts/meta/" .. id .. "/meta.json")
      assert.is_not_nil(f, "no meta.json under " .. config .. "/contexts/meta/" .. id)
      f:close()
      f = io.open(config .. "/contexts/tls/" .. id .. "/docker/ca.pem")
      assert.is_not_nil(f)
      f:close()
    end)

    it("uses DOCKER_CONTEXT: requests and a session", function()
      if not env then return pending(why) end
      local vars = { DOCKER_CONFIG = config, DOCKER_CONTEXT = "dpty-tls-test" }
      local out, err, code = dpty(vars, "version")
      assert.are.equal(0, code, err)
      assert.matches("at tcp://127.0.0.1:2376", out, 1, true)
      out, err, code = dpty(vars, RUN .. "-i busybox sh -c 'cat; echo via-context; exit 2'", "in\n")
      assert.are.equal("in\nvia-context\n", out, err)
      assert.are.equal(2, code)
      -- DOCKER_HOST outranks DOCKER_CONTEXT
      out, err, code = dpty({ DOCKER_CONFIG = config, DOCKER_CONTEXT = "dpty-tls-test", DOCKER_HOST = "unix:///var/run/docker.sock" }, "version")
      assert.are.equal(0, code, err)
      assert.matches("at unix:///var/run/docker.sock", out, 1, true)
    end)

    it("uses config.json's currentContext, and names a context that is not there", function()
      if not env then return pending(why) end
      local _, err, code = docker({ DOCKER_CONFIG = config }, "context use dpty-tls-test")
      assert.are.equal(0, code, err)
      local out
      out, err, code = dpty({ DOCKER_CONFIG = config }, RUN .. "busybox sh -c 'echo via-current; exit 4'")
      assert.are.equal("via-current\n", out, err)
      assert.are.equal(4, code)
      out, err, code = dpty({ DOCKER_CONFIG = config, DOCKER_CONTEXT = "no-such-context" }, RUN .. "busybox true")
      assert.are.equal(125, code)
      assert.matches('context "no-such-context" not found', err, 1, true)
      assert.matches("DOCKER_CONTEXT", err, 1, true)
    end)
  end)
end)

describe("over ssh (ssh://root@127.0.0.1:2222, docker system dial-stdio)", function()
  local env, why
  setup(function() env, why = setup_env("sshd.sh") end)
  after_each(function() T.cleanup() end)

  it("pings, and runs a container without a terminal: output, stderr, exit code", function()
    if not env then return pending(why) end
    local out, err, code = dpty(env, "version")
    assert.are.equal(0, code, err)
    assert.matches("at ssh://root@127.0.0.1:2222", out, 1, true)
    out, err, code = dpty(env, RUN .. "busybox sh -c 'echo out1; echo err1 >&2; exit 3'")
    assert.are.equal("out1\n", out)
    assert.are.equal("err1\n", err)
    assert.are.equal(3, code)
  end)

  it("delivers piped stdin and its EOF (ssh's stdin ends, dial-stdio half-closes)", function()
    if not env then return pending(why) end
    local out, err, code = dpty(env, RUN .. "-i busybox sh -c 'cat; exit 5'", "a\nb\n")
    assert.are.equal("a\nb\n", out, err)
    assert.are.equal(5, code)
  end)

  it("gives an interactive shell the terminal: prompt, stty size, resize, exit code", function()
    if not env then return pending(why) end
    interactive_run(env)
  end)

  it("refuses an unknown host key with ssh's words and exit 125", function()
    if not env then return pending(why) end
    local vars = { DOCKER_HOST = env.DOCKER_HOST, DPTY_SSH_OPTS = env.DPTY_SSH_OPTS .. ".unknown" }
    local out, err, code = dpty(vars, RUN .. "busybox true")
    assert.are.equal(125, code)
    assert.are.equal("", out)
    assert.matches("Cannot connect to the Docker daemon at ssh://root@127.0.0.1:2222", err, 1, true)
    assert.matches("Host key verification failed.", err, 1, true)
    assert.are.equal(0, #T.containers())
  end)
end)
