//! Cancelling a statement that is under way, without letting the cancellation reach any
//! later statement.
//!
//! A PostgreSQL cancel request travels on a connection of its own and takes effect whenever
//! the server gets to it: if the statement finished meanwhile, a request still in flight would
//! cancel the *next* statement on that session. So the engine waits for the server to close the
//! cancel connection (by then it has signalled the session) and for the statement's own end
//! before the connection is used again; if it cannot be sure, the connection is discarded.

use std::future::Future;
use std::sync::Arc;

use rusqlite::InterruptHandle;
use tokio::sync::oneshot;

use crate::errors::EngineError;
use crate::pg_cancel::{self, CancelEndpoint};

/// Stops whatever statement is running on one connection.
pub enum Canceller {
    Pg {
        token: tokio_postgres::CancelToken,
        endpoint: Arc<CancelEndpoint>,
    },
    Sqlite(Arc<InterruptHandle>),
}

/// Whether the connection may be used again after a cancellation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterCancel {
    /// Nothing was cancelled, or the server has acted on the request: reuse it.
    Reusable,
    /// A SQLite statement was interrupted: the connection is fine, but SQLite ends the
    /// transaction it was in when the statement was a write.
    Interrupted,
    /// The request's fate is unknown: close the connection rather than risk a stray cancel.
    Discard,
}

impl Canceller {
    async fn cancel(self) -> AfterCancel {
        match self {
            Canceller::Pg { token, endpoint } => {
                if pg_cancel::cancel_and_wait(&token, &endpoint).await {
                    AfterCancel::Reusable
                } else {
                    AfterCancel::Discard
                }
            }
            Canceller::Sqlite(handle) => {
                // Takes effect at once, on this connection's running statement only.
                handle.interrupt();
                AfterCancel::Interrupted
            }
        }
    }
}

/// The error a statement ends with when its caller cancelled it before it started.
pub fn cancelled() -> EngineError {
    EngineError::server("57014", "canceling statement due to user request")
}

/// Run `work`; if the caller cancels meanwhile (and `canceller` is given), ask the server to
/// stop it and still wait for it to finish, so the connection is never left mid-exchange.
/// Without a canceller the work simply runs to its end.
pub async fn cancellable<F: Future>(
    canceller: Option<Canceller>,
    work: F,
    cancel: &mut oneshot::Receiver<()>,
) -> (F::Output, AfterCancel) {
    let Some(canceller) = canceller else {
        return (work.await, AfterCancel::Reusable);
    };
    tokio::pin!(work);
    tokio::select! {
        biased;
        out = &mut work => return (out, AfterCancel::Reusable),
        Ok(()) = &mut *cancel => {}
    }
    let (after, out) = tokio::join!(canceller.cancel(), work);
    (out, after)
}

/// Wait for `work` unless the caller cancels first (nothing has been sent yet).
pub async fn unless_cancelled<F: Future>(
    work: F,
    cancel: &mut oneshot::Receiver<()>,
) -> Option<F::Output> {
    tokio::select! {
        biased;
        out = work => Some(out),
        Ok(()) = &mut *cancel => None,
    }
}
