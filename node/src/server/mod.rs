//! The client side of a node: the RESP listener (plain and TLS), one session per connection
//! (read, parse, execute in order, reply), and what lives on a connection: its commands
//! (`conn`), MULTI/EXEC, blocking pops (and their queue, `turnstile`), pub/sub subscriptions and the queue others push to
//! (`outlet`), the registry of clients, ACL users as a session checks them, and the
//! operator's `CAIRN ...` command (`admin`: status, checks, membership, backups, repair).
//!
//! A session never writes the keyspace itself: reads go through `cluster::read_barrier`, writes
//! through `cluster::router`.

pub mod acl;
pub mod admin;
pub mod blocking;
pub mod clients;
pub mod conn;
pub mod listener;
pub mod outlet;
pub mod pubsub;
pub mod session;
pub mod tls;
pub mod transaction;
pub mod turnstile;
