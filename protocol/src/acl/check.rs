//! Whether a user may run a request: the command (its categories and name), every key it
//! names (found through the command table's key specs, with the access each spec declares)
//! and every channel it publishes or subscribes to.

use bytes::Bytes;

use super::{CommandRule, User};
use crate::command::parse::is;
use crate::command::table::{self, CommandSpec, FindKeys, KeySpec};
use crate::glob::glob_match;

/// Why a request was refused; the reply is Redis 7.0's NOPERM text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denied {
    /// The command's full name (`get`, `config|set`).
    Command(String),
    Key,
    Channel,
}

impl Denied {
    pub fn reply_text(&self) -> String {
        match self {
            Denied::Command(name) => {
                format!("NOPERM this user has no permissions to run the '{name}' command")
            }
            Denied::Key => {
                "NOPERM this user has no permissions to access one of the keys used as arguments"
                    .into()
            }
            Denied::Channel => "NOPERM this user has no permissions to access one of the channels used as arguments".into(),
        }
    }
}

/// Checks `args` (a whole request) against `user`. Unknown commands and wrong arities pass:
/// the parser answers them.
pub fn check(user: &User, args: &[Bytes]) -> Result<(), Denied> {
    let Some(spec) = spec_of(args) else {
        return Ok(());
    };
    if spec.flags.contains(&"no_auth") {
        return Ok(());
    }
    if !may_run(user, spec) {
        return Err(Denied::Command(spec.name.to_string()));
    }
    if !user.all_keys() {
        // SORT's BY and GET name keys through patterns no key rule can check: as in Redis,
        // they need access to every key (Redis words this refusal as its own error).
        if spec.name == "sort" || spec.name == "sort_ro" {
            let patterned = args
                .windows(2)
                .skip(2)
                .any(|w| (is(&w[0], "by") && w[1].contains(&b'*')) || is(&w[0], "get"));
            if patterned {
                return Err(Denied::Key);
            }
        }
        for ks in spec.key_specs {
            let (read, write) = access(ks);
            for key in keys(spec, ks, args) {
                let allowed = user.keys.iter().any(|k| {
                    (k.read || !read) && (k.write || !write) && glob_match(&k.pattern, key, false)
                });
                if !allowed {
                    return Err(Denied::Key);
                }
            }
        }
    }
    for (channel, is_pattern) in channels(spec.name, args) {
        if !may_use_channel(user, channel, is_pattern) {
            return Err(Denied::Channel);
        }
    }
    Ok(())
}

/// The table entry of a request: the subcommand's for a container. Besides ACL checks, its
/// flags decide which writes maxmemory refuses (`denyoom`).
pub fn spec_of(args: &[Bytes]) -> Option<&'static CommandSpec> {
    let spec = table::lookup_command(args.first()?)?;
    if spec.subcommands.is_empty() {
        return Some(spec);
    }
    spec.subcommand(args.get(1)?)
}

fn may_run(user: &User, spec: &CommandSpec) -> bool {
    let container = spec.name.split_once('|').map(|(c, _)| c);
    user.commands
        .iter()
        .fold(false, |allowed, rule| match rule {
            CommandRule::All(a) => *a,
            CommandRule::Category(c, a) if spec.acl_categories.iter().any(|s| s[1..] == **c) => *a,
            CommandRule::Command(name, a)
                if name == spec.name || Some(name.as_str()) == container =>
            {
                *a
            }
            _ => allowed,
        })
}

/// The access a key spec needs: (read, write). A spec that declares neither needs both.
fn access(ks: &KeySpec) -> (bool, bool) {
    let has = |f: &str| ks.flags.contains(&f);
    let read = has("access");
    let write = has("insert") || has("update") || has("delete");
    if read || write {
        (read, write)
    } else {
        (true, true)
    }
}

/// SORT's STORE destination, found as Redis's `sortGetKeys` does: LIMIT skips two
/// arguments, BY and GET one; the last STORE wins.
fn sort_store_key(args: &[Bytes]) -> Option<&[u8]> {
    let mut found = None;
    let mut i = 2;
    while let Some(a) = args.get(i) {
        if is(a, "limit") {
            i += 2;
        } else if is(a, "get") || is(a, "by") {
            i += 1;
        } else if is(a, "store") {
            found = args.get(i + 1).map(|k| k.as_ref());
            i += 1;
        }
        i += 1;
    }
    found
}

