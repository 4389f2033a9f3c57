//! The queue of a node's blocked clients (BLPOP and the other blocking commands): the order
//! in which they look at a change, kept by the node, used by `blocking`.

use std::collections::BTreeMap;

use tokio::sync::Notify;

/// Serves a node's blocked clients first come, first served, as Redis does: after each
/// change, waiters look (and pop) one at a time in the order they blocked. Across nodes
/// there is no order: each node queues its own clients.
#[derive(Default)]
pub struct Turnstile {
    /// Ticket → the last change round its waiter has finished.
    waiters: std::sync::Mutex<BTreeMap<u64, u64>>,
    next: std::sync::atomic::AtomicU64,
    moved: Notify,
}

impl Turnstile {
    fn waiters(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, u64>> {
        self.waiters
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Completes once every older waiter has finished round `round` (or left).
    pub async fn turn(&self, ticket: u64, round: u64) {
        loop {
            let moved = self.moved.notified();
            tokio::pin!(moved);
            moved.as_mut().enable();
            let ready = self
                .waiters()
                .range(..ticket)
                .all(|(_, done)| *done >= round);
            if ready {
                return;
            }
            moved.await;
        }
    }

    pub fn done(&self, ticket: u64, round: u64) {
        if let Some(done) = self.waiters().get_mut(&ticket) {
            *done = (*done).max(round);
        }
        self.moved.notify_waiters();
    }
}

/// A place in the node's [`Turnstile`], left when dropped.
pub struct Ticket<'a>(pub u64, &'a Turnstile);

impl<'a> Ticket<'a> {
    /// Joins the queue, having looked at round `round` already.
    pub fn new(turnstile: &'a Turnstile, round: u64) -> Self {
        let ticket = turnstile
            .next
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        turnstile.waiters().insert(ticket, round);
        Ticket(ticket, turnstile)
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        self.1.waiters().remove(&self.0);
        self.1.moved.notify_waiters();
    }
}
