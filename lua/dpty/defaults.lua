-- What dpty.bind and dpty.on register: the bindings and hooks every later session starts
-- with (a user's init file fills these for the dpty run | attach | exec verbs too).
local keys = require "dpty.keys"

local M = {
  bindings = {}, -- list of { spec =, seqs =, action = }, in the order bound
  hooks = {},    -- event -> list of functions
}

M.EVENTS = { start = true, output = true, input = true, resize = true, detach = true, exit = true }

local function check_action(action, level)
  local t = type(action)
  if action == false or t == "string" or t == "function" then return end
  error("binding action must be \"detach\", a string to send, a function or false (got " .. t .. ")", level + 1)
end

-- Adds, replaces (same spec) or with action false removes a binding in `list`.
function M.bind_into(list, spec, action, level)
  check_action(action, level + 1)
  local seqs, err = keys.sequences(spec)
  if not seqs then error(err, level + 1) end
  for i, b in ipairs(list) do
    if b.spec == spec then
      if action == false then
        table.remove(list, i)
      else
        b.action = action
      end
      return
    end
  end
  if action ~= false then list[#list + 1] = { spec = spec, seqs = seqs, action = action } end
end

function M.check_event(event, fn, level)
  if not M.EVENTS[event] then
    error(("unknown event %q (events: start, output, input, resize, detach, exit)"):format(tostring(event)), level + 1)
  end
  if type(fn) ~= "function" then error("a hook must be a function", level + 1) end
end

function M.bind(spec, action) M.bind_into(M.bindings, spec, action, 2) end

function M.on(event, fn)
  M.check_event(event, fn, 2)
  M.hooks[event] = M.hooks[event] or {}
  table.insert(M.hooks[event], fn)
end

-- Copies for a new session.
function M.snapshot()
  local b, h = {}, {}
  for i, x in ipairs(M.bindings) do b[i] = { spec = x.spec, seqs = x.seqs, action = x.action } end
  for ev, list in pairs(M.hooks) do h[ev] = table.move(list, 1, #list, 1, {}) end
  return b, h
end

-- The detach spec to give the Engine: the user's detach binding if docker can express it;
-- if the user detaches with keys docker cannot name, a sequence nobody types, so the Engine
-- never detaches on a sequence the user did not choose.
M.UNTYPEABLE = "ctrl-_,ctrl-^,ctrl-_,ctrl-^,ctrl-_"
function M.engine_detach_spec(bindings)
  for _, b in ipairs(bindings) do
    if b.action == "detach" then
      if keys.parse(b.spec) then return b.spec end
      return M.UNTYPEABLE
    end
  end
  return nil
end

return M
