//! HyperLogLog commands (hyperloglog.c): PFADD, PFCOUNT, PFMERGE, PFDEBUG.

use bytes::Bytes;

use super::Result;
use crate::command::{Command, CommandError, ReadCommand, WriteCommand};

/// Parses the HyperLogLog command `name` (lowercase, arity already checked).
pub(super) fn parse(name: &str, args: &[Bytes]) -> Result<Command> {
    use Command::{Read, Write};
    Ok(match (name, args) {
        ("pfadd", [_, key, elements @ ..]) => Write(WriteCommand::PfAdd {
            key: key.clone(),
            elements: elements.to_vec(),
        }),
        ("pfcount", [_, keys @ ..]) if !keys.is_empty() => Read(ReadCommand::PfCount {
            keys: keys.to_vec(),
        }),
        ("pfmerge", [_, destination, sources @ ..]) => Write(WriteCommand::PfMerge {
            destination: destination.clone(),
            sources: sources.to_vec(),
        }),
        ("pfdebug", [_, sub, key]) => {
            let sub = String::from_utf8_lossy(sub).to_ascii_lowercase();
            match sub.as_str() {
                "todense" => Write(WriteCommand::PfDebugToDense { key: key.clone() }),
                "getreg" | "encoding" | "decode" => Read(ReadCommand::PfDebug {
                    sub,
                    key: key.clone(),
                }),
                _ => {
                    return Err(CommandError::Other(format!(
                        "ERR Unknown PFDEBUG subcommand '{}'",
                        String::from_utf8_lossy(&args[1])
                    )))
                }
            }
        }
        _ => return Err(CommandError::Arity(name.into())),
    })
}
