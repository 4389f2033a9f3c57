//! A connection's message queue as others push to it: pub/sub messages and client-side
//! caching's invalidations, which the connection writes between replies. A queue that
//! overflows marks the connection for closing (a client too slow to read its messages).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use cairn_protocol::Reply;
use tokio::sync::mpsc;

/// The sending end of one connection's queue.
#[derive(Clone)]
pub struct Outlet {
    tx: mpsc::Sender<Reply>,
    /// Set when the queue overflowed: the connection must close.
    overflowed: Arc<AtomicBool>,
}

impl Outlet {
    /// A queue of `capacity` messages: its sending end and its receiving end.
    pub fn channel(capacity: usize) -> (Outlet, mpsc::Receiver<Reply>) {
        let (tx, rx) = mpsc::channel(capacity);
        let outlet = Outlet {
            tx,
            overflowed: Arc::new(AtomicBool::new(false)),
        };
        (outlet, rx)
    }

    /// Queues a message; false if the queue is full (the connection will close) or gone.
    pub fn send(&self, message: Reply) -> bool {
        match self.tx.try_send(message) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.overflowed.store(true, Ordering::Relaxed);
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    /// Whether a message was ever refused for a full queue.
    pub fn overflowed(&self) -> bool {
        self.overflowed.load(Ordering::Relaxed)
    }
}

impl std::fmt::Debug for Outlet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Outlet")
    }
}
