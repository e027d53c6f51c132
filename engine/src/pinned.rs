//! A connection held across statements: by a transaction, or by the isolation mode.
//!
//! In isolation every task shares one connection, and savepoints only nest: two tasks whose
//! transactions interleaved would release or roll back each other's savepoints. So a
//! transaction begun in isolation *owns* the connection until it ends; statements and
//! transactions of other tasks wait their turn, as they would wait for a pooled connection in
//! production. A wait that sees the owner do nothing for `patience` is a deadlock (the owner
//! awaits the waiter): it fails with a message saying so instead of hanging.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{oneshot, Mutex, MutexGuard, Notify, OwnedMutexGuard};

use crate::backend::{BackendKind, Conn};
use crate::bridge::spawn_detached;
use crate::cancel::{cancellable, cancelled, unless_cancelled, AfterCancel};
use crate::errors::{EngineError, EngineResult};
use crate::runtime::generation;
use crate::savepoint::Savepoint;
use crate::statement::{Payload, Statement};
use crate::task::TaskRef;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// BEGIN ... COMMIT of one top-level transaction.
    Transaction,
    /// The test toolkit's outer transaction, shared by every task.
    Isolation {
        patience: Duration,
        single_connection: bool,
    },
}

/// The savepoint that guards each statement of an isolated PostgreSQL session.
fn statement_savepoint() -> Savepoint {
    Savepoint::named("yara_statement")
}

pub struct Pinned {
    /// Shared, so a job that outlives its caller can hold it (`try_lock_owned`).
    slot: Arc<Mutex<Slot>>,
    /// Woken when an owning transaction gives the connection back.
    released: Notify,
    /// Statements started plus statements finished: unchanged while the owner is idle.
    progress: AtomicU64,
    /// Statements running right now.
    busy: AtomicUsize,
    cache: bool,
    purpose: Purpose,
    generation: u64,
}

pub struct Slot {
    conn: Option<Conn>,
    /// Why `conn` is gone, for a statement that finds it so.
    gone: &'static str,
    /// PostgreSQL isolation: a per-statement savepoint is open, released lazily by the next
    /// statement (so a successful statement costs no extra round trip).
    statement_savepoint: bool,
    /// Isolation: the transactions holding the connection until they end (more than one
    /// only when a task that holds it begins another).
    owners: Vec<Owner>,
    /// SQLite ended the transaction under an interrupted write: later statements would run
    /// outside it, so they are refused until the transaction is rolled back.
    aborted: bool,
}

struct Owner {
    tx: u64,
    task: Option<Arc<TaskRef>>,
}

/// Who runs a statement: its transaction, and the task it came from.
#[derive(Default, Clone)]
pub struct Caller {
    pub tx: Option<u64>,
    pub task: Option<Arc<TaskRef>>,
}

impl Caller {
    pub fn task(task: Option<Arc<TaskRef>>) -> Caller {
        Caller { tx: None, task }
    }
}

impl Slot {
    pub fn conn(&self) -> EngineResult<&Conn> {
        self.conn
            .as_ref()
            .ok_or_else(|| EngineError::interface(self.gone))
    }

    pub fn take_conn(&mut self) -> Option<Conn> {
        self.statement_savepoint = false;
        self.aborted = false;
        self.owners.clear();
        self.conn.take()
    }

    /// Whether `caller` may use the connection now: nobody owns it, or the caller's own
    /// transaction or task does.
    fn admits(&self, caller: &Caller) -> bool {
        self.owners.is_empty()
            || self.owners.iter().any(|owner| {
                Some(owner.tx) == caller.tx
                    || matches!((&owner.task, &caller.task), (Some(a), Some(b)) if a.is(b))
            })
    }

    pub fn is_owned(&self) -> bool {
        !self.owners.is_empty()
    }

    pub fn is_aborted(&self) -> bool {
        self.aborted
    }

    pub fn is_owned_by(&self, tx: u64) -> bool {
        self.owners.iter().any(|owner| owner.tx == tx)
    }

    /// Run control SQL that ends the transaction and opens a new one: a transaction SQLite
    /// had ended under a cancelled write is usable again afterwards.
    pub async fn restart(&mut self, sql: &str) -> EngineResult<()> {
        self.statement_savepoint = false;
        self.conn()?.control(sql).await?;
        self.aborted = false;
        Ok(())
    }

