//! The faults the database simulation injects. Each named fault is the SQLSTATE and message of a
//! real PostgreSQL failure, so an injected error has the class a real one has on either backend;
//! only its message (and its `injected` attribute) says it was injected.

use crate::errors::{EngineError, EngineResult, ServerError};

/// What a fault does besides failing its statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// The server reports an error: on PostgreSQL the transaction it is in is aborted.
    Statement,
    /// The connection is lost: the transaction it was in is gone.
    ConnectionLost,
    /// A new connection is refused (the server's connection limit): nothing ran.
    Connect,
}

/// Name, SQLSTATE, and the message PostgreSQL gives.
const CATALOGUE: &[(&str, &str, &str)] = &[
    (
        "unique_violation",
        "23505",
        "duplicate key value violates unique constraint",
    ),
    (
        "foreign_key_violation",
        "23503",
        "insert or update on table violates foreign key constraint",
    ),
    (
        "not_null_violation",
        "23502",
        "null value in column violates not-null constraint",
    ),
    (
        "check_violation",
        "23514",
        "new row for relation violates check constraint",
    ),
    (
        "serialization_failure",
        "40001",
        "could not serialize access due to concurrent update",
    ),
    ("deadlock", "40P01", "deadlock detected"),
    (
        "lock_timeout",
        "55P03",
        "canceling statement due to lock timeout",
    ),
    (
        "query_canceled",
        "57014",
        "canceling statement due to statement timeout",
    ),
    (
        "connection_lost",
        "08006",
        "the connection to the server was lost",
    ),
    (
        "disk_full",
        "53100",
        "could not extend file: No space left on device",
    ),
    (
        "too_many_connections",
        "53300",
        "sorry, too many clients already",
    ),
];

#[derive(Debug)]
pub struct Fault {
    /// The catalogue name, or the SQLSTATE it was asked for by.
    pub name: String,
    pub sqlstate: String,
    message: String,
    pub kind: FaultKind,
}

/// The names `fail(error=...)` accepts besides a SQLSTATE.
pub fn fault_names() -> Vec<&'static str> {
    CATALOGUE.iter().map(|(name, _, _)| *name).collect()
}

fn kind_of(sqlstate: &str) -> FaultKind {
    match sqlstate {
        "53300" => FaultKind::Connect,
        "57P01" | "57P02" | "57P03" => FaultKind::ConnectionLost,
        code if code.starts_with("08") => FaultKind::ConnectionLost,
        _ => FaultKind::Statement,
    }
}

impl Fault {
    /// A fault by name (`"deadlock"`) or SQLSTATE (`"40001"`).
    pub fn parse(spec: &str) -> EngineResult<Fault> {
        if let Some((name, sqlstate, message)) = CATALOGUE.iter().find(|(name, _, _)| *name == spec)
        {
            return Ok(Fault {
                name: (*name).to_owned(),
                sqlstate: (*sqlstate).to_owned(),
                message: (*message).to_owned(),
                kind: kind_of(sqlstate),
            });
        }
        let is_code = spec.len() == 5
            && spec
                .bytes()
                .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase());
        // Classes 00-02 are success, warning and "no data": not errors a statement fails with.
        if is_code && !matches!(&spec[..2], "00" | "01" | "02") {
            let known = CATALOGUE.iter().find(|(_, code, _)| *code == spec);
            return Ok(Fault {
                name: spec.to_owned(),
                sqlstate: spec.to_owned(),
                message: known.map_or_else(
                    || format!("error {spec}"),
                    |(_, _, message)| (*message).to_owned(),
                ),
                kind: kind_of(spec),
            });
        }
        Err(EngineError::config(format!(
            "unknown fault {spec:?}; expected one of: {}, or an error SQLSTATE of five digits \
             and capital letters (for example \"40001\")",
            fault_names().join(", ")
        )))
    }

    fn text(&self) -> String {
        format!(
            "{} (injected by the database simulation: {})",
            self.message, self.name
        )
    }

    /// The error the statement `sql` fails with.
    pub fn error(&self, sql: &str, target: &str) -> EngineError {
        if self.kind == FaultKind::Connect {
            // As the pool reports a refused connection.
            return EngineError::Connection {
                target: target.to_owned(),
                message: self.text(),
                sqlstate: Some(self.sqlstate.clone()),
                injected: Some(self.name.clone()),
            };
        }
        EngineError::Server(Box::new(ServerError {
            sqlstate: self.sqlstate.clone(),
            message: self.text(),
            sql: Some(sql.to_owned()),
            injected: Some(self.name.clone()),
            ..ServerError::default()
        }))
    }

    /// PostgreSQL: a statement that fails on the server with this fault's SQLSTATE, so the
    /// server's state after it (an aborted transaction, a savepoint to roll back to) is the
    /// state a real failure leaves. Name and SQLSTATE are validated text: nothing to escape.
    pub fn raise_sql(&self) -> String {
        format!(
            "DO $yara_fault$ BEGIN RAISE EXCEPTION USING ERRCODE = '{}', \
             MESSAGE = 'injected by the yara_orm database simulation: {}'; END $yara_fault$",
            self.sqlstate, self.name
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_codes_give_the_same_fault() {
        let named = Fault::parse("serialization_failure").unwrap();
        let coded = Fault::parse("40001").unwrap();
        assert_eq!(named.sqlstate, coded.sqlstate);
        assert_eq!(named.message, coded.message);
        assert_eq!(
            Fault::parse("connection_lost").unwrap().kind,
            FaultKind::ConnectionLost
        );
        assert_eq!(
            Fault::parse("57P01").unwrap().kind,
            FaultKind::ConnectionLost
        );
        assert_eq!(
            Fault::parse("too_many_connections").unwrap().kind,
            FaultKind::Connect
        );
    }

    #[test]
    fn bad_specs_list_the_valid_names() {
        for bad in ["", "deadlocks", "4000", "4000a", "00000", "01000"] {
            let text = Fault::parse(bad).unwrap_err().to_string();
            assert!(text.contains("unique_violation"), "{bad:?}: {text}");
        }
    }

    #[test]
    fn errors_say_they_were_injected() {
        let err = Fault::parse("deadlock").unwrap().error("SELECT 1", "db");
        assert_eq!(err.sqlstate(), Some("40P01"));
        assert!(err.to_string().contains("injected"), "{err}");
    }
}
