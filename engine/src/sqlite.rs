//! SQLite over rusqlite. SQLite is a blocking C library, so each connection lives on a
//! dedicated thread of its own (never a Tokio worker, never the asyncio thread) and takes
//! jobs over a channel; a deadpool pool hands those connections out.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use deadpool::managed::{self, Metrics, Object, Pool, RecycleResult};
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, ErrorCode, InterruptHandle, OpenFlags};
use tokio::sync::oneshot;

use crate::calendar::{
    civil_from_unix_micros, days_from_civil, format_datetime, format_offset, format_time,
};
use crate::config::{PoolOptions, SqliteTarget};
use crate::errors::{pool_error, EngineError, EngineResult};
use crate::savepoint::Savepoint;
use crate::statement::{Action, Payload, Statement};
use crate::value::Value;

type Job = Box<dyn FnOnce(&mut Connection) + Send>;

/// A connection and the thread it lives on.
pub struct SqliteWorker {
    jobs: mpsc::Sender<Job>,
    interrupt: Arc<InterruptHandle>,
}

static WORKER_IDS: AtomicU64 = AtomicU64::new(0);

impl SqliteWorker {
    async fn open(location: String, flags: OpenFlags, setup: Setup) -> EngineResult<SqliteWorker> {
        let (jobs, inbox) = mpsc::channel::<Job>();
        let (ready_tx, ready_rx) = oneshot::channel();
        let id = WORKER_IDS.fetch_add(1, Ordering::Relaxed);
        std::thread::Builder::new()
            .name(format!("yara-sqlite-{id}"))
            .spawn(move || {
                let mut conn = match open_connection(&location, flags, &setup) {
                    Ok(conn) => conn,
                    Err(err) => {
                        let _ = ready_tx.send(Err(err));
                        return;
                    }
                };
                let _ = ready_tx.send(Ok(Arc::new(conn.get_interrupt_handle())));
                // Runs until every sender (the pool object) is gone, then closes the connection.
                while let Ok(job) = inbox.recv() {
                    let _ =
                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(&mut conn)));
                }
            })
            .map_err(|e| EngineError::interface(format!("cannot start a SQLite thread: {e}")))?;
        let interrupt = ready_rx
            .await
            .map_err(|_| EngineError::interface("the SQLite thread stopped while opening"))??;
        Ok(SqliteWorker { jobs, interrupt })
    }

    /// Run `work` on the connection's thread and wait for it without blocking Tokio.
    pub async fn call<R, F>(&self, work: F) -> EngineResult<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut Connection) -> EngineResult<R> + Send + 'static,
    {
        let (reply_tx, reply_rx) = oneshot::channel();
        self.jobs
            .send(Box::new(move |conn| {
                let _ = reply_tx.send(work(conn));
            }))
            .map_err(|_| EngineError::interface("the SQLite connection thread has stopped"))?;
        reply_rx.await.map_err(|_| {
            EngineError::interface("the SQLite connection thread stopped mid-statement")
        })?
    }

    pub fn interrupt_handle(&self) -> Arc<InterruptHandle> {
        Arc::clone(&self.interrupt)
    }
}

#[derive(Clone)]
struct Setup {
    file_backed: bool,
    statement_cache: bool,
    busy_timeout: Duration,
}

