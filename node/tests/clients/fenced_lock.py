"""A lock holder with a fencing token (docs/fencing/*.lua) through redis-py's
register_script: takes the lock for 1 s, says ACQUIRED <token>, works for a while (the test
SIGSTOPs it past its lease meanwhile), then writes with its token and says WROTE or FENCED.

Usage: fenced_lock.py PORT DOCS_DIR
"""
import os
import sys
import time

import redis

port, docs = int(sys.argv[1]), sys.argv[2]
r = redis.Redis(port=port, socket_timeout=10)
with open(os.path.join(docs, "acquire.lua")) as f:
    acquire = r.register_script(f.read())
with open(os.path.join(docs, "fenced_set.lua")) as f:
    fenced_set = r.register_script(f.read())

token = acquire(keys=["lock:job"], args=["paused-holder", 1000])
assert token, "the lock was free"
print(f"ACQUIRED {token}", flush=True)
time.sleep(0.5)  # "work": the test stops this process here, past the lease
try:
    fenced_set(keys=["lock:job", "job:result"], args=[token, "from the paused holder"])
    print("WROTE", flush=True)
except redis.ResponseError as e:
    print("FENCED" if str(e).startswith("FENCED") else f"ERROR {e}", flush=True)
