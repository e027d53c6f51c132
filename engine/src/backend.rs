//! The two backends behind one face: a pool to acquire from, and the connection it hands out.

use std::sync::Arc;

use deadpool::managed::Object as SqliteObject;

use crate::cancel::Canceller;
use crate::errors::EngineResult;
use crate::fault::Fault;
use crate::pg_cancel::CancelEndpoint;
use crate::pg_pool::{PgBackend, PgConn};
use crate::postgres;
use crate::sqlite::{SqliteBackend, SqliteConn};
use crate::sqlite_run;
use crate::statement::{Payload, Statement};

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
            Backend::Pg(pg) => Ok(Conn::Pg {
                conn: pg.acquire().await?,
                endpoint: pg.cancel_endpoint(),
            }),
            Backend::Sqlite(lite) => lite.acquire().await.map(Conn::Sqlite),
        }
    }

    pub async fn close(&self) {
        match self {
            Backend::Pg(pg) => pg.close(),
            Backend::Sqlite(lite) => lite.close().await,
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
    Pg {
        conn: PgConn,
        endpoint: Arc<CancelEndpoint>,
    },
    Sqlite(SqliteConn),
}

impl Conn {
    pub fn kind(&self) -> BackendKind {
        match self {
            Conn::Pg { .. } => BackendKind::Postgres,
            Conn::Sqlite(_) => BackendKind::Sqlite,
        }
    }

    pub async fn run(
        &self,
        stmt: &Arc<Statement>,
        cache: bool,
        retry_stale_plan: bool,
    ) -> EngineResult<Payload> {
        if let Some(fault) = &stmt.fault {
            return self.fail_with(fault, &stmt.sql).await;
        }
        match self {
            Conn::Pg { conn, .. } => postgres::run(conn, stmt, cache, retry_stale_plan).await,
            Conn::Sqlite(worker) => {
                let stmt = Arc::clone(stmt);
                worker
                    .call(move |conn| sqlite_run::run(conn, &stmt, cache))
                    .await
            }
        }
    }

    /// Fail a statement with an injected fault instead of running it. PostgreSQL raises the
    /// fault itself, so what a real failure leaves behind (an aborted transaction, a savepoint
    /// to roll back to) is real too; SQLite keeps its transaction after a failed statement, so
    /// there is nothing to do there. Should the server answer otherwise (the transaction was
    /// already aborted, the connection is gone), that real answer is the statement's.
    async fn fail_with(&self, fault: &Fault, sql: &str) -> EngineResult<Payload> {
        if let Conn::Pg { conn, .. } = self {
            if let Err(err) = conn.batch_execute(&fault.raise_sql()).await {
                let err = postgres::statement_error(err, sql);
                if err.is_connection_loss() || err.sqlstate() == Some("25P02") {
                    return Err(err);
                }
            }
        }
        Err(fault.error(sql, "the database"))
    }

    /// Transaction control and other parameterless SQL.
    pub async fn control(&self, sql: &str) -> EngineResult<()> {
        self.run(&Arc::new(Statement::control(sql)), false, false)
            .await
            .map(|_| ())
    }

    pub fn canceller(&self) -> Canceller {
        match self {
            Conn::Pg { conn, endpoint } => Canceller::Pg {
                token: conn.cancel_token(),
                endpoint: Arc::clone(endpoint),
            },
            Conn::Sqlite(worker) => Canceller::Sqlite(worker.interrupt_handle()),
        }
    }

    /// Close the connection instead of returning it: its state is unknown.
    pub fn discard(self) {
        match self {
            Conn::Pg { conn, .. } => drop(deadpool::managed::Object::take(conn)),
            Conn::Sqlite(conn) => drop(SqliteObject::take(conn)),
        }
    }

    /// End the transaction the connection is in, undoing its work. On SQLite the transaction
    /// may already be gone (an interrupted write rolls back the whole transaction): that is
    /// the outcome asked for, not an error.
    pub async fn rollback(&self) -> EngineResult<()> {
        match self {
            Conn::Pg { .. } => self.control("ROLLBACK").await,
            Conn::Sqlite(worker) => worker.call(sqlite_run::rollback_if_open).await,
        }
    }

    /// Roll back and give the connection back to its pool, or close it if that fails.
    pub async fn rollback_and_release(self) {
        if self.rollback().await.is_err() {
            self.discard();
        }
    }
}
