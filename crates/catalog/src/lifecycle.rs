//! Metric lifecycle: a deprecated version keeps answering with a warning
//! that names its replacement until its `sunset_on` date; from the day
//! after (UTC), asking for it is an error that names the replacement.
//! Drafts are only used when asked for by `name@version` (the catalog's
//! default resolution never picks one).

use chrono::NaiveDate;

use crate::catalog::{Catalog, Metric, MetricId, MetricKind, MetricStatus};
use crate::error::{ErrorCode, PlanError};

/// Today's date in UTC, the calendar sunset dates are read in.
pub use crate::clock::today;

/// Whether a version is past its sunset: deprecated, with a `sunset_on`
/// date before `today` (the sunset day itself still answers).
pub fn is_sunset(m: &Metric, today: NaiveDate) -> bool {
    m.status == MetricStatus::Deprecated && m.sunset_on.is_some_and(|d| today > d)
}

/// `; use `x` instead`, or nothing without a replacement.
fn replacement(m: &Metric) -> String {
    match &m.replaced_by {
        Some(r) => format!("; use `{}` instead", r.reference),
        None => String::new(),
    }
}

/// The warning for using a deprecated version (`None` if it is not
/// deprecated): `metric `revenue@1` is deprecated since 2026-01-01 and
/// stops answering after 2026-06-30; use `revenue@2` instead`.
pub fn deprecation_warning(m: &Metric) -> Option<String> {
    if m.status != MetricStatus::Deprecated {
        return None;
    }
    let mut w = format!("metric `{}` is deprecated", m.qualified_name());
    if let Some(d) = m.deprecated_on {
        w.push_str(&format!(" since {d}"));
    }
    if let Some(s) = m.sunset_on {
        w.push_str(&format!(" and stops answering after {s}"));
    }
    w.push_str(&replacement(m));
    Some(w)
}

/// The error for asking for a version past its sunset.
pub fn sunset_error(m: &Metric) -> PlanError {
    let when = m.sunset_on.map(|d| d.to_string()).unwrap_or_default();
    let rest = match &m.replaced_by {
        Some(r) => format!("; use `{}` instead", r.reference),
        None => match &m.owner {
            Some(o) => format!("; it has no replacement (owner: {o})"),
            None => "; it has no replacement".to_string(),
        },
    };
    let mut e = PlanError::new(
        ErrorCode::InvalidQuery,
        format!(
            "metric `{}` was sunset on {when} and no longer answers{rest}",
            m.qualified_name()
        ),
    );
    if let Some(r) = &m.replaced_by {
        e = e.with_suggestions(vec![r.reference.clone()]);
    }
    e
}

/// What asking for `metric` means on `today`: the warnings to return with
/// the result, or an error when it is past its sunset. Deprecated or sunset
/// versions used underneath it (as ratio or derived inputs) only warn: the
/// dependent metric's owner has to move it, and its users should not lose
/// it overnight.
pub fn check_use(
    catalog: &Catalog,
    metric: &Metric,
    today: NaiveDate,
) -> Result<Vec<String>, PlanError> {
    if is_sunset(metric, today) {
        return Err(sunset_error(metric));
    }
    let mut warnings: Vec<String> = deprecation_warning(metric).into_iter().collect();
    let mut seen = vec![metric.id];
    let mut stack = inputs(metric);
    while let Some(id) = stack.pop() {
        if seen.contains(&id) || seen.len() > 256 {
            continue;
        }
        seen.push(id);
        let input = catalog.metric(id);
        if input.status == MetricStatus::Deprecated {
            let state = if is_sunset(input, today) {
                format!(
                    "was sunset on {}",
                    input.sunset_on.map(|d| d.to_string()).unwrap_or_default()
                )
            } else {
                "is deprecated".to_string()
            };
            warnings.push(format!(
                "metric `{}` uses `{}`, which {state}{}",
                metric.qualified_name(),
                input.qualified_name(),
                replacement(input)
            ));
        }
        stack.extend(inputs(input));
    }
    Ok(warnings)
}

/// The metrics a ratio or derived metric reads directly.
pub fn inputs(m: &Metric) -> Vec<MetricId> {
    match &m.kind {
        MetricKind::Simple { .. } => Vec::new(),
        MetricKind::Ratio {
            numerator,
            denominator,
        } => vec![numerator.metric, denominator.metric],
        MetricKind::Derived { inputs, .. } => inputs.iter().map(|i| i.metric).collect(),
        MetricKind::Cumulative { input, .. } => vec![input.metric],
        MetricKind::Conversion(_) => Vec::new(),
    }
}
