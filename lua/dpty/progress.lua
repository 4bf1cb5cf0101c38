-- The pull progress display, as the docker CLI draws it (moby pkg/jsonmessage):
--   local d = progress.new(io.stderr)       -- terminal or not: decided from the file
--   docker:pull(image, { on_progress = function(ev) d:event(ev) end })
--   d:finish()
-- On a terminal each layer has its own line ("9321b0fa00e2: Downloading [==>   ]  1.2MB/3.4MB"),
-- redrawn in place: the cursor goes up to the layer's line (ESC[nA), clears it (ESC[2K),
-- writes, and comes back down (ESC[nB). Anything else is written as plain lines, and a
-- layer's line only when its state changes (no bar, no escape codes, no repeats).
local core = require "dpty.core"

local M = {}

M.BAR = 50 -- docker's bar: 50 cells and the ">" head

local UNITS = { "B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB" }

-- Bytes for people, as docker (go-units HumanSize): 1000-based, 4 significant digits.
--   527 -> "527B", 32768 -> "32.77kB", 3001227 -> "3.001MB", 2e9 -> "2GB"
function M.human_size(n)
  n = tonumber(n) or 0
  local i = 1
  while n >= 1000 and i < #UNITS do
    n = n / 1000
    i = i + 1
  end
  return ("%.4g%s"):format(n, UNITS[i])
end

-- docker's bar for current/total, `width` cells between the brackets (+ the head).
function M.bar(current, total, width)
  width = width or M.BAR
  -- docker: whole percents halved (0..50); scaled for a narrower bar
  local halves = math.max(0, math.min(50, math.floor(current / total * 100) // 2))
  local filled = halves * width // M.BAR
  return "[" .. ("="):rep(filled) .. ">" .. (" "):rep(width - filled) .. "]"
end

-- The byte counts of a progress event: "  1.2MB/3.4MB", or just what arrived when the
-- total is unknown (or wrong).
function M.counts(current, total)
  if total <= 0 or current > total then return ("%8s"):format(M.human_size(current)) end
  return ("%8s/%s"):format(M.human_size(current), M.human_size(total))
end

local function detail(ev)
  local d = type(ev.progressDetail) == "table" and ev.progressDetail or {}
  return tonumber(d.current) or 0, tonumber(d.total) or 0
end

-- The text of one layer line, fitted into `cols` columns when given: the bar is docker's
-- 50 cells when there is room, narrower when not, left out below 10 cells.
function M.layer_line(ev, cols)
  local head = (ev.id and ev.id ~= "" and (ev.id .. ": ") or "") .. tostring(ev.status or "")
  local current, total = detail(ev)
  if current <= 0 and total <= 0 then return M.fit(head, cols) end
  local counts = M.counts(current, total)
  if total <= 0 then return M.fit(head .. " " .. counts, cols) end
  local room = cols and (cols - 1 - #head - #counts - 5) or M.BAR -- " [", ">", "] "
  local width = math.min(M.BAR, room)
  if width < 10 then return M.fit(head .. " " .. counts, cols) end
  return M.fit(head .. " " .. M.bar(current, total, width) .. " " .. counts, cols)
end

-- Cut a line so that it never wraps (a wrapped line would throw the cursor moves off).
function M.fit(text, cols)
  if cols and #text > cols - 1 then return text:sub(1, math.max(cols - 1, 1)) end
  return text
end

-- A layer event is one docker keeps on its own line: it has an id and progress details
-- (the Engine sends progressDetail, maybe empty, with every layer state).
local function is_layer(ev)
  return type(ev.id) == "string" and ev.id ~= "" and type(ev.progressDetail) == "table"
end

local function writer(out)
  if type(out) == "function" then return out end
  return function(s)
    out:write(s)
    if out.flush then out:flush() end
  end
end

-- The descriptor behind a standard stream, to ask whether it is a terminal.
local function fd_of(out)
  if out == io.stderr then return 2 end
  if out == io.stdout then return 1 end
  return nil
end

local Display = {}
Display.__index = Display

-- progress.new(out, opts) -> display
--   out: a file (default io.stderr) or a function(text)
--   opts.tty: draw for a terminal (default: out is io.stdout/io.stderr and a terminal)
--   opts.cols: the terminal's width (default: asked on every redraw, so a resize is followed)
function M.new(out, opts)
  opts = opts or {}
  out = out or io.stderr
  local fd = fd_of(out)
  local tty = opts.tty
  if tty == nil then tty = fd ~= nil and core.isatty(fd) end
  return setmetatable({
    write = writer(out), tty = tty and true or false, fd = fd, cols = opts.cols,
    lines = {}, count = 0, -- terminal: layer id -> line number (0-based), and how many
    last = {},             -- plain: layer id -> the last state written
  }, Display)
end

function Display:width()
  if self.cols then return self.cols end
  if self.fd then
    local _, cols = core.term_size(self.fd)
    return cols
  end
  return nil
end

-- docker's algorithm: a layer's line is lines[id] counted from the first layer line; the
-- cursor rests on the line below the last one. A line without a layer (a status) is
-- written there and starts a new block, as later layer lines must not move above it.
function Display:_terminal(ev)
  if not is_layer(ev) then
    self.lines, self.count = {}, 0
    self.write("\27[2K\r" .. M.fit(M.layer_line(ev), self:width()) .. "\n")
    return
  end
  local line = self.lines[ev.id]
  if not line then
    line = self.count
    self.lines[ev.id] = line
    self.count = self.count + 1
    self.write("\n")
  end
  local up = self.count - line
  self.write(("\27[%dA\27[2K\r%s\r\27[%dB"):format(up, M.layer_line(ev, self:width()), up))
end

function Display:_plain(ev)
  if not is_layer(ev) then
    self.write(M.layer_line(ev) .. "\n")
    return
  end
  if self.last[ev.id] == ev.status then return end
  self.last[ev.id] = ev.status
  self.write(ev.id .. ": " .. tostring(ev.status) .. "\n")
end

-- display:event(ev): one decoded line of the Engine's stream. Error lines are left to the
-- caller (it has the message from pull's result); aux lines carry no text.
function Display:event(ev)
  if type(ev) ~= "table" or ev.error or ev.errorDetail or ev.status == nil then return end
  if self.tty then self:_terminal(ev) else self:_plain(ev) end
end

-- Nothing is left half-drawn: the cursor already rests below the last line.
function Display:finish() end

-- progress.handler(out, opts) -> function(ev), for docker:pull's on_progress.
function M.handler(out, opts)
  local d = M.new(out, opts)
  return function(ev) d:event(ev) end
end

return M
