-- `dpty run` and `dpty exec` without a terminal: exit codes, stdout/stderr apart, piped stdin,
-- tty output byte-identical to the docker CLI's, and the errors a user can cause.
local T = require "support.docker"

local dpty = T.bin()
local function run(args, stdin_file)
  local cmd = T.quote(dpty) .. " run --rm --network none --label " .. T.label .. " " .. args
  if stdin_file then cmd = cmd .. " <" .. T.quote(stdin_file) end
  return T.sh(stdin_file and ("sh -c " .. T.quote(cmd)) or cmd)
end

local function count_test_containers()
  local out = T.docker { "ps", "-aq", "--filter", T.filter }
  local n = 0
  for _ in out:gmatch("%S+") do n = n + 1 end
  return n
end

local function write_file(path, data)
  local f = assert(io.open(path, "wb"))
  f:write(data)
  f:close()
end

describe("dpty run without a terminal", function()
  after_each(function() T.cleanup() end)

  it("passes the container's exit code on and keeps stdout and stderr apart", function()
    local out, err, code = run("busybox sh -c 'echo out1; echo err1 >&2; echo out2; exit 3'")
    assert.are.equal("out1\nout2\n", out)
    assert.are.equal("err1\n", err)
    assert.are.equal(3, code)
  end)

  it("returns 128+N for a container killed by signal N", function()
    local name = T.name("killed")
    local _, _, code = T.sh("(sleep 1; env -u LD_PRELOAD docker kill " .. name .. " >/dev/null) & "
      .. T.quote(dpty) .. " run --rm --network none --label " .. T.label .. " --name " .. name .. " busybox sleep 30")
    assert.are.equal(137, code)
  end)

  it("delivers megabytes of piped stdin byte-exact and the EOF that ends the session", function()
    local input = os.tmpname()
    local chunks = {}
    for i = 1, 40000 do chunks[i] = ("line %06d %s\n"):format(i, ("x"):rep(i % 97)) end
    chunks[#chunks + 1] = "\0\1\2\255 binary tail without newline"
    local data = table.concat(chunks)
    assert.is_true(#data > 2000000)
    write_file(input, data)
    local out, err, code = run("-i busybox sh -c 'cat; echo tail >&2; exit 5'", input)
    os.remove(input)
    assert.are.equal(#data, #out)
    assert.is_true(out == data, "stdin came back altered")
    assert.are.equal("tail\n", err)
    assert.are.equal(5, code)
  end)

  it("ends when stdin is empty", function()
    local out, _, code = run("-i busybox sh -c 'cat; echo done'", "/dev/null")
    assert.are.equal("done\n", out)
    assert.are.equal(0, code)
  end)

  it("prints tty output byte-identical to docker run -t (a few MB)", function()
    local script = "i=0; while [ $i -lt 3000 ]; do printf '%05d \\033[1mbold\\033[0m tab\\there %s\\n' $i $(seq -s, 1 $((i % 200))); i=$((i+1)); done"
    local mine, _, code1 = run("-t busybox sh -c " .. T.quote(script))
    local theirs, _, code2 = T.docker { "run", "--rm", "-t", "--network", "none", "--label", T.label, "busybox", "sh", "-c", script }
    assert.are.equal(0, code1)
    assert.are.equal(0, code2)
    assert.is_true(#theirs > 1000000, "docker printed only " .. #theirs .. " bytes")
    assert.are.equal(#theirs, #mine)
    assert.is_true(mine == theirs, "tty output differs from docker run -t")
  end)

  it("removes a --rm container after it exits", function()
    local before = count_test_containers()
    run("busybox true")
    assert.are.equal(before, count_test_containers())
  end)
end)

describe("dpty run errors", function()
  after_each(function() T.cleanup() end)

  it("exits 125 with a clear message when the image is missing (and cannot be pulled)", function()
    local _, err, code = run("--pull never nosuchimage-dpty:latest true")
    assert.are.equal(125, code)
    assert.matches("No such image: nosuchimage%-dpty:latest", err)
    -- a registry that refuses at once: no traffic leaves the machine
    _, err, code = run("127.0.0.1:1/nosuchimage-dpty:latest true")
    assert.are.equal(125, code)
    assert.matches("Unable to find image '127.0.0.1:1/nosuchimage%-dpty:latest' locally", err)
  end)

  it("exits 127 when the command does not exist and leaves no container", function()
    local _, err, code = run("busybox /nosuch")
    assert.are.equal(127, code)
    assert.matches("/nosuch", err)
    assert.are.equal(0, count_test_containers())
  end)

  it("exits 126 when the command cannot be executed", function()
    local _, _, code = run("busybox /etc")
    assert.are.equal(126, code)
    assert.are.equal(0, count_test_containers())
  end)

  it("exits 125 with docker's hint when the engine is unreachable", function()
    local _, err, code = T.sh("DOCKER_HOST=unix:///nonexistent.sock " .. T.quote(dpty) .. " run --rm busybox true")
    assert.are.equal(125, code)
    assert.matches("Cannot connect to the Docker daemon at unix:///nonexistent.sock", err, 1, true)
  end)

  it("refuses a bad flag with 125 before creating anything", function()
    local _, err, code = run("--bogus busybox true")
    assert.are.equal(125, code)
    assert.matches("unknown flag: %-%-bogus", err)
    assert.are.equal(0, count_test_containers())
  end)

  it("refuses bad detach keys before creating anything", function()
    local _, err, code = run("--detach-keys=ctrl-P -it busybox sh")
    assert.are.equal(125, code)
    assert.matches("ctrl%-P", err)
    assert.are.equal(0, count_test_containers())
  end)

  it("refuses -t -i when stdin is not a terminal, before creating anything", function()
    local _, err, code = run("-it busybox sh", "/dev/null")
    assert.are.equal(1, code)
    assert.matches("not a TTY", err)
    assert.are.equal(0, count_test_containers())
  end)
end)

describe("dpty exec without a terminal", function()
  local name
  setup(function()
    name = T.name("exec")
    local _, err, code = T.docker { "run", "-d", "--name", name, "--network", "none", "--label", T.label, "busybox", "sleep", "600" }
    assert(code == 0, err)
  end)
  teardown(function() T.cleanup() end)

  it("passes the exit code on and keeps stdout and stderr apart", function()
    local out, err, code = T.sh(T.quote(dpty) .. " exec " .. name .. " sh -c 'echo o; echo e >&2; exit 9'")
    assert.are.equal("o\n", out)
    assert.are.equal("e\n", err)
    assert.are.equal(9, code)
  end)

  it("delivers piped stdin and its EOF", function()
    local input = os.tmpname()
    local data = ("0123456789abcdef\n"):rep(65536)
    write_file(input, data)
    local out, _, code = T.sh(T.quote(dpty) .. " exec -i " .. name .. " sh -c 'cat; exit 2' <" .. input)
    os.remove(input)
    assert.are.equal(#data, #out)
    assert.is_true(out == data)
    assert.are.equal(2, code)
  end)

  it("exits 126 for a command that is not there", function()
    local out, _, code = T.sh(T.quote(dpty) .. " exec " .. name .. " nosuchcmd")
    assert.are.equal(126, code)
    assert.matches("nosuchcmd", out)
  end)

  it("fails clearly for a container that does not exist", function()
    local _, err, code = T.sh(T.quote(dpty) .. " exec nosuch-container-dpty true")
    assert.are_not.equal(0, code)
    assert.matches("No such container: nosuch%-container%-dpty", err)
  end)
end)
