//! `connect()` and the `Engine`: the Python face of a pool, its statement methods, and the
//! switch into isolation mode.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::bridge::{spawn_awaitable, spawn_outcome};
use crate::config::{parse_url, redact, PoolOptions, Target};
use crate::errors::{EngineError, EngineResult};
use crate::isolation::{self, IsolationState};
use crate::postgres::PgBackend;
use crate::reply::{Reply, Shape};
use crate::session::{run_pooled, Backend, Pinned};
use crate::sqlite::SqliteBackend;
use crate::statement::{Action, Statement};
use crate::stats::StatsDraft;
use crate::transaction::{self, Transaction, TxShared};
use crate::value::{values_from_params, Value};

pub struct EngineCore {
    pub backend: Backend,
    pub url: String,
    isolation: Mutex<Option<IsolationState>>,
    /// Serialises entering and leaving isolation levels.
    pub isolation_gate: tokio::sync::Mutex<()>,
    closed: AtomicBool,
}

impl EngineCore {
    fn isolation(&self) -> MutexGuard<'_, Option<IsolationState>> {
        // A poisoned lock only means a panic elsewhere; the state itself is still consistent.
        self.isolation
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The isolation's connection and depth, if the engine is isolated.
    pub fn isolation_top(&self) -> Option<(Arc<Pinned>, usize)> {
        self.isolation()
            .as_ref()
            .map(|state| (Arc::clone(&state.pinned), state.levels.len()))
    }

    pub fn innermost_level(&self) -> Option<u64> {
        self.isolation()
            .as_ref()
            .and_then(|state| state.levels.last().copied())
    }

    pub fn level_alive(&self, level: u64) -> bool {
        self.isolation()
            .as_ref()
            .is_some_and(|state| state.levels.contains(&level))
    }

    pub fn set_isolation(&self, state: Option<IsolationState>) {
        *self.isolation() = state;
    }

    pub fn push_level(&self, id: u64) -> usize {
        let mut guard = self.isolation();
        match guard.as_mut() {
            Some(state) => {
                state.levels.push(id);
                state.levels.len()
            }
            None => 0,
        }
    }

    pub fn pop_level(&self) -> u64 {
        self.isolation()
            .as_mut()
            .and_then(|state| state.levels.pop())
            .unwrap_or_default()
    }

    fn check_open(&self) -> EngineResult<()> {
        if self.closed.load(Ordering::Acquire) {
            Err(EngineError::interface(format!(
                "the engine for {} is closed",
                self.url
            )))
        } else {
            Ok(())
        }
    }

    async fn close(self: Arc<Self>) -> EngineResult<()> {
        self.closed.store(true, Ordering::Release);
        let _gate = self.isolation_gate.lock().await;
        let state = self.isolation().take();
        if let Some(state) = state {
            let conn = state.pinned.lock().await.take_conn();
            if let Some(conn) = conn {
                conn.rollback_and_release().await;
            }
        }
        self.backend.close();
        Ok(())
    }
}

/// Where a statement goes.
pub enum Route {
    /// The engine itself: the isolation's connection if isolated, else a pooled one.
    Engine,
    Transaction(Arc<TxShared>),
}

/// A statement call as Python made it.
pub struct StatementArgs<'a, 'py> {
    action: Action,
    sql: &'a str,
    params: Option<&'a Bound<'py, PyAny>>,
    batches: Option<&'a Bound<'py, PyAny>>,
    shape: Shape,
}

impl<'a, 'py> StatementArgs<'a, 'py> {
    pub fn single(
        action: Action,
        sql: &'a str,
        params: Option<&'a Bound<'py, PyAny>>,
        columns: bool,
        stats: bool,
    ) -> Self {
        StatementArgs {
            action,
            sql,
            params,
            batches: None,
            shape: Shape { columns, stats },
        }
    }

    pub fn many(sql: &'a str, batches: &'a Bound<'py, PyAny>, stats: bool) -> Self {
        StatementArgs {
            action: Action::ExecuteMany,
            sql,
            params: None,
            batches: Some(batches),
            shape: Shape {
                columns: false,
                stats,
            },
        }
    }
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

enum Destination {
    Pool,
    Isolated(Arc<Pinned>),
    Transaction(Arc<TxShared>),
}

/// Convert the parameters under the GIL, then hand the statement to the runtime.
pub fn submit<'py>(
    py: Python<'py>,
    core: &Arc<EngineCore>,
    route: Route,
    args: StatementArgs<'_, 'py>,
) -> PyResult<Bound<'py, PyAny>> {
    let mut draft = StatsDraft::start();
    let prepared = (|| -> EngineResult<Statement> {
        core.check_open()?;
        Ok(Statement {
            sql: Arc::from(args.sql),
            params: values_from_params(args.params)?,
            batches: args
                .batches
                .map(batches_from)
                .transpose()?
                .unwrap_or_default(),
            action: args.action,
        })
    })();
    let stmt = Arc::new(prepared.map_err(|e| e.into_pyerr(py))?);
    let destination = match route {
        Route::Engine => match core.isolation_top() {
            Some((pinned, _)) => Destination::Isolated(pinned),
            None => Destination::Pool,
        },
        Route::Transaction(tx) => Destination::Transaction(tx),
    };
    let core = Arc::clone(core);
    let shape = args.shape;
    draft.bound();
    spawn_awaitable(
        py,
        move |cancel| async move {
            match destination {
                Destination::Pool => run_pooled(&core.backend, stmt, cancel).await,
                Destination::Isolated(pinned) => pinned.run(stmt, true, cancel).await,
                Destination::Transaction(tx) => tx.run(stmt, cancel).await,
            }
        },
        move |outcome| Reply::new(outcome, draft, shape),
    )
}

