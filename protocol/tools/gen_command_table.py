#!/usr/bin/env python3
"""Generates protocol/src/command/table/data.rs from Redis's command JSON files.

Usage: gen_command_table.py REDIS_SRC_COMMANDS_DIR > protocol/src/command/table/data.rs
       cargo fmt -p cairn-protocol

REDIS_SRC_COMMANDS_DIR is `src/commands/` of a Redis checkout (the table was generated from
Redis 7.2.6). Flags, ACL categories, legacy key ranges and key specs are derived exactly as
Redis's server.c does at startup (implicit ACL categories, hidden flags, legacy range spec),
so COMMAND INFO / COMMAND DOCS match a real Redis 7.2 for the commands cairn supports.
To support a new command, add it to COMMANDS (or SUBCOMMANDS) below and regenerate.
"""
import json
import os
import sys

COMMANDS = [
    # strings
    "get", "set", "setnx", "setex", "psetex", "getset", "getdel", "getex", "mget", "mset",
    "msetnx", "append", "strlen", "getrange", "setrange", "incr", "incrby", "decr", "decrby",
    "incrbyfloat", "lcs",
    # bitmaps
    "setbit", "getbit", "bitcount", "bitpos", "bitop", "bitfield", "bitfield_ro",
    # hyperloglog
    "pfadd", "pfcount", "pfmerge", "pfdebug",
    # geo
    "geoadd", "geopos", "geohash", "geodist", "geosearch", "geosearchstore", "georadius",
    "georadius_ro", "georadiusbymember", "georadiusbymember_ro",
    # streams
    "xadd", "xlen", "xrange", "xrevrange", "xread", "xdel", "xtrim", "xsetid", "xinfo", "xgroup",
    "xreadgroup", "xack", "xpending", "xclaim", "xautoclaim",
    # keys
    "del", "unlink", "exists", "type", "keys", "scan", "dbsize", "flushdb", "flushall", "swapdb",
    "expire", "pexpire", "expireat", "pexpireat", "expiretime", "pexpiretime", "ttl", "pttl",
    "persist", "rename", "renamenx", "randomkey", "touch", "copy", "move", "dump", "restore",
    "sort", "sort_ro",
    "object", "wait",
    # hashes
    "hset", "hsetnx", "hget", "hmget", "hmset", "hgetall", "hdel", "hexists", "hlen", "hkeys",
    "hvals", "hincrby", "hincrbyfloat", "hstrlen", "hrandfield", "hscan",
    # sets
    "sadd", "srem", "smembers", "sismember", "smismember", "scard", "spop", "srandmember",
    "smove", "sinter", "sunion", "sdiff", "sinterstore", "sunionstore", "sdiffstore",
    "sintercard", "sscan",
    # lists
    "lpush", "rpush", "lpushx", "rpushx", "lpop", "rpop", "llen", "lrange", "lindex", "lset",
    "linsert", "lrem", "ltrim", "lpos", "lmove", "rpoplpush", "lmpop", "blpop", "brpop", "blmpop",
    "blmove", "brpoplpush",
    # sorted sets
    "zadd", "zrem", "zscore", "zmscore", "zincrby", "zcard", "zcount", "zlexcount", "zrange",
    "zrangebyscore", "zrevrange", "zrevrangebyscore", "zrangebylex", "zrevrangebylex",
    "zrank", "zrevrank", "zpopmin", "zpopmax", "zrangestore", "zremrangebyscore",
    "zremrangebyrank", "zremrangebylex", "zscan", "zunionstore", "zinterstore", "zdiffstore",
    "zmpop", "bzpopmin", "bzpopmax", "bzmpop", "zunion", "zinter", "zdiff", "zintercard",
    "zrandmember",
    # connection / server
    "ping", "echo", "hello", "select", "quit", "reset", "command", "client", "config", "info",
    "role", "readonly", "readwrite", "auth", "memory", "function", "acl", "monitor", "debug",
    "slowlog", "latency", "time", "save", "bgsave", "lastsave", "shutdown", "cluster",
    # transactions
    "multi", "exec", "discard", "watch", "unwatch",
    # scripting
    "eval", "evalsha", "eval_ro", "evalsha_ro", "script", "fcall", "fcall_ro",
    # pub/sub
    "subscribe", "unsubscribe", "psubscribe", "punsubscribe", "publish", "pubsub",
]
SUBCOMMANDS = {
    "command": ["count", "docs", "getkeys", "info", "list"],
    "client": ["caching", "getname", "getredir", "id", "info", "kill", "list", "no-evict",
               "no-touch", "pause", "reply", "setinfo", "setname", "tracking", "trackinginfo",
               "unblock", "unpause"],
    "config": ["get", "resetstat", "rewrite", "set"],
    "cluster": ["countkeysinslot", "failover", "getkeysinslot", "info", "keyslot", "myid", "nodes", "shards",
                "slots"],
    "memory": ["usage"],
    "pubsub": ["channels", "numpat", "numsub"],
    "function": ["delete", "dump", "flush", "kill", "list", "load", "restore", "stats"],
    "script": ["exists", "flush", "kill", "load"],
    "slowlog": ["get", "len", "reset"],
    "latency": ["doctor", "histogram", "history", "latest", "reset"],
    "acl": ["cat", "deluser", "genpass", "getuser", "list", "load", "save", "setuser", "users",
            "whoami"],
    "object": ["encoding", "freq", "idletime", "refcount"],
    "xinfo": ["consumers", "groups", "help", "stream"],
    "xgroup": ["create", "createconsumer", "delconsumer", "destroy", "help", "setid"],
}

