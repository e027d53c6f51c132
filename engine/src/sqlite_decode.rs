//! SQLite cells to Python objects, under the GIL. SQLite stores only five storage classes;
//! richer Python types come back from the column's declared type, read once per result.

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDate, PyDelta, PyList, PyString, PyTime, PyTzInfo};

use crate::calendar::{civil_from_days, civil_from_unix_micros, python_year, MICROS_PER_DAY};
use crate::errors::EngineError;
use crate::hydrate::build_rows;
use crate::pg_encode::parse_uuid;
use crate::pytypes::{py_datetime, PyTypes};
use crate::shaping::RowShape;
use crate::sqlite_run::{parse_date, Cell, SqliteRows};

/// What a declared column type asks the stored value to become.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// No declared type we know of: the storage class decides (int, float, str, bytes).
    Natural,
    Bool,
    Decimal,
    Uuid,
    Date,
    DateTime,
    Time,
    Json,
    Interval,
}

impl Kind {
    /// Declared types are matched on their leading word, case-insensitively: `DECIMAL(10,2)`,
    /// `DECIMAL_TEXT`, `TIMESTAMP WITH TIME ZONE`, `BOOLEAN NOT NULL` all count.
    pub fn from_declared(declared: Option<&str>) -> Kind {
        let Some(declared) = declared else {
            return Kind::Natural;
        };
        let upper = declared.trim().to_ascii_uppercase();
        let word: &str = upper
            .split(|c: char| c == '(' || c.is_whitespace())
            .next()
            .unwrap_or("");
        match word {
            "BOOL" | "BOOLEAN" => Kind::Bool,
            w if w.starts_with("DECIMAL") || w.starts_with("NUMERIC") => Kind::Decimal,
            "UUID" => Kind::Uuid,
            "DATE" => Kind::Date,
            "DATETIME" | "TIMESTAMP" | "TIMESTAMPTZ" => Kind::DateTime,
            "TIME" | "TIMETZ" => Kind::Time,
            "JSON" | "JSONB" => Kind::Json,
            "INTERVAL" => Kind::Interval,
            _ => Kind::Natural,
        }
    }
}

pub fn rows_to_list<'py>(
    py: Python<'py>,
    types: &PyTypes,
    rows: &SqliteRows,
    shape: Option<&RowShape>,
) -> PyResult<Bound<'py, PyList>> {
    let width = rows.columns.len();
    let plan: Vec<Kind> = rows
        .declared
        .iter()
        .map(|d| Kind::from_declared(d.as_deref()))
        .collect();
    build_rows(py, rows.len(), width, shape, |row, col| {
        cell_to_py(py, types, plan[col], &rows.cells[row * width + col]).map_err(|reason| {
            EngineError::Decode {
                column: rows.columns[col].clone(),
                reason: format!(
                    "declared {}: {reason}",
                    rows.declared[col].as_deref().unwrap_or("without a type")
                ),
            }
        })
    })
}

fn natural<'py>(py: Python<'py>, cell: &Cell) -> PyResult<Bound<'py, PyAny>> {
    Ok(match cell {
        Cell::Null => py.None().into_bound(py),
        Cell::Int(i) => i.into_pyobject(py)?.into_any(),
        Cell::Real(f) => f.into_pyobject(py)?.into_any(),
        Cell::Text(text) => PyString::new(py, text).into_any(),
        Cell::Blob(bytes) => PyBytes::new(py, bytes).into_any(),
    })
}

fn cell_to_py<'py>(
    py: Python<'py>,
    types: &PyTypes,
    kind: Kind,
    cell: &Cell,
) -> Result<Bound<'py, PyAny>, String> {
    let py_err = |e: PyErr| e.to_string();
    if matches!(cell, Cell::Null) {
        return Ok(py.None().into_bound(py));
    }
    match (kind, cell) {
        (Kind::Bool, Cell::Int(i)) => Ok(PyBool::new(py, *i != 0).to_owned().into_any()),
        (Kind::Decimal, Cell::Int(i)) => types.make_decimal(py, &i.to_string()).map_err(py_err),
        (Kind::Decimal, Cell::Real(f)) => types.make_decimal(py, &f.to_string()).map_err(py_err),
        (Kind::Decimal, Cell::Text(text)) => types.make_decimal(py, text).map_err(py_err),
        (Kind::Uuid, Cell::Text(text)) => {
            let value = parse_uuid(text).ok_or_else(|| format!("{text:?} is not a UUID"))?;
            types.make_uuid(py, value).map_err(py_err)
        }
        (Kind::Uuid, Cell::Blob(bytes)) => {
            let raw: [u8; 16] = bytes
                .as_slice()
                .try_into()
                .map_err(|_| "a UUID blob must be 16 bytes".to_owned())?;
            types
                .make_uuid(py, u128::from_be_bytes(raw))
                .map_err(py_err)
        }
        (Kind::Date, Cell::Text(text)) => {
            let days = parse_date(text)
                .filter(|_| text.len() == 10)
                .ok_or_else(|| format!("{text:?} is not a date"))?;
            let (year, month, day) = civil_from_days(days);
            let year =
                python_year(year).ok_or_else(|| format!("{text:?} is outside Python's range"))?;
            Ok(PyDate::new(py, year, month as u8, day as u8)
                .map_err(py_err)?
                .into_any())
        }
        (Kind::DateTime, Cell::Text(text)) => datetime(py, text),
        (Kind::Time, Cell::Text(text)) => time(py, text),
        (Kind::Json, Cell::Text(text)) => types
            .json_loads
            .bind(py)
            .call1((text.as_str(),))
            .map_err(py_err),
        (Kind::Interval, Cell::Int(micros)) => {
            let days = i32::try_from(micros.div_euclid(MICROS_PER_DAY))
                .map_err(|_| "interval out of range".to_owned())?;
            let rest = micros.rem_euclid(MICROS_PER_DAY);
            Ok(PyDelta::new(
                py,
                days,
                (rest / 1_000_000) as i32,
                (rest % 1_000_000) as i32,
                true,
            )
            .map_err(py_err)?
            .into_any())
        }
        // Anything else (a JSON number stored as INTEGER, a legacy value): the storage class decides.
        _ => natural(py, cell).map_err(py_err),
    }
}

