//! Judges one case's outcome against its expectations; every problem is
//! returned (not just the first) so one run lists everything.

use std::collections::BTreeMap;

use serde_json::Value as Json;

use super::cases::{Case, Expect, Interface, Refusal};
use super::client::{Outcome, Refused, cell};
use super::{cases, expected};

pub fn evaluate(case: &Case, out: &Outcome, done: &BTreeMap<String, Outcome>) -> Vec<String> {
    let e = &case.expect;
    let mut p = Vec::new();
    server_error(case, out, &mut p);
    if let Some(r) = &e.refused {
        refusal(case.interface, r, out, &mut p);
    }
    if e.ok && out.refused.is_some() {
        p.push(format!("expected an answer, got {}", describe(out)));
    }
    rows(e, out, &mut p);
    contents(e, out, &mut p);
    if let Some(s) = e.within_seconds
        && out.elapsed.as_secs_f64() > s as f64
    {
        p.push(format!(
            "took {:.1} s, more than {s} s",
            out.elapsed.as_secs_f64()
        ));
    }
    if let Some(spec) = &e.check
        && out.refused.is_none()
        && let Err(m) = expected::check(spec, out.json.as_ref(), out.rows.as_ref())
    {
        p.push(m);
    }
    if let Some(other) = &e.pair_no_difference {
        pair(other, out, done, &mut p);
    }
    if let Some(same) = &e.same_error_as {
        same_error(&same.case, &same.names, out, done, &mut p);
    }
    p
}

/// A 5xx is a failure unless the case allows it; so is a dropped connection.
fn server_error(case: &Case, out: &Outcome, p: &mut Vec<String>) {
    let Some(r) = &out.refused else { return };
    if r.code.as_deref() == Some("transport") {
        p.push(format!("the connection failed: {}", r.message));
        return;
    }
    let allowed = case
        .expect
        .refused
        .as_ref()
        .and_then(|x| x.status.as_ref())
        .is_some_and(|s| *s == "any" || *s == "5xx");
    if case.interface != Interface::Pgwire && r.status.is_some_and(|s| s >= 500) && !allowed {
        p.push(format!("server error: {}", describe(out)));
    }
    if r.sqlstate.as_deref() == Some("XX000") {
        p.push(format!("internal error: {}", describe(out)));
    }
}

fn describe(out: &Outcome) -> String {
    match &out.refused {
        Some(r) => format!(
            "refused (status {:?}, code {:?}, sqlstate {:?}): {}",
            r.status,
            r.code,
            r.sqlstate,
            short(&r.message)
        ),
        None => format!(
            "an answer with {} rows: {}",
            out.rows.as_ref().map_or(0, Vec::len),
            short(&out.text)
        ),
    }
}

fn short(s: &str) -> String {
    let s: String = s.chars().take(240).collect();
    s.replace('\n', " ")
}

fn status_matches(want: &Json, got: Option<u16>) -> bool {
    let Some(got) = got else {
        // GraphQL errors from validation carry no status; pg none at all.
        return true;
    };
    match want {
        Json::Number(n) => n.as_u64() == Some(u64::from(got)),
        Json::String(s) if s == "any" => got >= 400,
        Json::String(s) if s == "5xx" => got >= 500,
        _ => (400..500).contains(&got),
    }
}

fn refusal(interface: Interface, want: &Refusal, out: &Outcome, p: &mut Vec<String>) {
    let Some(r) = &out.refused else {
        p.push(format!("expected a refusal, got {}", describe(out)));
        return;
    };
    let default_status = Json::String("4xx".into());
    let status = want.status.as_ref().unwrap_or(&default_status);
    if interface != Interface::Pgwire && !status_matches(status, r.status) {
        p.push(format!("expected status {status}, got {}", describe(out)));
    }
    if let Some(code) = &want.code
        && r.code.as_deref() != Some(code)
    {
        p.push(format!("expected code `{code}`, got {}", describe(out)));
    }
    if let Some(state) = &want.sqlstate
        && r.sqlstate.as_deref() != Some(state)
    {
        p.push(format!("expected SQLSTATE {state}, got {}", describe(out)));
    }
}

