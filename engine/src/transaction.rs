//! Transactions: a pinned pooled connection between BEGIN and COMMIT/ROLLBACK, or, while the
//! engine is isolated, a savepoint on the isolation's connection that owns it until it ends.
//! Dropping an unfinished transaction, from any thread, rolls it back.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::sync::oneshot;

use crate::backend::BackendKind;
use crate::bridge::spawn_detached;
use crate::cancel::cancelled;
use crate::core::EngineCore;
use crate::errors::{EngineError, EngineResult};
use crate::fault::{Fault, FaultKind};
use crate::pinned::{Caller, Pinned, Purpose};
use crate::savepoint::{next_id, Savepoint};
use crate::sequence::{Sequencer, Ticket};
use crate::statement::{Payload, Statement};
use crate::task::TaskRef;

pub enum TxKind {
    /// BEGIN ... COMMIT on a connection of its own.
    TopLevel,
    /// A savepoint inside the isolation's transaction, alive while its level is; `id` owns
    /// the isolation's connection meanwhile.
    Savepoint {
        point: Savepoint,
        level: u64,
        id: u64,
    },
}

pub struct TxShared {
    pub core: Arc<EngineCore>,
    pinned: Arc<Pinned>,
    pub kind: TxKind,
    /// The statement that opened it, as the engine ran it.
    pub begin_sql: String,
    finished: AtomicBool,
    /// PostgreSQL: a statement failed, so COMMIT would silently roll back.
    failed: AtomicBool,
    /// The connection died under a statement: the server rolled everything back.
    lost: AtomicBool,
    /// Keeps the transaction's operations in the order they were called.
    pub sequencer: Arc<Sequencer>,
}

/// What a user's savepoint call does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SavepointAction {
    Create,
    Release,
    RollbackTo,
}

/// What every later use of a transaction whose connection was lost gets.
fn lost_earlier() -> EngineError {
    EngineError::server(
        "08006",
        "the connection was lost earlier in this transaction: the transaction is gone and \
         nothing in it was committed; roll it back and start again",
    )
}

fn aborted_by_sqlite() -> EngineError {
    EngineError::server(
        "25P02",
        "the transaction was ended by SQLite when a write in it was cancelled; roll it back \
         (nothing in it was kept)",
    )
}

/// Wait until every call made on the transaction before this one is done. A call cancelled
/// while it waited is not run at all (the caller has moved on without it).
async fn after_earlier_calls(
    ticket: &Ticket,
    cancel: &mut oneshot::Receiver<()>,
) -> EngineResult<()> {
    ticket.wait_turn().await;
    if cancel.try_recv().is_ok() {
        return Err(cancelled());
    }
    Ok(())
}

/// A cancellation signal that never fires, for work nobody can cancel (cleanup).
fn never_cancelled() -> oneshot::Receiver<()> {
    oneshot::channel().1
}

fn begin_sql(kind: BackendKind, isolation: Option<&str>) -> EngineResult<String> {
    let normalized =
        isolation.map(|level| level.trim().to_ascii_lowercase().replace(['_', '-'], " "));
    let valid: &[&str] = match kind {
        BackendKind::Postgres => &[
            "read uncommitted",
            "read committed",
            "repeatable read",
            "serializable",
        ],
        BackendKind::Sqlite => &["deferred", "immediate", "exclusive", "serializable"],
    };
    match (kind, normalized.as_deref()) {
        (BackendKind::Postgres, None) => Ok("BEGIN".to_owned()),
        // IMMEDIATE takes the write lock up front, so two writers cannot deadlock on upgrade.
        (BackendKind::Sqlite, None | Some("serializable")) => Ok("BEGIN IMMEDIATE".to_owned()),
        (_, Some(level)) if valid.contains(&level) => Ok(match kind {
            BackendKind::Postgres => {
                format!("BEGIN ISOLATION LEVEL {}", level.to_ascii_uppercase())
            }
            BackendKind::Sqlite => format!("BEGIN {}", level.to_ascii_uppercase()),
        }),
        (_, Some(_)) => Err(EngineError::config(format!(
            "unknown isolation level {:?} for {}; expected one of: {}",
            isolation.unwrap_or_default(),
            kind.name(),
            valid.join(", ")
        ))),
    }
}

