//! The command table: what cairn knows about each command it serves, as Redis 7 describes it.
//!
//! The parser uses it for name lookup and the arity check; the node uses it for COMMAND
//! (INFO, DOCS, COUNT, LIST) and for flags such as `write` or `loading`. The data in
//! `table/data.rs` is generated from Redis 7.2's own command definitions (see
//! `protocol/tools/gen_command_table.py`), so clients that introspect the server (redis-cli
//! hints, cluster-aware key routing) see what a Redis 7.2 would tell them.

mod data;

use std::cmp::Ordering;
use std::sync::OnceLock;

use rustc_hash::FxHashMap;

use crate::Reply;

/// One command (or subcommand, such as `config|get`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandSpec {
    /// Lowercase; subcommands use Redis's full name `container|sub`.
    pub name: &'static str,
    /// Redis convention: `N` means exactly N arguments including the name, `-N` at least N.
    pub arity: i32,
    /// Redis's command flags as COMMAND INFO shows them (`write`, `readonly`, `fast`, ...).
    pub flags: &'static [&'static str],
    /// Legacy key positions: first key, last key (negative counts from the end), step.
    pub first_key: i32,
    pub last_key: i32,
    pub step: i32,
    /// ACL categories with their `@` (`@string`, `@write`, `@fast`, ...).
    pub acl_categories: &'static [&'static str],
    pub summary: &'static str,
    /// The Redis version that introduced the command.
    pub since: &'static str,
    /// The documentation group: `string`, `generic`, `connection`, `server`.
    pub group: &'static str,
    pub complexity: Option<&'static str>,
    /// `deprecated` / `syscmd`.
    pub doc_flags: &'static [&'static str],
    pub deprecated_since: Option<&'static str>,
    pub replaced_by: Option<&'static str>,
    /// (version, change) pairs.
    pub history: &'static [(&'static str, &'static str)],
    /// Hints for cluster clients (`nondeterministic_output`, `request_policy:all_shards`...).
    pub tips: &'static [&'static str],
    pub key_specs: &'static [KeySpec],
    /// The arguments, as COMMAND DOCS describes them.
    pub args: &'static [Arg],
    /// For containers (CLIENT, CONFIG, COMMAND): the subcommands cairn supports, sorted.
    pub subcommands: &'static [CommandSpec],
}

/// Where a command's keys are (Redis 7 key specs). All of cairn's commands begin their search
/// at an index; they find their keys by range, or by a count argument (SINTERCARD).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeySpec {
    pub notes: Option<&'static str>,
    /// `RO`/`RW`/`OW`/`RM` and `access`/`update`/`insert`/`delete`...
    pub flags: &'static [&'static str],
    /// Index of the first key.
    pub begin_index: i32,
    pub find_keys: FindKeys,
}

/// A key spec's `find_keys` part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FindKeys {
    Range {
        /// Last key relative to the first (negative: from the end of the arguments).
        last_key: i32,
        key_step: i32,
        limit: i32,
    },
    /// The number of keys is an argument (`numkeys`), at `keynum_index` relative to the
    /// begin index; the keys start at `first_key` relative to it.
    KeyNum {
        keynum_index: i32,
        first_key: i32,
        key_step: i32,
    },
    /// Only the command knows its keys (SORT's BY/GET patterns and STORE); the begin index
    /// is unknown too.
    Unknown,
}

/// One argument in a command's documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arg {
    pub name: &'static str,
    /// `string`, `integer`, `double`, `key`, `pattern`, `unix-time`, `pure-token`, `oneof`,
    /// `block`.
    pub kind: &'static str,
    pub display: Option<&'static str>,
    pub key_spec_index: Option<i32>,
    pub token: Option<&'static str>,
    pub summary: Option<&'static str>,
    pub since: Option<&'static str>,
    pub deprecated_since: Option<&'static str>,
    /// `optional`, `multiple`, `multiple_token`.
    pub flags: &'static [&'static str],
    /// The alternatives of a `oneof`, the parts of a `block`.
    pub args: &'static [Arg],
}

