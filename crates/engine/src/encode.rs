//! Result encodings shared by the CLI and the HTTP API: CSV (RFC 4180) and
//! Arrow IPC streams (for pandas/polars).

use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, Float64Builder, Int64Builder, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, TimeUnit};

use crate::warehouse::{ColumnType, ResultSet, Value};

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// RFC 4180 CSV with a header row; NULL is an empty field.
pub fn csv(rs: &ResultSet) -> String {
    let mut out = String::new();
    let header: Vec<String> = rs.columns.iter().map(|c| csv_field(&c.name)).collect();
    out.push_str(&header.join(","));
    out.push_str("\r\n");
    for row in &rs.rows {
        let fields: Vec<String> = row.iter().map(|v| csv_field(&v.to_text())).collect();
        out.push_str(&fields.join(","));
        out.push_str("\r\n");
    }
    out
}

/// An Arrow IPC stream with one record batch. Decimals travel as text (no
/// precision is lost; pandas reads them as strings) — every other type maps
/// to its Arrow equivalent.
pub fn arrow_ipc(rs: &ResultSet) -> Result<Vec<u8>, String> {
    let mut fields = Vec::new();
    let mut arrays: Vec<ArrayRef> = Vec::new();
    for (i, c) in rs.columns.iter().enumerate() {
        let col = rs.rows.iter().map(|r| &r[i]);
        let (dt, array): (DataType, ArrayRef) = match c.ty {
            ColumnType::Integer => {
                let mut b = Int64Builder::new();
                for v in col {
                    match v {
                        Value::Int(x) => b.append_value(*x),
                        _ => b.append_null(),
                    }
                }
                (DataType::Int64, Arc::new(b.finish()))
            }
            ColumnType::Float => {
                let mut b = Float64Builder::new();
                for v in col {
                    match v.as_f64() {
                        Some(x) if !matches!(v, Value::Null) => b.append_value(x),
                        _ => b.append_null(),
                    }
                }
                (DataType::Float64, Arc::new(b.finish()))
            }
            ColumnType::Boolean => {
                let mut b = BooleanBuilder::new();
                for v in col {
                    match v {
                        Value::Bool(x) => b.append_value(*x),
                        _ => b.append_null(),
                    }
                }
                (DataType::Boolean, Arc::new(b.finish()))
            }
            ColumnType::Timestamp | ColumnType::Date => {
                let mut b = TimestampMicrosecondBuilder::new();
                for v in col {
                    match v {
                        Value::Timestamp(t) => b.append_value(t.and_utc().timestamp_micros()),
                        Value::Date(d) => b.append_value(
                            d.and_hms_opt(0, 0, 0)
                                .unwrap_or_default()
                                .and_utc()
                                .timestamp_micros(),
                        ),
                        _ => b.append_null(),
                    }
                }
                (
                    DataType::Timestamp(TimeUnit::Microsecond, None),
                    Arc::new(b.finish()),
                )
            }
            ColumnType::Decimal | ColumnType::Text | ColumnType::Null => {
                let mut b = StringBuilder::new();
                for v in col {
                    match v {
                        Value::Null => b.append_null(),
                        other => b.append_value(other.to_text()),
                    }
                }
                (DataType::Utf8, Arc::new(b.finish()))
            }
        };
        fields.push(Field::new(&c.name, dt, true));
        arrays.push(array);
    }
    let schema = Arc::new(Schema::new(fields));
    let batch = RecordBatch::try_new(schema.clone(), arrays).map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    {
        let mut w = arrow_ipc::writer::StreamWriter::try_new(&mut buf, &schema)
            .map_err(|e| e.to_string())?;
        w.write(&batch).map_err(|e| e.to_string())?;
        w.finish().map_err(|e| e.to_string())?;
    }
    Ok(buf)
}
