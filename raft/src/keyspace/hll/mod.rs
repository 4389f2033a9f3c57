//! HyperLogLog commands: PFADD, PFCOUNT, PFMERGE, PFDEBUG.
//!
//! An HLL is a string in Redis's own representation (`codec`), so counts and bytes agree
//! with redis-server's, and DUMP/RESTORE, GET/SET and replication carry it like any string.
//! One difference: PFCOUNT does not write its result back as the cached cardinality (Redis
//! does, though it calls PFCOUNT read-only); here reads never change replicated state. A
//! valid cache (an HLL restored from Redis, or after PFMERGE into nothing new) is still used.

mod codec;

use bytes::Bytes;
use cairn_protocol::errors::RedisError;
use cairn_protocol::Reply;

use super::bits::{bitmap, str_bytes};
use super::{str_mut, Ctx, Kind, StoredValue};
use crate::error::Result;
use codec::{Bad, Encoding, REGISTERS};

const NOT_HLL: &str = "WRONGTYPE Key is not a valid HyperLogLog string value.";
const CORRUPT: &str = "INVALIDOBJ Corrupted HLL object detected";
/// `hll-sparse-max-bytes`: a sparse HLL longer than this becomes dense (a replicated
/// setting, since the choice is made when the write applies).
pub const SPARSE_MAX_SETTING: &str = "hll-sparse-max-bytes";
const SPARSE_MAX_DEFAULT: usize = 3000;

/// An HLL string and its expiry, `None` when the key is missing; or the error reply.
type Found = std::result::Result<Option<(Bytes, Option<u64>)>, Reply>;

fn bad(b: Bad) -> Reply {
    Reply::error(match b {
        Bad::NotHll => NOT_HLL,
        Bad::Corrupt => CORRUPT,
    })
}

/// Merges the registers of `hll` (a checked HLL string) into `max`.
fn merge_into(max: &mut [u8; REGISTERS], hll: &[u8]) -> std::result::Result<(), Reply> {
    let regs = codec::registers(hll).map_err(bad)?;
    for (m, r) in max.iter_mut().zip(regs.iter()) {
        *m = (*m).max(*r);
    }
    Ok(())
}

/// Whether `bytes` read as a HyperLogLog (Redis's header checks).
pub fn is_hll(bytes: &[u8]) -> bool {
    codec::encoding(bytes).is_ok()
}

impl Ctx<'_> {
    fn sparse_max(&self) -> usize {
        self.state
            .settings
            .get(SPARSE_MAX_SETTING)
            .and_then(|v| v.parse().ok())
            .unwrap_or(SPARSE_MAX_DEFAULT)
    }

    /// The HLL string at `key` and its TTL: `Ok(None)` when missing; the error reply when it
    /// is another type or not an HLL.
    fn hll(&mut self, key: &[u8]) -> Result<Found> {
        Ok(match self.string(key)? {
            Err(e) => Err(e),
            Ok(None) => Ok(None),
            Ok(Some(v)) => {
                let ttl = v.expire_at_ms();
                let bytes = str_bytes(&v);
                match codec::encoding(&bytes) {
                    Ok(_) => Ok(Some((bytes, ttl))),
                    Err(b) => Err(bad(b)),
                }
            }
        })
    }

    /// PFADD: creates the HLL if missing; answers 1 if a register changed (or the key was
    /// created), else 0 and writes nothing.
    pub(crate) fn pfadd(&mut self, key: &Bytes, elements: &[Bytes]) -> Result<Reply> {
        let (old, ttl, created) = match self.hll(key)? {
            Err(e) => return Ok(e),
            Ok(Some((bytes, _))) if codec::encoding(&bytes) == Ok(Encoding::Dense) => {
                // Dense: registers set in the string in place, O(1) per element as in Redis
                // (the string's digest follows each changed byte).
                let changes = codec::dense_changes(&bytes, elements);
                if changes.is_empty() {
                    return Ok(Reply::Integer(0));
                }
                let written = self.modify(key, Kind::Str, false, |v| {
                    if let Some(s) = str_mut(v) {
                        for (at, data) in &changes {
                            s.write_at(*at, data);
                        }
                    }
                });
                return Ok(written.err().unwrap_or(Reply::Integer(1)));
            }
            Ok(Some((bytes, ttl))) => (bytes.to_vec(), ttl, false),
            Ok(None) => (codec::empty(), None, true),
        };
        let mut regs = match codec::registers(&old) {
            Ok(r) => r,
            Err(b) => return Ok(bad(b)),
        };
        let mut changed = created;
        for e in elements {
            let (i, count) = codec::position(e);
            if regs[i] < count {
                regs[i] = count;
                changed = true;
            }
        }
        if !changed {
            return Ok(Reply::Integer(0));
        }
        let sparse = codec::encoding(&old) == Ok(Encoding::Sparse);
        let new = codec::encode(&regs, Some(&old), sparse, self.sparse_max(), true);
        self.put(key, StoredValue::string(new, ttl));
        Ok(Reply::Integer(1))
    }

    /// PFMERGE: the union of the sources and the destination's own registers into the
    /// destination, dense if any input was dense.
    pub(crate) fn pfmerge(&mut self, dest: &Bytes, sources: &[Bytes]) -> Result<Reply> {
        let mut max = Box::new([0u8; REGISTERS]);
        let mut dense = false;
        let mut existing = None;
        for (n, key) in std::iter::once(dest).chain(sources).enumerate() {
            match self.hll(key)? {
                Err(e) => return Ok(e),
                Ok(None) => {}
                Ok(Some((bytes, ttl))) => {
                    dense |= codec::encoding(&bytes) == Ok(Encoding::Dense);
                    if let Err(e) = merge_into(&mut max, &bytes) {
                        return Ok(e);
                    }
                    if n == 0 {
                        existing = Some((bytes, ttl));
                    }
                }
            }
        }
        let (old, ttl) = match existing {
            Some((bytes, ttl)) => (bytes.to_vec(), ttl),
            None => (codec::empty(), None),
        };
        let sparse = !dense && codec::encoding(&old) == Ok(Encoding::Sparse);
        let new = codec::encode(&max, Some(&old), sparse, self.sparse_max(), true);
        self.put(dest, StoredValue::string(new, ttl));
        Ok(Reply::ok())
    }

    /// PFDEBUG TODENSE: 1 if the HLL was sparse and is now dense, 0 if it already was.
    pub(crate) fn pfdebug_todense(&mut self, key: &Bytes) -> Result<Reply> {
        let (bytes, ttl) = match self.hll(key)? {
            Err(e) => return Ok(e),
            Ok(None) => return Ok(Reply::from(RedisError::KeyNotFound)),
            Ok(Some(found)) => found,
        };
        if codec::encoding(&bytes) == Ok(Encoding::Dense) {
            return Ok(Reply::Integer(0));
        }
        let regs = match codec::registers(&bytes) {
            Ok(r) => r,
            Err(b) => return Ok(bad(b)),
        };
        let new = codec::encode(&regs, Some(&bytes), false, 0, false);
        self.put(key, StoredValue::string(new, ttl));
        Ok(Reply::Integer(1))
    }
}

