//! PostgreSQL over tokio-postgres: the pool (deadpool), the prepared-statement cache, and
//! running one `Statement` on one connection. No Python in here.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use futures_util::{future::try_join_all, TryStreamExt};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpStream, UnixStream};
use tokio_postgres::NoTls;

use crate::config::{PgTarget, PoolOptions};
use crate::errors::{pool_error, EngineError, EngineResult, ServerError};
use crate::pg_encode::{BindError, Param};
use crate::statement::{Action, Payload, Statement};
use crate::value::Value;

pub struct PgBackend {
    pool: Pool,
    target: PgTarget,
    options: PoolOptions,
    cancel_endpoint: Arc<CancelEndpoint>,
}

pub type PgConn = Object;

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
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(options.max_size)
            .wait_timeout(Some(options.acquire_timeout))
            .create_timeout(Some(options.connect_timeout + Duration::from_secs(1)))
            .runtime(Runtime::Tokio1)
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
            (text, None)
        }
    };
    EngineError::Connection {
        target: target.describe(),
        message,
        sqlstate,
    }
}

/// Turn a tokio-postgres error into the engine's, keeping every server field.
pub fn statement_error(err: tokio_postgres::Error, sql: &str) -> EngineError {
    if let Some(db) = err.as_db_error() {
        return EngineError::Server(Box::new(ServerError {
            sqlstate: db.code().code().to_owned(),
            message: db.message().to_owned(),
            detail: db.detail().map(str::to_owned),
            hint: db.hint().map(str::to_owned),
            constraint: db.constraint().map(str::to_owned),
            table: db.table().map(str::to_owned),
            column: db.column().map(str::to_owned),
            sql: Some(sql.to_owned()),
        }));
    }
    if let Some(bind) = std::error::Error::source(&err).and_then(|s| s.downcast_ref::<BindError>())
    {
        if bind.out_of_range {
            // As the server says of a value too large for its column: a DataError.
            return EngineError::server(
                "22003",
                format!("{} (parameter ${})", bind.reason, bind.position),
            )
            .with_sql(sql);
        }
        return EngineError::Parameter {
            position: bind.position,
            python_type: bind.python_type.to_owned(),
            reason: bind.reason.clone(),
        };
    }
    if err.is_closed() {
        return EngineError::server(
            "08006",
            format!("the connection to the server was lost: {err}"),
        )
        .with_sql(sql);
    }
    EngineError::interface(format!("{err} (SQL: {sql})"))
}

fn is_stale_cached_plan(err: &EngineError) -> bool {
    matches!(err, EngineError::Server(e) if e.sqlstate == "0A000" && e.message.contains("cached plan"))
}

/// Run one statement on one connection. `retry_stale_plan` is false inside transactions,
/// where a failed statement has already aborted the transaction.
pub async fn run(
    conn: &PgConn,
    stmt: &Statement,
    cache: bool,
    retry_stale_plan: bool,
) -> EngineResult<Payload> {
    match run_once(conn, stmt, cache).await {
        Err(err) if cache && retry_stale_plan && is_stale_cached_plan(&err) => {
            // The schema changed under a cached statement: forget the cache and try once more.
            conn.statement_cache.clear();
            run_once(conn, stmt, cache).await
        }
        other => other,
    }
}

async fn prepare(conn: &PgConn, sql: &str, cache: bool) -> EngineResult<tokio_postgres::Statement> {
    let prepared = if cache {
        conn.prepare_cached(sql).await
    } else {
        conn.prepare(sql).await
    };
    prepared.map_err(|e| statement_error(e, sql))
}

fn params_of<'a>(
    sql: &str,
    prepared: &tokio_postgres::Statement,
    values: &'a [Value],
) -> EngineResult<Vec<Param<'a>>> {
    let expected = prepared.params().len();
    if expected != values.len() {
        return Err(EngineError::server(
            "07001",
            format!(
                "the statement expects {expected} parameters, {} given",
                values.len()
            ),
        )
        .with_sql(sql));
    }
    Ok(values
        .iter()
        .enumerate()
        .map(|(index, value)| Param {
            value,
            position: index + 1,
        })
        .collect())
}

