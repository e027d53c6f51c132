//! SQLite's errors as the engine's: result codes become the SQLSTATEs PostgreSQL would report.

use rusqlite::ErrorCode;

use crate::errors::EngineError;
use crate::sqlite_functions::{DIVISION_BY_ZERO, INVALID_REGEX, OUT_OF_RANGE};

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
            let mut message = message.unwrap_or_else(|| code.to_string());
            if is_too_many_parameters(&message) {
                message.push_str(
                    "; SQLite allows at most 32766 parameters in one statement (split it, or \
                     send a list as one JSON parameter: IN (SELECT value FROM json_each(?)))",
                );
            }
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
            if is_too_many_parameters(message) {
                "54000"
            } else if message.contains(OUT_OF_RANGE) {
                "22003"
            } else if message.contains(DIVISION_BY_ZERO) {
                "22012"
            } else if message.contains(INVALID_REGEX) {
                "2201B"
            } else if message.contains("syntax error") || message.contains("incomplete input") {
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

/// SQLite's parameter limit, as it reports it for `?` ("too many SQL variables") and for
/// numbered `?NNN` placeholders ("variable number must be between ?1 and ?32766").
fn is_too_many_parameters(message: &str) -> bool {
    message.contains("too many SQL variables")
        || message.contains("variable number must be between")
}
