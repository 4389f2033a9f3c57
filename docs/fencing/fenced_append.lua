-- Append only while holding the newest token of the lock (cairn): fenced_set.lua for a list.
-- KEYS[1]: the lock, KEYS[2]: the list. ARGV[1]: the token, ARGV[2]: the element.
-- The chaos harness's `fenced` workload appends with it: in every list, the tokens of the
-- elements never go down, whatever pauses, kills and partitions happened.
local newest = tonumber(redis.call('get', KEYS[1] .. ':fence') or '0')
if tonumber(ARGV[1]) < newest then
  return redis.error_reply('FENCED token ' .. ARGV[1] .. ' is older than ' .. string.format('%.0f', newest))
end
return redis.call('rpush', KEYS[2], ARGV[2])
