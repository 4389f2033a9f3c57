//! Users on a node: AUTH, the per-command permission check, and the ACL commands.
//!
//! The users are replicated state (`OpKind::Acl`), so every node enforces the same ones. Until
//! the first change to `default`, the default user is Redis's (`on nopass ~* &* +@all`) with
//! the node's `--requirepass`, if any, as its password. A change to `default` made while that
//! holds carries the password's hash in front of its rules, so the replicated user keeps it.
//! CONFIG SET requirepass is such a change too: it reaches every node.

use cairn_protocol::errors::RedisError;

use bytes::Bytes;
use cairn_protocol::acl::{self, hash_password, User, Users, CATEGORIES, DEFAULT_USER};
use cairn_protocol::command::table;
use cairn_protocol::command::AclCommand;
use cairn_protocol::Reply;
use cairn_raft::{AclOp, OpKind};

use crate::cluster::handle::Cluster;
use crate::cluster::replica::Replica;
use crate::cluster::router::{self, Outcome};
use crate::settings::Settings;

/// The result of checking a request against the connection's user.
pub enum Verdict {
    Allowed,
    Denied(Reply),
    /// The user was deleted: the connection must close, as Redis closes its clients.
    Gone,
}

fn requirepass(settings: &Settings) -> String {
    settings.get("requirepass").unwrap_or_default()
}

/// Redis's default user as this node starts it: with `requirepass` as its password.
fn builtin_default(settings: &Settings) -> User {
    let mut user = User::default_user();
    let pass = requirepass(settings);
    if !pass.is_empty() {
        user.nopass = false;
        user.passwords = vec![hash_password(pass.as_bytes())];
    }
    user
}

/// The user named `name`, if it exists.
pub fn user(replica: &Replica, settings: &Settings, name: &str) -> Option<User> {
    match replica.sm.acl_users().get(name) {
        Some(u) => Some(u.clone()),
        None if name == DEFAULT_USER => Some(builtin_default(settings)),
        None => None,
    }
}

/// Every user, by name.
fn users(replica: &Replica, settings: &Settings) -> Users {
    let mut all = (*replica.sm.acl_users()).clone();
    all.entry(DEFAULT_USER.to_string())
        .or_insert_with(|| builtin_default(settings));
    all
}

/// Whether a new connection must authenticate: the default user is off or has a password.
pub fn auth_required(replica: &Replica, settings: &Settings) -> bool {
    auth_required_by(&replica.sm.acl_users(), settings)
}

/// [`auth_required`] by the users `table` (a session reads the table once per batch).
pub fn auth_required_by(table: &Users, settings: &Settings) -> bool {
    match table.get(DEFAULT_USER) {
        Some(d) => !(d.enabled && d.nopass),
        None => settings.is_non_empty("requirepass"),
    }
}

/// Checks a request against the user `name` of the users `table`.
pub fn check(table: &Users, name: &str, args: &[Bytes]) -> Verdict {
    let user = match table.get(name) {
        Some(u) => u,
        // Redis's default user may run anything.
        None if name == DEFAULT_USER => return Verdict::Allowed,
        None => return Verdict::Gone,
    };
    match acl::check(user, args) {
        Ok(()) => Verdict::Allowed,
        Err(denied) => Verdict::Denied(Reply::error(denied.reply_text())),
    }
}

/// AUTH [username] password: the user name the connection now runs as, or the error reply.
pub fn auth(
    replica: &Replica,
    settings: &Settings,
    username: Option<&Bytes>,
    password: &[u8],
) -> Result<String, Reply> {
    let name = username.map_or_else(
        || DEFAULT_USER.to_string(),
        |u| String::from_utf8_lossy(u).into_owned(),
    );
    let found = user(replica, settings, &name);
    if username.is_none() && found.as_ref().is_some_and(|u| u.nopass) {
        return Err(Reply::error(
            "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
        ));
    }
    match found {
        Some(u) if u.accepts(password) => Ok(name),
        _ => Err(Reply::error(
            "WRONGPASS invalid username-password pair or user is disabled.",
        )),
    }
}

/// The rules of an ACL SETUSER as they go into the log: clear-text passwords hashed, and the
/// node's requirepass kept when `default` changes for the first time.
fn logged_rules(replica: &Replica, settings: &Settings, name: &str, rules: &[Bytes]) -> Vec<Bytes> {
    let mut logged = Vec::new();
    let pass = requirepass(settings);
    if name == DEFAULT_USER && !pass.is_empty() && !replica.sm.acl_users().contains_key(name) {
        logged.push(Bytes::from_static(b"resetpass"));
        logged.push(Bytes::from(format!("#{}", hash_password(pass.as_bytes()))));
    }
    logged.extend(acl::hash_clear_passwords(rules));
    logged
}

