//! The typed filter tree: `and` / `or` / `not` over conditions whose values
//! are typed (string, decimal number, bool, date, timestamp, null). Every
//! interface builds it (REST sends it as JSON, GraphQL and the Postgres
//! endpoint translate into it) and the planner turns it into AST directly,
//! so no filter is ever SQL text that something parses again.
//!
//! JSON shape (one node):
//! `{"and": [node, …]}`, `{"or": [node, …]}`, `{"not": node}` or a condition
//! `{"dimension": "customers.country", "op": "in", "values": ["DE", "FR"]}`.
//! A value is a JSON scalar or `{"number": "12.50"}` (exact decimal text),
//! `{"date": "2025-01-31"}`, `{"timestamp": "2025-01-31 08:00:00"}`.

use std::cell::Cell;
use std::fmt;

use chrono::{NaiveDate, NaiveDateTime};
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::FilterOp;

/// Groups (`and` / `or` / `not`) nested deeper than this are refused with
/// `query_too_complex`. Kept below what serde_json's own recursion limit
/// (128 JSON levels, two per `or` group) lets through, so a deep request
/// gets this error and not a parse error.
pub const MAX_FILTER_DEPTH: usize = 60;
/// Nodes (groups and conditions) in one tree. Long flat lists are
/// legitimate (an `or` of 1,000 values); unbounded ones are not.
pub const MAX_FILTER_NODES: usize = 20_000;
/// Marks the deserialisation error of an oversized tree, so the HTTP layer
/// reports it as `query_too_complex` rather than a malformed body.
pub const TOO_COMPLEX_MARK: &str = "query_too_complex:";

/// A boolean combination of conditions on dimensions.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FilterTree {
    And(Vec<FilterTree>),
    Or(Vec<FilterTree>),
    Not(Box<FilterTree>),
    #[serde(untagged)]
    Condition(Condition),
}

/// One test of a dimension: the tree's leaf, the same shape as a flat
/// `filters` entry but with typed values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    pub dimension: String,
    pub op: FilterOp,
    #[serde(default)]
    pub values: Vec<FilterValue>,
}

/// A typed filter value. Numbers are decimal text, never a float.
#[derive(Debug, Clone, PartialEq)]
pub enum FilterValue {
    Null,
    Bool(bool),
    /// Plain decimal notation, checked by [`FilterValue::number`].
    Number(String),
    String(String),
    Date(NaiveDate),
    Timestamp(NaiveDateTime),
}

/// Why a tree is refused before planning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TooComplex(pub String);

impl FilterTree {
    /// Conditions ANDed (a flat list is a special case of the tree).
    pub fn all(items: Vec<FilterTree>) -> FilterTree {
        match <[FilterTree; 1]>::try_from(items) {
            Ok([one]) => one,
            Err(items) => FilterTree::And(items),
        }
    }

    /// Every condition, depth first (iterative: the tree may be wide).
    pub fn conditions(&self) -> Vec<&Condition> {
        let mut out = Vec::new();
        let mut stack = vec![self];
        while let Some(n) = stack.pop() {
            match n {
                FilterTree::And(v) | FilterTree::Or(v) => stack.extend(v.iter().rev()),
                FilterTree::Not(inner) => stack.push(inner),
                FilterTree::Condition(c) => out.push(c),
            }
        }
        out
    }

    /// Checks depth and size; trees built in code (not deserialised) pass
    /// here before planning.
    pub fn check_limits(&self) -> Result<(), TooComplex> {
        let mut nodes = 0usize;
        let mut stack = vec![(self, 0usize)];
        while let Some((n, depth)) = stack.pop() {
            nodes += 1;
            if nodes > MAX_FILTER_NODES {
                return Err(too_many_nodes());
            }
            let depth = match n {
                FilterTree::Condition(_) => continue,
                _ => depth + 1,
            };
            if depth > MAX_FILTER_DEPTH {
                return Err(too_deep());
            }
            match n {
                FilterTree::And(v) | FilterTree::Or(v) => {
                    stack.extend(v.iter().map(|c| (c, depth)));
                }
                FilterTree::Not(inner) => stack.push((inner, depth)),
                FilterTree::Condition(_) => {}
            }
        }
        Ok(())
    }
}

