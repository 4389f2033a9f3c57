//! RESP over TLS (`--tls-port`): rustls with the ring provider, the certificate and key from
//! PEM files, and client certificates as Redis's `tls-auth-clients` (yes, optional, no).
//! A TLS connection runs the same session as a plain one once the handshake is done.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::config::ServeConfig;
use crate::node::Node;

/// How long a client may take to finish the handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The server's TLS configuration from the flags; checked at start so a bad file stops the
/// node with a clear error instead of failing every handshake.
pub fn server_config(cfg: &ServeConfig) -> anyhow::Result<ServerConfig> {
    let (Some(cert_file), Some(key_file)) = (&cfg.tls_cert_file, &cfg.tls_key_file) else {
        bail!("--tls-port needs --tls-cert-file and --tls-key-file");
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert_file)
        .and_then(|i| i.collect())
        .with_context(|| format!("reading certificates from {}", cert_file.display()))?;
    if certs.is_empty() {
        bail!("no certificate in {}", cert_file.display());
    }
    let key = PrivateKeyDer::from_pem_file(key_file)
        .with_context(|| format!("reading the private key from {}", key_file.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?;
    let builder = match (cfg.tls_auth_clients.as_str(), &cfg.tls_ca_cert_file) {
        ("no", _) => builder.with_no_client_auth(),
        (_, None) => bail!(
            "--tls-auth-clients {} needs --tls-ca-cert-file (or use --tls-auth-clients no)",
            cfg.tls_auth_clients
        ),
        (mode, Some(ca_file)) => {
            let mut roots = RootCertStore::empty();
            for ca in CertificateDer::pem_file_iter(ca_file)
                .with_context(|| format!("reading CA certificates from {}", ca_file.display()))?
            {
                let ca = ca.with_context(|| format!("parsing {}", ca_file.display()))?;
                roots
                    .add(ca)
                    .with_context(|| format!("a CA certificate in {}", ca_file.display()))?;
            }
            let verifier =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone());
            let verifier = if mode == "optional" {
                verifier.allow_unauthenticated()
            } else {
                verifier
            };
            builder.with_client_cert_verifier(verifier.build().context("client verifier")?)
        }
    };
    builder
        .with_single_cert(certs, key)
        .context("the TLS certificate and key do not match")
}

/// Accepts TLS clients on `--tls-port` until shutdown.
pub async fn serve(node: Arc<Node>, port: u16) -> anyhow::Result<()> {
    let acceptor = TlsAcceptor::from(Arc::new(server_config(&node.cluster.config)?));
    let addr = format!("{}:{port}", node.cluster.config.bind);
    let listener = TcpListener::bind(&addr)
        .await
        .with_context(|| format!("binding the TLS port {addr}"))?;
    tracing::info!(%addr, "accepting TLS clients");
    let mut shutdown = node.cluster.shutdown.clone();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.wait_for(|s| *s) => return Ok(()),
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %e, "TLS accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Some((id, control)) = crate::server::listener::admit(&node, &stream, peer) else {
            // No room: close before the handshake (a TLS client cannot read a plain error).
            continue;
        };
        let (node, acceptor) = (node.clone(), acceptor.clone());
        tokio::spawn(async move {
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => crate::server::session::run(node, tls, id, control).await,
                Ok(Err(e)) => {
                    tracing::info!(%peer, error = %e, "TLS handshake failed");
                    node.clients.remove(id);
                }
                Err(_) => {
                    tracing::info!(%peer, "TLS handshake timed out");
                    node.clients.remove(id);
                }
            }
        });
    }
}
