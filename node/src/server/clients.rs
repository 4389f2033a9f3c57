//! The registry of connected clients (CLIENT ID / LIST / INFO / KILL / UNBLOCK / PAUSE, INFO
//! clients, maxclients). Each connection has a [`Control`] through which other connections
//! kill or unblock it.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cairn_protocol::command::{ClientFilter, ClientType};
use tokio::sync::Notify;

/// How other connections act on one connection.
#[derive(Debug, Default)]
pub struct Control {
    killed: AtomicBool,
    /// CLIENT UNBLOCK's request, while the connection is blocked: `Some(error)`.
    unblock: Mutex<Option<bool>>,
    notify: Notify,
}

impl Control {
    /// CLIENT KILL: the connection closes once its current command is answered.
    pub fn kill(&self) {
        self.killed.store(true, Ordering::SeqCst);
        self.notify.notify_one();
    }

    pub fn is_killed(&self) -> bool {
        self.killed.load(Ordering::SeqCst)
    }

    fn unblock(&self, error: bool) {
        if let Ok(mut u) = self.unblock.lock() {
            *u = Some(error);
        }
        self.notify.notify_one();
    }

    /// CLIENT UNBLOCK's request, if one came (`Some(true)`: answer with an error).
    pub fn take_unblock(&self) -> Option<bool> {
        self.unblock.lock().ok()?.take()
    }

    /// Completes when the connection is killed or unblocked (possibly for an earlier
    /// request: callers check which).
    pub async fn signalled(&self) {
        self.notify.notified().await;
    }
}

/// What CLIENT LIST shows of one connection.
#[derive(Debug, Clone)]
pub struct ClientInfo {
    pub id: u64,
    pub addr: String,
    pub laddr: String,
    pub name: String,
    pub db: u8,
    pub created: Instant,
    pub last_active: Instant,
    /// The full name of the last command (`client|list`).
    pub last_cmd: Option<&'static str>,
    pub lib_name: String,
    pub lib_ver: String,
    pub resp: u8,
    /// Waiting in a blocking command.
    pub blocked: bool,
    /// The ACL user the connection runs as.
    pub user: String,
    /// Channel and pattern subscriptions.
    pub sub: usize,
    pub psub: usize,
    pub no_evict: bool,
    pub no_touch: bool,
    pub control: Arc<Control>,
    /// The connection's message queue (pub/sub messages, invalidations).
    pub outlet: Option<crate::server::outlet::Outlet>,
}

impl ClientInfo {
    fn flags(&self) -> String {
        let mut flags = String::new();
        for (on, flag) in [
            (self.blocked, 'b'),
            (self.sub + self.psub > 0, 'P'),
            (self.no_evict, 'e'),
            (self.no_touch, 'T'),
        ] {
            if on {
                flags.push(flag);
            }
        }
        if flags.is_empty() {
            flags.push('N');
        }
        flags
    }

    /// One line of CLIENT LIST in Redis's format.
    pub fn line(&self) -> String {
        let now = Instant::now();
        format!(
            "id={} addr={} laddr={} fd=0 name={} age={} idle={} flags={} db={} sub={} psub={} ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd={} user={} redir=-1 resp={} lib-name={} lib-ver={}",
            self.id,
            self.addr,
            self.laddr,
            self.name,
            now.duration_since(self.created).as_secs(),
            now.duration_since(self.last_active).as_secs(),
            self.flags(),
            self.db,
            self.sub,
            self.psub,
            self.last_cmd.unwrap_or("NULL"),
            self.user,
            self.resp,
            self.lib_name,
            self.lib_ver,
        )
    }

    /// Whether the connection matches `filter`, for the caller `me`.
    pub fn matches(&self, filter: &ClientFilter, me: u64) -> bool {
        let text = |b: &bytes::Bytes| String::from_utf8_lossy(b).into_owned();
        let kind = if self.sub + self.psub > 0 {
            ClientType::PubSub
        } else {
            ClientType::Normal
        };
        !(filter.skip_me && self.id == me)
            && filter.ids.as_ref().is_none_or(|ids| ids.contains(&self.id))
            && filter.kind.is_none_or(|k| k == kind)
            && filter.user.as_ref().is_none_or(|u| text(u) == self.user)
            && filter.addr.as_ref().is_none_or(|a| text(a) == self.addr)
            && filter.laddr.as_ref().is_none_or(|a| text(a) == self.laddr)
            && filter
                .max_age_secs
                .is_none_or(|age| self.created.elapsed() >= Duration::from_secs(age))
    }
}

/// CLIENT PAUSE: until when, and whether reads wait too.
#[derive(Debug, Default)]
struct Pause {
    until: Option<Instant>,
    all: bool,
}

