//! Every failure of the engine is an `EngineError` until the one place where it
//! becomes a Python exception of `yara_orm.exceptions` (`EngineError::into_pyerr`).

use std::fmt;
use std::time::Duration;

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyModule};

/// A server-reported error, kept whole so Python sees every field.
#[derive(Debug, Clone, Default)]
pub struct ServerError {
    pub sqlstate: String,
    pub message: String,
    pub detail: Option<String>,
    pub hint: Option<String>,
    pub constraint: Option<String>,
    pub table: Option<String>,
    pub column: Option<String>,
    pub sql: Option<String>,
    /// The database simulation's fault that made this error up, if it did.
    pub injected: Option<String>,
}

#[derive(Debug, Clone)]
pub enum EngineError {
    /// A malformed URL or option.
    Configuration(String),
    /// The server could not be reached or refused the session.
    Connection {
        target: String,
        message: String,
        sqlstate: Option<String>,
        /// The database simulation's fault that made this error up, if it did.
        injected: Option<String>,
    },
    /// No pooled connection became free in time.
    PoolTimeout { waited: Duration, max_size: usize },
    /// Misuse of the client API: closed engine, finished transaction, bad arguments.
    Interface(String),
    /// A Python value that cannot be bound as a statement parameter.
    Parameter {
        position: usize,
        python_type: String,
        reason: String,
    },
    /// An error reported by the database for a statement.
    Server(Box<ServerError>),
    /// A column value the engine cannot turn into a Python object.
    Decode { column: String, reason: String },
    /// A column type the engine has no decoder for.
    UnsupportedType { column: String, type_name: String },
    /// In isolation, a statement waited for the shared connection while another task's
    /// transaction held it and ran nothing.
    IsolationDeadlock {
        waited: Duration,
        /// The database has a single connection (in-memory SQLite): real commits cannot help.
        single_connection: bool,
    },
}

pub type EngineResult<T> = Result<T, EngineError>;

impl EngineError {
    pub fn interface(message: impl Into<String>) -> Self {
        EngineError::Interface(message.into())
    }

    pub fn config(message: impl Into<String>) -> Self {
        EngineError::Configuration(message.into())
    }

    /// A server error for statements that never reached the server but behave like one
    /// (SQLite reports everything this way).
    pub fn server(sqlstate: &str, message: impl Into<String>) -> Self {
        EngineError::Server(Box::new(ServerError {
            sqlstate: sqlstate.to_owned(),
            message: message.into(),
            ..ServerError::default()
        }))
    }

    /// Attach the SQL text to a server error so the Python exception can show it.
    pub fn with_sql(mut self, sql: &str) -> Self {
        if let EngineError::Server(ref mut err) = self {
            if err.sql.is_none() {
                err.sql = Some(sql.to_owned());
            }
        }
        self
    }

    /// The connection is gone: lost (class 08), or ended by the server (57P01-57P03).
    pub fn is_connection_loss(&self) -> bool {
        self.sqlstate().is_some_and(|code| {
            code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03")
        })
    }

    pub fn sqlstate(&self) -> Option<&str> {
        match self {
            EngineError::Server(err) => Some(&err.sqlstate),
            EngineError::Connection { sqlstate, .. } => sqlstate.as_deref(),
            _ => None,
        }
    }

    /// The one conversion to a Python exception.
    pub fn into_pyerr(self, py: Python<'_>) -> PyErr {
        match build_exception(py, &self) {
            Ok(err) => err,
            // The exceptions module itself failed to import: say so, with the original text.
            Err(import_error) => {
                let text = format!("{self} (and yara_orm.exceptions failed: {import_error})");
                pyo3::exceptions::PyRuntimeError::new_err(text)
            }
        }
    }
}