/// The defaults the generated table fills in from.
const BASE: CommandSpec = CommandSpec {
    name: "",
    arity: 0,
    flags: &[],
    first_key: 0,
    last_key: 0,
    step: 0,
    acl_categories: &[],
    summary: "",
    since: "",
    group: "",
    complexity: None,
    doc_flags: &[],
    deprecated_since: None,
    replaced_by: None,
    history: &[],
    tips: &[],
    key_specs: &[],
    args: &[],
    subcommands: &[],
};

const ARG: Arg = Arg {
    name: "",
    kind: "",
    display: None,
    key_spec_index: None,
    token: None,
    summary: None,
    since: None,
    deprecated_since: None,
    flags: &[],
    args: &[],
};

impl CommandSpec {
    /// Whether the command has the Redis flag `flag` (e.g. `"write"`).
    pub fn has_flag(&self, flag: &str) -> bool {
        self.flags.contains(&flag)
    }

    /// Whether `argc` arguments (the name included) satisfy the arity.
    pub fn arity_ok(&self, argc: usize) -> bool {
        let argc = i64::try_from(argc).unwrap_or(i64::MAX);
        let arity = i64::from(self.arity);
        if arity >= 0 {
            argc == arity
        } else {
            argc >= -arity
        }
    }

    /// The subcommand `name` (case-insensitive) of this container.
    pub fn subcommand(&self, name: &[u8]) -> Option<&'static CommandSpec> {
        let sub = |spec: &CommandSpec| spec.name.split_once('|').map_or("", |(_, s)| s);
        self.subcommands
            .binary_search_by(|spec| cmp_ignore_case(sub(spec), name))
            .ok()
            .and_then(|i| self.subcommands.get(i))
    }
}

/// Every command cairn serves, sorted by name.
pub fn all() -> &'static [CommandSpec] {
    data::COMMANDS
}

/// COMMAND LIST: every command and subcommand name (`config|get`), each command followed by
/// its subcommands, that `filter` keeps.
pub fn list(filter: Option<&crate::command::ListFilter>) -> Vec<&'static str> {
    use crate::command::ListFilter;
    let keep = |spec: &CommandSpec| match filter {
        None => true,
        Some(ListFilter::Module(_)) => false,
        Some(ListFilter::AclCat(cat)) => spec.acl_categories.iter().any(|c| {
            c.strip_prefix('@')
                .is_some_and(|c| c.as_bytes().eq_ignore_ascii_case(cat))
        }),
        Some(ListFilter::Pattern(p)) => crate::glob::glob_match(p, spec.name.as_bytes(), true),
    };
    all()
        .iter()
        .flat_map(|spec| std::iter::once(spec).chain(spec.subcommands))
        .filter(|spec| keep(spec))
        .map(|spec| spec.name)
        .collect()
}

/// The command named `name`, case-insensitively, without allocating. Also accepts a
/// subcommand's full name (`config|get`), as COMMAND INFO and COMMAND DOCS do.
pub fn lookup(name: &[u8]) -> Option<&'static CommandSpec> {
    match name.iter().position(|&b| b == b'|') {
        Some(bar) => lookup_command(name.get(..bar)?)?.subcommand(name.get(bar + 1..)?),
        None => lookup_command(name),
    }
}

/// The top-level command named `name`, case-insensitively: what a request's first argument
/// names (`config|get` is not a command name there).
///
/// Every request looks its command up several times (parse, ACL, metrics, SLOWLOG), so this
/// is a hash lookup of the name lowercased on the stack, not a search of the sorted table.
pub fn lookup_command(name: &[u8]) -> Option<&'static CommandSpec> {
    static BY_NAME: OnceLock<FxHashMap<&'static [u8], &'static CommandSpec>> = OnceLock::new();
    let mut lower = [0u8; NAME_MAX];
    let lower = lower.get_mut(..name.len())?;
    for (l, b) in lower.iter_mut().zip(name) {
        *l = b.to_ascii_lowercase();
    }
    let by_name = BY_NAME.get_or_init(|| all().iter().map(|s| (s.name.as_bytes(), s)).collect());
    by_name.get(&lower[..]).copied()
}

/// Longer than any command's name: a longer request name is unknown without a lookup.
const NAME_MAX: usize = 32;

/// Orders a (lowercase) table name against a client-supplied name, folding ASCII case.
fn cmp_ignore_case(table_name: &str, name: &[u8]) -> Ordering {
    table_name
        .bytes()
        .cmp(name.iter().map(|b| b.to_ascii_lowercase()))
}

