//! Client-side caching (Redis's tracking.c): CLIENT TRACKING, CACHING, GETREDIR,
//! TRACKINGINFO, and the invalidations.
//!
//! Each node keeps its own clients' table: in the default mode, the keys a client read (after
//! a read it ran on this node); in BCAST mode, its prefixes. Every node applies every write,
//! so each one learns from its own apply which keys changed (the store's `key_changes`,
//! recorded only while some client of the node tracks) and tells its own clients: a write
//! sent to any node invalidates the keys cached by clients of every node. A change applied
//! here is committed, so an invalidation never announces a write that could be lost.
//!
//! Messages go through the connection's queue (written between replies, so after the
//! reply of the command that caused them): an `invalidate` push in RESP3, or for a RESP2
//! client a `message` on `__redis__:invalidate` to the client it redirects to. NOLOOP
//! clients' writes carry who sent them (`OpKind::Tracked`), so their own changes are left
//! out of their invalidations.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};

use bytes::Bytes;
use cairn_protocol::command::TrackingOptions;
use cairn_protocol::Reply;
use cairn_raft::store::KeyChanges;
use cairn_raft::ClientOrigin;

use crate::server::outlet::Outlet;

/// What tracking needs of a connection: its protocol, whether it is subscribed to anything
/// (a RESP2 redirect target must be), its queue.
pub struct Peer {
    pub resp3: bool,
    pub subscribed: bool,
    pub outlet: Option<Outlet>,
}

/// Finds a connection of this node by client id.
pub type Peers<'a> = &'a dyn Fn(u64) -> Option<Peer>;

/// One tracking client's settings.
#[derive(Debug, Clone, Default)]
struct Tracker {
    /// The client that gets the invalidations (0: this one).
    redirect: u64,
    bcast: bool,
    prefixes: BTreeSet<Bytes>,
    optin: bool,
    optout: bool,
    noloop: bool,
    broken_redirect: bool,
}

#[derive(Default)]
struct Table {
    clients: HashMap<u64, Tracker>,
    /// Default mode: key → the clients that read it since its last invalidation.
    keys: HashMap<Bytes, HashSet<u64>>,
    items: usize,
}

/// The node's tracking clients and the keys they read.
pub struct Tracking {
    table: Mutex<Table>,
    /// This process's request origin: writes of NOLOOP clients carry it.
    origin: u64,
}

/// What a session keeps of its own tracking (per command, without the table's lock).
#[derive(Debug, Clone, Copy, Default)]
pub struct SessionTracking {
    pub on: bool,
    pub bcast: bool,
    pub optin: bool,
    pub optout: bool,
    pub noloop: bool,
    /// CLIENT CACHING given for the next command.
    pub caching: bool,
}

impl SessionTracking {
    /// Whether the keys of a read run now are remembered.
    pub fn remembers(&self) -> bool {
        self.on && !self.bcast && !((self.optin && !self.caching) || (self.optout && self.caching))
    }
}

/// Whether one of `a` and `b` is a prefix of the other.
fn overlap(a: &[u8], b: &[u8]) -> bool {
    a.starts_with(b) || b.starts_with(a)
}

impl Tracking {
    pub fn new(origin: u64) -> Tracking {
        Tracking {
            table: Mutex::new(Table::default()),
            origin,
        }
    }

