use bytes::Bytes;
use cairn_protocol::Reply;

use super::convert::number_arg;
use super::sha1_hex;
use crate::keyspace::testing::{exec, exec_args};
use crate::keyspace::State;

/// EVAL `body` with the given keys and arguments.
fn eval(state: &mut State, body: &str, keys: &[&str], args: &[&str]) -> Reply {
    let mut line: Vec<Bytes> = vec![
        Bytes::from_static(b"EVAL"),
        Bytes::copy_from_slice(body.as_bytes()),
        Bytes::from(keys.len().to_string()),
    ];
    line.extend(
        keys.iter()
            .chain(args)
            .map(|s| Bytes::copy_from_slice(s.as_bytes())),
    );
    exec_args(state, &line)
}

fn bulk(s: &str) -> Reply {
    Reply::Bulk(Bytes::copy_from_slice(s.as_bytes()))
}

fn error_text(reply: Reply) -> String {
    match reply {
        Reply::Error(e) => e,
        other => panic!("expected an error, got {other:?}"),
    }
}

#[test]
fn lua_values_become_replies_by_redis_rules() {
    let mut s = State::default();
    assert_eq!(eval(&mut s, "return 1", &[], &[]), Reply::Integer(1));
    assert_eq!(eval(&mut s, "return 3.99", &[], &[]), Reply::Integer(3));
    assert_eq!(eval(&mut s, "return 'x'", &[], &[]), bulk("x"));
    assert_eq!(eval(&mut s, "return nil", &[], &[]), Reply::Nil);
    assert_eq!(eval(&mut s, "return true", &[], &[]), Reply::Integer(1));
    assert_eq!(eval(&mut s, "return false", &[], &[]), Reply::Nil);
    assert_eq!(
        eval(&mut s, "return {1, 'a', {2}, nil, 5}", &[], &[]),
        Reply::Array(vec![
            Reply::Integer(1),
            bulk("a"),
            Reply::Array(vec![Reply::Integer(2)])
        ])
    );
    assert_eq!(
        eval(&mut s, "return {ok='fine'}", &[], &[]),
        Reply::Simple("fine".into())
    );
    assert_eq!(
        eval(&mut s, "return redis.status_reply('PONG')", &[], &[]),
        Reply::Simple("PONG".into())
    );
    assert_eq!(
        eval(&mut s, "return redis.error_reply('My Error')", &[], &[]),
        Reply::error("My Error")
    );
    assert_eq!(
        eval(&mut s, "return redis.error_reply('Oops')", &[], &[]),
        Reply::error("ERR Oops")
    );
    assert_eq!(
        eval(
            &mut s,
            "return {KEYS[1], ARGV[1], #ARGV}",
            &["k"],
            &["a", "b"]
        ),
        Reply::Array(vec![bulk("k"), bulk("a"), Reply::Integer(2)])
    );
}

#[test]
fn redis_call_reads_and_writes_the_keyspace() {
    let mut s = State::default();
    assert_eq!(
        eval(
            &mut s,
            "return redis.call('set', KEYS[1], ARGV[1])",
            &["k"],
            &["v"]
        ),
        Reply::Simple("OK".into())
    );
    assert_eq!(exec(&mut s, "GET k"), bulk("v"));
    assert_eq!(
        eval(&mut s, "return redis.call('get', KEYS[1])", &["k"], &[]),
        bulk("v")
    );
    // A missing key is false in Lua, nil again in the reply.
    assert_eq!(
        eval(
            &mut s,
            "local v = redis.call('get', 'nope'); return v == false",
            &[],
            &[]
        ),
        Reply::Integer(1)
    );
    // Numbers are passed as %.17g.
    eval(
        &mut s,
        "redis.call('set', 'n', 0.1); redis.call('rpush', 'l', 7, 'x')",
        &[],
        &[],
    );
    assert_eq!(exec(&mut s, "GET n"), bulk("0.10000000000000001"));
    assert_eq!(
        exec(&mut s, "LRANGE l 0 -1"),
        Reply::Array(vec![bulk("7"), bulk("x")])
    );
    // Status replies arrive as {ok=...}, integers as numbers, hashes flat in RESP2.
    assert_eq!(
        eval(
            &mut s,
            "redis.call('hset', 'h', 'f', 'v'); local r = redis.call('hgetall', 'h'); \
             return {redis.call('ping')['ok'], redis.call('incr', 'c') + 1, r[1], r[2]}",
            &[],
            &[]
        ),
        Reply::Array(vec![bulk("PONG"), Reply::Integer(2), bulk("f"), bulk("v")])
    );
    // SELECT changes the script's database only.
    eval(
        &mut s,
        "redis.call('select', 2); redis.call('set', 'in2', 1)",
        &[],
        &[],
    );
    assert_eq!(exec(&mut s, "EXISTS in2"), Reply::Integer(0));
}

