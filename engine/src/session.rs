//! Where a statement runs: a pooled connection for one statement, or a pinned connection
//! held by a transaction or by the isolation mode. Both backends behind one face.

use std::future::Future;
use std::sync::Arc;

use deadpool::managed::Object as SqliteObject;
use rusqlite::InterruptHandle;
use tokio::sync::{oneshot, Mutex};

use crate::bridge::spawn_detached;
use crate::errors::{EngineError, EngineResult};
use crate::postgres::{self, PgBackend, PgConn};
use crate::sqlite::{self, SqliteBackend, SqliteConn};
use crate::statement::{Action, Payload, Statement};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    Postgres,
    Sqlite,
}

impl BackendKind {
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Postgres => "postgres",
            BackendKind::Sqlite => "sqlite",
        }
    }
}

pub enum Backend {
    Pg(PgBackend),
    Sqlite(SqliteBackend),
}

impl Backend {
    pub fn kind(&self) -> BackendKind {
        match self {
            Backend::Pg(_) => BackendKind::Postgres,
            Backend::Sqlite(_) => BackendKind::Sqlite,
        }
    }

    pub fn statement_cache(&self) -> bool {
        match self {
            Backend::Pg(pg) => pg.statement_cache(),
            Backend::Sqlite(lite) => lite.statement_cache(),
        }
    }

    pub async fn acquire(&self) -> EngineResult<Conn> {
        match self {
            Backend::Pg(pg) => pg.acquire().await.map(Conn::Pg),
            Backend::Sqlite(lite) => lite.acquire().await.map(Conn::Sqlite),
        }
    }

    pub fn close(&self) {
        match self {
            Backend::Pg(pg) => pg.close(),
            Backend::Sqlite(lite) => lite.close(),
        }
    }

    /// (open connections, idle connections, max_size)
    pub fn status(&self) -> (usize, usize, usize) {
        match self {
            Backend::Pg(pg) => pg.status(),
            Backend::Sqlite(lite) => lite.status(),
        }
    }
}

/// One connection checked out of a pool; dropping it gives it back.
pub enum Conn {
    Pg(PgConn),
    Sqlite(SqliteConn),
}

/// Stops whatever statement is running on a connection.
pub enum Canceller {
    Pg(tokio_postgres::CancelToken),
    Sqlite(Arc<InterruptHandle>),
}

impl Canceller {
    async fn cancel(self) {
        match self {
            Canceller::Pg(token) => postgres::cancel(token).await,
            Canceller::Sqlite(handle) => handle.interrupt(),
        }
    }
}

impl Conn {
    pub async fn run(
        &self,
        stmt: &Arc<Statement>,
        cache: bool,
        retry_stale_plan: bool,
    ) -> EngineResult<Payload> {
        match self {
            Conn::Pg(conn) => postgres::run(conn, stmt, cache, retry_stale_plan).await,
            Conn::Sqlite(worker) => {
                let stmt = Arc::clone(stmt);
                worker
                    .call(move |conn| sqlite::run(conn, &stmt, cache))
                    .await
            }
        }
    }

    /// Transaction control and other parameterless SQL.
    pub async fn control(&self, sql: &str) -> EngineResult<()> {
        self.run(&Arc::new(Statement::control(sql)), false, false)
            .await
            .map(|_| ())
    }

    fn canceller(&self) -> Canceller {
        match self {
            Conn::Pg(conn) => Canceller::Pg(conn.cancel_token()),
            Conn::Sqlite(worker) => Canceller::Sqlite(worker.interrupt_handle()),
        }
    }

    /// Close the connection instead of returning it: its state is unknown.
    pub fn discard(self) {
        match self {
            Conn::Pg(conn) => drop(deadpool_postgres::Object::take(conn)),
            Conn::Sqlite(conn) => drop(SqliteObject::take(conn)),
        }
    }

    /// Roll back and give the connection back to its pool, or close it if that fails.
    pub async fn rollback_and_release(self) {
        if self.control("ROLLBACK").await.is_err() {
            self.discard();
        }
    }
}

/// The error a statement ends with when its caller cancelled it before it started.
fn cancelled() -> EngineError {
    EngineError::server("57014", "canceling statement due to user request")
}

/// Run `work`; if the caller cancels meanwhile, ask the server to stop it and still wait for
/// it to finish, so the connection is never left mid-exchange.
async fn cancellable<F: Future>(
    canceller: Canceller,
    work: F,
    cancel: &mut oneshot::Receiver<()>,
) -> F::Output {
    tokio::pin!(work);
    tokio::select! {
        biased;
        out = &mut work => return out,
        Ok(()) = &mut *cancel => {}
    }
    canceller.cancel().await;
    work.await
}

/// Wait for `work` unless the caller cancels first (nothing has been sent yet).
async fn unless_cancelled<F: Future>(
    work: F,
    cancel: &mut oneshot::Receiver<()>,
) -> Option<F::Output> {
    tokio::select! {
        biased;
        out = work => Some(out),
        Ok(()) = &mut *cancel => None,
    }
}

