-- Command-line flags the docker way: -it, -e K=V (repeatable), --name x, --name=x; flags
-- stop at the first argument that is not one (the image or container), or after "--".
local M = {}

-- spec: list of { long = "name", short = "n", arg = true|nil, multi = true|nil }
-- -> options table (keyed by long name), rest | nil, message
function M.parse(spec, args, first)
  local by_long, by_short = {}, {}
  for _, f in ipairs(spec) do
    by_long[f.long] = f
    if f.short then by_short[f.short] = f end
  end
  local opts = {}
  local function set(f, value)
    if f.multi then
      opts[f.long] = opts[f.long] or {}
      table.insert(opts[f.long], value)
    else
      opts[f.long] = value
    end
  end
  local i = first or 1
  while i <= #args do
    local a = args[i]
    if a == "--" then
      i = i + 1
      break
    elseif a:sub(1, 2) == "--" then
      local name, value = a:match("^%-%-([^=]+)=(.*)$")
      name = name or a:sub(3)
      local f = by_long[name]
      if not f then return nil, ("unknown flag: --%s"):format(name) end
      if f.arg then
        if value == nil then
          i = i + 1
          value = args[i]
          if value == nil then return nil, ("flag needs an argument: --%s"):format(name) end
        end
        set(f, value)
      else
        if value ~= nil and value ~= "true" and value ~= "false" then
          return nil, ("invalid value %q for flag --%s: use true or false"):format(value, name)
        end
        set(f, value ~= "false")
      end
    elseif a:sub(1, 1) == "-" and #a > 1 then
      local j = 2
      while j <= #a do
        local c = a:sub(j, j)
        local f = by_short[c]
        if not f then return nil, ("unknown shorthand flag: '%s' in %s"):format(c, a) end
        if f.arg then
          local value = a:sub(j + 1)
          if value:sub(1, 1) == "=" then value = value:sub(2) end
          if value == "" then
            i = i + 1
            value = args[i]
            if value == nil then return nil, ("flag needs an argument: '%s' in %s"):format(c, a) end
          end
          set(f, value)
          break
        end
        set(f, true)
        j = j + 1
      end
    else
      break
    end
    i = i + 1
  end
  local rest = {}
  for k = i, #args do rest[#rest + 1] = args[k] end
  return opts, rest
end

-- Lines describing the flags, for --help.
function M.usage(spec)
  local lines = {}
  for _, f in ipairs(spec) do
    local left = (f.short and ("-" .. f.short .. ", ") or "    ") .. "--" .. f.long .. (f.arg and (" " .. (f.meta or "string")) or "")
    lines[#lines + 1] = ("  %-28s %s"):format(left, f.help or "")
  end
  return table.concat(lines, "\n")
end

return M
