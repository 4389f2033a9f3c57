//! Keyspace commands (the "generic" group: db.c, expire.c).

use crate::errors::RedisError;
use bytes::Bytes;

use super::{int, is, text, Result};
use crate::command::{
    AccessHint, Command, CommandError, ExpireCondition, Expiry, ObjectQuery, ReadCommand, SortSpec,
    TtlQuery, WriteCommand, MAX_RELATIVE_EXPIRE_MS,
};
use crate::num::{parse_i64, parse_u64_cursor};

/// The type names SCAN's TYPE option accepts (Redis's `obj_type_name`).
const TYPE_NAMES: [&str; 6] = ["string", "list", "set", "zset", "hash", "stream"];

/// Parses the keyspace command `name` (lowercase, arity already checked).
pub(super) fn parse(name: &str, args: &[Bytes]) -> Result<Command> {
    use Command::{Read, Write};
    use ReadCommand as R;
    use WriteCommand as W;
    let ttl = |key: &Bytes, query| {
        Read(R::Ttl {
            key: key.clone(),
            query,
        })
    };
    Ok(match (name, args) {
        ("del" | "unlink", [_, keys @ ..]) if !keys.is_empty() => Write(W::Del {
            keys: keys.to_vec(),
        }),
        ("exists" | "touch", [_, keys @ ..]) if !keys.is_empty() => Read(R::Exists {
            keys: keys.to_vec(),
        }),
        ("randomkey", [_]) => Read(R::RandomKey),
        (
            "object|encoding" | "object|refcount" | "object|idletime" | "object|freq",
            [_, _, key],
        ) => {
            let what = match name {
                "object|encoding" => ObjectQuery::Encoding,
                "object|refcount" => ObjectQuery::RefCount,
                "object|idletime" => ObjectQuery::IdleTime,
                _ => ObjectQuery::Freq,
            };
            Read(R::Object {
                what,
                key: key.clone(),
            })
        }
        ("type", [_, key]) => Read(R::Type { key: key.clone() }),
        ("keys", [_, pattern]) => Read(R::Keys {
            pattern: pattern.clone(),
        }),
        ("scan", [_, cursor, options @ ..]) => Read(scan(cursor, options)?),
        ("dbsize", [_]) => Read(R::DbSize),
        ("flushdb", [_, options @ ..]) => {
            flush_mode(options)?;
            Write(W::FlushDb)
        }
        ("flushall", [_, options @ ..]) => {
            flush_mode(options)?;
            Write(W::FlushAll)
        }
        ("swapdb", [_, a, b]) => {
            let index = |arg: &[u8], which: &str| {
                parse_i64(arg)
                    .filter(|n| i32::try_from(*n).is_ok())
                    .ok_or_else(|| CommandError::Other(format!("ERR invalid {which} DB index")))
            };
            let (a, b) = (index(a, "first")?, index(b, "second")?);
            let db = |n: i64| {
                u8::try_from(n)
                    .ok()
                    .filter(|d| *d < crate::command::DATABASES)
                    .ok_or(CommandError::Redis(RedisError::DbIndexOutOfRange))
            };
            Write(W::SwapDb {
                a: db(a)?,
                b: db(b)?,
            })
        }
        ("expire" | "pexpire" | "expireat" | "pexpireat", [_, key, when, options @ ..]) => {
            Write(expire(name, key, when, options)?)
        }
        ("ttl", [_, key]) => ttl(key, TtlQuery::TtlSecs),
        ("pttl", [_, key]) => ttl(key, TtlQuery::TtlMs),
        ("expiretime", [_, key]) => ttl(key, TtlQuery::AtSecs),
        ("pexpiretime", [_, key]) => ttl(key, TtlQuery::AtMs),
        ("persist", [_, key]) => Write(W::Persist { key: key.clone() }),
        ("copy", [_, key, destination, options @ ..]) => Write(copy(key, destination, options)?),
        ("move", [_, key, db]) => Write(W::Move {
            key: key.clone(),
            db: db_index(db)?,
        }),
        ("dump", [_, key]) => Read(R::Dump { key: key.clone() }),
        ("sort" | "sort_ro", [_, key, options @ ..]) => {
            let (spec, store) = sort(key, options, name == "sort")?;
            match store {
                Some(destination) => Write(W::SortStore { spec, destination }),
                None => Read(R::Sort(spec)),
            }
        }
        ("restore", [_, key, ttl, payload, options @ ..]) => {
            Write(restore(key, ttl, payload, options)?)
        }
        ("rename" | "renamenx", [_, key, new_key]) => Write(W::Rename {
            key: key.clone(),
            new_key: new_key.clone(),
            nx: name == "renamenx",
        }),
        _ => return Err(CommandError::Arity(name.into())),
    })
}

/// SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]. The cursor is parsed leniently
/// (`strtoull`); options may repeat, the last wins.
fn scan(cursor: &[u8], options: &[Bytes]) -> Result<ReadCommand> {
    let cursor = parse_u64_cursor(cursor).ok_or(CommandError::Redis(RedisError::InvalidCursor))?;
    let mut pattern = None;
    let mut count = 10;
    let mut type_name = None;
    let mut i = 0;
    while let Some(option) = options.get(i) {
        let Some(value) = options.get(i + 1) else {
            return Err(CommandError::Syntax);
        };
        if is(option, "count") {
            let n = int(value)?;
            if n < 1 {
                return Err(CommandError::Syntax);
            }
            count = usize::try_from(n).unwrap_or(usize::MAX);
        } else if is(option, "match") {
            pattern = Some(value.clone());
        } else if is(option, "type") {
            let name = TYPE_NAMES
                .into_iter()
                .find(|t| is(value, t))
                .ok_or_else(|| {
                    CommandError::Other(format!("ERR unknown type name '{}'", text(value)))
                })?;
            type_name = Some(name.to_string());
        } else {
            return Err(CommandError::Syntax);
        }
        i += 2;
    }
    Ok(ReadCommand::Scan {
        cursor,
        pattern,
        count,
        type_name,
    })
}

/// FLUSHDB/FLUSHALL [ASYNC|SYNC]. cairn flushes the same way either way.
fn flush_mode(options: &[Bytes]) -> Result<()> {
    match options {
        [] => Ok(()),
        [mode] if is(mode, "sync") || is(mode, "async") => Ok(()),
        _ => Err(CommandError::Syntax),
    }
}

/// EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT key time [NX|XX|GT|LT] (`expireGenericCommand`).
/// Options are checked first, then the time, which may be negative (the key is then
/// deleted) but must not overflow once converted to milliseconds and made absolute.
fn expire(name: &str, key: &Bytes, when: &[u8], options: &[Bytes]) -> Result<WriteCommand> {
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for option in options {
        if is(option, "nx") {
            nx = true;
        } else if is(option, "xx") {
            xx = true;
        } else if is(option, "gt") {
            gt = true;
        } else if is(option, "lt") {
            lt = true;
        } else {
            return Err(CommandError::Other(format!(
                "ERR Unsupported option {}",
                text(option)
            )));
        }
    }
    if nx && (xx || gt || lt) {
        return Err(CommandError::Other(
            "ERR NX and XX, GT or LT options at the same time are not compatible".into(),
        ));
    }
    if gt && lt {
        return Err(CommandError::Other(
            "ERR GT and LT options at the same time are not compatible".into(),
        ));
    }
    let invalid = || CommandError::InvalidExpire(name.into());
    let when = int(when)?;
    let seconds = matches!(name, "expire" | "expireat");
    let relative = matches!(name, "expire" | "pexpire");
    let ms = if seconds {
        when.checked_mul(1000).ok_or_else(invalid)?
    } else {
        when
    };
    let at = if relative {
        if ms > MAX_RELATIVE_EXPIRE_MS {
            return Err(invalid());
        }
        Expiry::RelativeMs(ms)
    } else {
        Expiry::AtMs(ms)
    };
    let condition = if nx {
        ExpireCondition::Nx
    } else if gt {
        // XX GT is GT: GT already fails on a key without a TTL.
        ExpireCondition::Gt
    } else if lt && xx {
        ExpireCondition::XxLt
    } else if lt {
        ExpireCondition::Lt
    } else if xx {
        ExpireCondition::Xx
    } else {
        ExpireCondition::Always
    };
    Ok(WriteCommand::Expire {
        key: key.clone(),
        at,
        condition,
    })
}

/// A database index argument: an integer in C `int` range (the range of databases is checked
/// when the command is applied, as Redis checks it when selecting).
fn db_index(arg: &[u8]) -> Result<i32> {
    i32::try_from(int(arg)?).map_err(|_| CommandError::NotInteger)
}

