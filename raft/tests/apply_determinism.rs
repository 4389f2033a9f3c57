//! Goal: applying the same operations to two fresh state machines gives identical state
//! (DESIGN.md invariant 1), including TTLs, counters, deletes and FLUSHDB, multi-key pops,
//! transactions that commit or abort on a watched key, and ACL changes.
//! Method: a seeded random stream of write ops, applied in uneven batches to two stores;
//! the full dumps of both keyspaces must be equal, and equal to a third store that received
//! everything in one snapshot.
#![allow(clippy::unwrap_used)]

use bytes::Bytes;
use cairn_protocol::command::geo::{GeoCenter, GeoQuery, GeoShape, GeoSort, GeoUnit};
use cairn_protocol::command::stream::{
    GroupRead, GroupStart, StreamId, Trim, TrimTo, XAddId, XAutoClaim, XClaim, XGroupOp, XReadGroup,
};
use cairn_protocol::command::{
    BitFieldKind, BitFieldOp, BitOp, ExpireCondition, Expiry, ListEnd, Overflow, ScoreBound,
    ScriptRef, SetCondition, SetOp, SetTtl, ZAggregate, ZCompare, ZRange, ZRangeBy,
};
use cairn_protocol::WriteCommand;
use cairn_raft::keyspace::dump;
use cairn_raft::keyspace::once::REPLY_KEPT_MS;
use cairn_raft::keyspace::value::Data;
use cairn_raft::store::Store;
use cairn_raft::{OpKind, RequestId, TypeConfig, WriteOp};
use openraft::storage::RaftStateMachine;
use openraft::{Entry, EntryPayload, LogId, RaftSnapshotBuilder};
use rand::{Rng, SeedableRng};