# server.c addReplyFlagsForCommand order; hidden flags are absent.
FLAG_ORDER = ["write", "readonly", "denyoom", "module", "admin", "pubsub", "noscript",
              "blocking", "loading", "stale", "skip_monitor", "skip_slowlog", "asking", "fast",
              "no_auth", "no_mandatory_keys", "no_async_loading", "no_multi", "movablekeys",
              "allow_busy"]
# acl.c ACLCommandCategories order.
ACL_ORDER = ["keyspace", "read", "write", "set", "sortedset", "list", "hash", "string", "bitmap",
             "hyperloglog", "geo", "stream", "pubsub", "admin", "fast", "slow", "blocking",
             "dangerous", "connection", "transaction", "scripting"]
KEY_FLAG_ORDER = ["RO", "RW", "OW", "RM", "access", "update", "insert", "delete", "not_key",
                  "incomplete", "variable_flags"]
ARG_FLAG_ORDER = ["optional", "multiple", "multiple_token"]


def rs(s):
    return json.dumps(s, ensure_ascii=False)


def opt(s):
    return "None" if s is None else "Some(%s)" % rs(s)


def strs(items):
    return "&[" + ", ".join(rs(i) for i in items) + "]"


def key_flag_name(f):
    return f if f in ("RO", "RW", "OW", "RM") else f.lower()


def legacy_range(specs):
    """populateCommandLegacyRangeSpec: (first, last, step, movablekeys)."""
    if not specs:
        return 0, 0, 0, False
    def is_range(s):
        return "index" in s["begin_search"] and "range" in s["find_keys"]
    if len(specs) == 1 and is_range(specs[0]):
        s = specs[0]
        first = s["begin_search"]["index"]["pos"]
        rng = s["find_keys"]["range"]
        last = rng["lastkey"]
        if last >= 0:
            last += first
        return first, last, rng["step"], "INCOMPLETE" in s.get("flags", [])
    movable = False
    first, last, prev_last = None, 0, 0
    for s in specs:
        if not is_range(s):
            movable = True
            continue
        pos = s["begin_search"]["index"]["pos"]
        rng = s["find_keys"]["range"]
        if rng["step"] != 1 or (prev_last and prev_last != pos - 1):
            movable = True
            continue
        if "INCOMPLETE" in s.get("flags", []):
            movable = True
        first = pos if first is None else min(first, pos)
        abs_last = rng["lastkey"] + pos if rng["lastkey"] >= 0 else rng["lastkey"]
        # unsigned comparison, as in Redis: a negative lastkey wins.
        last = abs_last if (abs_last & 0xFFFFFFFF) > (last & 0xFFFFFFFF) else last
        prev_last = last
    if first is None:
        return 0, 0, 0, True
    return first, last, 1, movable


def gen_arg(a, indent):
    pad = " " * indent
    kind = a["type"]
    fields = ["name: %s" % rs(a["name"].lower()), "kind: %s" % rs(kind)]
    if kind not in ("oneof", "block") and "display" in a:
        fields.append("display: Some(%s)" % rs(a["display"].lower()))
    if "key_spec_index" in a:
        fields.append("key_spec_index: Some(%d)" % a["key_spec_index"])
    if "token" in a:
        fields.append("token: Some(%s)" % rs(a["token"].upper()))
    for f in ("summary", "since", "deprecated_since"):
        if f in a:
            fields.append("%s: Some(%s)" % (f, rs(a[f])))
    flags = [f for f in ARG_FLAG_ORDER if a.get(f)]
    if flags:
        fields.append("flags: %s" % strs(flags))
    if kind in ("oneof", "block"):
        sub = ",\n".join(gen_arg(s, indent + 4) for s in a["arguments"])
        fields.append("args: &[\n%s,\n%s]" % (sub, pad))
    return pad + "Arg { " + ", ".join(fields) + ", ..ARG }"