/// The HLL string of a live value, checked.
fn hll_of(value: Option<&StoredValue>) -> std::result::Result<Option<Bytes>, Reply> {
    match bitmap(value)? {
        None => Ok(None),
        Some(b) => codec::encoding(&b).map(|_| Some(b)).map_err(bad),
    }
}

/// PFCOUNT of the live values of its keys: one key's estimate (its cache when valid), or
/// the estimate of the union of several.
pub(crate) fn pfcount(values: &[Option<&StoredValue>]) -> Reply {
    if let [one] = values {
        return match hll_of(*one) {
            Err(e) => e,
            Ok(None) => Reply::Integer(0),
            Ok(Some(b)) => match codec::cached(&b) {
                Some(card) => Reply::Integer(i64::try_from(card).unwrap_or(i64::MAX)),
                None => match codec::registers(&b) {
                    Ok(regs) => Reply::Integer(codec::estimate(&regs) as i64),
                    Err(e) => bad(e),
                },
            },
        };
    }
    let mut max = Box::new([0u8; REGISTERS]);
    for v in values {
        match hll_of(*v) {
            Err(e) => return e,
            Ok(None) => {}
            Ok(Some(b)) => {
                if let Err(e) = merge_into(&mut max, &b) {
                    return e;
                }
            }
        }
    }
    Reply::Integer(codec::estimate(&max) as i64)
}

/// PFDEBUG GETREG | ENCODING | DECODE on a live value (TODENSE is a write).
pub(crate) fn pfdebug(sub: &str, value: Option<&StoredValue>) -> Reply {
    let b = match hll_of(value) {
        Err(e) => return e,
        Ok(None) => return Reply::from(RedisError::KeyNotFound),
        Ok(Some(b)) => b,
    };
    match sub {
        "getreg" => match codec::registers(&b) {
            Ok(regs) => Reply::Array(regs.iter().map(|&r| Reply::Integer(r.into())).collect()),
            Err(e) => bad(e),
        },
        "encoding" => Reply::Simple(
            match codec::encoding(&b) {
                Ok(Encoding::Dense) => "dense",
                _ => "sparse",
            }
            .into(),
        ),
        "decode" => match codec::encoding(&b) {
            Ok(Encoding::Sparse) => match codec::registers(&b) {
                Ok(_) => Reply::Simple(codec::describe_sparse(&b)),
                Err(e) => bad(e),
            },
            _ => Reply::error("ERR HLL encoding is not sparse"),
        },
        other => Reply::error(format!("ERR Unknown PFDEBUG subcommand '{other}'")),
    }
}
