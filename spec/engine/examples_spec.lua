-- Every script under examples/ at work, as a user runs it: DPTY_CONFIG=examples/X.lua dpty run -it ...
local P = require "support.pty"
local T = require "support.docker"

local dpty = T.bin()
local PROMPT = "/ # "

local function run_example(file, opts)
  opts = opts or {}
  local env = { DPTY_CONFIG = "examples/" .. file }
  for k, v in pairs(opts.env or {}) do env[k] = v end
  local argv = { dpty, "run", "-it", "--network", "none", "--label", T.label }
  if opts.name then argv[#argv + 1] = "--name=" .. opts.name else argv[#argv + 1] = "--rm" end
  argv[#argv + 1] = "busybox"
  argv[#argv + 1] = "sh"
  return P.spawn(argv, { env = env })
end

local function finish(p, code)
  p:sendline("exit " .. (code or 0))
  p:expect_eof()
  assert.are.equal(code or 0, p:wait())
end

describe("examples", function()
  after_each(function() T.cleanup() end)

  it("detach-ctrl-bracket.lua: ctrl-] detaches, ctrl-p ctrl-q reach the shell", function()
    local name = T.name("ex-bracket")
    local p <close> = run_example("detach-ctrl-bracket.lua", { name = name })
    p:expect(PROMPT)
    p:sendline("stty -ixon; cat -v")
    P.sleep(0.3)
    p:send("\16\17\r")
    p:expect("^P^Q")
    p:send("\29")
    p:expect_eof()
    assert.are.equal(0, p:wait())
    assert.is_true(T.running(name))
  end)

  it("key-types-command.lua: F2 types ls -l /", function()
    local p <close> = run_example("key-types-command.lua")
    p:expect(PROMPT)
    p:send("\27OQ")
    p:expect("ls -l /")
    p:expect({ pattern = "bin%s*\r\n" })
    finish(p)
  end)

  it("transcript.lua: a timestamped transcript grows while the person works", function()
    local log = os.tmpname()
    local p <close> = run_example("transcript.lua", { env = { DPTY_TRANSCRIPT = log } })
    p:expect(PROMPT)
    p:sendline("echo transcribed-$((6*7))")
    p:expect("transcribed-42")
    local f = assert(io.open(log))
    local text = f:read("a")
    f:close()
    assert.matches("transcribed%-42", text) -- already there mid-session
    finish(p, 3)
    f = assert(io.open(log))
    text = f:read("a")
    f:close()
    assert.matches("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%dZ start ", text)
    assert.matches("Z out [^\n]*transcribed%-42", text)
    assert.matches("Z exit 3\n$", text)
    os.remove(log)
  end)

  it("idle-timeout.lua: detaches after DPTY_IDLE seconds without a key, and not before", function()
    local name = T.name("ex-idle")
    local p <close> = run_example("idle-timeout.lua", { name = name, env = { DPTY_IDLE = "3" } })
    p:expect(PROMPT)
    for _ = 1, 4 do -- typing keeps it attached past the limit
      P.sleep(1)
      p:send(" \127")
    end
    p:sendline("echo still-attached")
    p:expect("still-attached")
    p:expect("idle for 3 s: detaching", 8)
    p:expect_eof()
    assert.are.equal(0, p:wait())
    assert.is_true(T.running(name))
  end)

  it("second-shell.lua: ctrl-t opens a second shell, exiting it comes back to the first", function()
    local p <close> = run_example("second-shell.lua")
    p:expect(PROMPT)
    p:sendline("echo first=$$")
    p:expect("first=1\r\n")
    p:send("\20")
    p:expect("second shell: exit it to come back")
    p:expect("BusyBox") -- the exec's banner: it has the terminal now
    p:expect(PROMPT)
    p:sendline("echo second=$$")
    p:expect({ pattern = "second=(%d+)\r\n" })
    p:sendline("exit 7")
    p:expect("back from the second shell (7)")
    p:sendline("echo first-again=$$")
    p:expect("first-again=1\r\n")
    finish(p, 2)
  end)
end)
