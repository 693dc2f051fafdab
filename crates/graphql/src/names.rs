//! How catalog names become GraphQL names.
//!
//! GraphQL names match `[_A-Za-z][_0-9A-Za-z]*` and those starting with `__`
//! are reserved for introspection. accord's model, metric and dimension
//! names are already plain identifiers, so most names pass through
//! unchanged; the rules below only fix the rest, always the same way, so a
//! dashboard's queries survive a reload:
//!
//! 1. A character outside `[_0-9A-Za-z]` becomes `_`; a leading digit gets a
//!    `_` in front.
//! 2. A name starting with `__` gets an `x` in front: `__secret` → `x__secret`.
//! 3. A name equal to a fixed name of the same scope gets a `_` appended:
//!    a model `metrics` is queried as `metrics_` (the root already has
//!    `metrics`, `dimensions`, `models` and `compile`); a metric or dimension
//!    field called `metricTime`, `and`, `or`, `true`, `false` or `null` gets
//!    the same treatment on its row type.
//! 4. If two names of one scope still map to the same GraphQL name, the one
//!    that comes later in the catalog gets `_2`, `_3`, ... appended.
//!
//! Fields of a model's row type: a metric keeps its name (`revenue`); a
//! dimension is `model__dimension` (`customers__country`), the same spelling
//! as the REST result column; `metricTime` is the metric's own time.
//! Type names are the model name in PascalCase plus a suffix:
//! `order_items` → `OrderItemsRow`, `OrderItemsWhere`, `OrderItemsField`,
//! `OrderItemsOrderBy` (a clash gets a number after the PascalCase part).
//!
//! The names are computed over the whole catalog, whoever asks, so every
//! caller sees a member under the same name.

use std::collections::HashSet;

/// Root fields that are not models.
pub const ROOT_RESERVED: &[&str] = &[
    "metrics",
    "dimensions",
    "models",
    "compile",
    "funnel",
    "retention",
    "analyses",
    "attributed",
];

/// Names a metric or dimension field cannot take on a row type (they are
/// fixed fields there, or in its `where` input, or cannot be enum values).
pub const ROW_RESERVED: &[&str] = &["metricTime", "and", "or", "true", "false", "null"];

/// Rules 1 and 2: any string as a valid, non-reserved GraphQL name.
pub fn sanitize(raw: &str) -> String {
    let mut s: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() {
        s.push('_');
    }
    if s.starts_with(|c: char| c.is_ascii_digit()) {
        s.insert(0, '_');
    }
    if s.starts_with("__") {
        s.insert(0, 'x');
    }
    s
}

/// Hands out unique names within one scope (rules 3 and 4).
#[derive(Debug, Default)]
pub struct Scope {
    reserved: HashSet<String>,
    taken: HashSet<String>,
}

impl Scope {
    pub fn new(reserved: &[&str]) -> Scope {
        Scope {
            reserved: reserved.iter().map(|s| s.to_string()).collect(),
            taken: HashSet::new(),
        }
    }

    /// The GraphQL name for `raw` in this scope.
    pub fn name(&mut self, raw: &str) -> String {
        let mut base = sanitize(raw);
        if self.reserved.contains(&base) {
            base.push('_');
        }
        let mut candidate = base.clone();
        let mut n = 2;
        while self.taken.contains(&candidate) || self.reserved.contains(&candidate) {
            candidate = format!("{base}_{n}");
            n += 1;
        }
        self.taken.insert(candidate.clone());
        candidate
    }
}

/// `order_items` → `OrderItems`.
pub fn pascal(raw: &str) -> String {
    let clean = sanitize(raw);
    let mut out = String::new();
    for part in clean.split('_').filter(|p| !p.is_empty()) {
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            out.push(first.to_ascii_uppercase());
            out.extend(chars);
        }
    }
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, 'M');
    }
    out
}

/// GraphQL names of the types generated for one model.
#[derive(Debug, Clone)]
pub struct ModelTypeNames {
    pub row: String,
    pub filter: String,
    pub field_enum: String,
    pub order_by: String,
}

/// Unique type-name prefixes for models, avoiding every fixed type name.
pub struct TypeScope {
    taken: HashSet<String>,
}

impl TypeScope {
    pub fn new(fixed: &[&str]) -> TypeScope {
        TypeScope {
            taken: fixed.iter().map(|s| s.to_string()).collect(),
        }
    }

    pub fn model(&mut self, raw: &str) -> ModelTypeNames {
        let base = pascal(raw);
        let mut prefix = base.clone();
        let mut n = 2;
        let names = |p: &str| ModelTypeNames {
            row: format!("{p}Row"),
            filter: format!("{p}Where"),
            field_enum: format!("{p}Field"),
            order_by: format!("{p}OrderBy"),
        };
        loop {
            let t = names(&prefix);
            let all = [&t.row, &t.filter, &t.field_enum, &t.order_by];
            if all.iter().all(|x| !self.taken.contains(*x)) {
                for x in all {
                    self.taken.insert(x.clone());
                }
                return t;
            }
            prefix = format!("{base}{n}");
            n += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitizes() {
        assert_eq!(sanitize("revenue"), "revenue");
        assert_eq!(sanitize("__secret"), "x__secret");
        assert_eq!(sanitize("9lives"), "_9lives");
        assert_eq!(sanitize("a-b"), "a_b");
    }

    #[test]
    fn scopes_are_predictable() {
        let mut s = Scope::new(ROOT_RESERVED);
        assert_eq!(s.name("orders"), "orders");
        assert_eq!(s.name("metrics"), "metrics_");
        assert_eq!(s.name("metrics_"), "metrics__2");
        let mut r = Scope::new(ROW_RESERVED);
        assert_eq!(r.name("and"), "and_");
        assert_eq!(r.name("x"), "x");
        assert_eq!(r.name("x"), "x_2");
    }

    #[test]
    fn type_names() {
        assert_eq!(pascal("order_items"), "OrderItems");
        assert_eq!(pascal("__x"), "XX");
        let mut t = TypeScope::new(&["Query"]);
        assert_eq!(t.model("order_items").row, "OrderItemsRow");
        assert_eq!(t.model("orderItems").row, "OrderItems2Row");
    }
}
