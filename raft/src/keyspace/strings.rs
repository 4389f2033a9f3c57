//! String commands: SET and its variants, counters, APPEND, SETRANGE.

use bytes::Bytes;
use cairn_protocol::command::{CommandError, Expiry, GetExTtl, SetCondition, SetTtl};
use cairn_protocol::errors::RedisError;
use cairn_protocol::long_double::LongDouble;
use cairn_protocol::num::parse_i64;
use cairn_protocol::Reply;

use super::{str_mut, Ctx, Data, Kind, StoredValue, WRONGTYPE};
use crate::error::Result;
use cairn_protocol::command::MAX_STRING_LEN as STRING_LEN_MAX;

/// What an absolute expiry time means for a key.
pub(crate) enum Deadline {
    /// Expires at this unix ms, still in the future.
    At(u64),
    /// Already in the past: the key is to be deleted.
    Past,
    /// Overflows the range Redis accepts.
    Invalid,
}

impl Ctx<'_> {
    /// Resolves a client's expiry against the op's timestamp.
    pub(crate) fn deadline(&self, e: Expiry) -> Deadline {
        let at: i128 = match e {
            Expiry::RelativeMs(ms) => i128::from(self.now) + i128::from(ms),
            Expiry::AtMs(at) => i128::from(at),
        };
        if at > i128::from(i64::MAX) {
            Deadline::Invalid
        } else if at <= i128::from(self.now) {
            Deadline::Past
        } else {
            // In range by the checks above.
            Deadline::At(u64::try_from(at).unwrap_or(u64::MAX))
        }
    }

    /// The live string at `key`, or the WRONGTYPE reply.
    pub(crate) fn string(&mut self, key: &[u8]) -> Result<Result<Option<StoredValue>, Reply>> {
        match self.live(key)? {
            Some(v) => match &v.data {
                Data::Str(_) => Ok(Ok(Some(v))),
                Data::Hash(_) | Data::Set(_) | Data::List(_) | Data::ZSet(_) | Data::Stream(_) => {
                    Ok(Err(Reply::error(WRONGTYPE)))
                }
            },
            None => Ok(Ok(None)),
        }
    }

    pub(crate) fn set(
        &mut self,
        key: &Bytes,
        value: &Bytes,
        condition: Option<SetCondition>,
        get: bool,
        ttl: SetTtl,
    ) -> Result<Reply> {
        if !get && condition.is_none() && !matches!(ttl, SetTtl::Keep) {
            return Ok(self.overwrite(key, value, ttl));
        }
        let old = match self.string(key)? {
            // SET ... GET on a non-string is an error; plain SET overwrites any type.
            Err(e) if get => return Ok(e),
            Err(_) => self.live(key)?,
            Ok(v) => v,
        };
        let old_reply = old.as_ref().map_or(Reply::Nil, bulk_of);
        let proceed = match condition {
            Some(SetCondition::Nx) => old.is_none(),
            Some(SetCondition::Xx) => old.is_some(),
            None => true,
        };
        let not_done = if get { old_reply.clone() } else { Reply::Nil };
        if !proceed {
            return Ok(not_done);
        }
        let expire_at_ms = match ttl {
            SetTtl::Clear => None,
            SetTtl::Keep => old.as_ref().and_then(|v| v.expire_at_ms()),
            SetTtl::Set(e) => match self.deadline(e) {
                Deadline::At(at) => Some(at),
                Deadline::Past => {
                    // Redis sets and immediately expires the key: the effect is a delete.
                    self.delete(key);
                    return Ok(if get { old_reply } else { Reply::ok() });
                }
                Deadline::Invalid => return Ok(set_invalid_expire()),
            },
        };
        self.put(key, StoredValue::string(owned(value), expire_at_ms));
        Ok(if get { old_reply } else { Reply::ok() })
    }

    /// A SET that needs nothing of the old value (no GET, NX/XX or KEEPTTL): one insert,
    /// whatever was there, expired or not.
    fn overwrite(&mut self, key: &Bytes, value: &Bytes, ttl: SetTtl) -> Reply {
        let expire_at_ms = match ttl {
            SetTtl::Clear | SetTtl::Keep => None,
            SetTtl::Set(e) => match self.deadline(e) {
                Deadline::At(at) => Some(at),
                Deadline::Past => {
                    // Redis sets and immediately expires the key: the effect is a delete.
                    self.delete(key);
                    return Reply::ok();
                }
                Deadline::Invalid => return set_invalid_expire(),
            },
        };
        self.put(key, StoredValue::string(owned(value), expire_at_ms));
        Reply::ok()
    }

    pub(crate) fn setnx(&mut self, key: &Bytes, value: &Bytes) -> Result<Reply> {
        if self.live(key)?.is_some() {
            return Ok(Reply::Integer(0));
        }
        self.put(key, StoredValue::string(owned(value), None));
        Ok(Reply::Integer(1))
    }

    pub(crate) fn getset(&mut self, key: &Bytes, value: &Bytes) -> Result<Reply> {
        self.set(key, value, None, true, SetTtl::Clear)
    }

    pub(crate) fn getdel(&mut self, key: &Bytes) -> Result<Reply> {
        match self.string(key)? {
            Err(e) => Ok(e),
            Ok(None) => Ok(Reply::Nil),
            Ok(Some(v)) => {
                self.delete(key);
                Ok(bulk_of(&v))
            }
        }
    }

    pub(crate) fn getex(&mut self, key: &Bytes, ttl: GetExTtl) -> Result<Reply> {
        let mut v = match self.string(key)? {
            Err(e) => return Ok(e),
            Ok(None) => return Ok(Reply::Nil),
            Ok(Some(v)) => v,
        };
        let reply = bulk_of(&v);
        match ttl {
            GetExTtl::Unchanged => {}
            GetExTtl::Persist => {
                if v.expire_at_ms().is_some() {
                    v.set_expire_at_ms(None);
                    self.put(key, v);
                }
            }
            GetExTtl::Set(e) => match self.deadline(e) {
                Deadline::At(at) => {
                    v.set_expire_at_ms(Some(at));
                    self.put(key, v);
                }
                Deadline::Past => {
                    self.delete(key);
                }
                Deadline::Invalid => {
                    return Ok(Reply::error("ERR invalid expire time in 'getex' command"))
                }
            },
        }
        Ok(reply)
    }

    pub(crate) fn mset(&mut self, pairs: &[(Bytes, Bytes)]) -> Result<Reply> {
        for (k, v) in pairs {
            self.put(k, StoredValue::string(owned(v), None));
        }
        Ok(Reply::ok())
    }

    pub(crate) fn msetnx(&mut self, pairs: &[(Bytes, Bytes)]) -> Result<Reply> {
        for (k, _) in pairs {
            if self.live(k)?.is_some() {
                return Ok(Reply::Integer(0));
            }
        }
        self.mset(pairs)?;
        Ok(Reply::Integer(1))
    }

    pub(crate) fn append(&mut self, key: &Bytes, value: &Bytes) -> Result<Reply> {
        let len = match self.live_ref(key) {
            Some(StoredValue {
                data: Data::Str(s), ..
            }) => s.len(),
            Some(_) => return Ok(Reply::error(WRONGTYPE)),
            None => 0,
        };
        if (len + value.len()) as u64 > STRING_LEN_MAX {
            return Ok(too_big());
        }
        // In place: amortized O(1) growth, the digest updated from the appended bytes.
        let grown = self.modify(key, Kind::Str, true, |v| {
            str_mut(v).map(|s| {
                s.write_at(s.len(), value);
                s.len()
            })
        });
        Ok(match grown {
            Ok(Some(Some(len))) => Reply::Integer(len as i64),
            Ok(_) => Reply::Integer(0),
            Err(e) => e,
        })
    }

    pub(crate) fn setrange(&mut self, key: &Bytes, offset: u64, value: &Bytes) -> Result<Reply> {
        let len = match self.live_ref(key) {
            Some(StoredValue {
                data: Data::Str(s), ..
            }) => s.len(),
            Some(_) => return Ok(Reply::error(WRONGTYPE)),
            None => 0,
        };
        if value.is_empty() {
            // Redis: an empty value changes nothing and does not create the key.
            return Ok(Reply::Integer(len as i64));
        }
        let end = offset.saturating_add(value.len() as u64);
        if end > STRING_LEN_MAX {
            return Ok(too_big());
        }
        // In range by the check above.
        let offset = offset as usize;
        let written = self.modify(key, Kind::Str, true, |v| {
            str_mut(v).map(|s| {
                s.write_at(offset, value);
                s.len()
            })
        });
        Ok(match written {
            Ok(Some(Some(len))) => Reply::Integer(len as i64),
            Ok(_) => Reply::Integer(0),
            Err(e) => e,
        })
    }

    pub(crate) fn incrby(&mut self, key: &Bytes, delta: i64) -> Result<Reply> {
        let (current, expire) = match self.string(key)? {
            Err(e) => return Ok(e),
            Ok(None) => (0, None),
            Ok(Some(v)) => match parse_i64(&str_of(&v)) {
                Some(n) => (n, v.expire_at_ms()),
                None => return Ok(Reply::from(RedisError::NotInteger)),
            },
        };
        let Some(next) = current.checked_add(delta) else {
            return Ok(Reply::from(RedisError::Overflow));
        };
        self.put(key, StoredValue::string(next.to_string(), expire));
        Ok(Reply::Integer(next))
    }

    pub(crate) fn incrbyfloat(&mut self, key: &Bytes, delta: LongDouble) -> Result<Reply> {
        let (current, expire) = match self.string(key)? {
            Err(e) => return Ok(e),
            Ok(None) => (LongDouble::ZERO, None),
            Ok(Some(v)) => match LongDouble::parse(&str_of(&v)) {
                Some(n) => (n, v.expire_at_ms()),
                None => return Ok(Reply::from(RedisError::NotFloat)),
            },
        };
        // Redis adds in `long double` and stores `%.17Lf`; see `cairn_protocol::long_double`.
        let next = match current.add(&delta) {
            Some(next) if next.is_finite() => next,
            _ => return Ok(Reply::from(RedisError::IncrNaN)),
        };
        let text = next.to_human_string();
        self.put(key, StoredValue::string(text.clone(), expire));
        Ok(Reply::Bulk(Bytes::from(text)))
    }
}