fn random_op(rng: &mut rand::rngs::StdRng, now: u64) -> OpKind {
    let key = Bytes::from(format!("k{}", rng.gen_range(0..40)));
    let field = |rng: &mut rand::rngs::StdRng| Bytes::from(format!("f{}", rng.gen_range(0..6)));
    let other = |rng: &mut rand::rngs::StdRng| Bytes::from(format!("k{}", rng.gen_range(0..40)));
    let end = |rng: &mut rand::rngs::StdRng| {
        if rng.gen() {
            ListEnd::Left
        } else {
            ListEnd::Right
        }
    };
    // Streams live at their own few keys (other types' writes would replace them too often)
    // and name IDs near the entry's time, which auto IDs come from.
    let stream_key =
        |rng: &mut rand::rngs::StdRng| Bytes::from(format!("s{}", rng.gen_range(0..4)));
    let near = |rng: &mut rand::rngs::StdRng| {
        StreamId::new(now - rng.gen_range(0..20), rng.gen_range(0..2))
    };
    let cmd = match rng.gen_range(0..61) {
        0 => WriteCommand::Set {
            key,
            value: Bytes::from(format!("v{}", rng.gen::<u16>())),
            condition: None,
            get: false,
            ttl: if rng.gen_bool(0.3) {
                SetTtl::Set(Expiry::RelativeMs(rng.gen_range(1..50)))
            } else {
                SetTtl::Clear
            },
        },
        1 => WriteCommand::IncrBy {
            key,
            delta: rng.gen_range(-5..5),
        },
        2 => WriteCommand::Del { keys: vec![key] },
        3 => WriteCommand::Append {
            key,
            value: Bytes::from_static(b"x"),
        },
        4 => WriteCommand::Expire {
            key,
            at: Expiry::RelativeMs(rng.gen_range(-5..100)),
            condition: ExpireCondition::Always,
        },
        5 => WriteCommand::Persist { key },
        6 => WriteCommand::Rename {
            key,
            new_key: Bytes::from(format!("k{}", rng.gen_range(0..40))),
            nx: rng.gen(),
        },
        7 if rng.gen_bool(0.05) => WriteCommand::FlushDb,
        8 => WriteCommand::HSet {
            key,
            pairs: (0..rng.gen_range(1..4))
                .map(|_| (field(rng), Bytes::from(format!("{}", rng.gen_range(0..9)))))
                .collect(),
            hmset: rng.gen(),
        },
        9 => WriteCommand::HDel {
            key,
            fields: vec![field(rng), field(rng)],
        },
        10 => WriteCommand::HIncrBy {
            key,
            field: field(rng),
            delta: rng.gen_range(-3..3),
        },
        11 => WriteCommand::HIncrByFloat {
            key,
            field: field(rng),
            delta: cairn_protocol::long_double::LongDouble::from_f64_text(0.1),
        },
        12 => WriteCommand::SAdd {
            key,
            members: (0..rng.gen_range(1..5)).map(|_| field(rng)).collect(),
        },
        13 => WriteCommand::SRem {
            key,
            members: vec![field(rng)],
        },
        14 => WriteCommand::SPop {
            key,
            count: rng.gen_bool(0.5).then(|| rng.gen_range(0..4)),
        },
        15 => WriteCommand::SMove {
            source: key,
            destination: other(rng),
            member: field(rng),
        },
        16 => WriteCommand::SStore {
            op: [SetOp::Inter, SetOp::Union, SetOp::Diff][rng.gen_range(0..3)],
            destination: key,
            keys: vec![other(rng), other(rng)],
        },
        17 => WriteCommand::LPush {
            key,
            end: end(rng),
            elements: (0..rng.gen_range(1..4)).map(|_| field(rng)).collect(),
            existing: rng.gen_bool(0.2),
        },
        18 => WriteCommand::LPop {
            key,
            end: end(rng),
            count: rng.gen_bool(0.5).then(|| rng.gen_range(0..4)),
        },
        19 => WriteCommand::LSet {
            key,
            index: rng.gen_range(-4..4),
            element: field(rng),
        },
        20 => WriteCommand::LInsert {
            key,
            before: rng.gen(),
            pivot: field(rng),
            element: field(rng),
        },
        21 => WriteCommand::LRem {
            key,
            count: rng.gen_range(-2..3),
            element: field(rng),
        },
        22 => WriteCommand::LTrim {
            key,
            start: rng.gen_range(-4..4),
            stop: rng.gen_range(-4..4),
        },
        23 => WriteCommand::LMove {
            source: key,
            destination: other(rng),
            from: end(rng),
            to: end(rng),
        },
        24 | 25 => WriteCommand::ZAdd {
            key,
            pairs: (0..rng.gen_range(1..4))
                .map(|_| (f64::from(rng.gen_range(-4..4)) / 2.0, field(rng)))
                .collect(),
            condition: [None, Some(SetCondition::Nx), Some(SetCondition::Xx)][rng.gen_range(0..3)],
            compare: if rng.gen_bool(0.2) {
                Some(ZCompare::Gt)
            } else {
                None
            },
            ch: rng.gen(),
            incr: false,
        },
        26 => WriteCommand::ZIncrBy {
            key,
            delta: f64::from(rng.gen_range(-3..3)) * 0.1,
            member: field(rng),
        },
        27 => WriteCommand::ZRem {
            key,
            members: vec![field(rng)],
        },
        28 => WriteCommand::ZPop {
            key,
            max: rng.gen(),
            count: rng.gen_bool(0.5).then(|| rng.gen_range(0..3)),
        },
        29 => WriteCommand::ZRemRange {
            key,
            by: ZRangeBy::Score {
                min: ScoreBound {
                    value: f64::from(rng.gen_range(-2..2)),
                    exclusive: rng.gen(),
                },
                max: ScoreBound {
                    value: f64::from(rng.gen_range(-2..3)),
                    exclusive: false,
                },
            },
        },
        30 => WriteCommand::ZRangeStore {
            destination: other(rng),
            key,
            range: ZRange {
                by: ZRangeBy::Rank {
                    start: rng.gen_range(-3..3),
                    stop: rng.gen_range(-3..3),
                },
                rev: rng.gen(),
                offset: 0,
                count: -1,
            },
        },
        31 => WriteCommand::ZStore {
            op: [SetOp::Inter, SetOp::Union, SetOp::Diff][rng.gen_range(0..3)],
            destination: other(rng),
            keys: vec![key, other(rng)],
            weights: vec![1.0, 2.0],
            aggregate: [ZAggregate::Sum, ZAggregate::Min, ZAggregate::Max][rng.gen_range(0..3)],
        },
        34 => WriteCommand::SetBit {
            key,
            offset: rng.gen_range(0..40),
            value: rng.gen(),
        },
        35 => {
            // As the parser logs it: NOT has exactly one source key.
            let op = [BitOp::And, BitOp::Or, BitOp::Xor, BitOp::Not][rng.gen_range(0..4)];
            let keys = if op == BitOp::Not || rng.gen_bool(0.3) {
                vec![key]
            } else {
                vec![key, other(rng)]
            };
            WriteCommand::BitOp {
                op,
                destination: other(rng),
                keys,
            }
        }
        36 => WriteCommand::Copy {
            key,
            destination: other(rng),
            db: [None, Some(0), Some(3), Some(99)][rng.gen_range(0..4)],
            replace: rng.gen(),
        },
        37 => WriteCommand::Move {
            key,
            db: [0, 3, -1][rng.gen_range(0..3)],
        },
        38 => WriteCommand::LMPop {
            keys: vec![key, other(rng)],
            end: end(rng),
            count: [None, Some(1), Some(3)][rng.gen_range(0..3)],
        },
        39 => WriteCommand::ZMPop {
            keys: vec![key, other(rng)],
            max: rng.gen(),
            count: [None, Some(2)][rng.gen_range(0..2)],
        },
        40 => {
            let list = Data::List(std::sync::Arc::new(
                [Bytes::from_static(b"r"), other(rng)].into_iter().collect(),
            ));
            let mut payload = dump::payload(&list).unwrap().to_vec();
            if rng.gen_bool(0.2) {
                // A damaged payload: refused the same way everywhere.
                payload[2] ^= 1;
            }
            WriteCommand::Restore {
                key,
                expiry: [None, Some(Expiry::RelativeMs(rng.gen_range(1..50)))][rng.gen_range(0..2)],
                payload: Bytes::from(payload),
                replace: rng.gen(),
                hint: None,
            }
        }
        // Scripts: random numbers, writes, errors after writes, the script cache.
        41 | 42 => {
            const SCRIPTS: [&str; 4] = [
                "redis.call('set', KEYS[1], tostring(math.random())) \
                 return redis.call('incr', KEYS[2])",
                "local n = math.random(1, 5) for i = 1, n do \
                 redis.call('rpush', KEYS[1], i * math.random(100)) end return n",
                "redis.call('hset', KEYS[1], 'f', ARGV[1]) error('boom')",
                "local ok, e = pcall(redis.call, 'lpush', KEYS[2], 'x') \
                 redis.call('sadd', KEYS[1], tostring(ok), cairn.log_index() % 7) return e",
            ];
            let body = Bytes::from_static(SCRIPTS[rng.gen_range(0..SCRIPTS.len())].as_bytes());
            match rng.gen_range(0..3) {
                0 => WriteCommand::ScriptLoad { body },
                1 => WriteCommand::Eval {
                    script: ScriptRef::Sha(cairn_raft::keyspace::script::sha1_hex(&body)),
                    keys: vec![key, other(rng)],
                    args: vec![field(rng)],
                    read_only: false,
                },
                _ => WriteCommand::Eval {
                    script: ScriptRef::Body(body),
                    keys: vec![key, other(rng)],
                    args: vec![field(rng)],
                    read_only: false,
                },
            }
        }
        // HyperLogLogs, including over keys of other types and damaged ones (SETRANGE).
        43 => WriteCommand::PfAdd {
            key,
            elements: (0..rng.gen_range(0..4)).map(|_| field(rng)).collect(),
        },
        44 => WriteCommand::PfMerge {
            destination: key,
            sources: vec![other(rng), other(rng)],
        },
        45 => WriteCommand::BitField {
            key,
            ops: (0..rng.gen_range(1..4))
                .map(|_| BitFieldOp {
                    kind: [BitFieldKind::Get, BitFieldKind::Set, BitFieldKind::IncrBy]
                        [rng.gen_range(0..3)],
                    signed: rng.gen(),
                    bits: rng.gen_range(1..=63),
                    offset: rng.gen_range(0..40),
                    value: rng.gen_range(-300..300),
                    overflow: [Overflow::Wrap, Overflow::Sat, Overflow::Fail][rng.gen_range(0..3)],
                })
                .collect(),
        },
        // Geo sets: points near one another so that searches find some, stored by hash and
        // by distance (libm's trigonometry must agree on every replica).
        46 => WriteCommand::GeoAdd {
            key,
            condition: [None, Some(SetCondition::Nx), Some(SetCondition::Xx)][rng.gen_range(0..3)],
            ch: rng.gen(),
            points: (0..rng.gen_range(1..4))
                .map(|_| {
                    let lon = 13.0 + rng.gen_range(-0.5..0.5);
                    let lat = 38.0 + rng.gen_range(-0.5..0.5);
                    (lon, lat, field(rng))
                })
                .collect(),
        },
        47 => WriteCommand::GeoSearchStore {
            destination: key,
            key: other(rng),
            query: GeoQuery {
                center: if rng.gen_bool(0.5) {
                    GeoCenter::Member(field(rng))
                } else {
                    GeoCenter::LonLat(13.0, 38.0)
                },
                shape: if rng.gen_bool(0.5) {
                    GeoShape::Radius(rng.gen_range(1.0..80.0))
                } else {
                    GeoShape::Box {
                        width: rng.gen_range(1.0..80.0),
                        height: rng.gen_range(1.0..80.0),
                    }
                },
                unit: [GeoUnit::Kilometers, GeoUnit::Miles][rng.gen_range(0..2)],
                sort: [GeoSort::Unsorted, GeoSort::Asc, GeoSort::Desc][rng.gen_range(0..3)],
                count: [None, Some(2)][rng.gen_range(0..2)],
                any: false,
                with_coord: false,
                with_dist: false,
                with_hash: false,
            },
            store_dist: rng.gen(),
            georadius: rng.gen(),
        },
        48 if rng.gen_bool(0.2) => WriteCommand::SwapDb {
            a: [0, 3][rng.gen_range(0..2)],
            b: [0, 3, 7][rng.gen_range(0..3)],
        },
        // Streams: IDs from the entry's time, trims by node, groups and their pending entries.
        49 | 50 => WriteCommand::XAdd {
            key: stream_key(rng),
            nomkstream: rng.gen_bool(0.1),
            trim: rng.gen_bool(0.3).then(|| Trim {
                to: if rng.gen_bool(0.5) {
                    TrimTo::MaxLen(rng.gen_range(0..6))
                } else {
                    TrimTo::MinId(StreamId::new(now - rng.gen_range(0..30), 0))
                },
                approx: rng.gen(),
                limit: None,
            }),
            id: [
                XAddId::Auto,
                XAddId::AutoSeq(1_000),
                XAddId::Explicit(StreamId::new(1_500, 1)),
            ][rng.gen_range(0..3)],
            fields: vec![(field(rng), field(rng))],
        },
        51 => WriteCommand::XDel {
            key: stream_key(rng),
            ids: vec![StreamId::new(
                rng.gen_range(990..1_100),
                rng.gen_range(0..3),
            )],
        },
        52 => WriteCommand::XGroup(match rng.gen_range(0..4) {
            0 => XGroupOp::Create {
                key: stream_key(rng),
                group: Bytes::from_static(b"g"),
                start: [GroupStart::Last, GroupStart::Id(StreamId::MIN)][rng.gen_range(0..2)],
                mkstream: rng.gen(),
                entries_read: None,
            },
            1 => XGroupOp::SetId {
                key: stream_key(rng),
                group: Bytes::from_static(b"g"),
                start: GroupStart::Id(StreamId::MIN),
                entries_read: None,
            },
            2 => XGroupOp::DelConsumer {
                key: stream_key(rng),
                group: Bytes::from_static(b"g"),
                consumer: field(rng),
            },
            _ => XGroupOp::Destroy {
                key: stream_key(rng),
                group: Bytes::from_static(b"g"),
            },
        }),
        53 | 54 => WriteCommand::XReadGroup(XReadGroup {
            group: Bytes::from_static(b"g"),
            consumer: field(rng),
            count: [None, Some(2)][rng.gen_range(0..2)],
            noack: rng.gen_bool(0.2),
            streams: vec![(
                stream_key(rng),
                [GroupRead::New, GroupRead::Pending(StreamId::MIN)][rng.gen_range(0..2)],
            )],
        }),
        55 => WriteCommand::XAck {
            key: stream_key(rng),
            group: Bytes::from_static(b"g"),
            ids: vec![near(rng)],
        },
        56 => WriteCommand::XClaim(XClaim {
            key: stream_key(rng),
            group: Bytes::from_static(b"g"),
            consumer: field(rng),
            min_idle_ms: rng.gen_range(0..3),
            ids: vec![near(rng)],
            idle_ms: None,
            time_ms: None,
            retry_count: None,
            force: rng.gen(),
            justid: rng.gen(),
            last_id: None,
        }),
        57 => WriteCommand::XAutoClaim(XAutoClaim {
            key: stream_key(rng),
            group: Bytes::from_static(b"g"),
            consumer: field(rng),
            min_idle_ms: rng.gen_range(0..3),
            start: StreamId::MIN,
            count: rng.gen_range(1..4),
            justid: rng.gen(),
        }),
        58 => WriteCommand::XTrim {
            key: stream_key(rng),
            trim: Trim {
                to: TrimTo::MaxLen(rng.gen_range(0..6)),
                approx: rng.gen(),
                limit: [None, Some(0), Some(2)][rng.gen_range(0..3)],
            },
        },
        59 => WriteCommand::XSetId {
            key: stream_key(rng),
            last: StreamId::new(now + rng.gen_range(0..3), 0),
            entries_added: [None, Some(rng.gen_range(0..50))][rng.gen_range(0..2)],
            max_deleted: None,
        },
        60 => WriteCommand::XGroup(XGroupOp::CreateConsumer {
            key: stream_key(rng),
            group: Bytes::from_static(b"g"),
            consumer: field(rng),
        }),
        _ => WriteCommand::SetRange {
            key,
            offset: rng.gen_range(0..10),
            value: Bytes::from_static(b"ab"),
        },
    };
    let db = if rng.gen_bool(0.8) { 0 } else { 3 };
    if rng.gen_bool(0.02) {
        return OpKind::Check;
    }
    if rng.gen_bool(0.01) {
        let name = format!("u{}", rng.gen_range(0..3));
        return OpKind::Acl(if rng.gen_bool(0.7) {
            cairn_raft::AclOp::SetUser {
                name,
                rules: vec![Bytes::from_static(b"on"), Bytes::from_static(b"+get")],
            }
        } else {
            cairn_raft::AclOp::DelUser { names: vec![name] }
        });
    }
    if rng.gen_bool(0.05) {
        // A transaction: two writes and a read, sometimes watching a key as absent.
        let items = vec![
            cairn_raft::ExecItem::write(cmd.clone()),
            cairn_raft::ExecItem::write(WriteCommand::IncrBy {
                key: Bytes::from_static(b"k1"),
                delta: 1,
            }),
            cairn_raft::ExecItem::read(cairn_protocol::ReadCommand::Get {
                key: Bytes::from_static(b"k1"),
            }),
        ];
        let watched = if rng.gen_bool(0.5) {
            // Watched as missing with no delete seen: commits while that still holds.
            let key = Bytes::from(format!("k{}", rng.gen_range(0..40)));
            let digest = cairn_raft::keyspace::watch_digest(db, &key, None, 0, 0);
            vec![cairn_raft::Watched { db, key, digest }]
        } else {
            Vec::new()
        };
        return OpKind::Exec { db, items, watched };
    }
    if rng.gen_bool(0.02) {
        return OpKind::Config(vec![(
            "maxmemory".to_string(),
            rng.gen_range(0..100_000u64).to_string(),
        )]);
    }
    if rng.gen_bool(0.01) {
        return OpKind::Config(vec![(
            "stream-node-max-entries".to_string(),
            rng.gen_range(1..5u64).to_string(),
        )]);
    }
    if rng.gen_bool(0.03) {
        // The leader's eviction: some of the keys exist, some do not.
        return OpKind::Evict {
            db,
            keys: (0..3)
                .map(|_| Bytes::from(format!("k{}", rng.gen_range(0..40))))
                .collect(),
        };
    }
    if rng.gen_bool(0.1) {
        return OpKind::ExpireKeys {
            db,
            keys: (0..40).map(|i| Bytes::from(format!("k{i}"))).collect(),
        };
    }
    if rng.gen_bool(0.05) {
        // A NOLOOP tracking client's write: applies as the write it wraps.
        return OpKind::Tracked {
            origin: cairn_raft::ClientOrigin {
                node: 7,
                client: rng.gen_range(1..4),
            },
            op: Box::new(OpKind::command(db, cmd)),
        };
    }
    OpKind::command(db, cmd)
}