impl fmt::Display for EngineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EngineError::Configuration(message) | EngineError::Interface(message) => {
                f.write_str(message)
            }
            EngineError::Connection {
                target, message, ..
            } => write!(f, "could not connect to {target}: {message}"),
            EngineError::PoolTimeout { waited, max_size } => write!(
                f,
                "no pooled connection became free within {:.3}s (all {max_size} in use); \
                 raise max_size or acquire_timeout, or release connections sooner",
                waited.as_secs_f64()
            ),
            EngineError::Parameter {
                position,
                python_type,
                reason,
            } => write!(
                f,
                "parameter {position} (${position}) of type {python_type} cannot be bound: {reason}"
            ),
            EngineError::Server(err) => {
                write!(f, "{} (SQLSTATE {})", err.message, err.sqlstate)?;
                if let Some(detail) = &err.detail {
                    write!(f, "\nDETAIL: {detail}")?;
                }
                if let Some(hint) = &err.hint {
                    write!(f, "\nHINT: {hint}")?;
                }
                if let Some(sql) = &err.sql {
                    write!(f, "\nSQL: {}", shortened(sql))?;
                }
                Ok(())
            }
            EngineError::Decode { column, reason } => {
                write!(f, "cannot decode column {column:?}: {reason}")
            }
            EngineError::IsolationDeadlock {
                waited,
                single_connection,
            } => {
                write!(
                    f,
                    "waited {:.1}s for the test's database connection, which a transaction of \
                     another task holds without running anything: under the test's isolation \
                     every task shares one connection, so a task that holds a transaction while \
                     it awaits this one deadlocks. Finish the transaction before awaiting work \
                     that uses the database",
                    waited.as_secs_f64()
                )?;
                if *single_connection {
                    // An in-memory SQLite database is one connection even with real commits.
                    f.write_str(" (an in-memory SQLite database has one connection in all)")
                } else {
                    f.write_str(
                        ", or give the test real transactions \
                         (@pytest.mark.yara_db(transaction=True))",
                    )
                }
            }
            EngineError::UnsupportedType { column, type_name } => write!(
                f,
                "column {column:?} has type {type_name}, which the engine cannot decode; \
                 cast it in SQL (for example {column}::text)"
            ),
        }
    }
}

/// The SQL as a message shows it: a long statement is cut (the exception's `sql` keeps it all).
fn shortened(sql: &str) -> std::borrow::Cow<'_, str> {
    const SHOWN: usize = 300;
    match sql.char_indices().nth(SHOWN) {
        None => sql.into(),
        Some((cut, _)) => format!(
            "{}… ({} characters in all)",
            &sql[..cut],
            sql.chars().count()
        )
        .into(),
    }
}

/// What a pool's failure to hand out a connection means to the caller.
pub fn pool_error<E: fmt::Display>(
    err: deadpool::managed::PoolError<E>,
    waited: Duration,
    max_size: usize,
    target: &str,
    backend: impl FnOnce(E) -> EngineError,
) -> EngineError {
    use deadpool::managed::{PoolError, TimeoutType};
    let connection = |message: String| EngineError::Connection {
        target: target.to_owned(),
        message,
        sqlstate: None,
        injected: None,
    };
    match err {
        PoolError::Timeout(TimeoutType::Wait) => EngineError::PoolTimeout { waited, max_size },
        PoolError::Timeout(_) => EngineError::Connection {
            target: target.to_owned(),
            message: format!(
                "timed out opening a connection after {:.1}s (the server accepted the \
                 connection but did not answer)",
                waited.as_secs_f64()
            ),
            sqlstate: Some("08001".to_owned()),
            injected: None,
        },
        PoolError::Backend(err) => backend(err),
        PoolError::Closed => EngineError::interface("the engine is closed"),
        other => connection(other.to_string()),
    }
}

/// Which Python class of `yara_orm.exceptions` a SQLSTATE belongs to (PEP 249 families).
pub fn class_for_sqlstate(sqlstate: &str) -> &'static str {
    match sqlstate {
        "57014" => return "QueryCanceledError",
        // The server ended the session: the connection is gone.
        "57P01" | "57P02" | "57P03" => return "DBConnectionError",
        _ => {}
    }
    match sqlstate.get(..2).unwrap_or("") {
        "23" => "IntegrityError",
        "42" | "07" | "26" | "34" | "3B" | "3D" | "3F" | "2B" => "ProgrammingError",
        "22" => "DataError",
        "0A" => "NotSupportedError",
        "08" => "DBConnectionError",
        "40" => "TransactionRollbackError",
        "53" | "54" | "55" | "57" | "58" | "F0" | "HV" => "OperationalError",
        "25" | "2D" | "XX" | "P0" => "InternalError",
        _ => "DatabaseError",
    }
}