async fn run_once(conn: &PgConn, stmt: &Statement, cache: bool) -> EngineResult<Payload> {
    let sql: &str = &stmt.sql;
    match stmt.action {
        Action::Script => {
            conn.batch_execute(sql)
                .await
                .map_err(|e| statement_error(e, sql))?;
            Ok(Payload::Done)
        }
        Action::Fetch => {
            let prepared = prepare(conn, sql, cache).await?;
            let params = params_of(sql, &prepared, &stmt.params)?;
            let stream = conn
                .query_raw(&prepared, params)
                .await
                .map_err(|e| statement_error(e, sql))?;
            let rows: Vec<tokio_postgres::Row> = stream
                .try_collect()
                .await
                .map_err(|e| statement_error(e, sql))?;
            let columns = prepared
                .columns()
                .iter()
                .map(|c| c.name().to_owned())
                .collect();
            Ok(Payload::PgRows { columns, rows })
        }
        Action::Execute => {
            let prepared = prepare(conn, sql, cache).await?;
            let params = params_of(sql, &prepared, &stmt.params)?;
            let count = conn
                .execute_raw(&prepared, params)
                .await
                .map_err(|e| statement_error(e, sql))?;
            Ok(Payload::Count(count))
        }
        Action::ExecuteMany => {
            let prepared = prepare(conn, sql, cache).await?;
            let batches = stmt
                .batches
                .iter()
                .map(|values| params_of(sql, &prepared, values))
                .collect::<EngineResult<Vec<_>>>()?;
            // Pipelined: every execution is sent before the first reply is awaited.
            let counts = try_join_all(
                batches
                    .into_iter()
                    .map(|params| conn.execute_raw(&prepared, params)),
            )
            .await
            .map_err(|e| statement_error(e, sql))?;
            Ok(Payload::Count(counts.into_iter().sum()))
        }
    }
}

/// Where cancel requests go: the server the pool connects to.
pub struct CancelEndpoint {
    host: String,
    port: u16,
    timeout: Duration,
}

/// Send a cancel request for `token`'s session and wait until the server has acted on it
/// (it closes the request's connection after signalling the session). False when that could
/// not be confirmed: the request may still land on a later statement.
pub async fn cancel_and_wait(
    token: &tokio_postgres::CancelToken,
    endpoint: &CancelEndpoint,
) -> bool {
    let request = async {
        if endpoint.host.starts_with('/') {
            let path = format!("{}/.s.PGSQL.{}", endpoint.host, endpoint.port);
            let stream = UnixStream::connect(path).await.ok()?;
            token
                .cancel_query_raw(DrainOnShutdown::new(stream), NoTls)
                .await
                .ok()
        } else {
            let stream = TcpStream::connect((endpoint.host.as_str(), endpoint.port))
                .await
                .ok()?;
            token
                .cancel_query_raw(DrainOnShutdown::new(stream), NoTls)
                .await
                .ok()
        }
    };
    matches!(
        tokio::time::timeout(endpoint.timeout, request).await,
        Ok(Some(()))
    )
}

/// A stream whose shutdown also waits for the peer to close its side: tokio-postgres shuts a
/// cancel connection down after writing the request, and this makes that wait for the server.
struct DrainOnShutdown<S> {
    inner: S,
    write_closed: bool,
}

impl<S> DrainOnShutdown<S> {
    fn new(inner: S) -> Self {
        DrainOnShutdown {
            inner,
            write_closed: false,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for DrainOnShutdown<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for DrainOnShutdown<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        if !self.write_closed {
            ready!(Pin::new(&mut self.inner).poll_shutdown(cx))?;
            self.write_closed = true;
        }
        let mut scratch = [0u8; 64];
        loop {
            let mut buf = ReadBuf::new(&mut scratch);
            ready!(Pin::new(&mut self.inner).poll_read(cx, &mut buf))?;
            if buf.filled().is_empty() {
                return Poll::Ready(Ok(()));
            }
        }
    }
}
