//! accord values on the wire: type OIDs from result column types, and data
//! rows in text or binary format.

use std::str::FromStr;
use std::sync::Arc;

use pgwire::api::Type;
use pgwire::api::portal::Format;
use pgwire::api::results::{DataRowEncoder, FieldInfo};
use pgwire::error::PgWireResult;
use pgwire::messages::data::DataRow;
use rust_decimal::Decimal;
use rust_decimal::prelude::{FromPrimitive, ToPrimitive};

use crate::warehouse::{ColumnType, Value};

/// The PostgreSQL type of an accord result column.
pub fn pg_type(t: ColumnType) -> Type {
    match t {
        ColumnType::Integer => Type::INT8,
        ColumnType::Decimal => Type::NUMERIC,
        ColumnType::Float => Type::FLOAT8,
        ColumnType::Text | ColumnType::Null => Type::TEXT,
        ColumnType::Boolean => Type::BOOL,
        ColumnType::Date => Type::DATE,
        ColumnType::Timestamp => Type::TIMESTAMP,
    }
}

/// The accord column type a PostgreSQL type carries.
pub fn column_type(t: &Type) -> ColumnType {
    match *t {
        Type::INT2 | Type::INT4 | Type::INT8 | Type::OID => ColumnType::Integer,
        Type::NUMERIC => ColumnType::Decimal,
        Type::FLOAT4 | Type::FLOAT8 => ColumnType::Float,
        Type::BOOL => ColumnType::Boolean,
        Type::DATE => ColumnType::Date,
        Type::TIMESTAMP | Type::TIMESTAMPTZ => ColumnType::Timestamp,
        _ => ColumnType::Text,
    }
}

/// Result columns: names with their PostgreSQL types.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub name: String,
    pub ty: Type,
}

pub fn field_infos(fields: &[Field], format: &Format) -> Vec<FieldInfo> {
    fields
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let size = match f.ty {
                Type::INT8 | Type::FLOAT8 | Type::TIMESTAMP | Type::TIMESTAMPTZ => 8,
                Type::INT4 | Type::DATE | Type::OID | Type::FLOAT4 => 4,
                Type::INT2 => 2,
                Type::BOOL | Type::CHAR => 1,
                _ => -1,
            };
            FieldInfo::new(
                f.name.clone(),
                None,
                None,
                f.ty.clone(),
                format.format_for(i),
            )
            .with_type_size(size)
        })
        .collect()
}

fn to_decimal(v: &Value) -> Option<Decimal> {
    match v {
        Value::Int(i) => Some(Decimal::from(*i)),
        Value::Decimal(d) => Some(*d),
        // Shortest round-trip digits: the same number JSON shows.
        Value::Float(f) if f.is_finite() => Decimal::from_str(&f.to_string())
            .ok()
            .or_else(|| Decimal::from_f64(*f)),
        Value::Bool(b) => Some(Decimal::from(*b as i64)),
        Value::Text(s) => Decimal::from_str(s.trim()).ok(),
        _ => None,
    }
}

/// Encodes one row, converting each value to its column's declared type
/// (a column described before execution keeps the type it was described
/// with).
pub fn encode_row(
    encoder: &mut DataRowEncoder,
    fields: &[Field],
    row: &[Value],
) -> PgWireResult<DataRow> {
    for (f, v) in fields.iter().zip(row) {
        if matches!(v, Value::Null) {
            encoder.encode_field(&None::<i64>)?;
            continue;
        }
        match f.ty {
            Type::INT8 | Type::INT4 | Type::INT2 | Type::OID => {
                let x: Option<i64> = match v {
                    Value::Int(i) => Some(*i),
                    Value::Decimal(d) if d.fract().is_zero() => d.to_i64(),
                    Value::Float(x) if x.fract() == 0.0 && x.abs() < 9.0e15 => Some(*x as i64),
                    Value::Bool(b) => Some(*b as i64),
                    Value::Text(s) => s.trim().parse().ok(),
                    _ => None,
                };
                match f.ty {
                    Type::INT4 => encoder.encode_field(&x.and_then(|x| i32::try_from(x).ok()))?,
                    Type::INT2 => encoder.encode_field(&x.and_then(|x| i16::try_from(x).ok()))?,
                    Type::OID => encoder.encode_field(&x.and_then(|x| u32::try_from(x).ok()))?,
                    _ => encoder.encode_field(&x)?,
                }
            }
            Type::NUMERIC => encoder.encode_field(&to_decimal(v))?,
            Type::FLOAT8 | Type::FLOAT4 => {
                let x = match v {
                    Value::Float(x) => Some(*x),
                    other => other.as_f64(),
                };
                if f.ty == Type::FLOAT4 {
                    encoder.encode_field(&x.map(|x| x as f32))?
                } else {
                    encoder.encode_field(&x)?
                }
            }
            Type::BOOL => {
                let b = match v {
                    Value::Bool(b) => Some(*b),
                    Value::Int(i) => Some(*i != 0),
                    Value::Text(s) => match s.as_str() {
                        "t" | "true" | "1" => Some(true),
                        "f" | "false" | "0" => Some(false),
                        _ => None,
                    },
                    _ => None,
                };
                encoder.encode_field(&b)?
            }
            Type::TIMESTAMP | Type::TIMESTAMPTZ => {
                let t = match v {
                    Value::Timestamp(t) => Some(*t),
                    Value::Date(d) => d.and_hms_opt(0, 0, 0),
                    Value::Text(s) => crate::sql::convert::parse_timestamp(s),
                    _ => None,
                };
                encoder.encode_field(&t)?
            }
            Type::DATE => {
                let d = match v {
                    Value::Date(d) => Some(*d),
                    Value::Timestamp(t) => Some(t.date()),
                    _ => None,
                };
                encoder.encode_field(&d)?
            }
            _ => {
                let text = match v {
                    Value::Bool(b) => if *b { "t" } else { "f" }.to_string(),
                    Value::Timestamp(t) => t.format("%Y-%m-%d %H:%M:%S%.f").to_string(),
                    other => other.to_text(),
                };
                encoder.encode_field(&text)?
            }
        }
    }
    Ok(encoder.take_row())
}

pub fn encode_rows(
    fields: &[Field],
    infos: Arc<Vec<FieldInfo>>,
    rows: &[Vec<Value>],
) -> PgWireResult<Vec<DataRow>> {
    let mut encoder = DataRowEncoder::new(infos);
    rows.iter()
        .map(|r| encode_row(&mut encoder, fields, r))
        .collect()
}
