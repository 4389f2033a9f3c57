//! Publish/subscribe across the cluster.
//!
//! Messages are not data: they never enter the Raft log and are not replayed. A PUBLISH on
//! any node is delivered to that node's subscribers and sent to every other member over the
//! peer protocol (as Redis Cluster's bus does), each of which delivers it to its own
//! subscribers. The reply counts the receivers on every node that answered within
//! [`PEER_TIMEOUT`], so a cluster answers as one Redis would. PUBSUB CHANNELS / NUMSUB /
//! NUMPAT describe this node's subscribers, as in Redis Cluster.
//!
//! Keyspace notifications are published on every node from its own applies
//! ([`publish_key_events`]), never sent between nodes: each replica raises the same events.
//!
//! Each subscribed connection has a bounded queue of messages. A subscriber that lets
//! [`QUEUE_MAX`] messages pile up is disconnected, as Redis disconnects a pub/sub client past
//! its output buffer limit, so a slow reader never holds memory without bound.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use cairn_protocol::command::PubSubCommand;
use cairn_protocol::{glob_match, Reply};
use tokio::sync::mpsc;

use crate::cluster::handle::Cluster;
use crate::server::outlet::Outlet;

/// Messages waiting for one subscriber, at most.
pub const QUEUE_MAX: usize = 8192;
/// How long PUBLISH waits for a peer to deliver and count.
const PEER_TIMEOUT: Duration = Duration::from_millis(500);

/// Publishes each batch of keyspace events this node applies to its own subscribers, in
/// the order they were raised.
pub fn publish_key_events(
    hub: Arc<Hub>,
    mut events: tokio::sync::broadcast::Receiver<Arc<Vec<cairn_raft::keyspace::notify::KeyEvent>>>,
) {
    use tokio::sync::broadcast::error::RecvError;
    tokio::spawn(async move {
        loop {
            match events.recv().await {
                Ok(batch) => {
                    for event in batch.iter() {
                        for (channel, message) in event.messages() {
                            hub.deliver(&channel, &message);
                        }
                    }
                }
                Err(RecvError::Lagged(lost)) => {
                    tracing::warn!(
                        batches = lost,
                        "keyspace events lost: the publisher fell behind"
                    );
                }
                Err(RecvError::Closed) => return,
            }
        }
    });
}

/// One subscribed connection, as the hub sees it: its queue.
type Subscriber = Outlet;

/// The node's subscriptions: channel or pattern → client id → subscriber.
#[derive(Default)]
pub struct Hub {
    inner: Mutex<Maps>,
}

#[derive(Default)]
struct Maps {
    channels: HashMap<Bytes, HashMap<u64, Subscriber>>,
    patterns: HashMap<Bytes, HashMap<u64, Subscriber>>,
}

impl Hub {
    fn maps(&self) -> MutexGuard<'_, Maps> {
        // A panic while holding the lock cannot leave the maps half-changed in a way that
        // matters (each change is one insert or remove): keep serving.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Delivers a message to this node's subscribers; how many received it.
    pub fn deliver(&self, channel: &Bytes, message: &Bytes) -> usize {
        let maps = self.maps();
        let mut delivered = 0;
        if let Some(subs) = maps.channels.get(channel) {
            for sub in subs.values() {
                let push = Reply::Push(vec![
                    Reply::bulk("message"),
                    Reply::Bulk(channel.clone()),
                    Reply::Bulk(message.clone()),
                ]);
                delivered += usize::from(sub.send(push));
            }
        }
        for (pattern, subs) in &maps.patterns {
            if !glob_match(pattern, channel, false) {
                continue;
            }
            for sub in subs.values() {
                let push = Reply::Push(vec![
                    Reply::bulk("pmessage"),
                    Reply::Bulk(pattern.clone()),
                    Reply::Bulk(channel.clone()),
                    Reply::Bulk(message.clone()),
                ]);
                delivered += usize::from(sub.send(push));
            }
        }
        delivered
    }

