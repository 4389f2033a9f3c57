//! Generic key commands that write: DEL, EXPIRE and friends, PERSIST, RENAME.

use bytes::Bytes;
use cairn_protocol::command::{ExpireCondition, Expiry};
use cairn_protocol::Reply;

use super::strings::Deadline;
use super::Ctx;
use crate::error::Result;

impl Ctx<'_> {
    pub(crate) fn del(&mut self, keys: &[Bytes]) -> Result<Reply> {
        let mut n = 0;
        for k in keys {
            if self.live(k)?.is_some() && self.txn.delete(self.db, k)? {
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
        let allowed = match (condition, v.expire_at_ms) {
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
                self.txn.delete(self.db, key)?;
            }
            Some(t) => {
                v.expire_at_ms = Some(t);
                self.txn.put(self.db, key, v)?;
            }
        }
        Ok(Reply::Integer(1))
    }

    pub(crate) fn persist(&mut self, key: &Bytes) -> Result<Reply> {
        match self.live(key)? {
            Some(mut v) if v.expire_at_ms.is_some() => {
                v.expire_at_ms = None;
                self.txn.put(self.db, key, v)?;
                Ok(Reply::Integer(1))
            }
            _ => Ok(Reply::Integer(0)),
        }
    }

    pub(crate) fn rename(&mut self, key: &Bytes, new_key: &Bytes, nx: bool) -> Result<Reply> {
        let Some(v) = self.live(key)? else {
            return Ok(Reply::error("ERR no such key"));
        };
        if key == new_key {
            return Ok(if nx { Reply::Integer(0) } else { Reply::ok() });
        }
        if nx && self.live(new_key)?.is_some() {
            return Ok(Reply::Integer(0));
        }
        self.txn.delete(self.db, key)?;
        self.txn.put(self.db, new_key, v)?;
        Ok(if nx { Reply::Integer(1) } else { Reply::ok() })
    }
}
