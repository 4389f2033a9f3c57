"""redis-py's Lock and register_script against one node (a follower), as applications use
them: each round takes the lock (blocking, with a timeout), extends it, increments a counter
with a registered script under it, and releases it. Prints HALF halfway (the test kills the
leader then), and at the end `DONE <acknowledged increments> <counter> <increments sent again>`.

Usage: redis_py_lock.py PORT ROUNDS
"""
import sys
import time

import redis
from redis.exceptions import ConnectionError, LockError, ResponseError, TimeoutError

port, rounds = int(sys.argv[1]), int(sys.argv[2])
r = redis.Redis(port=port, socket_timeout=5, socket_connect_timeout=2)
other = redis.Redis(port=port, socket_timeout=5, socket_connect_timeout=2)

# The script: increment under the lock only while its token is still the holder's.
incr_if_holder = r.register_script(
    """
    if redis.call('get', KEYS[1]) ~= ARGV[1] then
        return redis.error_reply('NOTHOLDER lock lost')
    end
    return redis.call('incr', KEYS[2])
    """
)


def retried(what, f):
    """A call retried through a failover (bounded: 60 s)."""
    deadline = time.monotonic() + 60
    while True:
        try:
            return f()
        except (ConnectionError, TimeoutError, ResponseError) as e:
            if isinstance(e, ResponseError) and "NOTHOLDER" in str(e):
                raise
            if time.monotonic() > deadline:
                raise
            print(f"retry {what}: {e}", file=sys.stderr)
            time.sleep(0.1)


# A held lock makes a blocking acquire with a timeout give up; released, it is free again.
held = other.lock("lock:probe", timeout=10)
assert held.acquire(blocking=False)
waiter = r.lock("lock:probe", timeout=10)
start = time.monotonic()
assert not waiter.acquire(blocking=True, blocking_timeout=0.5)
assert time.monotonic() - start >= 0.4
held.release()
assert waiter.acquire(blocking=True, blocking_timeout=2)
waiter.release()

def acquire(lock):
    if not lock.acquire():
        raise ConnectionError("lock not acquired within its blocking timeout")


acked = 0
incr_retries = 0


def incr(token):
    global incr_retries
    incr_retries += 1
    return incr_if_holder(keys=["lock:counter", "counter"], args=[token])


for i in range(rounds):
    if i == rounds // 2:
        print("HALF", flush=True)
    lock = r.lock("lock:counter", timeout=10, blocking_timeout=30)
    retried("acquire", lambda: acquire(lock))
    retried("extend", lambda: lock.extend(5))
    token = lock.local.token
    incr_retries -= 1
    retried("incr", lambda: incr(token))
    acked += 1
    try:
        retried("release", lock.release)
    except LockError:
        # A release retried after its first attempt was applied finds the lock gone.
        pass

counter = int(retried("get", lambda: r.get("counter")))
print(f"DONE {acked} {counter} {incr_retries}", flush=True)
