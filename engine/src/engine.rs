//! `connect()` and the `Engine`: the Python face of a pool, its statement methods, and the
//! switch into isolation mode.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::bridge::spawn_outcome;
use crate::config::{parse_url, redact, PoolOptions, Target};
use crate::errors::{EngineError, EngineResult};
use crate::isolation::{self, IsolationState};
use crate::postgres::PgBackend;
use crate::runner::StatementRunner;
use crate::session::{Backend, Pinned};
use crate::sqlite::SqliteBackend;
use crate::transaction::{self, NewTransaction};

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

    pub fn check_open(&self) -> EngineResult<()> {
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
        spawn_outcome(py, move |_| async move {
            transaction::begin(core, isolation)
                .await
                .map(NewTransaction)
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
        Ok(NewEngine(Arc::new(EngineCore {
            backend,
            url: shown,
            isolation: Mutex::new(None),
            isolation_gate: tokio::sync::Mutex::new(()),
            closed: AtomicBool::new(false),
        })))
    })
}