#[test]
fn errors_carry_the_script_and_line() {
    let mut s = State::default();
    exec(&mut s, "SET str abc");
    let body = "local x = 1\nreturn redis.call('incr', 'str')";
    assert_eq!(
        error_text(eval(&mut s, body, &[], &[])),
        format!(
            "ERR value is not an integer or out of range script: {}, on @user_script:2.",
            sha1_hex(body.as_bytes())
        )
    );
    let e = error_text(eval(&mut s, "return redis.call('nosuch')", &[], &[]));
    assert!(
        e.starts_with("ERR Unknown Redis command called from script script: "),
        "{e}"
    );
    let e = error_text(eval(&mut s, "return redis.call('get')", &[], &[]));
    assert!(
        e.starts_with("ERR Wrong number of args calling Redis command from script"),
        "{e}"
    );
    let e = error_text(eval(
        &mut s,
        "return redis.call('eval', 'return 1', 0)",
        &[],
        &[],
    ));
    assert!(
        e.starts_with("ERR This Redis command is not allowed from script"),
        "{e}"
    );
    let e = error_text(eval(&mut s, "return redis.call('get', {})", &[], &[]));
    assert!(e.starts_with("ERR Lua redis lib command arguments must be strings or integers"));
    // pcall and redis.pcall catch them.
    assert_eq!(
        eval(
            &mut s,
            "local ok, e = pcall(redis.call, 'nosuch'); return e",
            &[],
            &[]
        ),
        bulk("ERR Unknown Redis command called from script")
    );
    assert_eq!(
        eval(&mut s, "return redis.pcall('incr', 'str')", &[], &[]),
        Reply::error("ERR value is not an integer or out of range")
    );
    let e = error_text(eval(&mut s, "return +", &[], &[]));
    assert!(
        e.starts_with("ERR Error compiling script (new function): user_script:1:"),
        "{e}"
    );
    let e = error_text(eval(&mut s, "error('boom')", &[], &[]));
    assert!(e.starts_with("ERR user_script:1: boom script: "), "{e}");
}

#[test]
fn the_sandbox_holds() {
    let mut s = State::default();
    let e = error_text(eval(&mut s, "a = 1", &[], &[]));
    assert!(e.contains("Attempt to modify a readonly table"), "{e}");
    let e = error_text(eval(&mut s, "return b", &[], &[]));
    assert!(
        e.starts_with("ERR Script attempted to access nonexistent global variable 'b'"),
        "{e}"
    );
    for lib in [
        "os", "io", "debug", "package", "dofile", "loadfile", "require",
    ] {
        let e = error_text(eval(&mut s, &format!("return {lib}"), &[], &[]));
        assert!(e.contains("nonexistent global variable"), "{lib}: {e}");
    }
    // Precompiled chunks are refused.
    assert_eq!(
        eval(
            &mut s,
            "return loadstring(string.dump(function() return 1 end))",
            &[],
            &[]
        ),
        Reply::Nil
    );
    assert_eq!(
        eval(&mut s, "return loadstring('return 7')()", &[], &[]),
        Reply::Integer(7)
    );
}

