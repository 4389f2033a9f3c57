//! `cairn status`: asks a running node (over RESP, `CAIRN STATUS`) for its view of the cluster
//! and prints it.

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
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .with_context(|| format!("connecting to {addr}"))?;
    let mut req = format!("*{}\r\n", args.len());
    for a in args {
        req.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    stream.write_all(req.as_bytes()).await?;
    let mut buf = BytesMut::new();
    loop {
        if let Some((frame, _, _)) = decode_bytes_mut(&mut buf).context("bad reply")? {
            return match frame {
                BytesFrame::BulkString(b) | BytesFrame::SimpleString(b) => {
                    Ok(String::from_utf8_lossy(&b).to_string())
                }
                BytesFrame::Error(e) => bail!("{addr}: {e}"),
                other => bail!("{addr}: unexpected reply {other:?}"),
            };
        }
        if stream.read_buf(&mut buf).await? == 0 {
            bail!("{addr}: connection closed");
        }
    }
}
