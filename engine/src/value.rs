//! The owned, `Send` form of a statement parameter. Python values are converted here while
//! the GIL is held; everything after (encoding, I/O) runs without it.

use pyo3::prelude::*;
use pyo3::types::{
    PyByteArray, PyBytes, PyDate, PyDateAccess, PyDateTime, PyDelta, PyDeltaAccess, PyDict,
    PyFloat, PyInt, PyList, PyMemoryView, PyString, PyTime, PyTimeAccess, PyTuple, PyTzInfoAccess,
};

use crate::calendar::{days_from_civil, MICROS_PER_DAY, MICROS_PER_SECOND};
use crate::errors::{EngineError, EngineResult};
use crate::pytypes::py_types;

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    /// An integer beyond 64 bits, as decimal text (binds to numeric or text).
    BigInt(String),
    Float(f64),
    Text(String),
    Bytes(Vec<u8>),
    /// `decimal.Decimal` as its exact `str()`.
    Decimal(String),
    Uuid(u128),
    /// Days since 1970-01-01.
    Date(i64),
    /// Microseconds since midnight, and the UTC offset in seconds when the time is aware.
    Time {
        micros: i64,
        offset: Option<i32>,
    },
    /// Microseconds since 1970-01-01; an aware datetime is converted to UTC first.
    DateTime {
        micros: i64,
        aware: bool,
    },
    /// A `timedelta`, kept as days plus microseconds like PostgreSQL's interval.
    Interval {
        days: i64,
        micros: i64,
    },
    /// A dict (or anything else bound as JSON), already serialised.
    Json(String),
    List(Vec<Value>),
}

impl Value {
    /// The Python type a value came from, for error messages.
    pub fn python_type(&self) -> &'static str {
        match self {
            Value::Null => "NoneType",
            Value::Bool(_) => "bool",
            Value::Int(_) | Value::BigInt(_) => "int",
            Value::Float(_) => "float",
            Value::Text(_) => "str",
            Value::Bytes(_) => "bytes",
            Value::Decimal(_) => "Decimal",
            Value::Uuid(_) => "UUID",
            Value::Date(_) => "date",
            Value::Time { .. } => "time",
            Value::DateTime { .. } => "datetime",
            Value::Interval { .. } => "timedelta",
            Value::Json(_) => "dict",
            Value::List(_) => "list",
        }
    }

    /// JSON text for a value bound to a json column (lists of plain values, dicts, scalars).
    pub fn to_json_text(&self) -> Result<String, String> {
        Ok(self.to_json()?.to_string())
    }

    fn to_json(&self) -> Result<serde_json::Value, String> {
        use serde_json::Value as J;
        Ok(match self {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::BigInt(text) | Value::Decimal(text) => {
                serde_json::from_str(text).map_err(|_| format!("{text} is not a JSON number"))?
            }
            Value::Float(f) => serde_json::Number::from_f64(*f)
                .map(J::Number)
                .ok_or_else(|| format!("{f} has no JSON form"))?,
            Value::Text(s) => J::String(s.clone()),
            Value::Json(text) => serde_json::from_str(text).map_err(|e| e.to_string())?,
            Value::List(items) => {
                J::Array(items.iter().map(Value::to_json).collect::<Result<_, _>>()?)
            }
            other => return Err(format!("a {} has no JSON form", other.python_type())),
        })
    }
}

/// Convert a sequence of Python parameters.
pub fn values_from_params(params: Option<&Bound<'_, PyAny>>) -> EngineResult<Vec<Value>> {
    let Some(params) = params else {
        return Ok(Vec::new());
    };
    if params.is_none() {
        return Ok(Vec::new());
    }
    if let Ok(list) = params.cast::<PyList>() {
        return list
            .iter()
            .enumerate()
            .map(|(index, item)| value_from_py(&item, index + 1))
            .collect();
    }
    if let Ok(tuple) = params.cast::<PyTuple>() {
        return tuple
            .iter()
            .enumerate()
            .map(|(index, item)| value_from_py(&item, index + 1))
            .collect();
    }
    Err(EngineError::interface(format!(
        "parameters must be a list or tuple, not {}",
        type_name(params)
    )))
}

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "object".to_owned())
}

