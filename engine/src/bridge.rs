//! The one Tokio runtime, and how work crosses between it and asyncio.
//!
//! Every database operation runs as its own Tokio task. The asyncio future handed to Python
//! only waits for that task, so cancelling it never abandons a connection half-way through a
//! protocol exchange: the task is told to cancel (the server is asked to stop the statement),
//! finishes its bookkeeping, and returns its connection.
//!
//! A small result is queued for the event loop, which builds it on its own thread (see
//! `loop_waker.rs`): no thread hop, no GIL hand-over. A large one is built by a thread of
//! Tokio's blocking pool in GIL slices and scheduled on the loop, so the loop never stalls on
//! it. That is pyo3-async-runtimes' `future_into_py` done by hand for one more reason: a thread
//! that is inside Python when the interpreter finalizes is killed by CPython with a forced
//! unwind, which aborts a Rust process. Here every such section is counted, and an `atexit`
//! hook stops new ones and waits for the running ones before finalization begins.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyCFunction;
use pyo3::BoundObject;
use tokio::sync::oneshot;

use crate::errors::{EngineError, EngineResult};
use crate::loop_waker::{mailbox_of, Build, Mailbox};
use crate::runtime::runtime;

/// A result on its way to Python; `small` ones are built on the event loop's thread.
pub trait Delivery: for<'a> IntoPyObject<'a> + Send + 'static {
    /// Cheap enough to build on the loop's thread without stalling it.
    fn small(&self) -> bool {
        true
    }
}

