-- A test rig for a shell in a container: run commands, match their output, check the exit
-- code. Run it with `dpty examples/rig-shell.lua`: it exits non-zero with a report when an
-- expectation fails.
local dpty = require "dpty"

local docker = dpty.docker()
local id = assert(docker:create {
  Image = os.getenv("RIG_IMAGE") or "busybox", Cmd = { "sh" }, Tty = true, OpenStdin = true,
  Env = { "PS1=rig$ " }, Labels = { ["dpty.test"] = os.getenv("DPTY_TEST_RUN") or "rig" },
  HostConfig = { NetworkMode = "none", AutoRemove = true },
})
local s <close> = assert(dpty.attach(docker, id, { kill_on_close = true }))
assert(s:start())

s:expect("rig$ ")
s:sendline("echo $((6 * 7))")
local _, m = s:expect(dpty.re("([0-9]+)\r\n"))
assert(m.captures[1] == "42", "6*7 came out as " .. m.captures[1])

s:sendline("ls /nosuch; echo status=$?")
local _, st = s:expect(dpty.pat("status=(%d+)"))
assert(st.captures[1] ~= "0", "ls of a missing path succeeded")

s:sendline("exit 3")
s:expect(dpty.EOF)
local code = s:wait()
assert(code == 3, "exit code " .. tostring(code))
print("rig-shell: ok")
