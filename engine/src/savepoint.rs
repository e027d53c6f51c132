//! Savepoint names and the SQL that creates, keeps and undoes them: the one place that spells
//! it out. Names are always quoted, so any name a user passes is safe.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::errors::{EngineError, EngineResult};

static IDS: AtomicU64 = AtomicU64::new(1);

/// A process-wide unique number for generated savepoint names and isolation levels.
pub fn next_id() -> u64 {
    IDS.fetch_add(1, Ordering::Relaxed)
}

/// `"name"` with embedded quotes doubled.
pub fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A savepoint, by its quoted name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Savepoint(String);

impl Savepoint {
    /// A name the engine generates: `"yara_<prefix>_<id>"`.
    pub fn generated(prefix: &str, id: u64) -> Savepoint {
        Savepoint(quote_identifier(&format!("yara_{prefix}_{id}")))
    }

    /// A name the engine chose itself (see `user` for names users pass).
    pub fn named(name: &str) -> Savepoint {
        Savepoint(quote_identifier(name))
    }

    /// A name the user chose: any text but an empty one or one with a NUL character.
    pub fn user(name: &str) -> EngineResult<Savepoint> {
        if name.is_empty() || name.contains('\0') {
            return Err(EngineError::interface(format!(
                "savepoint name {name:?} cannot be used: it must be non-empty and hold no NUL"
            )));
        }
        Ok(Savepoint::named(name))
    }

    pub fn create(&self) -> String {
        format!("SAVEPOINT {}", self.0)
    }

    /// Keep the work done since the savepoint.
    pub fn release(&self) -> String {
        format!("RELEASE SAVEPOINT {}", self.0)
    }

    /// Undo the work done since the savepoint; the savepoint stays.
    pub fn rollback_to(&self) -> String {
        format!("ROLLBACK TO SAVEPOINT {}", self.0)
    }

    /// Undo the work done since the savepoint and drop it.
    pub fn undo(&self) -> String {
        format!("ROLLBACK TO SAVEPOINT {0}; RELEASE SAVEPOINT {0}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names_are_quoted_with_quotes_doubled() {
        let point = Savepoint::named("a\"; DROP TABLE t; --");
        assert_eq!(point.create(), "SAVEPOINT \"a\"\"; DROP TABLE t; --\"");
    }

    #[test]
    fn undo_rolls_back_then_releases_the_same_name() {
        let point = Savepoint::generated("tx", 7);
        assert_eq!(
            point.undo(),
            "ROLLBACK TO SAVEPOINT \"yara_tx_7\"; RELEASE SAVEPOINT \"yara_tx_7\""
        );
    }
}