/// Replicates a change to the users; its reply (`None`: outcome unknown, close).
async fn change(cluster: &Cluster, op: AclOp) -> Option<Reply> {
    match router::write_ops(cluster, vec![OpKind::Acl(op)])
        .await
        .pop()
    {
        Some(Outcome::Reply(r)) => Some(r),
        _ => None,
    }
}

/// CONFIG SET requirepass: the default user's password on every node (empty: nopass).
pub async fn set_requirepass(cluster: &Cluster, pass: &str) -> Option<Reply> {
    let rules = if pass.is_empty() {
        vec![Bytes::from_static(b"nopass")]
    } else {
        vec![
            Bytes::from_static(b"resetpass"),
            Bytes::from(format!("#{}", hash_password(pass.as_bytes()))),
        ]
    };
    let op = AclOp::SetUser {
        name: DEFAULT_USER.into(),
        rules,
    };
    change(cluster, op).await
}

/// Runs an ACL subcommand for a connection running as `whoami`; `None` when the connection
/// must close (a change's outcome is unknown).
pub async fn command(
    cluster: &Cluster,
    replica: &Replica,
    settings: &Settings,
    whoami: &str,
    cmd: AclCommand,
) -> Option<Reply> {
    let text = |b: &Bytes| String::from_utf8_lossy(b).into_owned();
    Some(match cmd {
        AclCommand::SetUser { name, rules } => {
            let name = text(&name);
            let rules = logged_rules(replica, settings, &name, &rules);
            return change(cluster, AclOp::SetUser { name, rules }).await;
        }
        AclCommand::DelUser(names) => {
            let names: Vec<String> = names.iter().map(text).collect();
            if names.iter().any(|n| n == DEFAULT_USER) {
                return Some(Reply::from(RedisError::DefaultUserUndeletable));
            }
            return change(cluster, AclOp::DelUser { names }).await;
        }
        AclCommand::GetUser(name) => match user(replica, settings, &text(&name)) {
            None => Reply::Nil,
            Some(u) => describe(&u),
        },
        AclCommand::List => Reply::Array(
            users(replica, settings)
                .iter()
                .map(|(name, u)| Reply::bulk(format!("user {name} {}", u.describe())))
                .collect(),
        ),
        AclCommand::Users => Reply::Array(users(replica, settings).into_keys().map(Reply::bulk).collect()),
        AclCommand::WhoAmI => Reply::bulk(whoami.to_string()),
        AclCommand::Cat(None) => Reply::Array(CATEGORIES.iter().map(|c| Reply::bulk(*c)).collect()),
        AclCommand::Cat(Some(category)) => category_commands(&text(&category)),
        AclCommand::GenPass(bits) => {
            let chars = usize::try_from(bits.div_ceil(4)).unwrap_or(1024);
            let bytes: Vec<u8> = (0..chars.div_ceil(2)).map(|_| rand::random()).collect();
            let mut hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            hex.truncate(chars);
            Reply::bulk(hex)
        }
        AclCommand::File => Reply::error("ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration."),
    })
}

/// ACL GETUSER's map: flags, passwords, commands, keys, channels, selectors.
fn describe(u: &User) -> Reply {
    let mut flags = vec![Reply::bulk(if u.enabled { "on" } else { "off" })];
    if u.nopass {
        flags.push(Reply::bulk("nopass"));
    }
    let field = |name: &str, value: Reply| (Reply::bulk(name.to_string()), value);
    Reply::Map(vec![
        field("flags", Reply::Set(flags)),
        field(
            "passwords",
            Reply::Array(u.passwords.iter().map(|h| Reply::bulk(h.clone())).collect()),
        ),
        field("commands", Reply::bulk(u.describe_commands())),
        field("keys", Reply::bulk(u.describe_keys())),
        field("channels", Reply::bulk(u.describe_channels())),
        field("selectors", Reply::Array(Vec::new())),
    ])
}

/// ACL CAT <category>: the commands (and subcommands) in it.
fn category_commands(category: &str) -> Reply {
    let lower = category.to_ascii_lowercase();
    if !CATEGORIES.contains(&lower.as_str()) {
        let shown: String = category.chars().take(128).collect();
        return Reply::error(format!("ERR Unknown category '{shown}'"));
    }
    let tag = format!("@{lower}");
    let mut names = Vec::new();
    for spec in table::all() {
        if spec.acl_categories.contains(&tag.as_str()) {
            names.push(Reply::bulk(spec.name));
        }
        for sub in spec.subcommands {
            if sub.acl_categories.contains(&tag.as_str()) {
                names.push(Reply::bulk(sub.name));
            }
        }
    }
    Reply::Array(names)
}
