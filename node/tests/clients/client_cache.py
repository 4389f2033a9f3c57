"""redis-py's client-side cache (RESP3, `cache_config`) on a cairn follower, kept correct by
the server's invalidations while other nodes take the writes. Driven by client_tracking.rs.

Usage: client_cache.py READER_PORT WRITER_PORT WRITER_PORT ROUNDS

Halfway it prints "HALF" and pauses half a second: the test kills the leader then.

Prints "HITS <reads that reached the server, of 200 cached reads>", then STALE_P50_MS and
STALE_MAX_MS (how long after a write's acknowledgement the cache still answered the old
value: the reader's node applies the write, and so invalidates, just after the writer's),
then "DONE <rounds>". Exits non-zero
with the reason if a read never caught up (bounded: 5 s per change) or the cache served
nothing.

redis-py enables its cache only for a server that says it is Redis 7.4 or later (a product
gate: the tracking it relies on is Redis 6's, which cairn implements); cairn says 7.0, so
the gate is lowered here.
"""

import random
import sys
import time

import redis
import redis.connection
from redis.backoff import NoBackoff
from redis.cache import CacheConfig
from redis.retry import Retry

redis.connection.CacheProxyConnection.MIN_ALLOWED_VERSION = "7.0.0"

reader_port, w1, w2, rounds = (int(a) for a in sys.argv[1:5])
reader = redis.Redis(port=reader_port, protocol=3, cache_config=CacheConfig(), socket_timeout=10)
plain = redis.Redis(port=reader_port, socket_timeout=10)
# A writer whose node is gone fails at once (the loop below moves to the other one).
writers = [
    redis.Redis(port=p, socket_timeout=10, socket_connect_timeout=1, retry=Retry(NoBackoff(), 0))
    for p in (w1, w2)
]


def server_gets():
    """Reads that reached the server and found their key."""
    return int(plain.info("stats")["keyspace_hits"])


writers[0].set("profile:1", "v0")
assert reader.get("profile:1") == b"v0"
before = server_gets()
for _ in range(200):
    assert reader.get("profile:1") == b"v0"
print(f"HITS {server_gets() - before}", flush=True)
if reader.get_cache().size < 1:
    sys.exit("the cache holds nothing")



def read_until(key, value):
    """Reads `key` through the cache until it is `value`; how long that took, in seconds.
    The invalidation comes when the reader's node applies the write, which may be just
    after the writer's node acknowledged it."""
    started = time.monotonic()
    while reader.get(key) != value:
        if time.monotonic() - started > 5:
            sys.exit(f"{key} still reads {reader.get(key)!r} 5 s after it was set to {value!r}")
        time.sleep(0.001)
    return time.monotonic() - started


keys = [f"profile:{i}" for i in range(20)]
for k in keys:
    writers[0].set(k, "0")
    read_until(k, b"0")


def write(key, value):
    """SET through a random writer; the other one if that node is gone (bounded)."""
    deadline = time.monotonic() + 10
    order = random.sample(writers, len(writers))
    while True:
        for w in order:
            try:
                w.set(key, value)
                return
            except (redis.ConnectionError, redis.TimeoutError, redis.ResponseError) as e:
                if time.monotonic() > deadline:
                    sys.exit(f"SET {key} failed for 10 s: {e}")
        time.sleep(0.05)


waits = []
for n in range(1, rounds + 1):
    if n == rounds // 2:
        # The test kills the leader now (a writer's node): the reader's cache must go on
        # being invalidated by the writes that follow, through the new leader.
        print("HALF", flush=True)
        time.sleep(0.5)
    key = random.choice(keys)
    value = str(n).encode()
    write(key, value)
    waits.append(read_until(key, value))
waits.sort()
print(f"STALE_P50_MS {waits[len(waits) // 2] * 1000:.1f}", flush=True)
print(f"STALE_MAX_MS {waits[-1] * 1000:.1f}", flush=True)
print(f"DONE {rounds}", flush=True)
