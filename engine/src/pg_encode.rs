//! Encoding owned `Value`s in PostgreSQL's binary format, driven by the parameter type the
//! server inferred when the statement was prepared. Runs without the GIL.

use std::error::Error;
use std::fmt;

use bytes::{BufMut, BytesMut};
use postgres_protocol::types as wire;
use postgres_types::{IsNull, Kind, ToSql, Type};

use crate::calendar::{MICROS_PER_DAY, PG_EPOCH_DAYS};
use crate::numeric;
use crate::value::Value;

const PG_EPOCH_MICROS: i64 = PG_EPOCH_DAYS * MICROS_PER_DAY;

/// A parameter together with its 1-based position, so encoding errors can name it.
#[derive(Debug)]
pub struct Param<'a> {
    pub value: &'a Value,
    pub position: usize,
}

/// Why a value could not be encoded for its parameter's type.
#[derive(Debug)]
pub struct BindError {
    pub position: usize,
    pub python_type: &'static str,
    pub reason: String,
    /// The type is right but the value does not fit it (a DataError, 22003, as on the server).
    pub out_of_range: bool,
}

/// An encoding failure: the wrong kind of value, or a value too large for its type.
#[derive(Debug)]
pub enum EncodeError {
    Mismatch(String),
    OutOfRange(String),
}

impl From<String> for EncodeError {
    fn from(reason: String) -> Self {
        EncodeError::Mismatch(reason)
    }
}

impl fmt::Display for BindError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "parameter {}: {}", self.position, self.reason)
    }
}

impl Error for BindError {}

type EncodeResult = Result<IsNull, Box<dyn Error + Sync + Send>>;

impl ToSql for Param<'_> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> EncodeResult {
        encode(self.value, ty, out).map_err(|failure| {
            let (reason, out_of_range) = match failure {
                EncodeError::Mismatch(reason) => (reason, false),
                EncodeError::OutOfRange(reason) => (reason, true),
            };
            Box::new(BindError {
                position: self.position,
                python_type: self.value.python_type(),
                reason,
                out_of_range,
            }) as Box<dyn Error + Sync + Send>
        })
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    postgres_types::to_sql_checked!();
}

fn mismatch(value: &Value, ty: &Type) -> String {
    let hint = if matches!(*ty, Type::TEXT | Type::UNKNOWN) {
        " (PostgreSQL inferred text for this placeholder: cast it in SQL, for example $1::bigint, or pass a str)"
    } else {
        ""
    };
    format!(
        "a Python {} cannot be sent as PostgreSQL type {}{hint}",
        value.python_type(),
        ty.name()
    )
}

fn out_of_range(value: &Value, ty: &Type) -> EncodeError {
    let shown = match value {
        Value::Int(i) => i.to_string(),
        Value::BigInt(text) | Value::Decimal(text) => text.clone(),
        other => format!("{other:?}"),
    };
    EncodeError::OutOfRange(format!(
        "value {shown} is out of range for type {}",
        ty.name()
    ))
}

