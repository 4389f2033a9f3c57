//! Generic key commands that write: DEL, EXPIRE and friends, PERSIST, RENAME.

use bytes::Bytes;
use cairn_protocol::command::{ExpireCondition, Expiry};
use cairn_protocol::errors::RedisError;
use cairn_protocol::Reply;

use super::strings::Deadline;
use super::Ctx;
use crate::error::Result;

impl Ctx<'_> {
    pub(crate) fn del(&mut self, keys: &[Bytes]) -> Result<Reply> {
        let mut n = 0;
        for k in keys {
            if self.live_ref(k).is_some() && self.delete(k) {
                n += 1;
            }
        }
        Ok(Reply::Integer(n))
    }

    pub(crate) fn expire(
        &mut self,
        key: &Bytes,
        at: Expiry,
        condition: ExpireCondition,
    ) -> Result<Reply> {
        let Some(mut v) = self.live(key)? else {
            return Ok(Reply::Integer(0));
        };
        let new_at = match self.deadline(at) {
            Deadline::Invalid => {
                return Ok(Reply::error("ERR invalid expire time in 'expire' command"))
            }
            Deadline::Past => None,
            Deadline::At(t) => Some(t),
        };
        // A key without a TTL counts as an infinite TTL for GT and LT (Redis 7).
        let allowed = match (condition, v.expire_at_ms()) {
            (ExpireCondition::Always, _) => true,
            (ExpireCondition::Nx, cur) => cur.is_none(),
            (ExpireCondition::Xx, cur) => cur.is_some(),
            (ExpireCondition::Gt, None) => false,
            (ExpireCondition::Gt, Some(cur)) => new_at.is_some_and(|n| n > cur),
            (ExpireCondition::Lt, None) => true,
            (ExpireCondition::Lt, Some(cur)) => new_at.is_none_or(|n| n < cur),
            (ExpireCondition::XxLt, None) => false,
            (ExpireCondition::XxLt, Some(cur)) => new_at.is_none_or(|n| n < cur),
        };
        if !allowed {
            return Ok(Reply::Integer(0));
        }
        match new_at {
            None => {
                self.delete(key);
            }
            Some(t) => {
                v.set_expire_at_ms(Some(t));
                self.put(key, v);
            }
        }
        Ok(Reply::Integer(1))
    }

    pub(crate) fn persist(&mut self, key: &Bytes) -> Result<Reply> {
        match self.live(key)? {
            Some(mut v) if v.expire_at_ms().is_some() => {
                v.set_expire_at_ms(None);
                self.put(key, v);
                Ok(Reply::Integer(1))
            }
            _ => Ok(Reply::Integer(0)),
        }
    }

    pub(crate) fn rename(&mut self, key: &Bytes, new_key: &Bytes, nx: bool) -> Result<Reply> {
        let Some(v) = self.live(key)? else {
            return Ok(Reply::from(RedisError::NoSuchKey));
        };
        if key == new_key {
            return Ok(if nx { Reply::Integer(0) } else { Reply::ok() });
        }
        if nx && self.live(new_key)?.is_some() {
            return Ok(Reply::Integer(0));
        }
        self.delete(key);
        self.put(new_key, v);
        Ok(if nx { Reply::Integer(1) } else { Reply::ok() })
    }

    /// A database index from COPY's or MOVE's arguments, or Redis's error for it.
    fn other_db(index: i32) -> std::result::Result<u8, Reply> {
        u8::try_from(index)
            .ok()
            .filter(|db| *db < super::DATABASES)
            .ok_or_else(|| Reply::from(RedisError::DbIndexOutOfRange))
    }

    /// Whether `key` holds a live value in database `db` (an expired one counts as absent).
    fn live_in(&mut self, db: u8, key: &[u8]) -> Result<bool> {
        Ok(self
            .state
            .get(db, key)
            .is_some_and(|v| !v.is_expired(self.now)))
    }

    /// COPY: the value and its TTL to `destination` (in database `db`, default this one).
    pub(crate) fn copy(
        &mut self,
        key: &Bytes,
        destination: &Bytes,
        db: Option<i32>,
        replace: bool,
    ) -> Result<Reply> {
        let target = match db.map(Self::other_db).transpose() {
            Ok(t) => t.unwrap_or(self.db),
            Err(e) => return Ok(e),
        };
        if target == self.db && key == destination {
            return Ok(Reply::error(RedisError::SameObject.text()));
        }
        let Some(v) = self.live(key)? else {
            return Ok(Reply::Integer(0));
        };
        if !replace && self.live_in(target, destination)? {
            return Ok(Reply::Integer(0));
        }
        // A copy shares the collection until either side changes it.
        self.put_in(target, destination, v);
        Ok(Reply::Integer(1))
    }

    /// MOVE: the key, with its TTL, to database `db` unless it exists there.
    pub(crate) fn move_to(&mut self, key: &Bytes, db: i32) -> Result<Reply> {
        let target = match Self::other_db(db) {
            Ok(t) => t,
            Err(e) => return Ok(e),
        };
        if target == self.db {
            return Ok(Reply::error(RedisError::SameObject.text()));
        }
        let Some(v) = self.live(key)? else {
            return Ok(Reply::Integer(0));
        };
        if self.live_in(target, key)? {
            return Ok(Reply::Integer(0));
        }
        self.delete(key);
        self.put_in(target, key, v);
        Ok(Reply::Integer(1))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use cairn_protocol::Reply;

    use super::super::testing::{bulk, int, script};
    use super::super::State;

    fn same() -> Reply {
        Reply::error("ERR source and destination objects are the same")
    }

    fn out_of_range() -> Reply {
        Reply::error("ERR DB index is out of range")
    }

    #[test]
    fn copy_as_redis() {
        let mut txn = State::default();
        let replies = script(
            &mut txn,
            &[
                "set a 1",
                "copy a b",
                "get b",
                "set a 2",
                "copy a b",
                "copy a b replace",
                "get b",
                "copy a a",
                "copy missing c",
                "copy a a db 3",
                "copy a x db 16",
                "copy a x db -1",
            ],
        );
        assert_eq!(
            replies,
            vec![
                Reply::ok(),
                int(1),
                bulk("1"),
                Reply::ok(),
                int(0),
                int(1),
                bulk("2"),
                same(),
                int(0),
                int(1),
                out_of_range(),
                out_of_range(),
            ]
        );
        assert!(txn.get(3, b"a").is_some());
    }

    #[test]
    fn move_as_redis() {
        let mut txn = State::default();
        let replies = script(
            &mut txn,
            &[
                "set k v",
                "move k 0",
                "move k 16",
                "move missing 2",
                "move k 2",
                "exists k",
                "set k again",
                "copy k k db 2",
                "move k 2",
            ],
        );
        assert_eq!(
            replies,
            vec![
                Reply::ok(),
                same(),
                out_of_range(),
                int(0),
                int(1),
                int(0),
                Reply::ok(),
                int(0),
                int(0),
            ]
        );
        assert_eq!(
            txn.get(2, b"k").map(|v| v.data.clone()),
            Some(super::super::Data::string("v"))
        );
    }
}
