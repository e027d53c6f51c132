//! Autocommit statements outside any transaction: one pooled connection per statement.

use std::sync::Arc;

use tokio::sync::oneshot;

use crate::backend::{Backend, Conn};
use crate::cancel::{cancellable, cancelled, unless_cancelled, AfterCancel};
use crate::errors::EngineResult;
use crate::statement::{Action, Payload, Statement};

pub async fn run_pooled(
    backend: &Backend,
    stmt: Arc<Statement>,
    mut cancel: oneshot::Receiver<()>,
) -> EngineResult<Payload> {
    let conn = unless_cancelled(backend.acquire(), &mut cancel)
        .await
        .ok_or_else(cancelled)??;
    let cache = backend.statement_cache();
    let canceller = Some(conn.canceller());
    if stmt.action == Action::ExecuteMany && matches!(conn, Conn::Pg { .. }) {
        // All or nothing, as one transaction (SQLite wraps batches itself).
        let work = async {
            let (begun, ran) = tokio::join!(conn.control("BEGIN"), conn.run(&stmt, cache, false));
            begun?;
            ran
        };
        let (outcome, after) = cancellable(canceller, work, &mut cancel).await;
        if after == AfterCancel::Discard {
            conn.discard();
            return outcome;
        }
        return match outcome {
            Ok(payload) => conn.control("COMMIT").await.map(|_| payload),
            Err(err) => {
                conn.rollback_and_release().await;
                Err(err)
            }
        };
    }
    let (outcome, after) = cancellable(canceller, conn.run(&stmt, cache, true), &mut cancel).await;
    if after == AfterCancel::Discard {
        conn.discard();
    }
    outcome
}