/// Every key with its encoded value, checking the key and TTL counters against the data.
/// Entry `index`: one to three ops, like batched proposals. Some ops carry request ids from a
/// small range, so retries (repeated ids) happen, and time sometimes leaps by half the window
/// the replies of ids are kept for, so records are forgotten along the way.
fn random_entry(rng: &mut rand::rngs::StdRng, now: &mut u64, index: u64) -> Entry<TypeConfig> {
    *now += if rng.gen_bool(0.01) {
        REPLY_KEPT_MS / 2
    } else {
        rng.gen_range(0..3)
    };
    let ops = (0..rng.gen_range(1..4))
        .map(|_| {
            let op = random_op(rng, *now);
            // The leader never tags its own check entries.
            if !matches!(op, OpKind::Check) && rng.gen_bool(0.5) {
                let id = RequestId {
                    origin: rng.gen_range(1..3),
                    seq: rng.gen_range(0..300),
                };
                OpKind::Once {
                    id,
                    op: Box::new(op),
                }
            } else {
                op
            }
        })
        .collect();
    Entry::<TypeConfig> {
        log_id: LogId::new(openraft::CommittedLeaderId::new(1, 1), index),
        payload: EntryPayload::Normal(WriteOp { now_ms: *now, ops }),
    }
}

fn dump(store: &Store) -> Vec<(u8, Bytes, Vec<u8>)> {
    let ks = store.sm.keyspace();
    let ks = ks.reading().unwrap();
    let mut out = Vec::new();
    for db in 0..16u8 {
        for (k, v) in ks.db(db).into_iter().flat_map(|d| d.keys.iter()) {
            out.push((db, Bytes::copy_from_slice(k), v.encode().unwrap()));
        }
        assert_eq!(
            ks.len(db) as usize,
            out.iter().filter(|e| e.0 == db).count(),
            "key count of db {db}"
        );
    }
    out
}

