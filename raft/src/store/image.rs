//! The state as a snapshot file holds it, both ways.
//!
//! The file format is the one sled-backed versions wrote (see `store::snapshot`): a stream
//! of (state-machine key, value) pairs, so snapshots and backups taken by either version load
//! in the other. Keys use the old tree layout (`store::keys`): data `d db hash key`, reply
//! groups `r`, ACL users `a`, delete stamps `k`, settings `o`, scripts `s`, libraries `f`.

use std::io::Read;
use std::path::Path;

use cairn_protocol::acl::Users;

use crate::error::{Error, Result};
use crate::keyspace::script::catalog::{Libraries, Scripts};
use crate::keyspace::state::replies::{Group, ReplyTable};
use crate::keyspace::state::{Slots, State, STAMP_BUCKETS};
use crate::keyspace::{StoredValue, DATABASES};
use crate::store::keys;
use crate::store::snapshot::{SnapReader, SnapRecord, SnapWriter};
use crate::types::{LogId, ReplicatedSettings, StoredMembership};

/// The state at one log index, for a snapshot, taken in O(slots): the slots and the reply
/// table are shared with the live state, which copies what it changes afterwards.
pub struct Frozen {
    dbs: Vec<Slots>,
    replies: ReplyTable,
    acl: Users,
    settings: ReplicatedSettings,
    scripts: Scripts,
    libraries: Libraries,
    stamps: Vec<Vec<u64>>,
    pub applied: Option<LogId>,
    pub membership: StoredMembership,
}

impl State {
    pub fn freeze(&self) -> Frozen {
        Frozen {
            dbs: self.dbs.iter().map(|d| d.keys.share()).collect(),
            replies: self.replies.clone(),
            acl: self.acl.clone(),
            settings: self.settings.clone(),
            scripts: self.scripts.clone(),
            libraries: self.libraries.clone(),
            stamps: self.stamps.clone(),
            applied: self.applied,
            membership: self.membership.clone(),
        }
    }
}

fn encode<T: serde::Serialize>(v: &T) -> Result<Vec<u8>> {
    bincode::serialize(v).map_err(|e| Error::Storage(e.to_string()))
}

impl Frozen {
    /// Writes the snapshot file at `path` and syncs it.
    pub fn write(&self, path: &Path) -> Result<()> {
        let mut w = SnapWriter::create(path, self.applied, self.membership.clone())?;
        for (db, slots) in (0..DATABASES).zip(&self.dbs) {
            for (key, value) in slots.iter() {
                w.push(keys::data_key(db, key), value.encode()?)?;
            }
        }
        for (time, group) in self.replies.groups() {
            if let Some((first, _)) = group.first() {
                let key = keys::reply_group_key(time, first.origin, first.seq);
                w.push(key.to_vec(), encode(&group)?)?;
            }
        }
        if !self.acl.is_empty() {
            w.push(vec![keys::ACL], encode(&self.acl)?)?;
        }
        for (db, stamps) in (0..DATABASES).zip(&self.stamps) {
            for (bucket, stamp) in stamps.iter().enumerate() {
                if *stamp != 0 {
                    let key = keys::delete_stamp_key_of_bucket(db, bucket as u16);
                    w.push(key.to_vec(), stamp.to_le_bytes().to_vec())?;
                }
            }
        }
        if !self.settings.is_empty() {
            w.push(vec![keys::SETTINGS], encode(&self.settings)?)?;
        }
        if !self.scripts.is_empty() {
            w.push(vec![keys::SCRIPTS], encode(&*self.scripts)?)?;
        }
        if !self.libraries.is_empty() {
            w.push(vec![keys::LIBRARIES], encode(&*self.libraries)?)?;
        }
        w.finish()
    }
}

/// Builds the state a snapshot file holds, checking every record; nothing is returned
/// unless the whole file checks out.
pub fn load(path: &Path) -> Result<State> {
    load_from(SnapReader::open(path)?, &path.display().to_string())
}

/// [`load`] from any stream in the snapshot format; `name` says where it comes from.
pub fn load_from<R: Read>(mut reader: SnapReader<R>, name: &str) -> Result<State> {
    let corrupt = |what: String| Error::Corrupt {
        path: name.to_string(),
        what,
    };
    let mut state = State::default();
    while let Some(record) = reader.next_record()? {
        match record {
            SnapRecord::Meta {
                last_applied,
                membership,
            } => {
                state.applied = last_applied;
                state.membership = membership;
            }
            SnapRecord::Data(entries) => {
                for (k, v) in entries {
                    load_entry(&mut state, &k, &v).map_err(|e| match e {
                        Error::Corrupt { what, .. } => corrupt(what),
                        other => other,
                    })?;
                }
            }
            SnapRecord::End { .. } => {}
        }
    }
    Ok(state)
}

