//! How a section describes an item once: a list of named fields, each with
//! a rule saying what a change of it means. [`compare`] turns two such
//! lists into classified details, so most sections need no comparison code.

use super::change::{Class, Detail};

/// What a change of one field means.
#[derive(Debug, Clone, Copy)]
pub enum Rule {
    /// Descriptions, owners, labels.
    Info,
    /// What is computed: any change breaks consumers.
    Breaking,
    /// The field restricts access while present (a suppression list, a
    /// blocked identifier, a consent subject): removing it widens access,
    /// adding it narrows (breaking), changing it is not provably narrowing.
    Restricts,
    /// The field grants access while present (a purpose, an identity link):
    /// adding it widens access, removing it narrows, changing it widens.
    Grants,
    /// A number where more means more access (a link limit): raising or
    /// removing it widens, lowering or adding it narrows.
    AtMost,
    /// A number where more means less access (`min_group_size`): lowering or
    /// removing it widens, raising or adding it narrows.
    AtLeast,
    /// The section's own test of `(before, after)`.
    Custom(fn(Option<&str>, Option<&str>) -> Class),
}

impl Rule {
    pub fn class(self, before: Option<&str>, after: Option<&str>) -> Class {
        use Class::*;
        let num = |v: Option<&str>| v.and_then(|s| s.parse::<f64>().ok());
        match self {
            Rule::Info => NonBreaking,
            Rule::Breaking => Breaking,
            Rule::Restricts => match (before, after) {
                (None, Some(_)) => Breaking,
                _ => WideningAccess,
            },
            Rule::Grants => match (before, after) {
                (Some(_), None) => Breaking,
                _ => WideningAccess,
            },
            Rule::AtMost => match (num(before), num(after)) {
                (Some(b), Some(a)) if a < b => Breaking,
                (None, Some(_)) => Breaking,
                _ => WideningAccess,
            },
            Rule::AtLeast => match (num(before), num(after)) {
                (Some(b), Some(a)) if a > b => Breaking,
                (None, Some(_)) => Breaking,
                _ => WideningAccess,
            },
            Rule::Custom(f) => f(before, after),
        }
    }
}

/// One comparable field of an item: its name (unique within the item), its
/// value as shown in reports (`None`: absent) and its rule.
#[derive(Debug, Clone)]
pub struct Field {
    pub name: String,
    pub value: Option<String>,
    pub rule: Rule,
}

/// Builds an item's field list.
#[derive(Debug, Default)]
pub struct Fields(pub Vec<Field>);

impl Fields {
    pub fn new() -> Fields {
        Fields(Vec::new())
    }

    pub fn add(&mut self, name: impl Into<String>, value: Option<String>, rule: Rule) -> &mut Self {
        self.0.push(Field {
            name: name.into(),
            value,
            rule,
        });
        self
    }

    pub fn info(&mut self, name: &str, value: &Option<String>) -> &mut Self {
        self.add(name, value.clone(), Rule::Info)
    }

    pub fn breaking(&mut self, name: &str, value: impl ToString) -> &mut Self {
        self.add(name, Some(value.to_string()), Rule::Breaking)
    }

    /// One field per member of a set (`blocked value 'x'`), present or
    /// absent, so each addition or removal is its own detail.
    pub fn set<'a>(
        &mut self,
        prefix: &str,
        members: impl IntoIterator<Item = &'a String>,
        rule: Rule,
    ) -> &mut Self {
        for m in members {
            self.add(format!("{prefix} {m}"), Some("yes".into()), rule);
        }
        self
    }
}

/// Every field whose value differs between `base` and `head`, in BASE's
/// order then HEAD's new fields, classified by the field's rule (HEAD's,
/// else BASE's).
pub fn compare(base: &[Field], head: &[Field]) -> Vec<Detail> {
    let mut out = Vec::new();
    let find = |list: &[Field], name: &str| list.iter().position(|f| f.name == name);
    for b in base {
        let h = find(head, &b.name).map(|i| &head[i]);
        let after = h.and_then(|h| h.value.clone());
        if b.value == after {
            continue;
        }
        let rule = h.map_or(b.rule, |h| h.rule);
        let class = rule.class(b.value.as_deref(), after.as_deref());
        out.push(Detail::classed(&b.name, b.value.clone(), after, class));
    }
    for h in head.iter().filter(|h| find(base, &h.name).is_none()) {
        if h.value.is_none() {
            continue;
        }
        let class = h.rule.class(None, h.value.as_deref());
        out.push(Detail::classed(&h.name, None, h.value.clone(), class));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(rule: Rule, before: Option<&str>, after: Option<&str>) -> Class {
        let mut b = Fields::new();
        b.add("f", before.map(str::to_string), rule);
        let mut h = Fields::new();
        h.add("f", after.map(str::to_string), rule);
        compare(&b.0, &h.0)[0].class
    }

    #[test]
    fn rules_classify_each_direction() {
        use Class::*;
        let cases: &[(Rule, Option<&str>, Option<&str>, Class)] = &[
            (Rule::Info, Some("a"), Some("b"), NonBreaking),
            (Rule::Breaking, Some("a"), None, Breaking),
            (Rule::Restricts, Some("a"), None, WideningAccess),
            (Rule::Restricts, None, Some("a"), Breaking),
            (Rule::Restricts, Some("a"), Some("b"), WideningAccess),
            (Rule::Grants, None, Some("a"), WideningAccess),
            (Rule::Grants, Some("a"), None, Breaking),
            (Rule::AtMost, Some("1"), Some("2"), WideningAccess),
            (Rule::AtMost, Some("2"), Some("1"), Breaking),
            (Rule::AtMost, Some("2"), None, WideningAccess),
            (Rule::AtMost, None, Some("2"), Breaking),
            (Rule::AtLeast, Some("10"), Some("5"), WideningAccess),
            (Rule::AtLeast, Some("5"), Some("10"), Breaking),
            (Rule::AtLeast, Some("5"), None, WideningAccess),
            (Rule::AtLeast, None, Some("5"), Breaking),
        ];
        for (rule, b, a, want) in cases {
            assert_eq!(one(*rule, *b, *a), *want, "{rule:?} {b:?} → {a:?}");
        }
    }

    #[test]
    fn fields_only_in_head_are_compared_from_nothing() {
        let mut h = Fields::new();
        h.add("new", Some("x".into()), Rule::Grants);
        let d = compare(&[], &h.0);
        assert_eq!(d[0].text(), "new: (none) → x");
        assert_eq!(d[0].class, Class::WideningAccess);
    }
}
