-- Wireshark/tshark dissector for PPN mesh commands on UDP 8090 (docs/protocol/commands.md).
-- Use: tshark -X lua_script:tools/wireshark/ppn-commands.lua -r capture.pcap -O ppncmd
-- It decodes fields only; the tag needs the per-node key and is shown, not checked.

local ppn = Proto("ppncmd", "PPN mesh command")

local intents = {
  [0] = "noop", [1] = "identify", [2] = "reboot", [3] = "poweroff", [4] = "nic-retune",
  [5] = "beacon-rescan", [6] = "genesis-reset-arm", [7] = "genesis-reset-confirm",
}
local kinds = { [0] = "node", [1] = "group", [2] = "all", [3] = "reserved" }

local f = {
  version  = ProtoField.uint8("ppncmd.version", "Version", base.DEC, nil, 0xF0),
  epoch    = ProtoField.uint8("ppncmd.epoch", "Key epoch", base.DEC, nil, 0x0F),
  intent   = ProtoField.uint8("ppncmd.intent", "Intent", base.HEX, intents, 0xF0),
  argument = ProtoField.uint8("ppncmd.argument", "Argument", base.DEC, nil, 0x0F),
  kind     = ProtoField.uint16("ppncmd.target.kind", "Target kind", base.DEC, kinds, 0xC000),
  id       = ProtoField.uint16("ppncmd.target.id", "Target id", base.DEC, nil, 0x3FFF),
  counter  = ProtoField.uint32("ppncmd.counter", "Counter", base.DEC),
  tag      = ProtoField.bytes("ppncmd.tag", "Tag (BLAKE2b-256 keyed, first 8 bytes)"),
  name     = ProtoField.string("ppncmd.intent_name", "Intent name"),
  malformed = ProtoField.string("ppncmd.malformed", "Malformed"),
}
ppn.fields = { f.version, f.epoch, f.intent, f.argument, f.kind, f.id, f.counter, f.tag, f.name, f.malformed }

function ppn.dissector(buffer, pinfo, tree)
  pinfo.cols.protocol = "PPN-CMD"
  local subtree = tree:add(ppn, buffer(), "PPN mesh command")
  if buffer:len() ~= 16 then
    subtree:add(f.malformed, string.format("length %d, a command is exactly 16 bytes", buffer:len()))
    pinfo.cols.info = string.format("malformed (%d bytes)", buffer:len())
    return
  end
  -- Wireshark 4.0 embeds Lua 5.2 (no bitwise operators): shifts and masks by arithmetic.
  local code = math.floor(buffer(1, 1):uint() / 16)
  local arg = buffer(1, 1):uint() % 16
  local selector = buffer(2, 2):uint()
  local name = intents[code] or string.format("unknown-%d", code)
  subtree:add(f.version, buffer(0, 1))
  subtree:add(f.epoch, buffer(0, 1))
  subtree:add(f.intent, buffer(1, 1))
  subtree:add(f.argument, buffer(1, 1))
  subtree:add(f.name, buffer(1, 1), name)
  local target = subtree:add(buffer(2, 2), "Target selector")
  target:add(f.kind, buffer(2, 2))
  target:add(f.id, buffer(2, 2))
  subtree:add(f.counter, buffer(4, 4))
  subtree:add(f.tag, buffer(8, 8))
  local kind = kinds[math.floor(selector / 16384)]
  local where = kind
  if kind ~= "all" then where = string.format("%s %d", kind, selector % 16384) end
  pinfo.cols.info = string.format("%s arg=%d -> %s epoch=%d counter=%d", name, arg, where,
    buffer(0, 1):uint() % 16, buffer(4, 4):uint())
end

DissectorTable.get("udp.port"):add(8090, ppn)