fn too_deep() -> TooComplex {
    TooComplex(format!(
        "the filter nests more than {MAX_FILTER_DEPTH} groups (and/or/not); write long lists flat"
    ))
}

fn too_many_nodes() -> TooComplex {
    TooComplex(format!(
        "the filter has more than {MAX_FILTER_NODES} conditions and groups"
    ))
}

impl FilterValue {
    /// A number from its text: an optional sign, digits with at most one
    /// `.`, an optional exponent. Nothing else can reach SQL as a number.
    pub fn number(text: &str) -> Option<FilterValue> {
        is_decimal(text.trim()).then(|| FilterValue::Number(text.trim().to_string()))
    }
}

/// `-12.5`, `3`, `1e9`, `.5`: the numbers SQL reads the same everywhere.
pub fn is_decimal(t: &str) -> bool {
    let t = t.strip_prefix(['-', '+']).unwrap_or(t);
    let (mantissa, exponent) = match t.find(['e', 'E']) {
        Some(i) => (&t[..i], Some(&t[i + 1..])),
        None => (t, None),
    };
    let digits = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    let mantissa_ok = match mantissa.split_once('.') {
        Some((a, b)) => {
            (a.is_empty() || digits(a))
                && (b.is_empty() || digits(b))
                && !(a.is_empty() && b.is_empty())
        }
        None => digits(mantissa),
    };
    let exponent_ok = exponent.is_none_or(|e| digits(e.strip_prefix(['-', '+']).unwrap_or(e)));
    mantissa_ok && exponent_ok
}

impl fmt::Display for FilterValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FilterValue::Null => f.write_str("null"),
            FilterValue::Bool(b) => write!(f, "{b}"),
            FilterValue::Number(n) => f.write_str(n),
            FilterValue::String(s) => write!(f, "{s:?}"),
            FilterValue::Date(d) => write!(f, "date {d}"),
            FilterValue::Timestamp(t) => write!(f, "timestamp {t}"),
        }
    }
}

impl FilterValue {
    /// A flat filter's JSON value (scalars, or the typed objects).
    pub fn from_json(v: &serde_json::Value) -> Result<FilterValue, String> {
        FilterValue::deserialize(v).map_err(|e| e.to_string())
    }
}

// ---------------------------------------------------------------------------
// Serialisation: scalars as JSON scalars; a number as a JSON number only
// when that reads back as the same text, so distinct values never share a
// form (the plan cache keys on this serialisation).

impl Serialize for FilterValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let tagged = |s: S, k: &str, v: String| {
            let mut m = s.serialize_map(Some(1))?;
            m.serialize_entry(k, &v)?;
            m.end()
        };
        match self {
            FilterValue::Null => s.serialize_unit(),
            FilterValue::Bool(b) => s.serialize_bool(*b),
            FilterValue::String(t) => s.serialize_str(t),
            FilterValue::Number(n) => match n.parse::<serde_json::Number>() {
                Ok(j) if j.to_string() == *n => j.serialize(s),
                _ => tagged(s, "number", n.clone()),
            },
            FilterValue::Date(d) => tagged(s, "date", d.format("%Y-%m-%d").to_string()),
            FilterValue::Timestamp(t) => {
                tagged(s, "timestamp", t.format("%Y-%m-%d %H:%M:%S%.f").to_string())
            }
        }
    }
}

