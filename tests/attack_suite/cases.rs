//! The case files (`tests/attacks/*.yaml`): their serde shapes, loading,
//! and the small template language that writes long or computed inputs.
//! The format is documented in `tests/attacks/README.md`. Shared with the
//! fuzzers (`tests/fuzz_inputs.rs`), which seed themselves from the cases.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::{Deserialize, Deserializer};
use serde_json::Value as Json;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    pub id: String,
    /// The attack number of the issue (`1`..`10`) or a held class (`held:...`).
    pub attack: Json,
    #[serde(default)]
    pub note: Option<String>,
    #[serde(default)]
    pub caller: CallerSpec,
    pub interface: Interface,
    /// REST: GET or POST (default POST).
    #[serde(default)]
    pub method: Option<String>,
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub body: Option<Json>,
    /// REST: a JSON body padded with spaces to this many bytes.
    #[serde(default)]
    pub body_bytes: Option<usize>,
    #[serde(default)]
    pub graphql: Option<String>,
    /// Postgres: statements run in order in one fresh session; the outcome
    /// is the last one's (or the first error).
    #[serde(default, deserialize_with = "one_or_many")]
    pub sql: Vec<String>,
    pub expect: Expect,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Interface {
    Rest,
    Graphql,
    Pgwire,
}

/// Who sends the request: no roles and no token is anonymous.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallerSpec {
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub claims: BTreeMap<String, Json>,
    /// A bad token instead of a valid HS256 one.
    #[serde(default)]
    pub token: Option<BadToken>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BadToken {
    /// `alg: none`, no signature.
    AlgNone,
    /// Signed with the right secret, `exp` an hour ago.
    Expired,
    /// HS256 with another secret.
    WrongKey,
    /// HS256 "signed" with the server's RSA public key PEM as the secret.
    HsRsConfusion,
    /// RS256 from a key the server has never seen.
    Rs256Stranger,
    /// A valid token's header and signature over an edited payload.
    ForgedPayload,
    /// Not a JWT at all.
    Garbage,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    pub refused: Option<Refusal>,
    /// Any success (2xx, no GraphQL errors, no SQL error).
    #[serde(default)]
    pub ok: bool,
    /// Rows equal (as a multiset) to an expectation computed from the
    /// generator's rows (`expected.rs`).
    pub rows_equal: Option<String>,
    /// Rows written out by hand.
    pub rows: Option<Vec<Vec<Json>>>,
    /// With `rows_equal` / `rows` / `max_rows`: a refusal is acceptable too.
    #[serde(default)]
    pub or_refused: bool,
    /// Strings that must appear nowhere in the response.
    #[serde(default)]
    pub not_contains: Vec<String>,
    /// A computed list of values no result cell may equal.
    pub forbidden_values: Option<String>,
    /// The other request of a differencing pair: the attacker must never
    /// obtain two different numbers from the two.
    pub pair_no_difference: Option<String>,
    /// Status, code and message equal to another case's, with `names`
    /// replaced by a placeholder.
    pub same_error_as: Option<SameError>,
    pub within_seconds: Option<u64>,
    /// Refused, or at most this many rows.
    pub max_rows: Option<usize>,
    /// A named structural check (`expected.rs`), `name|arg|...`.
    pub check: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Refusal {
    /// `403`, `"4xx"`, `"5xx"` or `"any"` (REST and GraphQL; default 4xx).
    pub status: Option<Json>,
    /// The problem code (REST) or `extensions.code` (GraphQL).
    pub code: Option<String>,
    pub sqlstate: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SameError {
    pub case: String,
    pub names: Vec<String>,
}

fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Option::<OneOrMany>::deserialize(d)? {
        None => vec![],
        Some(OneOrMany::One(s)) => vec![s],
        Some(OneOrMany::Many(v)) => v,
    })
}

/// Every case of every file in `dir`, in file then list order; ids unique.
pub fn load(dir: &Path) -> Result<Vec<Case>, String> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    let mut ids = BTreeSet::new();
    for f in files {
        let text = std::fs::read_to_string(&f).map_err(|e| format!("{}: {e}", f.display()))?;
        let cases: Vec<Case> =
            serde_saphyr::from_str(&text).map_err(|e| format!("{}: {e}", f.display()))?;
        for c in cases {
            if !ids.insert(c.id.clone()) {
                return Err(format!("{}: duplicate case id `{}`", f.display(), c.id));
            }
            out.push(c);
        }
    }
    Ok(out)
}

/// Expands the templates of one string:
/// - `«repeat|N|SEP|ITEM»`: ITEM N times joined by SEP, `%i` in ITEM the index;
/// - `«nest|N|OPEN|CLOSE|CORE»`: CORE inside N OPEN…CLOSE pairs;
/// - `«NAME»` or `«NAME|ARG»`: a value computed from the generator's rows
///   (`lookup`).
pub fn expand(text: &str, lookup: &dyn Fn(&str, &[&str]) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('«') {
        out.push_str(&rest[..start]);
        let after = &rest[start + '«'.len_utf8()..];
        let Some(end) = after.find('»') else {
            out.push_str(&rest[start..]);
            return out;
        };
        out.push_str(&directive(&after[..end], lookup));
        rest = &after[end + '»'.len_utf8()..];
    }
    out.push_str(rest);
    out
}

fn directive(d: &str, lookup: &dyn Fn(&str, &[&str]) -> Option<String>) -> String {
    let parts: Vec<&str> = d.split('|').collect();
    let count = |s: &str| -> usize { s.parse().unwrap_or_else(|_| panic!("count in «{d}»")) };
    match parts.as_slice() {
        ["repeat", n, sep, item] => (0..count(n))
            .map(|i| item.replace("%i", &i.to_string()))
            .collect::<Vec<_>>()
            .join(sep),
        ["nest", n, open, close, core] => {
            let n = count(n);
            format!("{}{core}{}", open.repeat(n), close.repeat(n))
        }
        [name, args @ ..] => {
            lookup(name, args).unwrap_or_else(|| panic!("unknown template value «{d}»"))
        }
        [] => String::new(),
    }
}

/// Expands templates in every string of a JSON value.
pub fn expand_json(v: &Json, lookup: &dyn Fn(&str, &[&str]) -> Option<String>) -> Json {
    match v {
        Json::String(s) => Json::String(expand(s, lookup)),
        Json::Array(a) => Json::Array(a.iter().map(|x| expand_json(x, lookup)).collect()),
        Json::Object(o) => Json::Object(
            o.iter()
                .map(|(k, x)| (k.clone(), expand_json(x, lookup)))
                .collect(),
        ),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_expand() {
        let none = |_: &str, _: &[&str]| None;
        assert_eq!(expand("«repeat|3| OR |a%i»", &none), "a0 OR a1 OR a2");
        assert_eq!(expand("x «nest|2|(|)|1» y", &none), "x ((1)) y");
        let v = |n: &str, a: &[&str]| (n == "v").then(|| a.join("+"));
        assert_eq!(expand("«v|1|2»", &v), "1+2");
    }
}