/// Open a transaction; while the engine is isolated it becomes a savepoint that owns the
/// isolation's connection until it ends (the isolation level cannot be changed inside a
/// transaction, so it is checked and then ignored).
pub async fn begin(
    core: Arc<EngineCore>,
    isolation: Option<String>,
    task: Option<Arc<TaskRef>>,
    mut cancel: oneshot::Receiver<()>,
) -> EngineResult<TxShared> {
    let sql = begin_sql(core.backend.kind(), isolation.as_deref())?;
    if let Some((pinned, _)) = core.isolation_top() {
        let level = core.innermost_level().unwrap_or_default();
        let id = next_id();
        let point = Savepoint::generated("tx", id);
        {
            let mut slot = pinned
                .acquire(&Caller::task(task.clone()), &mut cancel)
                .await?;
            Pinned::claim(&mut slot, id, task);
            if let Err(err) = slot.control(&point.create()).await {
                pinned.disown(&mut slot, id);
                return Err(err);
            }
        }
        let begin_sql = point.create();
        return Ok(TxShared::new(
            core,
            pinned,
            TxKind::Savepoint { point, level, id },
            begin_sql,
        ));
    }
    let conn = core.backend.acquire().await?;
    if let Err(err) = conn.control(&sql).await {
        conn.rollback_and_release().await;
        return Err(err);
    }
    let pinned = Pinned::new(conn, core.backend.statement_cache(), Purpose::Transaction);
    core.track_transaction(&pinned);
    Ok(TxShared::new(core, pinned, TxKind::TopLevel, sql))
}

impl TxShared {
    fn new(
        core: Arc<EngineCore>,
        pinned: Arc<Pinned>,
        kind: TxKind,
        begin_sql: String,
    ) -> TxShared {
        TxShared {
            core,
            pinned,
            kind,
            begin_sql,
            finished: AtomicBool::new(false),
            failed: AtomicBool::new(false),
            lost: AtomicBool::new(false),
            sequencer: Arc::new(Sequencer::default()),
        }
    }

    /// The SQL `commit()` runs.
    pub fn commit_sql(&self) -> String {
        match &self.kind {
            TxKind::TopLevel => "COMMIT".to_owned(),
            TxKind::Savepoint { point, .. } => point.release(),
        }
    }

    /// The SQL `rollback()` runs.
    pub fn rollback_sql(&self) -> String {
        match &self.kind {
            TxKind::TopLevel => "ROLLBACK".to_owned(),
            TxKind::Savepoint { point, .. } => point.undo(),
        }
    }

    pub fn is_finished(&self) -> bool {
        self.finished.load(Ordering::Acquire)
    }

    /// Who this transaction's statements run as.
    fn caller(&self) -> Caller {
        match self.kind {
            TxKind::TopLevel => Caller::default(),
            TxKind::Savepoint { id, .. } => Caller {
                tx: Some(id),
                task: None,
            },
        }
    }

    fn check_open(&self) -> EngineResult<()> {
        if self.core.is_inherited() {
            return self.core.check_open();
        }
        if self.core.is_closed() {
            return Err(EngineError::interface(format!(
                "the engine for {} was closed; its open transactions were rolled back",
                self.core.url
            )));
        }
        if self.is_finished() {
            return Err(EngineError::interface(
                "the transaction is already finished",
            ));
        }
        if let TxKind::Savepoint { level, .. } = self.kind {
            if !self.core.level_alive(level) {
                return Err(EngineError::interface(
                    "the isolation level this transaction was begun in has been left; its work was rolled back",
                ));
            }
        }
        Ok(())
    }

    fn finish(&self) -> EngineResult<()> {
        self.check_open()?;
        if self.finished.swap(true, Ordering::AcqRel) {
            return Err(EngineError::interface(
                "the transaction is already finished",
            ));
        }
        Ok(())
    }

    /// Wait for this statement's turn (the calls made before it), then refuse it if the
    /// transaction is closed or its connection was lost earlier.
    async fn take_turn(
        &self,
        ticket: &Ticket,
        cancel: &mut oneshot::Receiver<()>,
    ) -> EngineResult<()> {
        after_earlier_calls(ticket, cancel).await?;
        self.check_open()?;
        if self.lost.load(Ordering::Acquire) {
            return Err(lost_earlier());
        }
        Ok(())
    }

