//! CONFIG GET / SET: a store of Redis-named settings.
//!
//! Each setting has a kind that validates CONFIG SET as Redis does; immutable ones (set by
//! flags at start) refuse changes with Redis's error. Unknown names get Redis's error text.
//! Settings that change behaviour are read by the code that owns the behaviour.

use std::collections::BTreeMap;
use std::sync::RwLock;

use cairn_protocol::glob::glob_match;
use cairn_raft::keyspace::notify;
use cairn_raft::types::ReplicatedSettings;

#[derive(Debug, Clone, Copy)]
enum Kind {
    Int,
    Memory,
    Bool,
    Enum(&'static [&'static str]),
    Text,
    /// `notify-keyspace-events`: event class characters, shown normalized (`KA` as `AK`).
    Events,
    Immutable,
}

/// Redis's maxmemory policies.
pub const POLICIES: &[&str] = &[
    "noeviction",
    "allkeys-lru",
    "allkeys-lfu",
    "allkeys-random",
    "volatile-lru",
    "volatile-lfu",
    "volatile-random",
    "volatile-ttl",
];

/// Redis's settings that clients and test suites commonly read or set.
const SETTINGS: &[(&str, Kind, &str)] = &[
    ("activerehashing", Kind::Bool, "yes"),
    (
        "appendfsync",
        Kind::Enum(&["always", "everysec", "no"]),
        "always",
    ),
    ("appendonly", Kind::Bool, "no"),
    ("bind", Kind::Immutable, ""),
    ("busy-reply-threshold", Kind::Int, "5000"),
    (
        "client-output-buffer-limit",
        Kind::Text,
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
    ),
    ("cluster-enabled", Kind::Immutable, "no"),
    ("databases", Kind::Immutable, "16"),
    ("dbfilename", Kind::Text, "dump.rdb"),
    ("dir", Kind::Immutable, ""),
    ("hash-max-listpack-entries", Kind::Int, "128"),
    ("hash-max-listpack-value", Kind::Int, "64"),
    ("hash-max-ziplist-entries", Kind::Int, "128"),
    ("hash-max-ziplist-value", Kind::Int, "64"),
    ("hll-sparse-max-bytes", Kind::Int, "3000"),
    ("hz", Kind::Int, "10"),
    ("latency-tracking", Kind::Bool, "yes"),
    ("latency-monitor-threshold", Kind::Int, "0"),
    ("lazyfree-lazy-user-del", Kind::Bool, "no"),
    ("lfu-decay-time", Kind::Int, "1"),
    ("lfu-log-factor", Kind::Int, "10"),
    ("list-compress-depth", Kind::Int, "0"),
    ("list-max-listpack-size", Kind::Int, "-2"),
    ("list-max-ziplist-size", Kind::Int, "-2"),
    (
        "loglevel",
        Kind::Enum(&["debug", "verbose", "notice", "warning", "nothing"]),
        "notice",
    ),
    ("lua-time-limit", Kind::Int, "5000"),
    ("maxclients", Kind::Immutable, "10000"),
    ("maxmemory", Kind::Memory, "0"),
    ("maxmemory-policy", Kind::Enum(POLICIES), "noeviction"),
    ("maxmemory-samples", Kind::Int, "5"),
    ("notify-keyspace-events", Kind::Events, ""),
    ("port", Kind::Immutable, "6379"),
    ("proto-max-bulk-len", Kind::Immutable, "536870912"),
    ("requirepass", Kind::Text, ""),
    ("save", Kind::Text, ""),
    ("set-max-intset-entries", Kind::Int, "512"),
    ("set-max-listpack-entries", Kind::Int, "128"),
    ("set-max-listpack-value", Kind::Int, "64"),
    ("slowlog-log-slower-than", Kind::Int, "10000"),
    ("slowlog-max-len", Kind::Int, "128"),
    ("stream-node-max-bytes", Kind::Memory, "4096"),
    ("stream-node-max-entries", Kind::Int, "100"),
    ("tracking-table-max-keys", Kind::Int, "1000000"),
    ("tcp-keepalive", Kind::Int, "300"),
    ("timeout", Kind::Int, "0"),
    ("zset-max-listpack-entries", Kind::Int, "128"),
    ("zset-max-listpack-value", Kind::Int, "64"),
    ("zset-max-ziplist-entries", Kind::Int, "128"),
    ("zset-max-ziplist-value", Kind::Int, "64"),
];

/// Settings replicated through the log (`OpKind::Config`): every node must agree on them,
/// because the leader (whichever node that is) evicts by them, every node refuses writes
/// with OOM by them, and writes apply by them on every replica.
const REPLICATED: &[&str] = &[
    // Whether a PFADD leaves an HLL sparse is decided where the write applies.
    "hll-sparse-max-bytes",
    "maxmemory",
    "maxmemory-policy",
    "maxmemory-samples",
    "lfu-log-factor",
    "lfu-decay-time",
    // Events are raised where writes apply: every replica raises the same ones.
    "notify-keyspace-events",
    // Where a stream's nodes split decides what an approximate trim removes.
    "stream-node-max-bytes",
    "stream-node-max-entries",
];

pub fn is_replicated(name: &str) -> bool {
    REPLICATED.contains(&name)
}

/// A setting's value in force: the replicated one if it was ever set through the log, else
/// this node's own (its default or flag).
pub fn effective(replicated: &ReplicatedSettings, local: &Settings, name: &str) -> Option<String> {
    match replicated.get(name) {
        Some(v) if is_replicated(name) => Some(v.clone()),
        _ => local.get(name),
    }
}

pub struct Settings {
    values: RwLock<BTreeMap<&'static str, String>>,
}

