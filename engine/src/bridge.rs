//! The one Tokio runtime, and how work crosses between it and asyncio.
//!
//! Every database operation runs as its own Tokio task. The awaitable handed to Python only
//! waits for that task, so cancelling it on the Python side never abandons a connection
//! half-way through a protocol exchange: the task is told to cancel (the server is asked to
//! stop the statement), finishes its bookkeeping, and returns its connection.

use std::future::Future;
use std::sync::OnceLock;

use pyo3::prelude::*;
use pyo3::BoundObject;
use tokio::runtime::Runtime;
use tokio::sync::oneshot;

use crate::errors::{EngineError, EngineResult};

static RUNTIME: OnceLock<Result<Runtime, String>> = OnceLock::new();

pub fn runtime() -> EngineResult<&'static Runtime> {
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .thread_name("yara-io")
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| {
            EngineError::interface(format!("yara-orm cannot start its Tokio runtime: {e}"))
        })
}

/// Hand our runtime to pyo3-async-runtimes so exactly one Tokio runtime exists.
pub fn install() -> EngineResult<()> {
    let _ = pyo3_async_runtimes::tokio::init_with_runtime(runtime()?);
    Ok(())
}

/// Run a future on the runtime from synchronous code (drop handlers, cleanup).
pub fn spawn_detached<F>(future: F)
where
    F: Future<Output = ()> + Send + 'static,
{
    if let Ok(runtime) = runtime() {
        runtime.spawn(future);
    }
}

/// Asks the task to cancel when the Python side gives up before the task is done.
struct CancelOnDrop(Option<oneshot::Sender<()>>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some(sender) = self.0.take() {
            let _ = sender.send(());
        }
    }
}

/// Spawn `work` on the runtime and return an awaitable of its result. `work` receives the
/// cancellation signal; `finish` turns the result into what Python receives (it runs on the
/// Tokio side when the task ends, before the GIL is taken).
pub fn spawn_awaitable<'py, W, Fut, T, R, Fin>(
    py: Python<'py>,
    work: W,
    finish: Fin,
) -> PyResult<Bound<'py, PyAny>>
where
    W: FnOnce(oneshot::Receiver<()>) -> Fut,
    Fut: Future<Output = EngineResult<T>> + Send + 'static,
    T: Send + 'static,
    Fin: FnOnce(EngineResult<T>) -> R + Send + 'static,
    R: for<'a> IntoPyObject<'a> + Send + 'static,
{
    let (cancel_tx, cancel_rx) = oneshot::channel();
    let task = runtime()
        .map_err(|e| e.into_pyerr(py))?
        .spawn(work(cancel_rx));
    pyo3_async_runtimes::tokio::future_into_py(py, async move {
        let mut guard = CancelOnDrop(Some(cancel_tx));
        let result = match task.await {
            Ok(result) => result,
            Err(join_error) => Err(EngineError::interface(format!(
                "the engine's task failed: {join_error}"
            ))),
        };
        guard.0 = None;
        Ok(finish(result))
    })
}

/// An `EngineResult` that becomes a Python value or raises the mapped exception.
pub struct Outcome<T>(pub EngineResult<T>);

impl<'py, T> IntoPyObject<'py> for Outcome<T>
where
    T: IntoPyObject<'py>,
{
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        match self.0 {
            Ok(value) => value
                .into_pyobject(py)
                .map(|v| v.into_any().into_bound())
                .map_err(Into::into),
            Err(err) => Err(err.into_pyerr(py)),
        }
    }
}

/// Spawn work whose plain result (an object, a flag, nothing) goes straight to Python.
pub fn spawn_outcome<'py, W, Fut, T>(py: Python<'py>, work: W) -> PyResult<Bound<'py, PyAny>>
where
    W: FnOnce(oneshot::Receiver<()>) -> Fut,
    Fut: Future<Output = EngineResult<T>> + Send + 'static,
    T: for<'a> IntoPyObject<'a> + Send + 'static,
{
    spawn_awaitable(py, work, Outcome)
}
