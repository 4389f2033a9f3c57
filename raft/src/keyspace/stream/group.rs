//! Consumer-group deliveries: XREADGROUP, XACK, XCLAIM, XAUTOCLAIM. Each is a write (it moves
//! the group or its pending entries), applied on every replica at the entry's time.

use bytes::Bytes;
use cairn_protocol::command::stream::{GroupRead, StreamId, XAutoClaim, XClaim, XReadGroup};
use cairn_protocol::Reply;

use super::{entry_reply, no_group, Ctx};
use crate::error::Result;
use crate::keyspace::value::stream::{Nack, StreamValue};

/// One stream's part of an XREADGROUP: delivers and replies (`None`: nothing new to serve).
fn deliver(
    s: &mut StreamValue,
    group: &Bytes,
    consumer: &Bytes,
    from: GroupRead,
    count: Option<u64>,
    noack: bool,
    now: u64,
) -> Option<Reply> {
    let limit = count.unwrap_or(u64::MAX) as usize;
    match from {
        GroupRead::Pending(after) => {
            s.touch_consumer(group, consumer, now, true);
            let ids: Vec<StreamId> = s
                .group(group)
                .and_then(|g| g.consumers.get(consumer))
                .map(|c| {
                    let start = after.next().unwrap_or(StreamId::MAX);
                    c.pel.range(start..).take(limit).copied().collect()
                })
                .unwrap_or_default();
            let mut out = Vec::with_capacity(ids.len());
            for id in ids {
                match s.get(id).cloned() {
                    Some(fields) => {
                        if let Some(n) = s.group(group).and_then(|g| g.pel.get(&id)).cloned() {
                            let nack = Nack {
                                delivery_time: now,
                                delivery_count: n.delivery_count + 1,
                                ..n
                            };
                            s.set_nack(group, id, nack);
                        }
                        out.push(entry_reply(id, &fields));
                    }
                    None => out.push(Reply::Array(vec![id.reply(), Reply::NilArray])),
                }
            }
            Some(Reply::Array(out))
        }
        GroupRead::New => {
            let last = s.group(group)?.last_id;
            if s.is_empty() || s.last_live_id() <= last {
                return None;
            }
            s.touch_consumer(group, consumer, now, true);
            let start = last.next()?;
            let found: Vec<(StreamId, Vec<(Bytes, Bytes)>)> = s
                .range(start, StreamId::MAX, false)
                .take(limit)
                .map(|(id, f)| (*id, f.clone()))
                .collect();
            let mut out = Vec::with_capacity(found.len());
            for (id, fields) in found {
                let (g_last, g_read) = s
                    .group(group)
                    .map(|g| (g.last_id, g.entries_read))
                    .unwrap_or_default();
                if id > g_last {
                    let read = match g_read {
                        Some(n) if !s.has_tombstones_from(id) => Some(n + 1),
                        _ if s.entries_added() > 0 => s.estimate_read(id),
                        other => other,
                    };
                    s.set_group_position(group, id, read);
                }
                if !noack {
                    s.set_nack(
                        group,
                        id,
                        Nack {
                            consumer: consumer.clone(),
                            delivery_time: now,
                            delivery_count: 1,
                        },
                    );
                }
                out.push(entry_reply(id, &fields));
            }
            Some(Reply::Array(out))
        }
    }
}

