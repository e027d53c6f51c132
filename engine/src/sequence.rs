//! Call order for one transaction's operations. Python calls them one after another, but each
//! runs as its own Tokio task; when one is cancelled, Python moves on before that task has run,
//! and without an order the cancelled `RELEASE SAVEPOINT` could reach the server after the next
//! call's `ROLLBACK TO`. Each call takes a ticket when it is made (in order, under the GIL) and
//! runs only when every earlier ticket is done.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

#[derive(Default)]
pub struct Sequencer {
    state: Mutex<Queue>,
    advanced: Notify,
}

#[derive(Default)]
struct Queue {
    next: u64,
    serving: u64,
    /// Tickets finished out of turn (given up before they ran).
    finished: BTreeSet<u64>,
}

impl Sequencer {
    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The next place in line; hold it until the call is done (dropping it gives it up).
    pub fn ticket(self: &Arc<Self>) -> Ticket {
        let mut queue = self.lock();
        let number = queue.next;
        queue.next += 1;
        Ticket {
            sequencer: Arc::clone(self),
            number,
        }
    }

    fn finish(&self, number: u64) {
        let mut queue = self.lock();
        queue.finished.insert(number);
        loop {
            let serving = queue.serving;
            if !queue.finished.remove(&serving) {
                break;
            }
            queue.serving += 1;
        }
        drop(queue);
        self.advanced.notify_waiters();
    }
}

/// A place in line. Waiting on it returns once every earlier call is done; dropping it (run
/// or not) lets the later calls go.
pub struct Ticket {
    sequencer: Arc<Sequencer>,
    number: u64,
}

impl Ticket {
    pub async fn wait_turn(&self) {
        loop {
            let advanced = self.sequencer.advanced.notified();
            tokio::pin!(advanced);
            advanced.as_mut().enable();
            if self.sequencer.lock().serving == self.number {
                return;
            }
            advanced.await;
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.sequencer.finish(self.number);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn tickets_run_in_the_order_taken_even_when_one_is_given_up() {
        let sequencer = Arc::new(Sequencer::default());
        let first = sequencer.ticket();
        let second = sequencer.ticket();
        let third = sequencer.ticket();
        let order = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&order);
        let late = tokio::spawn(async move {
            third.wait_turn().await;
            log.lock().unwrap().push(3);
        });
        drop(second); // given up before its turn
        tokio::task::yield_now().await;
        assert!(order.lock().unwrap().is_empty(), "3 ran before 1 was done");
        first.wait_turn().await;
        order.lock().unwrap().push(1);
        drop(first);
        late.await.unwrap();
        assert_eq!(*order.lock().unwrap(), vec![1, 3]);
    }
}
