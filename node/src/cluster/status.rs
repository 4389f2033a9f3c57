//! `cairn status` and `cairn members`: ask a running node over RESP (`CAIRN STATUS`,
//! `CAIRN MEMBERS`, `CAIRN MEMBER ADD|REMOVE`) and print the answer.

use std::time::Duration;

use anyhow::{bail, Context};
use bytes::BytesMut;
use clap::Args;
use redis_protocol::resp2::decode::decode_bytes_mut;
use redis_protocol::resp2::types::BytesFrame;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    #[arg(long, default_value_t = 6379)]
    port: u16,
}

#[derive(Debug, Args)]
pub struct MembersArgs {
    #[command(subcommand)]
    action: MembersAction,
    #[arg(long, global = true, default_value = "127.0.0.1")]
    host: String,
    #[arg(long, global = true, default_value_t = 6379)]
    port: u16,
}

#[derive(Debug, clap::Subcommand)]
enum MembersAction {
    /// Every member: id, addresses, voter or learner, leader.
    List,
    /// Add a node (started with this id and address) as a learner, then promote it.
    Add {
        id: u64,
        /// `HOST:PORT@RAFTPORT`, as in --initial-cluster.
        addr: String,
    },
    /// Remove a node (the leader too: it hands over by election).
    Remove { id: u64 },
}

pub async fn members(args: MembersArgs) -> anyhow::Result<()> {
    let addr = format!("{}:{}", args.host, args.port);
    let timeout = Duration::from_secs(130);
    let command: Vec<String> = match &args.action {
        MembersAction::List => vec!["CAIRN".into(), "MEMBERS".into()],
        MembersAction::Add { id, addr } => {
            vec![
                "CAIRN".into(),
                "MEMBER".into(),
                "ADD".into(),
                id.to_string(),
                addr.clone(),
            ]
        }
        MembersAction::Remove { id } => {
            vec![
                "CAIRN".into(),
                "MEMBER".into(),
                "REMOVE".into(),
                id.to_string(),
            ]
        }
    };
    let parts: Vec<&str> = command.iter().map(String::as_str).collect();
    let text = tokio::time::timeout(timeout, query(&addr, &parts))
        .await
        .with_context(|| format!("{addr}: no answer in {timeout:?}"))??;
    println!("{}", text.trim_end());
    Ok(())
}

/// `cairn check`: `CAIRN CHECK` through the node; fails when the replicas disagree.
pub async fn check(args: StatusArgs) -> anyhow::Result<()> {
    let addr = format!("{}:{}", args.host, args.port);
    let text = tokio::time::timeout(Duration::from_secs(30), query(&addr, &["CAIRN", "CHECK"]))
        .await
        .with_context(|| format!("{addr}: no answer in 30 s"))??;
    print!("{text}");
    if !text.contains("result: consistent") {
        bail!("the replicas are not known to be consistent");
    }
    Ok(())
}

pub async fn run(args: StatusArgs) -> anyhow::Result<()> {
    let addr = format!("{}:{}", args.host, args.port);
    let text = tokio::time::timeout(Duration::from_secs(5), query(&addr, &["CAIRN", "STATUS"]))
        .await
        .with_context(|| format!("{addr}: no answer in 5 s"))??;
    print!("{text}");
    Ok(())
}

/// Sends one command and returns its bulk or simple string reply.
pub async fn query(addr: &str, args: &[&str]) -> anyhow::Result<String> {
    query_as(addr, None, args).await
}

/// [`query`], after `AUTH password` when one is given.
pub async fn query_as(addr: &str, password: Option<&str>, args: &[&str]) -> anyhow::Result<String> {
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .with_context(|| format!("connecting to {addr}"))?;
    let mut buf = BytesMut::new();
    if let Some(p) = password {
        send(&mut stream, &["AUTH", p]).await?;
        reply(&mut stream, &mut buf, addr).await?;
    }
    send(&mut stream, args).await?;
    reply(&mut stream, &mut buf, addr).await
}

async fn send(stream: &mut tokio::net::TcpStream, args: &[&str]) -> anyhow::Result<()> {
    let mut req = format!("*{}\r\n", args.len());
    for a in args {
        req.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    stream.write_all(req.as_bytes()).await?;
    Ok(())
}

async fn reply(
    stream: &mut tokio::net::TcpStream,
    buf: &mut BytesMut,
    addr: &str,
) -> anyhow::Result<String> {
    loop {
        if let Some((frame, _, _)) = decode_bytes_mut(buf).context("bad reply")? {
            return match frame {
                BytesFrame::BulkString(b) | BytesFrame::SimpleString(b) => {
                    Ok(String::from_utf8_lossy(&b).to_string())
                }
                BytesFrame::Error(e) => bail!("{addr}: {e}"),
                other => bail!("{addr}: unexpected reply {other:?}"),
            };
        }
        if stream.read_buf(buf).await? == 0 {
            bail!("{addr}: connection closed");
        }
    }
}