fn sorted(mut rows: Vec<Vec<String>>) -> Vec<Vec<String>> {
    rows.sort();
    rows
}

fn rows(e: &Expect, out: &Outcome, p: &mut Vec<String>) {
    let want: Option<Vec<Vec<String>>> = match (&e.rows_equal, &e.rows) {
        (Some(key), _) => Some(expected::rows(key).unwrap_or_else(|| panic!("no rows `{key}`"))),
        (None, Some(lit)) => Some(
            lit.iter()
                .map(|r| {
                    r.iter()
                        .map(|c| cell(&cases::expand_json(c, &expected::lookup)))
                        .collect()
                })
                .collect(),
        ),
        _ => None,
    };
    if want.is_none() && e.max_rows.is_none() {
        return;
    }
    if out.refused.is_some() {
        if !e.or_refused {
            p.push(format!("expected rows, got {}", describe(out)));
        }
        return;
    }
    let got = out.rows.clone().unwrap_or_default();
    if let Some(max) = e.max_rows
        && got.len() > max
    {
        p.push(format!("{} rows or more, more than {max}", got.len()));
    }
    if let Some(want) = want {
        let (w, g) = (sorted(want), sorted(got));
        if w != g {
            let show = |r: &Vec<Vec<String>>| short(&format!("{:?}", &r[..r.len().min(6)]));
            p.push(format!(
                "rows differ: expected {} rows {}, got {} rows {}",
                w.len(),
                show(&w),
                g.len(),
                show(&g)
            ));
        }
    }
}

fn contents(e: &Expect, out: &Outcome, p: &mut Vec<String>) {
    for s in &e.not_contains {
        let s = cases::expand(s, &expected::lookup);
        if out.text.contains(&s) {
            p.push(format!(
                "the response contains `{}`: {}",
                short(&s),
                describe(out)
            ));
        }
    }
    if let Some(key) = &e.forbidden_values {
        let bad = expected::forbidden(key).unwrap_or_else(|| panic!("no values `{key}`"));
        let hits: Vec<&String> = out
            .rows
            .iter()
            .flatten()
            .flatten()
            .filter(|c| bad.contains(*c))
            .take(3)
            .collect();
        if !hits.is_empty() {
            p.push(format!("cells show forbidden values ({key}): {hits:?}"));
        }
    }
}

/// The attacker must not obtain two different answers.
fn pair(other: &str, out: &Outcome, done: &BTreeMap<String, Outcome>, p: &mut Vec<String>) {
    let Some(first) = done.get(other) else {
        p.push(format!("pair case `{other}` has not run before this one"));
        return;
    };
    let answer = |o: &Outcome| match (&o.refused, &o.rows) {
        (None, Some(r)) if !r.is_empty() => Some(sorted(r.clone())),
        _ => None,
    };
    if let (Some(a), Some(b)) = (answer(first), answer(out))
        && a != b
    {
        p.push(format!(
            "differencing leak: `{other}` answered {a:?} and this answered {b:?}"
        ));
    }
}

fn same_error(
    other: &str,
    names: &[String],
    out: &Outcome,
    done: &BTreeMap<String, Outcome>,
    p: &mut Vec<String>,
) {
    let Some(first) = done.get(other) else {
        p.push(format!("case `{other}` has not run before this one"));
        return;
    };
    let (Some(a), Some(b)) = (&first.refused, &out.refused) else {
        p.push(format!(
            "both must be refused: `{other}` {} / this {}",
            describe(first),
            describe(out)
        ));
        return;
    };
    let strip = |r: &Refused| {
        let mut m = r.message.clone();
        // Longest first, so `orders.status` goes before `status`.
        let mut ns: Vec<&String> = names.iter().collect();
        ns.sort_by_key(|n| std::cmp::Reverse(n.len()));
        for n in ns {
            m = m.replace(n.as_str(), "<name>");
        }
        (r.status, r.code.clone(), r.sqlstate.clone(), m)
    };
    let (x, y) = (strip(a), strip(b));
    if x != y {
        p.push(format!(
            "a hidden and an absent name are told apart: `{other}` {x:?} vs this {y:?}"
        ));
    }
}
