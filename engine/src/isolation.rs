//! The isolation mode the test toolkit drives: while it is on, every statement of the engine,
//! from any task or event loop, runs on one pinned connection inside an outer transaction.
//! Levels nest (a session-wide seed level, then one per test); leaving a level rolls back
//! everything done inside it, commits included.

use std::sync::Arc;
use std::time::Duration;

use crate::core::{EngineCore, IsolationState};
use crate::errors::{EngineError, EngineResult};
use crate::pinned::{Pinned, Purpose};
use crate::savepoint::{next_id, Savepoint};

/// Enter one more isolation level; returns the depth reached. `patience`: how long a task may
/// wait for the connection while another task's transaction holds it and runs nothing.
pub async fn enter(core: Arc<EngineCore>, patience: Duration) -> EngineResult<usize> {
    let _gate = core.isolation_gate.lock().await;
    let id = next_id();
    match core.isolation_top() {
        None => {
            let conn = core.backend.acquire().await?;
            if let Err(err) = conn.control("BEGIN").await {
                conn.discard();
                return Err(err);
            }
            let pinned = Pinned::new(
                conn,
                core.backend.statement_cache(),
                Purpose::Isolation {
                    patience,
                    single_connection: core.backend.status().2 == 1,
                },
            );
            core.set_isolation(Some(IsolationState {
                pinned,
                levels: vec![id],
            }));
            Ok(1)
        }
        Some((pinned, _)) => {
            let mut slot = pinned.lock().await;
            slot.control(&Savepoint::generated("level", id).create())
                .await?;
            drop(slot);
            Ok(core.push_level(id))
        }
    }
}

/// Leave the innermost level, rolling back all it did (transactions still open in it
/// included); returns the depth left.
pub async fn leave(core: Arc<EngineCore>) -> EngineResult<usize> {
    if core.is_inherited() {
        return core.check_open().map(|_| 0);
    }
    let _gate = core.isolation_gate.lock().await;
    let Some((pinned, depth)) = core.isolation_top() else {
        return Err(EngineError::interface(
            "the engine is not in isolation mode",
        ));
    };
    if depth > 1 {
        let id = core.pop_level().unwrap_or_default();
        let mut slot = pinned.lock().await;
        // A transaction left open in this level is rolled back with it.
        if slot.is_owned() {
            pinned.disown_all(&mut slot);
        }
        slot.control(&Savepoint::generated("level", id).undo())
            .await?;
        return Ok(depth - 1);
    }
    // New statements go back to the pool from here on.
    core.set_isolation(None);
    if let Some(conn) = pinned.take_conn().await {
        if let Err(err) = conn.rollback().await {
            conn.discard();
            return Err(err);
        }
    }
    Ok(0)
}

/// Undo everything done in the innermost level and open it afresh, in one round trip: the
/// toolkit rewinds a finished test's level and gives it to the next test, instead of leaving
/// it and entering a new one. The level gets a new identity, so transactions begun in it
/// before are over. Returns the depth (unchanged).
pub async fn rewind(core: Arc<EngineCore>) -> EngineResult<usize> {
    if core.is_inherited() {
        return core.check_open().map(|_| 0);
    }
    let _gate = core.isolation_gate.lock().await;
    let (Some((pinned, depth)), Some(id)) = (core.isolation_top(), core.innermost_level()) else {
        return Err(EngineError::interface(
            "the engine is not in isolation mode",
        ));
    };
    let mut slot = pinned.lock().await;
    // A transaction left open in this level is rolled back with it.
    if slot.is_owned() {
        pinned.disown_all(&mut slot);
    }
    let renewed = next_id();
    if depth > 1 {
        let old = Savepoint::generated("level", id);
        let new = Savepoint::generated("level", renewed);
        slot.control(&format!("{}; {}", old.undo(), new.create()))
            .await?;
    } else {
        slot.restart("ROLLBACK; BEGIN").await?;
    }
    core.renew_innermost_level(renewed);
    Ok(depth)
}
