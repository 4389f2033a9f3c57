//! The registry of connected clients (CLIENT ID / LIST / INFO, INFO clients, maxclients).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

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
    pub last_cmd: String,
    pub lib_name: String,
    pub lib_ver: String,
    pub resp: u8,
    /// Waiting in a blocking command.
    pub blocked: bool,
    /// The ACL user the connection runs as.
    pub user: String,
}

impl ClientInfo {
    /// One line of CLIENT LIST in Redis's format.
    pub fn line(&self) -> String {
        let now = Instant::now();
        format!(
            "id={} addr={} laddr={} fd=0 name={} age={} idle={} flags={} db={} sub=0 psub=0 ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd={} user={} redir=-1 resp={} lib-name={} lib-ver={}",
            self.id,
            self.addr,
            self.laddr,
            self.name,
            now.duration_since(self.created).as_secs(),
            now.duration_since(self.last_active).as_secs(),
            if self.blocked { "b" } else { "N" },
            self.db,
            if self.last_cmd.is_empty() { "NULL" } else { &self.last_cmd },
            self.user,
            self.resp,
            self.lib_name,
            self.lib_ver,
        )
    }
}

#[derive(Default)]
pub struct Clients {
    next_id: AtomicU64,
    map: Mutex<BTreeMap<u64, ClientInfo>>,
}

impl Clients {
    /// Registers a connection unless `max` are connected; its id.
    pub fn register(&self, addr: String, laddr: String, max: usize) -> Option<u64> {
        let mut map = self.map.lock().ok()?;
        if map.len() >= max {
            return None;
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let now = Instant::now();
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
                last_cmd: String::new(),
                lib_name: String::new(),
                lib_ver: String::new(),
                resp: 2,
                blocked: false,
                user: cairn_protocol::acl::DEFAULT_USER.to_string(),
            },
        );
        Some(id)
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

    pub fn get(&self, id: u64) -> Option<ClientInfo> {
        self.map.lock().ok()?.get(&id).cloned()
    }

    pub fn list(&self) -> Vec<ClientInfo> {
        self.map
            .lock()
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default()
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
}
