//! Redis's error replies that more than one place sends, in one place: each a typed value
//! with its exact text (its code first: `ERR`, `WRONGTYPE`, `BUSYKEY`), as Redis 7.2 words it.
//! The parser ([`crate::CommandError::Redis`]), the keyspace and the node send these instead
//! of spelling the text again; an error only one place sends keeps its text there.

use crate::Reply;

/// An error reply a client can get from several commands or layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedisError {
    /// A malformed request (an unknown option, a missing argument).
    Syntax,
    NotInteger,
    NotFloat,
    DbIndexOutOfRange,
    TimeoutNegative,
    TimeoutNotInteger,
    TimeoutNotFloat,
    TimeoutOutOfRange,
    OutOfRangePositive,
    OutOfRange,
    InvalidCursor,
    NumkeysNotPositive,
    /// RENAME, MOVE and the like of a missing key.
    NoSuchKey,
    IncrNaN,
    BitOffset,
    BitNotInteger,
    BitNotBinary,
    /// A CAIRN command given a node id that is not one.
    NodeIdNotPositive,
    NotFromScript,
    LimitNegative,
    BadDataFormat,
    NaNOrInfinity,
    StringTooLong,
    SameObject,
    IndexOutOfRange,
    Overflow,
    HashNotInteger,
    HashNotFloat,
    ProtocolVersion,
    NumkeysTooMany,
    FunctionNotFound,
    NoFunctions,
    DumpPayload,
    ClientName,
    CountNotPositive,
    CountNegative,
    BitopNot,
    WeightNotFloat,
    OffsetOutOfRange,
    NotZAlgebra,
    MinMaxNotStringRange,
    MinMaxNotFloat,
    NotInTransaction,
    BgSaveInProgress,
    BusyKey,
    KeyNotFound,
    DefaultUserUndeletable,
    /// A command of one type against a key of another.
    WrongType,
}

impl RedisError {
    /// The error line as Redis sends it, without the leading `-` and trailing CRLF.
    pub const fn text(self) -> &'static str {
        match self {
            RedisError::Syntax => "ERR syntax error",
            RedisError::NotInteger => "ERR value is not an integer or out of range",
            RedisError::NotFloat => "ERR value is not a valid float",
            RedisError::DbIndexOutOfRange => "ERR DB index is out of range",
            RedisError::TimeoutNegative => "ERR timeout is negative",
            RedisError::TimeoutNotInteger => "ERR timeout is not an integer or out of range",
            RedisError::TimeoutNotFloat => "ERR timeout is not a float or out of range",
            RedisError::TimeoutOutOfRange => "ERR timeout is out of range",
            RedisError::OutOfRangePositive => "ERR value is out of range, must be positive",
            RedisError::OutOfRange => "ERR value is out of range",
            RedisError::InvalidCursor => "ERR invalid cursor",
            RedisError::NumkeysNotPositive => "ERR numkeys should be greater than 0",
            RedisError::NoSuchKey => "ERR no such key",
            RedisError::IncrNaN => "ERR increment would produce NaN or Infinity",
            RedisError::BitOffset => "ERR bit offset is not an integer or out of range",
            RedisError::BitNotInteger => "ERR bit is not an integer or out of range",
            RedisError::BitNotBinary => "ERR The bit argument must be 1 or 0.",
            RedisError::NodeIdNotPositive => "ERR node id must be a positive integer",
            RedisError::NotFromScript => "ERR This Redis command is not allowed from script",
            RedisError::LimitNegative => "ERR LIMIT can't be negative",
            RedisError::BadDataFormat => "ERR Bad data format",
            RedisError::NaNOrInfinity => "ERR value is NaN or Infinity",
            RedisError::StringTooLong => {
                "ERR string exceeds maximum allowed size (proto-max-bulk-len)"
            }
            RedisError::SameObject => "ERR source and destination objects are the same",
            RedisError::IndexOutOfRange => "ERR index out of range",
            RedisError::Overflow => "ERR increment or decrement would overflow",
            RedisError::HashNotInteger => "ERR hash value is not an integer",
            RedisError::HashNotFloat => "ERR hash value is not a float",
            RedisError::ProtocolVersion => "ERR Protocol version is not an integer or out of range",
            RedisError::NumkeysTooMany => "ERR Number of keys can't be greater than number of args",
            RedisError::FunctionNotFound => "ERR Function not found",
            RedisError::NoFunctions => "ERR No functions registered",
            RedisError::DumpPayload => "ERR DUMP payload version or checksum are wrong",
            RedisError::ClientName => {
                "ERR Client names cannot contain spaces, newlines or special characters."
            }
            RedisError::CountNotPositive => "ERR COUNT must be > 0",
            RedisError::CountNegative => "ERR COUNT can't be negative",
            RedisError::BitopNot => "ERR BITOP NOT must be called with a single source key.",
            RedisError::WeightNotFloat => "ERR weight value is not a float",
            RedisError::OffsetOutOfRange => "ERR offset is out of range",
            RedisError::NotZAlgebra => "ERR not a sorted set algebra command",
            RedisError::MinMaxNotStringRange => "ERR min or max not valid string range item",
            RedisError::MinMaxNotFloat => "ERR min or max is not a float",
            RedisError::NotInTransaction => "ERR Command not allowed inside a transaction",
            RedisError::BgSaveInProgress => "ERR Background save already in progress",
            RedisError::BusyKey => "BUSYKEY Target key name already exists.",
            RedisError::KeyNotFound => "ERR The specified key does not exist",
            RedisError::DefaultUserUndeletable => "ERR The 'default' user cannot be removed",
            RedisError::WrongType => {
                "WRONGTYPE Operation against a key holding the wrong kind of value"
            }
        }
    }
}