/// Hand our runtime to pyo3-async-runtimes so exactly one Tokio runtime exists, make
/// interpreter exit wait for threads that are delivering results, and start afresh in the
/// child of a fork.
pub fn install(py: Python<'_>) -> PyResult<()> {
    let runtime = runtime().map_err(|e| e.into_pyerr(py))?;
    let _ = pyo3_async_runtimes::tokio::init_with_runtime(runtime);
    let hook = PyCFunction::new_closure(py, None, None, |args, _| {
        drain(args.py(), Duration::from_secs(5));
    })?;
    py.import("atexit")?.call_method1("register", (hook,))?;
    let after_fork = PyCFunction::new_closure(py, None, None, |_, _| {
        crate::runtime::forked();
        // Deliveries under way in the parent do not exist here.
        IN_PYTHON.store(0, Ordering::SeqCst);
    })?;
    let kwargs = pyo3::types::PyDict::new(py);
    kwargs.set_item("after_in_child", after_fork)?;
    py.import("os")?
        .call_method("register_at_fork", (), Some(&kwargs))?;
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

/// Run `work` on the runtime and wait for it on this thread with the GIL released: for
/// synchronous callers (test fixtures) that have no event loop to await on. No loop and no
/// thread of ours sits between the caller and the work.
pub fn wait_for<T, Fut>(py: Python<'_>, limit: Duration, work: Fut) -> PyResult<T>
where
    Fut: Future<Output = EngineResult<T>> + Send,
    T: Send,
{
    let runtime = runtime().map_err(|e| e.into_pyerr(py))?;
    if tokio::runtime::Handle::try_current().is_ok() {
        return Err(EngineError::interface(
            "a blocking engine call cannot run on one of the engine's own threads",
        )
        .into_pyerr(py));
    }
    let outcome = py.detach(|| {
        runtime.block_on(async {
            match tokio::time::timeout(limit, AssertUnwindSafe(work).catch_unwind()).await {
                Ok(Ok(result)) => result,
                Ok(Err(_)) => Err(EngineError::interface("the engine's task failed")),
                Err(_) => Err(EngineError::interface(format!(
                    "the engine call did not finish within {} s",
                    limit.as_secs()
                ))),
            }
        })
    });
    outcome.map_err(|e| e.into_pyerr(py))
}

/// Threads currently inside Python to deliver a result.
static IN_PYTHON: AtomicUsize = AtomicUsize::new(0);
/// Set at interpreter exit: results no longer reach Python.
static SHUTTING_DOWN: AtomicBool = AtomicBool::new(false);

/// Stop delivering results and wait (without the GIL) for deliveries under way.
fn drain(py: Python<'_>, timeout: Duration) {
    SHUTTING_DOWN.store(true, Ordering::SeqCst);
    py.detach(|| {
        let started = Instant::now();
        while IN_PYTHON.load(Ordering::SeqCst) > 0 && started.elapsed() < timeout {
            std::thread::sleep(Duration::from_millis(1));
        }
    });
}

/// Runs its action (tell the task, interrupt the statement) when Python cancels the future.
#[pyclass]
struct CancelOnDone {
    action: Mutex<Option<CancelAction>>,
}

/// What cancelling a statement's future does; runs on the loop's thread.
pub type CancelAction = Box<dyn FnOnce() + Send>;

#[pymethods]
impl CancelOnDone {
    fn __call__(&self, future: &Bound<'_, PyAny>) -> PyResult<()> {
        if future
            .call_method0(pyo3::intern!(future.py(), "cancelled"))?
            .is_truthy()?
        {
            let action = self
                .action
                .lock()
                .map(|mut slot| slot.take())
                .unwrap_or(None);
            if let Some(action) = action {
                action();
            }
        }
        Ok(())
    }
}

/// An asyncio future of the running loop, and what completing it from any thread needs.
pub struct Awaiting {
    event_loop: Py<PyAny>,
    future: Py<PyAny>,
    mailbox: Option<Arc<Mailbox>>,
}

/// A new future of the running loop; `on_cancel` runs if Python cancels it.
pub fn awaiting<'py>(
    py: Python<'py>,
    on_cancel: CancelAction,
) -> PyResult<(Bound<'py, PyAny>, Awaiting)> {
    let event_loop = pyo3_async_runtimes::get_running_loop(py)?;
    let future = event_loop.call_method0(pyo3::intern!(py, "create_future"))?;
    let on_done = CancelOnDone {
        action: Mutex::new(Some(on_cancel)),
    };
    future.call_method1(pyo3::intern!(py, "add_done_callback"), (on_done,))?;
    let mailbox = mailbox_of(&event_loop)?;
    let awaiting = Awaiting {
        event_loop: event_loop.unbind(),
        future: future.clone().unbind(),
        mailbox,
    };
    Ok((future, awaiting))
}

impl Awaiting {
    /// Hand `reply` to the loop, from any thread: a small one is queued for the loop, which
    /// builds it on its own thread; a large one is built by a thread of Tokio's blocking pool
    /// in GIL slices (taking the GIL may wait: never on a Tokio worker). The handle of that
    /// thread's work, if there is one.
    pub fn complete<R: Delivery>(self, reply: R) -> Option<tokio::task::JoinHandle<()>> {
        match self.mailbox {
            Some(mailbox) if reply.small() => {
                let build: Build = Box::new(move |py| {
                    reply
                        .into_pyobject(py)
                        .map(|value| value.into_any().into_bound())
                        .map_err(Into::into)
                });
                mailbox.post(self.future, build);
                None
            }
            _ => {
                let delivery = (self.event_loop, self.future);
                let runtime = runtime().ok()?;
                Some(runtime.spawn_blocking(move || deliver(delivery, reply)))
            }
        }
    }
}

/// `_resolve(future, method, value)`: set the result on the loop's thread unless the future
/// was cancelled meanwhile.
fn resolver(py: Python<'_>) -> PyResult<&Bound<'_, PyAny>> {
    static RESOLVE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    RESOLVE
        .get_or_try_init(py, || {
            let code = c"def resolve(future, method, value):\n    if not future.done():\n        getattr(future, method)(value)\n";
            let module = PyModule::from_code(py, code, c"yara_orm/_bridge.py", c"yara_orm._bridge")?;
            Ok(module.getattr("resolve")?.unbind())
        })
        .map(|f| f.bind(py))
}

/// Spawn `work` on the runtime and return an asyncio future of its result. `work` receives
/// the cancellation signal; `finish` turns the result into what Python receives (it runs
/// without the GIL; the conversion itself happens under the GIL, once).
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
    R: Delivery,
{
    let runtime = runtime().map_err(|e| e.into_pyerr(py))?;
    let (cancel_tx, cancel_rx) = oneshot::channel();
    let (future, awaiting) = awaiting(
        py,
        Box::new(move || {
            let _ = cancel_tx.send(());
        }),
    )?;
    let work = work(cancel_rx);
    runtime.spawn(async move {
        // Python cancelling the future only signals `cancel_rx`: the work always runs to its
        // end here, so a connection is never abandoned mid-exchange.
        let outcome = AssertUnwindSafe(work)
            .catch_unwind()
            .await
            .unwrap_or_else(|panic| Err(task_failed(panic.as_ref())));
        if let Some(building) = awaiting.complete(finish(outcome)) {
            let _ = building.await;
        }
    });
    Ok(future)
}

/// The error a panic in the engine's work becomes: a bug, but the awaiting Python code gets
/// an exception rather than a hang.
pub fn task_failed(panic: &(dyn std::any::Any + Send)) -> EngineError {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    EngineError::interface(format!("the engine's task failed: {message}"))
}

fn deliver<R>(delivery: (Py<PyAny>, Py<PyAny>), reply: R)
where
    R: for<'a> IntoPyObject<'a>,
{
    IN_PYTHON.fetch_add(1, Ordering::SeqCst);
    if !SHUTTING_DOWN.load(Ordering::SeqCst) {
        Python::attach(|py| {
            let (event_loop, future) = delivery;
            let future = future.bind(py);
            if future
                .call_method0(pyo3::intern!(py, "done"))
                .and_then(|d| d.is_truthy())
                .unwrap_or(true)
            {
                return; // cancelled: nobody wants the result
            }
            let (method, value) = match reply.into_pyobject(py) {
                Ok(value) => ("set_result", value.into_any().into_bound()),
                Err(err) => {
                    let err: PyErr = err.into();
                    (
                        "set_exception",
                        err.into_value(py).into_bound(py).into_any(),
                    )
                }
            };
            if let Ok(resolve) = resolver(py) {
                // Fails only if the loop is closed, and then nobody is waiting.
                let _ = event_loop.bind(py).call_method1(
                    pyo3::intern!(py, "call_soon_threadsafe"),
                    (resolve, future, method, value),
                );
            }
        });
    }
    IN_PYTHON.fetch_sub(1, Ordering::SeqCst);
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

impl<T> Delivery for Outcome<T> where T: for<'a> IntoPyObject<'a> + Send + 'static {}

/// Spawn work whose plain result (an object, a flag, nothing) goes straight to Python.
pub fn spawn_outcome<'py, W, Fut, T>(py: Python<'py>, work: W) -> PyResult<Bound<'py, PyAny>>
where
    W: FnOnce(oneshot::Receiver<()>) -> Fut,
    Fut: Future<Output = EngineResult<T>> + Send + 'static,
    T: for<'a> IntoPyObject<'a> + Send + 'static,
{
    spawn_awaitable(py, work, Outcome)
}