#[test]
fn a_runaway_script_stops_at_its_budget_even_under_pcall() {
    let mut s = State::default();
    let e = error_text(eval(&mut s, "while true do end", &[], &[]));
    assert!(e.contains("budget"), "{e}");
    let e = error_text(eval(
        &mut s,
        "while true do pcall(function() while true do end end) end",
        &[],
        &[],
    ));
    assert!(e.contains("budget"), "{e}");
    let e = error_text(eval(
        &mut s,
        "local co = coroutine.create(function() while true do end end) \
         while true do coroutine.resume(co) end",
        &[],
        &[],
    ));
    assert!(e.contains("budget"), "{e}");
    let e = error_text(eval(
        &mut s,
        "local f = coroutine.wrap(function() while true do end end) f()",
        &[],
        &[],
    ));
    assert!(e.contains("budget"), "{e}");
    // Writes made before the stop stay, as in Redis (no rollback), on every replica alike.
    let e = error_text(eval(
        &mut s,
        "redis.call('set', 'before', 1) while true do end",
        &[],
        &[],
    ));
    assert!(e.contains("budget"), "{e}");
    assert_eq!(exec(&mut s, "GET before"), bulk("1"));
}

#[test]
fn random_is_the_same_on_every_replica() {
    let body = "return {tostring(math.random()), math.random(10), math.random(5, 6)}";
    let mut a = State::default();
    let mut b = State::default();
    let ra = eval(&mut a, body, &[], &[]);
    assert_eq!(ra, eval(&mut b, body, &[], &[]));
    // Another entry draws another sequence.
    assert_ne!(ra, eval(&mut a, body, &[], &[]));
    // randomseed makes it reproducible within a script.
    assert_eq!(
        eval(
            &mut a,
            "math.randomseed(7); local x = math.random(); math.randomseed(7); \
             return x == math.random()",
            &[],
            &[]
        ),
        Reply::Integer(1)
    );
    // Reads that draw at random on the serving node are refused where they could steer writes.
    exec(&mut a, "SADD s a b c");
    let e = error_text(eval(
        &mut a,
        "return redis.call('srandmember', 's')",
        &[],
        &[],
    ));
    assert!(e.contains("SRANDMEMBER is not allowed"), "{e}");
}

#[test]
fn the_script_cache_is_replicated_state() {
    let mut s = State::default();
    let sha = sha1_hex(b"return 42");
    assert_eq!(
        exec_args(
            &mut s,
            &[
                Bytes::from("EVALSHA"),
                Bytes::from(sha.clone()),
                Bytes::from("0")
            ]
        ),
        Reply::error(cairn_protocol::command::NOSCRIPT)
    );
    let load = |s: &mut State, body: &str| {
        exec_args(
            s,
            &[
                Bytes::from("SCRIPT"),
                Bytes::from("LOAD"),
                Bytes::copy_from_slice(body.as_bytes()),
            ],
        )
    };
    assert_eq!(load(&mut s, "return 42"), bulk(&sha));
    assert_eq!(
        exec(&mut s, &format!("EVALSHA {} 0", sha.to_uppercase())),
        Reply::Integer(42)
    );
    assert_eq!(
        exec(&mut s, &format!("SCRIPT EXISTS {sha} {}", "0".repeat(40))),
        Reply::Array(vec![Reply::Integer(1), Reply::Integer(0)])
    );
    // EVAL caches what it ran.
    eval(&mut s, "return 'cached'", &[], &[]);
    let cached = sha1_hex(b"return 'cached'");
    assert_eq!(exec(&mut s, &format!("EVALSHA {cached} 0")), bulk("cached"));
    assert_eq!(exec(&mut s, "SCRIPT FLUSH"), Reply::ok());
    assert_eq!(
        exec(&mut s, &format!("SCRIPT EXISTS {sha}")),
        Reply::Array(vec![Reply::Integer(0)])
    );
    let e = error_text(load(&mut s, "return +"));
    assert!(e.starts_with("ERR Error compiling script"), "{e}");
}

#[test]
fn read_only_scripts_refuse_writes() {
    let mut s = State::default();
    let e = error_text(exec_args(
        &mut s,
        &[
            Bytes::from("EVAL_RO"),
            Bytes::from("return redis.call('set', 'k', 1)"),
            Bytes::from("0"),
        ],
    ));
    assert!(
        e.starts_with("ERR Write commands are not allowed from read-only scripts."),
        "{e}"
    );
    let e = error_text(eval(
        &mut s,
        "#!lua flags=no-writes\nreturn redis.call('set', 'k', 1)",
        &[],
        &[],
    ));
    assert!(e.contains("on @user_script:2."), "{e}");
    let e = error_text(eval(&mut s, "#!lua flags=bogus\nreturn 1", &[], &[]));
    assert_eq!(e, "ERR Unexpected flag in script shebang: bogus");
}