    /// Run control SQL, after the pending per-statement release if there is one.
    pub async fn control(&mut self, sql: &str) -> EngineResult<()> {
        let full = if std::mem::take(&mut self.statement_savepoint) {
            format!("{}; {sql}", statement_savepoint().release())
        } else {
            sql.to_owned()
        };
        self.conn()?.control(&full).await
    }
}

impl Pinned {
    pub fn new(conn: Conn, cache: bool, purpose: Purpose) -> Arc<Pinned> {
        Arc::new(Pinned {
            slot: Arc::new(Mutex::new(Slot {
                conn: Some(conn),
                gone: match purpose {
                    Purpose::Transaction => "the transaction is already finished",
                    Purpose::Isolation { .. } => {
                        "the isolation this statement was issued in has ended (the test is over)"
                    }
                },
                statement_savepoint: false,
                owners: Vec::new(),
                aborted: false,
            })),
            released: Notify::new(),
            progress: AtomicU64::new(0),
            busy: AtomicUsize::new(0),
            cache,
            purpose,
            generation: generation(),
        })
    }

    /// The slot, whoever owns it: for ending the isolation or the engine.
    pub async fn lock(&self) -> MutexGuard<'_, Slot> {
        self.slot.lock().await
    }

    /// The slot if nobody holds it or waits for it right now, for a job that finishes after
    /// its caller returned (whatever the caller runs next queues behind it).
    pub fn try_lock_owned(&self) -> Option<OwnedMutexGuard<Slot>> {
        Arc::clone(&self.slot).try_lock_owned().ok()
    }

    /// The slot, once no other task's transaction owns the connection.
    pub async fn acquire(
        &self,
        caller: &Caller,
        cancel: &mut oneshot::Receiver<()>,
    ) -> EngineResult<MutexGuard<'_, Slot>> {
        let (patience, single_connection) = match self.purpose {
            Purpose::Isolation {
                patience,
                single_connection,
            } => (patience, single_connection),
            Purpose::Transaction => (Duration::MAX, false),
        };
        let started = Instant::now();
        let mut seen = self.activity();
        loop {
            let released = self.released.notified();
            tokio::pin!(released);
            // Registered before looking, so a release between the two is not missed.
            released.as_mut().enable();
            let slot = unless_cancelled(self.slot.lock(), cancel)
                .await
                .ok_or_else(cancelled)?;
            if slot.admits(caller) {
                return Ok(slot);
            }
            drop(slot);
            match unless_cancelled(tokio::time::timeout(patience, released), cancel).await {
                None => return Err(cancelled()),
                Some(Ok(())) => {}
                Some(Err(_)) => {
                    let now = self.activity();
                    if now == seen && self.busy.load(Ordering::Acquire) == 0 {
                        return Err(EngineError::IsolationDeadlock {
                            waited: started.elapsed(),
                            single_connection,
                        });
                    }
                    seen = now;
                }
            }
        }
    }

    fn activity(&self) -> u64 {
        self.progress.load(Ordering::Acquire)
    }

    /// Make transaction `tx` of `task` an owner (the caller holds the slot).
    pub fn claim(slot: &mut Slot, tx: u64, task: Option<Arc<TaskRef>>) {
        slot.owners.push(Owner { tx, task });
    }

    /// Transaction `tx` gives up the connection; once nobody owns it, every task may use it.
    pub fn disown(&self, slot: &mut Slot, tx: u64) {
        slot.owners.retain(|owner| owner.tx != tx);
        if slot.owners.is_empty() {
            self.released.notify_waiters();
        }
    }

    /// Every owner gives up the connection (their level is being rolled back).
    pub fn disown_all(&self, slot: &mut Slot) {
        slot.owners.clear();
        self.released.notify_waiters();
    }

    /// Run a statement once the connection is free for `caller`. With `guard_statement`
    /// (PostgreSQL isolation outside any transaction the caller opened) a failing statement
    /// rolls back alone instead of aborting the whole outer transaction, as it would in
    /// autocommit mode.
    pub async fn run(
        &self,
        stmt: Arc<Statement>,
        caller: &Caller,
        guard_statement: bool,
        mut cancel: oneshot::Receiver<()>,
    ) -> EngineResult<Payload> {
        let mut slot = self.acquire(caller, &mut cancel).await?;
        self.progress.fetch_add(1, Ordering::AcqRel);
        self.busy.fetch_add(1, Ordering::AcqRel);
        let outcome = self
            .run_in(&mut slot, &stmt, guard_statement, &mut cancel)
            .await;
        self.busy.fetch_sub(1, Ordering::AcqRel);
        self.progress.fetch_add(1, Ordering::AcqRel);
        outcome
    }

    async fn run_in(
        &self,
        slot: &mut Slot,
        stmt: &Arc<Statement>,
        guard_statement: bool,
        cancel: &mut oneshot::Receiver<()>,
    ) -> EngineResult<Payload> {
        if slot.aborted {
            return Err(EngineError::server(
                "25P02",
                "the transaction was ended by SQLite when a write in it was cancelled; roll it \
                 back (nothing in it was kept)",
            ));
        }
        let conn = slot.conn()?;
        // SQLite rolls back a whole transaction when a write in it is interrupted: in the
        // isolation that would end the test's transaction, so there statements run to their end.
        let canceller = match (self.purpose, conn) {
            (Purpose::Isolation { .. }, Conn::Sqlite(_)) => None,
            _ => Some(conn.canceller()),
        };
        let guard_statement = guard_statement && conn.kind() == BackendKind::Postgres;
        if !guard_statement {
            let (outcome, after) =
                cancellable(canceller, conn.run(stmt, self.cache, false), cancel).await;
            match after {
                AfterCancel::Discard => self.lose(slot),
                AfterCancel::Interrupted => {
                    if let Conn::Sqlite(worker) = conn {
                        // An interrupted write rolls the whole transaction back in SQLite.
                        let gone = worker.call(|c| Ok(c.is_autocommit())).await;
                        slot.aborted = gone.unwrap_or(true);
                    }
                }
                AfterCancel::Reusable => {}
            }
            return outcome;
        }
        let point = statement_savepoint();
        let prefix = if std::mem::take(&mut slot.statement_savepoint) {
            format!("{}; {}", point.release(), point.create())
        } else {
            point.create()
        };
        let conn = slot.conn()?;
        let work = async {
            // Pipelined: the savepoint and the statement leave together.
            let (saved, ran) =
                tokio::join!(conn.control(&prefix), conn.run(stmt, self.cache, false));
            saved?;
            ran
        };
        let (outcome, after) = cancellable(canceller, work, cancel).await;
        if after == AfterCancel::Discard {
            self.lose(slot);
            return outcome;
        }
        match outcome {
            Ok(payload) => {
                slot.statement_savepoint = true;
                Ok(payload)
            }
            Err(err) => {
                // If even this fails the outer transaction is aborted; later statements say so.
                let _ = conn.control(&point.undo()).await;
                Err(err)
            }
        }
    }

    /// A cancel request's fate is unknown: the connection cannot be trusted with another
    /// statement. Closing it ends its transaction on the server (nothing is committed).
    fn lose(&self, slot: &mut Slot) {
        if let Some(conn) = slot.take_conn() {
            conn.discard();
        }
        self.released.notify_waiters();
    }

    /// Take the connection away from every user, waking whoever waits for it.
    pub async fn take_conn(&self) -> Option<Conn> {
        let conn = self.slot.lock().await.take_conn();
        self.released.notify_waiters();
        conn
    }

    /// End whatever is open on the connection, undoing it, and give it back to its pool.
    pub async fn end(&self) {
        if let Some(conn) = self.take_conn().await {
            conn.rollback_and_release().await;
        }
    }
}

impl Drop for Pinned {
    fn drop(&mut self) {
        // Dropped while still holding a connection: nobody will finish this transaction. (A
        // job holding the slot holds this `Pinned` too, so the slot is not shared here.)
        let Some(slot) = Arc::get_mut(&mut self.slot) else {
            return;
        };
        if let Some(conn) = slot.get_mut().take_conn() {
            if self.generation == generation() {
                spawn_detached(conn.rollback_and_release());
            } else {
                std::mem::forget(conn); // the parent's, across a fork: see `runtime`
            }
        }
    }
}
