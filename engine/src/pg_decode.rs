//! PostgreSQL rows to Python objects, under the GIL. The decoder of each column is chosen
//! once per result set by one `match` on the type OID; cells are then decoded positionally.

use postgres_protocol::types as wire;
use postgres_types::{FromSql, Kind, Type};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDate, PyDelta, PyList, PyString, PyTime, PyTzInfo};
use tokio_postgres::Row;

use crate::calendar::{
    civil_from_days, civil_from_unix_micros, python_year, split_time_of_day, MICROS_PER_DAY,
    PG_EPOCH_DAYS,
};
use crate::errors::EngineError;
use crate::hydrate::build_rows;
use crate::numeric;
use crate::pytypes::{py_datetime, PyTypes};
use crate::shaping::RowShape;

/// How to turn one column's binary cells into Python objects.
#[derive(Debug, Clone)]
pub enum Decoder {
    Bool,
    Int2,
    Int4,
    Int8,
    Oid,
    Float4,
    Float8,
    Numeric,
    Text,
    Char,
    Bytea,
    Uuid,
    Date,
    Time,
    TimeTz,
    Timestamp,
    TimestampTz,
    Interval,
    Json,
    Jsonb,
    Void,
    Array(Box<Decoder>),
    Unsupported(String),
}

impl Decoder {
    pub fn for_type(ty: &Type) -> Decoder {
        match ty.oid() {
            16 => Decoder::Bool,
            17 => Decoder::Bytea,
            18 => Decoder::Char,
            // name, text, unknown, bpchar, varchar; xml travels as its text too.
            19 | 25 | 142 | 705 | 1042 | 1043 => Decoder::Text,
            20 => Decoder::Int8,
            21 => Decoder::Int2,
            23 => Decoder::Int4,
            26 => Decoder::Oid,
            114 => Decoder::Json,
            700 => Decoder::Float4,
            701 => Decoder::Float8,
            1082 => Decoder::Date,
            1083 => Decoder::Time,
            1114 => Decoder::Timestamp,
            1184 => Decoder::TimestampTz,
            1186 => Decoder::Interval,
            1266 => Decoder::TimeTz,
            1700 => Decoder::Numeric,
            2278 => Decoder::Void,
            2950 => Decoder::Uuid,
            3802 => Decoder::Jsonb,
            _ => match ty.kind() {
                Kind::Array(member) => Decoder::Array(Box::new(Decoder::for_type(member))),
                Kind::Domain(base) => Decoder::for_type(base),
                Kind::Enum(_) => Decoder::Text,
                Kind::Simple if ty.name() == "citext" => Decoder::Text,
                _ => Decoder::Unsupported(ty.name().to_owned()),
            },
        }
    }
}

/// The raw bytes of a cell, whatever its type.
struct RawCell<'a>(Option<&'a [u8]>);

impl<'a> FromSql<'a> for RawCell<'a> {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(RawCell(Some(raw)))
    }

    fn from_sql_null(_: &Type) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(RawCell(None))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

/// Decode every row into a list of tuples.
pub fn rows_to_list<'py>(
    py: Python<'py>,
    types: &PyTypes,
    rows: &[Row],
    shape: Option<&RowShape>,
) -> PyResult<Bound<'py, PyList>> {
    let Some(first) = rows.first() else {
        return Ok(PyList::empty(py));
    };
    let columns = first.columns();
    let plan: Vec<Decoder> = columns
        .iter()
        .map(|c| Decoder::for_type(c.type_()))
        .collect();
    let column_error = |col: usize, reason: CellError| match reason {
        CellError::Unsupported(type_name) => EngineError::UnsupportedType {
            column: columns[col].name().to_owned(),
            type_name,
        },
        CellError::Invalid(reason) => EngineError::Decode {
            column: columns[col].name().to_owned(),
            reason,
        },
    };
    build_rows(py, rows.len(), plan.len(), shape, |row, col| {
        let cell = rows[row]
            .try_get::<usize, RawCell<'_>>(col)
            .map_err(|e| column_error(col, CellError::Invalid(e.to_string())))?;
        match cell.0 {
            None => Ok(py.None().into_bound(py)),
            Some(raw) => decode_cell(py, types, &plan[col], raw).map_err(|e| column_error(col, e)),
        }
    })
}

