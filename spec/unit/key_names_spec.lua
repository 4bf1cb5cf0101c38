-- The extended key grammar (no engine): docker's tokens, named keys, alt-, both cursor-key
-- encodings, errors that name the key.
local keys = require "dpty.keys"
local defaults = require "dpty.defaults"

describe("key specs", function()
  it("keep docker's grammar", function()
    assert.are.same({ "\16\17" }, keys.sequences("ctrl-p,ctrl-q"))
    assert.are.same({ "\29" }, keys.sequences("ctrl-]"))
    assert.are.same({ "\127" }, keys.sequences("DEL"))
    assert.are.same({ "a" }, keys.sequences("a"))
  end)

  it("name keys, with both encodings of cursor keys", function()
    assert.are.same({ "\27[A", "\27OA" }, keys.sequences("up"))
    assert.are.same({ "\27[D", "\27OD" }, keys.sequences("left"))
    assert.are.same({ "\27[H", "\27OH", "\27[1~", "\27[7~" }, keys.sequences("home"))
    assert.are.same({ "\27[15~" }, keys.sequences("f5"))
    assert.are.same({ "\27OP", "\27[11~" }, keys.sequences("f1"))
    assert.are.same({ "\27" }, keys.sequences("esc"))
    assert.are.same({ "\r" }, keys.sequences("enter"))
    assert.are.same({ " " }, keys.sequences("space"))
    assert.are.same({ "\t" }, keys.sequences("tab"))
    assert.are.same({ "\27[3~" }, keys.sequences("delete"))
  end)

  it("take alt-<key> as ESC and the key", function()
    assert.are.same({ "\27x" }, keys.sequences("alt-x"))
    assert.are.same({ "\27\1" }, keys.sequences("alt-ctrl-a"))
    assert.are.same({ "\27\27[A", "\27\27OA" }, keys.sequences("alt-up"))
  end)

  it("combine sequences and their alternatives", function()
    assert.are.same({ "\1\27[A", "\1\27OA" }, keys.sequences("ctrl-a,up"))
  end)

  it("name an unknown key", function()
    for _, bad in ipairs { "f13", "ctrl-P", "alt-", "Up", "a,,b", "", "ctrl-p," } do
      local seqs, err = keys.sequences(bad)
      assert.is_nil(seqs, bad)
      assert.is_string(err)
    end
    local _, err = keys.sequences("ctrl-p,f13")
    assert.matches("unknown key 'f13' in \"ctrl%-p,f13\"", err)
  end)
end)

describe("default bindings", function()
  after_each(function()
    defaults.bindings = {}
    defaults.hooks = {}
  end)

  it("add, replace and remove", function()
    defaults.bind("f2", "ls\r")
    defaults.bind("f2", "pwd\r")
    defaults.bind("ctrl-]", "detach")
    assert.are.equal(2, #defaults.bindings)
    assert.are.equal("pwd\r", defaults.bindings[1].action)
    defaults.bind("f2", false)
    assert.are.equal(1, #defaults.bindings)
  end)

  it("refuse unknown keys, actions and events with a message", function()
    assert.has_error(function() defaults.bind("f13", "x") end)
    assert.has_error(function() defaults.bind("f1", 42) end)
    assert.has_error(function() defaults.on("nosuch", function() end) end)
    assert.has_error(function() defaults.on("output", "not a function") end)
  end)

  it("give the engine the user's detach keys, or keys nobody types", function()
    assert.is_nil(defaults.engine_detach_spec({}))
    defaults.bind("ctrl-],x", "detach")
    assert.are.equal("ctrl-],x", defaults.engine_detach_spec(defaults.bindings))
    defaults.bindings = {}
    defaults.bind("f1", "detach")
    assert.are.equal(defaults.UNTYPEABLE, defaults.engine_detach_spec(defaults.bindings))
  end)
end)
