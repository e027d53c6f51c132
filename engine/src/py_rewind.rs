//! `Engine.start_rewind_isolation()`: a finished test's level rolled back in the background.
//! The teardown that starts it does not wait for the round trip; the next test's setup asks
//! for the outcome, by then usually known, so a test pays for no thread crossing at all.

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Instant;

use futures_util::future::{BoxFuture, FutureExt};
use pyo3::prelude::*;

use crate::config::seconds;
use crate::errors::{EngineError, EngineResult};
use crate::runtime::runtime;

/// A rewind under way, or finished.
#[pyclass(module = "yara_orm._engine", frozen)]
pub struct Rewind {
    outcome: Arc<Outcome>,
}

#[derive(Default)]
struct Outcome {
    result: Mutex<Option<EngineResult<usize>>>,
    ready: Condvar,
}

impl Outcome {
    fn lock(&self) -> MutexGuard<'_, Option<EngineResult<usize>>> {
        self.result
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn settle(&self, result: EngineResult<usize>) {
        let mut slot = self.lock();
        if slot.is_none() {
            *slot = Some(result);
            self.ready.notify_all();
        }
    }
}

/// Settles the outcome even if the task is dropped unfinished (the runtime shutting down), so
/// a waiter never waits for nothing.
struct Settle(Arc<Outcome>);

impl Drop for Settle {
    fn drop(&mut self) {
        self.0.settle(Err(EngineError::interface(
            "the engine stopped before the isolation level was rolled back",
        )));
    }
}

impl Rewind {
    pub fn finished(result: EngineResult<usize>) -> Rewind {
        let outcome = Arc::new(Outcome::default());
        outcome.settle(result);
        Rewind { outcome }
    }

    /// Run `work` on the runtime; the handle learns how it went.
    pub fn spawn(work: BoxFuture<'static, EngineResult<usize>>) -> EngineResult<Rewind> {
        let outcome = Arc::new(Outcome::default());
        let settle = Settle(Arc::clone(&outcome));
        runtime()?.spawn(async move {
            let result = AssertUnwindSafe(work)
                .catch_unwind()
                .await
                .unwrap_or_else(|_| Err(EngineError::interface("the engine's task failed")));
            settle.0.settle(result);
        });
        Ok(Rewind { outcome })
    }
}

#[pymethods]
impl Rewind {
    /// Whether the rollback has run (or failed).
    #[getter]
    fn done(&self) -> bool {
        self.outcome.lock().is_some()
    }

    /// Wait for the rollback (with the GIL released) and return the depth, or raise what it
    /// raised. `timeout`: seconds.
    #[pyo3(signature = (timeout=300.0))]
    fn wait(&self, py: Python<'_>, timeout: f64) -> PyResult<usize> {
        let limit = seconds("timeout", timeout).map_err(|e| e.into_pyerr(py))?;
        let result = py.detach(|| {
            let deadline = Instant::now() + limit;
            let mut slot = self.outcome.lock();
            loop {
                if let Some(result) = slot.as_ref() {
                    return match result {
                        Ok(depth) => Ok(*depth),
                        Err(err) => Err(err.clone()),
                    };
                }
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(EngineError::interface(format!(
                        "the isolation level was not rolled back within {timeout} s"
                    )));
                }
                slot = self
                    .outcome
                    .ready
                    .wait_timeout(slot, left)
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .0;
            }
        });
        result.map_err(|err| err.into_pyerr(py))
    }
}