    fn table(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether any client of this node tracks (the store records changes only then).
    pub fn any(&self) -> bool {
        !self.table().clients.is_empty()
    }

    /// How a NOLOOP client's writes say whose they are.
    pub fn origin_of(&self, client: u64) -> ClientOrigin {
        ClientOrigin {
            node: self.origin,
            client,
        }
    }

    /// CLIENT TRACKING ON with `o`, checked as Redis checks it; the session's new state.
    pub fn enable(
        &self,
        peers: Peers<'_>,
        client: u64,
        o: &TrackingOptions,
        current: SessionTracking,
    ) -> Result<SessionTracking, String> {
        let redirect = match o.redirect {
            Some(id) => {
                let id = u64::try_from(id).unwrap_or(0);
                if id == 0 || peers(id).is_none() {
                    return Err("ERR The client ID you want redirect to does not exist".into());
                }
                id
            }
            None => 0,
        };
        if !o.bcast && !o.prefixes.is_empty() {
            return Err("ERR PREFIX option requires BCAST mode to be enabled".into());
        }
        if current.on && current.bcast != o.bcast {
            return Err("ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.".into());
        }
        if o.bcast && (o.optin || o.optout) {
            return Err("ERR OPTIN and OPTOUT are not compatible with BCAST".into());
        }
        if o.optin && o.optout {
            return Err("ERR You can't use both OPTIN and OPTOUT".into());
        }
        if (o.optin && current.optout) || (o.optout && current.optin) {
            return Err("ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.".into());
        }
        let mut table = self.table();
        let existing = table
            .clients
            .get(&client)
            .map(|t| t.prefixes.clone())
            .unwrap_or_default();
        if o.bcast {
            for (i, p) in o.prefixes.iter().enumerate() {
                if let Some(old) = existing.iter().find(|old| overlap(old, p)) {
                    return Err(format!(
                        "ERR Prefix '{}' overlaps with an existing prefix '{}'. Prefixes for a single client must not overlap.",
                        String::from_utf8_lossy(p),
                        String::from_utf8_lossy(old)
                    ));
                }
                if let Some(other) = o.prefixes[i + 1..].iter().find(|q| overlap(p, q)) {
                    return Err(format!(
                        "ERR Prefix '{}' overlaps with another provided prefix '{}'. Prefixes for a single client must not overlap.",
                        String::from_utf8_lossy(p),
                        String::from_utf8_lossy(other)
                    ));
                }
            }
        }
        let t = table.clients.entry(client).or_default();
        t.redirect = redirect;
        t.broken_redirect = false;
        t.bcast = o.bcast;
        t.optin = o.optin;
        t.optout = o.optout;
        t.noloop = o.noloop;
        if o.bcast {
            if o.prefixes.is_empty() {
                t.prefixes.insert(Bytes::new());
            }
            t.prefixes.extend(o.prefixes.iter().cloned());
        }
        Ok(SessionTracking {
            on: true,
            bcast: o.bcast,
            optin: o.optin,
            optout: o.optout,
            noloop: o.noloop,
            caching: false,
        })
    }

    /// CLIENT TRACKING OFF, and a closing connection. Its keys leave the table lazily, or
    /// all at once when nobody tracks any more (changes are not recorded then, so the
    /// table could not follow them).
    pub fn disable(&self, client: u64) {
        let mut table = self.table();
        table.clients.remove(&client);
        if table.clients.is_empty() {
            table.keys.clear();
            table.items = 0;
        }
    }

    /// Remembers that `client` read `keys` (default mode). Past `max_keys` keys (0: no
    /// limit) the table forgets keys at random, invalidating them for their readers, as
    /// Redis does past `tracking-table-max-keys`.
    pub fn remember(&self, peers: Peers<'_>, client: u64, keys: &[Bytes], max_keys: usize) {
        if keys.is_empty() {
            return;
        }
        let mut table = self.table();
        let mut added = 0;
        for key in keys {
            if table.keys.entry(key.clone()).or_default().insert(client) {
                added += 1;
            }
        }
        table.items += added;
        forget_past(&mut table, peers, max_keys);
    }

    /// Applies `tracking-table-max-keys` (checked periodically too: a lowered limit takes
    /// effect without new reads).
    pub fn limit(&self, peers: Peers<'_>, max_keys: usize) {
        forget_past(&mut self.table(), peers, max_keys);
    }

    /// CLIENT GETREDIR: -1 when not tracking.
    pub fn getredir(&self, client: u64) -> i64 {
        self.table()
            .clients
            .get(&client)
            .map_or(-1, |t| t.redirect as i64)
    }

    /// CLIENT TRACKINGINFO.
    pub fn info(&self, client: u64, s: SessionTracking) -> Reply {
        let table = self.table();
        let t = table.clients.get(&client);
        let mut flags = vec![if t.is_some() { "on" } else { "off" }];
        if let Some(t) = t {
            if t.bcast {
                flags.push("bcast");
            }
            if t.optin {
                flags.push("optin");
                if s.caching {
                    flags.push("caching-yes");
                }
            }
            if t.optout {
                flags.push("optout");
                if s.caching {
                    flags.push("caching-no");
                }
            }
            if t.noloop {
                flags.push("noloop");
            }
            if t.broken_redirect {
                flags.push("broken_redirect");
            }
        }
        Reply::Map(vec![
            (
                Reply::bulk("flags"),
                Reply::Set(flags.into_iter().map(Reply::bulk).collect()),
            ),
            (
                Reply::bulk("redirect"),
                Reply::Integer(t.map_or(-1, |t| t.redirect as i64)),
            ),
            (
                Reply::bulk("prefixes"),
                Reply::Array(
                    t.map(|t| t.prefixes.iter().cloned().map(Reply::Bulk).collect())
                        .unwrap_or_default(),
                ),
            ),
        ])
    }

    /// INFO's counters: (tracking clients, keys in the table, items, prefixes).
    pub fn counts(&self) -> (usize, usize, usize, usize) {
        let table = self.table();
        let prefixes = table.clients.values().map(|t| t.prefixes.len()).sum();
        (table.clients.len(), table.keys.len(), table.items, prefixes)
    }

    /// Sends the invalidations of one applied batch.
    pub fn invalidate(&self, peers: Peers<'_>, changes: &KeyChanges) {
        let mut table = self.table();
        let mut out: Vec<(u64, Option<Vec<Bytes>>)> = Vec::new();
        if changes.flushed {
            table.keys.clear();
            table.items = 0;
            out.extend(table.clients.keys().map(|id| (*id, None)));
        }
        let own = |t: &Tracker, id: u64, origin: &Option<ClientOrigin>| {
            t.noloop && *origin == Some(self.origin_of(id))
        };
        // BCAST clients get one message per prefix per batch, with every matching key.
        let mut bcast: std::collections::BTreeMap<(Bytes, u64), Vec<Bytes>> = Default::default();
        for (key, origin) in &changes.keys {
            if let Some(ids) = table.keys.remove(key) {
                table.items = table.items.saturating_sub(ids.len());
                let mut ids: Vec<u64> = ids.into_iter().collect();
                ids.sort_unstable();
                for id in ids {
                    match table.clients.get(&id) {
                        Some(t) if !t.bcast && !own(t, id, origin) => {
                            out.push((id, Some(vec![key.clone()])));
                        }
                        _ => {}
                    }
                }
            }
            for (id, t) in &table.clients {
                if !t.bcast || own(t, *id, origin) {
                    continue;
                }
                if let Some(p) = t.prefixes.iter().find(|p| key.starts_with(p)) {
                    bcast.entry((p.clone(), *id)).or_default().push(key.clone());
                }
            }
        }
        out.extend(bcast.into_iter().map(|((_, id), keys)| (id, Some(keys))));
        for (id, keys) in out {
            let Some(t) = table.clients.get_mut(&id) else {
                continue;
            };
            send(peers, id, t, keys);
        }
    }
}

/// Sends one invalidation (`None`: everything) for the tracking client `id`, as Redis's
/// `sendTrackingMessage` does.
fn send(peers: Peers<'_>, id: u64, t: &mut Tracker, keys: Option<Vec<Bytes>>) {
    let Some(me) = peers(id) else {
        return;
    };
    let (target, redirected) = if t.redirect == 0 {
        (me, false)
    } else {
        match peers(t.redirect) {
            Some(target) => (target, true),
            None => {
                t.broken_redirect = true;
                if let (true, Some(outlet)) = (me.resp3, &me.outlet) {
                    outlet.send(Reply::Push(vec![
                        Reply::bulk("tracking-redir-broken"),
                        Reply::Integer(t.redirect as i64),
                    ]));
                }
                return;
            }
        }
    };
    let value = match keys {
        Some(keys) => Reply::Array(keys.into_iter().map(Reply::Bulk).collect()),
        None => Reply::Nil,
    };
    let message = if target.resp3 {
        Reply::Push(vec![Reply::bulk("invalidate"), value])
    } else if redirected && target.subscribed {
        Reply::Push(vec![
            Reply::bulk("message"),
            Reply::bulk("__redis__:invalidate"),
            value,
        ])
    } else {
        // RESP2 without a redirect has nowhere to put a push.
        return;
    };
    if let Some(outlet) = &target.outlet {
        outlet.send(message);
    }
}

/// Forgets keys (invalidating them for their readers) until at most `max_keys` remain.
fn forget_past(table: &mut Table, peers: Peers<'_>, max_keys: usize) {
    while max_keys > 0 && table.keys.len() > max_keys {
        let Some(key) = table.keys.keys().next().cloned() else {
            break;
        };
        let ids = table.keys.remove(&key).unwrap_or_default();
        table.items = table.items.saturating_sub(ids.len());
        for id in ids {
            if let Some(t) = table.clients.get_mut(&id) {
                send(peers, id, t, Some(vec![key.clone()]));
            }
        }
    }
}