static EXCEPTIONS: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

fn exceptions_module(py: Python<'_>) -> PyResult<&Bound<'_, PyModule>> {
    EXCEPTIONS
        .get_or_try_init(py, || Ok(py.import("yara_orm.exceptions")?.unbind()))
        .map(|module| module.bind(py))
}

fn build_exception(py: Python<'_>, error: &EngineError) -> PyResult<PyErr> {
    let module = exceptions_module(py)?;
    let kwargs = PyDict::new(py);
    let class_name = match error {
        EngineError::Configuration(_) => "ConfigurationError",
        EngineError::Connection {
            sqlstate, injected, ..
        } => {
            kwargs.set_item("sqlstate", sqlstate.as_deref())?;
            if let Some(fault) = injected {
                kwargs.set_item("injected", fault)?;
            }
            "DBConnectionError"
        }
        EngineError::PoolTimeout { .. } => "PoolTimeoutError",
        EngineError::Interface(_) => "InterfaceError",
        EngineError::Parameter {
            position,
            python_type,
            ..
        } => {
            kwargs.set_item("position", *position)?;
            kwargs.set_item("python_type", python_type)?;
            "ParameterTypeError"
        }
        EngineError::Server(err) => {
            kwargs.set_item("sqlstate", &err.sqlstate)?;
            kwargs.set_item("detail", err.detail.as_deref())?;
            kwargs.set_item("hint", err.hint.as_deref())?;
            kwargs.set_item("constraint", err.constraint.as_deref())?;
            kwargs.set_item("table", err.table.as_deref())?;
            kwargs.set_item("column", err.column.as_deref())?;
            kwargs.set_item("sql", err.sql.as_deref())?;
            if let Some(fault) = &err.injected {
                kwargs.set_item("injected", fault)?;
            }
            class_for_sqlstate(&err.sqlstate)
        }
        EngineError::Decode { .. } => "DataError",
        EngineError::UnsupportedType { .. } => "NotSupportedError",
        EngineError::IsolationDeadlock { .. } => "IsolationDeadlockError",
    };
    let class = module.getattr(class_name)?;
    let instance = class.call((error.to_string(),), Some(&kwargs))?;
    Ok(PyErr::from_value(instance))
}

/// A script run on a pooled connection ended inside a transaction (BEGIN without COMMIT):
/// the connection's next statements, anyone's, would join it.
pub fn script_left_transaction_open(sql: &str) -> EngineError {
    EngineError::interface(format!(
        "the script left a transaction open, so it was rolled back: end it in the script \
         (COMMIT), or run the script inside `engine.begin()`; the script: {sql:?}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlstate_families_map_to_pep249_classes() {
        assert_eq!(class_for_sqlstate("23505"), "IntegrityError");
        assert_eq!(class_for_sqlstate("42P01"), "ProgrammingError");
        assert_eq!(class_for_sqlstate("22012"), "DataError");
        assert_eq!(class_for_sqlstate("57014"), "QueryCanceledError");
        assert_eq!(class_for_sqlstate("40001"), "TransactionRollbackError");
        assert_eq!(class_for_sqlstate("XX000"), "InternalError");
        assert_eq!(class_for_sqlstate("99999"), "DatabaseError");
    }

    #[test]
    fn server_error_message_carries_sqlstate_and_sql() {
        let err =
            EngineError::server("42601", "syntax error at or near \"SELEC\"").with_sql("SELEC 1");
        let text = err.to_string();
        assert!(text.contains("SQLSTATE 42601"), "{text}");
        assert!(text.contains("SQL: SELEC 1"), "{text}");
    }
}
