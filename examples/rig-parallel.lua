-- Many containers at once from one script: each task starts a busybox shell, waits for the
-- prompt, runs a command, matches its output and exits. N from the first argument (10).
--   dpty examples/rig-parallel.lua 50
local dpty = require "dpty"

local n = tonumber(arg[1]) or 10
local docker = dpty.docker()

local function one(i)
  local id = assert(docker:create {
    Image = os.getenv("RIG_IMAGE") or "busybox", Cmd = { "sh" }, Tty = true, OpenStdin = true,
    Env = { "PS1=c" .. i .. "$ " }, Labels = { ["dpty.test"] = os.getenv("DPTY_TEST_RUN") or "rig" },
    HostConfig = { NetworkMode = "none", AutoRemove = true },
  })
  local s <close> = assert(dpty.attach(docker, id, { kill_on_close = true }))
  assert(s:start())
  s:expect("c" .. i .. "$ ", 30)
  s:sendline(("echo task-%d-$((%d * %d))"):format(i, i, i))
  s:expect(("task-%d-%d"):format(i, i * i), 30)
  s:sendline("exit")
  s:expect(dpty.EOF, 30)
  return s:wait()
end

local tasks = {}
for i = 1, n do tasks[i] = dpty.go(one, i) end
local results = dpty.wait_all(tasks)
for i, r in ipairs(results) do assert(r[1] == 0, ("task %d exited %s"):format(i, tostring(r[1]))) end
print(("rig-parallel: %d sessions ok"):format(n))