#[test]
fn resp3_replies_after_setresp() {
    let mut s = State::default();
    exec(&mut s, "HSET h f v");
    assert_eq!(
        eval(
            &mut s,
            "redis.setresp(3); local m = redis.call('hgetall', 'h'); return m['map']['f']",
            &[],
            &[]
        ),
        bulk("v")
    );
    assert_eq!(
        eval(&mut s, "return {double=1.5}", &[], &[]),
        Reply::Double(1.5)
    );
}

#[test]
fn numbers_are_passed_as_percent_17g() {
    assert_eq!(number_arg(1.0), "1");
    assert_eq!(number_arg(-2.0), "-2");
    assert_eq!(number_arg(3.5), "3.5");
    assert_eq!(number_arg(0.1), "0.10000000000000001");
    assert_eq!(number_arg(1e20), "1e+20");
    assert_eq!(number_arg(1e-5), "1.0000000000000001e-05");
    assert_eq!(number_arg(123456789012.0), "123456789012");
    assert_eq!(number_arg(f64::INFINITY), "inf");
}

fn function_load(state: &mut State, code: &str) -> Reply {
    exec_args(
        state,
        &[
            Bytes::from("FUNCTION"),
            Bytes::from("LOAD"),
            Bytes::from("REPLACE"),
            Bytes::copy_from_slice(code.as_bytes()),
        ],
    )
}

#[test]
fn function_libraries_load_call_list_and_delete() {
    let mut s = State::default();
    let lib = "#!lua name=mylib\n\
               redis.register_function('incr2', function(keys, args) \
                 return redis.call('incrby', keys[1], 2) end)\n\
               redis.register_function{function_name='peek', \
                 callback=function(keys) return redis.call('get', keys[1]) end, \
                 flags={'no-writes'}}";
    assert_eq!(function_load(&mut s, lib), bulk("mylib"));
    assert_eq!(exec(&mut s, "FCALL incr2 1 n"), Reply::Integer(2));
    assert_eq!(exec(&mut s, "FCALL_RO peek 1 n"), bulk("2"));
    assert_eq!(
        exec(&mut s, "FCALL_RO incr2 1 n"),
        Reply::error("ERR Can not execute a script with write flag using *_ro command.")
    );
    assert_eq!(
        exec(&mut s, "FCALL nosuch 0"),
        Reply::error("ERR Function not found")
    );
    let Reply::Array(libs) = exec(&mut s, "FUNCTION LIST") else {
        panic!("FUNCTION LIST is an array")
    };
    assert_eq!(libs.len(), 1);
    // Errors of loading, as Redis words them.
    assert_eq!(
        function_load(&mut s, "return 1"),
        Reply::error("ERR Missing library metadata")
    );
    assert_eq!(
        function_load(&mut s, "#!lua name=empty\nlocal x = 1"),
        Reply::error("ERR No functions registered")
    );
    assert_eq!(
        function_load(
            &mut s,
            "#!lua name=other\nredis.register_function('incr2', function() end)"
        ),
        Reply::error("ERR Function incr2 already exists")
    );
    let e = error_text(function_load(
        &mut s,
        "#!lua name=bad\nredis.call('set', 'x', 1)",
    ));
    assert!(e.starts_with("ERR Error registering functions: "), "{e}");
    let e = error_text(function_load(&mut s, "#!lua name=bad\nreturn +"));
    assert!(
        e.starts_with("ERR Error compiling function: user_function:2:"),
        "{e}"
    );
    // A runtime error names the function and the library's line.
    function_load(
        &mut s,
        "#!lua name=oops\n\nredis.register_function('oops', function() error('x') end)",
    );
    let e = error_text(exec(&mut s, "FCALL oops 0"));
    assert!(e.ends_with("script: oops, on @user_function:3."), "{e}");
    // DUMP and RESTORE round-trip; APPEND refuses an existing library, REPLACE takes it.
    let Reply::Bulk(payload) = exec(&mut s, "FUNCTION DUMP") else {
        panic!("FUNCTION DUMP is a bulk string")
    };
    let restore = |s: &mut State, policy: &str| {
        exec_args(
            s,
            &[
                Bytes::from("FUNCTION"),
                Bytes::from("RESTORE"),
                payload.clone(),
                Bytes::copy_from_slice(policy.as_bytes()),
            ],
        )
    };
    assert_eq!(
        restore(&mut s, "APPEND"),
        Reply::error("ERR Library mylib already exists")
    );
    assert_eq!(restore(&mut s, "REPLACE"), Reply::ok());
    assert_eq!(restore(&mut s, "FLUSH"), Reply::ok());
    assert_eq!(exec(&mut s, "FCALL incr2 1 n"), Reply::Integer(4));
    let mut bad = payload.to_vec();
    bad[20] ^= 1;
    assert_eq!(
        exec_args(
            &mut s,
            &[
                Bytes::from("FUNCTION"),
                Bytes::from("RESTORE"),
                Bytes::from(bad)
            ]
        ),
        Reply::error("ERR DUMP payload version or checksum are wrong")
    );
    assert_eq!(exec(&mut s, "FUNCTION DELETE mylib"), Reply::ok());
    assert_eq!(
        exec(&mut s, "FCALL incr2 1 n"),
        Reply::error("ERR Function not found")
    );
    assert_eq!(exec(&mut s, "FUNCTION FLUSH"), Reply::ok());
    assert_eq!(exec(&mut s, "FUNCTION LIST"), Reply::Array(vec![]));
}

