use super::*;
use crate::command::{
    ClientCommand, ClientFilter, ClientType, CommandCommand, ConfigCommand, Hello, ListFilter,
};

#[test]
fn ping_echo_quit_reset() {
    assert_eq!(conn("ping"), ConnCommand::Ping(None));
    assert_eq!(conn("PING hi"), ConnCommand::Ping(Some(b("hi"))));
    assert_eq!(err("ping a b"), arity("ping"));
    assert_eq!(conn("echo hi"), ConnCommand::Echo(b("hi")));
    assert_eq!(err("echo"), arity("echo"));
    assert_eq!(err("echo a b"), arity("echo"));
    assert_eq!(conn("quit"), ConnCommand::Quit);
    assert_eq!(conn("quit now please"), ConnCommand::Quit);
    assert_eq!(conn("reset"), ConnCommand::Reset);
    assert_eq!(err("reset x"), arity("reset"));
    assert_eq!(conn("role"), ConnCommand::Role);
    assert_eq!(conn("time"), ConnCommand::Time);
    assert_eq!(conn("save"), ConnCommand::Save);
    assert_eq!(conn("bgsave schedule"), ConnCommand::BgSave);
    assert_eq!(conn("lastsave"), ConnCommand::LastSave);
    assert_eq!(conn("readonly"), ConnCommand::ReadOnly);
    assert_eq!(conn("readwrite"), ConnCommand::ReadWrite);
    assert_eq!(err("readwrite x"), arity("readwrite"));
}

#[test]
fn hello() {
    let hello = |protover, auth: Option<(&str, &str)>, setname: Option<&str>| {
        ConnCommand::Hello(Hello {
            protover,
            auth: auth.map(|(u, p)| (b(u), b(p))),
            setname: setname.map(b),
        })
    };
    assert_eq!(conn("hello"), hello(None, None, None));
    assert_eq!(conn("hello 3"), hello(Some(3), None, None));
    assert_eq!(conn("HELLO 2"), hello(Some(2), None, None));
    assert_eq!(
        conn("hello 3 auth u p setname me"),
        hello(Some(3), Some(("u", "p")), Some("me"))
    );
    assert_eq!(
        conn("hello 3 SETNAME me AUTH u p"),
        hello(Some(3), Some(("u", "p")), Some("me"))
    );
    assert_eq!(
        err("hello x"),
        "ERR Protocol version is not an integer or out of range"
    );
    assert_eq!(
        err("hello 03"),
        "ERR Protocol version is not an integer or out of range"
    );
    assert_eq!(err("hello 1"), "NOPROTO unsupported protocol version");
    assert_eq!(err("hello 4"), "NOPROTO unsupported protocol version");
    assert_eq!(err("hello -3"), "NOPROTO unsupported protocol version");
    assert_eq!(
        err("hello 3 auth u"),
        "ERR Syntax error in HELLO option 'auth'"
    );
    assert_eq!(
        err("hello 3 setname"),
        "ERR Syntax error in HELLO option 'setname'"
    );
    assert_eq!(err("hello 3 foo"), "ERR Syntax error in HELLO option 'foo'");
    assert_eq!(
        err("hello 3 setname a\nb"),
        "ERR Client names cannot contain spaces, newlines or special characters."
    );
}

#[test]
fn select() {
    assert_eq!(conn("select 0"), ConnCommand::Select(0));
    assert_eq!(conn("select 15"), ConnCommand::Select(15));
    assert_eq!(
        conn("select 2147483647"),
        ConnCommand::Select(i32::MAX as u32)
    );
    assert_eq!(err("select -1"), "ERR DB index is out of range");
    assert_eq!(err("select x"), NOT_INTEGER);
    assert_eq!(err("select 01"), NOT_INTEGER);
    // Redis's getIntFromObjectOrReply: a valid `long` outside `int` has its own error.
    let int_range = "ERR value is out of range, value must between -2147483648 and 2147483647";
    assert_eq!(err("select 2147483648"), int_range);
    assert_eq!(err("select -2147483649"), int_range);
    assert_eq!(err("select 9223372036854775807"), int_range);
    assert_eq!(err("select 9223372036854775808"), NOT_INTEGER);
    assert_eq!(err("select -2147483648"), "ERR DB index is out of range");
    assert_eq!(err("select 1 2"), arity("select"));
}