pub enum CellError {
    Unsupported(String),
    Invalid(String),
}

impl From<PyErr> for CellError {
    fn from(err: PyErr) -> Self {
        CellError::Invalid(err.to_string())
    }
}

impl From<std::convert::Infallible> for CellError {
    fn from(never: std::convert::Infallible) -> Self {
        match never {}
    }
}

fn invalid<E: std::fmt::Display>(err: E) -> CellError {
    CellError::Invalid(err.to_string())
}

fn decode_cell<'py>(
    py: Python<'py>,
    types: &PyTypes,
    decoder: &Decoder,
    raw: &[u8],
) -> Result<Bound<'py, PyAny>, CellError> {
    Ok(match decoder {
        Decoder::Bool => PyBool::new(py, wire::bool_from_sql(raw).map_err(invalid)?)
            .to_owned()
            .into_any(),
        Decoder::Int2 => wire::int2_from_sql(raw)
            .map_err(invalid)?
            .into_pyobject(py)?
            .into_any(),
        Decoder::Int4 => wire::int4_from_sql(raw)
            .map_err(invalid)?
            .into_pyobject(py)?
            .into_any(),
        Decoder::Int8 => wire::int8_from_sql(raw)
            .map_err(invalid)?
            .into_pyobject(py)?
            .into_any(),
        Decoder::Oid => wire::oid_from_sql(raw)
            .map_err(invalid)?
            .into_pyobject(py)?
            .into_any(),
        Decoder::Float4 => f64::from(wire::float4_from_sql(raw).map_err(invalid)?)
            .into_pyobject(py)?
            .into_any(),
        Decoder::Float8 => wire::float8_from_sql(raw)
            .map_err(invalid)?
            .into_pyobject(py)?
            .into_any(),
        Decoder::Numeric => {
            let text = numeric::decode(raw).map_err(CellError::Invalid)?;
            types.make_decimal(py, &text)?
        }
        Decoder::Text => PyString::new(py, std::str::from_utf8(raw).map_err(invalid)?).into_any(),
        Decoder::Char => PyString::new(py, &String::from_utf8_lossy(raw)).into_any(),
        Decoder::Bytea => PyBytes::new(py, raw).into_any(),
        Decoder::Uuid => {
            let bytes: [u8; 16] = raw
                .try_into()
                .map_err(|_| invalid("uuid is not 16 bytes"))?;
            types.make_uuid(py, u128::from_be_bytes(bytes))?
        }
        Decoder::Date => date(py, wire::date_from_sql(raw).map_err(invalid)?)?,
        Decoder::Time => {
            let micros = wire::time_from_sql(raw).map_err(invalid)?;
            let (h, m, s, us) = split_time_of_day(micros.rem_euclid(MICROS_PER_DAY));
            PyTime::new(py, h as u8, m as u8, s as u8, us, None)?.into_any()
        }
        Decoder::TimeTz => {
            if raw.len() != 12 {
                return Err(invalid("timetz is not 12 bytes"));
            }
            let micros = i64::from_be_bytes(raw[..8].try_into().map_err(invalid)?);
            let west = i32::from_be_bytes(raw[8..].try_into().map_err(invalid)?);
            let (h, m, s, us) = split_time_of_day(micros.rem_euclid(MICROS_PER_DAY));
            let offset = PyDelta::new(py, 0, -west, 0, true)?;
            let tz = PyTzInfo::fixed_offset(py, offset)?;
            PyTime::new(py, h as u8, m as u8, s as u8, us, Some(&tz))?.into_any()
        }
        Decoder::Timestamp => {
            timestamp(py, wire::timestamp_from_sql(raw).map_err(invalid)?, false)?
        }
        Decoder::TimestampTz => {
            timestamp(py, wire::timestamp_from_sql(raw).map_err(invalid)?, true)?
        }
        Decoder::Interval => {
            if raw.len() != 16 {
                return Err(invalid("interval is not 16 bytes"));
            }
            let micros = i64::from_be_bytes(raw[..8].try_into().map_err(invalid)?);
            let days = i32::from_be_bytes(raw[8..12].try_into().map_err(invalid)?);
            let months = i32::from_be_bytes(raw[12..].try_into().map_err(invalid)?);
            // timedelta has no months: a month counts as 30 days, as PostgreSQL's justify_days.
            let total_days =
                i64::from(days) + i64::from(months) * 30 + micros.div_euclid(MICROS_PER_DAY);
            let rest = micros.rem_euclid(MICROS_PER_DAY);
            let total_days = i32::try_from(total_days)
                .map_err(|_| invalid("interval out of timedelta range"))?;
            PyDelta::new(
                py,
                total_days,
                (rest / 1_000_000) as i32,
                (rest % 1_000_000) as i32,
                true,
            )?
            .into_any()
        }
        Decoder::Json => json(py, types, raw)?,
        Decoder::Jsonb => match raw.split_first() {
            Some((1, text)) => json(py, types, text)?,
            _ => return Err(invalid("unknown jsonb format version")),
        },
        Decoder::Void => py.None().into_bound(py),
        Decoder::Array(member) => array(py, types, member, raw)?,
        Decoder::Unsupported(name) => return Err(CellError::Unsupported(name.clone())),
    })
}