#[test]
fn bit_and_cjson_libraries() {
    let mut s = State::default();
    assert_eq!(
        eval(
            &mut s,
            "return {bit.band(7, 3), bit.bor(1,2,4,8,16,32,64,128), bit.bxor(1, 2), \
             bit.tobit(2^32 + 5), bit.lshift(1, 4), bit.tohex(255, 4), bit.bnot(0)}",
            &[],
            &[]
        ),
        Reply::Array(vec![
            Reply::Integer(3),
            Reply::Integer(255),
            Reply::Integer(3),
            Reply::Integer(5),
            Reply::Integer(16),
            bulk("00ff"),
            Reply::Integer(-1)
        ])
    );
    assert_eq!(
        eval(
            &mut s,
            "return table.concat(cjson.decode('[0.0, -5e3, -1, 0.3e-3, 1023.2, 0e10]'), ' ')",
            &[],
            &[]
        ),
        bulk("0 -5000 -1 0.0003 1023.2 0")
    );
    assert_eq!(
        eval(
            &mut s,
            "return cjson.encode({1, 'a/b', {x = true}, 2.5})",
            &[],
            &[]
        ),
        bulk("[1,\"a\\/b\",{\"x\":true},2.5]")
    );
    assert_eq!(
        eval(
            &mut s,
            "return cjson.decode('{\"k\": null}').k == cjson.null",
            &[],
            &[]
        ),
        Reply::Integer(1)
    );
    let hex = "local e = cmsgpack.pack(ARGV[1] == 'd' and 0.1 or -1099511627776) local h = '' \
               for i = 1, #e do h = h .. string.format('%02x', string.byte(e, i)) end return h";
    assert_eq!(eval(&mut s, hex, &[], &["d"]), bulk("cb3fb999999999999a"));
    assert_eq!(eval(&mut s, hex, &[], &["i"]), bulk("d3ffffff0000000000"));
    assert_eq!(
        eval(
            &mut s,
            "local a = cmsgpack.unpack(cmsgpack.pack({1, 'x', {k = 2.5}, true})) \
             return {a[1], a[2], tostring(a[3].k), a[4]}",
            &[],
            &[]
        ),
        Reply::Array(vec![
            Reply::Integer(1),
            bulk("x"),
            bulk("2.5"),
            Reply::Integer(1)
        ])
    );
    for trick in [
        "setmetatable(_G, {})",
        "local g = getmetatable(_G) g.__index = {}",
        "redis = function() return 1 end",
        "_G = {}",
        "redis.call = function() return 1 end",
        "cjson.encode = function() return 1 end",
        "bit.band = function() return 1 end",
        "cmsgpack.pack = function() return 1 end",
    ] {
        let e = error_text(eval(&mut s, trick, &[], &[]));
        assert!(
            e.contains("Attempt to modify a readonly table"),
            "{trick}: {e}"
        );
    }
}

