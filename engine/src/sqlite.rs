//! SQLite over rusqlite: the pool (deadpool) of connections, each on a thread of its own
//! (`sqlite_worker`), and what opening a database means (WAL, foreign keys, shared memory).

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use deadpool::managed::{self, Metrics, Object, Pool, RecycleResult};
use futures_util::FutureExt;
use rusqlite::OpenFlags;

use crate::config::{PoolOptions, SqliteTarget};
use crate::errors::{pool_error, EngineError, EngineResult};
use crate::sqlite_run::rollback_if_open;
use crate::sqlite_worker::{LiveThreads, Setup, SqliteWorker};

pub struct SqliteManager {
    location: String,
    flags: OpenFlags,
    setup: Setup,
}

impl managed::Manager for SqliteManager {
    type Type = SqliteWorker;
    type Error = EngineError;

    async fn create(&self) -> Result<SqliteWorker, EngineError> {
        SqliteWorker::open(self.location.clone(), self.flags, self.setup.clone()).await
    }

    async fn recycle(&self, worker: &mut SqliteWorker, _: &Metrics) -> RecycleResult<EngineError> {
        if worker.stopped() {
            return Err(managed::RecycleError::message(
                "the SQLite connection thread ended",
            ));
        }
        // A connection must come back outside any transaction; roll back whatever was left.
        // The common case (none open) costs no trip to the connection's thread.
        if !worker.maybe_in_transaction() {
            return Ok(());
        }
        worker
            .call(rollback_if_open)
            .await
            .map_err(managed::RecycleError::Backend)
    }
}

pub type SqliteConn = Object<SqliteManager>;

pub struct SqliteBackend {
    pool: Pool<SqliteManager>,
    description: String,
    options: PoolOptions,
    live: Arc<LiveThreads>,
    /// Keeps a shared in-memory database alive however the pool's connections come and go.
    _anchor: Option<SqliteWorker>,
}

static MEMORY_IDS: AtomicU64 = AtomicU64::new(0);

impl SqliteBackend {
    pub async fn connect(
        target: SqliteTarget,
        mut options: PoolOptions,
    ) -> EngineResult<SqliteBackend> {
        let base = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let (location, description, file_backed) = match &target {
            SqliteTarget::Memory => {
                let id = MEMORY_IDS.fetch_add(1, Ordering::Relaxed);
                let name = format!(
                    "file:yara-memory-{}-{id}?mode=memory&cache=shared",
                    std::process::id()
                );
                // One in-memory database is one connection's worth of work at a time.
                options.max_size = 1;
                options.min_size = options.min_size.min(1);
                (name, "SQLite in-memory database".to_owned(), false)
            }
            SqliteTarget::File(path) => {
                let path: PathBuf = path.clone();
                (
                    path.to_string_lossy().into_owned(),
                    format!("SQLite database {}", path.display()),
                    true,
                )
            }
        };
        let live = Arc::new(LiveThreads::default());
        let setup = Setup {
            file_backed,
            statement_cache: options.statement_cache,
            busy_timeout: options.acquire_timeout.min(Duration::from_secs(30)),
            live: Arc::clone(&live),
        };
        let anchor = match target {
            SqliteTarget::Memory => {
                // Counted apart: it lives as long as the backend, not the pool.
                let apart = Setup {
                    live: Arc::new(LiveThreads::default()),
                    ..setup.clone()
                };
                Some(SqliteWorker::open(location.clone(), base, apart).await?)
            }
            SqliteTarget::File(_) => None,
        };
        let manager = SqliteManager {
            location,
            flags: base,
            setup,
        };
        let pool = Pool::builder(manager)
            .max_size(options.max_size)
            .wait_timeout(Some(options.acquire_timeout))
            .runtime(deadpool::Runtime::Tokio1)
            .build()
            .map_err(|e| EngineError::config(format!("cannot build the connection pool: {e}")))?;
        let backend = SqliteBackend {
            pool,
            description,
            options,
            _anchor: anchor,
            live,
        };
        drop(backend.acquire().await?);
        Ok(backend)
    }

    pub fn statement_cache(&self) -> bool {
        self.options.statement_cache
    }

    pub async fn acquire(&self) -> EngineResult<SqliteConn> {
        let started = Instant::now();
        self.pool.get().await.map_err(|err| {
            pool_error(
                err,
                started.elapsed(),
                self.options.max_size,
                &self.description,
                |err| err,
            )
        })
    }

    /// An idle connection, if one can be had at once (no waiting, no new connection, no
    /// trip to its thread); None otherwise (the caller then acquires as usual).
    pub fn try_acquire_now(&self) -> Option<SqliteConn> {
        if self.pool.status().available == 0 {
            return None;
        }
        let now = managed::Timeouts {
            wait: Some(Duration::ZERO),
            create: None,
            recycle: None,
        };
        // Completes in one poll unless the connection must be rolled back first (it came back
        // inside a transaction): that rare one is dropped unfinished, and the pool closes it.
        self.pool.timeout_get(&now).now_or_never()?.ok()
    }

    /// Close every connection and wait for their threads to finish closing them.
    pub async fn close(&self) {
        self.pool.close();
        self.live.all_ended(Duration::from_secs(5)).await;
    }

    pub fn status(&self) -> (usize, usize, usize) {
        let status = self.pool.status();
        (status.size, status.available, status.max_size)
    }
}
