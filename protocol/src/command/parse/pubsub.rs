//! The pub/sub commands (Redis's "pubsub" group). Arity is checked by the table; nothing else
//! can be wrong with their arguments.

use bytes::Bytes;

use super::Result;
use crate::command::{Command, CommandError, ConnCommand, PubSubCommand as P};

/// Parses the pub/sub command `name` (lowercase, `pubsub|sub` for PUBSUB's subcommands).
pub(super) fn parse(name: &str, args: &[Bytes]) -> Result<Command> {
    let rest = || args.iter().skip(1).cloned().collect::<Vec<_>>();
    let cmd = match (name, args) {
        ("subscribe", _) => P::Subscribe(rest()),
        ("unsubscribe", _) => P::Unsubscribe(rest()),
        ("psubscribe", _) => P::PSubscribe(rest()),
        ("punsubscribe", _) => P::PUnsubscribe(rest()),
        ("publish", [_, channel, message]) => P::Publish {
            channel: channel.clone(),
            message: message.clone(),
        },
        ("pubsub|channels", [_, _]) => P::Channels(None),
        ("pubsub|channels", [_, _, pattern]) => P::Channels(Some(pattern.clone())),
        ("pubsub|numsub", [_, _, channels @ ..]) => P::NumSub(channels.to_vec()),
        ("pubsub|numpat", [_, _]) => P::NumPat,
        // Redis checks these counts in the command, not the table.
        (_, [_, sub, ..]) if name.starts_with("pubsub|") => {
            return Err(CommandError::subcommand_syntax("pubsub", sub))
        }
        _ => return Err(super::unknown_command(args)),
    };
    Ok(Command::Conn(ConnCommand::PubSub(cmd)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::command::parse;

    fn args(line: &str) -> Vec<Bytes> {
        line.split(' ')
            .map(|w| Bytes::copy_from_slice(w.as_bytes()))
            .collect()
    }

    fn pubsub(line: &str) -> P {
        match parse(&args(line)) {
            Ok(Command::Conn(ConnCommand::PubSub(p))) => p,
            other => panic!("{line}: {other:?}"),
        }
    }

    #[test]
    fn parses_every_form() {
        let b = |s: &'static str| Bytes::from_static(s.as_bytes());
        assert_eq!(pubsub("SUBSCRIBE a b"), P::Subscribe(vec![b("a"), b("b")]));
        assert_eq!(pubsub("unsubscribe"), P::Unsubscribe(vec![]));
        assert_eq!(pubsub("psubscribe n*"), P::PSubscribe(vec![b("n*")]));
        assert_eq!(pubsub("punsubscribe"), P::PUnsubscribe(vec![]));
        assert_eq!(
            pubsub("publish ch hi"),
            P::Publish {
                channel: b("ch"),
                message: b("hi")
            }
        );
        assert_eq!(pubsub("pubsub channels"), P::Channels(None));
        assert_eq!(pubsub("PUBSUB CHANNELS a*"), P::Channels(Some(b("a*"))));
        assert_eq!(pubsub("pubsub numsub a b"), P::NumSub(vec![b("a"), b("b")]));
        assert_eq!(pubsub("pubsub numpat"), P::NumPat);
    }

    #[test]
    fn arity_errors_are_redis_texts() {
        let err = |line: &str| parse(&args(line)).unwrap_err();
        assert_eq!(err("subscribe"), CommandError::Arity("subscribe".into()));
        assert_eq!(err("publish ch"), CommandError::Arity("publish".into()));
        assert_eq!(
            err("pubsub channels a b").to_string(),
            "ERR unknown subcommand or wrong number of arguments for 'channels'. Try PUBSUB HELP."
        );
        assert_eq!(
            err("pubsub nope").to_string(),
            "ERR unknown subcommand 'nope'. Try PUBSUB HELP."
        );
    }
}
