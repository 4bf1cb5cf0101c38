-- A busted output handler for spec/support/test.sh: busted's plain terminal output, plus the
-- name of what is running now written to the file $DPTY_SPEC_NOW at every test and every
-- describe block (whose setup runs before its first test). When test.sh's watchdog stops a
-- spec file that hangs, that file says where it hung.
--   lua5.4 /usr/bin/busted -o spec/support/watched_output.lua FILE
return function(options)
  local busted = require "busted"
  local handler = require "busted.outputHandlers.plainTerminal"(options)
  local now_path = os.getenv "DPTY_SPEC_NOW"
  if not now_path then return handler end

  local function where(element)
    local trace = element.trace
    if trace and trace.short_src then return ("%s:%d"):format(trace.short_src, trace.currentline or 0) end
    return "?"
  end

  local function mark(text)
    local f = io.open(now_path, "w")
    if f then
      f:write(os.date "!%H:%M:%S", " ", text, "\n")
      f:close()
    end
  end

  local plain_subscribe = handler.subscribe
  handler.subscribe = function(self, opts)
    plain_subscribe(self, opts)
    busted.subscribe({ "describe", "start" }, function(element)
      mark(("describe %q (its setup, or between its tests) at %s"):format(handler.getFullName(element), where(element)))
      return nil, true
    end)
    busted.subscribe({ "test", "start" }, function(element)
      mark(("test %q at %s"):format(handler.getFullName(element), where(element)))
      return nil, true
    end)
    busted.subscribe({ "test", "end" }, function(element)
      mark(("after test %q (an after_each or teardown)"):format(handler.getFullName(element)))
      return nil, true
    end)
  end
  return handler
end