impl Ctx<'_> {
    pub(crate) fn xreadgroup(&mut self, r: &XReadGroup) -> Result<Reply> {
        // Every stream and group must be there before anything is delivered.
        for (key, _) in &r.streams {
            match self.stream_ref(key) {
                Err(e) => return Ok(e),
                Ok(Some(s)) if s.group(&r.group).is_some() => {}
                Ok(_) => {
                    return Ok(Reply::error(format!(
                        "NOGROUP No such key '{}' or consumer group '{}' in XREADGROUP with GROUP option",
                        String::from_utf8_lossy(key),
                        String::from_utf8_lossy(&r.group)
                    )))
                }
            }
        }
        let now = self.now;
        let mut served = Vec::new();
        for (key, from) in &r.streams {
            let ready = match (from, self.stream_ref(key)) {
                (GroupRead::Pending(_), _) => true,
                (GroupRead::New, Ok(Some(s))) => s
                    .group(&r.group)
                    .is_some_and(|g| !s.is_empty() && s.last_live_id() > g.last_id),
                _ => false,
            };
            if !ready {
                continue;
            }
            let created = !matches!(
                self.stream_ref(key),
                Ok(Some(s)) if s.group(&r.group).is_some_and(|g| g.consumers.contains_key(&r.consumer))
            );
            let mut part = None;
            self.with_stream(key, false, |s| {
                part = deliver(s, &r.group, &r.consumer, *from, r.count, r.noack, now);
                Reply::ok()
            });
            if created {
                self.stream_event("xgroup-createconsumer", key);
            }
            if let Some(entries) = part {
                served.push((Reply::Bulk(key.clone()), entries));
            }
        }
        Ok(if served.is_empty() {
            Reply::NilArray
        } else {
            Reply::KeyedArrays(served)
        })
    }

    pub(crate) fn xack(&mut self, key: &Bytes, group: &Bytes, ids: &[StreamId]) -> Result<Reply> {
        let any = match self.stream_ref(key) {
            Err(e) => return Ok(e),
            Ok(None) => false,
            Ok(Some(s)) => s
                .group(group)
                .is_some_and(|g| ids.iter().any(|id| g.pel.contains_key(id))),
        };
        if !any {
            return Ok(Reply::Integer(0));
        }
        Ok(self.with_stream(key, false, |s| {
            Reply::Integer(ids.iter().filter(|id| s.remove_nack(group, **id)).count() as i64)
        }))
    }

    pub(crate) fn xclaim(&mut self, c: &XClaim) -> Result<Reply> {
        match self.stream_ref(&c.key) {
            Err(e) => return Ok(e),
            Ok(Some(s)) if s.group(&c.group).is_some() => {}
            Ok(_) => return Ok(no_group(&c.key, &c.group)),
        }
        let now = self.now;
        let delivery = match (c.idle_ms, c.time_ms) {
            (Some(idle), _) => (now as i64).saturating_sub(idle),
            (None, Some(t)) => t,
            (None, None) => now as i64,
        };
        let delivery = if delivery < 0 || delivery > now as i64 {
            now
        } else {
            delivery as u64
        };
        let mut created = false;
        let reply = self.with_stream(&c.key, false, |s| {
            if let Some(last) = c.last_id {
                let g = s.group(&c.group).map(|g| (g.last_id, g.entries_read));
                if let Some((g_last, read)) = g {
                    if last > g_last {
                        s.set_group_position(&c.group, last, read);
                    }
                }
            }
            let mut out = Vec::new();
            for &id in &c.ids {
                let nack = s.group(&c.group).and_then(|g| g.pel.get(&id)).cloned();
                let Some(fields) = s.get(id).cloned() else {
                    // Deleted from the stream: it leaves the PEL.
                    if nack.is_some() {
                        s.remove_nack(&c.group, id);
                    }
                    continue;
                };
                let nack = match nack {
                    Some(n) => n,
                    // Redis's new NACK: delivered now, once, to no consumer yet.
                    None if c.force => Nack {
                        consumer: Bytes::new(),
                        delivery_time: now,
                        delivery_count: 1,
                    },
                    None => continue,
                };
                let owned = !nack.consumer.is_empty();
                if owned
                    && c.min_idle_ms > 0
                    && now.saturating_sub(nack.delivery_time) < c.min_idle_ms
                {
                    continue;
                }
                created |= s.touch_consumer(&c.group, &c.consumer, now, true);
                let count = match (c.retry_count, c.justid) {
                    (Some(n), _) => n,
                    (None, false) => nack.delivery_count + 1,
                    (None, true) => nack.delivery_count,
                };
                s.set_nack(
                    &c.group,
                    id,
                    Nack {
                        consumer: c.consumer.clone(),
                        delivery_time: delivery,
                        delivery_count: count,
                    },
                );
                out.push(if c.justid {
                    id.reply()
                } else {
                    entry_reply(id, &fields)
                });
            }
            Reply::Array(out)
        });
        if created {
            self.stream_event("xgroup-createconsumer", &c.key);
        }
        Ok(reply)
    }

    pub(crate) fn xautoclaim(&mut self, c: &XAutoClaim) -> Result<Reply> {
        match self.stream_ref(&c.key) {
            Err(e) => return Ok(e),
            Ok(Some(s)) if s.group(&c.group).is_some() => {}
            Ok(_) => return Ok(no_group(&c.key, &c.group)),
        }
        let now = self.now;
        let mut created = false;
        let reply = self.with_stream(&c.key, false, |s| {
            let mut count = c.count;
            let mut attempts = c.count.saturating_mul(10);
            let mut claimed = Vec::new();
            let mut deleted = Vec::new();
            let mut cursor = c.start;
            let mut next = None;
            loop {
                let found = s
                    .group(&c.group)
                    .and_then(|g| g.pel.range(cursor..).next().map(|(id, n)| (*id, n.clone())));
                let Some((id, nack)) = found else {
                    break;
                };
                if attempts == 0 || count == 0 {
                    next = Some(id);
                    break;
                }
                attempts -= 1;
                cursor = match id.next() {
                    Some(n) => n,
                    None => {
                        next = None;
                        attempts = 0;
                        StreamId::MAX
                    }
                };
                let Some(fields) = s.get(id).cloned() else {
                    s.remove_nack(&c.group, id);
                    deleted.push(id.reply());
                    count -= 1;
                    continue;
                };
                if c.min_idle_ms > 0 && now.saturating_sub(nack.delivery_time) < c.min_idle_ms {
                    continue;
                }
                created |= s.touch_consumer(&c.group, &c.consumer, now, true);
                let delivery_count = nack.delivery_count + u64::from(!c.justid);
                s.set_nack(
                    &c.group,
                    id,
                    Nack {
                        consumer: c.consumer.clone(),
                        delivery_time: now,
                        delivery_count,
                    },
                );
                claimed.push(if c.justid {
                    id.reply()
                } else {
                    entry_reply(id, &fields)
                });
                count -= 1;
                if id == StreamId::MAX {
                    break;
                }
            }
            Reply::Array(vec![
                next.unwrap_or(StreamId::MIN).reply(),
                Reply::Array(claimed),
                Reply::Array(deleted),
            ])
        });
        if created {
            self.stream_event("xgroup-createconsumer", &c.key);
        }
        Ok(reply)
    }
}
