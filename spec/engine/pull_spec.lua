-- Image pulls against a real registry: Debian's docker-registry on 127.0.0.1 (started by
-- spec/support/registry.sh), an image of this run's own pushed to it, removed locally and
-- pulled back by docker:pull, by pull.ensure_image (what `dpty run --pull` calls) and by a
-- script under a pty to see the redrawn display. Images and tags made here are removed.
local P = require "support.pty"
local T = require "support.docker"
local dpty = require "dpty"
local pull = require "dpty.pull"

local PORT = os.getenv("DPTY_REGISTRY_PORT") or "5000"
local AUTH_PORT = os.getenv("DPTY_REGISTRY_AUTH_PORT") or "5001"
local REGISTRY_DIR = os.getenv("DPTY_REGISTRY_DIR") or "/tmp/dpty-registry"
local REGISTRY = "127.0.0.1:" .. PORT
-- this run's own image: a layer of random bytes on busybox, so that pulling it downloads
-- something whatever else the engine holds (a repository name is lower case, no dots)
local REPO = REGISTRY .. "/dpty-test/pull-" .. T.run:lower():gsub("[^%w]", "")
local REF = REPO .. ":latest"
local AUTH_REF = "127.0.0.1:" .. AUTH_PORT .. "/dpty-test/busybox:latest"
local USER, PASSWORD = "dpty", "dpty-secret"

local image_id -- of REF, known once it is built

local function must(out, err, code)
  assert(code == 0, ("command failed (%s):\n%s%s"):format(tostring(code), out, err))
  return out
end

local function present(ref)
  local _, _, code = T.docker { "image", "inspect", "--format", "{{.Id}}", ref }
  return code == 0
end

-- Gone from the engine, under any tag or digest (the base busybox layer stays).
local function remove_local()
  if image_id then T.docker { "rmi", "-f", image_id } end
  T.docker { "rmi", REF }
  assert.is_false(present(REF))
end

local function script(text)
  local path = os.tmpname() .. ".lua"
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
  return path
end

-- What `dpty run --pull POLICY IMAGE` does before creating the container.
local ENSURE = script([[
  local pull = require "dpty.pull"
  local docker = require("dpty").docker()
  local ok, err = pull.ensure_image(docker, arg[1], arg[2])
  if not ok then
    io.stderr:write("dpty: ", err, "\n")
    return 125
  end
  return 0
]])

local function ensure_cmd(image, policy, env)
  return (env or "") .. T.quote(T.bin()) .. " " .. ENSURE .. " " .. T.quote(image) .. (policy and (" " .. policy) or "")
end

local function base64(s) return pull.base64(s) end