#[test]
fn auth() {
    assert_eq!(
        conn("auth secret"),
        ConnCommand::Auth {
            username: None,
            password: b("secret")
        }
    );
    assert_eq!(
        conn("auth bob secret"),
        ConnCommand::Auth {
            username: Some(b("bob")),
            password: b("secret")
        }
    );
    assert_eq!(err("auth a b c"), SYNTAX);
    assert_eq!(err("auth"), arity("auth"));
}

#[test]
fn info() {
    assert_eq!(conn("info"), ConnCommand::Info(vec![]));
    assert_eq!(
        conn("info Server CLIENTS"),
        ConnCommand::Info(vec!["server".into(), "clients".into()])
    );
}

#[test]
fn command() {
    assert_eq!(conn("command"), ConnCommand::Command(CommandCommand::All));
    assert_eq!(
        conn("COMMAND COUNT"),
        ConnCommand::Command(CommandCommand::Count)
    );
    assert_eq!(
        conn("command list"),
        ConnCommand::Command(CommandCommand::List(None))
    );
    assert_eq!(
        conn("command info get set"),
        ConnCommand::Command(CommandCommand::Info(vec![b("get"), b("set")]))
    );
    assert_eq!(
        conn("command info"),
        ConnCommand::Command(CommandCommand::Info(vec![]))
    );
    assert_eq!(
        conn("command docs get"),
        ConnCommand::Command(CommandCommand::Docs(vec![b("get")]))
    );
    assert_eq!(err("command count x"), arity("command|count"));
    assert_eq!(
        err("command foo"),
        "ERR unknown subcommand 'foo'. Try COMMAND HELP."
    );
    assert_eq!(
        err("Command Foo"),
        "ERR unknown subcommand 'Foo'. Try COMMAND HELP."
    );
    assert_eq!(err("command list foo"), SYNTAX);
    assert_eq!(err("command list filterby foo x"), SYNTAX);
    assert_eq!(
        conn("command list filterby PATTERN x*"),
        ConnCommand::Command(CommandCommand::List(Some(ListFilter::Pattern(b("x*")))))
    );
    assert_eq!(
        conn("command list FILTERBY aclcat fast"),
        ConnCommand::Command(CommandCommand::List(Some(ListFilter::AclCat(b("fast")))))
    );
    assert_eq!(err("command list filterby pattern"), SYNTAX);
}