/// `HH:MM[:SS[.ffffff]]` and an optional `Z`/`±HH:MM` offset, as (micros since midnight, offset seconds).
fn parse_clock(text: &str) -> Option<(i64, Option<i32>)> {
    let (clock, offset) = split_offset(text)?;
    let mut parts = clock.splitn(3, ':');
    let hour: i64 = parts.next()?.parse().ok()?;
    let minute: i64 = parts.next()?.parse().ok()?;
    let (second, micro) = match parts.next() {
        None => (0, 0),
        Some(seconds) => match seconds.split_once('.') {
            None => (seconds.parse().ok()?, 0),
            Some((whole, fraction)) => {
                let digits: String = fraction.chars().take(6).collect();
                let scale = 10i64.pow(6 - digits.len() as u32);
                (whole.parse().ok()?, digits.parse::<i64>().ok()? * scale)
            }
        },
    };
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    Some((
        ((hour * 60 + minute) * 60 + second) * 1_000_000 + micro,
        offset,
    ))
}

fn split_offset(text: &str) -> Option<(&str, Option<i32>)> {
    if let Some(clock) = text.strip_suffix('Z') {
        return Some((clock, Some(0)));
    }
    match text.rfind(['+', '-']) {
        Some(at) if at >= 5 => {
            let (clock, zone) = text.split_at(at);
            let sign = if zone.starts_with('-') { -1 } else { 1 };
            let (hours, minutes) = zone[1..].split_once(':').unwrap_or((&zone[1..], "0"));
            let seconds = hours.parse::<i32>().ok()? * 3600 + minutes.parse::<i32>().ok()? * 60;
            Some((clock, Some(sign * seconds)))
        }
        _ => Some((text, None)),
    }
}

fn tz<'py>(py: Python<'py>, offset: i32) -> Result<Bound<'py, PyTzInfo>, String> {
    if offset == 0 {
        return PyTzInfo::utc(py)
            .map(|tz| tz.to_owned())
            .map_err(|e| e.to_string());
    }
    let delta = PyDelta::new(py, 0, offset, 0, true).map_err(|e| e.to_string())?;
    PyTzInfo::fixed_offset(py, delta).map_err(|e| e.to_string())
}

fn datetime<'py>(py: Python<'py>, text: &str) -> Result<Bound<'py, PyAny>, String> {
    let bad = || format!("{text:?} is not a datetime");
    let days = parse_date(text).ok_or_else(bad)?;
    let rest = text.get(10..).ok_or_else(bad)?;
    let (of_day, offset) = match rest.chars().next() {
        None => (0, None),
        Some(' ' | 'T') => parse_clock(&rest[1..]).ok_or_else(bad)?,
        Some(_) => return Err(bad()),
    };
    let civil = civil_from_unix_micros(days * MICROS_PER_DAY + of_day);
    let zone = offset.map(|o| tz(py, o)).transpose()?;
    py_datetime(py, &civil, zone.as_ref())
        .map_err(|e| e.to_string())?
        .ok_or_else(bad)
}

fn time<'py>(py: Python<'py>, text: &str) -> Result<Bound<'py, PyAny>, String> {
    let (micros, offset) = parse_clock(text).ok_or_else(|| format!("{text:?} is not a time"))?;
    let civil = civil_from_unix_micros(micros);
    let zone = offset.map(|o| tz(py, o)).transpose()?;
    PyTime::new(
        py,
        civil.hour as u8,
        civil.minute as u8,
        civil.second as u8,
        civil.micro,
        zone.as_ref(),
    )
    .map(|t| t.into_any())
    .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_types_pick_kinds() {
        assert_eq!(Kind::from_declared(Some("decimal(10, 2)")), Kind::Decimal);
        assert_eq!(Kind::from_declared(Some("DECIMAL_TEXT")), Kind::Decimal);
        assert_eq!(
            Kind::from_declared(Some("TIMESTAMP WITH TIME ZONE")),
            Kind::DateTime
        );
        assert_eq!(Kind::from_declared(Some("boolean not null")), Kind::Bool);
        assert_eq!(Kind::from_declared(Some("VARCHAR(20)")), Kind::Natural);
        assert_eq!(Kind::from_declared(None), Kind::Natural);
    }

    #[test]
    fn clocks_and_offsets() {
        assert_eq!(parse_clock("10:20:30.5"), Some((37_230_500_000, None)));
        assert_eq!(
            parse_clock("10:20:30+02:00"),
            Some((37_230_000_000, Some(7200)))
        );
        assert_eq!(
            parse_clock("10:20:30-05:30"),
            Some((37_230_000_000, Some(-19_800)))
        );
        assert_eq!(parse_clock("00:00:00Z"), Some((0, Some(0))));
        assert_eq!(parse_clock("25:00"), None);
    }
}
