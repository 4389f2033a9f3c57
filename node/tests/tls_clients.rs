//! Goal: RESP over TLS on `--tls-port`: a client with a certificate from the configured CA
//! runs commands; without one it is refused when `--tls-auth-clients yes` (the default) and
//! accepted with `no`; the plain port keeps working; a node given an unreadable certificate
//! refuses to start and says why.
//! Method: a CA, server and client certificates made by rcgen in a temporary directory; a
//! rustls client (ring provider) speaking raw RESP, and redis-cli --tls, to real `cairn`
//! processes.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use common::{free_port, Cluster};
use rcgen::{BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, KeyPair};
use redis::Commands;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Pki {
    ca: CertificateDer<'static>,
    client_cert: CertificateDer<'static>,
    client_key: Vec<u8>,
}

/// Writes ca.pem, server.pem, server.key, client.pem, client.key into `dir`; returns what a client needs.
fn make_pki(dir: &Path) -> Pki {
    let ca_key = KeyPair::generate().unwrap();
    // Distinct subjects: OpenSSL (redis-cli) takes a leaf whose subject is its issuer's for
    // a self-signed certificate.
    let named = |sans: Vec<String>, cn: &str| {
        let mut p = CertificateParams::new(sans).unwrap();
        p.distinguished_name = DistinguishedName::new();
        p.distinguished_name.push(DnType::CommonName, cn);
        p
    };
    let mut ca_params = named(Vec::new(), "cairn test CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let server_key = KeyPair::generate().unwrap();
    let server = named(
        vec!["localhost".to_string(), "127.0.0.1".to_string()],
        "cairn test server",
    )
    .signed_by(&server_key, &ca, &ca_key)
    .unwrap();
    let client_key = KeyPair::generate().unwrap();
    let client = named(vec!["client".to_string()], "cairn test client")
        .signed_by(&client_key, &ca, &ca_key)
        .unwrap();
    std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
    std::fs::write(dir.join("server.pem"), server.pem()).unwrap();
    std::fs::write(dir.join("server.key"), server_key.serialize_pem()).unwrap();
    std::fs::write(dir.join("client.pem"), client.pem()).unwrap();
    std::fs::write(dir.join("client.key"), client_key.serialize_pem()).unwrap();
    Pki {
        ca: ca.der().clone(),
        client_cert: client.der().clone(),
        client_key: client_key.serialize_der(),
    }
}

/// Connects over TLS (with the client certificate if `with_cert`), sends `request`, and
/// returns what the server answers within a second (or the error).
fn tls_exchange(port: u16, pki: &Pki, with_cert: bool, request: &[u8]) -> Result<String, String> {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(pki.ca.clone()).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots);
        let config = if with_cert {
            let key = PrivateKeyDer::try_from(pki.client_key.clone()).unwrap();
            builder
                .with_client_auth_cert(vec![pki.client_cert.clone()], key)
                .unwrap()
        } else {
            builder.with_no_client_auth()
        };
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .map_err(|e| e.to_string())?;
        let name = ServerName::try_from("127.0.0.1").unwrap();
        let mut tls = connector
            .connect(name, tcp)
            .await
            .map_err(|e| e.to_string())?;
        tls.write_all(request).await.map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match tokio::time::timeout(Duration::from_secs(1), tls.read(&mut buf)).await {
                Ok(Ok(0)) | Err(_) => break,
                Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
                Ok(Err(e)) if out.is_empty() => return Err(e.to_string()),
                Ok(Err(_)) => break,
            }
        }
        Ok(String::from_utf8_lossy(&out).to_string())
    })
}

fn tls_args<'a>(dir: &'a Path, port: &'a str, extra: &[&'a str]) -> Vec<String> {
    let mut args = vec![
        "--tls-port".to_string(),
        port.to_string(),
        "--tls-cert-file".into(),
        dir.join("server.pem").display().to_string(),
        "--tls-key-file".into(),
        dir.join("server.key").display().to_string(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

#[test]
fn clients_with_certificates_talk_resp_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    let pki = make_pki(dir.path());
    let port = free_port().to_string();
    let ca = dir.path().join("ca.pem").display().to_string();
    let args = tls_args(dir.path(), &port, &["--tls-ca-cert-file", &ca]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let cluster = Cluster::start(1, &args);
    let port: u16 = port.parse().unwrap();
    common::wait_for(Duration::from_secs(10), "the TLS port", || {
        std::net::TcpStream::connect(("127.0.0.1", port)).ok()
    });

    let out = tls_exchange(port, &pki, true, b"PING\r\nSET k over-tls\r\nGET k\r\n").unwrap();
    assert_eq!(out, "+PONG\r\n+OK\r\n$8\r\nover-tls\r\n");
    // The plain port serves the same data.
    let v: String = cluster.node(1).conn().get("k").unwrap();
    assert_eq!(v, "over-tls");
    // No client certificate: refused (the handshake or the first read fails).
    match tls_exchange(port, &pki, false, b"PING\r\n") {
        Ok(out) => assert!(!out.contains("PONG"), "{out}"),
        Err(e) => assert!(!e.is_empty()),
    }
    // Plain RESP on the TLS port gets no RESP answer.
    let plain = common::raw(port, b"PING\r\n");
    assert!(!plain.contains("PONG"), "{plain}");

    // redis-cli --tls, as users run it (scripts/test.sh installs redis-tools).
    let cli = |more: &[&str]| {
        let file = |f: &str| dir.path().join(f).display().to_string();
        std::process::Command::new("redis-cli")
            .args(["--tls", "--cacert", &file("ca.pem")])
            .args(["--cert", &file("client.pem"), "--key", &file("client.key")])
            .args(["-h", "127.0.0.1", "-p", &port.to_string()])
            .args(more)
            .output()
    };
    match cli(&["SET", "cli", "over-tls"]) {
        Ok(out) => {
            let said = String::from_utf8_lossy(&out.stderr).to_string();
            assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "OK", "{said}");
            let out = cli(&["GET", "cli"]).unwrap();
            assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "over-tls");
        }
        Err(e) => {
            assert!(
                std::env::var("CI").is_err(),
                "redis-cli is missing in CI: {e}"
            );
            eprintln!("skipped the redis-cli part: {e}");
        }
    }
}

#[test]
fn without_client_auth_any_client_is_served() {
    let dir = tempfile::tempdir().unwrap();
    let pki = make_pki(dir.path());
    let port = free_port().to_string();
    let args = tls_args(dir.path(), &port, &["--tls-auth-clients", "no"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let _cluster = Cluster::start(1, &args);
    let port: u16 = port.parse().unwrap();
    common::wait_for(Duration::from_secs(10), "the TLS port", || {
        std::net::TcpStream::connect(("127.0.0.1", port)).ok()
    });
    let out = tls_exchange(port, &pki, false, b"PING\r\n").unwrap();
    assert_eq!(out, "+PONG\r\n");
}

#[test]
fn a_bad_certificate_stops_the_node_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let (port, raft) = (free_port(), free_port());
    let out = std::process::Command::new(common::BIN)
        .args(["serve", "--id", "1", "--tls-auth-clients", "no"])
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .args(["--initial-cluster", &format!("1=127.0.0.1:{port}@{raft}")])
        .args(["--tls-port", &free_port().to_string()])
        .arg("--tls-cert-file")
        .arg(dir.path().join("missing.pem"))
        .arg("--tls-key-file")
        .arg(dir.path().join("missing.key"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("missing.pem"), "{stderr}");
}
