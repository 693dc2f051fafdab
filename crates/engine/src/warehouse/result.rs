//! The one result type every warehouse returns: named, typed columns and
//! rows of values that keep decimals and timestamps exact.

use chrono::{NaiveDate, NaiveDateTime};
use rust_decimal::Decimal;
use serde::{Serialize, Serializer};

use crate::catalog::DimensionKind;
use crate::planner::{ColumnRole, OutputColumn};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnType {
    Integer,
    Decimal,
    Float,
    Text,
    Boolean,
    Date,
    Timestamp,
    /// Every value was NULL and the engine did not say more.
    Null,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Decimal(Decimal),
    Float(f64),
    Text(String),
    Bool(bool),
    Date(NaiveDate),
    Timestamp(NaiveDateTime),
}

impl Value {
    pub fn column_type(&self) -> ColumnType {
        match self {
            Value::Null => ColumnType::Null,
            Value::Int(_) => ColumnType::Integer,
            Value::Decimal(_) => ColumnType::Decimal,
            Value::Float(_) => ColumnType::Float,
            Value::Text(_) => ColumnType::Text,
            Value::Bool(_) => ColumnType::Boolean,
            Value::Date(_) => ColumnType::Date,
            Value::Timestamp(_) => ColumnType::Timestamp,
        }
    }

    /// The value as a number, for comparisons and tests.
    pub fn as_f64(&self) -> Option<f64> {
        use rust_decimal::prelude::ToPrimitive;
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Decimal(d) => d.to_f64(),
            Value::Float(f) => Some(*f),
            Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
            _ => None,
        }
    }

    /// Text form used by CSV and tables: decimals keep their digits,
    /// timestamps are ISO-8601 without a zone (they are UTC).
    pub fn to_text(&self) -> String {
        match self {
            Value::Null => String::new(),
            Value::Int(i) => i.to_string(),
            Value::Decimal(d) => d.normalize().to_string(),
            Value::Float(f) => format_float(*f),
            Value::Text(s) => s.clone(),
            Value::Bool(b) => b.to_string(),
            Value::Date(d) => d.format("%Y-%m-%d").to_string(),
            Value::Timestamp(t) => t.format("%Y-%m-%dT%H:%M:%S").to_string(),
        }
    }
}

fn format_float(f: f64) -> String {
    if f.is_finite() && f == f.trunc() && f.abs() < 1e15 {
        format!("{f:.1}")
    } else {
        f.to_string()
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => s.serialize_none(),
            Value::Int(i) => s.serialize_i64(*i),
            // Decimals travel as strings so no JSON parser rounds them.
            Value::Decimal(d) => s.serialize_str(&d.normalize().to_string()),
            Value::Float(f) if f.is_finite() => s.serialize_f64(*f),
            Value::Float(_) => s.serialize_none(),
            Value::Text(t) => s.serialize_str(t),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Date(_) | Value::Timestamp(_) => s.serialize_str(&self.to_text()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Column {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: ColumnType,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResultSet {
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<Value>>,
    /// True when more rows existed than were returned.
    pub truncated: bool,
}

/// Brings engine-specific representations to one meaning using what the
/// plan knows: SQLite and MySQL return booleans as integers and SQLite
/// returns times as text; counts come back as DECIMAL from MySQL's SUM.
/// The type a column has when no row says otherwise.
pub fn planned_type(role: &ColumnRole) -> ColumnType {
    match role {
        ColumnRole::Dimension {
            kind: DimensionKind::Time { .. },
            ..
        } => ColumnType::Timestamp,
        ColumnRole::Dimension {
            kind: DimensionKind::Boolean,
            ..
        } => ColumnType::Boolean,
        ColumnRole::Dimension {
            kind: DimensionKind::Number,
            ..
        } => ColumnType::Float,
        ColumnRole::Dimension { .. } => ColumnType::Text,
        ColumnRole::Metric { integer: true, .. } => ColumnType::Integer,
        ColumnRole::Metric { .. } => ColumnType::Float,
    }
}

pub fn normalize(rs: &mut ResultSet, plan_columns: &[OutputColumn]) {
    if rs.columns.is_empty() {
        rs.columns = plan_columns
            .iter()
            .map(|c| Column {
                name: c.name.clone(),
                ty: planned_type(&c.role),
            })
            .collect();
    }
    for (ci, col) in rs.columns.iter_mut().enumerate() {
        let role = plan_columns
            .iter()
            .find(|c| c.name == col.name)
            .map(|c| &c.role);
        let target = match role {
            Some(ColumnRole::Dimension {
                kind: DimensionKind::Time { .. },
                ..
            }) => Some(ColumnType::Timestamp),
            Some(ColumnRole::Dimension {
                kind: DimensionKind::Boolean,
                ..
            }) => Some(ColumnType::Boolean),
            Some(ColumnRole::Metric { integer: true, .. }) => Some(ColumnType::Integer),
            _ => None,
        };
        let Some(target) = target else { continue };
        let mut all_ok = true;
        for row in rs.rows.iter_mut() {
            let v = std::mem::replace(&mut row[ci], Value::Null);
            let converted = convert(v, target);
            all_ok &= converted.is_ok();
            row[ci] = match converted {
                Ok(x) | Err(x) => x,
            };
        }
        if all_ok {
            col.ty = target;
        }
    }
}

fn convert(v: Value, target: ColumnType) -> Result<Value, Value> {
    use rust_decimal::prelude::ToPrimitive;
    match (target, v) {
        (_, Value::Null) => Ok(Value::Null),
        (ColumnType::Timestamp, Value::Timestamp(t)) => Ok(Value::Timestamp(t)),
        (ColumnType::Timestamp, Value::Date(d)) => {
            Ok(Value::Timestamp(d.and_hms_opt(0, 0, 0).unwrap_or_default()))
        }
        (ColumnType::Timestamp, Value::Text(s)) => crate::sql::convert::parse_timestamp(&s)
            .map(Value::Timestamp)
            .ok_or(Value::Text(s)),
        (ColumnType::Boolean, Value::Bool(b)) => Ok(Value::Bool(b)),
        (ColumnType::Boolean, Value::Int(i)) if i == 0 || i == 1 => Ok(Value::Bool(i == 1)),
        (ColumnType::Integer, Value::Int(i)) => Ok(Value::Int(i)),
        (ColumnType::Integer, Value::Decimal(d)) if d.fract().is_zero() => {
            d.to_i64().map(Value::Int).ok_or(Value::Decimal(d))
        }
        (ColumnType::Integer, Value::Float(f)) if f.fract() == 0.0 && f.abs() < 9.0e15 => {
            Ok(Value::Int(f as i64))
        }
        (_, other) => Err(other),
    }
}