    pub async fn run(
        self: Arc<Self>,
        stmt: Arc<Statement>,
        ticket: Ticket,
        mut cancel: oneshot::Receiver<()>,
    ) -> EngineResult<Payload> {
        self.take_turn(&ticket, &mut cancel).await?;
        let result = self.pinned.run(stmt, &self.caller(), false, cancel).await;
        if let Err(err @ EngineError::Server(_)) = &result {
            self.failed.store(true, Ordering::Release);
            if err.is_connection_loss() {
                self.lost.store(true, Ordering::Release);
            }
        }
        result
    }

    /// A statement the database simulation fails before it reaches the connection: a refused
    /// connection (`error` alone), or a lost one, which takes the transaction with it as a real
    /// loss does. A savepoint inside the test isolation cannot lose the shared connection, so
    /// it is rolled back and let go in its place: later statements in it fail, the rest of
    /// the test goes on, and the isolation still rolls everything back at its end.
    pub async fn injected_failure(
        self: Arc<Self>,
        kind: FaultKind,
        error: EngineError,
        ticket: Ticket,
        mut cancel: oneshot::Receiver<()>,
    ) -> EngineResult<Payload> {
        self.take_turn(&ticket, &mut cancel).await?;
        if kind != FaultKind::ConnectionLost {
            return Err(error);
        }
        self.failed.store(true, Ordering::Release);
        self.lost.store(true, Ordering::Release);
        match &self.kind {
            TxKind::TopLevel => {
                // Closing the connection ends its transaction on the server, as a loss does.
                if let Some(conn) = self.pinned.take_conn().await {
                    conn.discard();
                }
            }
            TxKind::Savepoint { point, id, .. } => {
                let mut slot = self
                    .pinned
                    .acquire(&self.caller(), &mut never_cancelled())
                    .await?;
                if slot.is_owned_by(*id) {
                    let _ = slot.control(&point.undo()).await;
                    self.pinned.disown(&mut slot, *id);
                }
            }
        }
        Err(error)
    }

    /// After a loss: a top-level transaction's connection cannot be trusted with anything
    /// more; a savepoint lets the isolation's connection go if it still holds it.
    async fn discard_lost_connection(&self) {
        match &self.kind {
            TxKind::TopLevel => {
                if let Some(conn) = self.pinned.take_conn().await {
                    conn.discard();
                }
            }
            TxKind::Savepoint { id, .. } => {
                let mut slot = self.pinned.lock().await;
                if slot.is_owned_by(*id) {
                    self.pinned.disown(&mut slot, *id);
                }
            }
        }
    }

    /// Savepoint control SQL on this transaction's connection.
    async fn savepoint_control(&self, sql: &str) -> EngineResult<()> {
        let mut slot = self
            .pinned
            .acquire(&self.caller(), &mut never_cancelled())
            .await?;
        slot.control(sql).await
    }

    /// End a savepoint-kind transaction with `sql`, then let other tasks have the connection.
    async fn end_savepoint(
        &self,
        id: u64,
        sql: &str,
        undo_on_failure: Option<&str>,
    ) -> EngineResult<()> {
        let mut slot = self
            .pinned
            .acquire(&self.caller(), &mut never_cancelled())
            .await?;
        let result = slot.control(sql).await;
        if let (Err(_), Some(undo)) = (&result, undo_on_failure) {
            // Leave the outer transaction usable whatever happened inside.
            let _ = slot.control(undo).await;
        }
        self.pinned.disown(&mut slot, id);
        result
    }

    /// Commit; `fault`, injected by the database simulation, fails it instead.
    pub async fn commit(
        self: Arc<Self>,
        ticket: Ticket,
        mut cancel: oneshot::Receiver<()>,
        fault: Option<Arc<Fault>>,
    ) -> EngineResult<()> {
        after_earlier_calls(&ticket, &mut cancel).await?;
        self.finish()?;
        if self.lost.load(Ordering::Acquire) {
            self.discard_lost_connection().await;
            return Err(EngineError::server(
                "08006",
                "the connection was lost during the transaction: nothing was committed",
            ));
        }
        if let Some(fault) = fault {
            self.fail_commit(fault.kind).await;
            return Err(fault.error("COMMIT", &self.core.url));
        }
        match &self.kind {
            TxKind::TopLevel => {
                let aborted = self.pinned.lock().await.is_aborted();
                let Some(conn) = self.pinned.take_conn().await else {
                    return Err(EngineError::interface(
                        "the transaction is already finished",
                    ));
                };
                if aborted {
                    conn.rollback_and_release().await;
                    return Err(aborted_by_sqlite());
                }
                let postgres = self.core.backend.kind() == BackendKind::Postgres;
                if postgres && self.failed.load(Ordering::Acquire) {
                    conn.rollback_and_release().await;
                    return Err(EngineError::server(
                        "25P02",
                        "the transaction was rolled back, not committed: a statement in it failed",
                    ));
                }
                match conn.control("COMMIT").await {
                    Ok(()) => Ok(()),
                    Err(err) => {
                        conn.rollback_and_release().await;
                        Err(err)
                    }
                }
            }
            TxKind::Savepoint { point, id, .. } => {
                self.end_savepoint(*id, &point.release(), Some(&point.undo()))
                    .await
            }
        }
    }

