//! The short way for a SQLite statement from asyncio: when an idle pooled connection can be
//! had at once, the statement goes from the event loop's thread straight to the connection's
//! thread, which hands the reply straight to the loop.
//!
//! The usual way crosses threads four times (asyncio → a Tokio worker → the connection's
//! thread → the worker → asyncio). Waking a parked thread is what a small statement costs
//! most on a small machine (a virtual one above all), so two crossings fewer is most of a
//! SQLite `get()`. The usual way remains for everything else: no idle connection, isolation
//! and transactions, simulated latency and faults.

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};

use pyo3::prelude::*;

use crate::backend::Backend;
use crate::bridge::{awaiting, task_failed};
use crate::cancel::cancelled;
use crate::core::EngineCore;
use crate::errors::EngineError;
use crate::reply::{Reply, Shape};
use crate::sqlite_run;
use crate::statement::Statement;
use crate::stats::StatsDraft;

/// Where `try_submit` left a statement.
pub enum Route<'py> {
    /// Sent the short way: the future of its result (or why none could be made).
    Submitted(PyResult<Bound<'py, PyAny>>),
    /// Not for the short way: what the usual way needs, given back.
    Declined(StatsDraft, Shape),
}

/// Submit `stmt` the short way when it can go that way.
pub fn try_submit<'py>(
    py: Python<'py>,
    core: &EngineCore,
    stmt: Arc<Statement>,
    draft: StatsDraft,
    shape: Shape,
) -> Route<'py> {
    let Backend::Sqlite(lite) = &*core.backend else {
        return Route::Declined(draft, shape);
    };
    // Deadpool's immediate acquire still sets up its (unused) timers: they need the runtime.
    let Ok(runtime) = crate::runtime::runtime() else {
        return Route::Declined(draft, shape);
    };
    let acquired = {
        let _context = runtime.enter();
        lite.try_acquire_now()
    };
    let Some(conn) = acquired else {
        return Route::Declined(draft, shape);
    };
    let sender = conn.sender();
    let cache = lite.statement_cache();
    // A cancellation before the statement starts keeps it from running; one while it runs
    // interrupts it; a late one does nothing (the connection may be serving another
    // statement by then).
    let stage = Arc::new(Mutex::new(Stage::Queued));
    let interrupt = conn.interrupt_handle();
    let cancel_stage = Arc::clone(&stage);
    let created = awaiting(
        py,
        Box::new(move || {
            if let Ok(mut stage) = cancel_stage.lock() {
                match *stage {
                    Stage::Queued => *stage = Stage::Cancelled,
                    Stage::Running => interrupt.interrupt(),
                    Stage::Cancelled | Stage::Done => {}
                }
            }
        }),
    );
    let (future, pending) = match created {
        Ok(created) => created,
        Err(err) => return Route::Submitted(Err(err)),
    };
    let sent = sender.send(
        move |connection| {
            if !advance(&stage, Stage::Running) {
                return Err(cancelled());
            }
            let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
                sqlite_run::run(connection, &stmt, cache)
            }))
            .unwrap_or_else(|panic| Err(task_failed(panic.as_ref())));
            advance(&stage, Stage::Done);
            outcome
        },
        move |outcome| {
            // Back to the pool (its state recorded) before the caller hears of the result, so
            // the caller's next statement finds it idle.
            drop(conn);
            pending.complete(Reply::new(outcome, draft, shape));
        },
    );
    if let Err(err) = sent {
        // The thread ended: the job (and the connection with it) was dropped unrun.
        let raised = EngineError::interface(format!("{err}; the statement did not run"))
            .into_pyerr(py)
            .into_value(py);
        if let Err(err) = future.call_method1(pyo3::intern!(py, "set_exception"), (raised,)) {
            return Route::Submitted(Err(err));
        }
    }
    Route::Submitted(Ok(future))
}

/// Where a statement sent the short way is, for a cancellation to act on.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stage {
    Queued,
    Running,
    Done,
    Cancelled,
}

/// Move to `next` unless the statement was cancelled first (then false).
fn advance(stage: &Mutex<Stage>, next: Stage) -> bool {
    match stage.lock() {
        Ok(stage) if *stage == Stage::Cancelled => false,
        Ok(mut stage) => {
            *stage = next;
            true
        }
        Err(_) => true,
    }
}