fn json<'py>(py: Python<'py>, types: &PyTypes, raw: &[u8]) -> Result<Bound<'py, PyAny>, CellError> {
    let text = std::str::from_utf8(raw).map_err(invalid)?;
    Ok(types.json_loads.bind(py).call1((text,))?)
}

fn date(py: Python<'_>, pg_days: i32) -> Result<Bound<'_, PyAny>, CellError> {
    // PostgreSQL's ±infinity map to date.max / date.min, as asyncpg does.
    let (year, month, day) = match pg_days {
        i32::MAX => (9999, 12, 31),
        i32::MIN => (1, 1, 1),
        _ => civil_from_days(i64::from(pg_days) + PG_EPOCH_DAYS),
    };
    let year = python_year(year)
        .ok_or_else(|| invalid(format!("year {year} is outside Python's date range")))?;
    Ok(PyDate::new(py, year, month as u8, day as u8)?.into_any())
}

fn timestamp(py: Python<'_>, pg_micros: i64, aware: bool) -> Result<Bound<'_, PyAny>, CellError> {
    let utc = if aware {
        Some(PyTzInfo::utc(py)?.to_owned())
    } else {
        None
    };
    let civil = match pg_micros {
        i64::MAX => civil_from_unix_micros(253_402_300_799_999_999),
        i64::MIN => civil_from_unix_micros(-62_135_596_800_000_000),
        _ => civil_from_unix_micros(pg_micros + PG_EPOCH_DAYS * MICROS_PER_DAY),
    };
    py_datetime(py, &civil, utc.as_ref())?.ok_or_else(|| {
        invalid(format!(
            "year {} is outside Python's datetime range",
            civil.year
        ))
    })
}

fn array<'py>(
    py: Python<'py>,
    types: &PyTypes,
    member: &Decoder,
    raw: &[u8],
) -> Result<Bound<'py, PyAny>, CellError> {
    use fallible_iterator::FallibleIterator;
    let array = wire::array_from_sql(raw).map_err(invalid)?;
    let dims: Vec<usize> = array
        .dimensions()
        .map(|d| Ok(d.len.max(0) as usize))
        .collect()
        .map_err(invalid)?;
    let mut values = array.values();
    if dims.is_empty() {
        return Ok(PyList::empty(py).into_any());
    }
    build_level(py, types, member, &dims, &mut values)
}

fn build_level<'py>(
    py: Python<'py>,
    types: &PyTypes,
    member: &Decoder,
    dims: &[usize],
    values: &mut wire::ArrayValues<'_>,
) -> Result<Bound<'py, PyAny>, CellError> {
    use fallible_iterator::FallibleIterator;
    let list = PyList::empty(py);
    for _ in 0..dims[0] {
        if dims.len() > 1 {
            list.append(build_level(py, types, member, &dims[1..], values)?)?;
            continue;
        }
        let item = match values.next().map_err(invalid)? {
            Some(Some(raw)) => decode_cell(py, types, member, raw)?,
            Some(None) => py.None().into_bound(py),
            None => return Err(invalid("array has fewer elements than its dimensions")),
        };
        list.append(item)?;
    }
    Ok(list.into_any())
}
