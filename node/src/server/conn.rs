//! Connection and server commands answered by the node itself: PING, HELLO, SELECT, CLIENT,
//! CONFIG, COMMAND, INFO, ROLE, AUTH, READONLY.

use bytes::Bytes;
use cairn_protocol::command::table;
use cairn_protocol::command::{
    ClientCommand, CommandCommand, ConfigCommand, ConnCommand, Hello, LatencyCommand,
    SlowLogCommand,
};
use cairn_protocol::errors::RedisError;
use cairn_protocol::{Protocol, Reply};
use cairn_raft::keyspace::DATABASES;

use crate::observe::info;
use crate::server::session::state::Session;

pub fn handle(s: &mut Session, cmd: ConnCommand) -> Reply {
    match cmd {
        ConnCommand::Ping(None) => Reply::Simple("PONG".into()),
        ConnCommand::Ping(Some(msg)) => Reply::Bulk(msg),
        ConnCommand::Echo(msg) => Reply::Bulk(msg),
        ConnCommand::Hello(h) => hello(s, h),
        ConnCommand::Select(db) => {
            if db >= u32::from(DATABASES) {
                return Reply::from(RedisError::DbIndexOutOfRange);
            }
            s.select(db as u8);
            Reply::ok()
        }
        ConnCommand::Quit => {
            s.closing = true;
            Reply::ok()
        }
        ConnCommand::Reset => {
            s.reset();
            Reply::Simple("RESET".into())
        }
        ConnCommand::Command(c) => command(c),
        ConnCommand::Client(c) => client(s, c),
        ConnCommand::Config(c) => config(s, c),
        ConnCommand::Info(sections) => Reply::Verbatim(info::render(&s.node, &sections)),
        ConnCommand::Role => info::role(&s.node.cluster),
        ConnCommand::Time => time_reply(),
        // SAVE waits, so the session runs it (see `Session::run`); never reached here.
        ConnCommand::Save => Reply::error("ERR SAVE is run by the session"),
        // WAIT waits, so the session runs it (and refuses it inside MULTI); never reached here.
        ConnCommand::Wait { .. } => Reply::error("ERR WAIT is run by the session"),
        ConnCommand::Shutdown { .. } => Reply::error("ERR SHUTDOWN is run by the session"),
        ConnCommand::BgSave => crate::backup::save::bgsave(&s.node.backups),
        ConnCommand::LastSave => Reply::Integer(crate::backup::save::last_save_unix(&s.node.backups) as i64),
        ConnCommand::ReadOnly => {
            s.readonly = true;
            Reply::ok()
        }
        ConnCommand::ReadWrite => {
            s.readonly = false;
            Reply::ok()
        }
        ConnCommand::Auth { username, password } => auth(s, username.as_ref(), &password),
        ConnCommand::Cluster(args) => {
            crate::cluster::redis_cluster::handle(&s.node.cluster, &s.node.replica.keyspace, &args)
        }
        // The session's transaction state answers these before they get here.
        ConnCommand::Multi
        | ConnCommand::Exec
        | ConnCommand::Discard
        | ConnCommand::Watch(_)
        | ConnCommand::Unwatch => Reply::error("ERR transaction command out of place"),
        // Handled asynchronously by the session (it talks to peers).
        ConnCommand::Cairn(_) => Reply::error("ERR CAIRN is not allowed here"),
        ConnCommand::PubSub(_) => Reply::error("ERR pub/sub commands are not allowed here"),
        ConnCommand::ScriptKill => Reply::error("NOTBUSY No scripts in execution right now."),
        ConnCommand::Acl(_) => Reply::error("ERR ACL is not allowed here"),
        ConnCommand::Monitor => Reply::error("ERR MONITOR is not allowed here"),
        ConnCommand::Debug => Reply::error(
            "ERR DEBUG is not supported by cairn: it inspects and changes the internals of a single Redis process, which a replicated cairn node does not have",
        ),
        ConnCommand::SlowLog(c) => match c {
            SlowLogCommand::Get(count) => s.node.slowlog.get(count),
            SlowLogCommand::Len => Reply::Integer(s.node.slowlog.len() as i64),
            SlowLogCommand::Reset => {
                s.node.slowlog.reset();
                Reply::ok()
            }
        },
        ConnCommand::Latency(c) => match c {
            LatencyCommand::Latest => s.node.latency.latest(),
            LatencyCommand::History(event) => s.node.latency.history(&event),
            LatencyCommand::Reset(events) => s.node.latency.reset(&events),
            LatencyCommand::Doctor => s.node.latency.doctor(),
            LatencyCommand::Histogram(names) => s.node.metrics.latency_histogram(&names),
        },
    }
}

