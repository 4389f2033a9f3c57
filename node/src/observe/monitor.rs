//! MONITOR: every command this node runs, streamed to the connections that asked, in Redis's
//! line format: `+<unix time with µs> [<db> <client addr>] "cmd" "arg" ...`.
//!
//! As in Redis, commands refused before running (unknown, wrong arity), admin commands and
//! those flagged `skip_monitor` are not shown, and AUTH's and HELLO's credentials are
//! redacted. A monitor that falls more than [`QUEUE_MAX`] lines behind is disconnected, as
//! Redis disconnects it past its output buffer limit.

use bytes::Bytes;
use cairn_protocol::command::table;
use tokio::sync::broadcast;

/// Lines a monitor may fall behind before it is disconnected.
pub const QUEUE_MAX: usize = 16_384;

#[derive(Clone)]
pub struct Monitors {
    tx: broadcast::Sender<Bytes>,
}

impl Monitors {
    pub fn new() -> Monitors {
        Monitors {
            tx: broadcast::Sender::new(QUEUE_MAX),
        }
    }

    /// Monitors that also show the commands scripts run when this node applies them, as
    /// `[db lua]` (one node per process: the script engine takes one observer).
    pub fn for_scripts() -> Monitors {
        let monitors = Monitors::new();
        let observer = monitors.clone();
        cairn_raft::keyspace::script::set_monitor(move |db, args| {
            if observer.watched() {
                observer.feed(db, "lua", args);
            }
        });
        monitors
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Bytes> {
        self.tx.subscribe()
    }

    /// Whether anyone is watching: commands are formatted only then.
    pub fn watched(&self) -> bool {
        self.tx.receiver_count() > 0
    }

    /// Shows a command run by the client at `addr` in database `db`.
    pub fn feed(&self, db: u8, addr: &str, args: &[Bytes]) {
        if !shown(args) {
            return;
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let mut line = format!(
            "+{}.{:06} [{db} {addr}]",
            now.as_secs(),
            now.subsec_micros()
        );
        for (i, arg) in args.iter().enumerate() {
            line.push(' ');
            if redacted(args, i) {
                line.push_str("\"(redacted)\"");
            } else {
                repr(arg, &mut line);
            }
        }
        line.push_str("\r\n");
        // No receiver left is fine: the line is for nobody.
        let _ = self.tx.send(Bytes::from(line));
    }
}

impl Default for Monitors {
    fn default() -> Self {
        Monitors::new()
    }
}

/// Whether Redis shows this command to monitors.
fn shown(args: &[Bytes]) -> bool {
    let Some(spec) = args.first().and_then(|n| table::lookup_command(n)) else {
        return false;
    };
    let spec = match (spec.subcommands.is_empty(), args.get(1)) {
        (false, Some(sub)) => spec.subcommand(sub).unwrap_or(spec),
        _ => spec,
    };
    // Scripts are flagged skip_monitor because Redis feeds them by hand, before the commands
    // they run (which the script engine reports as `[db lua]`).
    let script = matches!(
        spec.name,
        "eval" | "evalsha" | "eval_ro" | "evalsha_ro" | "fcall" | "fcall_ro"
    );
    script
        || !spec
            .flags
            .iter()
            .any(|f| matches!(*f, "admin" | "skip_monitor"))
}

/// Whether argument `i` is a credential: everything after AUTH, and HELLO's AUTH pair.
pub fn redacted(args: &[Bytes], i: usize) -> bool {
    let Some(name) = args.first() else {
        return false;
    };
    if name.eq_ignore_ascii_case(b"auth") {
        return i > 0;
    }
    if name.eq_ignore_ascii_case(b"hello") {
        return args
            .iter()
            .position(|a| a.eq_ignore_ascii_case(b"auth"))
            .is_some_and(|at| i == at + 1 || i == at + 2);
    }
    false
}

/// Redis's `sdscatrepr`: the argument quoted, with escapes for quotes, backslashes, control
/// and non-ASCII bytes.
fn repr(arg: &[u8], out: &mut String) {
    out.push('"');
    for &b in arg {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            7 => out.push_str("\\a"),
            8 => out.push_str("\\b"),
            0x20..=0x7e => out.push(char::from(b)),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &[&str]) -> Vec<Bytes> {
        s.iter().map(|a| Bytes::from(a.to_string())).collect()
    }

    #[test]
    fn lines_quote_redact_and_skip_as_redis_does() {
        let m = Monitors::new();
        let mut rx = m.subscribe();
        m.feed(3, "127.0.0.1:5000", &args(&["set", "k\"\n", "\u{1}"]));
        m.feed(0, "a", &args(&["config", "get", "x"]));
        m.feed(0, "a", &args(&["auth", "user", "pw"]));
        m.feed(
            0,
            "a",
            &args(&["hello", "3", "AUTH", "u", "p", "SETNAME", "n"]),
        );
        let line =
            String::from_utf8(rx.try_recv().unwrap_or_default().to_vec()).unwrap_or_default();
        assert!(line.starts_with('+'), "{line}");
        assert!(
            line.ends_with(" [3 127.0.0.1:5000] \"set\" \"k\\\"\\n\" \"\\x01\"\r\n"),
            "{line}"
        );
        let auth = rx.try_recv().unwrap_or_default();
        assert!(
            auth.ends_with(b"\"auth\" \"(redacted)\" \"(redacted)\"\r\n"),
            "CONFIG (admin) is not shown: {auth:?}"
        );
        let hello = rx.try_recv().unwrap_or_default();
        assert!(hello.ends_with(
            b"\"hello\" \"3\" \"AUTH\" \"(redacted)\" \"(redacted)\" \"SETNAME\" \"n\"\r\n"
        ));
    }
}