    /// Active channels (with at least one subscriber) matching `pattern`, sorted.
    pub fn channels(&self, pattern: Option<&[u8]>) -> Vec<Bytes> {
        let mut out: Vec<Bytes> = self
            .maps()
            .channels
            .keys()
            .filter(|c| pattern.is_none_or(|p| glob_match(p, c, false)))
            .cloned()
            .collect();
        out.sort();
        out
    }

    pub fn numsub(&self, channel: &[u8]) -> usize {
        self.maps().channels.get(channel).map_or(0, HashMap::len)
    }

    /// Distinct patterns subscribed to (Redis counts patterns, not subscriptions).
    pub fn numpat(&self) -> usize {
        self.maps().patterns.len()
    }
}

/// One connection's subscriptions and its message queue.
pub struct Subscriptions {
    client: u64,
    channels: BTreeSet<Bytes>,
    patterns: BTreeSet<Bytes>,
    me: Subscriber,
    rx: mpsc::Receiver<Reply>,
}

impl Subscriptions {
    pub fn new(client: u64) -> Subscriptions {
        let (me, rx) = Outlet::channel(QUEUE_MAX);
        Subscriptions {
            client,
            channels: BTreeSet::new(),
            patterns: BTreeSet::new(),
            me,
            rx,
        }
    }

    /// The queue's sending end, for pushes from elsewhere.
    pub fn outlet(&self) -> Outlet {
        self.me.clone()
    }

    /// (channels, patterns), as CLIENT LIST shows them.
    pub fn counts(&self) -> (usize, usize) {
        (self.channels.len(), self.patterns.len())
    }

    /// Channels plus patterns: the count Redis reports in (un)subscribe replies.
    pub fn count(&self) -> usize {
        self.channels.len() + self.patterns.len()
    }

    /// Whether the connection fell too far behind and must be closed.
    pub fn overflowed(&self) -> bool {
        self.me.overflowed()
    }

    /// The next queued message; pending forever while there is none.
    pub async fn next(&mut self) -> Option<Reply> {
        self.rx.recv().await
    }

    /// A message already queued, without waiting.
    pub fn try_next(&mut self) -> Option<Reply> {
        self.rx.try_recv().ok()
    }

    /// Leaves every channel and pattern (the connection is closing or RESET).
    pub fn leave_all(&mut self, hub: &Hub) {
        let mut maps = hub.maps();
        for c in std::mem::take(&mut self.channels) {
            remove(&mut maps.channels, &c, self.client);
        }
        for p in std::mem::take(&mut self.patterns) {
            remove(&mut maps.patterns, &p, self.client);
        }
    }
}

fn remove(map: &mut HashMap<Bytes, HashMap<u64, Subscriber>>, name: &Bytes, client: u64) {
    if let Some(subs) = map.get_mut(name) {
        subs.remove(&client);
        if subs.is_empty() {
            map.remove(name);
        }
    }
}

/// Which kind of subscription a command changes.
#[derive(Clone, Copy)]
enum Kind {
    Channel,
    Pattern,
}

impl Kind {
    fn set(self, s: &mut Subscriptions) -> &mut BTreeSet<Bytes> {
        match self {
            Kind::Channel => &mut s.channels,
            Kind::Pattern => &mut s.patterns,
        }
    }

    fn map(self, m: &mut Maps) -> &mut HashMap<Bytes, HashMap<u64, Subscriber>> {
        match self {
            Kind::Channel => &mut m.channels,
            Kind::Pattern => &mut m.patterns,
        }
    }

    fn word(self, subscribe: bool) -> &'static str {
        match (self, subscribe) {
            (Kind::Channel, true) => "subscribe",
            (Kind::Channel, false) => "unsubscribe",
            (Kind::Pattern, true) => "psubscribe",
            (Kind::Pattern, false) => "punsubscribe",
        }
    }
}

