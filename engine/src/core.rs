//! `EngineCore`: what one engine is, below its Python face: the backend's pool, the isolation
//! state the test toolkit switches on, the transactions it must end when it closes, and the
//! database simulation its statements go through.

use std::mem::ManuallyDrop;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use crate::backend::Backend;
use crate::errors::{EngineError, EngineResult};
use crate::pinned::Pinned;
use crate::runtime::{generation, inherited};
use crate::simulation::Simulation;

/// While isolated, every statement runs on `pinned`, inside its outer transaction.
pub struct IsolationState {
    pub pinned: Arc<Pinned>,
    /// Identifiers of the open levels, outermost first. Level 0 is the transaction itself;
    /// every later level is a savepoint named after its identifier.
    pub levels: Vec<u64>,
}

pub struct EngineCore {
    /// Dropped only in the process that opened it (see `runtime`: never in a fork's child).
    pub backend: ManuallyDrop<Backend>,
    generation: u64,
    /// The URL, password hidden.
    pub url: String,
    isolation: Mutex<Option<IsolationState>>,
    /// Serialises entering and leaving isolation levels.
    pub isolation_gate: tokio::sync::Mutex<()>,
    closed: AtomicBool,
    /// Connections pinned by open top-level transactions, so closing can end them.
    transactions: Mutex<Vec<Weak<Pinned>>>,
    /// Latency and faults injected into the statements (tests, scripts).
    pub simulation: Simulation,
}

/// A poisoned lock only means a panic elsewhere; the data itself is still consistent.
fn unpoisoned<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl EngineCore {
    pub fn new(backend: Backend, url: String) -> EngineCore {
        EngineCore {
            backend: ManuallyDrop::new(backend),
            generation: generation(),
            url,
            isolation: Mutex::new(None),
            isolation_gate: tokio::sync::Mutex::new(()),
            closed: AtomicBool::new(false),
            transactions: Mutex::new(Vec::new()),
            simulation: Simulation::default(),
        }
    }

    /// The isolation's connection and depth, if the engine is isolated.
    pub fn isolation_top(&self) -> Option<(Arc<Pinned>, usize)> {
        unpoisoned(&self.isolation)
            .as_ref()
            .map(|state| (Arc::clone(&state.pinned), state.levels.len()))
    }

    pub fn innermost_level(&self) -> Option<u64> {
        unpoisoned(&self.isolation)
            .as_ref()
            .and_then(|state| state.levels.last().copied())
    }

    pub fn level_alive(&self, level: u64) -> bool {
        unpoisoned(&self.isolation)
            .as_ref()
            .is_some_and(|state| state.levels.contains(&level))
    }

    pub fn set_isolation(&self, state: Option<IsolationState>) -> Option<IsolationState> {
        std::mem::replace(&mut *unpoisoned(&self.isolation), state)
    }

    /// Open one more level; returns the depth reached (0 if not isolated).
    pub fn push_level(&self, id: u64) -> usize {
        match unpoisoned(&self.isolation).as_mut() {
            Some(state) => {
                state.levels.push(id);
                state.levels.len()
            }
            None => 0,
        }
    }

    /// Give the innermost level a new identity (after it was rewound): transactions begun
    /// in it before are over.
    pub fn renew_innermost_level(&self, id: u64) {
        if let Some(last) = unpoisoned(&self.isolation)
            .as_mut()
            .and_then(|state| state.levels.last_mut())
        {
            *last = id;
        }
    }

    pub fn pop_level(&self) -> Option<u64> {
        unpoisoned(&self.isolation)
            .as_mut()
            .and_then(|state| state.levels.pop())
    }

    /// Remember a top-level transaction's connection so `close()` can roll it back.
    pub fn track_transaction(&self, pinned: &Arc<Pinned>) {
        let mut open = unpoisoned(&self.transactions);
        open.retain(|weak| weak.strong_count() > 0);
        open.push(Arc::downgrade(pinned));
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Whether this engine was opened before a fork, and this is the child.
    pub fn is_inherited(&self) -> bool {
        self.generation != generation()
    }

    pub fn check_open(&self) -> EngineResult<()> {
        if self.is_inherited() {
            return Err(inherited(&format!("the engine for {}", self.url)));
        }
        if self.is_closed() {
            Err(EngineError::interface(format!(
                "the engine for {} is closed",
                self.url
            )))
        } else {
            Ok(())
        }
    }

    /// Refuse new work, roll back the isolation and every open transaction, close the pool.
    pub async fn close(self: Arc<Self>) -> EngineResult<()> {
        self.closed.store(true, Ordering::Release);
        if self.is_inherited() {
            return Ok(()); // the parent's connections stay the parent's
        }
        let _gate = self.isolation_gate.lock().await;
        if let Some(state) = self.set_isolation(None) {
            state.pinned.end().await;
        }
        let open: Vec<Weak<Pinned>> = std::mem::take(&mut *unpoisoned(&self.transactions));
        for pinned in open.iter().filter_map(Weak::upgrade) {
            pinned.end().await;
        }
        self.backend.close().await;
        Ok(())
    }
}

impl Drop for EngineCore {
    fn drop(&mut self) {
        if !self.is_inherited() {
            // SAFETY: dropped once, here, and never used again.
            unsafe { ManuallyDrop::drop(&mut self.backend) };
        }
    }
}