fn open_connection(location: &str, flags: OpenFlags, setup: &Setup) -> EngineResult<Connection> {
    let conn =
        Connection::open_with_flags(location, flags).map_err(|e| EngineError::Connection {
            target: format!("SQLite database {location}"),
            message: e.to_string(),
            sqlstate: None,
        })?;
    let configure = || -> rusqlite::Result<()> {
        conn.busy_timeout(setup.busy_timeout)?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        if setup.file_backed {
            // WAL lets readers run beside one writer; NORMAL sync is safe with WAL.
            conn.pragma_update(None, "journal_mode", "WAL")?;
            conn.pragma_update(None, "synchronous", "NORMAL")?;
        }
        conn.set_prepared_statement_cache_capacity(if setup.statement_cache { 256 } else { 0 });
        Ok(())
    };
    configure().map_err(|e| EngineError::Connection {
        target: format!("SQLite database {location}"),
        message: e.to_string(),
        sqlstate: None,
    })?;
    Ok(conn)
}

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
        // A connection must come back outside any transaction; roll back whatever was left.
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
        let setup = Setup {
            file_backed,
            statement_cache: options.statement_cache,
            busy_timeout: options.acquire_timeout.min(Duration::from_secs(30)),
        };
        let anchor = match target {
            SqliteTarget::Memory => {
                Some(SqliteWorker::open(location.clone(), base, setup.clone()).await?)
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

    pub fn close(&self) {
        self.pool.close();
    }

    pub fn status(&self) -> (usize, usize, usize) {
        let status = self.pool.status();
        (status.size, status.available, status.max_size)
    }
}

/// One cell as SQLite stored it; turned into a Python object under the GIL later.
#[derive(Debug, Clone)]
pub enum Cell {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

/// A whole result, owned, so the connection's thread can move on.
#[derive(Debug, Default)]
pub struct SqliteRows {
    pub columns: Vec<String>,
    pub declared: Vec<Option<String>>,
    pub cells: Vec<Cell>,
}

impl SqliteRows {
    pub fn len(&self) -> usize {
        if self.columns.is_empty() {
            0
        } else {
            self.cells.len() / self.columns.len()
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

struct Bind<'a>(&'a Value);

impl rusqlite::ToSql for Bind<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        use rusqlite::types::Value as Owned;
        Ok(match self.0 {
            Value::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Value::Bool(b) => ToSqlOutput::Owned(Owned::Integer(i64::from(*b))),
            Value::Int(i) => ToSqlOutput::Owned(Owned::Integer(*i)),
            Value::BigInt(text) | Value::Decimal(text) => {
                ToSqlOutput::Borrowed(ValueRef::Text(text.as_bytes()))
            }
            Value::Float(f) if f.is_nan() => {
                return Err(rusqlite::Error::ToSqlConversionFailure(
                    "SQLite cannot store NaN: it would silently become NULL".into(),
                ))
            }
            Value::Float(f) => ToSqlOutput::Owned(Owned::Real(*f)),
            Value::Text(text) => ToSqlOutput::Borrowed(ValueRef::Text(text.as_bytes())),
            Value::Bytes(bytes) => ToSqlOutput::Borrowed(ValueRef::Blob(bytes)),
            Value::Uuid(u) => ToSqlOutput::Owned(Owned::Text(format_uuid(*u))),
            Value::Date(days) => {
                let civil = civil_from_unix_micros(days * crate::calendar::MICROS_PER_DAY);
                ToSqlOutput::Owned(Owned::Text(format!(
                    "{:04}-{:02}-{:02}",
                    civil.year, civil.month, civil.day
                )))
            }
            Value::Time { micros, offset } => {
                let mut text = format_time(*micros);
                if let Some(seconds) = offset {
                    text.push_str(&format_offset(*seconds));
                }
                ToSqlOutput::Owned(Owned::Text(text))
            }
            Value::DateTime { micros, aware } => {
                // Aware values are stored in UTC with an explicit offset so text order is time order.
                let mut text = format_datetime(&civil_from_unix_micros(*micros));
                if *aware {
                    text.push_str("+00:00");
                }
                ToSqlOutput::Owned(Owned::Text(text))
            }
            Value::Interval { days, micros } => ToSqlOutput::Owned(Owned::Integer(
                days * crate::calendar::MICROS_PER_DAY + micros,
            )),
            Value::Json(text) => ToSqlOutput::Borrowed(ValueRef::Text(text.as_bytes())),
            Value::List(_) => {
                let text = self
                    .0
                    .to_json_text()
                    .map_err(|e| rusqlite::Error::ToSqlConversionFailure(e.into()))?;
                ToSqlOutput::Owned(Owned::Text(text))
            }
        })
    }
}

pub fn format_uuid(value: u128) -> String {
    let hex = format!("{value:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// SQLite's result codes, as the SQLSTATEs PostgreSQL would report, so callers can treat
/// both backends alike.
pub fn sqlite_error(err: rusqlite::Error, sql: &str) -> EngineError {
    match err {
        rusqlite::Error::SqlInputError {
            error, msg, offset, ..
        } => sqlite_error(
            rusqlite::Error::SqliteFailure(error, Some(format!("{msg} (at offset {offset})"))),
            sql,
        ),
        rusqlite::Error::SqliteFailure(code, message) => {
            let message = message.unwrap_or_else(|| code.to_string());
            let sqlstate = sqlstate_for(&code, &message);
            let constraint = (code.code == ErrorCode::ConstraintViolation)
                .then(|| message.split_once(": ").map(|(_, name)| name.to_owned()))
                .flatten();
            let mut engine_err = EngineError::server(sqlstate, message);
            if let EngineError::Server(ref mut server) = engine_err {
                server.constraint = constraint;
            }
            engine_err.with_sql(sql)
        }
        rusqlite::Error::InvalidParameterCount(given, expected) => EngineError::server(
            "07001",
            format!("the statement expects {expected} parameters, {given} given"),
        )
        .with_sql(sql),
        rusqlite::Error::ToSqlConversionFailure(reason) => {
            EngineError::interface(reason.to_string())
        }
        rusqlite::Error::MultipleStatement => EngineError::server(
            "42601",
            "the SQL holds more than one statement; run scripts with execute_script()",
        )
        .with_sql(sql),
        other => EngineError::interface(format!("{other} (SQL: {sql})")),
    }
}

fn sqlstate_for(code: &rusqlite::ffi::Error, message: &str) -> &'static str {
    const CONSTRAINT_CHECK: i32 = 275;
    const CONSTRAINT_FOREIGNKEY: i32 = 787;
    const CONSTRAINT_NOTNULL: i32 = 1299;
    const CONSTRAINT_PRIMARYKEY: i32 = 1555;
    const CONSTRAINT_UNIQUE: i32 = 2067;
    match code.code {
        ErrorCode::ConstraintViolation => match code.extended_code {
            CONSTRAINT_UNIQUE | CONSTRAINT_PRIMARYKEY => "23505",
            CONSTRAINT_FOREIGNKEY => "23503",
            CONSTRAINT_NOTNULL => "23502",
            CONSTRAINT_CHECK => "23514",
            _ => "23000",
        },
        ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => "55P03",
        ErrorCode::OperationInterrupted => "57014",
        ErrorCode::TooBig => "54000",
        ErrorCode::TypeMismatch => "22000",
        ErrorCode::ReadOnly => "25006",
        ErrorCode::DiskFull => "53100",
        ErrorCode::SystemIoFailure => "58030",
        ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase => "XX001",
        ErrorCode::Unknown => {
            if message.contains("syntax error") || message.contains("incomplete input") {
                "42601"
            } else if message.contains("no such table") {
                "42P01"
            } else if message.contains("no such column") {
                "42703"
            } else if message.contains("already exists") {
                "42P07"
            } else if message.contains("within a transaction") {
                "25001"
            } else if message.contains("no transaction is active") {
                "25P01"
            } else if message.contains("no such savepoint") {
                "3B001"
            } else {
                "42000"
            }
        }
        _ => "HY000",
    }
}

/// Roll back the open transaction, if one is still open.
pub fn rollback_if_open(conn: &mut Connection) -> EngineResult<()> {
    if conn.is_autocommit() {
        return Ok(());
    }
    conn.execute_batch("ROLLBACK")
        .map_err(|e| sqlite_error(e, "ROLLBACK"))
}

/// Run one statement on the connection's own thread.
pub fn run(conn: &mut Connection, stmt: &Statement, cache: bool) -> EngineResult<Payload> {
    let sql: &str = &stmt.sql;
    let fail = |e: rusqlite::Error| sqlite_error(e, sql);
    if stmt.action == Action::Script {
        conn.execute_batch(sql).map_err(fail)?;
        return Ok(Payload::Done);
    }
    if stmt.action == Action::ExecuteMany {
        return all_or_nothing(conn, |conn| run_statement(conn, stmt, cache));
    }
    run_statement(conn, stmt, cache)
}

/// A batch leaves nothing behind if one of its parameter sets fails: its own transaction in
/// autocommit mode, a savepoint inside a transaction.
fn all_or_nothing(
    conn: &Connection,
    work: impl FnOnce(&Connection) -> EngineResult<Payload>,
) -> EngineResult<Payload> {
    let point = Savepoint::named("yara_batch");
    let (open, keep, undo) = if conn.is_autocommit() {
        (
            "BEGIN".to_owned(),
            "COMMIT".to_owned(),
            "ROLLBACK".to_owned(),
        )
    } else {
        (point.create(), point.release(), point.undo())
    };
    conn.execute_batch(&open)
        .map_err(|e| sqlite_error(e, &open))?;
    match work(conn) {
        Ok(payload) => {
            conn.execute_batch(&keep)
                .map_err(|e| sqlite_error(e, &keep))?;
            Ok(payload)
        }
        Err(err) => {
            let _ = conn.execute_batch(&undo);
            Err(err)
        }
    }
}

fn run_statement(conn: &Connection, stmt: &Statement, cache: bool) -> EngineResult<Payload> {
    let sql: &str = &stmt.sql;
    let fail = |e: rusqlite::Error| sqlite_error(e, sql);
    if cache {
        let mut prepared = conn.prepare_cached(sql).map_err(fail)?;
        run_prepared(conn, &mut prepared, stmt)
    } else {
        let mut prepared = conn.prepare(sql).map_err(fail)?;
        run_prepared(conn, &mut prepared, stmt)
    }
}

fn run_prepared(
    conn: &Connection,
    prepared: &mut rusqlite::Statement<'_>,
    stmt: &Statement,
) -> EngineResult<Payload> {
    let sql: &str = &stmt.sql;
    let fail = |e: rusqlite::Error| sqlite_error(e, sql);
    match stmt.action {
        Action::Fetch => {
            bind(prepared, sql, &stmt.params)?;
            let columns: Vec<String> = prepared.column_names().map(str::to_owned).collect();
            let declared: Vec<Option<String>> = prepared
                .columns()
                .map(|c| c.decl_type().map(str::to_owned))
                .collect();
            let width = columns.len();
            let mut cells = Vec::new();
            let mut rows = prepared.raw_query();
            while let Some(row) = rows.next().map_err(fail)? {
                for index in 0..width {
                    cells.push(cell_of(row.get_ref(index).map_err(fail)?));
                }
            }
            Ok(Payload::SqliteRows(SqliteRows {
                columns,
                declared,
                cells,
            }))
        }
        Action::Execute => {
            bind(prepared, sql, &stmt.params)?;
            Ok(Payload::Count(execute_bound(conn, prepared, sql)?))
        }
        Action::ExecuteMany => {
            let mut total = 0;
            for values in &stmt.batches {
                bind(prepared, sql, values)?;
                total += execute_bound(conn, prepared, sql)?;
            }
            Ok(Payload::Count(total))
        }
        Action::Script => Ok(Payload::Done),
    }
}

fn bind(prepared: &mut rusqlite::Statement<'_>, sql: &str, values: &[Value]) -> EngineResult<()> {
    let expected = prepared.parameter_count();
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
    for (index, value) in values.iter().enumerate() {
        prepared
            .raw_bind_parameter(index + 1, Bind(value))
            .map_err(|e| match e {
                rusqlite::Error::ToSqlConversionFailure(reason) => EngineError::Parameter {
                    position: index + 1,
                    python_type: value.python_type().to_owned(),
                    reason: reason.to_string(),
                },
                other => sqlite_error(other, sql),
            })?;
    }
    Ok(())
}

fn execute_bound(
    conn: &Connection,
    prepared: &mut rusqlite::Statement<'_>,
    sql: &str,
) -> EngineResult<u64> {
    let fail = |e: rusqlite::Error| sqlite_error(e, sql);
    if prepared.column_count() == 0 {
        // sqlite3_changes() keeps the last DML count through DDL; only trust it if rows changed.
        let before = conn.total_changes();
        let changed = prepared.raw_execute().map_err(fail)? as u64;
        return Ok(if conn.total_changes() == before {
            0
        } else {
            changed
        });
    }
    // A statement with a result (INSERT ... RETURNING, SELECT): step through it.
    let mut count = 0;
    let mut rows = prepared.raw_query();
    while rows.next().map_err(fail)?.is_some() {
        count += 1;
    }
    Ok(count)
}

fn cell_of(value: ValueRef<'_>) -> Cell {
    match value {
        ValueRef::Null => Cell::Null,
        ValueRef::Integer(i) => Cell::Int(i),
        ValueRef::Real(f) => Cell::Real(f),
        ValueRef::Text(bytes) => Cell::Text(String::from_utf8_lossy(bytes).into_owned()),
        ValueRef::Blob(bytes) => Cell::Blob(bytes.to_vec()),
    }
}

/// Days since 1970-01-01 for `YYYY-MM-DD`, used when decoding.
pub fn parse_date(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    if bytes.len() < 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    let year: i32 = text.get(..4)?.parse().ok()?;
    let month: u32 = text.get(5..7)?.parse().ok()?;
    let day: u32 = text.get(8..10)?.parse().ok()?;
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    Some(days_from_civil(year, month, day))
}
