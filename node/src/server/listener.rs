//! The RESP listener: accepts clients up to `--max-clients` and runs a session for each.

use std::sync::Arc;

use anyhow::Context;
use cairn_protocol::{Protocol, Reply};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

use crate::node::Node;
use crate::observe::stats::Stats;
use crate::server::clients::Control;

/// Registers an accepted connection (plain or TLS) as a client; `None` when `--max-clients`
/// are connected already.
pub fn admit(
    node: &Node,
    stream: &tokio::net::TcpStream,
    peer: std::net::SocketAddr,
) -> Option<(u64, Arc<Control>)> {
    let _ = stream.set_nodelay(true);
    Stats::add(&node.stats.connections_received, 1);
    let laddr = stream
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let admitted = node
        .clients
        .register(peer.to_string(), laddr, node.cluster.config.max_clients);
    if admitted.is_none() {
        Stats::add(&node.stats.rejected_connections, 1);
    }
    admitted
}

pub async fn serve(node: Arc<Node>) -> anyhow::Result<()> {
    let (port, _) = node.cluster.config.ports()?;
    let addr = format!("{}:{port}", node.cluster.config.bind);
    let listener = TcpListener::bind(&addr)
        .await
        .with_context(|| format!("binding the RESP port {addr}"))?;
    tracing::info!(%addr, "accepting clients");
    let mut shutdown = node.cluster.shutdown.clone();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.wait_for(|s| *s) => return Ok(()),
        };
        let (mut stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let Some((id, control)) = admit(&node, &stream, peer) else {
            let msg = Reply::error("ERR max number of clients reached").to_bytes(Protocol::Resp2);
            tokio::spawn(async move {
                let _ = stream.write_all(&msg).await;
            });
            continue;
        };
        tokio::spawn(crate::server::session::run(
            node.clone(),
            stream,
            id,
            control,
        ));
    }
}
