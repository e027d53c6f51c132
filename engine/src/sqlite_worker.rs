//! SQLite is a blocking C library, so each connection lives on a dedicated thread of its own
//! (never a Tokio worker, never the asyncio thread) and takes jobs over a channel.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use rusqlite::{Connection, InterruptHandle, OpenFlags};
use tokio::sync::{oneshot, Notify};

use crate::errors::{EngineError, EngineResult};

/// How many connection threads of one database are alive, so closing can wait for them: a
/// file database's `-wal` and `-shm` files go only when its last connection has closed.
#[derive(Default)]
pub struct LiveThreads {
    count: AtomicUsize,
    ended: Notify,
    /// Connections close one at a time: SQLite removes `-wal` and `-shm` only when the closing
    /// connection is the last one open, and two closing at once each see the other.
    closing: std::sync::Mutex<()>,
}

impl LiveThreads {
    /// Wait (at most `limit`) until every connection thread has closed its connection.
    pub async fn all_ended(&self, limit: Duration) {
        let wait = async {
            loop {
                let ended = self.ended.notified();
                tokio::pin!(ended);
                ended.as_mut().enable();
                if self.count.load(Ordering::Acquire) == 0 {
                    return;
                }
                ended.await;
            }
        };
        let _ = tokio::time::timeout(limit, wait).await;
    }
}

type Job = Box<dyn FnOnce(&mut Connection) + Send>;

/// A connection and the thread it lives on.
pub struct SqliteWorker {
    sender: JobSender,
    interrupt: Arc<InterruptHandle>,
}

/// What the pool needs to know of a connection without a trip to its thread.
#[derive(Default)]
struct WorkerState {
    /// Set before each job and cleared by it when it leaves no transaction open, so a stale
    /// value only ever errs towards checking.
    maybe_in_transaction: AtomicBool,
    stopped: AtomicBool,
}

static WORKER_IDS: AtomicU64 = AtomicU64::new(0);

impl SqliteWorker {
    pub async fn open(
        location: String,
        flags: OpenFlags,
        setup: Setup,
    ) -> EngineResult<SqliteWorker> {
        let (jobs, inbox) = mpsc::channel::<Job>();
        let (ready_tx, ready_rx) = oneshot::channel();
        let id = WORKER_IDS.fetch_add(1, Ordering::Relaxed);
        let live = Arc::clone(&setup.live);
        live.count.fetch_add(1, Ordering::AcqRel);
        let state = Arc::new(WorkerState::default());
        let thread_state = Arc::clone(&state);
        let spawned = std::thread::Builder::new()
            .name(format!("yara-sqlite-{id}"))
            .spawn(move || {
                let live = Arc::clone(&setup.live);
                run_connection(location, flags, setup, ready_tx, inbox);
                thread_state.stopped.store(true, Ordering::Release);
                live.count.fetch_sub(1, Ordering::AcqRel);
                live.ended.notify_waiters();
            });
        if let Err(err) = spawned {
            live.count.fetch_sub(1, Ordering::AcqRel);
            return Err(EngineError::interface(format!(
                "cannot start a SQLite thread: {err}"
            )));
        }
        let interrupt = ready_rx
            .await
            .map_err(|_| EngineError::interface("the SQLite thread stopped while opening"))??;
        Ok(SqliteWorker {
            sender: JobSender { jobs, state },
            interrupt,
        })
    }

    /// Whether the connection may hold an open transaction (known without asking its thread).
    pub fn maybe_in_transaction(&self) -> bool {
        self.sender
            .state
            .maybe_in_transaction
            .load(Ordering::Acquire)
    }

    /// Whether the connection's thread has ended.
    pub fn stopped(&self) -> bool {
        self.sender.state.stopped.load(Ordering::Acquire)
    }

