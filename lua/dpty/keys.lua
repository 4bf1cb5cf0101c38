-- Key specs: docker's grammar ("ctrl-p,ctrl-q": ctrl-@..ctrl-_, single characters, DEL,
-- comma-separated) extended with named keys and alt-<key>. A spec compiles to the list of
-- byte sequences that mean it: arrows and home/end have two encodings (normal and
-- application cursor keys), so a binding matches whichever mode the program chose.
local core = require "dpty.core"
local config = require "dpty.config"

local M = {}

M.DEFAULT_DETACH = "ctrl-p,ctrl-q"

local ESC = "\27"
local NAMED = {
  esc = { ESC }, tab = { "\t" }, enter = { "\r" }, space = { " " }, backspace = { "\127", "\8" },
  up = { ESC .. "[A", ESC .. "OA" }, down = { ESC .. "[B", ESC .. "OB" },
  right = { ESC .. "[C", ESC .. "OC" }, left = { ESC .. "[D", ESC .. "OD" },
  home = { ESC .. "[H", ESC .. "OH", ESC .. "[1~", ESC .. "[7~" },
  ["end"] = { ESC .. "[F", ESC .. "OF", ESC .. "[4~", ESC .. "[8~" },
  pgup = { ESC .. "[5~" }, pgdn = { ESC .. "[6~" }, insert = { ESC .. "[2~" }, delete = { ESC .. "[3~" },
  f1 = { ESC .. "OP", ESC .. "[11~" }, f2 = { ESC .. "OQ", ESC .. "[12~" },
  f3 = { ESC .. "OR", ESC .. "[13~" }, f4 = { ESC .. "OS", ESC .. "[14~" },
  f5 = { ESC .. "[15~" }, f6 = { ESC .. "[17~" }, f7 = { ESC .. "[18~" }, f8 = { ESC .. "[19~" },
  f9 = { ESC .. "[20~" }, f10 = { ESC .. "[21~" }, f11 = { ESC .. "[23~" }, f12 = { ESC .. "[24~" },
}
M.NAMED = NAMED

local HELP = "keys are docker's (ctrl-a..ctrl-z, ctrl-@, ctrl-[, ctrl-\\, ctrl-], ctrl-^, ctrl-_, DEL, "
  .. "a single character), esc, tab, enter, space, backspace, up, down, left, right, home, end, "
  .. "pgup, pgdn, insert, delete, f1..f12 and alt-<key>, comma-separated"

-- One token -> list of alternative byte strings, or nil.
local function token(tok)
  if NAMED[tok] then return NAMED[tok] end
  local rest = tok:match("^alt%-(.+)$")
  if rest then
    local alts = token(rest)
    if not alts then return nil end
    local out = {}
    for i, a in ipairs(alts) do out[i] = ESC .. a end
    return out
  end
  if tok:find(",", 1, true) then return nil end
  local bytes = core.keys_parse(tok)
  return bytes and { bytes } or nil
end

-- spec -> list of byte sequences | nil, message naming the bad key
function M.sequences(spec)
  if type(spec) ~= "string" or spec == "" then return nil, ("empty key spec (%s)"):format(HELP) end
  local seqs = { "" }
  for tok in (spec .. ","):gmatch("(.-),") do
    local alts = tok ~= "" and token(tok)
    if not alts then
      return nil, ("unknown key '%s' in %q (%s)"):format(tok, spec, HELP)
    end
    local next_seqs = {}
    for _, s in ipairs(seqs) do
      for _, a in ipairs(alts) do next_seqs[#next_seqs + 1] = s .. a end
    end
    if #next_seqs > 256 then return nil, ("key spec %q has too many encodings"):format(spec) end
    seqs = next_seqs
  end
  return seqs
end

-- docker's grammar only (what the Engine accepts as detachKeys): spec -> bytes | nil, err
function M.parse(spec)
  return core.keys_parse(spec)
end

-- The detach spec in force: explicit > config.json detachKeys > ctrl-p,ctrl-q.
-- -> spec, bytes | nil, message
function M.detach(explicit)
  local spec = explicit
  if spec == nil or spec == "" then
    local conf, err = config.load()
    if not conf then return nil, err end
    spec = conf.detachKeys
    if spec == nil or spec == "" then spec = M.DEFAULT_DETACH end
  end
  local bytes, err = M.parse(spec)
  if not bytes then return nil, "invalid detach keys: " .. err end
  return spec, bytes
end

return M