/// A connection pool to one database. Every method that talks to the database returns an
/// awaitable; none blocks the event loop.
#[pyclass(module = "yara_orm._engine", frozen)]
pub struct Engine {
    core: Arc<EngineCore>,
}

#[pymethods]
impl Engine {
    /// Rows as a list of tuples (`(names, rows)` with `with_columns`).
    #[pyo3(signature = (sql, params=None, *, with_columns=false, with_stats=false))]
    fn fetch_rows<'py>(
        &self,
        py: Python<'py>,
        sql: &str,
        params: Option<&Bound<'py, PyAny>>,
        with_columns: bool,
        with_stats: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let args = StatementArgs::single(Action::Fetch, sql, params, with_columns, with_stats);
        submit(py, &self.core, Route::Engine, args)
    }

    /// Run one statement; the number of rows it affected.
    #[pyo3(signature = (sql, params=None, *, with_stats=false))]
    fn execute<'py>(
        &self,
        py: Python<'py>,
        sql: &str,
        params: Option<&Bound<'py, PyAny>>,
        with_stats: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let args = StatementArgs::single(Action::Execute, sql, params, false, with_stats);
        submit(py, &self.core, Route::Engine, args)
    }

    /// One statement for many parameter lists, all or nothing; the total affected rows.
    #[pyo3(signature = (sql, params_seq, *, with_stats=false))]
    fn execute_many<'py>(
        &self,
        py: Python<'py>,
        sql: &str,
        params_seq: &Bound<'py, PyAny>,
        with_stats: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let args = StatementArgs::many(sql, params_seq, with_stats);
        submit(py, &self.core, Route::Engine, args)
    }

    /// Several `;`-separated statements without parameters (DDL).
    #[pyo3(signature = (sql, *, with_stats=false))]
    fn execute_script<'py>(
        &self,
        py: Python<'py>,
        sql: &str,
        with_stats: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let args = StatementArgs::single(Action::Script, sql, None, false, with_stats);
        submit(py, &self.core, Route::Engine, args)
    }

    /// Begin a transaction (a savepoint while the engine is isolated).
    #[pyo3(signature = (isolation=None))]
    fn begin<'py>(
        &self,
        py: Python<'py>,
        isolation: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.core.check_open().map_err(|e| e.into_pyerr(py))?;
        let core = Arc::clone(&self.core);
        spawn_outcome(py, move |_| async move {
            transaction::begin(core, isolation)
                .await
                .map(Transaction::new)
        })
    }

    /// Enter (one more level of) isolation mode; returns the depth.
    fn enter_isolation<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.core.check_open().map_err(|e| e.into_pyerr(py))?;
        let core = Arc::clone(&self.core);
        spawn_outcome(py, move |_| isolation::enter(core))
    }

    /// Leave the innermost isolation level, rolling back everything done in it.
    fn leave_isolation<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let core = Arc::clone(&self.core);
        spawn_outcome(py, move |_| isolation::leave(core))
    }

    /// How many isolation levels are open (0: not isolated).
    #[getter]
    fn isolation_depth(&self) -> usize {
        self.core.isolation_top().map_or(0, |(_, depth)| depth)
    }

    /// "postgres" or "sqlite".
    #[getter]
    fn backend(&self) -> &'static str {
        self.core.backend.kind().name()
    }

    /// The URL, password hidden.
    #[getter]
    fn url(&self) -> &str {
        &self.core.url
    }

    #[getter]
    fn is_closed(&self) -> bool {
        self.core.closed.load(Ordering::Acquire)
    }

    /// `{"size": open connections, "idle": idle ones, "max_size": limit}`.
    fn pool_status<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let (size, idle, max_size) = self.core.backend.status();
        let status = PyDict::new(py);
        status.set_item("size", size)?;
        status.set_item("idle", idle)?;
        status.set_item("max_size", max_size)?;
        Ok(status)
    }

    /// Roll back any isolation, close every connection; later calls raise InterfaceError.
    fn close<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let core = Arc::clone(&self.core);
        spawn_outcome(py, move |_| core.close())
    }

    fn __repr__(&self) -> String {
        format!("<Engine {} {}>", self.backend(), self.core.url)
    }
}

/// Open a pool to `url` (`postgres://…`, `sqlite:///path.db`, `sqlite://:memory:`).
#[pyfunction]
#[pyo3(signature = (url, *, max_size=None, min_size=1, acquire_timeout=30.0, connect_timeout=10.0, statement_cache=true))]
pub fn connect<'py>(
    py: Python<'py>,
    url: &str,
    max_size: Option<usize>,
    min_size: usize,
    acquire_timeout: f64,
    connect_timeout: f64,
    statement_cache: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let target = parse_url(url).map_err(|e| e.into_pyerr(py))?;
    let default_max = match target {
        Target::Postgres(_) => 10,
        Target::Sqlite(_) => 4,
    };
    let options = PoolOptions::new(
        max_size,
        min_size,
        acquire_timeout,
        connect_timeout,
        statement_cache,
        default_max,
    )
    .map_err(|e| e.into_pyerr(py))?;
    let shown = redact(url);
    spawn_outcome(py, move |_| async move {
        let backend = match target {
            Target::Postgres(pg) => Backend::Pg(PgBackend::connect(pg, options).await?),
            Target::Sqlite(lite) => Backend::Sqlite(SqliteBackend::connect(lite, options).await?),
        };
        Ok(Engine {
            core: Arc::new(EngineCore {
                backend,
                url: shown,
                isolation: Mutex::new(None),
                isolation_gate: tokio::sync::Mutex::new(()),
                closed: AtomicBool::new(false),
            }),
        })
    })
}