fn auth(s: &mut Session, username: Option<&Bytes>, password: &Bytes) -> Reply {
    match crate::server::acl::auth(&s.node.replica, &s.node.settings, username, password) {
        Ok(user) => {
            s.login(user);
            Reply::ok()
        }
        Err(e) => e,
    }
}

fn hello(s: &mut Session, h: Hello) -> Reply {
    if let Some((user, pass)) = &h.auth {
        let r = auth(s, Some(user), pass);
        if r.is_error() {
            return r;
        }
    } else if !s.authenticated
        && crate::server::acl::auth_required(&s.node.replica, &s.node.settings)
    {
        return Reply::error("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time");
    }
    match h.protover {
        Some(3) => s.protocol = Protocol::Resp3,
        Some(2) => s.protocol = Protocol::Resp2,
        _ => {}
    }
    if let Some(name) = h.setname {
        let name = String::from_utf8_lossy(&name).to_string();
        s.node.clients.update(s.id, |c| c.name = name);
    }
    let resp = if s.protocol == Protocol::Resp3 { 3 } else { 2 };
    s.node.clients.update(s.id, |c| c.resp = resp);
    let role = if s.node.cluster.is_leader() {
        "master"
    } else {
        "replica"
    };
    Reply::Map(vec![
        (Reply::text("server"), Reply::text("redis")),
        (Reply::text("version"), Reply::text(info::REDIS_VERSION)),
        (Reply::text("proto"), Reply::Integer(i64::from(resp))),
        (Reply::text("id"), Reply::Integer(s.id as i64)),
        (Reply::text("mode"), Reply::text("standalone")),
        (Reply::text("role"), Reply::text(role)),
        (Reply::text("modules"), Reply::Array(Vec::new())),
    ])
}

fn command(c: CommandCommand) -> Reply {
    match c {
        CommandCommand::All => {
            Reply::Array(table::all().iter().map(table::command_info_reply).collect())
        }
        CommandCommand::Count => Reply::Integer(table::all().len() as i64),
        CommandCommand::List(filter) => Reply::Array(
            table::list(filter.as_ref())
                .into_iter()
                .map(Reply::text)
                .collect(),
        ),
        CommandCommand::Info(names) => Reply::Array(
            names
                .iter()
                .map(|n| table::lookup(n).map_or(Reply::Nil, table::command_info_reply))
                .collect(),
        ),
        CommandCommand::Docs(names) => {
            let specs: Vec<_> = if names.is_empty() {
                table::all().iter().collect()
            } else {
                names.iter().filter_map(|n| table::lookup(n)).collect()
            };
            Reply::Map(specs.into_iter().map(table::command_docs_reply).collect())
        }
        CommandCommand::GetKeys(request) => getkeys(&request),
    }
}

/// COMMAND GETKEYS: the keys a request names, found as ACL checks find them, with Redis's
/// errors.
fn getkeys(request: &[Bytes]) -> Reply {
    let Some(spec) = cairn_protocol::acl::spec_of(request) else {
        return Reply::error("ERR Invalid command specified");
    };
    if !spec.arity_ok(request.len()) {
        return Reply::error("ERR Invalid number of arguments specified for command");
    }
    let keys = cairn_protocol::acl::request_keys(request);
    if keys.is_empty() {
        return Reply::error("ERR The command has no key arguments");
    }
    Reply::Array(
        keys.into_iter()
            .map(|k| Reply::Bulk(Bytes::copy_from_slice(k)))
            .collect(),
    )
}