fn load_entry(state: &mut State, k: &[u8], v: &[u8]) -> Result<()> {
    let corrupt = |what: String| Error::Corrupt {
        path: String::new(),
        what,
    };
    match k.first().copied() {
        Some(keys::DATA) => {
            let Some((_, key)) = keys::split_data_key(k) else {
                return Err(corrupt("a data key too short".into()));
            };
            let db = k[1];
            let value = StoredValue::decode(v)?;
            let Some(d) = state.dbs.get_mut(usize::from(db)) else {
                return Err(corrupt(format!("a key in database {db}")));
            };
            d.put(key, value);
            Ok(())
        }
        Some(keys::REPLY) => {
            let time = keys::reply_group_time(k)
                .ok_or_else(|| corrupt(format!("a reply group key of {} bytes", k.len())))?;
            let group: Group = bincode::deserialize(v)
                .map_err(|e| corrupt(format!("reply records at log time {time}: {e}")))?;
            for (id, reply) in group {
                state.replies.insert(id, time, reply);
            }
            Ok(())
        }
        Some(keys::ACL) => {
            state.acl = bincode::deserialize(v).map_err(|e| corrupt(format!("ACL users: {e}")))?;
            Ok(())
        }
        Some(keys::SETTINGS) => {
            state.settings =
                bincode::deserialize(v).map_err(|e| corrupt(format!("settings: {e}")))?;
            Ok(())
        }
        Some(keys::SCRIPTS) => {
            let scripts = bincode::deserialize(v).map_err(|e| corrupt(format!("scripts: {e}")))?;
            state.scripts = std::sync::Arc::new(scripts);
            Ok(())
        }
        Some(keys::LIBRARIES) => {
            let libraries =
                bincode::deserialize(v).map_err(|e| corrupt(format!("libraries: {e}")))?;
            state.libraries = std::sync::Arc::new(libraries);
            Ok(())
        }
        Some(keys::DELETE_STAMP) => {
            let (db, bucket) = keys::split_delete_stamp_key(k)
                .ok_or_else(|| corrupt("a delete stamp key of the wrong size".into()))?;
            let stamp = keys::decode_stamp(Some(v));
            let Some(s) = state.stamps.get_mut(usize::from(db)) else {
                return Err(corrupt(format!("a delete stamp of database {db}")));
            };
            if s.is_empty() {
                s.resize(STAMP_BUCKETS, 0);
            }
            if let Some(slot) = s.get_mut(usize::from(bucket)) {
                *slot = stamp;
            }
            Ok(())
        }
        other => Err(corrupt(format!("a record with prefix {other:?}"))),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::keyspace::Data;
    use crate::types::RequestId;

    #[test]
    fn a_snapshot_round_trips_everything() {
        let mut state = State::default();
        for i in 0..300u32 {
            let db = (i % 3) as u8;
            let value = StoredValue::new(
                Data::string(format!("v{i}")),
                (i % 5 == 0).then_some(1_000_000 + u64::from(i)),
            );
            state.dbs[usize::from(db)].put(format!("k{i}").as_bytes(), value);
        }
        state.stamp_delete(1, b"gone", 77);
        state.replies.insert(
            RequestId { origin: 1, seq: 2 },
            500,
            Some(cairn_protocol::Reply::ok().into()),
        );
        state.settings.insert("maxmemory".into(), "100mb".into());
        std::sync::Arc::make_mut(&mut state.scripts)
            .insert("ab".repeat(20), bytes::Bytes::from_static(b"return 1"));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.snap");
        state.freeze().write(&path).unwrap();
        let back = load(&path).unwrap();
        for db in 0..3 {
            let (a, b) = (&state.dbs[db], &back.dbs[db]);
            assert_eq!((a.len, a.digest, a.bytes), (b.len, b.digest, b.bytes));
            assert_eq!(a.expires, b.expires);
        }
        assert_eq!(back.delete_stamp(1, b"gone"), 77);
        assert_eq!(
            back.replies.get(&RequestId { origin: 1, seq: 2 }),
            Some(Some(cairn_protocol::Reply::ok()))
        );
        assert_eq!(back.settings, state.settings);
        assert_eq!(back.scripts, state.scripts);
    }
}
