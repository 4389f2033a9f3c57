#!/usr/bin/env python3
"""Measures leader changes on a running local cluster (scripts/cluster.sh). Prints one line per
trial and p50/p99/max. Standard library only.

--fault kill (default): SIGKILLs the leader and times until a write sent through a follower
is acknowledged. --fault term / --fault transfer: a writer INCRs without pause through a
follower while the leader gets SIGTERM / `CAIRN TRANSFER-LEADER` (sent to a follower); the
figure is the longest write of that writer around the change (the pause clients see).

    failover_probe.py --trials 20 --base-port 6379 --dir .cluster --cluster-sh scripts/cluster.sh
"""
import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time


def resp(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def command(port, *args, timeout=10.0):
    """One command on a fresh connection; the reply's first line, or None if the connection
    failed or was closed (an unknown outcome)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(resp(*args))
            data = b""
            while b"\r\n" not in data:
                chunk = s.recv(65536)
                if not chunk:
                    return None
                data += chunk
            return data.split(b"\r\n", 1)[0].decode(errors="replace")
    except OSError:
        return None


class Writer(threading.Thread):
    """INCRs through one connection, back to back, noting when each was sent and how long it
    took; stops when told."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.samples, self.failed, self.stop = [], 0, False

    def run(self):
        while not self.stop:
            sent = time.monotonic()
            try:
                self.sock.sendall(resp("INCR", "probe:counter"))
                data = b""
                while not data.endswith(b"\r\n"):
                    chunk = self.sock.recv(4096)
                    if not chunk:
                        raise OSError("closed")
                    data += chunk
                if not data.startswith(b":"):
                    self.failed += 1
            except OSError:
                self.failed += 1
                return
            self.samples.append((sent, time.monotonic() - sent))

    def longest_since(self, start):
        return max((took for sent, took in self.samples if sent + took >= start), default=0.0)


def info_field(port, field):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.sendall(resp("INFO", "replication"))
            data = b""
            deadline = time.time() + 2
            while time.time() < deadline:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
                if data.startswith(b"$"):
                    head, _, rest = data.partition(b"\r\n")
                    if len(rest) >= int(head[1:]) + 2:
                        break
            for line in data.decode(errors="replace").splitlines():
                if line.startswith(field + ":"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--base-port", type=int, default=6379)
    ap.add_argument("--dir", default=".cluster")
    ap.add_argument("--cluster-sh", default="scripts/cluster.sh")
    ap.add_argument("--fault", choices=["kill", "term", "transfer"], default="kill")
    a = ap.parse_args()
    ports = {i: a.base_port + i - 1 for i in (1, 2, 3)}
    results = []
    for trial in range(a.trials):
        # A leader all nodes agree on, everyone caught up.
        deadline = time.time() + 30
        while True:
            leaders = {info_field(p, "cairn_leader_id") for p in ports.values()}
            applied = {info_field(p, "cairn_applied_index") for p in ports.values()}
            if len(leaders) == 1 and None not in leaders and "0" not in leaders and len(applied) == 1:
                break
            if time.time() > deadline:
                sys.exit(f"trial {trial}: cluster not settled: leaders {leaders}, applied {applied}")
            time.sleep(0.1)
        leader = int(leaders.pop())
        follower = next(i for i in ports if i != leader)
        assert command(ports[follower], "SET", "probe", "before") == "+OK"
        if a.fault != "kill":
            results.append(pause(a, ports, leader, follower, trial))
            continue
        with open(os.path.join(a.dir, f"node{leader}.pid")) as f:
            pid = int(f.read().strip())
        start = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        attempts = 0
        while True:
            attempts += 1
            reply = command(ports[follower], "SET", "probe", trial)
            if reply == "+OK":
                break
            if time.monotonic() - start > 30:
                sys.exit(f"trial {trial}: no acknowledged write 30 s after the kill (last: {reply})")
            time.sleep(0.005)
        elapsed = time.monotonic() - start
        results.append(elapsed)
        print(f"trial {trial + 1}: killed node {leader}, write acknowledged via node {follower} "
              f"after {elapsed * 1000:.0f} ms ({attempts} attempts)", flush=True)
        subprocess.run([a.cluster_sh, "up"], check=True, stdout=subprocess.DEVNULL)
    results.sort()
    if not results:
        sys.exit("no trials")
    p = lambda q: results[min(len(results) - 1, int(q * len(results)))]
    print(f"trials {len(results)}: p50 {p(0.5) * 1000:.0f} ms, p99 {p(0.99) * 1000:.0f} ms, "
          f"max {results[-1] * 1000:.0f} ms, mean {statistics.mean(results) * 1000:.0f} ms")


def pause(a, ports, leader, follower, trial):
    """One SIGTERM or transfer trial: the longest write of a steady writer through `follower`
    from the moment of the change until writes have run for a second under the new leader."""
    writer = Writer(ports[follower])
    writer.start()
    time.sleep(0.3)
    start = time.monotonic()
    if a.fault == "term":
        with open(os.path.join(a.dir, f"node{leader}.pid")) as f:
            os.kill(int(f.read().strip()), signal.SIGTERM)
        outcome = "SIGTERM"
    else:
        outcome = command(ports[follower], "CAIRN", "TRANSFER-LEADER")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        new = info_field(ports[follower], "cairn_leader_id")
        if new not in (None, "0", str(leader)):
            break
        time.sleep(0.01)
    time.sleep(1.0)
    writer.stop = True
    writer.join(timeout=30)
    longest = writer.longest_since(start)
    print(f"trial {trial + 1}: {outcome} of leader {leader}, now {new}; longest write through "
          f"node {follower} {longest * 1000:.0f} ms, {writer.failed} failed", flush=True)
    if a.fault == "term":
        time.sleep(0.5)
        subprocess.run([a.cluster_sh, "up"], check=True, stdout=subprocess.DEVNULL)
    return longest


if __name__ == "__main__":
    main()
