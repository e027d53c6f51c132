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
    /// The engine's own transaction control (BEGIN, savepoints...): run as a script is, but
    /// may leave a transaction open.
    Control,
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
            action: Action::Control,
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

/// Whether `sql` begins a transaction (`BEGIN`, `START TRANSACTION`): on the engine such a
/// statement would hold one pooled connection in a transaction that later statements, on
/// other connections, never join.
pub fn opens_transaction(sql: &str) -> bool {
    let first = sql
        .trim_start_matches(|c: char| c.is_whitespace() || c == ';')
        .split(|c: char| !c.is_ascii_alphabetic())
        .next()
        .unwrap_or_default();
    first.eq_ignore_ascii_case("begin") || first.eq_ignore_ascii_case("start")
}

/// Whether a script may open a transaction it leaves open (checked after it ran).
pub fn may_open_transaction(sql: &str) -> bool {
    sql.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .any(|word| word.eq_ignore_ascii_case("begin") || word.eq_ignore_ascii_case("start"))
}

#[cfg(test)]
mod tests {
    use super::{may_open_transaction, opens_transaction};

    #[test]
    fn statements_that_begin_a_transaction() {
        for sql in [
            "BEGIN",
            "  begin;",
            "\n;Begin Transaction",
            "START TRANSACTION",
        ] {
            assert!(opens_transaction(sql), "{sql}");
        }
        for sql in [
            "SELECT 'BEGIN'",
            "COMMIT",
            "beginning",
            "INSERT INTO start VALUES (1)",
            "",
        ] {
            assert!(!opens_transaction(sql), "{sql}");
        }
        assert!(may_open_transaction(
            "CREATE TABLE t (x int); BEGIN; INSERT INTO t VALUES (1)"
        ));
        assert!(may_open_transaction(
            "start transaction; insert into t values (1)"
        ));
        assert!(!may_open_transaction(
            "CREATE TABLE t (x int, start_date date, begins int)"
        ));
    }
}
