//! A RESP2 connection: requests written as arrays of bulk strings, replies read just far
//! enough to know each one's end and whether it is an error.

use std::future::Future;
use std::pin::Pin;

use anyhow::{bail, Context};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::{key_point, Conn, Op};

pub struct RespConn {
    stream: BufReader<TcpStream>,
    out: Vec<u8>,
    line: Vec<u8>,
}

impl RespConn {
    pub async fn connect(addr: &str) -> anyhow::Result<RespConn> {
        let stream = TcpStream::connect(addr)
            .await
            .with_context(|| format!("connecting to {addr}"))?;
        stream.set_nodelay(true)?;
        Ok(RespConn {
            stream: BufReader::with_capacity(64 * 1024, stream),
            out: Vec::new(),
            line: Vec::new(),
        })
    }

    fn push_request(&mut self, args: &[&[u8]]) {
        self.out
            .extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
        for a in args {
            self.out
                .extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            self.out.extend_from_slice(a);
            self.out.extend_from_slice(b"\r\n");
        }
    }

    /// Reads one reply, arrays included; whether it was an error.
    async fn read_reply(&mut self) -> anyhow::Result<bool> {
        self.read_reply_keeping(None).await
    }

    /// [`Self::read_reply`], keeping the reply's first bulk string that looks like a stream
    /// entry ID (`<ms>-<seq>`) in `id`.
    async fn read_reply_keeping(&mut self, mut id: Option<&mut Vec<u8>>) -> anyhow::Result<bool> {
        // Elements still to read: an array adds its own.
        let mut pending: u64 = 1;
        let mut error = false;
        while pending > 0 {
            pending -= 1;
            self.line.clear();
            let n = self.stream.read_until(b'\n', &mut self.line).await?;
            if n < 3 {
                bail!("the connection closed");
            }
            let body = &self.line[1..self.line.len() - 2];
            let number =
                || -> anyhow::Result<i64> { Ok(std::str::from_utf8(body)?.parse::<i64>()?) };
            match self.line[0] {
                b'+' | b':' => {}
                b'-' => error = true,
                b'$' => {
                    let len = number()?;
                    if len >= 0 {
                        let mut skip = vec![0u8; len as usize + 2];
                        self.stream.read_exact(&mut skip).await?;
                        let body = &skip[..len as usize];
                        let is_id = body.contains(&b'-')
                            && body.iter().all(|b| b.is_ascii_digit() || *b == b'-');
                        if let Some(id) = id.as_mut().filter(|id| id.is_empty() && is_id) {
                            id.extend_from_slice(body);
                        }
                    }
                }
                b'*' => pending += u64::try_from(number()?).unwrap_or(0),
                other => bail!("unexpected reply type {:?}", other as char),
            }
        }
        Ok(error)
    }
}

impl Conn for RespConn {
    fn batch<'a>(
        &'a mut self,
        op: Op,
        keys: &'a [Vec<u8>],
        value: &'a [u8],
    ) -> Pin<Box<dyn Future<Output = anyhow::Result<u64>> + Send + 'a>> {
        Box::pin(async move {
            if op == Op::Xreadgroup {
                return self.consume(keys.len()).await;
            }
            self.out.clear();
            for key in keys {
                match op {
                    Op::Set => self.push_request(&[b"SET", key, value]),
                    Op::Get => self.push_request(&[b"GET", key]),
                    Op::Pfadd => self.push_request(&[b"PFADD", b"hll", key]),
                    Op::Xadd => self.push_request(&[b"XADD", b"stream", b"*", b"k", key]),
                    Op::Xreadgroup => {}
                    Op::Geoadd => {
                        let (lon, lat) = key_point(key);
                        self.push_request(&[
                            b"GEOADD",
                            b"geo",
                            lon.as_bytes(),
                            lat.as_bytes(),
                            key,
                        ]);
                    }
                    Op::Geosearch => {
                        let (lon, lat) = key_point(key);
                        self.push_request(&[
                            b"GEOSEARCH",
                            b"geo",
                            b"FROMLONLAT",
                            lon.as_bytes(),
                            lat.as_bytes(),
                            b"BYRADIUS",
                            b"100",
                            b"km",
                            b"ASC",
                            b"COUNT",
                            b"10",
                        ]);
                    }
                }
            }
            self.stream.get_mut().write_all(&self.out).await?;
            let mut errors = 0;
            for _ in keys {
                if self.read_reply().await? {
                    errors += 1;
                }
            }
            Ok(errors)
        })
    }
}

impl RespConn {
    /// `n` consume cycles of a consumer-group worker: XREADGROUP one new entry of `stream`
    /// for group `g` (consumer: this connection), then XACK it. A cycle that finds nothing
    /// counts as done.
    async fn consume(&mut self, n: usize) -> anyhow::Result<u64> {
        let consumer = format!("c{:p}", self as *const _);
        let mut errors = 0;
        for _ in 0..n {
            self.out.clear();
            self.push_request(&[
                b"XREADGROUP",
                b"GROUP",
                b"g",
                consumer.as_bytes(),
                b"COUNT",
                b"1",
                b"STREAMS",
                b"stream",
                b">",
            ]);
            self.stream.get_mut().write_all(&self.out).await?;
            let mut id = Vec::new();
            if self.read_reply_keeping(Some(&mut id)).await? {
                errors += 1;
                continue;
            }
            if id.is_empty() {
                continue;
            }
            self.out.clear();
            self.push_request(&[b"XACK", b"stream", b"g", &id]);
            self.stream.get_mut().write_all(&self.out).await?;
            if self.read_reply().await? {
                errors += 1;
            }
        }
        Ok(errors)
    }
}
