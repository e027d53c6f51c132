//! The isolation mode the test toolkit drives: while it is on, every statement of the engine,
//! from any task or event loop, runs on one pinned connection inside an outer transaction.
//! Levels nest (a session-wide seed level, then one per test); leaving a level rolls back
//! everything done inside it, commits included.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::{BoxFuture, FutureExt};

use crate::core::{EngineCore, IsolationState};
use crate::errors::{EngineError, EngineResult};
use crate::pinned::{Pinned, Purpose, Slot};
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
    let (pinned, depth, id) = innermost(&core)?;
    let mut slot = pinned.lock().await;
    let sql = prepare_rewind(&core, &pinned, &mut slot, depth, id);
    run_rewind(&mut slot, depth, &sql).await?;
    Ok(depth)
}

/// How `start_rewind` went.
pub enum RewindStart {
    /// Nothing to send (a forked child's inherited engine): the depth.
    Finished(usize),
    /// The round trip, to run in the background: it holds the connection already.
    Running(BoxFuture<'static, EngineResult<usize>>),
    /// Another task holds the connection or the isolation levels: rewind the usual way.
    Busy,
}

/// `rewind`, with everything but the round trip done before it returns: the connection is
/// taken and the level renewed now, so whatever the caller runs next (a statement, leaving
/// the level) queues behind the rollback while the caller goes on without waiting for it.
pub fn start_rewind(core: &Arc<EngineCore>) -> EngineResult<RewindStart> {
    if core.is_inherited() {
        return core.check_open().map(|_| RewindStart::Finished(0));
    }
    let Ok(_gate) = core.isolation_gate.try_lock() else {
        return Ok(RewindStart::Busy);
    };
    let (pinned, depth, id) = innermost(core)?;
    let Some(mut slot) = pinned.try_lock_owned() else {
        return Ok(RewindStart::Busy);
    };
    let sql = prepare_rewind(core, &pinned, &mut slot, depth, id);
    Ok(RewindStart::Running(
        async move {
            let outcome = run_rewind(&mut slot, depth, &sql).await.map(|()| depth);
            // Held to here: a `Pinned` must outlive every holder of its slot (see its Drop).
            drop((slot, pinned));
            outcome
        }
        .boxed(),
    ))
}

fn innermost(core: &EngineCore) -> EngineResult<(Arc<Pinned>, usize, u64)> {
    match (core.isolation_top(), core.innermost_level()) {
        (Some((pinned, depth)), Some(id)) => Ok((pinned, depth, id)),
        _ => Err(EngineError::interface(
            "the engine is not in isolation mode",
        )),
    }
}

/// Take the level from its transactions and give it a new identity; the SQL that rolls it
/// back and opens it again.
fn prepare_rewind(
    core: &EngineCore,
    pinned: &Pinned,
    slot: &mut Slot,
    depth: usize,
    id: u64,
) -> String {
    // A transaction left open in this level is rolled back with it.
    if slot.is_owned() {
        pinned.disown_all(slot);
    }
    let renewed = next_id();
    core.renew_innermost_level(renewed);
    if depth > 1 {
        let old = Savepoint::generated("level", id);
        let new = Savepoint::generated("level", renewed);
        format!("{}; {}", old.undo(), new.create())
    } else {
        "ROLLBACK; BEGIN".to_owned()
    }
}

async fn run_rewind(slot: &mut Slot, depth: usize, sql: &str) -> EngineResult<()> {
    if depth > 1 {
        slot.control(sql).await
    } else {
        slot.restart(sql).await
    }
}