#[test]
fn client() {
    let client = |c| ConnCommand::Client(c);
    assert_eq!(conn("client id"), client(ClientCommand::Id));
    assert_eq!(conn("CLIENT GETNAME"), client(ClientCommand::GetName));
    assert_eq!(conn("client info"), client(ClientCommand::Info));
    assert_eq!(
        conn("client list"),
        client(ClientCommand::List(ClientFilter::default()))
    );
    assert_eq!(
        conn("client setname me"),
        client(ClientCommand::SetName(b("me")))
    );
    assert_eq!(
        parse(&[b("client"), b("setname"), Bytes::new()]).unwrap(),
        Command::Conn(client(ClientCommand::SetName(Bytes::new())))
    );
    let bad_name = "ERR Client names cannot contain spaces, newlines or special characters.";
    for name in ["a b", "a\nb", "caf\u{e9}", "\x7f"] {
        assert_eq!(
            parse(&[b("client"), b("setname"), b(name)])
                .unwrap_err()
                .resp_error(),
            bad_name,
            "{name:?}"
        );
    }
    assert_eq!(err("client setname"), arity("client|setname"));
    assert_eq!(err("client setname a b"), arity("client|setname"));
    assert_eq!(err("client id x"), arity("client|id"));
    assert_eq!(
        conn("client setinfo LIB-NAME redis-py"),
        client(ClientCommand::SetInfo {
            attr: "lib-name".into(),
            value: b("redis-py")
        })
    );
    assert_eq!(
        conn("client setinfo lib-ver 5.0"),
        client(ClientCommand::SetInfo {
            attr: "lib-ver".into(),
            value: b("5.0")
        })
    );
    assert_eq!(
        err("client setinfo lib-foo x"),
        "ERR Unrecognized option 'lib-foo'"
    );
    assert_eq!(
        parse(&[b("client"), b("setinfo"), b("LIB-NAME"), b("a b")])
            .unwrap_err()
            .resp_error(),
        "ERR LIB-NAME cannot contain spaces, newlines or special characters."
    );
    assert_eq!(err("client setinfo lib-name"), arity("client|setinfo"));
    assert_eq!(err("client list foo"), SYNTAX);
    assert_eq!(err("client list type"), SYNTAX);
    assert_eq!(err("client list type foo"), "ERR Unknown client type 'foo'");
    assert_eq!(err("client list id x"), "ERR Invalid client ID");
    assert_eq!(
        conn("client list id 1 2"),
        client(ClientCommand::List(ClientFilter {
            ids: Some(vec![1, 2]),
            ..ClientFilter::default()
        }))
    );
    // CLIENT KILL: the old form, then filters checked in order as Redis does.
    assert_eq!(
        conn("client kill 1.2.3.4:5"),
        client(ClientCommand::Kill {
            filter: ClientFilter {
                addr: Some(b("1.2.3.4:5")),
                ..ClientFilter::default()
            },
            old_form: true
        })
    );
    assert_eq!(
        conn("client kill id 7 skipme no type pubsub"),
        client(ClientCommand::Kill {
            filter: ClientFilter {
                ids: Some(vec![7]),
                kind: Some(ClientType::PubSub),
                skip_me: false,
                ..ClientFilter::default()
            },
            old_form: false
        })
    );
    assert_eq!(err("client kill"), arity("client|kill"));
    assert_eq!(err("client kill id 10 wrong_arg"), SYNTAX);
    for id in ["str", "-1", "0"] {
        assert_eq!(
            err(&format!("client kill id {id}")),
            "ERR client-id should be greater than 0"
        );
    }
    assert_eq!(
        err("client kill type wrong_type"),
        "ERR Unknown client type 'wrong_type'"
    );
    assert_eq!(err("client kill skipme yes_or_no"), SYNTAX);
    assert_eq!(
        err("client unblock 1 maybe"),
        "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR"
    );
    assert_eq!(err("client pause -1"), "ERR timeout is negative");
    assert_eq!(
        err("client pause 10 read"),
        "ERR CLIENT PAUSE mode must be WRITE or ALL"
    );
    assert_eq!(err("client no-evict maybe"), SYNTAX);
}

#[test]
fn config() {
    assert_eq!(
        conn("config get maxmemory *port*"),
        ConnCommand::Config(ConfigCommand::Get(vec![b("maxmemory"), b("*port*")]))
    );
    assert_eq!(
        conn("CONFIG SET a 1 b 2"),
        ConnCommand::Config(ConfigCommand::Set(vec![(b("a"), b("1")), (b("b"), b("2"))]))
    );
    assert_eq!(
        conn("config resetstat"),
        ConnCommand::Config(ConfigCommand::ResetStat)
    );
    assert_eq!(
        conn("config rewrite"),
        ConnCommand::Config(ConfigCommand::Rewrite)
    );
    assert_eq!(err("config get"), arity("config|get"));
    assert_eq!(err("config set a"), arity("config|set"));
    assert_eq!(err("config set a 1 b"), SYNTAX);
    assert_eq!(err("config rewrite x"), arity("config|rewrite"));
    assert_eq!(
        err("config foo"),
        "ERR unknown subcommand 'foo'. Try CONFIG HELP."
    );
    assert_eq!(
        p("config foo"),
        Err(CommandError::UnknownSubcommand {
            command: "CONFIG".into(),
            sub: "foo".into()
        })
    );
}

