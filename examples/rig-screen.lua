-- A full-screen program asserted on the screen: busybox vi, driven by keys, checked through
-- the virtual terminal (text, cursor, cell attributes).
--   dpty examples/rig-screen.lua
local dpty = require "dpty"

local docker = dpty.docker()
local id = assert(docker:create {
  Image = os.getenv("RIG_IMAGE") or "busybox", Cmd = { "vi", "/tmp/rig.txt" }, Tty = true, OpenStdin = true,
  Labels = { ["dpty.test"] = os.getenv("DPTY_TEST_RUN") or "rig" },
  HostConfig = { NetworkMode = "none", AutoRemove = true },
})
local s <close> = assert(dpty.attach(docker, id, { rows = 24, cols = 80, kill_on_close = true }))
assert(s:start())

-- an empty buffer: vi draws "~" on the rows past the end of the file
s:expect_screen(dpty.pat("\n~\n~\n"))
s:send("ihello from a rig")
s:key("esc")
s:send("0")                              -- cursor to the start of the line
s:wait_stable(300)
local screen = s:screen()
assert(screen:line(1):match("^hello from a rig"), "line 1: " .. screen:line(1))
local row, col = screen:cursor()
assert(row == 1 and col == 1, ("cursor at %d,%d"):format(row, col))
assert(screen:cell(1, 1).char == "h")

s:send(":wq\r")
s:expect(dpty.EOF)
assert(s:wait() == 0)
print("rig-screen: ok")
