//! Which asyncio task issued a call. In isolation, a transaction owns the shared connection
//! for its task: other statements of that same task run inside it (with one connection there
//! is nowhere else for them to go), while other tasks wait their turn.

use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;

/// A task, kept alive while referenced so its identity cannot be reused by a later task.
pub struct TaskRef {
    task: Py<PyAny>,
}

impl TaskRef {
    /// The task running now on this thread's event loop, if any.
    pub fn current(py: Python<'_>) -> Option<Arc<TaskRef>> {
        static CURRENT_TASK: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
        let current = CURRENT_TASK
            .get_or_try_init(py, || {
                PyResult::Ok(py.import("asyncio")?.getattr("current_task")?.unbind())
            })
            .ok()?;
        let task = current.bind(py).call0().ok()?;
        (!task.is_none()).then(|| {
            Arc::new(TaskRef {
                task: task.unbind(),
            })
        })
    }

    pub fn is(&self, other: &TaskRef) -> bool {
        self.task.as_ptr() == other.task.as_ptr()
    }
}
