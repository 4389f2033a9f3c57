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
            self.out.clear();
            for key in keys {
                match op {
                    Op::Set => self.push_request(&[b"SET", key, value]),
                    Op::Get => self.push_request(&[b"GET", key]),
                    Op::Pfadd => self.push_request(&[b"PFADD", b"hll", key]),
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
