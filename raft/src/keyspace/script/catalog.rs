//! What scripting keeps in the replicated state (the script cache and the FUNCTION
//! libraries) and the reads that answer from it (SCRIPT EXISTS, FUNCTION LIST/STATS/DUMP).
//! A leaf: reads use it without depending on the script engine, which itself runs reads.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use cairn_protocol::glob::glob_match;
use cairn_protocol::Reply;
use serde::{Deserialize, Serialize};

/// The script cache: SHA-1 (lowercase hex) → source.
pub type Scripts = Arc<BTreeMap<String, Bytes>>;

/// The loaded libraries, by name.
pub type Libraries = Arc<BTreeMap<String, Library>>;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Library {
    /// The code as loaded, its `#!lua name=...` line included.
    pub code: Bytes,
    /// The functions it registers, in registration order.
    pub functions: Vec<FunctionMeta>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionMeta {
    pub name: String,
    pub description: Option<String>,
    pub flags: Vec<String>,
}

/// SCRIPT EXISTS: 1 or 0 per digest (case-insensitive, as Redis compares them).
pub fn exists(scripts: &Scripts, shas: &[Bytes]) -> Reply {
    Reply::Array(
        shas.iter()
            .map(|sha| {
                let sha = String::from_utf8_lossy(sha).to_ascii_lowercase();
                Reply::Integer(i64::from(scripts.contains_key(&sha)))
            })
            .collect(),
    )
}

/// FUNCTION LIST [LIBRARYNAME pattern] [WITHCODE].
pub fn list(libraries: &Libraries, pattern: Option<&[u8]>, with_code: bool) -> Reply {
    let bulk = |s: &str| Reply::Bulk(Bytes::copy_from_slice(s.as_bytes()));
    let libs = libraries
        .iter()
        .filter(|(name, _)| pattern.is_none_or(|p| glob_match(p, name.as_bytes(), false)))
        .map(|(name, lib)| {
            let functions = lib
                .functions
                .iter()
                .map(|f| {
                    let description = f.description.as_deref().map_or(Reply::Nil, bulk);
                    let flags = f.flags.iter().map(|flag| bulk(flag)).collect();
                    Reply::Map(vec![
                        (bulk("name"), bulk(&f.name)),
                        (bulk("description"), description),
                        (bulk("flags"), Reply::Set(flags)),
                    ])
                })
                .collect();
            let mut fields = vec![
                (bulk("library_name"), bulk(name)),
                (bulk("engine"), bulk("LUA")),
                (bulk("functions"), Reply::Array(functions)),
            ];
            if with_code {
                fields.push((bulk("library_code"), Reply::Bulk(lib.code.clone())));
            }
            Reply::Map(fields)
        })
        .collect();
    Reply::Array(libs)
}

/// The version tag of FUNCTION DUMP payloads (cairn's own format: Redis's RDB encoding of
/// libraries means nothing to cairn; clients treat the payload as opaque).
const DUMP_TAG: &[u8] = b"cairn-functions-1";

/// FUNCTION DUMP: the tag, the libraries (bincode), and a CRC-32 of both.
pub fn dump(libraries: &Libraries) -> Reply {
    let mut out = DUMP_TAG.to_vec();
    match bincode::serialize(&**libraries) {
        Ok(body) => out.extend_from_slice(&body),
        Err(e) => return Reply::Error(format!("ERR {e}")),
    }
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    Reply::Bulk(Bytes::from(out))
}

pub(super) fn undump(payload: &[u8]) -> Option<BTreeMap<String, Library>> {
    let (body, crc) = payload.split_at_checked(payload.len().checked_sub(4)?)?;
    if crc32fast::hash(body).to_le_bytes() != crc {
        return None;
    }
    bincode::deserialize(body.strip_prefix(DUMP_TAG)?).ok()
}

/// FUNCTION STATS: no script is ever running between entries.
pub fn stats(libraries: &Libraries) -> Reply {
    let bulk = |s: &str| Reply::Bulk(Bytes::copy_from_slice(s.as_bytes()));
    let functions: usize = libraries.values().map(|l| l.functions.len()).sum();
    Reply::Map(vec![
        (bulk("running_script"), Reply::Nil),
        (
            bulk("engines"),
            Reply::Map(vec![(
                bulk("LUA"),
                Reply::Map(vec![
                    (
                        bulk("libraries_count"),
                        Reply::Integer(libraries.len() as i64),
                    ),
                    (bulk("functions_count"), Reply::Integer(functions as i64)),
                ]),
            )]),
        ),
    ])
}
