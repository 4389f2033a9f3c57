-- FUNCTION libraries (cairn's, trusted; runs after the prelude). A library's code runs in a
-- fresh state every time: on FUNCTION LOAD to learn its functions, on FCALL to call one.
-- Arguments: the redis table (writable, behind the scripts' read-only view of it), the
-- compiled library, the function to call (nil on load), KEYS, ARGV.
local redis, meta, lib, wanted, keys, args = ...

local error, type, select, pairs, ipairs, tostring = error, type, select, pairs, ipairs, tostring
local lua_setmetatable = setmetatable
local known_flags = {
  ['no-writes'] = true, ['allow-oom'] = true, ['allow-stale'] = true,
  ['no-cluster'] = true, ['allow-cross-slot-keys'] = true,
}
local function fail(msg) error({ err = 'ERR ' .. msg }) end

local registered, order = {}, {}

local function register(...)
  local n = select('#', ...)
  local name, callback, flags, description
  if n == 1 then
    local t = ...
    if type(t) ~= 'table' then
      fail('calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).')
    end
    for k, v in pairs(t) do
      if type(k) ~= 'string' then fail('named argument key given to redis.register_function is not a string') end
      if k == 'function_name' then
        if type(v) ~= 'string' then fail('function_name argument given to redis.register_function must be a string') end
        name = v
      elseif k == 'description' then
        if type(v) ~= 'string' then fail('description argument given to redis.register_function must be a string') end
        description = v
      elseif k == 'callback' then
        if type(v) ~= 'function' then fail('callback argument given to redis.register_function must be a function') end
        callback = v
      elseif k == 'flags' then
        if type(v) ~= 'table' then fail('flags argument to redis.register_function must be a table representing function flags') end
        flags = {}
        for _, f in ipairs(v) do
          if type(f) ~= 'string' or not known_flags[f] then fail('unknown flag given') end
          flags[#flags + 1] = f
        end
      else
        fail('unknown argument given to redis.register_function')
      end
    end
    if name == nil then fail('redis.register_function must get a function name argument') end
    if callback == nil then fail('redis.register_function must get a callback argument') end
  elseif n == 2 then
    name, callback = ...
    if type(name) ~= 'string' then fail('first argument to redis.register_function must be a string') end
    if type(callback) ~= 'function' then fail('second argument to redis.register_function must be a function') end
  else
    fail('wrong number of arguments to redis.register_function')
  end
  if not name:match('^[%w_]+$') then
    fail('Library names can only contain letters, numbers, or underscores(_) and must be at least one character long')
  end
  if registered[name] then fail('Function already exists in the library') end
  registered[name] = { callback = callback, flags = flags or {}, description = description }
  order[#order + 1] = name
end

-- What the library's own code sees while it loads: only register_function and log.
local function missing(_, k)
  error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 0)
end
local load_api = lua_setmetatable({
  register_function = register, log = redis.log,
  REDIS_VERSION = redis.REDIS_VERSION, REDIS_VERSION_NUM = redis.REDIS_VERSION_NUM,
  LOG_DEBUG = 0, LOG_VERBOSE = 1, LOG_NOTICE = 2, LOG_WARNING = 3,
}, { __index = missing })
local load_view = lua_setmetatable({ redis = load_api }, { __index = missing })

return function()
  local full_view = meta.__index
  meta.__index = load_view
  lib()
  meta.__index = full_view
  if wanted == nil then
    local out = {}
    for i, name in ipairs(order) do
      local f = registered[name]
      out[i] = { name, f.flags, f.description }
    end
    return out
  end
  local f = registered[wanted]
  if f == nil then fail('Function not found') end
  return f.callback(keys, args)
end
