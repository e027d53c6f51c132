//! Delivering small results on the event loop's own thread.
//!
//! A finished statement's reply is queued for its event loop and the loop is woken through a
//! socket it watches (`loop.add_reader`). The loop's reader drains the queue: it already holds
//! the GIL, so no background thread has to take it, and a burst of concurrent statements is
//! delivered in one wake-up. Large results still go through a blocking-pool thread that builds
//! them in GIL slices (see `bridge.rs`), so the loop never stalls on one.

use std::io::{ErrorKind, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex};

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;

/// Builds a reply's Python value; runs on the loop's thread with the GIL held.
pub type Build = Box<dyn for<'py> FnOnce(Python<'py>) -> PyResult<Bound<'py, PyAny>> + Send>;

/// A reply waiting for its loop: the asyncio future and how to build its value.
struct Pending {
    future: Py<PyAny>,
    build: Build,
}

/// The queue shared by the loop's reader and the threads finishing statements.
pub struct Mailbox {
    queue: Mutex<Vec<Pending>>,
    /// Written to (without the GIL) when the queue stops being empty.
    bell: UnixStream,
    /// Drained by the loop's reader.
    ear: UnixStream,
}

impl Mailbox {
    fn new() -> std::io::Result<Mailbox> {
        let (bell, ear) = UnixStream::pair()?;
        bell.set_nonblocking(true)?;
        ear.set_nonblocking(true)?;
        Ok(Mailbox {
            queue: Mutex::new(Vec::new()),
            bell,
            ear,
        })
    }

    /// Queue a reply; rings the bell only when the reader may be asleep (empty queue).
    pub fn post(&self, future: Py<PyAny>, build: Build) {
        let first = {
            let Ok(mut queue) = self.queue.lock() else {
                return;
            };
            queue.push(Pending { future, build });
            queue.len() == 1
        };
        if first {
            // A full socket buffer means a wake-up is already pending.
            let _ = (&self.bell).write(&[1]);
        }
    }

    fn take(&self) -> Vec<Pending> {
        let mut drained = [0u8; 256];
        loop {
            match (&self.ear).read(&mut drained) {
                Ok(n) if n == drained.len() => continue,
                Ok(_) => break,
                Err(err) if err.kind() == ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
        self.queue
            .lock()
            .map(|mut queue| std::mem::take(&mut *queue))
            .unwrap_or_default()
    }
}

/// The callable the loop runs when the bell rings.
#[pyclass(module = "yara_orm._engine", frozen)]
struct LoopReader {
    mailbox: Arc<Mailbox>,
}

#[pymethods]
impl LoopReader {
    fn __call__(&self, py: Python<'_>) {
        for pending in self.mailbox.take() {
            deliver(py, pending);
        }
    }
}

fn deliver(py: Python<'_>, pending: Pending) {
    let future = pending.future.bind(py);
    let done = future
        .call_method0(pyo3::intern!(py, "done"))
        .and_then(|d| d.is_truthy())
        .unwrap_or(true);
    if done {
        return; // cancelled meanwhile: nobody wants the result
    }
    let _ = match (pending.build)(py) {
        Ok(value) => future.call_method1(pyo3::intern!(py, "set_result"), (value,)),
        Err(err) => future.call_method1(pyo3::intern!(py, "set_exception"), (err.into_value(py),)),
    };
}

/// The mailbox of `event_loop`, set up on first use; `None` for a loop that cannot watch a
/// socket (then results are delivered through `call_soon_threadsafe`).
pub fn mailbox_of(event_loop: &Bound<'_, PyAny>) -> PyResult<Option<Arc<Mailbox>>> {
    let py = event_loop.py();
    static MAILBOXES: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let registry = MAILBOXES
        .get_or_try_init(py, || -> PyResult<Py<PyAny>> {
            Ok(py
                .import("weakref")?
                .getattr("WeakKeyDictionary")?
                .call0()?
                .unbind())
        })?
        .bind(py);
    let known = match registry.call_method1(pyo3::intern!(py, "get"), (event_loop,)) {
        Ok(known) => known,
        Err(_) => return Ok(None), // a loop that cannot be weakly referenced
    };
    if !known.is_none() {
        return Ok(known
            .cast::<LoopReader>()
            .ok()
            .map(|reader| Arc::clone(&reader.get().mailbox)));
    }
    let mailbox = match Mailbox::new() {
        Ok(mailbox) => Arc::new(mailbox),
        Err(_) => return Ok(None),
    };
    let reader = Bound::new(
        py,
        LoopReader {
            mailbox: Arc::clone(&mailbox),
        },
    )?;
    let fd = mailbox.ear.as_raw_fd();
    let watched = event_loop.call_method1(pyo3::intern!(py, "add_reader"), (fd, &reader));
    if watched.is_err() {
        // e.g. Windows' proactor loop: remember, and use the thread-safe call instead.
        registry.set_item(event_loop, false)?;
        return Ok(None);
    }
    registry.set_item(event_loop, reader)?;
    Ok(Some(mailbox))
}