impl<'de> Deserialize<'de> for FilterValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = FilterValue;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(
            "a string, number, boolean, null, or {\"number\"|\"date\"|\"timestamp\": \"…\"}",
        )
    }
    fn visit_unit<E: de::Error>(self) -> Result<FilterValue, E> {
        Ok(FilterValue::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<FilterValue, E> {
        Ok(FilterValue::Null)
    }
    fn visit_bool<E: de::Error>(self, b: bool) -> Result<FilterValue, E> {
        Ok(FilterValue::Bool(b))
    }
    fn visit_i64<E: de::Error>(self, n: i64) -> Result<FilterValue, E> {
        Ok(FilterValue::Number(n.to_string()))
    }
    fn visit_u64<E: de::Error>(self, n: u64) -> Result<FilterValue, E> {
        Ok(FilterValue::Number(n.to_string()))
    }
    fn visit_f64<E: de::Error>(self, n: f64) -> Result<FilterValue, E> {
        serde_json::Number::from_f64(n)
            .map(|j| FilterValue::Number(j.to_string()))
            .ok_or_else(|| E::custom("a number must be finite"))
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<FilterValue, E> {
        Ok(FilterValue::String(s.to_string()))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<FilterValue, A::Error> {
        let Some(key) = map.next_key::<String>()? else {
            return Err(de::Error::custom("an empty object is not a filter value"));
        };
        let text: String = map.next_value()?;
        if map.next_key::<String>()?.is_some() {
            return Err(de::Error::custom("a typed value has exactly one key"));
        }
        let bad = |what: &str| de::Error::custom(format!("`{text}` is not a {what}"));
        match key.as_str() {
            "number" => FilterValue::number(&text).ok_or_else(|| bad("decimal number")),
            "date" => NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
                .map(FilterValue::Date)
                .map_err(|_| bad("date (YYYY-MM-DD)")),
            "timestamp" => crate::sql::convert::parse_timestamp(&text)
                .map(FilterValue::Timestamp)
                .ok_or_else(|| bad("timestamp (YYYY-MM-DD HH:MM:SS)")),
            other => Err(de::Error::unknown_field(
                other,
                &["number", "date", "timestamp"],
            )),
        }
    }
}

// ---------------------------------------------------------------------------
// Deserialisation with the limits applied while reading, so an oversized
// tree is refused before it exists.

impl<'de> Deserialize<'de> for FilterTree {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let nodes = Cell::new(0);
        NodeSeed {
            depth: 0,
            nodes: &nodes,
        }
        .deserialize(d)
    }
}

/// One node; `depth` counts the groups around it.
#[derive(Clone, Copy)]
struct NodeSeed<'a> {
    depth: usize,
    nodes: &'a Cell<usize>,
}

impl NodeSeed<'_> {
    fn count<E: de::Error>(&self) -> Result<(), E> {
        self.nodes.set(self.nodes.get() + 1);
        if self.nodes.get() > MAX_FILTER_NODES {
            return Err(E::custom(format!(
                "{TOO_COMPLEX_MARK} {}",
                too_many_nodes().0
            )));
        }
        Ok(())
    }

    /// The seed for a group's children (the group is one level deeper).
    fn inner<E: de::Error>(&self) -> Result<Self, E> {
        if self.depth + 1 > MAX_FILTER_DEPTH {
            return Err(E::custom(format!("{TOO_COMPLEX_MARK} {}", too_deep().0)));
        }
        Ok(NodeSeed {
            depth: self.depth + 1,
            nodes: self.nodes,
        })
    }
}

impl<'de> DeserializeSeed<'de> for NodeSeed<'_> {
    type Value = FilterTree;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<FilterTree, D::Error> {
        d.deserialize_map(self)
    }
}

const NODE_KEYS: &[&str] = &["and", "or", "not", "dimension", "op", "values"];

impl<'de> Visitor<'de> for NodeSeed<'_> {
    type Value = FilterTree;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(
            "{\"and\": […]}, {\"or\": […]}, {\"not\": {…}} or {\"dimension\", \"op\", \"values\"}",
        )
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<FilterTree, A::Error> {
        self.count()?;
        let mut group: Option<FilterTree> = None;
        let (mut dimension, mut op, mut values) = (None, None, None);
        while let Some(key) = map.next_key::<String>()? {
            let is_group = matches!(key.as_str(), "and" | "or" | "not");
            if (is_group && (group.is_some() || dimension.is_some() || op.is_some()))
                || (!is_group && group.is_some())
            {
                return Err(de::Error::custom(
                    "a filter node is exactly one of {\"and\": …}, {\"or\": …}, {\"not\": …} or a condition",
                ));
            }
            match key.as_str() {
                "and" => {
                    group = Some(FilterTree::And(
                        map.next_value_seed(ListSeed(self.inner()?))?,
                    ))
                }
                "or" => {
                    group = Some(FilterTree::Or(
                        map.next_value_seed(ListSeed(self.inner()?))?,
                    ))
                }
                "not" => {
                    group = Some(FilterTree::Not(Box::new(
                        map.next_value_seed(self.inner()?)?,
                    )))
                }
                "dimension" => dimension = Some(map.next_value::<String>()?),
                "op" => op = Some(map.next_value::<FilterOp>()?),
                "values" => values = Some(map.next_value::<Vec<FilterValue>>()?),
                other => return Err(de::Error::unknown_field(other, NODE_KEYS)),
            }
        }
        if let Some(g) = group {
            return Ok(g);
        }
        Ok(FilterTree::Condition(Condition {
            dimension: dimension.ok_or_else(|| de::Error::missing_field("dimension"))?,
            op: op.ok_or_else(|| de::Error::missing_field("op"))?,
            values: values.unwrap_or_default(),
        }))
    }
}

