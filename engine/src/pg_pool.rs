//! The PostgreSQL pool: deadpool with a manager of our own over tokio-postgres, so that the
//! engine knows how each connection ended (the server closing an idle session vs. a lost
//! connection), keeps a prepared-statement cache per connection, and bounds the whole
//! connection set-up by `connect_timeout`.

use std::collections::HashMap;
use std::ops::Deref;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use deadpool::managed::{self, Metrics, Object, Pool, RecycleError, RecycleResult};
use futures_util::future::try_join_all;
use tokio_postgres::{Client, NoTls};

use crate::bridge::spawn_detached;
use crate::config::{PgTarget, PoolOptions};
use crate::errors::{pool_error, EngineError, EngineResult};
use crate::pg_cancel::CancelEndpoint;

/// Why a connection's background task stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// The server ended the session while no request was waiting (57P01-57P03): whatever was
    /// queued behind that was never sent.
    ServerEndedIdleSession,
    /// Anything else: a lost connection, a protocol error, a normal close.
    Other,
}

/// A client, its prepared statements, and how its connection ended (once it has). Boxed once
/// per connection, so a checked-out connection is one pointer wide.
pub struct PgClient(Box<ClientState>);

struct ClientState {
    client: Client,
    statements: Mutex<HashMap<String, tokio_postgres::Statement>>,
    ending: Arc<OnceLock<Ending>>,
}

impl Deref for PgClient {
    type Target = Client;

    fn deref(&self) -> &Client {
        &self.0.client
    }
}

impl PgClient {
    fn cached(&self, sql: &str) -> Option<tokio_postgres::Statement> {
        self.0.statements.lock().ok()?.get(sql).cloned()
    }

    /// Prepare `sql` once per connection.
    pub async fn prepare_cached(
        &self,
        sql: &str,
    ) -> Result<tokio_postgres::Statement, tokio_postgres::Error> {
        if let Some(statement) = self.cached(sql) {
            return Ok(statement);
        }
        let statement = self.0.client.prepare(sql).await?;
        if let Ok(mut cache) = self.0.statements.lock() {
            cache.insert(sql.to_owned(), statement.clone());
        }
        Ok(statement)
    }

    /// Forget every prepared statement (the schema changed under them).
    pub fn clear_cache(&self) {
        if let Ok(mut cache) = self.0.statements.lock() {
            cache.clear();
        }
    }

    pub fn ending(&self) -> Option<Ending> {
        self.0.ending.get().copied()
    }
}

pub struct PgManager {
    config: tokio_postgres::Config,
    options: PoolOptions,
}

impl managed::Manager for PgManager {
    type Type = PgClient;
    type Error = tokio_postgres::Error;

    async fn create(&self) -> Result<PgClient, tokio_postgres::Error> {
        let (client, mut connection) = self.config.connect(NoTls).await?;
        let ending = Arc::new(OnceLock::new());
        let recorded = Arc::clone(&ending);
        spawn_detached(async move {
            // Polled by reference: the reason is recorded before the connection is dropped,
            // which is what tells the statements still queued on it that it is gone.
            let why = match (&mut connection).await {
                Err(err)
                    if err.as_db_error().is_some_and(|db| {
                        matches!(db.code().code(), "57P01" | "57P02" | "57P03")
                    }) =>
                {
                    Ending::ServerEndedIdleSession
                }
                _ => Ending::Other,
            };
            let _ = recorded.set(why);
            drop(connection);
        });
        Ok(PgClient(Box::new(ClientState {
            client,
            statements: Mutex::new(HashMap::new()),
            ending,
        })))
    }

    async fn recycle(
        &self,
        client: &mut PgClient,
        _: &Metrics,
    ) -> RecycleResult<tokio_postgres::Error> {
        if client.is_closed() {
            return Err(RecycleError::message("the connection is closed"));
        }
        if !self.options.statement_cache {
            client.clear_cache();
        }
        Ok(())
    }
}

pub type PgConn = Object<PgManager>;

pub struct PgBackend {
    pool: Pool<PgManager>,
    target: PgTarget,
    options: PoolOptions,
    cancel_endpoint: Arc<CancelEndpoint>,
}

impl PgBackend {
    pub async fn connect(target: PgTarget, options: PoolOptions) -> EngineResult<PgBackend> {
        let mut config = tokio_postgres::Config::new();
        config
            .host(&target.host)
            .port(target.port)
            .user(&target.user)
            .dbname(&target.dbname)
            .connect_timeout(options.connect_timeout)
            .application_name(target.application_name.as_deref().unwrap_or("yara-orm"));
        if let Some(password) = &target.password {
            config.password(password);
        }
        if let Some(opts) = &target.options {
            config.options(opts);
        }
        let manager = PgManager {
            config,
            options: options.clone(),
        };
        let pool = Pool::builder(manager)
            .max_size(options.max_size)
            .wait_timeout(Some(options.acquire_timeout))
            // The whole set-up (socket, startup, authentication) within connect_timeout.
            .create_timeout(Some(options.connect_timeout))
            .runtime(deadpool::Runtime::Tokio1)
            .build()
            .map_err(|e| EngineError::config(format!("cannot build the connection pool: {e}")))?;
        let cancel_endpoint = Arc::new(CancelEndpoint {
            host: target.host.clone(),
            port: target.port,
            timeout: options.connect_timeout,
        });
        let backend = PgBackend {
            pool,
            target,
            options,
            cancel_endpoint,
        };
        // Open min_size connections now (at least one): a wrong host or password fails here, promptly.
        let warm = backend.options.min_size.max(1);
        let conns = try_join_all((0..warm).map(|_| backend.acquire())).await?;
        drop(conns);
        Ok(backend)
    }

    pub fn statement_cache(&self) -> bool {
        self.options.statement_cache
    }

    pub async fn acquire(&self) -> EngineResult<PgConn> {
        let started = Instant::now();
        self.pool.get().await.map_err(|err| {
            pool_error(
                err,
                started.elapsed(),
                self.options.max_size,
                &self.target.describe(),
                |err| connect_error(&self.target, &err),
            )
        })
    }

    pub fn close(&self) {
        self.pool.close();
    }

    pub fn cancel_endpoint(&self) -> Arc<CancelEndpoint> {
        Arc::clone(&self.cancel_endpoint)
    }

    pub fn status(&self) -> (usize, usize, usize) {
        let status = self.pool.status();
        (status.size, status.available, status.max_size)
    }
}

fn connect_error(target: &PgTarget, err: &tokio_postgres::Error) -> EngineError {
    let (message, sqlstate) = match err.as_db_error() {
        Some(db) => (db.message().to_owned(), Some(db.code().code().to_owned())),
        None => {
            let mut text = err.to_string();
            let mut source = std::error::Error::source(err);
            while let Some(inner) = source {
                text = format!("{text}: {inner}");
                source = inner.source();
            }
            // sqlclient_unable_to_establish_sqlconnection
            (text, Some("08001".to_owned()))
        }
    };
    EngineError::Connection {
        target: target.describe(),
        message,
        sqlstate,
        injected: None,
    }
}