#[tokio::test]
async fn same_ops_give_identical_state() {
    let seed: u64 = std::env::var("SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    println!("seed {seed}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let (d1, d2, d3) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let (mut a, mut b) = (
        Store::open(d1.path()).unwrap(),
        Store::open(d2.path()).unwrap(),
    );
    let mut now = 1_700_000_000_000u64;
    let mut entries = Vec::new();
    for i in 1..=3000u64 {
        entries.push(random_entry(&mut rng, &mut now, i));
    }
    let mut replies_a = Vec::new();
    for chunk in entries.chunks(7) {
        replies_a.extend(a.sm.apply(chunk.to_vec()).await.unwrap());
    }
    let mut replies_b = Vec::new();
    for chunk in entries.chunks(500) {
        replies_b.extend(b.sm.apply(chunk.to_vec()).await.unwrap());
    }
    assert_eq!(replies_a, replies_b, "seed {seed}: replies differ");
    let dump_a = dump(&a);
    assert!(!dump_a.is_empty());
    // The stream ops got as far as deliveries to consumer groups (pending entries made).
    let deliveries = entries
        .iter()
        .zip(&replies_a)
        .flat_map(|(entry, replies)| {
            let EntryPayload::Normal(op) = &entry.payload else {
                return Vec::new();
            };
            op.ops.iter().zip(&replies.0).collect::<Vec<_>>()
        })
        .filter(|(op, reply)| {
            let mut op = *op;
            while let OpKind::Once { op: inner, .. } | OpKind::Tracked { op: inner, .. } = op {
                op = inner;
            }
            matches!(
                op,
                OpKind::Command {
                    cmd: cairn_raft::logged::WriteCommand::XReadGroup(_),
                    ..
                }
            ) && matches!(reply, cairn_protocol::Reply::KeyedArrays(_))
        })
        .count();
    println!("seed {seed}: {deliveries} XREADGROUP deliveries");
    assert!(
        deliveries > 0,
        "seed {seed}: no XREADGROUP delivered anything"
    );
    assert_eq!(dump_a, dump(&b), "seed {seed}: state differs");

    // A third replica that only receives a snapshot ends up identical too.
    let snap =
        a.sm.get_snapshot_builder()
            .await
            .build_snapshot()
            .await
            .unwrap();
    let mut c = Store::open(d3.path()).unwrap();
    let mut incoming = c.sm.begin_receiving_snapshot().await.unwrap();
    let mut src = tokio::fs::File::open(
        d1.path()
            .join("snapshots")
            .join(format!("{}.snap", snap.meta.snapshot_id)),
    )
    .await
    .unwrap();
    tokio::io::copy(&mut src, &mut *incoming).await.unwrap();
    c.sm.install_snapshot(&snap.meta, incoming).await.unwrap();
    assert_eq!(dump_a, dump(&c), "seed {seed}: snapshot install differs");
    assert_eq!(
        c.sm.applied_state().await.unwrap().0,
        a.sm.applied_state().await.unwrap().0
    );
    // The running digest kept by apply equals one computed from the data, on all three; and
    // both replicas that applied the log recorded the same digests at the same indexes.
    for (name, s) in [("a", &a), ("b", &b), ("c", &c)] {
        assert_eq!(
            s.sm.digest_mismatches().unwrap(),
            Vec::new(),
            "seed {seed}: store {name}"
        );
    }
    // The used-memory measure is the same everywhere and is what the data adds up to; the
    // replicated settings travel in the log and in the snapshot.
    let bytes: u64 = dump_a
        .iter()
        .map(|(_, k, v)| {
            let value = cairn_raft::keyspace::StoredValue::decode(v).unwrap();
            cairn_raft::keyspace::entry_bytes(k, &value)
        })
        .sum();
    for (name, s) in [("a", &a), ("b", &b), ("c", &c)] {
        assert_eq!(s.sm.keyspace().used_bytes(), bytes, "seed {seed}: {name}");
        assert_eq!(
            s.sm.replicated_settings(),
            a.sm.replicated_settings(),
            "seed {seed}: {name}"
        );
    }
    assert!(a.sm.replicated_settings().contains_key("maxmemory"));
    let checks = a.sm.checks().unwrap();
    assert!(!checks.is_empty(), "seed {seed}: the ops include checks");
    assert_eq!(checks, b.sm.checks().unwrap(), "seed {seed}");
    // The snapshot carried the at-most-once records: retries after it are answered alike.
    let more: Vec<_> = (3001..=3300u64)
        .map(|i| random_entry(&mut rng, &mut now, i))
        .collect();
    // And a replica restarted from its data dir rebuilt them from its snapshot (the state
    // lives in memory: a restart loads the current snapshot, then openraft re-applies the
    // log after it, which is nothing here).
    b.sm.get_snapshot_builder()
        .await
        .build_snapshot()
        .await
        .unwrap();
    drop(b);
    // The log's I/O thread lets go of its files once it sees the store dropped: retry.
    let mut reopened = None;
    for _ in 0..100 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        if let Ok(store) = Store::open(d2.path()) {
            reopened = Some(store);
            break;
        }
    }
    let mut b = reopened.expect("reopen the restarted replica's store");
    let after_a = a.sm.apply(more.clone()).await.unwrap();
    let after_b = b.sm.apply(more.clone()).await.unwrap();
    let after_c = c.sm.apply(more).await.unwrap();
    assert_eq!(
        after_a, after_c,
        "seed {seed}: replies after a snapshot differ"
    );
    assert_eq!(
        after_a, after_b,
        "seed {seed}: replies after a restart differ"
    );
    assert_eq!(
        dump(&a),
        dump(&c),
        "seed {seed}: state after a snapshot differs"
    );
    assert_eq!(
        dump(&a),
        dump(&b),
        "seed {seed}: state after a restart differs"
    );
}
