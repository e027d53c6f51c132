//! SQL functions registered on every SQLite connection, so the ORM gets PostgreSQL's answers
//! on SQLite: Unicode-aware lower- and upper-casing (SQLite's LOWER() and UPPER() only know
//! ASCII), integer arithmetic that fails on overflow and on division by zero (where
//! SQLite would silently produce a float or NULL), power() and the regexp() behind REGEXP
//! (SQLite has neither built in).

use regex::Regex;
use rusqlite::functions::{Context, FunctionFlags};
use rusqlite::types::{Value as SqlValue, ValueRef};
use rusqlite::Connection;

/// PostgreSQL's messages; `sqlite_errors` maps them to their SQLSTATEs (22003, 22012, 2201B).
pub const OUT_OF_RANGE: &str = "integer out of range";
pub const DIVISION_BY_ZERO: &str = "division by zero";
pub const INVALID_REGEX: &str = "invalid regular expression";

#[derive(Debug)]
struct FunctionError(String);

impl std::fmt::Display for FunctionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for FunctionError {}

fn fail<T>(message: &'static str) -> rusqlite::Result<T> {
    Err(rusqlite::Error::UserFunctionError(Box::new(FunctionError(
        message.to_owned(),
    ))))
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Number {
    Null,
    Int(i64),
    Real(f64),
}

/// An operand as SQLite's arithmetic would read it, except that text holding an integer
/// too large for 64 bits (how the engine binds such a Python int) is out of range, not a float.
fn number(value: ValueRef<'_>) -> rusqlite::Result<Number> {
    Ok(match value {
        ValueRef::Null => Number::Null,
        ValueRef::Integer(i) => Number::Int(i),
        ValueRef::Real(f) => Number::Real(f),
        ValueRef::Text(bytes) => {
            let text = std::str::from_utf8(bytes).unwrap_or("").trim();
            if let Ok(i) = text.parse::<i64>() {
                Number::Int(i)
            } else if is_integer_literal(text) {
                return fail(OUT_OF_RANGE);
            } else {
                text.parse::<f64>().map_or(Number::Int(0), Number::Real)
            }
        }
        ValueRef::Blob(_) => Number::Int(0),
    })
}

fn is_integer_literal(text: &str) -> bool {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

fn real(n: Number) -> f64 {
    match n {
        Number::Int(i) => i as f64,
        Number::Real(f) => f,
        Number::Null => 0.0,
    }
}

fn apply(op: char, a: Number, b: Number) -> rusqlite::Result<SqlValue> {
    use Number::{Int, Null};
    if a == Null || b == Null {
        return Ok(SqlValue::Null);
    }
    if op == '^' {
        // PostgreSQL's power() answers in double precision, and overflow is an error.
        let (x, y) = (real(a), real(b));
        let result = x.powf(y);
        if result.is_infinite() && x.is_finite() && y.is_finite() {
            return fail(OUT_OF_RANGE);
        }
        return Ok(SqlValue::Real(result));
    }
    if let (Int(x), Int(y)) = (a, b) {
        if matches!(op, '/' | '%') && y == 0 {
            return fail(DIVISION_BY_ZERO);
        }
        let result = match op {
            '+' => x.checked_add(y),
            '-' => x.checked_sub(y),
            '*' => x.checked_mul(y),
            '/' => x.checked_div(y),
            _ => x.checked_rem(y),
        };
        return result.map_or_else(|| fail(OUT_OF_RANGE), |v| Ok(SqlValue::Integer(v)));
    }
    let (x, y) = (real(a), real(b));
    if matches!(op, '/' | '%') && y == 0.0 {
        return fail(DIVISION_BY_ZERO);
    }
    Ok(SqlValue::Real(match op {
        '+' => x + y,
        '-' => x - y,
        '*' => x * y,
        '/' => x / y,
        _ => x % y,
    }))
}

fn binary(op: char) -> impl Fn(&mut Context<'_>) -> rusqlite::Result<SqlValue> {
    move |ctx| apply(op, number(ctx.get_raw(0))?, number(ctx.get_raw(1))?)
}

fn lower(ctx: &mut Context<'_>) -> rusqlite::Result<SqlValue> {
    change_case(ctx, str::to_lowercase)
}

fn upper(ctx: &mut Context<'_>) -> rusqlite::Result<SqlValue> {
    change_case(ctx, str::to_uppercase)
}

fn change_case(ctx: &Context<'_>, change: fn(&str) -> String) -> rusqlite::Result<SqlValue> {
    Ok(match ctx.get_raw(0) {
        ValueRef::Text(bytes) => SqlValue::Text(change(&String::from_utf8_lossy(bytes))),
        ValueRef::Null => SqlValue::Null,
        ValueRef::Integer(i) => SqlValue::Integer(i),
        ValueRef::Real(f) => SqlValue::Real(f),
        ValueRef::Blob(bytes) => SqlValue::Blob(bytes.to_vec()),
    })
}

/// `value REGEXP pattern` (SQLite calls regexp(pattern, value)): the pattern is compiled once
/// per statement, and NULL on either side gives NULL, as PostgreSQL's `~`.
fn regexp(ctx: &mut Context<'_>) -> rusqlite::Result<SqlValue> {
    if matches!(ctx.get_raw(0), ValueRef::Null) || matches!(ctx.get_raw(1), ValueRef::Null) {
        return Ok(SqlValue::Null);
    }
    let pattern = ctx.get_or_create_aux(0, |raw| -> Result<Regex, FunctionError> {
        let text = raw
            .as_str()
            .map_err(|_| FunctionError(format!("{INVALID_REGEX}: the pattern is not text")))?;
        Regex::new(text).map_err(|e| FunctionError(format!("{INVALID_REGEX}: {e}")))
    })?;
    let matched = match ctx.get_raw(1) {
        ValueRef::Text(bytes) => pattern.is_match(&String::from_utf8_lossy(bytes)),
        ValueRef::Integer(i) => pattern.is_match(&i.to_string()),
        ValueRef::Real(f) => pattern.is_match(&f.to_string()),
        ValueRef::Blob(bytes) => pattern.is_match(&String::from_utf8_lossy(bytes)),
        ValueRef::Null => unreachable!("handled above"),
    };
    Ok(SqlValue::Integer(i64::from(matched)))
}

pub fn register(conn: &Connection) -> rusqlite::Result<()> {
    let flags = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC;
    conn.create_scalar_function("yara_lower", 1, flags, lower)?;
    conn.create_scalar_function("yara_upper", 1, flags, upper)?;
    for (name, op) in [
        ("yara_add", '+'),
        ("yara_sub", '-'),
        ("yara_mul", '*'),
        ("yara_div", '/'),
        ("yara_mod", '%'),
        ("yara_pow", '^'),
    ] {
        conn.create_scalar_function(name, 2, flags, binary(op))?;
    }
    conn.create_scalar_function("regexp", 2, flags, regexp)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(sql: &str) -> rusqlite::Result<SqlValue> {
        let conn = Connection::open_in_memory()?;
        register(&conn)?;
        conn.query_row(sql, [], |row| row.get(0))
    }

    #[test]
    fn integer_overflow_is_an_error_not_a_float() {
        let err = eval("SELECT yara_add(9223372036854775807, 1)").unwrap_err();
        assert!(err.to_string().contains(OUT_OF_RANGE), "{err}");
        assert_eq!(
            eval("SELECT yara_add(40, 2)").unwrap(),
            SqlValue::Integer(42)
        );
        let big = eval("SELECT yara_add(1, '9223372036854775808')").unwrap_err();
        assert!(big.to_string().contains(OUT_OF_RANGE), "{big}");
    }

    #[test]
    fn division_by_zero_is_an_error_and_reals_stay_reals() {
        let err = eval("SELECT yara_div(1, 0)").unwrap_err();
        assert!(err.to_string().contains(DIVISION_BY_ZERO), "{err}");
        assert_eq!(
            eval("SELECT yara_mul(1.5, 2)").unwrap(),
            SqlValue::Real(3.0)
        );
        assert_eq!(eval("SELECT yara_sub(NULL, 2)").unwrap(), SqlValue::Null);
    }

    #[test]
    fn power_answers_in_floating_point_and_overflow_is_an_error() {
        assert_eq!(eval("SELECT yara_pow(3, 3)").unwrap(), SqlValue::Real(27.0));
        assert_eq!(eval("SELECT yara_pow(NULL, 2)").unwrap(), SqlValue::Null);
        let err = eval("SELECT yara_pow(10, 400)").unwrap_err();
        assert!(err.to_string().contains(OUT_OF_RANGE), "{err}");
    }

    #[test]
    fn regexp_matches_compiles_once_and_reports_bad_patterns() {
        assert_eq!(
            eval("SELECT 'Hello' REGEXP '^H.l+o$'").unwrap(),
            SqlValue::Integer(1)
        );
        assert_eq!(
            eval("SELECT 'hello' REGEXP '(?i)^HELLO'").unwrap(),
            SqlValue::Integer(1)
        );
        assert_eq!(eval("SELECT NULL REGEXP 'a'").unwrap(), SqlValue::Null);
        let err = eval("SELECT 'a' REGEXP '('").unwrap_err();
        assert!(err.to_string().contains(INVALID_REGEX), "{err}");
    }

    #[test]
    fn lower_knows_unicode() {
        assert_eq!(
            eval("SELECT yara_lower('ÄÖÜ Straße')").unwrap(),
            SqlValue::Text("äöü straße".to_owned())
        );
    }
}