impl std::fmt::Display for RedisError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.text())
    }
}

impl std::error::Error for RedisError {}

impl From<RedisError> for Reply {
    fn from(e: RedisError) -> Reply {
        Reply::error(e.text())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every text starts with an upper-case code and is one line, as RESP errors must.
    #[test]
    fn texts_are_single_line_errors_with_a_code() {
        for e in [
            RedisError::Syntax,
            RedisError::NotInteger,
            RedisError::NotFloat,
            RedisError::DbIndexOutOfRange,
            RedisError::TimeoutNegative,
            RedisError::TimeoutNotInteger,
            RedisError::TimeoutNotFloat,
            RedisError::TimeoutOutOfRange,
            RedisError::OutOfRangePositive,
            RedisError::OutOfRange,
            RedisError::InvalidCursor,
            RedisError::NumkeysNotPositive,
            RedisError::NoSuchKey,
            RedisError::IncrNaN,
            RedisError::BitOffset,
            RedisError::BitNotInteger,
            RedisError::BitNotBinary,
            RedisError::NodeIdNotPositive,
            RedisError::NotFromScript,
            RedisError::LimitNegative,
            RedisError::BadDataFormat,
            RedisError::NaNOrInfinity,
            RedisError::StringTooLong,
            RedisError::SameObject,
            RedisError::IndexOutOfRange,
            RedisError::Overflow,
            RedisError::HashNotInteger,
            RedisError::HashNotFloat,
            RedisError::ProtocolVersion,
            RedisError::NumkeysTooMany,
            RedisError::FunctionNotFound,
            RedisError::NoFunctions,
            RedisError::DumpPayload,
            RedisError::ClientName,
            RedisError::CountNotPositive,
            RedisError::CountNegative,
            RedisError::BitopNot,
            RedisError::WeightNotFloat,
            RedisError::OffsetOutOfRange,
            RedisError::NotZAlgebra,
            RedisError::MinMaxNotStringRange,
            RedisError::MinMaxNotFloat,
            RedisError::NotInTransaction,
            RedisError::BgSaveInProgress,
            RedisError::BusyKey,
            RedisError::KeyNotFound,
            RedisError::DefaultUserUndeletable,
            RedisError::WrongType,
        ] {
            let text = e.text();
            let code = text.split(' ').next().unwrap_or("");
            assert!(
                !code.is_empty() && code.bytes().all(|b| b.is_ascii_uppercase()),
                "{text}"
            );
            assert!(!text.contains(['\r', '\n']), "{text}");
        }
        assert_eq!(
            Reply::from(RedisError::WrongType),
            Reply::error("WRONGTYPE Operation against a key holding the wrong kind of value")
        );
    }
}
