-- Write only while holding the newest token of the lock (cairn).
-- KEYS[1]: the lock, KEYS[2]: the key to write. ARGV[1]: the token, ARGV[2]: the value.
-- A holder whose lease ran out while it was paused, and whose lock someone else has taken
-- since, gets FENCED instead of overwriting the newer holder's work.
local newest = tonumber(redis.call('get', KEYS[1] .. ':fence') or '0')
if tonumber(ARGV[1]) < newest then
  return redis.error_reply('FENCED token ' .. ARGV[1] .. ' is older than ' .. string.format('%.0f', newest))
end
return redis.call('set', KEYS[2], ARGV[2])
