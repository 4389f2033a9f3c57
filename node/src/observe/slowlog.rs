//! SLOWLOG: the commands that took longer than `slowlog-log-slower-than` microseconds, newest
//! first, at most `slowlog-max-len` of them (Redis's slowlog.c). Per node, like Redis's per
//! server. The time is from parsing a command to its reply, so a write includes its
//! replication to a quorum; blocking commands (which wait by design) are not logged.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use cairn_protocol::command::table;
use cairn_protocol::Reply;

use crate::server::clients::Clients;
use crate::settings::Settings;

/// Arguments kept per entry, and bytes kept per argument (Redis's SLOWLOG_ENTRY_MAX_*).
const ARGC_MAX: usize = 32;
const STRING_MAX: usize = 128;

struct Entry {
    id: u64,
    time_secs: u64,
    micros: u64,
    args: Vec<Bytes>,
    addr: String,
    name: String,
}

pub struct SlowLog {
    /// Negative: off; 0: every command.
    threshold_us: AtomicI64,
    max_len: AtomicUsize,
    next_id: AtomicU64,
    entries: Mutex<VecDeque<Entry>>,
}

impl SlowLog {
    pub fn new() -> SlowLog {
        SlowLog {
            threshold_us: AtomicI64::new(10_000),
            max_len: AtomicUsize::new(128),
            next_id: AtomicU64::new(0),
            entries: Mutex::new(VecDeque::new()),
        }
    }

    /// Takes `slowlog-log-slower-than` and `slowlog-max-len` from the settings (at start and
    /// after CONFIG SET).
    pub fn configure(&self, settings: &Settings) {
        let get = |name: &str| settings.get(name).and_then(|v| v.parse::<i64>().ok());
        if let Some(t) = get("slowlog-log-slower-than") {
            self.threshold_us.store(t, Ordering::Relaxed);
        }
        if let Some(n) = get("slowlog-max-len") {
            let n = usize::try_from(n).unwrap_or(0);
            self.max_len.store(n, Ordering::Relaxed);
            if let Ok(mut e) = self.entries.lock() {
                e.truncate(n);
            }
        }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, VecDeque<Entry>> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn len(&self) -> usize {
        self.entries().len()
    }

    pub fn reset(&self) {
        self.entries().clear();
    }

    /// SLOWLOG GET [count]: the newest `count` entries (all for -1).
    pub fn get(&self, count: Option<i64>) -> Reply {
        let n = match count.unwrap_or(10) {
            n if n < 0 => usize::MAX,
            n => usize::try_from(n).unwrap_or(usize::MAX),
        };
        Reply::Array(
            self.entries()
                .iter()
                .take(n)
                .map(|e| {
                    Reply::Array(vec![
                        Reply::Integer(e.id as i64),
                        Reply::Integer(e.time_secs as i64),
                        Reply::Integer(e.micros as i64),
                        Reply::Array(e.args.iter().cloned().map(Reply::Bulk).collect()),
                        Reply::bulk(e.addr.clone()),
                        Reply::bulk(e.name.clone()),
                    ])
                })
                .collect(),
        )
    }
}

impl Default for SlowLog {
    fn default() -> Self {
        SlowLog::new()
    }
}

/// Logs the command `args` of client `client` if it took `elapsed` or more than the threshold.
pub fn record(log: &SlowLog, clients: &Clients, client: u64, args: &[Bytes], elapsed: Duration) {
    let threshold = log.threshold_us.load(Ordering::Relaxed);
    let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
    if threshold < 0 || micros < threshold.unsigned_abs() || !logged(args) {
        return;
    }
    let (addr, name) = clients
        .get(client)
        .map(|c| (c.addr, c.name))
        .unwrap_or_default();
    let entry = Entry {
        id: log.next_id.fetch_add(1, Ordering::Relaxed),
        time_secs: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs(),
        micros,
        args: kept_args(args),
        addr,
        name,
    };
    let max = log.max_len.load(Ordering::Relaxed);
    let mut entries = log.entries();
    entries.push_front(entry);
    entries.truncate(max);
}

/// Whether Redis would log this command: not flagged `skip_slowlog`, not blocking.
fn logged(args: &[Bytes]) -> bool {
    let Some(spec) = args.first().and_then(|n| table::lookup_command(n)) else {
        return false;
    };
    !spec
        .flags
        .iter()
        .any(|f| matches!(*f, "skip_slowlog" | "blocking"))
}

/// The arguments as kept: credentials redacted, at most [`ARGC_MAX`] (the last one saying
/// how many more there were), each cut to [`STRING_MAX`] bytes with a note of the rest.
fn kept_args(args: &[Bytes]) -> Vec<Bytes> {
    let shown = if args.len() > ARGC_MAX {
        ARGC_MAX - 1
    } else {
        args.len()
    };
    let mut kept: Vec<Bytes> = args
        .iter()
        .take(shown)
        .enumerate()
        .map(|(i, a)| {
            if crate::observe::monitor::redacted(args, i) {
                Bytes::from_static(b"(redacted)")
            } else if a.len() > STRING_MAX {
                let mut cut = a[..STRING_MAX].to_vec();
                cut.extend_from_slice(
                    format!("... ({} more bytes)", a.len() - STRING_MAX).as_bytes(),
                );
                Bytes::from(cut)
            } else {
                a.clone()
            }
        })
        .collect();
    if args.len() > ARGC_MAX {
        kept.push(Bytes::from(format!(
            "... ({} more arguments)",
            args.len() - shown
        )));
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_arguments_and_lists_are_cut_as_redis_cuts_them() {
        let mut args: Vec<Bytes> = vec![Bytes::from_static(b"rpush"), Bytes::from(vec![b'x'; 130])];
        args.extend((0..40).map(|i| Bytes::from(i.to_string())));
        let kept = kept_args(&args);
        assert_eq!(kept.len(), ARGC_MAX);
        assert!(kept[1].ends_with(b"... (2 more bytes)"));
        assert_eq!(kept[31], Bytes::from_static(b"... (11 more arguments)"));
        let auth = kept_args(&[Bytes::from_static(b"auth"), Bytes::from_static(b"pw")]);
        assert_eq!(auth[1], Bytes::from_static(b"(redacted)"));
    }
}