#[test]
fn memory_usage() {
    let usage = ReadCommand::MemoryUsage { key: b("k") };
    assert_eq!(read("MEMORY USAGE k"), usage);
    assert_eq!(read("memory usage k samples 5"), usage);
    assert_eq!(err("memory usage k samples -1"), "ERR syntax error");
    assert_eq!(err("memory usage k bogus 1"), "ERR syntax error");
    assert_eq!(err("memory usage"), arity("memory|usage"));
}

#[test]
fn function_flush() {
    for line in [
        "function flush",
        "FUNCTION FLUSH async",
        "function flush SYNC",
    ] {
        assert_eq!(write(line), crate::command::WriteCommand::FunctionFlush);
    }
    assert_eq!(
        err("function flush later"),
        "ERR FUNCTION FLUSH only supports SYNC|ASYNC option"
    );
    assert_eq!(err("function"), arity("function"));
    assert_eq!(
        err("function bogus x"),
        "ERR unknown subcommand 'bogus'. Try FUNCTION HELP."
    );
}

#[test]
fn client_reply() {
    use crate::command::ReplyMode;
    assert_eq!(
        conn("client reply on"),
        ConnCommand::Client(ClientCommand::Reply(ReplyMode::On))
    );
    assert_eq!(
        conn("CLIENT REPLY Off"),
        ConnCommand::Client(ClientCommand::Reply(ReplyMode::Off))
    );
    assert_eq!(
        conn("client reply skip"),
        ConnCommand::Client(ClientCommand::Reply(ReplyMode::Skip))
    );
    assert_eq!(err("client reply maybe"), "ERR syntax error");
    assert_eq!(err("client reply"), arity("client|reply"));
}

#[test]
fn shutdown_options() {
    let shutdown = |save, abort| Command::Conn(ConnCommand::Shutdown { save, abort });
    let ok = |line: &str| parse(&line.split(' ').map(b).collect::<Vec<_>>()).unwrap();
    assert_eq!(ok("shutdown"), shutdown(false, false));
    assert_eq!(ok("SHUTDOWN save now force"), shutdown(true, false));
    assert_eq!(ok("shutdown nosave"), shutdown(false, false));
    assert_eq!(ok("shutdown abort"), shutdown(false, true));
    for bad in [
        "shutdown abort now",
        "shutdown save nosave",
        "shutdown later",
    ] {
        assert_eq!(err(bad), "ERR syntax error", "{bad}");
    }
}

/// Containers that check their own arity answer as Redis's `addReplySubcommandSyntaxError`
/// does, with the subcommand as given and the container in capitals.
#[test]
fn subcommand_syntax_errors() {
    let text = |sub: &str, container: &str| {
        format!(
            "ERR unknown subcommand or wrong number of arguments for '{sub}'. Try {container} HELP."
        )
    };
    assert_eq!(err("xinfo stream s full count"), text("stream", "XINFO"));
    // SCRIPT FLUSH checks its options itself (Redis's eval.c).
    assert_eq!(
        err("script flush sync extra"),
        "ERR SCRIPT FLUSH only support SYNC|ASYNC option"
    );
    assert_eq!(err("function flush sync extra"), text("flush", "FUNCTION"));
    assert_eq!(
        err("function restore payload flush extra"),
        text("restore", "FUNCTION")
    );
    assert_eq!(
        err("function list withcode withcode"),
        "ERR Unknown argument withcode"
    );
    assert_eq!(err("function list bogus"), "ERR Unknown argument bogus");
}
