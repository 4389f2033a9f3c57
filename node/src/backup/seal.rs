//! Optional encryption of backup parts with AES-256-GCM, and the backup key.
//!
//! Each part is sealed on its own: `nonce (12 random bytes) ‖ ciphertext ‖ tag (16 bytes)`,
//! with the associated data `cairn-backup/<backup id>/<part number>`, so a part moved to
//! another place or backup fails to open. Any AES-GCM implementation decrypts it (see
//! docs/BACKUPS.md for a Python recipe); the key never appears in logs or manifests, only the
//! first 16 hex digits of its SHA-256.

use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use anyhow::{bail, Context};
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::manifest::Encryption;

pub const ALGORITHM: &str = "AES-256-GCM";
const NONCE_LEN: usize = 12;

/// A 256-bit backup key.
#[derive(Clone)]
pub struct Key([u8; 32]);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Key({})", self.fingerprint())
    }
}

impl Key {
    /// From 64 hex digits (surrounding whitespace ignored) or exactly 32 raw bytes.
    pub fn parse(bytes: &[u8]) -> anyhow::Result<Key> {
        let text = String::from_utf8_lossy(bytes);
        let trimmed = text.trim();
        let mut key = [0u8; 32];
        if trimmed.len() == 64 && hex::decode_to_slice(trimmed, &mut key).is_ok() {
            return Ok(Key(key));
        }
        if bytes.len() == 32 {
            key.copy_from_slice(bytes);
            return Ok(Key(key));
        }
        bail!("a backup key is 64 hex digits (e.g. `openssl rand -hex 32`) or 32 raw bytes")
    }

    /// The key from `file`, else from the env var `CAIRN_BACKUP_KEY` (hex), else none.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Option<Key>> {
        if let Some(path) = file {
            let bytes = std::fs::read(path)
                .with_context(|| format!("reading the backup key file {}", path.display()))?;
            return Key::parse(&bytes).map(Some);
        }
        match std::env::var("CAIRN_BACKUP_KEY") {
            Ok(hex) if !hex.trim().is_empty() => Key::parse(hex.as_bytes())
                .context("CAIRN_BACKUP_KEY")
                .map(Some),
            _ => Ok(None),
        }
    }

    pub fn fingerprint(&self) -> String {
        hex::encode(&Sha256::digest(self.0)[..8])
    }

    pub fn describe(&self) -> Encryption {
        Encryption {
            algorithm: ALGORITHM.into(),
            key_sha256: self.fingerprint(),
        }
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new((&self.0).into())
    }
}

fn aad(backup: &str, part: usize) -> Vec<u8> {
    format!("cairn-backup/{backup}/{part}").into_bytes()
}

/// Encrypts part number `part` of backup `backup`.
pub fn seal(key: &Key, backup: &str, part: usize, plain: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut nonce = [0u8; NONCE_LEN];
    rand::thread_rng().fill_bytes(&mut nonce);
    let sealed = key
        .cipher()
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: plain,
                aad: &aad(backup, part),
            },
        )
        .map_err(|_| anyhow::anyhow!("encrypting part {part} failed"))?;
    let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    Ok(out)
}

/// Decrypts and authenticates a part sealed by [`seal`].
pub fn open(key: &Key, backup: &str, part: usize, stored: &[u8]) -> anyhow::Result<Vec<u8>> {
    if stored.len() < NONCE_LEN {
        bail!("part {part} is too short to be encrypted");
    }
    let (nonce, sealed) = stored.split_at(NONCE_LEN);
    key.cipher()
        .decrypt(
            Nonce::from_slice(nonce),
            Payload {
                msg: sealed,
                aad: &aad(backup, part),
            },
        )
        .map_err(|_| anyhow::anyhow!("part {part} does not decrypt with this key"))
}

/// Checks that the key in hand is the one the backup was made with, if it was encrypted.
pub fn check_key(enc: Option<&Encryption>, key: Option<&Key>) -> anyhow::Result<()> {
    match (enc, key) {
        (None, _) => Ok(()),
        (Some(_), None) => {
            bail!("this backup is encrypted: give its key with --key-file or CAIRN_BACKUP_KEY")
        }
        (Some(e), Some(_)) if e.algorithm != ALGORITHM => {
            bail!("unknown encryption {}", e.algorithm)
        }
        (Some(e), Some(k)) if e.key_sha256 != k.fingerprint() => bail!(
            "wrong backup key: the backup was made with key {}, this key is {}",
            e.key_sha256,
            k.fingerprint()
        ),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_parts_open_only_in_place_with_the_key() {
        let key = Key::parse(&[7u8; 32]).expect("key");
        let other = Key::parse(&[8u8; 32]).expect("key");
        let sealed = seal(&key, "b1", 3, b"hello").expect("seal");
        assert_eq!(open(&key, "b1", 3, &sealed).expect("open"), b"hello");
        assert!(open(&other, "b1", 3, &sealed).is_err());
        assert!(open(&key, "b1", 4, &sealed).is_err(), "moved part");
        assert!(open(&key, "b2", 3, &sealed).is_err(), "other backup");
        let mut bad = sealed.clone();
        bad[20] ^= 1;
        assert!(open(&key, "b1", 3, &bad).is_err(), "tampered");
    }

    #[test]
    fn keys_parse_from_hex_or_raw_bytes() {
        let hex = "00".repeat(31) + "ff\n";
        assert!(Key::parse(hex.as_bytes()).is_ok());
        assert!(Key::parse(b"short").is_err());
        let k = Key::parse(&[1u8; 32]).expect("key");
        assert_eq!(k.fingerprint().len(), 16);
        assert!(!format!("{k:?}").contains("0101"));
        assert!(check_key(Some(&k.describe()), None).is_err());
        assert!(check_key(Some(&k.describe()), Some(&k)).is_ok());
    }
}
