-- The redis API and the sandbox of one script run (cairn's, trusted: it runs before the
-- user's script, in a fresh Lua state). Arguments: the Rust primitives it wraps.
local call, pcall_cmd, take_pending, over_budget, set_resp, sha1, log, lrand48, srand48,
  version, version_num, bit_lib, cjson_lib, cmsgpack_lib, entry, struct_lib = ...

local error, type, select, tostring, tonumber = error, type, select, tostring, tonumber
local floor, ceil = math.floor, math.ceil
local lua_pcall, lua_xpcall, lua_resume = pcall, xpcall, coroutine.resume
local lua_loadstring, lua_load = loadstring, load
local rawget, rawset, lua_setmetatable, concat, pairs = rawget, rawset, setmetatable, table.concat, pairs

-- Read-only tables, as Redis 7 makes the libraries it exposes: a proxy that refuses writes
-- and metatable changes.
local protected = lua_setmetatable({}, { __mode = 'k' })
local function refuse_write() error('Attempt to modify a readonly table', 2) end
local function readonly(t)
  local proxy = lua_setmetatable({}, { __index = t, __newindex = refuse_write, __metatable = false })
  protected[proxy] = true
  return proxy
end
function setmetatable(t, mt)
  if protected[t] then error('Attempt to modify a readonly table', 2) end
  return lua_setmetatable(t, mt)
end

local function err(msg)
  return { err = msg }
end

local redis = {
  LOG_DEBUG = 0, LOG_VERBOSE = 1, LOG_NOTICE = 2, LOG_WARNING = 3,
  REPL_NONE = 0, REPL_AOF = 1, REPL_SLAVE = 2, REPL_REPLICA = 2, REPL_ALL = 3,
  REDIS_VERSION = version, REDIS_VERSION_NUM = version_num,
}

redis.call = call
redis.pcall = pcall_cmd

function redis.error_reply(...)
  local e = ...
  if select('#', ...) ~= 1 or type(e) ~= 'string' then
    return err('ERR wrong number or type of arguments')
  end
  if e:sub(1, 1) == '-' then e = e:sub(2) end
  if not e:find(' ', 1, true) then e = 'ERR ' .. e end
  return err(e)
end

function redis.status_reply(...)
  local s = ...
  if select('#', ...) ~= 1 or type(s) ~= 'string' then
    return err('ERR wrong number or type of arguments')
  end
  return { ok = s }
end

function redis.sha1hex(...)
  if select('#', ...) ~= 1 then error(err('ERR wrong number of arguments')) end
  local s = ...
  return sha1(tostring(s))
end

function redis.log(...)
  local n = select('#', ...)
  if n < 2 then error(err('ERR redis.log() requires two arguments or more.')) end
  local level = ...
  if type(level) ~= 'number' then error(err('ERR First argument must be a number (log level).')) end
  if level < 0 or level > 3 then error(err('ERR Invalid debug level.')) end
  local parts = {}
  for i = 2, n do parts[#parts + 1] = tostring((select(i, ...))) end
  log(level, concat(parts, ' '))
end

function redis.setresp(...)
  if select('#', ...) ~= 1 then error(err('ERR redis.setresp() requires one argument.')) end
  local v = ...
  if v ~= 2 and v ~= 3 then error(err('ERR RESP version must be 2 or 3.')) end
  set_resp(v)
end

-- Effects are not what replicas receive (every replica runs the script), so the
-- replication controls are accepted and change nothing.
function redis.set_repl(...)
  if select('#', ...) ~= 1 then error(err('ERR redis.set_repl() requires two arguments.')) end
  local flags = ...
  if type(flags) ~= 'number' or flags < 0 or flags > 3 then
    error(err('ERR Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.'))
  end
end
function redis.replicate_commands() return true end
function redis.breakpoint() return false end
function redis.debug() end

-- A script over its instruction budget must stop: nothing may catch that error.
local function rethrow(ok, ...)
  if not ok and over_budget() then error((...), 0) end
  return ok, ...
end
function xpcall(f, handler)
  return rethrow(lua_xpcall(f, handler))
end
function coroutine.resume(co, ...)
  return rethrow(lua_resume(co, ...))
end
-- Built on coroutine.create, whose threads carry the budget (the built-in wrap's do not).
local function unwrap(ok, ...)
  if not ok then error((...), 0) end
  return ...
end
function coroutine.wrap(f)
  local co = coroutine.create(f)
  return function(...) return unwrap(coroutine.resume(co, ...)) end
end

-- pcall as Redis 7 has it: a Redis error table is caught as its message.
local function caught(ok, ...)
  if ok then return ok, ... end
  if over_budget() then error((...), 0) end
  local e = ...
  if type(e) == 'table' and type(rawget(e, 'err')) == 'string' then
    e = rawget(e, 'err')
  elseif type(e) == 'userdata' then
    -- A failed redis.call: its error reply, as Redis's pcall gives it.
    e = take_pending() or e
  end
  return false, e
end
function pcall(...)
  return caught(lua_pcall(...))
end

-- Source only: precompiled chunks could break out of the sandbox.
function loadstring(s, name)
  if type(s) == 'string' and s:byte(1) == 27 then
    return nil, 'binary chunks are not allowed'
  end
  return lua_loadstring(s, name)
end
function load(f, name)
  if type(f) ~= 'function' then return lua_load(f, name) end
  local parts = {}
  while true do
    local piece = f()
    if piece == nil or piece == '' then break end
    parts[#parts + 1] = piece
  end
  return loadstring(concat(parts), name)
end

-- math.random as Redis's: rand48, seeded per entry so every replica draws the same.
local function int_arg(v, n, fname)
  local x = tonumber(v)
  if x == nil then
    error("bad argument #" .. n .. " to '" .. fname .. "' (number expected, got " ..
      (v == nil and 'no value' or type(v)) .. ")", 3)
  end
  if x >= 0 then return floor(x) end
  return ceil(x)
end
function math.random(...)
  local r = (lrand48() % 2147483647) / 2147483647
  local n = select('#', ...)
  if n == 0 then return r end
  if n == 1 then
    local u = int_arg((...), 1, 'random')
    if u < 1 then error("bad argument #1 to 'random' (interval is empty)", 2) end
    return floor(r * u) + 1
  end
  if n == 2 then
    local l, u = ...
    l, u = int_arg(l, 1, 'random'), int_arg(u, 2, 'random')
    if l > u then error("bad argument #2 to 'random' (interval is empty)", 2) end
    return floor(r * (u - l + 1)) + l
  end
  error('wrong number of arguments', 2)
end
function math.randomseed(s)
  srand48(int_arg(s, 1, 'randomseed'))
end

-- Globals are read-only from here on, and reading a missing one is an error: they move to
-- a backing table that _G only reads through, so even an existing name cannot be rebound.
local G = _G
local globals = {}
for k, v in pairs(G) do globals[k] = v end
for k in pairs(globals) do rawset(G, k, nil) end
globals.redis = readonly(redis)
globals.bit = readonly(bit_lib)
globals.cjson = readonly(cjson_lib)
globals.cmsgpack = readonly(cmsgpack_lib)
globals.struct = readonly(struct_lib)
-- cairn's own. log_index: the log index of the entry this run applies in (one entry holds
-- many writes, so scripts share it). fencing_token: unique to this run and larger than every
-- earlier run's, on any node, ever (a lock's fencing token).
globals.cairn = readonly({
  log_index = function() return entry.log_index end,
  fencing_token = function()
    if entry.fencing_token == nil then error('ERR no fencing token left in this log entry', 0) end
    return entry.fencing_token
  end,
})
globals.dofile, globals.loadfile, globals.print = nil, nil, nil
globals._G = G
lua_setmetatable(globals, {
  __index = function(_, k)
    error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 0)
  end,
})
local meta = { __index = globals, __newindex = refuse_write }
meta.__metatable = readonly(meta)
lua_setmetatable(G, meta)
protected[G] = true

return redis, meta