fn unbindable(obj: &Bound<'_, PyAny>, position: usize, reason: impl Into<String>) -> EngineError {
    EngineError::Parameter {
        position,
        python_type: type_name(obj),
        reason: reason.into(),
    }
}

/// Convert one Python value; `position` is 1-based and only used in errors.
pub fn value_from_py(obj: &Bound<'_, PyAny>, position: usize) -> EngineResult<Value> {
    let py = obj.py();
    if obj.is_none() {
        return Ok(Value::Null);
    }
    // Exact-type checks first: they are pointer comparisons and cover nearly every value.
    if obj.is_exact_instance_of::<PyString>() {
        return text_of(obj, position).map(Value::Text);
    }
    if obj.is_exact_instance_of::<pyo3::types::PyBool>() {
        return Ok(Value::Bool(obj.is_truthy().unwrap_or(false)));
    }
    if obj.is_instance_of::<PyInt>() {
        if obj.is_instance_of::<pyo3::types::PyBool>() {
            return Ok(Value::Bool(obj.is_truthy().unwrap_or(false)));
        }
        return match obj.extract::<i64>() {
            Ok(i) => Ok(Value::Int(i)),
            Err(_) => obj
                .str()
                .map(|s| Value::BigInt(s.to_string()))
                .map_err(|e| unbindable(obj, position, e.to_string())),
        };
    }
    if obj.is_instance_of::<PyFloat>() {
        return obj
            .extract::<f64>()
            .map(Value::Float)
            .map_err(|e| unbindable(obj, position, e.to_string()));
    }
    if obj.is_instance_of::<PyString>() {
        return text_of(obj, position).map(Value::Text);
    }
    if let Ok(bytes) = obj.cast::<PyBytes>() {
        return Ok(Value::Bytes(bytes.as_bytes().to_vec()));
    }
    if let Ok(array) = obj.cast::<PyByteArray>() {
        return Ok(Value::Bytes(array.to_vec()));
    }
    if obj.is_instance_of::<PyMemoryView>() {
        let bytes = obj
            .call_method0(pyo3::intern!(py, "tobytes"))
            .map_err(|e| unbindable(obj, position, e.to_string()))?;
        return value_from_py(&bytes, position);
    }
    // datetime is a subclass of date: test it first.
    if let Ok(datetime) = obj.cast::<PyDateTime>() {
        return datetime_value(datetime, position);
    }
    if let Ok(date) = obj.cast::<PyDate>() {
        return Ok(Value::Date(days_from_civil(
            date.get_year(),
            u32::from(date.get_month()),
            u32::from(date.get_day()),
        )));
    }
    if let Ok(time) = obj.cast::<PyTime>() {
        return time_value(time, position);
    }
    if let Ok(delta) = obj.cast::<PyDelta>() {
        return Ok(Value::Interval {
            days: i64::from(delta.get_days()),
            micros: i64::from(delta.get_seconds()) * MICROS_PER_SECOND
                + i64::from(delta.get_microseconds()),
        });
    }
    let types = py_types(py).map_err(|e| unbindable(obj, position, e.to_string()))?;
    if obj.is_instance(types.decimal.bind(py)).unwrap_or(false) {
        return obj
            .str()
            .map(|s| Value::Decimal(s.to_string()))
            .map_err(|e| unbindable(obj, position, e.to_string()));
    }
    if obj.is_instance(types.uuid.bind(py)).unwrap_or(false) {
        return obj
            .getattr(pyo3::intern!(py, "int"))
            .and_then(|i| i.extract::<u128>())
            .map(Value::Uuid)
            .map_err(|e| unbindable(obj, position, e.to_string()));
    }
    if obj.is_instance_of::<PyDict>() {
        return types
            .json_dumps
            .bind(py)
            .call1((obj,))
            .and_then(|text| text.extract::<String>())
            .map(Value::Json)
            .map_err(|e| unbindable(obj, position, format!("not JSON-serialisable: {e}")));
    }
    if obj.is_instance_of::<PyList>() || obj.is_instance_of::<PyTuple>() {
        let mut items = Vec::new();
        for item in obj
            .try_iter()
            .map_err(|e| unbindable(obj, position, e.to_string()))?
        {
            let item = item.map_err(|e| unbindable(obj, position, e.to_string()))?;
            items.push(value_from_py(&item, position)?);
        }
        return Ok(Value::List(items));
    }
    Err(unbindable(
        obj,
        position,
        "supported types are None, bool, int, float, str, bytes, Decimal, UUID, date, time, \
         datetime, timedelta, dict (JSON) and list/tuple (arrays)",
    ))
}

