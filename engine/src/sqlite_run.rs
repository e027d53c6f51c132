//! Running one statement on a SQLite connection, on that connection's own thread, and the
//! owned result it hands back.

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::Connection;

use crate::calendar::{
    civil_from_unix_micros, days_from_civil, format_datetime, format_offset, format_time,
};
use crate::errors::{script_left_transaction_open, EngineError, EngineResult};
use crate::savepoint::Savepoint;
use crate::sqlite_errors::sqlite_error;
use crate::statement::{Action, Payload, Statement};
use crate::value::Value;

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
            Value::Interval { days, micros } => {
                let total = days
                    .checked_mul(crate::calendar::MICROS_PER_DAY)
                    .and_then(|day_micros| day_micros.checked_add(*micros))
                    .ok_or_else(|| {
                        rusqlite::Error::ToSqlConversionFailure(
                            "the timedelta is too large to store in microseconds (64 bits)".into(),
                        )
                    })?;
                ToSqlOutput::Owned(Owned::Integer(total))
            }
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
    if stmt.action == Action::Control {
        conn.execute_batch(sql).map_err(fail)?;
        return Ok(Payload::Done);
    }
    if stmt.action == Action::Script {
        // Begun in autocommit mode, so on a pooled connection (transactions and the isolation
        // hold one open): a user's script must not leave it inside a transaction.
        let pooled = conn.is_autocommit();
        conn.execute_batch(sql).map_err(fail)?;
        if pooled && !conn.is_autocommit() {
            rollback_if_open(conn)?;
            return Err(script_left_transaction_open(sql));
        }
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
        Action::Script | Action::Control => Ok(Payload::Done),
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
