-- s:interact() in the middle of a rig: the person at the terminal takes over (bindings and
-- hooks apply) and the script resumes on a detach binding or at exit. Run through the dpty
-- executable under a real pty, with a local program (no engine needed).
local P = require "support.pty"
local T = require "support.docker"

local function script(text)
  local path = os.tmpname() .. ".lua"
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
  return path
end

describe("hand-over", function()
  it("gives the session to the person and returns to the script on detach", function()
    local path = script [[
      local dpty = require "dpty"
      local s <close> = assert(dpty.spawn({ "/bin/sh" }, { env = { PS1 = "$ ", LD_PRELOAD = false } }))
      s:expect("$ ")
      s:sendline("echo from-script")
      s:expect("from-script\r\n")
      s:bind("f5", "echo bound-key\r")
      io.stdout:write("HANDING OVER\n")
      local code, why = s:interact()
      io.stdout:write("BACK: ", tostring(code), " ", tostring(why), "\n")
      s:sendline("echo script-again")
      s:expect("script-again\r\n")
      s:sendline("exit 5")
      s:expect(dpty.EOF)
      io.stdout:write("CODE ", s:wait(), "\n")
    ]]
    local p <close> = P.spawn({ T.bin(), "--no-config", path })
    local before = p:termios()
    p:expect("HANDING OVER")
    p:sendline("echo typed-by-person")
    p:expect("typed-by-person\r\n")
    p:send("\27[15~") -- f5
    p:expect("bound-key\r\n")
    p:send("\16\17")
    p:expect("BACK: nil detached")
    p:expect("CODE 5")
    assert.are.equal(0, p:wait())
    assert.are.equal(before, p:termios())
    os.remove(path)
  end)

  it("returns the exit code when the program ends while the person has it", function()
    local path = script [[
      local dpty = require "dpty"
      local s <close> = assert(dpty.spawn({ "/bin/sh" }, { env = { PS1 = "$ ", LD_PRELOAD = false } }))
      s:expect("$ ")
      io.stdout:write("GO\n")
      print("ENDED", s:interact())
    ]]
    local p <close> = P.spawn({ T.bin(), "--no-config", path })
    p:expect("GO")
    p:sendline("exit 7")
    p:expect("ENDED\t7")
    assert.are.equal(0, p:wait())
    os.remove(path)
  end)
end)