fn encode(value: &Value, ty: &Type, out: &mut BytesMut) -> Result<IsNull, EncodeError> {
    if let Value::Null = value {
        return Ok(IsNull::Yes);
    }
    match *ty {
        Type::BOOL => match value {
            Value::Bool(b) => wire::bool_to_sql(*b, out),
            _ => return Err(mismatch(value, ty).into()),
        },
        Type::INT2 => {
            let i = integer(value, ty)?;
            let narrow = i16::try_from(i).map_err(|_| out_of_range(value, ty))?;
            wire::int2_to_sql(narrow, out);
        }
        Type::INT4 => {
            let i = integer(value, ty)?;
            let narrow = i32::try_from(i).map_err(|_| out_of_range(value, ty))?;
            wire::int4_to_sql(narrow, out);
        }
        Type::INT8 => wire::int8_to_sql(integer(value, ty)?, out),
        Type::OID => {
            let i = integer(value, ty)?;
            wire::oid_to_sql(u32::try_from(i).map_err(|_| out_of_range(value, ty))?, out);
        }
        Type::FLOAT4 => wire::float4_to_sql(float(value, ty)? as f32, out),
        Type::FLOAT8 => wire::float8_to_sql(float(value, ty)?, out),
        Type::NUMERIC => {
            let text = match value {
                Value::Decimal(text) | Value::BigInt(text) => text.clone(),
                Value::Int(i) => i.to_string(),
                Value::Float(f) if f.is_nan() => "NaN".to_owned(),
                Value::Float(f) if f.is_infinite() => {
                    if *f > 0.0 { "Infinity" } else { "-Infinity" }.to_owned()
                }
                Value::Float(f) => f.to_string(),
                _ => return Err(mismatch(value, ty).into()),
            };
            out.put_slice(&numeric::encode(&text).map_err(|e| e.to_string())?);
        }
        Type::BYTEA => match value {
            Value::Bytes(bytes) => out.put_slice(bytes),
            _ => return Err(mismatch(value, ty).into()),
        },
        Type::UUID => {
            let uuid = match value {
                Value::Uuid(u) => *u,
                Value::Text(text) => {
                    parse_uuid(text).ok_or_else(|| format!("{text:?} is not a UUID"))?
                }
                _ => return Err(mismatch(value, ty).into()),
            };
            out.put_slice(&uuid.to_be_bytes());
        }
        Type::DATE => match value {
            Value::Date(days) => {
                let pg_days =
                    i32::try_from(days - PG_EPOCH_DAYS).map_err(|_| out_of_range(value, ty))?;
                wire::date_to_sql(pg_days, out);
            }
            _ => return Err(mismatch(value, ty).into()),
        },
        Type::TIME => match value {
            Value::Time { micros, .. } => wire::time_to_sql(*micros, out),
            _ => return Err(mismatch(value, ty).into()),
        },
        Type::TIMETZ => match value {
            Value::Time { micros, offset } => {
                out.put_i64(*micros);
                // PostgreSQL stores the zone as seconds west of UTC.
                out.put_i32(-offset.unwrap_or(0));
            }
            _ => return Err(mismatch(value, ty).into()),
        },
        Type::TIMESTAMP | Type::TIMESTAMPTZ => match value {
            Value::DateTime { micros, .. } => wire::timestamp_to_sql(micros - PG_EPOCH_MICROS, out),
            _ => return Err(mismatch(value, ty).into()),
        },
        Type::INTERVAL => match value {
            Value::Interval { days, micros } => {
                out.put_i64(*micros);
                out.put_i32(i32::try_from(*days).map_err(|_| out_of_range(value, ty))?);
                out.put_i32(0);
            }
            _ => return Err(mismatch(value, ty).into()),
        },
        Type::JSON => out.put_slice(json_text(value)?.as_bytes()),
        Type::JSONB => {
            out.put_u8(1);
            out.put_slice(json_text(value)?.as_bytes());
        }
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => {
            text_value(value, ty, out)?
        }
        Type::CHAR => match value {
            Value::Text(text) if text.len() == 1 => out.put_u8(text.as_bytes()[0]),
            _ => return Err(mismatch(value, ty).into()),
        },
        _ => match ty.kind() {
            Kind::Array(member) => return encode_array(value, ty, member, out),
            Kind::Domain(base) => return encode(value, base, out),
            // Enums and extension text types (citext) travel as their text.
            Kind::Enum(_) => text_value(value, ty, out)?,
            Kind::Simple if ty.name() == "citext" => text_value(value, ty, out)?,
            _ => {
                return Err(format!(
                    "PostgreSQL type {} is not supported for parameters; cast the parameter in SQL \
                     (for example $n::text)",
                    ty.name()
                )
                .into())
            }
        },
    }
    Ok(IsNull::No)
}

fn integer(value: &Value, ty: &Type) -> Result<i64, EncodeError> {
    match value {
        Value::Int(i) => Ok(*i),
        Value::BigInt(_) => Err(out_of_range(value, ty)),
        _ => Err(mismatch(value, ty).into()),
    }
}

fn float(value: &Value, ty: &Type) -> Result<f64, String> {
    match value {
        Value::Float(f) => Ok(*f),
        Value::Int(i) => Ok(*i as f64),
        Value::Decimal(text) | Value::BigInt(text) => text
            .parse::<f64>()
            .map_err(|_| format!("{text} cannot be sent as {}", ty.name())),
        _ => Err(mismatch(value, ty)),
    }
}

fn text_value(value: &Value, ty: &Type, out: &mut BytesMut) -> Result<(), String> {
    match value {
        Value::Text(text) => {
            out.put_slice(text.as_bytes());
            Ok(())
        }
        _ => Err(mismatch(value, ty)),
    }
}