fn client(s: &mut Session, c: ClientCommand) -> Reply {
    match c {
        ClientCommand::Id => Reply::Integer(s.id as i64),
        // The session applies it between commands.
        ClientCommand::Reply(_) => Reply::error("ERR CLIENT REPLY is not allowed here"),
        ClientCommand::SetName(name) => {
            let name = String::from_utf8_lossy(&name).to_string();
            s.node.clients.update(s.id, |c| c.name = name);
            Reply::ok()
        }
        ClientCommand::GetName => match s.node.clients.get(s.id) {
            Some(c) if !c.name.is_empty() => Reply::text(c.name),
            _ => Reply::Nil,
        },
        ClientCommand::SetInfo { attr, value } => {
            let value = String::from_utf8_lossy(&value).to_string();
            let lib_name = attr.eq_ignore_ascii_case("lib-name");
            s.node.clients.update(s.id, |c| {
                if lib_name {
                    c.lib_name = value;
                } else {
                    c.lib_ver = value;
                }
            });
            Reply::ok()
        }
        ClientCommand::List(filter) => {
            let mut text = String::new();
            for c in s.node.clients.list() {
                if c.matches(&filter, s.id) {
                    text.push_str(&c.line());
                    text.push('\n');
                }
            }
            Reply::Verbatim(text)
        }
        ClientCommand::Kill { filter, old_form } => {
            if let Some(user) = &filter.user {
                let name = String::from_utf8_lossy(user);
                if crate::server::acl::user(&s.node.replica, &s.node.settings, &name).is_none() {
                    let shown: String = name.chars().take(128).collect();
                    return Reply::error(format!("ERR No such user '{shown}'"));
                }
            }
            let killed = s.node.clients.kill(&filter, s.id);
            match (old_form, killed) {
                (true, 0) => Reply::error("ERR No such client"),
                (true, _) => Reply::ok(),
                (false, n) => Reply::Integer(n as i64),
            }
        }
        ClientCommand::Unblock { id, error } => {
            Reply::Integer(i64::from(s.node.clients.unblock(id, error)))
        }
        ClientCommand::Pause { timeout_ms, all } => {
            let until = std::time::Instant::now() + std::time::Duration::from_millis(timeout_ms);
            s.node.clients.pause(until, all);
            Reply::ok()
        }
        ClientCommand::Unpause => {
            s.node.clients.unpause();
            Reply::ok()
        }
        ClientCommand::NoEvict(on) => {
            s.node.clients.update(s.id, |c| c.no_evict = on);
            Reply::ok()
        }
        ClientCommand::Tracking { on: true, options } => {
            match s
                .node
                .tracking
                .enable(&|id| s.node.clients.peer(id), s.id, &options, s.track)
            {
                Ok(track) => {
                    s.track = track;
                    s.node.replica.sm.set_tracking(true);
                    Reply::ok()
                }
                Err(e) => Reply::error(e),
            }
        }
        ClientCommand::Tracking { on: false, .. } => {
            if s.track.on {
                s.node.stop_tracking(s.id);
            }
            s.track = Default::default();
            Reply::ok()
        }
        ClientCommand::Caching(yes) => {
            if !s.track.on {
                Reply::error("ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled")
            } else if yes && !s.track.optin {
                Reply::error(
                    "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.",
                )
            } else if !yes && !s.track.optout {
                Reply::error(
                    "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.",
                )
            } else {
                s.track.caching = true;
                Reply::ok()
            }
        }
        ClientCommand::GetRedir => Reply::Integer(s.node.tracking.getredir(s.id)),
        ClientCommand::TrackingInfo => s.node.tracking.info(s.id, s.track),
        ClientCommand::NoTouch(on) => {
            s.node.clients.update(s.id, |c| c.no_touch = on);
            s.no_touch = on;
            Reply::ok()
        }
        ClientCommand::Info => match s.node.clients.get(s.id) {
            Some(c) => Reply::Verbatim(format!("{}\n", c.line())),
            None => Reply::Nil,
        },
    }
}

fn config(s: &mut Session, c: ConfigCommand) -> Reply {
    match c {
        ConfigCommand::Get(patterns) => {
            let pats: Vec<&[u8]> = patterns.iter().map(|p| p.as_ref()).collect();
            Reply::Map(
                s.node
                    .settings
                    .matching(&pats, &s.node.replica.sm.replicated_settings())
                    .into_iter()
                    .map(|(n, v)| (Reply::text(n), Reply::text(v)))
                    .collect(),
            )
        }
        ConfigCommand::Set(pairs) => {
            let pairs: Vec<(String, String)> = pairs
                .iter()
                .map(|(n, v)| {
                    (
                        String::from_utf8_lossy(n).to_string(),
                        String::from_utf8_lossy(v).to_string(),
                    )
                })
                .collect();
            match s.node.settings.set(&pairs) {
                Ok(()) => {
                    s.node.slowlog.configure(&s.node.settings);
                    s.node.latency.configure(&s.node.settings);
                    Reply::ok()
                }
                Err(e) => Reply::error(e),
            }
        }
        ConfigCommand::ResetStat => {
            s.node.stats.reset();
            Reply::ok()
        }
        ConfigCommand::Rewrite => Reply::error("ERR The server is running without a config file"),
    }
}

/// TIME: seconds and microseconds of this node's wall clock, as two bulk strings.
fn time_reply() -> Reply {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Reply::Array(vec![
        Reply::Bulk(now.as_secs().to_string().into()),
        Reply::Bulk(now.subsec_micros().to_string().into()),
    ])
}