/// The keys a key spec finds in `args` (Redis's `getKeysUsingKeySpecs`); none where the
/// arguments do not fit. An unknown spec is the command's own: SORT's STORE.
fn keys<'a>(spec: &CommandSpec, ks: &KeySpec, args: &'a [Bytes]) -> Vec<&'a [u8]> {
    if ks.find_keys == FindKeys::Unknown {
        let store = spec.name == "sort" && ks.flags.contains(&"OW");
        return store
            .then(|| sort_store_key(args))
            .flatten()
            .into_iter()
            .collect();
    }
    let argc = args.len() as i64;
    let first = i64::from(ks.begin_index);
    let (first, last, step) = match ks.find_keys {
        FindKeys::Range {
            last_key,
            key_step,
            limit,
        } => {
            let last = if last_key >= 0 {
                first + i64::from(last_key)
            } else if limit <= 1 {
                argc + i64::from(last_key)
            } else {
                first + (argc - first) / i64::from(limit) + i64::from(last_key)
            };
            (first, last, i64::from(key_step))
        }
        FindKeys::KeyNum {
            keynum_index,
            first_key,
            key_step,
        } => {
            let numkeys = usize::try_from(first + i64::from(keynum_index))
                .ok()
                .and_then(|i| args.get(i))
                .and_then(|a| crate::num::parse_i64(a))
                .unwrap_or(0);
            let start = first + i64::from(first_key);
            let step = i64::from(key_step);
            (start, start + (numkeys - 1) * step, step)
        }
        FindKeys::Unknown => return Vec::new(),
    };
    if step < 1 || first < 1 || last >= argc {
        return Vec::new();
    }
    (first..=last)
        .step_by(step as usize)
        .filter_map(|i| args.get(usize::try_from(i).ok()?).map(|a| a.as_ref()))
        .collect()
}

/// Every key a request names, as its table's key specs find them (none for an unknown
/// command): the keys a read looks up, for access tracking and keyspace hits.
pub fn request_keys(args: &[Bytes]) -> Vec<&[u8]> {
    spec_of(args).map_or_else(Vec::new, |spec| {
        spec.key_specs
            .iter()
            .flat_map(|ks| keys(spec, ks, args))
            .collect()
    })
}

/// The channels a pub/sub request names, with whether each is a pattern.
fn channels<'a>(name: &str, args: &'a [Bytes]) -> Vec<(&'a [u8], bool)> {
    let rest = args.get(1..).unwrap_or_default();
    match name {
        "publish" => rest
            .first()
            .map(|c| (c.as_ref(), false))
            .into_iter()
            .collect(),
        "subscribe" => rest.iter().map(|c| (c.as_ref(), false)).collect(),
        "psubscribe" => rest.iter().map(|c| (c.as_ref(), true)).collect(),
        _ => Vec::new(),
    }
}

/// A channel must match one of the user's patterns; a subscription pattern must equal one
/// (Redis compares patterns literally).
fn may_use_channel(user: &User, channel: &[u8], is_pattern: bool) -> bool {
    user.channels.iter().any(|p| {
        p.as_ref() == b"*"
            || (if is_pattern {
                p.as_ref() == channel
            } else {
                glob_match(p, channel, false)
            })
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<Bytes> {
        s.split(' ').map(|a| Bytes::from(a.to_string())).collect()
    }

    fn user(rules: &str) -> User {
        let mut u = User::new();
        let r: Vec<Bytes> = args(rules);
        u.apply_rules(&r).unwrap();
        u
    }

    #[test]
    fn commands_categories_and_subcommands() {
        let u = user("on nopass allkeys allchannels +@read -hgetall +config|get");
        assert_eq!(check(&u, &args("get k")), Ok(()));
        assert_eq!(
            check(&u, &args("set k v")),
            Err(Denied::Command("set".into()))
        );
        assert_eq!(
            check(&u, &args("hgetall h")),
            Err(Denied::Command("hgetall".into()))
        );
        assert_eq!(check(&u, &args("config get maxmemory")), Ok(()));
        assert_eq!(
            check(&u, &args("config set maxmemory 1")),
            Err(Denied::Command("config|set".into()))
        );
        // AUTH and HELLO are for everyone.
        assert_eq!(check(&u, &args("auth a b")), Ok(()));
        assert_eq!(
            Denied::Command("set".into()).reply_text(),
            "NOPERM this user has no permissions to run the 'set' command"
        );
    }

    #[test]
    fn keys_by_pattern_and_access() {
        let u = user("on nopass +@all ~app:* %R~ro:*");
        assert_eq!(check(&u, &args("set app:1 v")), Ok(()));
        assert_eq!(check(&u, &args("set other v")), Err(Denied::Key));
        assert_eq!(check(&u, &args("get ro:1")), Ok(()));
        assert_eq!(check(&u, &args("set ro:1 v")), Err(Denied::Key));
        assert_eq!(check(&u, &args("mset app:1 v app:2 w")), Ok(()));
        assert_eq!(check(&u, &args("mset app:1 v other w")), Err(Denied::Key));
        assert_eq!(
            check(&u, &args("lmpop 2 app:a ro:b left")),
            Err(Denied::Key)
        );
        assert_eq!(check(&u, &args("lmpop 2 app:a app:b left")), Ok(()));
        assert_eq!(check(&u, &args("blpop app:a app:b 0")), Ok(()));
        assert_eq!(check(&u, &args("blpop app:a x 0")), Err(Denied::Key));
    }

    #[test]
    fn channels_by_pattern() {
        let u = user("on nopass +@all allkeys &news.*");
        assert_eq!(check(&u, &args("publish news.eu hi")), Ok(()));
        assert_eq!(check(&u, &args("publish sport hi")), Err(Denied::Channel));
        assert_eq!(
            check(&u, &args("subscribe news.a sport")),
            Err(Denied::Channel)
        );
        assert_eq!(check(&u, &args("psubscribe news.*")), Ok(()));
        assert_eq!(check(&u, &args("psubscribe news.e*")), Err(Denied::Channel));
    }
}
