//! One client connection: read bytes, parse requests (pipelined), execute them in order,
//! write replies.
//!
//! A run of consecutive writes is sent to the leader as one ordered batch, and a run of
//! consecutive reads waits for one read barrier, so pipelining pays off as it does in Redis
//! while each connection still sees its own commands in order.
//!
//! - `state`: the connection's state ([`Session`]) and socket; imports none of the others.
//! - `classify`: a request to a step; `execute`: a batch of steps in order; `runs`: writes,
//!   reads and EXEC against the cluster. Connection commands are in `crate::server::conn`.

mod classify;
mod execute;
mod runs;
pub mod state;

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use cairn_protocol::{Limits, Reply, RequestParser};
use futures::FutureExt;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::broadcast;

use crate::node::Node;
use crate::observe::stats::Stats;
use crate::server::clients::Control;
use crate::server::pubsub::Subscriptions;

use state::{ClientIo, Session, READ_CHUNK};

/// Requests executed before replies are written, at most (bounds the reply buffer).
const PIPELINE_MAX: usize = 1024;
// A run of pipelined writes is forwarded in one call, which the leader accepts up to a bound.
const _: () = assert!(PIPELINE_MAX <= cairn_raft::network::FORWARD_BATCH_MAX);

/// Runs one client connection, plain TCP or TLS, until it closes.
pub async fn run<S>(node: Arc<Node>, mut stream: S, id: u64, control: Arc<Control>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    let mut session = Session::new(node.clone(), id, control.clone());
    session.publish_outlet();
    let limits = Limits {
        bulk_len_max: node.cluster.config.max_bulk_len,
        args_max: node.cluster.config.max_args,
        ..Limits::default()
    };
    let mut parser = RequestParser::new(limits);
    let mut input = BytesMut::with_capacity(READ_CHUNK);
    let mut output = BytesMut::new();
    loop {
        // A CLIENT KILL that raced with incoming data: the connection ends before running
        // anything more (the select below may pick the read over the kill signal).
        if control.is_killed() {
            break;
        }
        let mut requests = Vec::new();
        let mut protocol_error = None;
        while requests.len() < PIPELINE_MAX {
            match parser.parse(&mut input) {
                Ok(Some(args)) => requests.push(args),
                Ok(None) => break,
                Err(e) => {
                    protocol_error = Some(e.resp_error());
                    break;
                }
            }
        }
        // A burst larger than PIPELINE_MAX leaves whole requests in the buffer: parse again
        // before reading more.
        let more_buffered = requests.len() >= PIPELINE_MAX;
        let mut io = ClientIo {
            stream: &mut stream,
            input: &mut input,
            stats: &node.stats,
        };
        let ran = std::panic::AssertUnwindSafe(session.execute(requests, &mut output, &mut io))
            .catch_unwind()
            .await;
        let keep_going = match ran {
            Ok(keep_going) => keep_going,
            Err(panic) => {
                // A bug, never a client's fault: say so to the client, the log and the
                // counters, and drop the connection, whose state may be half changed.
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                tracing::error!(
                    client = id,
                    command = session.running,
                    panic = %what,
                    "a command panicked: closing its connection"
                );
                Stats::add(&node.stats.connection_panics, 1);
                output.clear();
                let text = format!(
                    "ERR internal error while running '{}'; the connection will be closed",
                    session.running
                );
                Reply::error(text).encode(session.protocol, &mut output);
                false
            }
        };
        if let Some(e) = &protocol_error {
            // Like Redis: answer the protocol error, then close the connection.
            Reply::error(e.clone()).encode(session.protocol, &mut output);
        }
        if !output.is_empty() {
            Stats::add(&node.stats.net_output_bytes, output.len() as u64);
            if stream.write_all(&output).await.is_err() {
                break;
            }
            output.clear();
        }
        if !keep_going || protocol_error.is_some() || session.closing || control.is_killed() {
            break;
        }
        if more_buffered {
            continue;
        }
        input.reserve(READ_CHUNK);
        tokio::select! {
            read = stream.read_buf(&mut input) => match read {
                Ok(0) | Err(_) => break,
                Ok(n) => Stats::add(&node.stats.net_input_bytes, n as u64),
            },
            Some(first) = next_message(&mut session.subs) => {
                if !write_messages(&mut session, first, &mut stream, &mut output).await {
                    break;
                }
            }
            () = control.signalled() => {
                if control.is_killed() {
                    break;
                }
            }
            line = next_line(&mut session.monitor) => {
                let Ok(line) = line else {
                    tracing::warn!(client = id, "closing a MONITOR client that fell behind");
                    break;
                };
                Stats::add(&node.stats.net_output_bytes, line.len() as u64);
                if stream.write_all(&line).await.is_err() {
                    break;
                }
            }
        }
    }
    if let Some(mut subs) = session.subs.take() {
        subs.leave_all(&node.pubsub);
    }
    if session.track.on {
        node.stop_tracking(id);
    }
    node.clients.remove(id);
}

/// The next MONITOR line for the connection; never, while it is not monitoring.
async fn next_line(
    monitor: &mut Option<broadcast::Receiver<Bytes>>,
) -> Result<Bytes, broadcast::error::RecvError> {
    match monitor {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// The next pub/sub message for the connection; never, while it has no subscriptions.
async fn next_message(subs: &mut Option<Subscriptions>) -> Option<Reply> {
    match subs {
        Some(s) => s.next().await,
        None => std::future::pending().await,
    }
}

/// Writes `first` and whatever else is queued (a bounded batch). False when the connection
/// must close: the client fell too far behind, or the write failed.
async fn write_messages(
    session: &mut Session,
    first: Reply,
    stream: &mut (dyn AsyncWrite + Unpin + Send),
    output: &mut BytesMut,
) -> bool {
    let Some(subs) = session.subs.as_mut() else {
        return true;
    };
    if subs.overflowed() {
        tracing::warn!(
            client = session.id,
            "closing a pub/sub client that fell behind"
        );
        return false;
    }
    first.encode(session.protocol, output);
    for _ in 0..PIPELINE_MAX {
        match subs.try_next() {
            Some(m) => m.encode(session.protocol, output),
            None => break,
        }
    }
    Stats::add(&session.node.stats.net_output_bytes, output.len() as u64);
    let ok = stream.write_all(output).await.is_ok();
    output.clear();
    ok
}