fn text_of(obj: &Bound<'_, PyAny>, position: usize) -> EngineResult<String> {
    obj.extract::<String>()
        .map_err(|e| unbindable(obj, position, e.to_string()))
}

/// The UTC offset in microseconds (Python allows sub-second offsets).
fn offset_micros(obj: &Bound<'_, PyAny>, position: usize) -> EngineResult<Option<i64>> {
    let offset = obj
        .call_method0(pyo3::intern!(obj.py(), "utcoffset"))
        .map_err(|e| unbindable(obj, position, e.to_string()))?;
    if offset.is_none() {
        return Ok(None);
    }
    let delta = offset
        .cast::<PyDelta>()
        .map_err(|e| unbindable(obj, position, e.to_string()))?;
    Ok(Some(
        (i64::from(delta.get_days()) * 86_400 + i64::from(delta.get_seconds())) * MICROS_PER_SECOND
            + i64::from(delta.get_microseconds()),
    ))
}

fn datetime_value(datetime: &Bound<'_, PyDateTime>, position: usize) -> EngineResult<Value> {
    let days = days_from_civil(
        datetime.get_year(),
        u32::from(datetime.get_month()),
        u32::from(datetime.get_day()),
    );
    let of_day = (i64::from(datetime.get_hour()) * 3600
        + i64::from(datetime.get_minute()) * 60
        + i64::from(datetime.get_second()))
        * MICROS_PER_SECOND
        + i64::from(datetime.get_microsecond());
    let local = days * MICROS_PER_DAY + of_day;
    let offset = if datetime.get_tzinfo().is_some() {
        offset_micros(datetime.as_any(), position)?
    } else {
        None
    };
    Ok(match offset {
        Some(offset) => Value::DateTime {
            micros: local - offset,
            aware: true,
        },
        None => Value::DateTime {
            micros: local,
            aware: false,
        },
    })
}

fn time_value(time: &Bound<'_, PyTime>, position: usize) -> EngineResult<Value> {
    let micros = (i64::from(time.get_hour()) * 3600
        + i64::from(time.get_minute()) * 60
        + i64::from(time.get_second()))
        * MICROS_PER_SECOND
        + i64::from(time.get_microsecond());
    let offset = match time.get_tzinfo() {
        Some(_) => offset_micros(time.as_any(), position)?,
        None => None,
    };
    let offset = match offset {
        None => None,
        // A time keeps its offset as written (timetz): whole seconds only, on both backends.
        Some(micros) if micros % MICROS_PER_SECOND == 0 => {
            Some((micros / MICROS_PER_SECOND) as i32)
        }
        Some(_) => {
            return Err(unbindable(
                time.as_any(),
                position,
                "a time's UTC offset must be whole seconds to be stored".to_owned(),
            ))
        }
    };
    Ok(Value::Time { micros, offset })
}
