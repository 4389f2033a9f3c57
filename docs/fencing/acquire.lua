-- Take a lock with a fencing token (cairn).
-- KEYS[1]: the lock. ARGV[1]: the holder's id, ARGV[2]: the lease in milliseconds.
-- Returns the token (cairn.fencing_token(): larger than every token handed out
-- before, on any node, ever), or false while another holder's lease runs.
if redis.call('exists', KEYS[1]) == 1 then
  return false
end
local token = cairn.fencing_token()
redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2])
-- The newest token of this lock outlives the lease: a late write is checked against it.
redis.call('set', KEYS[1] .. ':fence', token)
return token
