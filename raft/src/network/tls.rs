//! Peer gRPC over mutual TLS.
//!
//! With a certificate, its key and a CA, a node serves its peer port over TLS and requires
//! every caller to present a certificate signed by that CA; it calls its peers the same way
//! and checks that their certificate names the host it dialled (the host of the member's peer
//! address: a DNS name or an IP address in the certificate's subjectAltName). One certificate
//! per node serves both ends, as etcd's `--peer-cert-file` does. Unlike the cluster secret,
//! mTLS also keeps the traffic private and cannot be replayed by someone watching the wire.

use std::time::Duration;

use tonic::transport::{Certificate, ClientTlsConfig, Identity, ServerTlsConfig};

/// How long a peer may take to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A node's peer TLS material (PEM).
#[derive(Clone)]
pub struct PeerTls {
    identity: Identity,
    ca: Certificate,
}

impl std::fmt::Debug for PeerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PeerTls")
    }
}

impl PeerTls {
    /// From PEM bytes: the node's certificate chain, its private key, and the CA that signs
    /// every member's certificate. Checked when the server or a channel is built.
    pub fn from_pem(cert: &[u8], key: &[u8], ca: &[u8]) -> PeerTls {
        PeerTls {
            identity: Identity::from_pem(cert, key),
            ca: Certificate::from_pem(ca),
        }
    }

    /// The peer server's side: a client certificate from the CA is required.
    pub fn server(&self) -> ServerTlsConfig {
        ServerTlsConfig::new()
            .identity(self.identity.clone())
            .client_ca_root(self.ca.clone())
            .client_auth_optional(false)
            .timeout(HANDSHAKE_TIMEOUT)
    }

    /// The calling side: trusts only the CA and presents this node's certificate.
    pub fn client(&self) -> ClientTlsConfig {
        ClientTlsConfig::new()
            .ca_certificate(self.ca.clone())
            .identity(self.identity.clone())
            .timeout(HANDSHAKE_TIMEOUT)
    }
}