    /// A COMMIT the database simulation fails: as when the server refuses one (a
    /// serialization failure of a SERIALIZABLE transaction), nothing is committed and the
    /// transaction is over; a lost connection goes with it.
    async fn fail_commit(&self, kind: FaultKind) {
        match &self.kind {
            TxKind::TopLevel => {
                if let Some(conn) = self.pinned.take_conn().await {
                    if kind == FaultKind::ConnectionLost {
                        conn.discard();
                    } else {
                        conn.rollback_and_release().await;
                    }
                }
            }
            TxKind::Savepoint { point, id, .. } => {
                let _ = self.end_savepoint(*id, &point.undo(), None).await;
            }
        }
    }

    /// Roll back; never skipped, even when its caller gave up waiting (it is the cleanup).
    pub async fn rollback(self: Arc<Self>, ticket: Ticket) -> EngineResult<()> {
        ticket.wait_turn().await;
        self.finish()?;
        if self.lost.load(Ordering::Acquire) {
            // The loss ended the transaction: nothing is left to undo.
            self.discard_lost_connection().await;
            return Ok(());
        }
        match &self.kind {
            TxKind::TopLevel => {
                if let Some(conn) = self.pinned.take_conn().await {
                    if let Err(err) = conn.rollback().await {
                        conn.discard();
                        return Err(err);
                    }
                }
                Ok(())
            }
            TxKind::Savepoint { point, id, .. } => {
                self.end_savepoint(*id, &point.undo(), None).await
            }
        }
    }

    /// A savepoint the user named, inside this transaction.
    pub async fn user_savepoint(
        self: Arc<Self>,
        point: Savepoint,
        action: SavepointAction,
        ticket: Ticket,
        mut cancel: oneshot::Receiver<()>,
    ) -> EngineResult<()> {
        // Leaving a savepoint is cleanup: it runs even when its caller gave up waiting.
        if action == SavepointAction::Create {
            after_earlier_calls(&ticket, &mut cancel).await?;
        } else {
            ticket.wait_turn().await;
        }
        self.check_open()?;
        if self.lost.load(Ordering::Acquire) {
            // As after SQLite's abort below: leaving a savepoint has nothing left to do.
            return match action {
                SavepointAction::Create => Err(lost_earlier()),
                SavepointAction::Release | SavepointAction::RollbackTo => Ok(()),
            };
        }
        if self.pinned.lock().await.is_aborted() {
            // SQLite already undid the whole transaction: leaving a savepoint has nothing
            // left to do (and the transaction stays refused until it is rolled back).
            return match action {
                SavepointAction::Create => Err(aborted_by_sqlite()),
                SavepointAction::Release | SavepointAction::RollbackTo => Ok(()),
            };
        }
        let sql = match action {
            SavepointAction::Create => point.create(),
            SavepointAction::Release => point.release(),
            SavepointAction::RollbackTo => point.rollback_to(),
        };
        self.savepoint_control(&sql).await?;
        if action == SavepointAction::RollbackTo {
            self.failed.store(false, Ordering::Release);
        }
        Ok(())
    }
}

impl Drop for TxShared {
    fn drop(&mut self) {
        if self.is_finished() || self.core.is_inherited() {
            return;
        }
        // A top-level transaction is rolled back when its pinned connection is dropped.
        if let TxKind::Savepoint { point, level, id } = &self.kind {
            if self.core.level_alive(*level) {
                let pinned = Arc::clone(&self.pinned);
                let undo = point.undo();
                let id = *id;
                let caller = self.caller();
                spawn_detached(async move {
                    if let Ok(mut slot) = pinned.acquire(&caller, &mut never_cancelled()).await {
                        if slot.is_owned_by(id) {
                            let _ = slot.control(&undo).await;
                            pinned.disown(&mut slot, id);
                        }
                    }
                });
            }
        }
    }
}