def gen_cmd(fullname, desc, subs, indent):
    pad = " " * indent
    flags_in = [f.lower() for f in desc.get("command_flags", [])]
    specs = desc.get("key_specs", [])
    first, last, step, movable = legacy_range(specs)
    if movable:
        flags_in.append("movablekeys")
    flags = [f for f in FLAG_ORDER if f in flags_in]
    cats = set(c.lower() for c in desc.get("acl_categories", []))
    if "write" in flags_in:
        cats.add("write")
    if "readonly" in flags_in and "scripting" not in cats:
        cats.add("read")
    if "admin" in flags_in:
        cats |= {"admin", "dangerous"}
    if "pubsub" in flags_in:
        cats.add("pubsub")
    if "fast" in flags_in:
        cats.add("fast")
    if "blocking" in flags_in:
        cats.add("blocking")
    if "fast" not in cats:
        cats.add("slow")
    acl = ["@" + c for c in ACL_ORDER if c in cats]
    out = [
        "name: %s" % rs(fullname),
        "arity: %d" % desc["arity"],
        "flags: %s" % strs(flags),
        "first_key: %d" % first,
        "last_key: %d" % last,
        "step: %d" % step,
        "acl_categories: %s" % strs(acl),
        "summary: %s" % rs(desc["summary"]),
        "since: %s" % rs(desc["since"]),
        "group: %s" % rs(desc["group"]),
        "complexity: %s" % opt(desc.get("complexity")),
    ]
    doc_flags = [f.lower() for f in desc.get("doc_flags", [])]
    if doc_flags:
        out.append("doc_flags: %s" % strs(doc_flags))
    if "deprecated_since" in desc:
        out.append("deprecated_since: Some(%s)" % rs(desc["deprecated_since"]))
    if "replaced_by" in desc:
        out.append("replaced_by: Some(%s)" % rs(desc["replaced_by"]))
    if desc.get("history"):
        out.append("history: &[%s]" % ", ".join("(%s, %s)" % (rs(v), rs(t)) for v, t in desc["history"]))
    if desc.get("command_tips"):
        out.append("tips: %s" % strs([t.lower() for t in desc["command_tips"]]))
    if specs:
        ks = []
        for s in specs:
            kflags = [f for f in KEY_FLAG_ORDER if f in [key_flag_name(x) for x in s.get("flags", [])]]
            if "unknown" in s["find_keys"]:
                # Keys found only by the command itself (SORT's BY/GET patterns and STORE).
                find = "FindKeys::Unknown"
            elif "range" in s["find_keys"]:
                rng = s["find_keys"]["range"]
                find = "FindKeys::Range { last_key: %d, key_step: %d, limit: %d }" % (
                    rng["lastkey"], rng["step"], rng["limit"])
            else:
                kn = s["find_keys"]["keynum"]
                find = "FindKeys::KeyNum { keynum_index: %d, first_key: %d, key_step: %d }" % (
                    kn["keynumidx"], kn["firstkey"], kn["step"])
            begin = s["begin_search"]["index"]["pos"] if "index" in s["begin_search"] else 0
            ks.append("KeySpec { notes: %s, flags: %s, begin_index: %d, find_keys: %s }" % (
                opt(s.get("notes")), strs(kflags), begin, find))
        out.append("key_specs: &[%s]" % ", ".join(ks))
    if desc.get("arguments"):
        args = ",\n".join(gen_arg(a, indent + 8) for a in desc["arguments"])
        out.append("args: &[\n%s,\n%s    ]" % (args, pad))
    if subs:
        out.append("subcommands: &[\n%s,\n%s    ]" % (",\n".join(subs), pad))
    body = "".join("%s    %s,\n" % (pad, f) for f in out)
    return "%sCommandSpec {\n%s%s    ..BASE\n%s}" % (pad, body, pad, pad)


def load(path):
    with open(path) as f:
        (name, desc), = json.load(f).items()
    return desc


def main():
    src = sys.argv[1]
    entries = []
    for name in sorted(COMMANDS):
        desc = load(os.path.join(src, name + ".json"))
        subs = [gen_cmd("%s|%s" % (name, sub), load(os.path.join(src, "%s-%s.json" % (name, sub))), [], 8)
                for sub in SUBCOMMANDS.get(name, [])]
        entries.append(gen_cmd(name, desc, subs, 4))
    print("//! Generated by `protocol/tools/gen_command_table.py` from Redis 7.2.6's")
    print("//! `src/commands/*.json`; do not edit by hand, regenerate.")
    print()
    print("use super::{Arg, CommandSpec, FindKeys, KeySpec, ARG, BASE};")
    print()
    print("/// Every command cairn serves, sorted by name (lookup binary-searches it).")
    print("pub(super) static COMMANDS: &[CommandSpec] = &[")
    print(",\n".join(entries) + ",")
    print("];")


main()