/// A `str` is JSON text already (as asyncpg and SQLite's JSON columns take it); dicts, lists
/// and other scalars are serialised.
fn json_text(value: &Value) -> Result<String, String> {
    match value {
        Value::Json(text) | Value::Text(text) => Ok(text.clone()),
        other => other.to_json_text(),
    }
}

fn encode_array(
    value: &Value,
    ty: &Type,
    member: &Type,
    out: &mut BytesMut,
) -> Result<IsNull, EncodeError> {
    let Value::List(items) = value else {
        return Err(mismatch(value, ty).into());
    };
    let nested = !matches!(*member, Type::JSON | Type::JSONB);
    let mut dimensions = Vec::new();
    let mut level: &[Value] = items;
    loop {
        dimensions.push(level.len());
        match level.first() {
            Some(Value::List(inner)) if nested => level = inner,
            _ => break,
        }
    }
    let mut flat = Vec::new();
    flatten(items, &dimensions, nested, &mut flat)?;
    let dims = dimensions.iter().map(|len| {
        Ok(wire::ArrayDimension {
            len: i32::try_from(*len).map_err(|_| "array too long".to_owned())?,
            lower_bound: 1,
        })
    });
    let dims: Vec<wire::ArrayDimension> = dims.collect::<Result<_, String>>()?;
    let mut failure = None;
    wire::array_to_sql(
        dims,
        member.oid(),
        flat.iter(),
        |item, buf| match encode(item, member, buf) {
            Ok(IsNull::Yes) => Ok(postgres_protocol::IsNull::Yes),
            Ok(IsNull::No) => Ok(postgres_protocol::IsNull::No),
            Err(reason) => {
                failure = Some(reason);
                Err("an array element cannot be encoded".into())
            }
        },
        out,
    )
    .map_err(|e| failure.unwrap_or_else(|| EncodeError::Mismatch(e.to_string())))?;
    Ok(IsNull::No)
}

fn flatten<'v>(
    items: &'v [Value],
    dims: &[usize],
    nested: bool,
    flat: &mut Vec<&'v Value>,
) -> Result<(), String> {
    if items.len() != dims[0] {
        return Err("multi-dimensional arrays must be rectangular".to_owned());
    }
    if dims.len() == 1 {
        if nested && items.iter().any(|item| matches!(item, Value::List(_))) {
            return Err("multi-dimensional arrays must be rectangular".to_owned());
        }
        flat.extend(items.iter());
        return Ok(());
    }
    for item in items {
        match item {
            Value::List(inner) => flatten(inner, &dims[1..], nested, flat)?,
            _ => return Err("multi-dimensional arrays must be rectangular".to_owned()),
        }
    }
    Ok(())
}

/// Parse the text forms `uuid.UUID` accepts: hex with or without hyphens, braces or urn prefix.
pub fn parse_uuid(text: &str) -> Option<u128> {
    let trimmed = text.trim().trim_start_matches("urn:uuid:");
    let trimmed = trimmed.trim_start_matches('{').trim_end_matches('}');
    let hex: String = trimmed.chars().filter(|c| *c != '-').collect();
    if hex.len() != 32 {
        return None;
    }
    u128::from_str_radix(&hex, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_text_forms() {
        let expected = 0x12345678_1234_5678_1234_567812345678u128;
        assert_eq!(
            parse_uuid("12345678-1234-5678-1234-567812345678"),
            Some(expected)
        );
        assert_eq!(
            parse_uuid("{12345678123456781234567812345678}"),
            Some(expected)
        );
        assert_eq!(
            parse_uuid("urn:uuid:12345678-1234-5678-1234-567812345678"),
            Some(expected)
        );
        assert_eq!(parse_uuid("not-a-uuid"), None);
    }

    #[test]
    fn int4_range_is_checked() {
        let mut out = BytesMut::new();
        let err = encode(&Value::Int(1 << 40), &Type::INT4, &mut out)
            .err()
            .expect("refused");
        assert!(
            matches!(&err, EncodeError::OutOfRange(reason) if reason.contains("out of range")),
            "{err:?}"
        );
    }

    #[test]
    fn ragged_arrays_are_refused() {
        let ragged = Value::List(vec![
            Value::List(vec![Value::Int(1)]),
            Value::List(vec![Value::Int(1), Value::Int(2)]),
        ]);
        let mut out = BytesMut::new();
        let err = encode(&ragged, &Type::INT4_ARRAY, &mut out)
            .err()
            .expect("refused");
        assert!(format!("{err:?}").contains("rectangular"), "{err:?}");
    }
}
