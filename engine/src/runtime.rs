//! The one Tokio runtime of this process, made again in a child after `os.fork()`: a fork
//! copies the runtime's memory but none of its threads, so the parent's would never run a task.
//!
//! Everything that holds runtime resources (pools, connections) records the fork *generation*
//! it was made in. In a child, such inherited objects refuse work and are never dropped: their
//! sockets share kernel state (epoll registrations) with the parent, whose connections a drop
//! in the child would break.

use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};
use std::sync::Mutex;

use tokio::runtime::Runtime;

use crate::errors::{EngineError, EngineResult};

static GENERATION: AtomicU64 = AtomicU64::new(0);
/// The runtime of the current generation (null until first use, and again after a fork).
static CURRENT: AtomicPtr<Runtime> = AtomicPtr::new(std::ptr::null_mut());
static BUILDING: Mutex<()> = Mutex::new(());

/// Which side of the forks since start-up this process is on.
pub fn generation() -> u64 {
    GENERATION.load(Ordering::Acquire)
}

/// Called in the child right after a fork (from `os.register_at_fork`).
pub fn forked() {
    GENERATION.fetch_add(1, Ordering::AcqRel);
    // The parent's runtime is leaked, never dropped: its threads do not exist here.
    CURRENT.store(std::ptr::null_mut(), Ordering::Release);
}

pub fn runtime() -> EngineResult<&'static Runtime> {
    let current = CURRENT.load(Ordering::Acquire);
    if !current.is_null() {
        // SAFETY: every runtime stored here was leaked, so it lives for the whole process.
        return Ok(unsafe { &*current });
    }
    let _building = BUILDING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let current = CURRENT.load(Ordering::Acquire);
    if !current.is_null() {
        // SAFETY: as above.
        return Ok(unsafe { &*current });
    }
    let built = tokio::runtime::Builder::new_multi_thread()
        .thread_name("yara-io")
        .enable_all()
        .build()
        .map_err(|e| {
            EngineError::interface(format!("yara-orm cannot start its Tokio runtime: {e}"))
        })?;
    let leaked: &'static mut Runtime = Box::leak(Box::new(built));
    CURRENT.store(leaked, Ordering::Release);
    Ok(leaked)
}

/// The error for an object made before a fork and used after it, in the child.
pub fn inherited(what: &str) -> EngineError {
    EngineError::interface(format!(
        "{what} was opened before os.fork() and cannot be used in the child process; \
         connect again here (yara_orm.connect(), or YaraOrm.init())"
    ))
}
