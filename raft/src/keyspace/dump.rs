//! DUMP and RESTORE: a value serialized for another cairn node or database.
//!
//! The payload is cairn's own, not Redis's RDB encoding: a marker byte, a format version,
//! the value as the store encodes it (bincode) and a crc32 of all that, as Redis's payload
//! ends with its RDB version and a crc64. RESTORE refuses anything whose marker, version or
//! checksum is wrong, and anything that decodes to a value cairn never stores (an empty
//! collection, a NaN score), so a payload cannot break the keyspace's invariants.

use bincode::Options;
use bytes::Bytes;
use cairn_protocol::command::Expiry;
use cairn_protocol::errors::RedisError;
use cairn_protocol::Reply;

use super::strings::Deadline;
use super::{Ctx, Data, StoredValue};
use crate::error::Result;

/// The first byte of a payload (Redis's start with a type byte below 32).
const MARKER: u8 = 0xCA;
/// The payload format; a later format may read this one.
const FORMAT: u8 = 1;
const BAD_PAYLOAD: &str = RedisError::DumpPayload.text();

/// DUMP's payload for a value (its TTL is not part of it, as in Redis).
pub fn payload(data: &Data) -> Result<Bytes> {
    let mut out = vec![MARKER, FORMAT];
    bincode::serialize_into(&mut out, data)
        .map_err(|e| crate::error::Error::Storage(format!("encoding a dump: {e}")))?;
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    Ok(Bytes::from(out))
}

/// The value in a payload, or why not (the error RESTORE answers with).
fn value(payload: &[u8]) -> std::result::Result<Data, &'static str> {
    let Some((body, crc)) = payload.split_last_chunk::<4>() else {
        return Err(BAD_PAYLOAD);
    };
    if body.get(..2) != Some(&[MARKER, FORMAT][..])
        || crc32fast::hash(body) != u32::from_le_bytes(*crc)
    {
        return Err(BAD_PAYLOAD);
    }
    let data: Data = bincode::DefaultOptions::new()
        .with_fixint_encoding()
        .with_limit(payload.len() as u64)
        .reject_trailing_bytes()
        .deserialize(&body[2..])
        .map_err(|_| RedisError::BadDataFormat.text())?;
    // A NaN score does not decode (see `ZSetValue`'s decoding).
    if data.is_empty_collection() {
        return Err(RedisError::BadDataFormat.text());
    }
    Ok(data)
}

impl Ctx<'_> {
    /// RESTORE: refuses an existing key unless `replace`, then a bad payload; a deadline
    /// already past deletes the key (with `replace`) and stores nothing, as Redis does.
    pub(crate) fn restore(
        &mut self,
        key: &Bytes,
        expiry: Option<Expiry>,
        payload: &[u8],
        replace: bool,
    ) -> Result<Reply> {
        if !replace && self.live_ref(key).is_some() {
            return Ok(Reply::from(RedisError::BusyKey));
        }
        let data = match value(payload) {
            Ok(d) => d,
            Err(e) => return Ok(Reply::error(e)),
        };
        let expire_at_ms = match expiry.map(|e| self.deadline(e)) {
            None => None,
            Some(Deadline::At(at)) => Some(at),
            Some(Deadline::Past) => {
                self.delete(key);
                return Ok(Reply::ok());
            }
            Some(Deadline::Invalid) => {
                return Ok(Reply::error("ERR invalid expire time in 'restore' command"));
            }
        };
        self.put(key, StoredValue::new(data, expire_at_ms));
        Ok(Reply::ok())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::testing::{exec, exec_args};
    use super::super::State;
    use super::*;

    #[test]
    fn payloads_round_trip_and_damage_is_refused() {
        let list = ["a", "b"].iter().map(|s| Bytes::from(*s)).collect();
        let data = Data::List(std::sync::Arc::new(list));
        let p = payload(&data).unwrap();
        assert_eq!(value(&p), Ok(data));
        for i in 0..p.len() {
            let mut bad = p.to_vec();
            bad[i] ^= 0x40;
            assert!(value(&bad).is_err(), "byte {i}");
        }
        assert_eq!(value(&p[..p.len() - 1]), Err(BAD_PAYLOAD));
        assert_eq!(value(b""), Err(BAD_PAYLOAD));
    }

    #[test]
    fn a_well_formed_payload_of_an_impossible_value_is_refused() {
        let empty = payload(&Data::Set(Default::default())).unwrap();
        assert_eq!(value(&empty), Err("ERR Bad data format"));
        let z = [(Bytes::from("m"), f64::NAN)].into_iter().collect();
        let nan = payload(&Data::ZSet(std::sync::Arc::new(z))).unwrap();
        assert_eq!(value(&nan), Err("ERR Bad data format"));
    }

    #[test]
    fn restore_as_redis() {
        let mut t = State::default();
        exec(&mut t, "rpush l a b c");
        let Reply::Bulk(p) = exec(&mut t, "dump l") else {
            panic!("no payload");
        };
        let restore = |t: &mut State, args: &str| {
            let mut line = vec![Bytes::from("restore")];
            let mut words = args.split(' ');
            line.push(Bytes::from(words.next().unwrap_or_default().to_string()));
            line.push(Bytes::from(words.next().unwrap_or_default().to_string()));
            line.push(p.clone());
            line.extend(words.map(|w| Bytes::from(w.to_string())));
            exec_args(t, &line)
        };
        assert_eq!(
            restore(&mut t, "l 0"),
            Reply::error("BUSYKEY Target key name already exists.")
        );
        assert_eq!(restore(&mut t, "l2 0"), Reply::ok());
        assert_eq!(
            exec(&mut t, "lrange l2 0 -1"),
            exec(&mut t, "lrange l 0 -1")
        );
        assert_eq!(restore(&mut t, "l 5000 replace"), Reply::ok());
        assert!(matches!(exec(&mut t, "pttl l"), Reply::Integer(ms) if ms > 4000 && ms <= 5000));
        // An absolute deadline in the past: the key is replaced by nothing.
        assert_eq!(restore(&mut t, "l 1 replace absttl"), Reply::ok());
        assert_eq!(exec(&mut t, "exists l"), Reply::Integer(0));
        assert_eq!(exec(&mut t, "dump missing"), Reply::Nil);
    }
}