#[test]
fn fencing_tokens_only_grow_even_within_one_log_entry() {
    let mut s = State::default();
    let token = |s: &mut State| match eval(s, "return cairn.fencing_token()", &[], &[]) {
        Reply::Integer(t) => t,
        other => panic!("{other:?}"),
    };
    let (a, b) = (token(&mut s), token(&mut s));
    assert!(a > 0 && b > a, "{a} then {b}");
    // Two scripts in one entry (the proposer batches writes) share the log index, not the
    // token.
    let line = [
        "EVAL",
        "return {cairn.log_index(), cairn.fencing_token()}",
        "0",
    ]
    .map(Bytes::from);
    let Ok(cairn_protocol::Command::Write(cmd)) = cairn_protocol::command::parse(&line) else {
        panic!("EVAL did not parse as a write");
    };
    let command = crate::types::OpKind::command(0, cmd);
    let op = crate::types::WriteOp {
        now_ms: 1_000,
        ops: vec![command.clone(), command],
    };
    let replies = crate::keyspace::apply(&mut s, 1_000, op).expect("the entry applies");
    let pair = |r: &Reply| match r {
        Reply::Array(v) => match v.as_slice() {
            [Reply::Integer(i), Reply::Integer(t)] => (*i, *t),
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    };
    let ((i1, c), (i2, d)) = (pair(&replies[0]), pair(&replies[1]));
    assert_eq!((i1, i2), (1_000, 1_000));
    assert!(c > b && d > c, "{b}, then {c} and {d} in one entry");
}

#[test]
fn cmsgpack_round_trips_big_values_and_unpacks_piecewise() {
    let mut s = State::default();
    let body = "local big = {} for i = 1, 100000 do big[i] = i end \
        local map = {} for i = 1, 100000 do map[tostring(i)] = i end \
        local v = {s = string.rep('x', 100000), a = big, m = map, n = -3147483648, d = 0.1} \
        local back = cmsgpack.unpack(cmsgpack.pack(v)) \
        assert(#back.a == 100000 and back.m['777'] == 777 and back.n == -3147483648) \
        local packed = cmsgpack.pack('a', 'bb', 'ccc') \
        local off, x = cmsgpack.unpack_limit(packed, 1, 0) \
        local off2, y = cmsgpack.unpack_limit(packed, 1, off) \
        local off3, z = cmsgpack.unpack_one(packed, off2) \
        return {x, y, z, off3}";
    assert_eq!(
        eval(&mut s, body, &[], &[]),
        Reply::Array(vec![bulk("a"), bulk("bb"), bulk("ccc"), Reply::Integer(-1)])
    );
}

#[test]
fn a_call_with_thousands_of_arguments_is_served_not_a_panic() {
    let mut s = State::default();
    let reply = eval(
        &mut s,
        "local t = {} for i = 1, 7900 do t[i] = tostring(i) end return redis.call('rpush', 'l', unpack(t))",
        &[],
        &[],
    );
    assert_eq!(reply, Reply::Integer(7900));
}

#[test]
fn scripts_cannot_block_on_streams() {
    let mut s = State::default();
    for (cmd, name) in [
        ("redis.pcall('xread','BLOCK',0,'STREAMS','s','$')", "xread"),
        (
            "redis.pcall('xreadgroup','group','g','c','BLOCK',0,'STREAMS','s','>')",
            "xreadgroup",
        ),
    ] {
        let e = error_text(eval(&mut s, &format!("return {cmd}"), &["s"], &[]));
        assert_eq!(
            e,
            format!("ERR {name} command is not allowed with BLOCK option from scripts")
        );
    }
    // Without BLOCK they run: nothing to read yet.
    let r = eval(
        &mut s,
        "return redis.pcall('xread','STREAMS','s','$')",
        &["s"],
        &[],
    );
    assert!(matches!(r, Reply::Nil | Reply::NilArray), "{r:?}");
}