/// The children of an `and` / `or`.
struct ListSeed<'a>(NodeSeed<'a>);

impl<'de> DeserializeSeed<'de> for ListSeed<'_> {
    type Value = Vec<FilterTree>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<FilterTree>, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ListSeed<'_> {
    type Value = Vec<FilterTree>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a non-empty list of filter nodes")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<FilterTree>, A::Error> {
        let mut out = Vec::new();
        while let Some(n) = seq.next_element_seed(self.0)? {
            out.push(n);
        }
        if out.is_empty() {
            return Err(de::Error::custom("`and` / `or` need at least one node"));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tree(v: serde_json::Value) -> Result<FilterTree, String> {
        serde_json::from_value(v).map_err(|e| e.to_string())
    }

    #[test]
    fn reads_and_writes_the_json_shape() {
        let v = json!({"or": [
            {"dimension": "customers.country", "op": "eq", "values": ["DE"]},
            {"not": {"dimension": "orders.amount", "op": "gt", "values": [{"number": "12.50"}, 3]}},
            {"and": [{"dimension": "orders.ordered_at", "op": "gte", "values": [{"date": "2025-01-31"}]}]}
        ]});
        let t = tree(v.clone()).unwrap();
        let FilterTree::Or(items) = &t else { panic!() };
        assert_eq!(items.len(), 3);
        assert_eq!(t.conditions().len(), 3);
        let back = serde_json::to_value(&t).unwrap();
        assert_eq!(tree(back).unwrap(), t);
        assert_eq!(
            serde_json::to_value(FilterValue::Number("12.50".into())).unwrap(),
            json!({"number": "12.50"})
        );
        assert_eq!(
            serde_json::to_value(FilterValue::Number("3".into())).unwrap(),
            json!(3)
        );
    }

    #[test]
    fn refuses_mixed_or_unknown_nodes() {
        assert!(tree(json!({"or": [], "dimension": "a"})).is_err());
        assert!(tree(json!({"or": []})).is_err());
        assert!(tree(json!({"dimension": "a", "op": "eq", "values": [1], "x": 1})).is_err());
        assert!(
            tree(json!({"dimension": "a", "op": "eq", "values": [{"number": "1; drop"}]})).is_err()
        );
        assert!(tree(json!({"dimension": "a", "op": "eq", "values": [[1]]})).is_err());
    }

    #[test]
    fn bounds_depth_not_width() {
        let leaf = json!({"dimension": "a", "op": "eq", "values": [1]});
        let wide = json!({"or": vec![leaf.clone(); 5000]});
        assert!(tree(wide).is_ok());
        let mut deep = leaf.clone();
        for _ in 0..MAX_FILTER_DEPTH {
            deep = json!({"not": deep});
        }
        assert!(tree(deep.clone()).unwrap().check_limits().is_ok());
        let err = tree(json!({"not": deep})).unwrap_err();
        assert!(err.contains(TOO_COMPLEX_MARK), "{err}");
    }

    #[test]
    fn decimal_text() {
        for ok in ["1", "-1", "+2", "1.5", ".5", "5.", "1e9", "-2.5E-3"] {
            assert!(is_decimal(ok), "{ok}");
        }
        for bad in [
            "", "-", ".", "1..2", "1e", "NaN", "inf", "0x10", "1 OR 1=1", "--1", "1e+-2",
        ] {
            assert!(!is_decimal(bad), "{bad}");
        }
    }
}
