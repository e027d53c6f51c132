//! Transactions: a pinned pooled connection between BEGIN and COMMIT/ROLLBACK, or, while the
//! engine is isolated, a savepoint on the isolation's connection. Dropping an unfinished
//! transaction, from any thread, rolls it back.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use pyo3::prelude::*;
use tokio::sync::oneshot;

use crate::bridge::{spawn_detached, spawn_outcome};
use crate::engine::EngineCore;
use crate::errors::{EngineError, EngineResult};
use crate::isolation::{next_id, quote_identifier, savepoint_name};
use crate::runner::StatementRunner;
use crate::session::{BackendKind, Pinned};
use crate::statement::{Payload, Statement};

pub enum TxKind {
    /// BEGIN ... COMMIT on a connection of its own.
    TopLevel,
    /// A savepoint inside the isolation's transaction, alive while its level is.
    Savepoint { name: String, level: u64 },
}

pub struct TxShared {
    core: Arc<EngineCore>,
    pinned: Arc<Pinned>,
    kind: TxKind,
    finished: AtomicBool,
    /// PostgreSQL: a statement failed, so COMMIT would silently roll back.
    failed: AtomicBool,
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

/// Open a transaction; while the engine is isolated it becomes a savepoint (the isolation
/// level cannot be changed inside a transaction, so it is checked and then ignored).
pub async fn begin(core: Arc<EngineCore>, isolation: Option<String>) -> EngineResult<TxShared> {
    let sql = begin_sql(core.backend.kind(), isolation.as_deref())?;
    if let Some((pinned, _)) = core.isolation_top() {
        let level = core.innermost_level().unwrap_or_default();
        let name = savepoint_name("tx", next_id());
        {
            let mut slot = pinned.lock().await;
            let create = format!("{}SAVEPOINT {name}", slot.take_pending_release());
            slot.conn()?.control(&create).await?;
        }
        return Ok(TxShared::new(
            core,
            pinned,
            TxKind::Savepoint { name, level },
        ));
    }
    let conn = core.backend.acquire().await?;
    if let Err(err) = conn.control(&sql).await {
        conn.rollback_and_release().await;
        return Err(err);
    }
    let pinned = Pinned::new(conn, core.backend.statement_cache());
    Ok(TxShared::new(core, pinned, TxKind::TopLevel))
}

impl TxShared {
    fn new(core: Arc<EngineCore>, pinned: Arc<Pinned>, kind: TxKind) -> TxShared {
        TxShared {
            core,
            pinned,
            kind,
            finished: AtomicBool::new(false),
            failed: AtomicBool::new(false),
        }
    }

