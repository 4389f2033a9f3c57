//! The HTTP endpoint (`--http-port`): `/healthz` (the process answers), `/readyz` (member of
//! a cluster with a known leader, and not far behind its own log), `/metrics` (Prometheus).

use std::sync::Arc;

use anyhow::Context;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

use crate::cluster::handle::Cluster;
use crate::node::Node;

/// A node whose applied index trails its log by more than this is not ready: it would serve
/// reads only after a long wait.
pub const READY_LAG_MAX: u64 = 10_000;

pub async fn serve(node: Arc<Node>, port: u16) -> anyhow::Result<()> {
    let addr = format!("{}:{port}", node.cluster.config.bind);
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .with_context(|| format!("binding the HTTP port {addr}"))?;
    let app = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(node.clone());
    let mut stop = node.cluster.shutdown.clone();
    tracing::info!(%addr, "HTTP endpoint");
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            let _ = stop.wait_for(|s| *s).await;
        })
        .await
        .context("HTTP server")
}

/// Why the node is not ready, or `None` when it is.
pub fn not_ready(cluster: &Cluster) -> Option<String> {
    let m = cluster.raft.metrics().borrow().clone();
    if m.membership_config.nodes().count() == 0 {
        return Some("not a member of a cluster yet".into());
    }
    if cluster.leader().is_none() {
        return Some("no known leader".into());
    }
    let last = m.last_log_index.unwrap_or(0);
    let applied = m.last_applied.map_or(0, |l| l.index);
    if last.saturating_sub(applied) > READY_LAG_MAX {
        return Some(format!("applied index {applied} trails the log ({last})"));
    }
    if let Some(why) = cluster.disk.full() {
        return Some(format!("the disk is full: {why}; writes are refused"));
    }
    None
}

async fn readyz(State(node): State<Arc<Node>>) -> impl IntoResponse {
    match not_ready(&node.cluster) {
        None => (StatusCode::OK, "ready\n".to_string()),
        Some(why) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {why}\n"),
        ),
    }
}

async fn metrics(State(node): State<Arc<Node>>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        node.metrics.render(&node),
    )
}
