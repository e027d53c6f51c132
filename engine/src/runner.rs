//! `StatementRunner`, the base class of `Engine` and `Transaction`: the statement methods, and
//! the one path every statement takes from Python into the runtime.

use std::sync::Arc;
use std::time::Duration;

use pyo3::prelude::*;
use tokio::sync::oneshot;

use crate::bridge::spawn_awaitable;
use crate::cancel::{cancelled, unless_cancelled};
use crate::core::EngineCore;
use crate::errors::{EngineError, EngineResult};
use crate::fault::FaultKind;
use crate::pinned::{Caller, Pinned};
use crate::pooled::run_pooled;
use crate::reply::{Reply, Shape};
use crate::sequence::Ticket;
use crate::shaping::RowShape;
use crate::sqlite_direct::{self, Route};
use crate::statement::{opens_transaction, Action, Payload, Statement};
use crate::stats::StatsDraft;
use crate::task::TaskRef;
use crate::transaction::TxShared;
use crate::value::{values_from_params, Value};

/// Runs statements: on the engine (pooled, or the isolation's connection) or in a transaction.
#[pyclass(module = "yara_orm._engine", subclass, frozen)]
pub struct StatementRunner {
    core: Arc<EngineCore>,
    transaction: Option<Arc<TxShared>>,
}

impl StatementRunner {
    pub fn for_engine(core: Arc<EngineCore>) -> Self {
        StatementRunner {
            core,
            transaction: None,
        }
    }

    pub fn for_transaction(core: Arc<EngineCore>, transaction: Arc<TxShared>) -> Self {
        StatementRunner {
            core,
            transaction: Some(transaction),
        }
    }

    /// Convert the parameters under the GIL, then hand the statement to the runtime.
    fn submit<'py>(
        &self,
        py: Python<'py>,
        action: Action,
        sql: &Bound<'py, PyAny>,
        params: Option<&Bound<'py, PyAny>>,
        batches: Option<&Bound<'py, PyAny>>,
        shape: Shape,
    ) -> PyResult<Bound<'py, PyAny>> {
        let mut draft = StatsDraft::start();
        let prepared = (|| -> EngineResult<Statement> {
            self.core.check_open()?;
            let sql = sql_text(sql)?;
            if self.transaction.is_none() && action != Action::Script && opens_transaction(sql) {
                return Err(EngineError::interface(format!(
                    "{sql:?} on the engine would begin a transaction on one pooled connection \
                     that the statements after it do not use: begin one with `engine.begin()` \
                     (in the ORM: `in_transaction()`)"
                )));
            }
            Ok(Statement {
                sql: Arc::from(sql),
                params: values_from_params(params)?,
                batches: batches.map(batches_from).transpose()?.unwrap_or_default(),
                action,
                fault: None,
            })
        })();
        let mut stmt = prepared.map_err(|e| e.into_pyerr(py))?;
        // The simulation decides now, in call order, with the GIL held (it may call Python).
        if self.core.simulation.is_active() {
            if let Some(decision) = self.core.simulation.decide(py, &stmt.sql)? {
                draft.simulated = decision.delay;
                stmt.fault = decision.fault;
            }
        }
        let stmt = Arc::new(stmt);
        // Decided now, in call order: isolation entered after this call does not capture it.
        let destination = match &self.transaction {
            Some(tx) => Destination::Transaction(Arc::clone(tx), tx.sequencer.ticket()),
            None => match self.core.isolation_top() {
                Some((pinned, _)) => {
                    Destination::Isolated(pinned, Caller::task(TaskRef::current(py)))
                }
                None => Destination::Pool,
            },
        };
        let delay = draft.simulated;
        draft.bound();
        let (draft, shape) = match destination {
            Destination::Pool if delay.is_zero() && stmt.fault.is_none() => {
                match sqlite_direct::try_submit(py, &self.core, Arc::clone(&stmt), draft, shape) {
                    Route::Submitted(future) => return future,
                    Route::Declined(draft, shape) => (draft, shape),
                }
            }
            _ => (draft, shape),
        };
        let core = Arc::clone(&self.core);
        spawn_awaitable(
            py,
            move |cancel| run(core, destination, stmt, delay, cancel),
            move |outcome| Reply::new(outcome, draft, shape),
        )
    }
}

