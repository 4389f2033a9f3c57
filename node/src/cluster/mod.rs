//! This node's place in the Raft cluster: the [`handle::Cluster`] the other parts take, this
//! node's copy of the data ([`replica::Replica`]), the
//! write path to the leader (`router`), linearizable reads (`read_barrier`), bootstrap and
//! membership, leadership hand-off, replicas' consistency checks (`checker`, `integrity`) and
//! repair, a lost disk's way back (`amnesia`), WAIT, and Redis Cluster's view of it
//! (`CLUSTER ...` in `redis_cluster`, `cairn status`). The `CAIRN ...` command that drives
//! these parts (and backups) is a client command, in `server::admin`.

pub mod amnesia;
pub mod bootstrap;
pub mod checker;
pub mod handle;
pub mod handoff;
pub mod integrity;
pub mod membership;
pub mod read_barrier;
pub mod redis_cluster;
pub mod repair;
pub mod replica;
pub mod router;
pub mod status;
pub mod wait;