/// A value to keep in the keyspace: a short one gets its own allocation of its exact size,
/// rather than sharing the log entry's buffer (which would give it a shared header and keep
/// the entry's bytes alive as long as the key); a long one is shared.
pub(crate) fn owned(value: &Bytes) -> Bytes {
    if value.len() <= 4096 {
        Bytes::copy_from_slice(value)
    } else {
        value.clone()
    }
}

fn too_big() -> Reply {
    Reply::from(RedisError::StringTooLong)
}

/// The bytes of a value already checked to be a string (see [`Ctx::string`]); empty for
/// another type, which callers never pass.
fn str_of(v: &StoredValue) -> Bytes {
    match &v.data {
        Data::Str(s) => s.to_bytes(),
        Data::Hash(_) | Data::Set(_) | Data::List(_) | Data::ZSet(_) | Data::Stream(_) => {
            Bytes::new()
        }
    }
}

fn bulk_of(v: &StoredValue) -> Reply {
    match &v.data {
        Data::Str(s) => Reply::Bulk(s.reply_bytes()),
        Data::Hash(_) | Data::Set(_) | Data::List(_) | Data::ZSet(_) | Data::Stream(_) => {
            Reply::Nil
        }
    }
}

/// SET's error for a TTL that overflows once resolved against the entry's time: the parser's
/// text for the same mistake, so both layers say it alike.
fn set_invalid_expire() -> Reply {
    Reply::error(CommandError::InvalidExpire("set".into()).resp_error())
}
