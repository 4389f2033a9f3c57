//! Peer authentication with a shared cluster secret.
//!
//! With `--cluster-secret`, every peer RPC carries a token derived from the secret in the
//! `x-cairn-peer-token` metadata, and a node refuses (`UNAUTHENTICATED`) any call without the
//! right one, before decoding it: a stranger who can reach the peer port cannot append
//! entries, vote, forward writes or change membership. The token is a SHA-256 of the secret,
//! so the secret itself never crosses the network. Without peer TLS ([`super::PeerTls`]) the
//! port is plaintext, so someone who can watch that network could replay the token: use both,
//! or keep the peer port on a private network (as for etcd without peer TLS).

use sha2::{Digest, Sha256};
use tonic::metadata::MetadataValue;
use tonic::{Request, Status};

const HEADER: &str = "x-cairn-peer-token";

/// The token of a cluster secret; `None` when peers are not authenticated.
#[derive(Clone, Default)]
pub struct PeerToken(Option<String>);

impl std::fmt::Debug for PeerToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "PeerToken(set)"
        } else {
            "PeerToken(none)"
        })
    }
}

impl PeerToken {
    /// From the cluster secret (empty: no authentication).
    pub fn from_secret(secret: &str) -> PeerToken {
        if secret.is_empty() {
            return PeerToken(None);
        }
        let digest = Sha256::digest(format!("cairn-peer-token:{secret}").as_bytes());
        PeerToken(Some(digest.iter().map(|b| format!("{b:02x}")).collect()))
    }

    /// Adds the token to an outgoing request.
    pub fn attach<T>(&self, request: &mut Request<T>) {
        if let Some(token) = &self.0 {
            if let Ok(v) = MetadataValue::try_from(token.as_str()) {
                request.metadata_mut().insert(HEADER, v);
            }
        }
    }

    /// The server side: lets a request through only with the right token.
    pub fn check(&self, request: Request<()>) -> Result<Request<()>, Status> {
        let Some(expected) = &self.0 else {
            return Ok(request);
        };
        let given = request
            .metadata()
            .get(HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if constant_time_eq(given.as_bytes(), expected.as_bytes()) {
            Ok(request)
        } else {
            Err(Status::unauthenticated(
                "peer call without this cluster's secret (--cluster-secret)",
            ))
        }
    }
}

/// Compares without stopping at the first difference, so timing does not reveal a prefix.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(token: &PeerToken) -> Request<()> {
        let mut r = Request::new(());
        token.attach(&mut r);
        r
    }

    #[test]
    fn only_the_right_token_passes() {
        let ours = PeerToken::from_secret("s3cret");
        let theirs = PeerToken::from_secret("other");
        let none = PeerToken::from_secret("");
        assert!(ours.check(with(&ours)).is_ok());
        assert_eq!(
            ours.check(with(&theirs)).map(|_| ()).map_err(|s| s.code()),
            Err(tonic::Code::Unauthenticated)
        );
        assert!(ours.check(with(&none)).is_err());
        // A node without a secret accepts anyone (the default, as before).
        assert!(none.check(with(&theirs)).is_ok());
        assert!(!format!("{ours:?}").contains(&ours.0.clone().unwrap_or_default()));
    }
}
