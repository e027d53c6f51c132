//! `Transaction`, the Python face of a transaction: the statement methods of its base class,
//! savepoints, commit and rollback.

use std::sync::Arc;

use pyo3::prelude::*;

use crate::bridge::spawn_outcome;
use crate::runner::StatementRunner;
use crate::savepoint::Savepoint;
use crate::transaction::{SavepointAction, TxKind, TxShared};

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
        name: &str,
        action: SavepointAction,
    ) -> PyResult<Bound<'py, PyAny>> {
        let point = Savepoint::user(name).map_err(|e| e.into_pyerr(py))?;
        let shared = Arc::clone(&self.shared);
        let ticket = shared.sequencer.ticket();
        spawn_outcome(py, move |cancel| {
            shared.user_savepoint(point, action, ticket, cancel)
        })
    }
}

#[pymethods]
impl Transaction {
    /// Create a named savepoint inside this transaction.
    fn savepoint<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
        self.control(py, name, SavepointAction::Create)
    }

    /// Release (keep the work of) a named savepoint.
    fn release<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
        self.control(py, name, SavepointAction::Release)
    }

    /// Undo everything since a named savepoint; the savepoint stays usable.
    fn rollback_to<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
        self.control(py, name, SavepointAction::RollbackTo)
    }

    fn commit<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let shared = Arc::clone(&self.shared);
        // The database simulation may fail the COMMIT (decided now, in call order).
        let fault = shared.core.simulation.commit_fault(py)?;
        let ticket = shared.sequencer.ticket();
        spawn_outcome(py, move |cancel| shared.commit(ticket, cancel, fault))
    }

    fn rollback<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let shared = Arc::clone(&self.shared);
        let ticket = shared.sequencer.ticket();
        spawn_outcome(py, move |_| shared.rollback(ticket))
    }

    /// True once committed or rolled back.
    #[getter]
    fn is_finished(&self) -> bool {
        self.shared.is_finished()
    }

    /// The statement that opened the transaction, as the engine ran it (`BEGIN IMMEDIATE` on
    /// SQLite, a `SAVEPOINT` in isolation…).
    #[getter]
    fn begin_sql(&self) -> String {
        self.shared.begin_sql.clone()
    }

    /// What `commit()` runs.
    #[getter]
    fn commit_sql(&self) -> String {
        self.shared.commit_sql()
    }

    /// What `rollback()` runs.
    #[getter]
    fn rollback_sql(&self) -> String {
        self.shared.rollback_sql()
    }

    /// The SQL `savepoint(name)` (action "create"), `release(name)` ("release") or
    /// `rollback_to(name)` ("rollback_to") runs.
    fn savepoint_sql(&self, py: Python<'_>, name: &str, action: &str) -> PyResult<String> {
        let point = Savepoint::user(name).map_err(|e| e.into_pyerr(py))?;
        Ok(match action {
            "create" => point.create(),
            "release" => point.release(),
            "rollback_to" => point.rollback_to(),
            other => {
                return Err(pyo3::exceptions::PyValueError::new_err(format!(
                    "unknown savepoint action {other:?}; expected create, release or rollback_to"
                )))
            }
        })
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