/// SUBSCRIBE / PSUBSCRIBE: one confirmation per name, each with the new count.
fn subscribe(hub: &Hub, subs: &mut Subscriptions, kind: Kind, names: Vec<Bytes>) -> Vec<Reply> {
    let mut maps = hub.maps();
    names
        .into_iter()
        .map(|name| {
            if kind.set(subs).insert(name.clone()) {
                kind.map(&mut maps)
                    .entry(name.clone())
                    .or_default()
                    .insert(subs.client, subs.me.clone());
            }
            confirmation(kind.word(true), Reply::Bulk(name), subs.count())
        })
        .collect()
}

/// UNSUBSCRIBE / PUNSUBSCRIBE: one confirmation per name (every subscribed one when none are
/// given; a nil name when there were none at all).
fn unsubscribe(hub: &Hub, subs: &mut Subscriptions, kind: Kind, names: Vec<Bytes>) -> Vec<Reply> {
    let names = if names.is_empty() {
        kind.set(subs).iter().cloned().collect()
    } else {
        names
    };
    if names.is_empty() {
        return vec![confirmation(kind.word(false), Reply::Nil, subs.count())];
    }
    let mut maps = hub.maps();
    names
        .into_iter()
        .map(|name| {
            if kind.set(subs).remove(&name) {
                remove(kind.map(&mut maps), &name, subs.client);
            }
            confirmation(kind.word(false), Reply::Bulk(name), subs.count())
        })
        .collect()
}

fn confirmation(word: &str, name: Reply, count: usize) -> Reply {
    Reply::Push(vec![
        Reply::bulk(word.to_string()),
        name,
        Reply::Integer(count as i64),
    ])
}

/// Runs a pub/sub command for a connection; its replies (several for (UN)SUBSCRIBE).
pub async fn handle(
    hub: &Hub,
    cluster: &Cluster,
    subs: &mut Option<Subscriptions>,
    client: u64,
    cmd: PubSubCommand,
) -> Vec<Reply> {
    let mine = || Subscriptions::new(client);
    match cmd {
        PubSubCommand::Subscribe(names) => {
            subscribe(hub, subs.get_or_insert_with(mine), Kind::Channel, names)
        }
        PubSubCommand::PSubscribe(names) => {
            subscribe(hub, subs.get_or_insert_with(mine), Kind::Pattern, names)
        }
        PubSubCommand::Unsubscribe(names) => {
            unsubscribe(hub, subs.get_or_insert_with(mine), Kind::Channel, names)
        }
        PubSubCommand::PUnsubscribe(names) => {
            unsubscribe(hub, subs.get_or_insert_with(mine), Kind::Pattern, names)
        }
        PubSubCommand::Publish { channel, message } => {
            vec![Reply::Integer(
                publish(hub, cluster, channel, message).await as i64,
            )]
        }
        PubSubCommand::Channels(pattern) => vec![Reply::Array(
            hub.channels(pattern.as_deref())
                .into_iter()
                .map(Reply::Bulk)
                .collect(),
        )],
        // A flat array of channel, count, ... in both protocols, as Redis answers.
        PubSubCommand::NumSub(channels) => vec![Reply::Array(
            channels
                .into_iter()
                .flat_map(|c| {
                    let n = hub.numsub(&c);
                    [Reply::Bulk(c), Reply::Integer(n as i64)]
                })
                .collect(),
        )],
        PubSubCommand::NumPat => vec![Reply::Integer(hub.numpat() as i64)],
    }
}

/// Delivers here and on every other member; the receivers counted on all that answered.
async fn publish(hub: &Hub, cluster: &Cluster, channel: Bytes, message: Bytes) -> usize {
    let here = hub.deliver(&channel, &message);
    let members = cluster.raft.metrics().borrow().membership_config.clone();
    let calls = members
        .nodes()
        .filter(|(id, _)| **id != cluster.id)
        .map(|(id, info)| {
            let (channel, message) = (channel.clone(), message.clone());
            async move {
                let sent = cluster
                    .peers
                    .publish(&info.raft_addr, channel, message, PEER_TIMEOUT)
                    .await;
                sent.unwrap_or_else(|e| {
                    tracing::debug!(peer = id, error = %e, "publish to a peer failed");
                    0
                })
            }
        });
    here + futures::future::join_all(calls)
        .await
        .into_iter()
        .sum::<usize>()
}
