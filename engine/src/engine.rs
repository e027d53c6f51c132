//! `connect()` and the `Engine`: the Python face of a pool, its statement methods, the switch
//! into isolation mode, and the database simulation's controls.

use std::sync::Arc;
use std::time::Duration;

use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::backend::Backend;
use crate::bridge::{spawn_outcome, wait_for};
use crate::config::{parse_url, redact, seconds, PoolOptions, Target};
use crate::core::EngineCore;
use crate::isolation::{self, RewindStart};
use crate::pg_pool::PgBackend;
use crate::py_rewind::Rewind;
use crate::py_simulation::{self, Injection, Times};
use crate::py_transaction::NewTransaction;
use crate::runner::StatementRunner;
use crate::sqlite::SqliteBackend;
use crate::task::TaskRef;
use crate::transaction;

/// The longest a blocking call waits (as the test toolkit's portal did).
const BLOCKING_LIMIT: Duration = Duration::from_secs(300);

/// A connection pool to one database. Every method that talks to the database returns an
/// awaitable; none blocks the event loop.
#[pyclass(module = "yara_orm._engine", extends = StatementRunner, frozen)]
pub struct Engine {
    core: Arc<EngineCore>,
}

/// A new `Engine` on its way to Python (a subclass needs its base built with it).
struct NewEngine(Arc<EngineCore>);

impl<'py> IntoPyObject<'py> for NewEngine {
    type Target = Engine;
    type Output = Bound<'py, Engine>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, Engine>> {
        let base = StatementRunner::for_engine(Arc::clone(&self.0));
        Bound::new(
            py,
            PyClassInitializer::from(base).add_subclass(Engine { core: self.0 }),
        )
    }
}

#[pymethods]
impl Engine {
    /// Begin a transaction (a savepoint while the engine is isolated).
    #[pyo3(signature = (isolation=None))]
    fn begin<'py>(
        &self,
        py: Python<'py>,
        isolation: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.core.check_open().map_err(|e| e.into_pyerr(py))?;
        let core = Arc::clone(&self.core);
        let task = if core.isolation_top().is_some() {
            TaskRef::current(py)
        } else {
            None
        };
        spawn_outcome(py, move |cancel| async move {
            transaction::begin(core, isolation, task, cancel)
                .await
                .map(NewTransaction)
        })
    }

    /// Enter (one more level of) isolation mode; returns the depth. `patience`: seconds a
    /// statement may wait for the connection while another task's transaction holds it and
    /// runs nothing, before it fails as a deadlock (set when the first level is entered).
    #[pyo3(signature = (*, patience=10.0))]
    fn enter_isolation<'py>(&self, py: Python<'py>, patience: f64) -> PyResult<Bound<'py, PyAny>> {
        self.core.check_open().map_err(|e| e.into_pyerr(py))?;
        let patience: Duration = seconds("patience", patience).map_err(|e| e.into_pyerr(py))?;
        let core = Arc::clone(&self.core);
        spawn_outcome(py, move |_| isolation::enter(core, patience))
    }

    /// Leave the innermost isolation level, rolling back everything done in it.
    fn leave_isolation<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let core = Arc::clone(&self.core);
        spawn_outcome(py, move |_| isolation::leave(core))
    }

    /// `enter_isolation` for synchronous callers (test fixtures): waits on the calling thread
    /// with the GIL released, without an event loop.
    #[pyo3(signature = (*, patience=10.0))]
    fn enter_isolation_blocking(&self, py: Python<'_>, patience: f64) -> PyResult<usize> {
        self.core.check_open().map_err(|e| e.into_pyerr(py))?;
        let patience: Duration = seconds("patience", patience).map_err(|e| e.into_pyerr(py))?;
        let core = Arc::clone(&self.core);
        wait_for(py, BLOCKING_LIMIT, isolation::enter(core, patience))
    }

    /// `leave_isolation` for synchronous callers, as `enter_isolation_blocking`.
    fn leave_isolation_blocking(&self, py: Python<'_>) -> PyResult<usize> {
        let core = Arc::clone(&self.core);
        wait_for(py, BLOCKING_LIMIT, isolation::leave(core))
    }

    /// Roll back everything done in the innermost isolation level and keep it open (one
    /// round trip instead of leaving and entering again); synchronous, as
    /// `enter_isolation_blocking`. Returns the depth.
    fn rewind_isolation_blocking(&self, py: Python<'_>) -> PyResult<usize> {
        let core = Arc::clone(&self.core);
        wait_for(py, BLOCKING_LIMIT, isolation::rewind(core))
    }

    /// `rewind_isolation_blocking` without waiting for the round trip: the level is taken and
    /// renewed before this returns (later statements queue behind its rollback); the returned
    /// `Rewind` tells how the rollback went. Waits as the blocking call does only when another
    /// task holds the connection.
    fn start_rewind_isolation(&self, py: Python<'_>) -> PyResult<Rewind> {
        let core = Arc::clone(&self.core);
        let started = isolation::start_rewind(&core).and_then(|start| match start {
            RewindStart::Finished(depth) => Ok(Some(Rewind::finished(Ok(depth)))),
            RewindStart::Running(work) => Rewind::spawn(work).map(Some),
            RewindStart::Busy => Ok(None),
        });
        match started.map_err(|e| e.into_pyerr(py))? {
            Some(rewind) => Ok(rewind),
            None => {
                let depth = wait_for(py, BLOCKING_LIMIT, isolation::rewind(core))?;
                Ok(Rewind::finished(Ok(depth)))
            }
        }
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
        self.core.is_closed()
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

    /// Add latency to every statement from now on (until the returned handle is removed):
    /// seconds, `{"SELECT": seconds, ..., "*": the rest}`, or a callable from the SQL to
    /// seconds; `jitter` seconds more or less at random (`seed` makes it reproducible).
    #[pyo3(signature = (latency, *, jitter=0.0, seed=None))]
    fn simulate(
        &self,
        latency: &Bound<'_, PyAny>,
        jitter: f64,
        seed: Option<i64>,
    ) -> PyResult<Injection> {
        let effect = py_simulation::latency_effect(latency, jitter)?;
        let rule = self.core.simulation.add(effect, seed.map(|s| s as u64));
        Ok(Injection::new(Arc::clone(&self.core), rule))
    }

    /// Make matching statements fail with `error` (a fault's name or a SQLSTATE), as the real
    /// backend would: the `after`+1th matching statement, `times` in all (None: every one
    /// after), or each with `probability` (reproducible with `seed`; then `times` defaults to
    /// no limit). A transaction's commit is matched as `COMMIT`.
    #[pyo3(signature = (r#match=None, error=None, *, times=Times::Unset, after=0, probability=None, seed=None))]
    #[allow(clippy::too_many_arguments)]
    fn fail(
        &self,
        py: Python<'_>,
        r#match: Option<&Bound<'_, PyAny>>,
        error: Option<&str>,
        times: Times,
        after: i64,
        probability: Option<f64>,
        seed: Option<i64>,
    ) -> PyResult<Injection> {
        let effect = py_simulation::fault_effect(py, r#match, error, times, after, probability)?;
        let rule = self.core.simulation.add(effect, seed.map(|s| s as u64));
        Ok(Injection::new(Arc::clone(&self.core), rule))
    }

    /// The latencies and faults in force, oldest first.
    #[getter]
    fn injections(&self) -> Vec<Injection> {
        self.core
            .simulation
            .rules()
            .into_iter()
            .map(|rule| Injection::new(Arc::clone(&self.core), rule))
            .collect()
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
        Ok(NewEngine(Arc::new(EngineCore::new(backend, shown))))
    })
}