#[derive(Default)]
pub struct Clients {
    next_id: AtomicU64,
    map: Mutex<BTreeMap<u64, ClientInfo>>,
    pause: Mutex<Pause>,
    unpaused: Notify,
}

impl Clients {
    /// Registers a connection unless `max` are connected; its id and control.
    pub fn register(&self, addr: String, laddr: String, max: usize) -> Option<(u64, Arc<Control>)> {
        let mut map = self.map.lock().ok()?;
        if map.len() >= max {
            return None;
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let now = Instant::now();
        let control = Arc::new(Control::default());
        map.insert(
            id,
            ClientInfo {
                id,
                addr,
                laddr,
                name: String::new(),
                db: 0,
                created: now,
                last_active: now,
                last_cmd: None,
                lib_name: String::new(),
                lib_ver: String::new(),
                resp: 2,
                blocked: false,
                user: cairn_protocol::acl::DEFAULT_USER.to_string(),
                sub: 0,
                psub: 0,
                no_evict: false,
                no_touch: false,
                control: control.clone(),
                outlet: None,
            },
        );
        Some((id, control))
    }

    pub fn remove(&self, id: u64) {
        if let Ok(mut map) = self.map.lock() {
            map.remove(&id);
        }
    }

    pub fn update(&self, id: u64, f: impl FnOnce(&mut ClientInfo)) {
        if let Ok(mut map) = self.map.lock() {
            if let Some(c) = map.get_mut(&id) {
                f(c);
            }
        }
    }

    /// What client-side caching needs of a connection (no copy of the rest).
    pub fn peer(&self, id: u64) -> Option<crate::cache::tracking::Peer> {
        let map = self.map.lock().ok()?;
        let c = map.get(&id)?;
        Some(crate::cache::tracking::Peer {
            resp3: c.resp == 3,
            subscribed: c.sub + c.psub > 0,
            outlet: c.outlet.clone(),
        })
    }

    pub fn get(&self, id: u64) -> Option<ClientInfo> {
        self.map.lock().ok()?.get(&id).cloned()
    }

    pub fn list(&self) -> Vec<ClientInfo> {
        self.map
            .lock()
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Kills the connections matching `filter` (for the caller `me`); how many.
    pub fn kill(&self, filter: &ClientFilter, me: u64) -> usize {
        let Ok(map) = self.map.lock() else {
            return 0;
        };
        let mut killed = 0;
        for c in map.values().filter(|c| c.matches(filter, me)) {
            c.control.kill();
            killed += 1;
        }
        killed
    }

    /// CLIENT UNBLOCK: whether `id` was blocked (and is now woken).
    pub fn unblock(&self, id: u64, error: bool) -> bool {
        let Ok(map) = self.map.lock() else {
            return false;
        };
        match map.get(&id) {
            Some(c) if c.blocked => {
                c.control.unblock(error);
                true
            }
            _ => false,
        }
    }

    /// How many clients wait in a blocking command.
    pub fn blocked(&self) -> usize {
        self.map
            .lock()
            .map(|m| m.values().filter(|c| c.blocked).count())
            .unwrap_or(0)
    }

    pub fn len(&self) -> usize {
        self.map.lock().map(|m| m.len()).unwrap_or(0)
    }

    /// CLIENT PAUSE: commands (`all`) or writes wait until `until`. A longer or wider pause
    /// already in place is kept, as in Redis.
    pub fn pause(&self, until: Instant, all: bool) {
        if let Ok(mut p) = self.pause.lock() {
            p.until = Some(p.until.map_or(until, |u| u.max(until)));
            p.all |= all;
        }
    }

    /// CLIENT UNPAUSE.
    pub fn unpause(&self) {
        if let Ok(mut p) = self.pause.lock() {
            *p = Pause::default();
        }
        self.unpaused.notify_waiters();
    }

    /// Waits while a pause holds commands of this kind (`write`: it changes data).
    pub async fn wait_unpaused(&self, write: bool) {
        loop {
            // Registered before the state is read, so an UNPAUSE in between still wakes us.
            let unpaused = self.unpaused.notified();
            tokio::pin!(unpaused);
            unpaused.as_mut().enable();
            let until = match self.pause.lock() {
                Ok(mut p) => match p.until {
                    Some(u) if u <= Instant::now() => {
                        *p = Pause::default();
                        None
                    }
                    Some(u) if p.all || write => Some(u),
                    _ => None,
                },
                Err(_) => None,
            };
            let Some(until) = until else {
                return;
            };
            tokio::select! {
                () = tokio::time::sleep_until(until.into()) => {}
                () = unpaused => {}
            }
        }
    }
}