/// The COMMAND INFO entry of a command, in Redis 7's shape: `[name, arity, flags, first key,
/// last key, step, ACL categories, tips, key specs, subcommands]`.
pub fn command_info_reply(spec: &CommandSpec) -> Reply {
    Reply::Array(vec![
        Reply::text(spec.name),
        Reply::Integer(spec.arity.into()),
        simple_set(spec.flags),
        Reply::Integer(spec.first_key.into()),
        Reply::Integer(spec.last_key.into()),
        Reply::Integer(spec.step.into()),
        simple_set(spec.acl_categories),
        Reply::Set(spec.tips.iter().map(|t| Reply::text(*t)).collect()),
        Reply::Set(spec.key_specs.iter().map(key_spec_reply).collect()),
        if spec.subcommands.is_empty() {
            Reply::Set(Vec::new())
        } else {
            Reply::Array(spec.subcommands.iter().map(command_info_reply).collect())
        },
    ])
}

/// The COMMAND DOCS entry of a command: its name and the map of its documentation (summary,
/// since, group, complexity, doc flags, deprecation, history, arguments, subcommands), in the
/// order Redis 7 sends them.
pub fn command_docs_reply(spec: &CommandSpec) -> (Reply, Reply) {
    let mut doc = vec![
        field("summary", Reply::text(spec.summary)),
        field("since", Reply::text(spec.since)),
        field("group", Reply::text(spec.group)),
    ];
    if let Some(complexity) = spec.complexity {
        doc.push(field("complexity", Reply::text(complexity)));
    }
    if !spec.doc_flags.is_empty() {
        doc.push(field("doc_flags", simple_set(spec.doc_flags)));
    }
    if let Some(v) = spec.deprecated_since {
        doc.push(field("deprecated_since", Reply::text(v)));
    }
    if let Some(v) = spec.replaced_by {
        doc.push(field("replaced_by", Reply::text(v)));
    }
    if !spec.history.is_empty() {
        let history = spec
            .history
            .iter()
            .map(|(version, change)| {
                Reply::Array(vec![Reply::text(*version), Reply::text(*change)])
            })
            .collect();
        doc.push(field("history", Reply::Set(history)));
    }
    if !spec.args.is_empty() {
        doc.push(field("arguments", args_reply(spec.args)));
    }
    if !spec.subcommands.is_empty() {
        let subs = spec
            .subcommands
            .iter()
            .map(command_docs_reply)
            .collect::<Vec<_>>();
        doc.push(field("subcommands", Reply::Map(subs)));
    }
    (Reply::text(spec.name), Reply::Map(doc))
}

fn field(name: &str, value: Reply) -> (Reply, Reply) {
    (Reply::text(name), value)
}

fn simple_set(items: &[&str]) -> Reply {
    Reply::Set(items.iter().map(|s| Reply::Simple((*s).into())).collect())
}

fn key_spec_reply(spec: &KeySpec) -> Reply {
    let mut map = Vec::with_capacity(4);
    if let Some(notes) = spec.notes {
        map.push(field("notes", Reply::text(notes)));
    }
    map.push(field("flags", simple_set(spec.flags)));
    let begin = if spec.find_keys == FindKeys::Unknown {
        vec![
            field("type", Reply::text("unknown")),
            field("spec", Reply::Map(Vec::new())),
        ]
    } else {
        vec![
            field("type", Reply::text("index")),
            field(
                "spec",
                Reply::Map(vec![field(
                    "index",
                    Reply::Integer(spec.begin_index.into()),
                )]),
            ),
        ]
    };
    map.push(field("begin_search", Reply::Map(begin)));
    let (kind, find) = match spec.find_keys {
        FindKeys::Range {
            last_key,
            key_step,
            limit,
        } => (
            "range",
            vec![
                field("lastkey", Reply::Integer(last_key.into())),
                field("keystep", Reply::Integer(key_step.into())),
                field("limit", Reply::Integer(limit.into())),
            ],
        ),
        FindKeys::KeyNum {
            keynum_index,
            first_key,
            key_step,
        } => (
            "keynum",
            vec![
                field("keynumidx", Reply::Integer(keynum_index.into())),
                field("firstkey", Reply::Integer(first_key.into())),
                field("keystep", Reply::Integer(key_step.into())),
            ],
        ),
        FindKeys::Unknown => ("unknown", Vec::new()),
    };
    map.push(field(
        "find_keys",
        Reply::Map(vec![
            field("type", Reply::text(kind)),
            field("spec", Reply::Map(find)),
        ]),
    ));
    Reply::Map(map)
}