/// Autocommit statements outside any transaction: one pooled connection per statement.
pub async fn run_pooled(
    backend: &Backend,
    stmt: Arc<Statement>,
    mut cancel: oneshot::Receiver<()>,
) -> EngineResult<Payload> {
    let conn = unless_cancelled(backend.acquire(), &mut cancel)
        .await
        .ok_or_else(cancelled)??;
    let cache = backend.statement_cache();
    let canceller = conn.canceller();
    if stmt.action == Action::ExecuteMany && matches!(conn, Conn::Pg(_)) {
        // All or nothing, as one transaction (SQLite wraps batches itself).
        let work = async {
            let (begun, ran) = tokio::join!(conn.control("BEGIN"), conn.run(&stmt, cache, false));
            begun?;
            ran
        };
        return match cancellable(canceller, work, &mut cancel).await {
            Ok(payload) => conn.control("COMMIT").await.map(|_| payload),
            Err(err) => {
                conn.rollback_and_release().await;
                Err(err)
            }
        };
    }
    cancellable(canceller, conn.run(&stmt, cache, true), &mut cancel).await
}

/// The name of the savepoint that guards each statement of an isolated PostgreSQL session.
const STATEMENT_SAVEPOINT: &str = "\"yara_statement\"";

/// A connection held across statements (a transaction, or the isolation mode).
pub struct Pinned {
    slot: Mutex<Slot>,
    cache: bool,
}

pub struct Slot {
    conn: Option<Conn>,
    /// PostgreSQL isolation: a per-statement savepoint is open, released lazily by the next
    /// statement (so a successful statement costs no extra round trip).
    statement_savepoint: bool,
}

impl Slot {
    /// SQL that must precede any other savepoint operation: the lazy release, if pending.
    pub fn take_pending_release(&mut self) -> String {
        if std::mem::take(&mut self.statement_savepoint) {
            format!("RELEASE SAVEPOINT {STATEMENT_SAVEPOINT}; ")
        } else {
            String::new()
        }
    }

    pub fn conn(&self) -> EngineResult<&Conn> {
        self.conn
            .as_ref()
            .ok_or_else(|| EngineError::interface("the transaction is already finished"))
    }

    pub fn take_conn(&mut self) -> Option<Conn> {
        self.statement_savepoint = false;
        self.conn.take()
    }
}

impl Pinned {
    pub fn new(conn: Conn, cache: bool) -> Arc<Pinned> {
        Arc::new(Pinned {
            slot: Mutex::new(Slot {
                conn: Some(conn),
                statement_savepoint: false,
            }),
            cache,
        })
    }

    pub async fn lock(&self) -> tokio::sync::MutexGuard<'_, Slot> {
        self.slot.lock().await
    }

    /// Run a statement. With `guard_statement` (PostgreSQL isolation outside any transaction
    /// the caller opened) a failing statement rolls back alone instead of aborting the whole
    /// outer transaction, as it would in autocommit mode.
    pub async fn run(
        &self,
        stmt: Arc<Statement>,
        guard_statement: bool,
        mut cancel: oneshot::Receiver<()>,
    ) -> EngineResult<Payload> {
        let mut slot = unless_cancelled(self.slot.lock(), &mut cancel)
            .await
            .ok_or_else(cancelled)?;
        let conn = slot.conn()?;
        let canceller = conn.canceller();
        let guard_statement = guard_statement && matches!(conn, Conn::Pg(_));
        if !guard_statement {
            return cancellable(canceller, conn.run(&stmt, self.cache, false), &mut cancel).await;
        }
        let prefix = format!(
            "{}SAVEPOINT {STATEMENT_SAVEPOINT}",
            slot.take_pending_release()
        );
        let conn = slot.conn()?;
        let work = async {
            // Pipelined: the savepoint and the statement leave together.
            let (saved, ran) =
                tokio::join!(conn.control(&prefix), conn.run(&stmt, self.cache, false));
            saved?;
            ran
        };
        match cancellable(canceller, work, &mut cancel).await {
            Ok(payload) => {
                slot.statement_savepoint = true;
                Ok(payload)
            }
            Err(err) => {
                let undo = format!("ROLLBACK TO SAVEPOINT {STATEMENT_SAVEPOINT}; RELEASE SAVEPOINT {STATEMENT_SAVEPOINT}");
                // If even this fails the outer transaction is aborted; later statements say so.
                let _ = conn.control(&undo).await;
                Err(err)
            }
        }
    }
}

impl Drop for Pinned {
    fn drop(&mut self) {
        // Dropped while still holding a connection: nobody will finish this transaction.
        if let Some(conn) = self.slot.get_mut().take_conn() {
            spawn_detached(conn.rollback_and_release());
        }
    }
}