/// COPY's options, in any order: `DB db`, `REPLACE`.
fn copy(key: &Bytes, destination: &Bytes, options: &[Bytes]) -> Result<WriteCommand> {
    let (mut db, mut replace) = (None, false);
    let mut rest = options.iter();
    while let Some(option) = rest.next() {
        if is(option, "replace") {
            replace = true;
        } else if is(option, "db") {
            let index = rest.next().ok_or(CommandError::Syntax)?;
            db = Some(db_index(index)?);
        } else {
            return Err(CommandError::Syntax);
        }
    }
    Ok(WriteCommand::Copy {
        key: key.clone(),
        destination: destination.clone(),
        db,
        replace,
    })
}

/// RESTORE key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency],
/// checked as Redis's `restoreCommand` does: options first (IDLETIME and FREQ exclude each
/// other), then the ttl.
fn restore(key: &Bytes, ttl: &[u8], payload: &Bytes, options: &[Bytes]) -> Result<WriteCommand> {
    let (mut replace, mut absolute, mut hint) = (false, false, None);
    let mut i = 0;
    while let Some(opt) = options.get(i) {
        let value = options.get(i + 1);
        i += 1;
        if is(opt, "replace") {
            replace = true;
        } else if is(opt, "absttl") {
            absolute = true;
        } else if let (true, None | Some(AccessHint::IdleSecs(_)), Some(n)) =
            (is(opt, "idletime"), hint, value)
        {
            let secs = u64::try_from(int(n)?).map_err(|_| {
                CommandError::Other("ERR Invalid IDLETIME value, must be >= 0".into())
            })?;
            (hint, i) = (Some(AccessHint::IdleSecs(secs)), i + 1);
        } else if let (true, None | Some(AccessHint::Freq(_)), Some(n)) =
            (is(opt, "freq"), hint, value)
        {
            let freq = u8::try_from(int(n)?).map_err(|_| {
                CommandError::Other("ERR Invalid FREQ value, must be >= 0 and <= 255".into())
            })?;
            (hint, i) = (Some(AccessHint::Freq(freq)), i + 1);
        } else {
            return Err(CommandError::Syntax);
        }
    }
    let ttl = int(ttl)?;
    if ttl < 0 {
        return Err(CommandError::Other(
            "ERR Invalid TTL value, must be >= 0".into(),
        ));
    }
    let expiry = match (ttl, absolute) {
        (0, _) => None,
        (at, true) => Some(Expiry::AtMs(at)),
        (ms, false) => Some(Expiry::RelativeMs(ms.min(MAX_RELATIVE_EXPIRE_MS))),
    };
    Ok(WriteCommand::Restore {
        key: key.clone(),
        expiry,
        payload: payload.clone(),
        replace,
        hint,
    })
}

/// SORT's options, read as Redis's `sortCommandGeneric` does (any order; STORE only for SORT,
/// not SORT_RO). Returns the spec and the STORE destination.
fn sort(key: &Bytes, options: &[Bytes], store_allowed: bool) -> Result<(SortSpec, Option<Bytes>)> {
    let mut spec = SortSpec {
        key: key.clone(),
        by: None,
        limit: None,
        get: Vec::new(),
        desc: false,
        alpha: false,
    };
    let mut store = None;
    let mut i = 0;
    while let Some(opt) = options.get(i) {
        let left = options.len() - i - 1;
        if is(opt, "asc") {
            spec.desc = false;
        } else if is(opt, "desc") {
            spec.desc = true;
        } else if is(opt, "alpha") {
            spec.alpha = true;
        } else if is(opt, "limit") && left >= 2 {
            spec.limit = Some((int(&options[i + 1])?, int(&options[i + 2])?));
            i += 2;
        } else if is(opt, "store") && store_allowed && left >= 1 {
            store = Some(options[i + 1].clone());
            i += 1;
        } else if is(opt, "by") && left >= 1 {
            spec.by = Some(options[i + 1].clone());
            i += 1;
        } else if is(opt, "get") && left >= 1 {
            spec.get.push(options[i + 1].clone());
            i += 1;
        } else {
            return Err(CommandError::Syntax);
        }
        i += 1;
    }
    Ok((spec, store))
}