fn kind_of(name: &str) -> Option<(&'static str, Kind)> {
    SETTINGS
        .iter()
        .find(|(n, _, _)| n.eq_ignore_ascii_case(name))
        .map(|(n, k, _)| (*n, *k))
}

/// Parses Redis memory units (`100mb`, `1gb`, `512k`).
fn parse_memory(s: &str) -> Option<u64> {
    let lower = s.to_ascii_lowercase();
    let units: [(&str, u64); 8] = [
        ("gb", 1 << 30),
        ("mb", 1 << 20),
        ("kb", 1 << 10),
        ("g", 1_000_000_000),
        ("m", 1_000_000),
        ("k", 1_000),
        ("b", 1),
        ("", 1),
    ];
    for (suffix, mul) in units {
        if let Some(num) = lower.strip_suffix(suffix) {
            if let Ok(n) = num.parse::<u64>() {
                return n.checked_mul(mul);
            }
        }
    }
    None
}

/// `--maxmemory`: a memory value with Redis's units.
pub fn parse_memory_arg(s: &str) -> Result<u64, String> {
    parse_memory(s).ok_or_else(|| format!("{s:?} is not a memory value (e.g. 100mb, 1gb)"))
}

impl Settings {
    /// Redis's defaults, with `overrides` (what this node's flags set) on top.
    pub fn new(overrides: impl IntoIterator<Item = (&'static str, String)>) -> Self {
        let mut values: BTreeMap<&'static str, String> = SETTINGS
            .iter()
            .map(|(n, _, v)| (*n, (*v).to_string()))
            .collect();
        values.extend(overrides);
        Settings {
            values: RwLock::new(values),
        }
    }

    pub fn get(&self, name: &str) -> Option<String> {
        self.values.read().ok()?.get(name).cloned()
    }

    /// Whether `name` is set to something non-empty: without copying the value (asked for
    /// `requirepass` on every command).
    pub fn is_non_empty(&self, name: &str) -> bool {
        self.values
            .read()
            .is_ok_and(|v| v.get(name).is_some_and(|s| !s.is_empty()))
    }

    /// CONFIG GET: every (name, value) whose name matches one of the patterns, replicated
    /// values (`replicated`) in place of this node's.
    pub fn matching(
        &self,
        patterns: &[&[u8]],
        replicated: &ReplicatedSettings,
    ) -> Vec<(String, String)> {
        let Ok(values) = self.values.read() else {
            return Vec::new();
        };
        values
            .iter()
            .filter(|(n, _)| patterns.iter().any(|p| glob_match(p, n.as_bytes(), true)))
            .map(|(n, v)| {
                let v = match replicated.get(*n) {
                    Some(r) if is_replicated(n) => r,
                    _ => v,
                };
                let shown = match kind_of(n) {
                    Some((_, Kind::Events)) => {
                        notify::parse_flags(v).map_or_else(String::new, notify::flags_text)
                    }
                    _ => v.clone(),
                };
                ((*n).to_string(), shown)
            })
            .collect()
    }

    /// CONFIG SET of several pairs, all or nothing. `Err` is the error reply text.
    pub fn set(&self, pairs: &[(String, String)]) -> Result<(), String> {
        let checked = Self::validate(pairs)?;
        let mut values = self
            .values
            .write()
            .map_err(|_| "ERR settings unavailable".to_string())?;
        for (n, v) in checked {
            values.insert(n, v);
        }
        Ok(())
    }

    /// Checks CONFIG SET pairs as Redis does: the (canonical name, normalized value) pairs,
    /// or the error reply text.
    pub fn validate(pairs: &[(String, String)]) -> Result<Vec<(&'static str, String)>, String> {
        let mut checked = Vec::new();
        for (name, value) in pairs {
            let Some((canonical, kind)) = kind_of(name) else {
                return Err(format!(
                    "ERR Unknown option or number of arguments for CONFIG SET - '{name}'"
                ));
            };
            let fail = |why: &str| {
                format!("ERR CONFIG SET failed (possibly related to argument '{name}') - {why}")
            };
            if checked.iter().any(|(n, _)| *n == canonical) {
                return Err(fail("duplicate parameter"));
            }
            let value = match kind {
                Kind::Immutable => return Err(fail("can't set immutable config")),
                Kind::Int => value
                    .parse::<i64>()
                    .map(|v| v.to_string())
                    .map_err(|_| fail("argument couldn't be parsed into an integer"))?,
                Kind::Memory => parse_memory(value)
                    .map(|v| v.to_string())
                    .ok_or_else(|| fail("argument must be a memory value"))?,
                Kind::Bool => match value.to_ascii_lowercase().as_str() {
                    v @ ("yes" | "no") => v.to_string(),
                    _ => return Err(fail("argument must be 'yes' or 'no'")),
                },
                Kind::Enum(allowed) => {
                    let v = value.to_ascii_lowercase();
                    if !allowed.contains(&v.as_str()) {
                        return Err(fail(
                            "argument(s) must be one of the following: "
                                .to_string()
                                .as_str(),
                        )
                        .to_string()
                            + &allowed.join(", "));
                    }
                    v
                }
                Kind::Text => value.clone(),
                // Kept as given ("KEAn" keeps its `n`, which the shown form "AKE" drops).
                Kind::Events => notify::parse_flags(value)
                    .map(|_| value.clone())
                    .ok_or_else(|| fail("Invalid event class character. Use 'Ag$lshzxeKEtmdn'."))?,
            };
            checked.push((canonical, value));
        }
        Ok(checked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_units() {
        assert_eq!(parse_memory("100mb"), Some(100 << 20));
        assert_eq!(parse_memory("1gb"), Some(1 << 30));
        assert_eq!(parse_memory("5k"), Some(5000));
        assert_eq!(parse_memory("12"), Some(12));
        assert_eq!(parse_memory("x"), None);
    }
}
