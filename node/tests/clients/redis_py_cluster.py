"""A redis-py `RedisCluster` scenario against a cairn cluster, driven by cluster_clients.rs.

Usage: redis_py_cluster.py PORT REPLICA_READS(0|1) ROUNDS

Each round writes strings, a hash, a pipeline of writes and a multi-key MSET on one slot,
then reads them back (from replicas when REPLICA_READS is 1). Halfway it prints "HALF" and
goes on without waiting: the test kills the leader then. Every write is retried until it is
acknowledged (bounded in time); at the end every acknowledged value is read back and
compared. Exits 0 and prints "DONE <writes>" when all is well, non-zero with the reason
otherwise.
"""

import sys
import time

import redis
from redis.cluster import LoadBalancingStrategy, RedisCluster

DEADLINE_S = 60.0


def retry(what, f):
    """Runs f until it succeeds or DEADLINE_S passes: a leader kill makes some calls fail."""
    start = time.monotonic()
    while True:
        try:
            return f()
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError,
                redis.exceptions.ClusterDownError, redis.exceptions.TryAgainError,
                redis.exceptions.ClusterError, redis.exceptions.ResponseError) as e:
            if time.monotonic() - start > DEADLINE_S:
                raise RuntimeError(f"{what}: still failing after {DEADLINE_S}s: {e!r}")
            print(f"retry {what}: {e!r}", file=sys.stderr, flush=True)
            time.sleep(0.1)


def eventually(what, f, want):
    """Replica reads may lag the write they follow; they must catch up (bounded)."""
    start = time.monotonic()
    while True:
        got = retry(what, f)
        if got == want:
            return
        if time.monotonic() - start > 10.0:
            raise AssertionError(f"{what}: got {got!r}, want {want!r}")
        time.sleep(0.05)


def main():
    port, replica_reads, rounds = int(sys.argv[1]), sys.argv[2] == "1", int(sys.argv[3])
    strategy = LoadBalancingStrategy.ROUND_ROBIN_REPLICAS if replica_reads else None
    rc = RedisCluster(host="127.0.0.1", port=port, decode_responses=True,
                      load_balancing_strategy=strategy, socket_timeout=5,
                      socket_connect_timeout=2)
    # COMMAND is what cluster clients learn key positions from.
    assert rc.command_count() > 100, "COMMAND COUNT"
    assert rc.cluster_info()["cluster_state"] == "ok"
    expect = {}
    writes = 0
    for r in range(rounds):
        if r == rounds // 2:
            print("HALF", flush=True)
        key = f"py:s:{r}"
        retry("SET", lambda: rc.set(key, f"v{r}"))
        expect[key] = f"v{r}"
        writes += 1
        eventually("GET", lambda: rc.get(key), f"v{r}")

        h = f"py:h:{r}"
        fields = {"a": str(r), "b": "x" * (r % 7), "c": "z"}
        retry("HSET", lambda: rc.hset(h, mapping=fields))
        writes += 1
        eventually("HGETALL", lambda: rc.hgetall(h), fields)

        def pipelined():
            p = rc.pipeline()
            for j in range(5):
                p.set(f"py:p:{r}:{j}", j)
            p.incr(f"py:n:{r}")
            return p.execute()
        replies = retry("pipeline", pipelined)
        assert replies[:5] == [True] * 5, replies
        for j in range(5):
            expect[f"py:p:{r}:{j}"] = str(j)
        # A retried pipeline may have applied its INCR before: at least once.
        assert replies[5] >= 1, replies
        writes += 6

        tag = f"{{py:tag:{r}}}"
        pairs = {f"{tag}a": "1", f"{tag}b": "2", f"{tag}c": "3"}
        retry("MSET", lambda: rc.mset(pairs))
        writes += 1
        expect.update(pairs)
        eventually("MGET", lambda: rc.mget(list(pairs)), list(pairs.values()))
        n = retry("DEL", lambda: rc.delete(f"{tag}c", f"{tag}missing"))
        assert n in (0, 1), n
        del expect[f"{tag}c"]
        writes += 1
        eventually("EXISTS", lambda: rc.exists(f"{tag}a", f"{tag}b", f"{tag}c"), 2)

    for key, want in expect.items():
        eventually(f"final GET {key}", lambda: rc.get(key), want)
    rc.close()
    print(f"DONE {writes}", flush=True)


if __name__ == "__main__":
    main()
