//! ACL users as Redis 7 defines them, without selectors: a user is enabled or not, has
//! password hashes (SHA-256, as Redis stores them) or `nopass`, command rules, key patterns
//! and channel patterns. `ACL SETUSER` rules are applied in order; a failing rule leaves the
//! user unchanged (Redis applies them to a copy too).
//!
//! Clear-text passwords never travel: [`hash_clear_passwords`] turns `>pass` into `#hash`
//! and `<pass` into `!hash` before a rule list is logged or replicated.
//!
//! Command rules are kept as written (after `+@all`/`-@all`, which reset them) and evaluated
//! last-match-wins, which gives the same answer as Redis's per-command bitmap.

mod check;

use std::collections::BTreeMap;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

pub use check::{check, request_keys, spec_of, Denied};

/// The categories Redis 7 knows, in its order (ACL CAT).
pub const CATEGORIES: &[&str] = &[
    "keyspace",
    "read",
    "write",
    "set",
    "sortedset",
    "list",
    "hash",
    "string",
    "bitmap",
    "hyperloglog",
    "geo",
    "stream",
    "pubsub",
    "admin",
    "fast",
    "slow",
    "blocking",
    "dangerous",
    "connection",
    "transaction",
    "scripting",
];

pub const DEFAULT_USER: &str = "default";

/// Every user by name.
pub type Users = BTreeMap<String, User>;

/// One command rule: `+@all`/`-@all`, `+@category`, `+command`, `+container|sub`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CommandRule {
    All(bool),
    Category(String, bool),
    /// A command or `container|subcommand`, lowercase.
    Command(String, bool),
}

/// A key pattern with the access it grants (`~p` both, `%R~p` read, `%W~p` write).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyPattern {
    pub pattern: Bytes,
    pub read: bool,
    pub write: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub enabled: bool,
    pub nopass: bool,
    /// SHA-256 of each password, as 64 lowercase hex digits.
    pub passwords: Vec<String>,
    pub commands: Vec<CommandRule>,
    pub keys: Vec<KeyPattern>,
    pub channels: Vec<Bytes>,
}

/// Why a rule was refused, in Redis's words (`ACLSetUserStringError`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleError {
    Syntax,
    UnknownName,
    KeyAfterAllKeys,
    ChannelAfterAllChannels,
    NoSuchPassword,
    BadHash,
}

impl RuleError {
    fn text(self) -> &'static str {
        match self {
            RuleError::Syntax => "Syntax error",
            RuleError::UnknownName => "Unknown command or category name in ACL",
            RuleError::KeyAfterAllKeys => "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns",
            RuleError::ChannelAfterAllChannels => "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels",
            RuleError::NoSuchPassword => {
                "The password you are trying to remove from the user does not exist"
            }
            RuleError::BadHash => "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters",
        }
    }
}

