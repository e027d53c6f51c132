//! What a caller asks the engine to run, and what comes back before it becomes Python.

use std::sync::Arc;

use crate::fault::Fault;
use crate::sqlite_run::SqliteRows;
use crate::value::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Rows back.
    Fetch,
    /// Affected row count back.
    Execute,
    /// One statement, many parameter sets; total affected rows back.
    ExecuteMany,
    /// Several `;`-separated statements without parameters (DDL, scripts).
    Script,
}

#[derive(Debug, Clone)]
pub struct Statement {
    pub sql: Arc<str>,
    pub params: Vec<Value>,
    /// Only for `ExecuteMany`.
    pub batches: Vec<Vec<Value>>,
    pub action: Action,
    /// A fault the database simulation injects: the statement fails with it instead of running.
    pub fault: Option<Arc<Fault>>,
}

impl Statement {
    pub fn control(sql: &str) -> Statement {
        Statement {
            sql: Arc::from(sql),
            params: Vec::new(),
            batches: Vec::new(),
            action: Action::Script,
            fault: None,
        }
    }
}

/// A statement's result while still in Rust.
pub enum Payload {
    PgRows {
        columns: Vec<String>,
        rows: Vec<tokio_postgres::Row>,
    },
    SqliteRows(SqliteRows),
    Count(u64),
    Done,
}

impl Payload {
    /// Values to build in Python (rows times columns).
    pub fn cell_count(&self) -> usize {
        match self {
            Payload::PgRows { columns, rows } => rows.len() * columns.len().max(1),
            Payload::SqliteRows(rows) => rows.len() * rows.columns.len().max(1),
            Payload::Count(_) | Payload::Done => 1,
        }
    }

    pub fn row_count(&self) -> usize {
        match self {
            Payload::PgRows { rows, .. } => rows.len(),
            Payload::SqliteRows(rows) => rows.len(),
            Payload::Count(n) => *n as usize,
            Payload::Done => 0,
        }
    }
}
