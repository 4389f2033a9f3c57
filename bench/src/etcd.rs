//! An etcd connection: one gRPC channel (HTTP/2) per client, as etcd's own benchmark tool
//! gives each client; a pipeline of P is P concurrent calls on it.

use std::future::Future;
use std::pin::Pin;

use anyhow::Context;

use crate::{Conn, Op};

mod pb {
    tonic::include_proto!("etcdserverpb");
}

use pb::kv_client::KvClient;
use pb::{PutRequest, RangeRequest};

pub struct EtcdConn {
    client: KvClient<tonic::transport::Channel>,
}

impl EtcdConn {
    pub async fn connect(addr: &str) -> anyhow::Result<EtcdConn> {
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))?
            .tcp_nodelay(true)
            .connect()
            .await
            .with_context(|| format!("connecting to etcd at {addr}"))?;
        Ok(EtcdConn {
            client: KvClient::new(channel),
        })
    }
}

impl Conn for EtcdConn {
    fn batch<'a>(
        &'a mut self,
        op: Op,
        keys: &'a [Vec<u8>],
        value: &'a [u8],
    ) -> Pin<Box<dyn Future<Output = anyhow::Result<u64>> + Send + 'a>> {
        Box::pin(async move {
            let calls = keys.iter().map(|key| {
                let mut client = self.client.clone();
                let key = key.clone();
                async move {
                    match op {
                        Op::Set => client
                            .put(PutRequest {
                                key,
                                value: value.to_vec(),
                                lease: 0,
                            })
                            .await
                            .map(|_| ()),
                        Op::Get => client
                            .range(RangeRequest {
                                key,
                                range_end: Vec::new(),
                                limit: 0,
                                revision: 0,
                                serializable: false,
                            })
                            .await
                            .map(|_| ()),
                        // Refused before any load starts (`Op::on_etcd`).
                        Op::Pfadd | Op::Geoadd | Op::Geosearch | Op::Xadd | Op::Xreadgroup => {
                            Ok(())
                        }
                    }
                }
            });
            let results = futures::future::join_all(calls).await;
            Ok(results.iter().filter(|r| r.is_err()).count() as u64)
        })
    }
}
