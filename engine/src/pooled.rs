//! Autocommit statements outside any transaction: one pooled connection per statement.
//!
//! A pooled connection can die while idle (the server restarted, an administrator ended the
//! session). Such a statement is retried on another connection, but only when it provably had
//! no effect: the connection was found closed before anything was sent, or the server answered
//! that it was ending the session (SQLSTATE 57P01-57P03; it rolls back what the statement did).
//! A connection lost without that answer may have committed the statement: never retried.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::sync::oneshot;

use crate::backend::{Backend, Conn};
use crate::cancel::{cancellable, cancelled, unless_cancelled, AfterCancel};
use crate::errors::{script_left_transaction_open, EngineError, EngineResult};
use crate::pg_pool::Ending;
use crate::postgres;
use crate::statement::{may_open_transaction, Action, Payload, Statement};

pub async fn run_pooled(
    backend: &Backend,
    stmt: Arc<Statement>,
    mut cancel: oneshot::Receiver<()>,
) -> EngineResult<Payload> {
    // Every pooled connection may be dead at once (a server restart): one try more than that.
    let attempts = backend.status().2 + 1;
    let mut attempt = 1;
    loop {
        let conn = unless_cancelled(backend.acquire(), &mut cancel)
            .await
            .ok_or_else(cancelled)??;
        match run_on(backend, &conn, &stmt, &mut cancel).await {
            Attempt::Done(outcome, AfterCancel::Discard) => {
                conn.discard();
                return outcome;
            }
            Attempt::Done(outcome, _) => return outcome,
            Attempt::NotRun(err) => {
                conn.discard();
                if attempt >= attempts {
                    return Err(err);
                }
                attempt += 1;
            }
        }
    }
}

enum Attempt {
    Done(EngineResult<Payload>, AfterCancel),
    /// The statement provably had no effect, and the connection is dead.
    NotRun(EngineError),
}

async fn run_on(
    backend: &Backend,
    conn: &Conn,
    stmt: &Arc<Statement>,
    cancel: &mut oneshot::Receiver<()>,
) -> Attempt {
    let cache = backend.statement_cache();
    let canceller = Some(conn.canceller());
    // A request that reached the connection always waits for the server's reply, so a
    // statement that failed without ever waiting was never sent.
    let waited = AtomicBool::new(false);
    if stmt.action == Action::ExecuteMany && matches!(conn, Conn::Pg { .. }) {
        // All or nothing, as one transaction (SQLite wraps batches itself).
        let work = watched(
            async {
                let (begun, ran) =
                    tokio::join!(conn.control("BEGIN"), conn.run(stmt, cache, false));
                begun?;
                ran
            },
            &waited,
        );
        let (outcome, after) = cancellable(canceller, work, cancel).await;
        if after == AfterCancel::Discard {
            return Attempt::Done(outcome, after);
        }
        return match outcome {
            // A failed COMMIT may have committed: reported, never retried.
            Ok(payload) => Attempt::Done(conn.control("COMMIT").await.map(|_| payload), after),
            Err(err) if had_no_effect(conn, &err, waited.load(Ordering::Acquire)) => {
                Attempt::NotRun(err)
            }
            Err(err) => {
                conn.rollback().await.ok();
                Attempt::Done(Err(err), after)
            }
        };
    }
    let work = watched(conn.run(stmt, cache, true), &waited);
    let (outcome, after) = cancellable(canceller, work, cancel).await;
    if outcome.is_ok() && stmt.action == Action::Script && may_open_transaction(&stmt.sql) {
        if let Err(err) = refuse_open_transaction(conn, &stmt.sql).await {
            // Closing the connection rolls the transaction back.
            return Attempt::Done(Err(err), AfterCancel::Discard);
        }
    }
    match outcome {
        Err(err)
            if after != AfterCancel::Discard
                && had_no_effect(conn, &err, waited.load(Ordering::Acquire)) =>
        {
            Attempt::NotRun(err)
        }
        other => Attempt::Done(other, after),
    }
}

/// A script that left its connection inside a transaction (BEGIN without COMMIT) would have
/// the connection's next statements, anyone's, join it: refused, and the connection closed,
/// which rolls the transaction back. (SQLite's pool rolls back such a connection itself.)
async fn refuse_open_transaction(conn: &Conn, sql: &str) -> EngineResult<()> {
    let Conn::Pg { conn: pg, .. } = conn else {
        return Ok(());
    };
    if !postgres::in_transaction_block(pg).await? {
        return Ok(());
    }
    Err(script_left_transaction_open(sql))
}

/// `work`, noting in `waited` whether it ever had to wait.
async fn watched<F: Future>(work: F, waited: &AtomicBool) -> F::Output {
    let mut work = std::pin::pin!(work);
    std::future::poll_fn(|cx| {
        let poll = work.as_mut().poll(cx);
        if poll.is_pending() {
            waited.store(true, Ordering::Release);
        }
        poll
    })
    .await
}

/// Whether a failed statement's connection died before the statement could do anything.
fn had_no_effect(conn: &Conn, err: &EngineError, waited_for_server: bool) -> bool {
    match err.sqlstate() {
        // The server ended the session; its open work (this statement) is rolled back.
        Some("57P01" | "57P02" | "57P03") => true,
        // Closed before anything was sent, or queued behind the server ending an idle session
        // (the connection stopped before writing it).
        Some("08006") => {
            !waited_for_server
                || matches!(conn, Conn::Pg { conn, .. }
                    if conn.ending() == Some(Ending::ServerEndedIdleSession))
        }
        _ => false,
    }
}