/// SHA-256 of a password as lowercase hex.
pub fn hash_password(password: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(password)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The rules with every clear-text password replaced by its hash.
pub fn hash_clear_passwords(rules: &[Bytes]) -> Vec<Bytes> {
    rules
        .iter()
        .map(|r| match r.split_first() {
            Some((b'>', pass)) => Bytes::from(format!("#{}", hash_password(pass))),
            Some((b'<', pass)) => Bytes::from(format!("!{}", hash_password(pass))),
            _ => r.clone(),
        })
        .collect()
}

/// Whether a user name is acceptable (`ACLStringHasSpaces`).
pub fn valid_name(name: &[u8]) -> bool {
    !name.iter().any(|b| b.is_ascii_whitespace() || *b == 0)
}

impl User {
    /// A user as ACL SETUSER creates it: off, no password, no permissions.
    pub fn new() -> User {
        User {
            enabled: false,
            nopass: false,
            passwords: Vec::new(),
            commands: Vec::new(),
            keys: Vec::new(),
            channels: Vec::new(),
        }
    }

    /// Redis's default user: `on nopass ~* &* +@all`.
    pub fn default_user() -> User {
        User {
            enabled: true,
            nopass: true,
            passwords: Vec::new(),
            commands: vec![CommandRule::All(true)],
            keys: vec![KeyPattern {
                pattern: Bytes::from_static(b"*"),
                read: true,
                write: true,
            }],
            channels: vec![Bytes::from_static(b"*")],
        }
    }

    /// Applies `rules` in order; on an error the user is unchanged and the error reply text
    /// names the failing rule.
    pub fn apply_rules(&mut self, rules: &[Bytes]) -> Result<(), String> {
        let mut next = self.clone();
        for rule in rules {
            next.apply_rule(rule).map_err(|e| {
                format!(
                    "ERR Error in ACL SETUSER modifier '{}': {}",
                    String::from_utf8_lossy(rule),
                    e.text()
                )
            })?;
        }
        *self = next;
        Ok(())
    }

    fn apply_rule(&mut self, rule: &[u8]) -> Result<(), RuleError> {
        let lower = String::from_utf8_lossy(rule).to_ascii_lowercase();
        match lower.as_str() {
            "on" => self.enabled = true,
            "off" => self.enabled = false,
            "nopass" => {
                self.nopass = true;
                self.passwords.clear();
            }
            "resetpass" => {
                self.nopass = false;
                self.passwords.clear();
            }
            "allkeys" => self.add_key(b"*", true, true)?,
            "resetkeys" => self.keys.clear(),
            "allchannels" => self.add_channel(b"*")?,
            "resetchannels" => self.channels.clear(),
            "allcommands" => self.commands = vec![CommandRule::All(true)],
            "nocommands" => self.commands = vec![CommandRule::All(false)],
            "reset" => *self = User::new(),
            "sanitize-payload" | "skip-sanitize-payload" | "clearselectors" => {}
            _ => return self.apply_pattern_rule(rule),
        }
        Ok(())
    }

    /// Rules with an argument: passwords, key and channel patterns, command rules.
    fn apply_pattern_rule(&mut self, rule: &[u8]) -> Result<(), RuleError> {
        let Some((&first, rest)) = rule.split_first() else {
            return Err(RuleError::Syntax);
        };
        match first {
            b'>' => self.add_hash(hash_password(rest)),
            b'<' => self.remove_hash(&hash_password(rest))?,
            b'#' => self.add_hash(valid_hash(rest)?),
            b'!' => self.remove_hash(&valid_hash(rest)?)?,
            b'~' => self.add_key(rest, true, true)?,
            b'%' => {
                let tilde = rest
                    .iter()
                    .position(|b| *b == b'~')
                    .ok_or(RuleError::Syntax)?;
                let (access, pattern) = (&rest[..tilde], &rest[tilde + 1..]);
                let read = access.iter().any(|b| b.eq_ignore_ascii_case(&b'r'));
                let write = access.iter().any(|b| b.eq_ignore_ascii_case(&b'w'));
                let only_rw = access
                    .iter()
                    .all(|b| matches!(b.to_ascii_lowercase(), b'r' | b'w'));
                if access.is_empty() || !only_rw {
                    return Err(RuleError::Syntax);
                }
                self.add_key(pattern, read, write)?;
            }
            b'&' => self.add_channel(rest)?,
            b'+' | b'-' => self.add_command_rule(first == b'+', rest)?,
            _ => return Err(RuleError::Syntax),
        }
        Ok(())
    }

    fn add_hash(&mut self, hash: String) {
        self.nopass = false;
        if !self.passwords.contains(&hash) {
            self.passwords.push(hash);
        }
    }

    fn remove_hash(&mut self, hash: &str) -> Result<(), RuleError> {
        let before = self.passwords.len();
        self.passwords.retain(|h| h != hash);
        if self.passwords.len() == before {
            return Err(RuleError::NoSuchPassword);
        }
        Ok(())
    }

    pub(crate) fn all_keys(&self) -> bool {
        self.keys
            .iter()
            .any(|k| k.pattern.as_ref() == b"*" && k.read && k.write)
    }

    fn add_key(&mut self, pattern: &[u8], read: bool, write: bool) -> Result<(), RuleError> {
        if self.all_keys() {
            return Err(RuleError::KeyAfterAllKeys);
        }
        if pattern == b"*" && read && write {
            self.keys.clear();
        }
        self.keys.push(KeyPattern {
            pattern: Bytes::copy_from_slice(pattern),
            read,
            write,
        });
        Ok(())
    }

    fn add_channel(&mut self, pattern: &[u8]) -> Result<(), RuleError> {
        if self.channels.iter().any(|c| c.as_ref() == b"*") {
            return Err(RuleError::ChannelAfterAllChannels);
        }
        if pattern == b"*" {
            self.channels.clear();
        }
        self.channels.push(Bytes::copy_from_slice(pattern));
        Ok(())
    }

    fn add_command_rule(&mut self, allow: bool, name: &[u8]) -> Result<(), RuleError> {
        let name = String::from_utf8_lossy(name).to_ascii_lowercase();
        let rule = match name.strip_prefix('@') {
            Some("all") => {
                self.commands.clear();
                CommandRule::All(allow)
            }
            Some(cat) if CATEGORIES.contains(&cat) => CommandRule::Category(cat.into(), allow),
            Some(_) => return Err(RuleError::UnknownName),
            None => {
                let known = match name.split_once('|') {
                    None => crate::command::table::lookup_command(name.as_bytes()).is_some(),
                    Some((container, sub)) => {
                        crate::command::table::lookup_command(container.as_bytes())
                            .filter(|c| !c.subcommands.is_empty())
                            .and_then(|c| c.subcommand(sub.as_bytes()))
                            .is_some()
                    }
                };
                if !known {
                    return Err(RuleError::UnknownName);
                }
                CommandRule::Command(name, allow)
            }
        };
        self.commands.push(rule);
        Ok(())
    }

    /// Whether `password` lets this user in.
    pub fn accepts(&self, password: &[u8]) -> bool {
        self.enabled && (self.nopass || self.passwords.contains(&hash_password(password)))
    }

    /// The rules that rebuild this user, as ACL LIST shows them after `user <name> `.
    pub fn describe(&self) -> String {
        let mut parts: Vec<String> = vec![if self.enabled { "on" } else { "off" }.into()];
        if self.nopass {
            parts.push("nopass".into());
        }
        parts.extend(self.passwords.iter().map(|h| format!("#{h}")));
        if self.keys.is_empty() {
            parts.push("resetkeys".into());
        }
        parts.extend(self.keys.iter().map(describe_key));
        if self.channels.is_empty() {
            parts.push("resetchannels".into());
        }
        parts.extend(
            self.channels
                .iter()
                .map(|c| format!("&{}", String::from_utf8_lossy(c))),
        );
        parts.push(self.describe_commands());
        parts.join(" ")
    }

    /// The command rules as text: `+@all`, `-@all +get`, ...
    pub fn describe_commands(&self) -> String {
        let mut parts = Vec::new();
        if !matches!(self.commands.first(), Some(CommandRule::All(_))) {
            parts.push("-@all".to_string());
        }
        for rule in &self.commands {
            let sign = |allow: bool| if allow { '+' } else { '-' };
            parts.push(match rule {
                CommandRule::All(a) => format!("{}@all", sign(*a)),
                CommandRule::Category(c, a) => format!("{}@{c}", sign(*a)),
                CommandRule::Command(c, a) => format!("{}{c}", sign(*a)),
            });
        }
        parts.join(" ")
    }

    /// The key patterns as ACL GETUSER shows them (`~*`, `%R~cache:*`).
    pub fn describe_keys(&self) -> String {
        self.keys
            .iter()
            .map(describe_key)
            .collect::<Vec<_>>()
            .join(" ")
    }

    pub fn describe_channels(&self) -> String {
        self.channels
            .iter()
            .map(|c| format!("&{}", String::from_utf8_lossy(c)))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl Default for User {
    fn default() -> Self {
        User::new()
    }
}

fn describe_key(k: &KeyPattern) -> String {
    let p = String::from_utf8_lossy(&k.pattern);
    match (k.read, k.write) {
        (true, true) => format!("~{p}"),
        (true, false) => format!("%R~{p}"),
        _ => format!("%W~{p}"),
    }
}

fn valid_hash(hex: &[u8]) -> Result<String, RuleError> {
    let ok = hex.len() == 64 && hex.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if !ok {
        return Err(RuleError::BadHash);
    }
    Ok(String::from_utf8_lossy(hex).into_owned())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn rules(s: &str) -> Vec<Bytes> {
        s.split(' ').map(|r| Bytes::from(r.to_string())).collect()
    }

    #[test]
    fn a_new_user_is_off_and_allowed_nothing() {
        let u = User::new();
        assert_eq!(u.describe(), "off resetkeys resetchannels -@all");
        assert_eq!(User::default_user().describe(), "on nopass ~* &* +@all");
    }

    #[test]
    fn rules_apply_in_order_and_passwords_are_hashed() {
        let mut u = User::new();
        u.apply_rules(&rules(
            "on >secret ~cache:* %R~ro:* &news +@read -keys +set",
        ))
        .unwrap();
        assert!(u.accepts(b"secret"));
        assert!(!u.accepts(b"other"));
        assert_eq!(u.passwords, vec![hash_password(b"secret")]);
        assert_eq!(u.describe_commands(), "-@all +@read -keys +set");
        assert_eq!(u.describe_keys(), "~cache:* %R~ro:*");
        u.apply_rules(&rules("<secret nopass")).unwrap();
        assert!(u.accepts(b"anything"));
        u.apply_rules(&rules("+@all -@dangerous")).unwrap();
        assert_eq!(u.describe_commands(), "+@all -@dangerous");
    }

    #[test]
    fn a_bad_rule_changes_nothing_and_names_itself() {
        let mut u = User::new();
        let e = u.apply_rules(&rules("on +nosuchcommand")).unwrap_err();
        assert_eq!(
            e,
            "ERR Error in ACL SETUSER modifier '+nosuchcommand': Unknown command or category name in ACL"
        );
        assert!(!u.enabled);
        let e = u.apply_rules(&rules("<nope")).unwrap_err();
        assert!(e.ends_with("The password you are trying to remove from the user does not exist"));
        let e = u.apply_rules(&rules("allkeys ~x")).unwrap_err();
        assert!(e.contains("Adding a pattern after the * pattern"), "{e}");
        let e = u.apply_rules(&rules("#abc")).unwrap_err();
        assert!(e.contains("exactly 64 characters"), "{e}");
        assert_eq!(
            u.apply_rules(&rules("bogus")).unwrap_err(),
            "ERR Error in ACL SETUSER modifier 'bogus': Syntax error"
        );
    }

    #[test]
    fn clear_passwords_never_leave_the_node() {
        let out = hash_clear_passwords(&rules("on >pw <old ~*"));
        assert_eq!(out[1], Bytes::from(format!("#{}", hash_password(b"pw"))));
        assert_eq!(out[2], Bytes::from(format!("!{}", hash_password(b"old"))));
        assert_eq!(out[3], Bytes::from_static(b"~*"));
    }
}