    fn check_open(&self) -> EngineResult<()> {
        if self.finished.load(Ordering::Acquire) {
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

    pub async fn run(
        self: Arc<Self>,
        stmt: Arc<Statement>,
        cancel: oneshot::Receiver<()>,
    ) -> EngineResult<Payload> {
        self.check_open()?;
        let result = self.pinned.run(stmt, false, cancel).await;
        if let Err(EngineError::Server(_)) = result {
            self.failed.store(true, Ordering::Release);
        }
        result
    }

    /// Savepoint control SQL, after any pending per-statement release of the isolation.
    async fn savepoint_control(&self, sql: &str) -> EngineResult<()> {
        let mut slot = self.pinned.lock().await;
        let full = format!("{}{sql}", slot.take_pending_release());
        slot.conn()?.control(&full).await
    }

    async fn commit(self: Arc<Self>) -> EngineResult<()> {
        self.finish()?;
        match &self.kind {
            TxKind::TopLevel => {
                let conn = self.pinned.lock().await.take_conn();
                let Some(conn) = conn else {
                    return Err(EngineError::interface(
                        "the transaction is already finished",
                    ));
                };
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
            TxKind::Savepoint { name, .. } => {
                let release = format!("RELEASE SAVEPOINT {name}");
                if let Err(err) = self.savepoint_control(&release).await {
                    // Leave the outer transaction usable whatever happened inside.
                    let undo = format!("ROLLBACK TO SAVEPOINT {name}; RELEASE SAVEPOINT {name}");
                    let _ = self.savepoint_control(&undo).await;
                    return Err(err);
                }
                Ok(())
            }
        }
    }

    async fn rollback(self: Arc<Self>) -> EngineResult<()> {
        self.finish()?;
        match &self.kind {
            TxKind::TopLevel => {
                let conn = self.pinned.lock().await.take_conn();
                if let Some(conn) = conn {
                    if let Err(err) = conn.control("ROLLBACK").await {
                        conn.discard();
                        return Err(err);
                    }
                }
                Ok(())
            }
            TxKind::Savepoint { name, .. } => {
                self.savepoint_control(&format!(
                    "ROLLBACK TO SAVEPOINT {name}; RELEASE SAVEPOINT {name}"
                ))
                .await
            }
        }
    }

    async fn user_savepoint(
        self: Arc<Self>,
        sql: String,
        clears_failure: bool,
    ) -> EngineResult<()> {
        self.check_open()?;
        self.savepoint_control(&sql).await?;
        if clears_failure {
            self.failed.store(false, Ordering::Release);
        }
        Ok(())
    }
}

impl Drop for TxShared {
    fn drop(&mut self) {
        if self.finished.load(Ordering::Acquire) {
            return;
        }
        // A top-level transaction is rolled back when its pinned connection is dropped.
        if let TxKind::Savepoint { name, level } = &self.kind {
            if self.core.level_alive(*level) {
                let pinned = Arc::clone(&self.pinned);
                let undo = format!("ROLLBACK TO SAVEPOINT {name}; RELEASE SAVEPOINT {name}");
                spawn_detached(async move {
                    let mut slot = pinned.lock().await;
                    let sql = format!("{}{undo}", slot.take_pending_release());
                    if let Ok(conn) = slot.conn() {
                        let _ = conn.control(&sql).await;
                    }
                });
            }
        }
    }
}

/// A transaction. Statements run on its connection; finish it with `commit()` or
/// `rollback()` (dropping it unfinished rolls it back).
#[pyclass(module = "yara_orm._engine", extends = StatementRunner, frozen)]
pub struct Transaction {
    shared: Arc<TxShared>,
}

/// A new `Transaction` on its way to Python (a subclass needs its base built with it).
pub struct NewTransaction(pub TxShared);

impl<'py> IntoPyObject<'py> for NewTransaction {
    type Target = Transaction;
    type Output = Bound<'py, Transaction>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, Transaction>> {
        let shared = Arc::new(self.0);
        let base = StatementRunner::for_transaction(Arc::clone(&shared.core), Arc::clone(&shared));
        Bound::new(
            py,
            PyClassInitializer::from(base).add_subclass(Transaction { shared }),
        )
    }
}

impl Transaction {
    fn control<'py>(
        &self,
        py: Python<'py>,
        sql: String,
        clears_failure: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let shared = Arc::clone(&self.shared);
        spawn_outcome(py, move |_| shared.user_savepoint(sql, clears_failure))
    }
}

#[pymethods]
impl Transaction {
    /// Create a named savepoint inside this transaction.
    fn savepoint<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
        self.control(py, format!("SAVEPOINT {}", quote_identifier(name)), false)
    }

    /// Release (keep the work of) a named savepoint.
    fn release<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
        self.control(
            py,
            format!("RELEASE SAVEPOINT {}", quote_identifier(name)),
            false,
        )
    }

    /// Undo everything since a named savepoint; the savepoint stays usable.
    fn rollback_to<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
        self.control(
            py,
            format!("ROLLBACK TO SAVEPOINT {}", quote_identifier(name)),
            true,
        )
    }

    fn commit<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let shared = Arc::clone(&self.shared);
        spawn_outcome(py, move |_| shared.commit())
    }

    fn rollback<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let shared = Arc::clone(&self.shared);
        spawn_outcome(py, move |_| shared.rollback())
    }

    /// True once committed or rolled back.
    #[getter]
    fn is_finished(&self) -> bool {
        self.shared.finished.load(Ordering::Acquire)
    }

    /// True when this transaction is a savepoint inside the engine's isolation mode.
    #[getter]
    fn is_savepoint(&self) -> bool {
        matches!(self.shared.kind, TxKind::Savepoint { .. })
    }

    fn __repr__(&self) -> String {
        let state = if self.is_finished() {
            "finished"
        } else {
            "open"
        };
        let kind = if self.is_savepoint() {
            "savepoint"
        } else {
            "transaction"
        };
        format!("<Transaction {kind} {state} on {}>", self.shared.core.url)
    }
}
