-- The dpty command line: `dpty run | attach | exec | version`, and `dpty SCRIPT.lua`.
-- The verbs are written on the public API, as a user's script would be.
local core = require "dpty.core"
local flags = require "dpty.flags"
local keys = require "dpty.keys"

local M = {}

local USAGE = [[
Usage:  dpty [GLOBAL OPTIONS] COMMAND [ARGS...]
        dpty [GLOBAL OPTIONS] SCRIPT.lua [ARGS...]

The pseudo-terminal of a Docker container, for your terminal or a Lua script.

Commands:
  run      Create and run a new container, attached to this terminal
  attach   Attach this terminal to a running container
  exec     Run a command in a running container
  version  Show the dpty and Docker Engine versions

Global options:
  -H, --host string   Docker daemon socket (unix:///path, tcp://host:port, ssh://[user@]host;
                      default DOCKER_HOST; TLS with DOCKER_TLS_VERIFY and DOCKER_CERT_PATH)
  -c, --context name  Docker context to use (default DOCKER_CONTEXT, then config.json's currentContext)
      --no-config     Do not run the user's init file
  -h, --help          Show this help

Run 'dpty COMMAND --help' for more on a command. Detach with ctrl-p,ctrl-q (or --detach-keys,
or "detachKeys" in $DOCKER_CONFIG/config.json).
]]

local function say(fmt, ...) io.stderr:write("dpty: ", fmt:format(...), "\n") end

-- After a raw-mode session the cursor may sit mid-line: start the message on its own.
local function say_on_new_line(fmt, ...)
  if core.isatty(2) then io.stderr:write("\r\n") end
  say(fmt, ...)
end

-- A user error before anything was created: the message, a hint, and docker's code 125.
local function usage_error(verb, msg)
  say("%s", msg)
  io.stderr:write(("See 'dpty %s--help'.\n"):format(verb and (verb .. " ") or ""))
  return 125
end

local RUN_FLAGS = {
  { long = "interactive", short = "i", help = "Keep STDIN open and attach it" },
  { long = "tty", short = "t", help = "Allocate a pseudo-TTY" },
  { long = "rm", help = "Remove the container when it exits (or when dpty is stopped)" },
  { long = "name", arg = true, help = "Assign a name to the container" },
  { long = "env", short = "e", arg = true, multi = true, meta = "K=V", help = "Set environment variables" },
  { long = "workdir", short = "w", arg = true, help = "Working directory inside the container" },
  { long = "user", short = "u", arg = true, help = "Username or UID (format: <name|uid>[:<group|gid>])" },
  { long = "entrypoint", arg = true, help = "Overwrite the default ENTRYPOINT of the image" },
  { long = "network", arg = true, help = "Connect a container to a network (e.g. none)" },
  { long = "label", short = "l", arg = true, multi = true, meta = "K=V", help = "Set metadata on the container" },
  { long = "detach-keys", arg = true, help = "Override the key sequence for detaching" },
  { long = "sig-proxy", help = "Proxy received signals to the container (non-TTY; default true)" },
  { long = "pull", arg = true, meta = "string", help = 'Pull image before running ("always", "missing", "never") (default "missing")' },
  { long = "help", help = "Show this help" },
}

local ATTACH_FLAGS = {
  { long = "detach-keys", arg = true, help = "Override the key sequence for detaching" },
  { long = "no-stdin", help = "Do not attach STDIN" },
  { long = "sig-proxy", help = "Proxy received signals to the container (non-TTY; default true)" },
  { long = "logs", help = "Replay the container's earlier output first" },
  { long = "help", help = "Show this help" },
}

local EXEC_FLAGS = {
  { long = "interactive", short = "i", help = "Keep STDIN open and attach it" },
  { long = "tty", short = "t", help = "Allocate a pseudo-TTY" },
  { long = "env", short = "e", arg = true, multi = true, meta = "K=V", help = "Set environment variables" },
  { long = "workdir", short = "w", arg = true, help = "Working directory inside the container" },
  { long = "user", short = "u", arg = true, help = "Username or UID" },
  { long = "privileged", help = "Give extended privileges to the command" },
  { long = "detach-keys", arg = true, help = "Override the key sequence for detaching" },
  { long = "help", help = "Show this help" },
}

local function help(verb, usage, spec)
  io.stdout:write("Usage:  dpty ", verb, " ", usage, "\n\nOptions:\n", flags.usage(spec), "\n")
  return 0
end

-- The engine as the docker CLI picks it: --context, -H, DOCKER_HOST, DOCKER_CONTEXT,
-- config.json's currentContext (set up by main from the global options).
local function connect()
  local dpty = require "dpty"
  local ok, docker = pcall(dpty.docker)
  if not ok then return nil, docker end
  local up, err = docker:ping()
  if not up then return nil, err end
  return docker
end

-- What every verb does before it touches the engine: flags, --help, the argument count, the
-- detach keys (checked now, so nothing is created with keys the Engine would refuse) and
-- -t -i without a terminal. -> options, rest | nil, exit code
local function verb_args(verb, spec, usage, args, first, min_args, what)
  local o, rest = flags.parse(spec, args, first)
  if not o then return nil, usage_error(verb, rest) end
  if o.help then return nil, help(verb, usage, spec) end
  if #rest < min_args then return nil, usage_error(verb, ('"dpty %s" requires %s'):format(verb, what)) end
  local valid, kerr = keys.detach(o["detach-keys"])
  if not valid then return nil, usage_error(verb, kerr) end
  if o.tty and o.interactive and not core.isatty(0) then
    say("the input device is not a TTY: drop -t, or run dpty from a terminal")
    return nil, 1
  end
  return o, rest
end

-- The engine, or a message and docker's 125.
local function engine_or_fail()
  local docker, err = connect()
  if not docker then say("%s", err) end
  return docker
end

-- After a session: the exit code, and a word for the person when it did not just exit.
local function session_outcome(verb, s, code, why, extra)
  if code then return code end
  if why == "detached" then
    local who = s.kind == "exec" and ("an exec in " .. (s.name or s.id:sub(1, 12))) or (s.name ~= "" and s.name or s.id:sub(1, 12))
    say_on_new_line("detached from %s, which is still running%s", who,
      s.kind == "container" and (" (dpty attach " .. (s.name ~= "" and s.name or s.id:sub(1, 12)) .. " to come back)") or "")
    return verb == "run" and 0 or 1
  elseif why == "signal" then
    return 128 + extra
  elseif why == "output closed" then
    return 141
  elseif why == "forced" then
    say("got 3 SIGTERM/SIGINTs, forcefully exiting")
    return 1
  end
  say("%s", tostring(why))
  return type(extra) == "number" and extra or 125
end

-- attach and exec: the session (or why there is none) to its exit code
local function interact_to_the_end(verb, s, err)
  if not s then
    say("%s", err)
    return 1
  end
  local code, why, extra = s:interact()
  local result = session_outcome(verb, s, code, why, extra)
  s:close()
  return result
end

function M.run(args, first)
  local o, rest = verb_args("run", RUN_FLAGS, "[OPTIONS] IMAGE [COMMAND] [ARG...]", args, first, 1,
    "at least 1 argument (the image)")
  if not o then return rest end
  local pull = require "dpty.pull"
  local policy = o.pull or "missing"
  if not pull.POLICIES[policy] then
    return usage_error("run", ('invalid pull option: %q: must be one of "always", "missing" or "never"'):format(policy))
  end
  local image = table.remove(rest, 1)
  local docker = engine_or_fail()
  if not docker then return 125 end
  local dpty = require "dpty"
  local rows, cols = core.term_size(1)
  local labels
  for _, l in ipairs(o.label or {}) do
    local k, v = l:match("^([^=]+)=?(.*)$")
    if not k then return usage_error("run", ("invalid label %q: use KEY=VALUE"):format(l)) end
    labels = labels or {}
    labels[k] = v
  end
  local body = {
    Image = image, Cmd = #rest > 0 and rest or nil, Tty = o.tty or false,
    OpenStdin = o.interactive or false, StdinOnce = o.interactive or false,
    AttachStdin = o.interactive or false, AttachStdout = true, AttachStderr = true,
    Env = o.env, WorkingDir = o.workdir, User = o.user, Labels = labels,
    Entrypoint = o.entrypoint and { o.entrypoint } or nil,
    HostConfig = { AutoRemove = o.rm or false, NetworkMode = o.network,
      ConsoleSize = (o.tty and rows) and { rows, cols } or nil },
  }
  -- as docker: "always" pulls first; "missing" pulls when create says the image is missing
  if policy == "always" then
    local pulled, perr = pull.pull_with_progress(docker, image, io.stderr)
    if not pulled then
      say("%s", perr)
      return 125
    end
  end
  local id, cerr, status = docker:create(body, o.name)
  if not id and status == 404 and policy == "missing" and cerr:find("No such image", 1, true) then
    local pulled, perr = pull.pull_with_progress(docker, image, io.stderr, { missing = true })
    if not pulled then
      say("%s", perr)
      return 125
    end
    id, cerr, status = docker:create(body, o.name)
  end
  if not id then
    say("%s", cerr)
    return 125
  end
  local s
  -- A --rm container that must go (dpty stopped, an error): killed, and gone before dpty
  -- exits. The Engine's own AutoRemove races a DELETE, so wait for the removal it reports.
  local function discard()
    if not o.rm then return end
    local killed = docker:kill(id, "KILL")
    if killed and s and s.waiter and not s.closed then
      require("dpty.loop").run_until(s.waiter.done, 10)
    end
    docker:remove(id, { force = true })
  end
  local aerr
  s, aerr = dpty.attach(docker, id, { stdin = o.interactive, detach_keys = o["detach-keys"], size = "host",
    sig_proxy = o["sig-proxy"] })
  if not s then
    say("%s", aerr)
    discard()
    return 125
  end
  -- Whatever happens from here, a --rm container does not outlive this dpty.
  local ok, code, why, extra = pcall(function()
    local started, serr, scode = s:start()
    if not started then return nil, serr, scode end
    return s:interact()
  end)
  if not ok then
    discard()
    s:close()
    error(code, 0)
  end
  if code == nil and why ~= "detached" then discard() end
  local result = session_outcome("run", s, code, why, extra)
  s:close()
  return result
end

function M.attach(args, first)
  local what = "exactly 1 argument (the container)"
  local o, rest = verb_args("attach", ATTACH_FLAGS, "[OPTIONS] CONTAINER", args, first, 1, what)
  if not o then return rest end
  if #rest > 1 then return usage_error("attach", '"dpty attach" requires ' .. what) end
  local docker = engine_or_fail()
  if not docker then return 125 end
  local info, ierr = docker:inspect(rest[1])
  if not info then
    say("%s", ierr)
    return 1
  end
  if info.Config.Tty and info.Config.OpenStdin and not o["no-stdin"] and not core.isatty(0) then
    say("the input device is not a TTY: use --no-stdin, or attach from a terminal")
    return 1
  end
  local s, aerr = require("dpty").attach(docker, rest[1], { stdin = not o["no-stdin"],
    detach_keys = o["detach-keys"], size = "host", sig_proxy = o["sig-proxy"], logs = o.logs })
  return interact_to_the_end("attach", s, aerr)
end

function M.exec(args, first)
  local o, rest = verb_args("exec", EXEC_FLAGS, "[OPTIONS] CONTAINER COMMAND [ARG...]", args, first, 2,
    "at least 2 arguments (container and command)")
  if not o then return rest end
  local docker = engine_or_fail()
  if not docker then return 125 end
  local container = table.remove(rest, 1)
  local s, eerr = require("dpty").exec(docker, container, rest, {
    tty = o.tty or false, stdin = o.interactive or false, env = o.env, workdir = o.workdir,
    user = o.user, privileged = o.privileged, detach_keys = o["detach-keys"], size = "host",
  })
  return interact_to_the_end("exec", s, eerr)
end

function M.version()
  io.stdout:write(("dpty %s (%s, %s)\n"):format(core.version, _VERSION, core.curl_version and core.curl_version() or "libcurl"))
  local docker, err = connect()
  if not docker then
    io.stdout:write("Engine: unreachable: ", err, "\n")
    return 0
  end
  local status, v = docker:request("GET", "/version")
  if status == 200 and type(v) == "table" then
    io.stdout:write(("Engine: %s (API %s, using %s) at %s\n"):format(v.Version, v.ApiVersion, docker.api, docker.host))
  end
  return 0
end

-- dpty SCRIPT.lua ARGS...: the script sees `arg` and `...` as under lua.
function M.script(args, first)
  local path = args[first]
  local chunk, err = loadfile(path)
  if not chunk then error(err, 0) end
  local script_arg = { [-1] = args[0], [0] = path }
  for k = first + 1, #args do script_arg[#script_arg + 1] = args[k] end
  _G.arg = script_arg
  local r = chunk(table.unpack(script_arg, 1, #script_arg))
  require("dpty.loop").finish_tasks() -- tasks the script started run to their end
  if math.type(r) == "integer" then return r end
  if r == false then return 1 end
  return 0
end

local VERBS = { run = M.run, attach = M.attach, exec = M.exec, version = M.version }

-- The user's init file: $DPTY_CONFIG, else $XDG_CONFIG_HOME/dpty/init.lua, else
-- ~/.config/dpty/init.lua. -> path or nil; explicit = named by DPTY_CONFIG (must exist).
function M.config_path()
  local explicit = os.getenv("DPTY_CONFIG")
  if explicit and explicit ~= "" then return explicit, true end
  local xdg = os.getenv("XDG_CONFIG_HOME")
  if xdg and xdg ~= "" then return xdg .. "/dpty/init.lua" end
  local home = os.getenv("HOME")
  if home and home ~= "" then return home .. "/.config/dpty/init.lua" end
  return nil
end

-- Runs the init file; true, or nil and a message with file:line.
function M.load_config()
  local path, explicit = M.config_path()
  if not path then return true end
  local f = io.open(path, "r")
  if not f then
    if explicit then return nil, ("DPTY_CONFIG names %s, which cannot be read"):format(path) end
    return true
  end
  f:close()
  local chunk, err = loadfile(path)
  if not chunk then return nil, err end
  local ok, rerr = xpcall(chunk, debug.traceback)
  if not ok then return nil, rerr end
  return true
end

-- argv as main() gives it (argv[0] = program) -> exit code
function M.main(argv)
  local global = {}
  local i = 1
  while argv[i] do
    local a = argv[i]
    if a == "-H" or a == "--host" then
      global.host = argv[i + 1]
      if not global.host then return usage_error(nil, "flag needs an argument: " .. a) end
      i = i + 2
    elseif a:match("^%-%-host=") then
      global.host = a:sub(8)
      i = i + 1
    elseif a == "--context" or a == "-c" then
      global.context = argv[i + 1]
      if not global.context then return usage_error(nil, "flag needs an argument: " .. a) end
      i = i + 2
    elseif a:match("^%-%-context=") then
      global.context = a:sub(11)
      i = i + 1
    elseif a == "--no-config" then
      global.no_config = true
      i = i + 1
    elseif a == "-h" or a == "--help" or a == "help" then
      io.stdout:write(USAGE)
      return 0
    elseif a == "-v" or a == "--version" then
      return M.version(argv, i + 1, global)
    elseif a:sub(1, 1) == "-" then
      return usage_error(nil, "unknown flag: " .. a)
    else
      break
    end
  end
  local verb = argv[i]
  if not verb then
    io.stderr:write(USAGE)
    return 125
  end
  if global.host then require("dpty.engine").default_host = global.host end
  if global.context then require("dpty.engine").default_context = global.context end
  if not global.no_config then
    local ok, err = M.load_config()
    if not ok then
      say("in your init file: %s", err)
      io.stderr:write("(nothing was started; fix it, or run with --no-config)\n")
      return 125
    end
  end
  local fn = VERBS[verb]
  if fn then return fn(argv, i + 1, global) end
  if verb:match("%.lua$") or io.open(verb, "r") then return M.script(argv, i) end
  return usage_error(nil, ("'%s' is not a dpty command or a Lua script"):format(verb))
end

return M