fn args_reply(args: &[Arg]) -> Reply {
    Reply::Array(args.iter().map(arg_reply).collect())
}

fn arg_reply(arg: &Arg) -> Reply {
    let nested = matches!(arg.kind, "oneof" | "block");
    let mut map = vec![
        field("name", Reply::text(arg.name)),
        field("type", Reply::text(arg.kind)),
    ];
    if !nested {
        map.push(field(
            "display_text",
            Reply::text(arg.display.unwrap_or(arg.name)),
        ));
    }
    if let Some(index) = arg.key_spec_index {
        map.push(field("key_spec_index", Reply::Integer(index.into())));
    }
    for (name, value) in [
        ("token", arg.token),
        ("summary", arg.summary),
        ("since", arg.since),
        ("deprecated_since", arg.deprecated_since),
    ] {
        if let Some(value) = value {
            map.push(field(name, Reply::text(value)));
        }
    }
    if !arg.flags.is_empty() {
        map.push(field("flags", simple_set(arg.flags)));
    }
    if nested {
        map.push(field("arguments", args_reply(arg.args)));
    }
    Reply::Map(map)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Protocol;
    use bytes::Bytes;

    #[test]
    fn table_is_sorted_and_lowercase() {
        for list in std::iter::once(all()).chain(all().iter().map(|s| s.subcommands)) {
            for pair in list.windows(2) {
                assert!(
                    pair[0].name < pair[1].name,
                    "{} >= {}",
                    pair[0].name,
                    pair[1].name
                );
            }
            for spec in list {
                assert_eq!(spec.name, spec.name.to_ascii_lowercase());
            }
        }
    }

    #[test]
    fn list_filters_as_redis_does() {
        use crate::command::ListFilter;
        let all = list(None);
        assert!(all.contains(&"get") && all.contains(&"config|get") && all.contains(&"cluster"));
        let pattern = |p: &str| list(Some(&ListFilter::Pattern(Bytes::from(p.to_string()))));
        assert_eq!(pattern("CONFIG|G*"), ["config|get"]);
        assert_eq!(
            pattern("config*"),
            [
                "config",
                "config|get",
                "config|resetstat",
                "config|rewrite",
                "config|set"
            ]
        );
        let cat = |c: &str| list(Some(&ListFilter::AclCat(Bytes::from(c.to_string()))));
        let fast = cat("FAST");
        assert!(fast.contains(&"get") && !fast.contains(&"keys"), "{fast:?}");
        assert!(cat("@fast").is_empty(), "named without its @, as Redis");
        assert!(cat("nosuch").is_empty());
        assert!(list(Some(&ListFilter::Module(Bytes::from("m")))).is_empty());
    }

    #[test]
    fn lookup_is_case_insensitive() {
        assert_eq!(lookup(b"get").map(|s| s.name), Some("get"));
        assert_eq!(lookup(b"GeT").map(|s| s.name), Some("get"));
        assert_eq!(lookup(b"PEXPIREAT").map(|s| s.name), Some("pexpireat"));
        assert_eq!(lookup(b"CONFIG|get").map(|s| s.name), Some("config|get"));
        assert_eq!(lookup(b"config|nope"), None);
        assert_eq!(lookup(b"get|x"), None);
        assert_eq!(lookup_command(b"config|get"), None);
        assert_eq!(lookup(b"nope"), None);
        assert_eq!(lookup(b""), None);
        assert_eq!(lookup(b"ge"), None);
        assert_eq!(lookup(b"gett"), None);
        let client = lookup(b"client").unwrap_or(&BASE);
        assert_eq!(
            client.subcommand(b"SETNAME").map(|s| s.name),
            Some("client|setname")
        );
        assert_eq!(client.subcommand(b"nope"), None);
        assert_eq!(lookup_command(&[b'g'; 100]), None);
        for spec in all() {
            assert!(spec.name.len() <= NAME_MAX, "{}", spec.name);
            let upper = spec.name.to_ascii_uppercase();
            assert_eq!(lookup_command(upper.as_bytes()), Some(spec));
        }
    }

    #[test]
    fn every_command_has_its_redis_facts() {
        let expect: &[(&str, i32, i32, i32, i32)] = &[
            ("get", 2, 1, 1, 1),
            ("set", -3, 1, 1, 1),
            ("mget", -2, 1, -1, 1),
            ("mset", -3, 1, -1, 2),
            ("msetnx", -3, 1, -1, 2),
            ("del", -2, 1, -1, 1),
            ("rename", 3, 1, 2, 1),
            ("getrange", 4, 1, 1, 1),
            ("setrange", 4, 1, 1, 1),
            ("getex", -2, 1, 1, 1),
            ("expire", -3, 1, 1, 1),
            ("scan", -2, 0, 0, 0),
            ("keys", 2, 0, 0, 0),
            ("ping", -1, 0, 0, 0),
            ("hello", -1, 0, 0, 0),
            ("select", 2, 0, 0, 0),
            ("config", -2, 0, 0, 0),
            ("config|get", -3, 0, 0, 0),
            ("config|set", -4, 0, 0, 0),
            ("client|setname", 3, 0, 0, 0),
            ("client|setinfo", 4, 0, 0, 0),
            ("command", -1, 0, 0, 0),
            ("command|count", 2, 0, 0, 0),
            ("auth", -2, 0, 0, 0),
            ("reset", 1, 0, 0, 0),
            ("hset", -4, 1, 1, 1),
            ("hmget", -3, 1, 1, 1),
            ("hrandfield", -2, 1, 1, 1),
            ("sadd", -3, 1, 1, 1),
            ("smove", 4, 1, 2, 1),
            ("sinter", -2, 1, -1, 1),
            ("sinterstore", -3, 1, -1, 1),
            ("sintercard", -3, 0, 0, 0),
            ("spop", -2, 1, 1, 1),
            ("lpush", -3, 1, 1, 1),
            ("lpop", -2, 1, 1, 1),
            ("lpos", -3, 1, 1, 1),
            ("linsert", 5, 1, 1, 1),
            ("lmove", 5, 1, 2, 1),
            ("rpoplpush", 3, 1, 2, 1),
            ("setbit", 4, 1, 1, 1),
            ("getbit", 3, 1, 1, 1),
            ("bitcount", -2, 1, 1, 1),
            ("bitpos", -3, 1, 1, 1),
            ("bitop", -4, 2, -1, 1),
            ("lcs", -3, 1, 2, 1),
            ("dump", 2, 1, 1, 1),
            ("restore", -4, 1, 1, 1),
            ("sort", -2, 1, 1, 1),
            ("sort_ro", -2, 1, 1, 1),
        ];
        for &(name, arity, first, last, step) in expect {
            let spec = lookup(name.as_bytes()).unwrap_or(&BASE);
            assert_eq!(spec.name, name);
            assert_eq!(
                (spec.arity, spec.first_key, spec.last_key, spec.step),
                (arity, first, last, step),
                "{name}"
            );
        }
        let get = lookup(b"get").unwrap_or(&BASE);
        assert_eq!(get.flags, ["readonly", "fast"]);
        assert_eq!(get.acl_categories, ["@read", "@string", "@fast"]);
        assert_eq!(get.group, "string");
        assert!(get.has_flag("readonly"));
        assert!(lookup(b"set").unwrap_or(&BASE).has_flag("write"));
        assert!(lookup(b"del").unwrap_or(&BASE).group == "generic");
        assert_eq!(all().len(), 223);
    }

    #[test]
    fn keynum_key_specs_are_described_like_redis() {
        let sintercard = lookup(b"sintercard").unwrap_or(&BASE);
        assert!(sintercard.has_flag("movablekeys"));
        let Some(spec) = sintercard.key_specs.first() else {
            panic!("no key spec");
        };
        let Reply::Map(fields) = key_spec_reply(spec) else {
            panic!("not a map");
        };
        assert_eq!(
            fields.last().map(|(_, v)| v.clone()),
            Some(Reply::Map(vec![
                field("type", Reply::text("keynum")),
                field(
                    "spec",
                    Reply::Map(vec![
                        field("keynumidx", Reply::Integer(0)),
                        field("firstkey", Reply::Integer(1)),
                        field("keystep", Reply::Integer(1)),
                    ])
                ),
            ]))
        );
    }

    #[test]
    fn arity_check() {
        let get = lookup(b"get").unwrap_or(&BASE);
        assert!(get.arity_ok(2));
        assert!(!get.arity_ok(1));
        assert!(!get.arity_ok(3));
        let set = lookup(b"set").unwrap_or(&BASE);
        assert!(!set.arity_ok(2));
        assert!(set.arity_ok(3));
        assert!(set.arity_ok(9));
    }

    #[test]
    fn command_info_shape() {
        let get = lookup(b"get").unwrap_or(&BASE);
        let expected = "*10\r\n$3\r\nget\r\n:2\r\n*2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n\
*3\r\n+@read\r\n+@string\r\n+@fast\r\n*0\r\n\
*1\r\n*6\r\n$5\r\nflags\r\n*2\r\n+RO\r\n+access\r\n\
$12\r\nbegin_search\r\n*4\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n*2\r\n$5\r\nindex\r\n:1\r\n\
$9\r\nfind_keys\r\n*4\r\n$4\r\ntype\r\n$5\r\nrange\r\n$4\r\nspec\r\n*6\r\n\
$7\r\nlastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n:0\r\n*0\r\n";
        assert_eq!(
            String::from_utf8_lossy(&command_info_reply(get).to_bytes(Protocol::Resp2)),
            expected
        );
        let config = lookup(b"config").unwrap_or(&BASE);
        let Reply::Array(items) = command_info_reply(config) else {
            panic!("not an array");
        };
        assert_eq!(items.len(), 10);
        let Reply::Array(subs) = &items[9] else {
            panic!("subcommands not an array");
        };
        assert_eq!(subs.len(), 4);
        assert_eq!(items[6], Reply::Set(vec![Reply::Simple("@slow".into())]));
    }

    #[test]
    fn command_docs_shape() {
        let (name, doc) = command_docs_reply(lookup(b"getset").unwrap_or(&BASE));
        assert_eq!(name, Reply::text("getset"));
        let Reply::Map(fields) = doc else {
            panic!("not a map");
        };
        let keys: Vec<Reply> = fields.iter().map(|(k, _)| k.clone()).collect();
        let want: Vec<Reply> = [
            "summary",
            "since",
            "group",
            "complexity",
            "doc_flags",
            "deprecated_since",
            "replaced_by",
            "arguments",
        ]
        .iter()
        .map(|s| Reply::text(*s))
        .collect();
        assert_eq!(keys, want);
        assert_eq!(fields[1].1, Reply::text("1.0.0"));
        assert_eq!(fields[2].1, Reply::text("string"));
        let args = &fields[7].1;
        assert_eq!(
            *args,
            Reply::Array(vec![
                Reply::Map(vec![
                    field("name", Reply::text("key")),
                    field("type", Reply::text("key")),
                    field("display_text", Reply::text("key")),
                    field("key_spec_index", Reply::Integer(0)),
                ]),
                Reply::Map(vec![
                    field("name", Reply::text("value")),
                    field("type", Reply::text("string")),
                    field("display_text", Reply::text("value")),
                ]),
            ])
        );
        let (_, set_doc) = command_docs_reply(lookup(b"set").unwrap_or(&BASE));
        let Reply::Map(fields) = set_doc else {
            panic!("not a map");
        };
        assert!(fields.iter().any(|(k, _)| *k == Reply::text("history")));
        let (_, config_doc) = command_docs_reply(lookup(b"config").unwrap_or(&BASE));
        let Reply::Map(fields) = config_doc else {
            panic!("not a map");
        };
        let subs = fields
            .iter()
            .find(|(k, _)| *k == Reply::text("subcommands"))
            .map(|(_, v)| v.clone());
        let Some(Reply::Map(subs)) = subs else {
            panic!("no subcommands");
        };
        assert_eq!(subs[0].0, Reply::text("config|get"));
    }
}