describe("image pull from a local registry", function()
  local docker = dpty.docker()

  setup(function()
    must(T.sh("spec/support/registry.sh"))
    local name = T.name("pull")
    must(T.docker { "run", "--name", name, "--network", "none", "--label", T.label, T.image,
      "sh", "-c", "head -c 1500000 /dev/urandom >/blob" })
    must(T.docker { "commit", name, REF })
    T.docker { "rm", "-f", name }
    image_id = must(T.docker { "image", "inspect", "--format", "{{.Id}}", REF }):match("%S+")
    must(T.docker { "push", REF })
  end)

  teardown(function()
    if image_id then T.docker { "rmi", "-f", image_id } end
    T.docker { "rmi", AUTH_REF }
    -- the manifest goes from the registry too (its blobs wait for a garbage collection)
    T.sh(([[export -n LD_PRELOAD; d=$(curl -sI -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
      http://%s/v2/%s/manifests/latest | tr -d '\r' | sed -n 's/^[Dd]ocker-[Cc]ontent-[Dd]igest: //p')
      [ -n "$d" ] && curl -s -X DELETE http://%s/v2/%s/manifests/$d]]):format(
      REGISTRY, REPO:sub(#REGISTRY + 2), REGISTRY, REPO:sub(#REGISTRY + 2)))
    os.remove(ENSURE)
    T.cleanup()
  end)

  it("docker:pull streams the layer events to on_progress; the image is there afterwards", function()
    remove_local()
    local events = {}
    local ok, summary = docker:pull(REF, { on_progress = function(ev) events[#events + 1] = ev end })
    assert.is_true(ok, summary)
    assert.is_true(present(REF))
    local seen = {}
    for _, ev in ipairs(events) do
      seen[ev.status] = seen[ev.status] or ev
    end
    local from = seen["Pulling from " .. REPO:sub(#REGISTRY + 2)]
    assert.is_table(from)
    assert.are.equal("latest", from.id)
    assert.is_table(seen["Already exists"]) -- busybox's layer, under ours
    local dl = seen["Downloading"] or seen["Extracting"]
    assert.is_table(dl)
    assert.matches("^%x+$", dl.id)
    assert.is_true(dl.progressDetail.total > 1000000)
    assert.is_table(seen["Pull complete"])
    assert.is_table(seen["Status: Downloaded newer image for " .. REF])
    assert.matches("^sha256:%x+$", summary.digest)
    assert.are.equal("Downloaded newer image for " .. REF, summary.status)

    -- by digest, too
    remove_local()
    ok, summary = docker:pull(REPO .. "@" .. summary.digest)
    assert.is_true(ok, summary)
    assert.is_true(present(REPO .. "@" .. summary.digest))
    -- and once more: nothing to download
    ok, summary = docker:pull(REF)
    assert.is_true(ok, summary)
    assert.matches("^Downloaded newer image for " .. REF:gsub("%p", "%%%0"), summary.status)
    ok, summary = docker:pull(REF)
    assert.are.equal("Image is up to date for " .. REF, summary.status)
  end)

  it("a tag or repository the registry does not have: the registry's message", function()
    local events = 0
    local ok, err, status = docker:pull(REPO .. ":nosuchtag", { on_progress = function() events = events + 1 end })
    assert.is_nil(ok)
    assert.matches("manifest unknown", err, 1, true)
    assert.matches(REPO .. ":nosuchtag", err, 1, true)
    assert.are.equal(404, status)
    assert.are.equal(0, events)
    ok, err = docker:pull(REGISTRY .. "/dpty-test/nosuchrepo")
    assert.is_nil(ok)
    assert.matches("manifest unknown", err, 1, true)
    ok, err = docker:pull("127.0.0.1:1/x") -- nothing listens there
    assert.is_nil(ok)
    assert.matches("connection refused", err, 1, true)
    ok, err = docker:pull("Not/Valid")
    assert.is_nil(ok)
    assert.matches("invalid reference format", err, 1, true)
  end)

  it("a failure after the stream began (HTTP 200, an error line) is a failure", function()
    remove_local()
    local hex = image_id:match("^sha256:(%x+)$")
    local blob = ("%s/open/storage/docker/registry/v2/blobs/sha256/%s/%s/data"):format(REGISTRY_DIR, hex:sub(1, 2), hex)
    local f = io.open(blob, "rb")
    if not f then
      pending("the registry on " .. REGISTRY .. " is not spec/support/registry.sh's: no blob file to spoil")
      return
    end
    local original = f:read("a")
    f:close()
    -- the image config now fails its digest check, after "Pulling from" went out
    f = assert(io.open(blob, "wb"))
    f:write('{"spoiled":true}')
    f:close()
    local events = {}
    local ok, err, status = pcall(docker.pull, docker, REF, { on_progress = function(ev) events[#events + 1] = ev end })
    f = assert(io.open(blob, "wb"))
    f:write(original)
    f:close()
    assert.is_true(ok, err)
    ok, err = err, status
    assert.is_nil(ok)
    assert.matches("image config verification failed", err, 1, true)
    assert.matches("^Pulling from", events[1].status)
    assert.are.equal(err, events[#events].errorDetail.message)
    assert.is_false(present(REF))
  end)

  describe("ensure_image (run --pull)", function()
    local function collect()
      local out = {}
      return out, function(s) out[#out + 1] = s end
    end

    it("missing: pulls an absent image after saying so, in plain lines off a terminal", function()
      remove_local()
      local out, write = collect()
      assert.is_true(pull.ensure_image(docker, REF, "missing", write))
      assert.is_true(present(REF))
      local text = table.concat(out)
      assert.matches("^Unable to find image '" .. REF:gsub("%p", "%%%0") .. "' locally\n", text)
      assert.matches("\nlatest: Pulling from ", text, 1, true)
      assert.matches(": Pull complete\n", text, 1, true)
      assert.matches("\nStatus: Downloaded newer image for " .. REF .. "\n", text, 1, true)
      assert.is_nil(text:find("\27", 1, true))
      local states = {}
      for line in text:gmatch("[^\n]+") do
        assert.is_nil(states[line], "written twice: " .. line)
        states[line] = true
      end
      -- present now: nothing to do, nothing said
      out, write = collect()
      assert.is_true(pull.ensure_image(docker, REF, nil, write))
      assert.are.same({}, out)
    end)

    it("always: pulls even when present; never: leaves an absent image absent", function()
      local out, write = collect()
      assert.is_true(pull.ensure_image(docker, REF, "always", write))
      local text = table.concat(out)
      assert.is_nil(text:find("Unable to find", 1, true))
      assert.matches("Status: Image is up to date for " .. REF, text, 1, true)
      remove_local()
      out, write = collect()
      assert.is_true(pull.ensure_image(docker, REF, "never", write))
      assert.are.same({}, out)
      assert.is_false(present(REF))
    end)

    it("pull_with_progress: what a CLI calls once create said \"No such image\"", function()
      remove_local()
      local out, write = collect()
      assert.is_true(pull.pull_with_progress(docker, REF, write, { missing = true }))
      local text = table.concat(out)
      assert.matches("^Unable to find image '" .. REF:gsub("%p", "%%%0") .. "' locally\n", text)
      assert.matches("\nStatus: Downloaded newer image for " .. REF:gsub("%p", "%%%0") .. "\n$", text)
      out, write = collect()
      assert.is_true(pull.pull_with_progress(docker, REF, write))
      assert.matches("^latest: Pulling from [^\n]*\nDigest: sha256:%x+\nStatus: Image is up to date for ", table.concat(out))
      out, write = collect()
      local ok, err = pull.pull_with_progress(docker, REPO .. ":nosuchtag", write)
      assert.is_nil(ok)
      assert.matches("manifest unknown", err, 1, true)
      assert.are.same({}, out)
    end)

    it("a bad policy, a bad reference, an image the registry lacks: nil and the message", function()
      local ok, err = pull.ensure_image(docker, REF, "sometimes")
      assert.is_nil(ok)
      assert.are.equal('invalid pull option: "sometimes": must be one of "always", "missing" or "never"', err)
      ok, err = pull.ensure_image(docker, "UPPER", "missing")
      assert.is_nil(ok)
      assert.matches("invalid reference format", err, 1, true)
      local out, write = collect()
      ok, err = pull.ensure_image(docker, REPO .. ":nosuchtag", "missing", write)
      assert.is_nil(ok)
      assert.matches("manifest unknown", err, 1, true)
      assert.are.equal("Unable to find image '" .. REPO .. ":nosuchtag' locally\n", table.concat(out))
    end)

    it("from a script on a terminal: the layer lines are redrawn in place", function()
      remove_local()
      local p <close> = P.spawn({ T.bin(), ENSURE, REF }, { rows = 24, cols = 120 })
      p:expect("Unable to find image '" .. REF .. "' locally\r\n")
      p:expect("Status: Downloaded newer image for " .. REF .. "\r\n", 60)
      p:expect_eof()
      assert.are.equal(0, p:wait())
      local out = p:output()
      assert.matches("\27[1A\27[2K\r", out, 1, true)   -- up to a layer's line, cleared, rewritten
      assert.matches("\r\27%[%d+B", out)               -- and back down
      assert.matches(": Downloading %[=*>%s*%] +[%d.]+[kM]?B/[%d.]+MB\r", out)
      assert.matches(": Pull complete\r\27[", out, 1, true)
      assert.is_true(present(REF))
    end)

    it("from a script off a terminal: plain lines; a failure exits 125 with the registry's message", function()
      remove_local()
      local out, err, code = T.sh(ensure_cmd(REF, "missing") .. " 2>&1")
      assert.are.equal(0, code, out .. err)
      assert.is_nil(out:find("\27", 1, true))
      assert.matches("Unable to find image '" .. REF .. "' locally\n", out, 1, true)
      assert.matches(": Downloading\n", out, 1, true)
      assert.matches("Status: Downloaded newer image for " .. REF .. "\n", out, 1, true)
      out, err, code = T.sh(ensure_cmd(REPO .. ":nosuchtag"))
      assert.are.equal(125, code)
      assert.matches("dpty: manifest for " .. REPO .. ":nosuchtag not found: manifest unknown", err, 1, true)
    end)
  end)

  describe("with a registry that wants a password", function()
    local up
    setup(function()
      local code = T.sh(("env -u LD_PRELOAD curl -s -o /dev/null -w '%%{http_code}' http://127.0.0.1:%s/v2/"):format(AUTH_PORT))
      up = code == "401"
    end)
    before_each(function() T.docker { "rmi", AUTH_REF } end)

    it("uses the auths entry for it; refuses without or with a wrong one", function()
      if not up then return pending("no registry with auth on 127.0.0.1:" .. AUTH_PORT) end
      local host = "127.0.0.1:" .. AUTH_PORT
      local ok, err = docker:pull(AUTH_REF, { config = {} })
      assert.is_nil(ok)
      assert.matches("no basic auth credentials", err, 1, true)
      ok, err = docker:pull(AUTH_REF, { config = { auths = { [host] = { auth = base64(USER .. ":wrong") } } } })
      assert.is_nil(ok)
      assert.matches("unauthorized", err, 1, true)
      ok, err = docker:pull(AUTH_REF, { config = { auths = { [host] = { auth = base64(USER .. ":" .. PASSWORD) } } } })
      assert.is_true(ok, err)
      assert.is_true(present(AUTH_REF))
      T.docker { "rmi", AUTH_REF }
      ok, err = docker:pull(AUTH_REF, { auth = { username = USER, password = PASSWORD } })
      assert.is_true(ok, err)
    end)

    it("reads $DOCKER_CONFIG/config.json", function()
      if not up then return pending("no registry with auth on 127.0.0.1:" .. AUTH_PORT) end
      local dir = os.tmpname()
      os.remove(dir)
      assert(os.execute("mkdir -p " .. dir))
      local _, err, code = T.sh(ensure_cmd(AUTH_REF, "always", "DOCKER_CONFIG=" .. dir .. " "))
      assert.are.equal(125, code)
      assert.matches("no basic auth credentials", err, 1, true)
      local f = assert(io.open(dir .. "/config.json", "w"))
      f:write(('{"auths":{"127.0.0.1:%s":{"auth":"%s"}}}'):format(AUTH_PORT, base64(USER .. ":" .. PASSWORD)))
      f:close()
      local out
      out, err, code = T.sh(ensure_cmd(AUTH_REF, "missing", "DOCKER_CONFIG=" .. dir .. " "))
      assert.are.equal(0, code, err)
      assert.matches("Unable to find image '" .. AUTH_REF .. "' locally", err, 1, true)
      assert.matches("Status: Downloaded newer image for " .. AUTH_REF, err, 1, true)
      assert.are.equal("", out)
      os.execute("rm -rf " .. dir)
    end)
  end)
end)