    /// Run `work` on the connection's thread and wait for it without blocking Tokio.
    pub async fn call<R, F>(&self, work: F) -> EngineResult<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut Connection) -> EngineResult<R> + Send + 'static,
    {
        let (reply_tx, reply_rx) = oneshot::channel();
        self.sender.send(work, move |result| {
            let _ = reply_tx.send(result);
        })?;
        reply_rx.await.map_err(|_| {
            EngineError::interface(
                "the SQLite connection failed while running the statement (an engine error; \
                 the connection goes on)",
            )
        })?
    }

    pub fn interrupt_handle(&self) -> Arc<InterruptHandle> {
        Arc::clone(&self.interrupt)
    }

    /// A handle that sends jobs to this connection's thread, for a job that must own the
    /// pool's object of this connection (see `sqlite_direct`).
    pub fn sender(&self) -> JobSender {
        self.sender.clone()
    }
}

/// Sends jobs to one connection's thread.
#[derive(Clone)]
pub struct JobSender {
    jobs: mpsc::Sender<Job>,
    state: Arc<WorkerState>,
}

impl JobSender {
    /// Run `work` on the connection's thread, then `then` with its result, there, once the
    /// connection's transaction state is recorded (so whoever `then` tells sees that state
    /// too). Err if the thread has ended (both are then dropped unrun).
    pub fn send<T, F, G>(&self, work: F, then: G) -> EngineResult<()>
    where
        F: FnOnce(&mut Connection) -> T + Send + 'static,
        G: FnOnce(T) + Send + 'static,
    {
        let state = Arc::clone(&self.state);
        // Pessimistic until the job says otherwise (it may panic half-way).
        state.maybe_in_transaction.store(true, Ordering::Release);
        self.jobs
            .send(Box::new(move |conn| {
                let result = work(conn);
                state
                    .maybe_in_transaction
                    .store(!conn.is_autocommit(), Ordering::Release);
                then(result);
            }))
            .map_err(|_| EngineError::interface("the SQLite connection thread has stopped"))
    }
}

/// The connection's thread: open it, run jobs until every sender (the pool object) is gone,
/// then close the connection.
fn run_connection(
    location: String,
    flags: OpenFlags,
    setup: Setup,
    ready: oneshot::Sender<EngineResult<Arc<InterruptHandle>>>,
    inbox: mpsc::Receiver<Job>,
) {
    let mut conn = match open_connection(&location, flags, &setup) {
        Ok(conn) => conn,
        Err(err) => {
            let _ = ready.send(Err(err));
            return;
        }
    };
    let _ = ready.send(Ok(Arc::new(conn.get_interrupt_handle())));
    while let Ok(job) = inbox.recv() {
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(&mut conn)));
    }
    let _turn = setup.live.closing.lock();
    drop(conn);
}

#[derive(Clone)]
pub struct Setup {
    pub file_backed: bool,
    pub statement_cache: bool,
    pub busy_timeout: Duration,
    pub live: Arc<LiveThreads>,
}

fn open_connection(location: &str, flags: OpenFlags, setup: &Setup) -> EngineResult<Connection> {
    let conn =
        Connection::open_with_flags(location, flags).map_err(|e| EngineError::Connection {
            target: format!("SQLite database {location}"),
            message: e.to_string(),
            sqlstate: None,
            injected: None,
        })?;
    let configure = || -> rusqlite::Result<()> {
        conn.busy_timeout(setup.busy_timeout)?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        if setup.file_backed {
            // WAL lets readers run beside one writer; NORMAL sync is safe with WAL.
            conn.pragma_update(None, "journal_mode", "WAL")?;
            conn.pragma_update(None, "synchronous", "NORMAL")?;
            // Truncate the -wal file back to 16 KiB after checkpoints, not leave it at its peak.
            conn.pragma_update(None, "journal_size_limit", 16384)?;
        }
        conn.set_prepared_statement_cache_capacity(if setup.statement_cache { 256 } else { 0 });
        crate::sqlite_functions::register(&conn)?;
        Ok(())
    };
    configure().map_err(|e| EngineError::Connection {
        target: format!("SQLite database {location}"),
        message: e.to_string(),
        sqlstate: None,
        injected: None,
    })?;
    Ok(conn)
}