/// A statement's trip through the runtime: the simulated latency (slept with the GIL released,
/// so concurrent statements overlap theirs), then its connection.
async fn run(
    core: Arc<EngineCore>,
    destination: Destination,
    stmt: Arc<Statement>,
    delay: Duration,
    mut cancel: oneshot::Receiver<()>,
) -> EngineResult<Payload> {
    if !delay.is_zero()
        && unless_cancelled(tokio::time::sleep(delay), &mut cancel)
            .await
            .is_none()
    {
        return Err(cancelled());
    }
    // Injected faults that never reach a connection: a lost one, a refused one. (The others
    // fail on the connection, see `Conn::run`.)
    if let Some(fault) = stmt
        .fault
        .as_ref()
        .filter(|f| f.kind != FaultKind::Statement)
    {
        let error = fault.error(&stmt.sql, &core.url);
        return match destination {
            Destination::Transaction(tx, ticket) => {
                tx.injected_failure(fault.kind, error, ticket, cancel).await
            }
            Destination::Pool | Destination::Isolated(..) => Err(error),
        };
    }
    match destination {
        Destination::Pool => run_pooled(&core.backend, stmt, cancel).await,
        Destination::Isolated(pinned, caller) => pinned.run(stmt, &caller, true, cancel).await,
        Destination::Transaction(tx, ticket) => tx.run(stmt, ticket, cancel).await,
    }
}

enum Destination {
    Pool,
    Isolated(Arc<Pinned>, Caller),
    Transaction(Arc<TxShared>, Ticket),
}

/// The SQL text, refused with a clear error when no database could read it.
fn sql_text<'a>(sql: &'a Bound<'_, PyAny>) -> EngineResult<&'a str> {
    let text = sql
        .cast::<pyo3::types::PyString>()
        .map_err(|_| EngineError::interface("the SQL must be a str"))?
        .to_str()
        .map_err(|_| {
            EngineError::interface(
                "the SQL text is not valid Unicode (it holds a lone surrogate character)",
            )
        })?;
    if let Some(position) = text.find('\0') {
        // SQLite would silently drop everything after it; PostgreSQL refuses it obscurely.
        return Err(EngineError::interface(format!(
            "the SQL text holds a NUL character (at byte {position}); no database accepts one"
        )));
    }
    Ok(text)
}

fn batches_from(seq: &Bound<'_, PyAny>) -> EngineResult<Vec<Vec<Value>>> {
    let iter = seq
        .try_iter()
        .map_err(|_| EngineError::interface("execute_many takes a list of parameter lists"))?;
    let mut batches = Vec::new();
    for (index, item) in iter.enumerate() {
        let item = item.map_err(|e| EngineError::interface(e.to_string()))?;
        let values = values_from_params(Some(&item)).map_err(|err| match err {
            EngineError::Parameter {
                position,
                python_type,
                reason,
            } => EngineError::Parameter {
                position,
                python_type,
                reason: format!("{reason} (in parameter set {index})"),
            },
            other => other,
        })?;
        batches.push(values);
    }
    Ok(batches)
}

#[pymethods]
impl StatementRunner {
    /// Rows as a list of tuples (`(names, rows)` with `with_columns`); with `shape`,
    /// `(names, readers, model, state)`, as `shape_rows` makes them, built straight from the
    /// result (no tuple per row).
    #[pyo3(signature = (sql, params=None, *, with_columns=false, with_stats=false, shape=None))]
    fn fetch_rows<'py>(
        &self,
        py: Python<'py>,
        sql: &Bound<'py, PyAny>,
        params: Option<&Bound<'py, PyAny>>,
        with_columns: bool,
        with_stats: bool,
        shape: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let shape = Shape {
            columns: with_columns,
            stats: with_stats,
            rows: shape.map(RowShape::from_argument).transpose()?,
        };
        self.submit(py, Action::Fetch, sql, params, None, shape)
    }

    /// Run one statement; the number of rows it affected.
    #[pyo3(signature = (sql, params=None, *, with_stats=false))]
    fn execute<'py>(
        &self,
        py: Python<'py>,
        sql: &Bound<'py, PyAny>,
        params: Option<&Bound<'py, PyAny>>,
        with_stats: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let shape = Shape {
            columns: false,
            stats: with_stats,
            rows: None,
        };
        self.submit(py, Action::Execute, sql, params, None, shape)
    }

    /// One statement for many parameter lists, all or nothing; the total affected rows.
    #[pyo3(signature = (sql, params_seq, *, with_stats=false))]
    fn execute_many<'py>(
        &self,
        py: Python<'py>,
        sql: &Bound<'py, PyAny>,
        params_seq: &Bound<'py, PyAny>,
        with_stats: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let shape = Shape {
            columns: false,
            stats: with_stats,
            rows: None,
        };
        self.submit(py, Action::ExecuteMany, sql, None, Some(params_seq), shape)
    }

    /// Several `;`-separated statements without parameters (DDL).
    #[pyo3(signature = (sql, *, with_stats=false))]
    fn execute_script<'py>(
        &self,
        py: Python<'py>,
        sql: &Bound<'py, PyAny>,
        with_stats: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let shape = Shape {
            columns: false,
            stats: with_stats,
            rows: None,
        };
        self.submit(py, Action::Script, sql, None, None, shape)
    }
}
