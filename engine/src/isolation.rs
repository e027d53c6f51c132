//! The isolation mode the test toolkit drives: while it is on, every statement of the engine,
//! from any task or event loop, runs on one pinned connection inside an outer transaction.
//! Levels nest (a session-wide seed level, then one per test); leaving a level rolls back
//! everything done inside it, commits included.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::engine::EngineCore;
use crate::errors::{EngineError, EngineResult};
use crate::session::Pinned;

pub struct IsolationState {
    pub pinned: Arc<Pinned>,
    /// Identifiers of the open levels, outermost first. Level 0 is the transaction itself;
    /// every later level is a savepoint named after its identifier.
    pub levels: Vec<u64>,
}

static IDS: AtomicU64 = AtomicU64::new(1);

pub fn next_id() -> u64 {
    IDS.fetch_add(1, Ordering::Relaxed)
}

/// A savepoint name the engine generates, always quoted.
pub fn savepoint_name(prefix: &str, id: u64) -> String {
    quote_identifier(&format!("yara_{prefix}_{id}"))
}

/// `"name"` with embedded quotes doubled: safe for any savepoint name a user passes.
pub fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Enter one more isolation level; returns the depth reached.
pub async fn enter(core: Arc<EngineCore>) -> EngineResult<usize> {
    let _gate = core.isolation_gate.lock().await;
    let current = core.isolation_top();
    let id = next_id();
    match current {
        None => {
            let conn = core.backend.acquire().await?;
            if let Err(err) = conn.control("BEGIN").await {
                conn.discard();
                return Err(err);
            }
            let pinned = Pinned::new(conn, core.backend.statement_cache());
            core.set_isolation(Some(IsolationState {
                pinned,
                levels: vec![id],
            }));
            Ok(1)
        }
        Some((pinned, _)) => {
            {
                let mut slot = pinned.lock().await;
                let sql = format!(
                    "{}SAVEPOINT {}",
                    slot.take_pending_release(),
                    savepoint_name("level", id)
                );
                slot.conn()?.control(&sql).await?;
            }
            Ok(core.push_level(id))
        }
    }
}

/// Leave the innermost level, rolling back all it did; returns the depth left.
pub async fn leave(core: Arc<EngineCore>) -> EngineResult<usize> {
    let _gate = core.isolation_gate.lock().await;
    let Some((pinned, depth)) = core.isolation_top() else {
        return Err(EngineError::interface(
            "the engine is not in isolation mode",
        ));
    };
    if depth > 1 {
        let id = core.pop_level();
        let name = savepoint_name("level", id);
        let mut slot = pinned.lock().await;
        let sql = format!(
            "{}ROLLBACK TO SAVEPOINT {name}; RELEASE SAVEPOINT {name}",
            slot.take_pending_release()
        );
        slot.conn()?.control(&sql).await?;
        return Ok(depth - 1);
    }
    // New statements go back to the pool from here on.
    core.set_isolation(None);
    let conn = pinned.lock().await.take_conn();
    if let Some(conn) = conn {
        if let Err(err) = conn.control("ROLLBACK").await {
            conn.discard();
            return Err(err);
        }
    }
    Ok(0)
}
