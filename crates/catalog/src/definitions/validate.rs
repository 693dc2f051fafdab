//! Raw definitions → [`Catalog`], checking every rule and collecting every
//! problem. Phases: models (entities, dimensions, measures), metrics
//! (shape, references, cycles), then each metric is planned once so filters
//! and join paths are checked exactly as queries will use them.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde_saphyr::Location;

use super::raw::*;
use crate::catalog::*;
use crate::diagnostics::{Diagnostic, Diagnostics, SourcePos, closest};
use crate::sql::ast::{Expr, Ident};
use crate::sql::convert::{Origin, parse_expr};

pub(super) struct Ctx<'a> {
    pub(super) file: Arc<str>,
    pub(super) diags: &'a mut Diagnostics,
}

impl Ctx<'_> {
    pub(super) fn pos(&self, loc: &Location) -> SourcePos {
        SourcePos {
            file: self.file.clone(),
            line: loc.line() as u32,
            column: loc.column() as u32,
        }
    }

    pub(super) fn error(
        &mut self,
        loc: &Location,
        field: impl Into<String>,
        msg: impl Into<String>,
    ) {
        let pos = self.pos(loc);
        self.diags.push(Diagnostic::new(Some(pos), field, msg));
    }

    pub(super) fn suggest(
        &mut self,
        loc: &Location,
        field: impl Into<String>,
        msg: impl Into<String>,
        wanted: &str,
        options: &[&str],
    ) {
        let pos = self.pos(loc);
        let d = Diagnostic::new(Some(pos), field, msg)
            .with_suggestions(closest(wanted, options.iter().copied()));
        self.diags.push(d);
    }
}

/// `name` without leading underscores and with runs of `_` made single.
fn suggest_model_name(name: &str) -> String {
    let mut out = String::new();
    for c in name.trim_start_matches('_').chars() {
        if !(c == '_' && out.ends_with('_')) {
            out.push(c);
        }
    }
    out
}

pub use crate::diagnostics::is_identifier;

/// A model expression refers to the model's own columns; turn its names into
/// unqualified column references (the planner qualifies them with the alias).
pub(super) fn model_expr(text: &str) -> Result<Expr, String> {
    let parsed = parse_expr(text, Origin::Definition)?;
    parsed.try_transform(&mut |e| match e {
        Expr::Ref(parts) if parts.len() == 1 => {
            let name = parts.into_iter().next().unwrap_or_else(|| Ident::new(""));
            Ok(Expr::Column { table: None, name })
        }
        Expr::Ref(parts) => {
            let names: Vec<String> = parts.iter().map(|p| p.value.clone()).collect();
            Err(format!(
                "`{}`: a model expression may only name its own columns, unqualified",
                names.join(".")
            ))
        }
        other => Ok(other),
    })
}

struct PendingMetric {
    file: Arc<str>,
    raw: RawMetric,
    loc: Location,
}

pub fn build(
    files: Vec<(Arc<str>, RawFile)>,
    version: String,
    diags: &mut Diagnostics,
    plans: &dyn super::PlanCheck,
) -> Option<Catalog> {
    let mut models: Vec<Model> = Vec::new();
    let mut model_pos: BTreeMap<String, SourcePos> = BTreeMap::new();
    let mut pending: Vec<PendingMetric> = Vec::new();
    let mut raw_roles = Vec::new();
    let mut raw_consent = Vec::new();
    let (mut raw_funnels, mut raw_retention) = (Vec::new(), Vec::new());
    let mut raw_checks = Vec::new();
    let mut raw_identity = Vec::new();
    let mut raw_attribution = Vec::new();

    for (file, raw) in files {
        let mut cx = Ctx {
            file: file.clone(),
            diags,
        };
        for m in raw.models {
            let loc = m.referenced;
            let name = m.value.name.value.clone();
            if let Some(first) = model_pos.get(&name) {
                cx.error(
                    &m.value.name.referenced,
                    format!("models.{name}"),
                    format!("duplicate model `{name}` (first defined at {first})"),
                );
                continue;
            }
            if let Some(model) = build_model(&mut cx, ModelId(models.len() as u32), m.value, &loc) {
                model_pos.insert(name, model.pos.clone());
                models.push(model);
            }
        }
        raw_roles.extend(raw.roles.into_iter().map(|r| (file.clone(), r)));
        raw_consent.extend(raw.consent.map(|c| (file.clone(), c)));
        raw_funnels.extend(raw.funnels.into_iter().map(|f| (file.clone(), f)));
        raw_retention.extend(raw.retention.into_iter().map(|r| (file.clone(), r)));
        raw_checks.extend(raw.checks.into_iter().map(|c| (file.clone(), c)));
        raw_identity.extend(raw.identity.map(|i| (file.clone(), i)));
        raw_attribution.extend(raw.attribution.into_iter().map(|a| (file.clone(), a)));
        for m in raw.metrics {
            pending.push(PendingMetric {
                file: file.clone(),
                loc: m.referenced,
                raw: m.value,
            });
        }
    }

    check_entities(&models, diags);
    let metrics = build_metrics(&models, pending, diags);
    let mut catalog = Catalog::new(models, metrics, version);
    catalog.consent = super::validate_policy::consent(&catalog, raw_consent, diags);
    catalog.roles = super::validate_policy::roles(&catalog, raw_roles, diags);
    super::validate_time::check_catalog(&catalog, diags);
    let identity_written = !raw_identity.is_empty();
    catalog.identity = super::validate_identity::identity(&catalog, raw_identity, diags);
    super::validate_identity::stitched_measures(&catalog, identity_written, diags);
    check_metric_plans(&catalog, plans, diags);
    super::validate_analysis::analyses(&mut catalog, raw_funnels, raw_retention, plans, diags);
    catalog.checks = super::validate_checks::checks(&catalog, raw_checks, diags);
    catalog.attributions =
        super::validate_attribution::attributions(&catalog, raw_attribution, diags);
    Some(catalog)
}

fn build_model(cx: &mut Ctx, id: ModelId, raw: RawModel, loc: &Location) -> Option<Model> {
    let name = raw.name.value.clone();
    let f = |field: &str| format!("models.{name}.{field}");
    if !is_identifier(&name) {
        cx.error(
            &raw.name.referenced,
            f("name"),
            format!("model name `{name}` must be a plain identifier (letters, digits, _)"),
        );
        return None;
    }
    // Generated SQL names nested scans `<alias>__<model>`; a model name
    // with `__` (or one starting with `_`) could collide with one of those
    // and silently bind a column to the wrong table.
    if name.contains("__") || name.starts_with('_') {
        cx.error(
            &raw.name.referenced,
            f("name"),
            format!(
                "model name `{name}` may not start with `_` or contain `__` (reserved for generated aliases); try `{}`",
                suggest_model_name(&name)
            ),
        );
        return None;
    }
    let source = match (&raw.source.value.table, &raw.source.value.sql) {
        (Some(t), None) => {
            let parts: Vec<String> = t.value.split('.').map(|s| s.trim().to_string()).collect();
            if parts.iter().any(|p| p.is_empty()) {
                cx.error(
                    &t.referenced,
                    f("source.table"),
                    format!("`{}` is not a table name", t.value),
                );
            }
            Source::Table(parts)
        }
        (None, Some(sql)) => {
            let dialect = sqlparser::dialect::GenericDialect {};
            match crate::sql::guard::parse_statements(&dialect, &sql.value, "the SQL") {
                Ok(stmts)
                    if stmts.len() == 1
                        && matches!(stmts[0], sqlparser::ast::Statement::Query(_)) => {}
                Ok(_) => cx.error(
                    &sql.referenced,
                    f("source.sql"),
                    "must be exactly one SELECT query",
                ),
                Err(e) => cx.error(
                    &sql.referenced,
                    f("source.sql"),
                    format!("cannot parse: {e}"),
                ),
            }
            Source::Sql(sql.value.trim().trim_end_matches(';').to_string())
        }
        _ => {
            cx.error(
                &raw.source.referenced,
                f("source"),
                "give exactly one of `table` or `sql`",
            );
            Source::Table(vec![name.clone()])
        }
    };

    let mut entities: Vec<Entity> = Vec::new();
    for e in raw.entities {
        let ename = e.value.name.value.clone();
        let field = f(&format!("entities.{ename}"));
        if !is_identifier(&ename) {
            cx.error(
                &e.value.name.referenced,
                &field,
                format!("entity name `{ename}` must be a plain identifier"),
            );
            continue;
        }
        if entities.iter().any(|x| x.name == ename) {
            cx.error(
                &e.value.name.referenced,
                &field,
                format!("duplicate entity `{ename}` in model `{name}`"),
            );
            continue;
        }
        let kind = match e.value.kind.value.as_str() {
            "primary" => EntityKind::Primary,
            "unique" => EntityKind::Unique,
            "foreign" => EntityKind::Foreign,
            other => {
                cx.suggest(
                    &e.value.kind.referenced,
                    format!("{field}.type"),
                    format!("unknown entity type `{other}`"),
                    other,
                    &["primary", "unique", "foreign"],
                );
                continue;
            }
        };
        if kind == EntityKind::Primary && entities.iter().any(|x| x.kind == EntityKind::Primary) {
            cx.error(
                &e.value.kind.referenced,
                format!("{field}.type"),
                format!("model `{name}` already has a primary entity; use `unique` for other keys"),
            );
        }
        let texts = match &e.value.expr {
            Some(s) => match &s.value {
                OneOrMany::One(t) => vec![t.clone()],
                OneOrMany::Many(ts) => ts.clone(),
            },
            None => vec![ename.clone()],
        };
        let expr_loc = e
            .value
            .expr
            .as_ref()
            .map(|s| s.referenced)
            .unwrap_or(e.referenced);
        let mut keys = Vec::new();
        for t in texts {
            match model_expr(&t) {
                Ok(x) => keys.push(x),
                Err(msg) => cx.error(&expr_loc, format!("{field}.expr"), msg),
            }
        }
        if keys.is_empty() {
            continue;
        }
        entities.push(Entity {
            pos: cx.pos(&e.referenced),
            name: ename,
            kind,
            keys,
            description: e.value.description,
        });
    }

    let mut dimensions: Vec<Dimension> = Vec::new();
    for d in raw.dimensions {
        let dname = d.value.name.value.clone();
        let field = f(&format!("dimensions.{dname}"));
        if !is_identifier(&dname) {
            cx.error(
                &d.value.name.referenced,
                &field,
                format!("dimension name `{dname}` must be a plain identifier"),
            );
            continue;
        }
        if dimensions.iter().any(|x| x.name == dname) {
            cx.error(
                &d.value.name.referenced,
                &field,
                format!("duplicate dimension `{dname}` in model `{name}`"),
            );
            continue;
        }
        if dname == "metric_time" {
            cx.error(
                &d.value.name.referenced,
                &field,
                "`metric_time` is reserved: it means each measure's aggregation time",
            );
            continue;
        }
        let granularity = match &d.value.granularity {
            Some(g) => match Grain::parse(&g.value) {
                Some(grain) => Some(grain),
                None => {
                    cx.suggest(
                        &g.referenced,
                        format!("{field}.granularity"),
                        format!("unknown granularity `{}`", g.value),
                        &g.value,
                        &Grain::names(),
                    );
                    continue;
                }
            },
            None => None,
        };
        let kind = match d.value.kind.value.as_str() {
            "categorical" => DimensionKind::Categorical,
            "time" => DimensionKind::Time {
                granularity: granularity.unwrap_or(Grain::Day),
            },
            "number" => DimensionKind::Number,
            "boolean" => DimensionKind::Boolean,
            other => {
                cx.suggest(
                    &d.value.kind.referenced,
                    format!("{field}.type"),
                    format!("unknown dimension type `{other}`"),
                    other,
                    &["categorical", "time", "number", "boolean"],
                );
                continue;
            }
        };
        if granularity.is_some() && !matches!(kind, DimensionKind::Time { .. }) {
            let loc = d
                .value
                .granularity
                .as_ref()
                .map(|g| g.referenced)
                .unwrap_or(d.value.kind.referenced);
            cx.error(
                &loc,
                format!("{field}.granularity"),
                "only time dimensions take a granularity",
            );
        }
        let text = d
            .value
            .expr
            .as_ref()
            .map(|s| s.value.clone())
            .unwrap_or_else(|| dname.clone());
        let expr_loc = d
            .value
            .expr
            .as_ref()
            .map(|s| s.referenced)
            .unwrap_or(d.referenced);
        let expr = match model_expr(&text) {
            Ok(x) if x.contains_aggregate() => {
                cx.error(
                    &expr_loc,
                    format!("{field}.expr"),
                    "a dimension cannot aggregate; define a measure instead",
                );
                continue;
            }
            Ok(x) => x,
            Err(msg) => {
                cx.error(&expr_loc, format!("{field}.expr"), msg);
                continue;
            }
        };
        dimensions.push(Dimension {
            name: dname,
            kind,
            expr,
            label: d.value.label,
            description: d.value.description,
            pii: d.value.pii,
            tags: d.value.tags,
        });
    }
    let time_dims: Vec<&str> = dimensions
        .iter()
        .filter(|d| matches!(d.kind, DimensionKind::Time { .. }))
        .map(|d| d.name.as_str())
        .collect();

    let resolve_time = |cx: &mut Ctx, s: &S<String>, field: String| -> Option<usize> {
        match dimensions.iter().position(|d| d.name == s.value) {
            Some(i) if matches!(dimensions[i].kind, DimensionKind::Time { .. }) => Some(i),
            Some(_) => {
                cx.error(
                    &s.referenced,
                    field,
                    format!("`{}` is not a time dimension", s.value),
                );
                None
            }
            None => {
                cx.suggest(
                    &s.referenced,
                    field,
                    format!("unknown time dimension `{}` in model `{name}`", s.value),
                    &s.value,
                    &time_dims,
                );
                None
            }
        }
    };
    let default_time = match raw
        .defaults
        .as_ref()
        .and_then(|d| d.value.agg_time_dimension.as_ref())
    {
        Some(s) => resolve_time(cx, s, f("defaults.agg_time_dimension")),
        None if time_dims.len() == 1 => dimensions.iter().position(|d| d.name == time_dims[0]),
        None => None,
    };

    let mut measures: Vec<Measure> = Vec::new();
    for m in raw.measures {
        let mname = m.value.name.value.clone();
        let field = f(&format!("measures.{mname}"));
        if !is_identifier(&mname) {
            cx.error(
                &m.value.name.referenced,
                &field,
                format!("measure name `{mname}` must be a plain identifier"),
            );
            continue;
        }
        if measures.iter().any(|x| x.name == mname) {
            cx.error(
                &m.value.name.referenced,
                &field,
                format!("duplicate measure `{mname}` in model `{name}`"),
            );
            continue;
        }
        let agg = match m.value.agg.value.as_str() {
            "sum" => Aggregation::Sum,
            "count" => Aggregation::Count,
            "count_distinct" => Aggregation::CountDistinct,
            "avg" | "average" => Aggregation::Avg,
            "min" => Aggregation::Min,
            "max" => Aggregation::Max,
            "median" => Aggregation::Median,
            "sum_boolean" => Aggregation::SumBoolean,
            "percentile" => match &m.value.percentile {
                Some(p) if p.value > 0.0 && p.value < 1.0 => Aggregation::Percentile { p: p.value },
                Some(p) => {
                    cx.error(
                        &p.referenced,
                        format!("{field}.percentile"),
                        format!(
                            "percentile must be between 0 and 1 (exclusive), got {}",
                            p.value
                        ),
                    );
                    continue;
                }
                None => {
                    cx.error(
                        &m.value.agg.referenced,
                        format!("{field}.percentile"),
                        "`agg: percentile` needs `percentile: <fraction>` (e.g. 0.9)",
                    );
                    continue;
                }
            },
            other => {
                cx.suggest(
                    &m.value.agg.referenced,
                    format!("{field}.agg"),
                    format!("unknown aggregation `{other}`"),
                    other,
                    &Aggregation::NAMES,
                );
                continue;
            }
        };
        if let Some(p) = m
            .value
            .percentile
            .as_ref()
            .filter(|_| !matches!(agg, Aggregation::Percentile { .. }))
        {
            cx.error(
                &p.referenced,
                format!("{field}.percentile"),
                "`percentile` only applies to `agg: percentile`",
            );
        }
        let expr = match &m.value.expr {
            Some(s) => match model_expr(&s.value) {
                Ok(x) if x.contains_aggregate() => {
                    cx.error(
                        &s.referenced,
                        format!("{field}.expr"),
                        "a measure's expr is aggregated by `agg`; it must not aggregate itself",
                    );
                    continue;
                }
                Ok(x) => {
                    // Type misuse is caught where it can be seen statically:
                    // aggregating a column the model declares non-numeric.
                    if let Expr::Column { name: col, .. } = &x
                        && let Some(dim) = dimensions.iter().find(|d| matches!(&d.expr, Expr::Column { name, .. } if name.value == col.value)) {
                            let bad = match (agg, dim.kind) {
                                (a, DimensionKind::Categorical | DimensionKind::Time { .. } | DimensionKind::Boolean) if a.needs_numeric() => true,
                                (Aggregation::SumBoolean, k) => !matches!(k, DimensionKind::Boolean),
                                _ => false,
                            };
                            if bad {
                                cx.error(&s.referenced, format!("{field}.agg"), format!("`{}` over `{}` is a type misuse: it is declared as a {} dimension", agg.name(), col.value, dim.kind.name()));
                                continue;
                            }
                        }
                    Some(x)
                }
                Err(msg) => {
                    cx.error(&s.referenced, format!("{field}.expr"), msg);
                    continue;
                }
            },
            None if agg == Aggregation::Count => None,
            // A stitched count_distinct counts canonical identities.
            None if m.value.stitched.as_ref().is_some_and(|s| s.value) => None,
            None => Some(Expr::Column {
                table: None,
                name: Ident::new(mname.clone()),
            }),
        };
        let time_dimension = match &m.value.agg_time_dimension {
            Some(s) => resolve_time(cx, s, format!("{field}.agg_time_dimension")),
            None => default_time,
        };
        let stitched_at = m
            .value
            .stitched
            .as_ref()
            .filter(|s| s.value)
            .map(|s| cx.pos(&s.referenced));
        if stitched_at.is_some() && agg == Aggregation::CountDistinct && m.value.expr.is_some() {
            if let Some(s) = &m.value.expr {
                cx.error(
                    &s.referenced,
                    format!("{field}.expr"),
                    "a stitched count_distinct counts canonical identities; drop `expr`",
                );
            }
            continue;
        }
        measures.push(Measure {
            name: mname,
            agg,
            expr,
            time_dimension,
            description: m.value.description,
            stitched_at,
        });
    }

    let subject = match &raw.subject {
        None => None,
        Some(sj) => match entities.iter().find(|e| e.name == sj.value) {
            Some(e) if e.keys.len() == 1 => Some(e.name.clone()),
            Some(_) => {
                cx.error(
                    &sj.referenced,
                    f("subject"),
                    "a subject entity must have a single key column",
                );
                None
            }
            None => {
                let names: Vec<&str> = entities.iter().map(|e| e.name.as_str()).collect();
                cx.suggest(
                    &sj.referenced,
                    f("subject"),
                    format!("`{}` is not an entity of model `{name}`", sj.value),
                    &sj.value,
                    &names,
                );
                None
            }
        },
    };
    Some(Model {
        id,
        pos: cx.pos(loc),
        name,
        description: raw.description,
        owner: raw.owner,
        source,
        entities,
        dimensions,
        measures,
        subject,
    })
}

/// Every foreign entity must point at some model's primary or unique entity
/// with the same number of key columns.
fn check_entities(models: &[Model], diags: &mut Diagnostics) {
    let unique_names: BTreeSet<&str> = models
        .iter()
        .flat_map(|m| m.entities.iter())
        .filter(|e| e.kind.is_unique())
        .map(|e| e.name.as_str())
        .collect();
    for m in models {
        for e in m.entities.iter().filter(|e| e.kind == EntityKind::Foreign) {
            let targets: Vec<&Model> = models
                .iter()
                .filter(|o| o.id != m.id && o.entity(&e.name).is_some_and(|x| x.kind.is_unique()))
                .collect();
            if targets.is_empty() {
                diags.push(
                    Diagnostic::new(Some(e.pos.clone()), format!("models.{}.entities.{}", m.name, e.name), format!("foreign entity `{}` matches no primary or unique entity of another model", e.name))
                        .with_suggestions(closest(&e.name, unique_names.iter().copied())),
                );
            }
            for t in targets {
                let arity = t.entity(&e.name).map(|x| x.keys.len()).unwrap_or(0);
                if arity != e.keys.len() {
                    diags.push(Diagnostic::new(
                        Some(e.pos.clone()),
                        format!("models.{}.entities.{}", m.name, e.name),
                        format!(
                            "entity `{}` has {} key column(s) here but {} in model `{}`",
                            e.name,
                            e.keys.len(),
                            arity,
                            t.name
                        ),
                    ));
                }
            }
        }
    }
}

fn parse_input(s: &str) -> (String, Option<u32>) {
    match s.split_once('@') {
        Some((n, v)) => (n.trim().to_string(), v.trim().parse().ok().or(Some(0))),
        None => (s.trim().to_string(), None),
    }
}

fn build_metrics(
    models: &[Model],
    pending: Vec<PendingMetric>,
    diags: &mut Diagnostics,
) -> Vec<Metric> {
    // Pass 1: identities (name, version) so inputs can refer to any metric.
    let mut ids: BTreeMap<(String, u32), MetricId> = BTreeMap::new();
    let mut keep: Vec<(MetricId, PendingMetric, u32)> = Vec::new();
    for p in pending {
        let mut cx = Ctx {
            file: p.file.clone(),
            diags,
        };
        let name = p.raw.name.value.clone();
        if !is_identifier(&name) {
            cx.error(
                &p.raw.name.referenced,
                format!("metrics.{name}.name"),
                format!("metric name `{name}` must be a plain identifier"),
            );
            continue;
        }
        let version = p.raw.version.as_ref().map(|v| v.value).unwrap_or(1);
        if version == 0 {
            let loc = p
                .raw
                .version
                .as_ref()
                .map(|v| v.referenced)
                .unwrap_or(p.raw.name.referenced);
            cx.error(
                &loc,
                format!("metrics.{name}.version"),
                "versions start at 1",
            );
            continue;
        }
        if ids.contains_key(&(name.clone(), version)) {
            cx.error(
                &p.raw.name.referenced,
                format!("metrics.{name}"),
                format!("duplicate metric `{name}` version {version}"),
            );
            continue;
        }
        let id = MetricId(keep.len() as u32);
        ids.insert((name, version), id);
        keep.push((id, p, version));
    }

    // Default version per name, as the catalog will resolve it.
    let statuses: BTreeMap<MetricId, MetricStatus> = keep
        .iter()
        .map(|(id, p, _)| {
            let s = match p.raw.status.as_ref().map(|s| s.value.as_str()) {
                Some("draft") => MetricStatus::Draft,
                Some("deprecated") => MetricStatus::Deprecated,
                _ => MetricStatus::Active,
            };
            (*id, s)
        })
        .collect();
    let default_of = |name: &str| -> Option<MetricId> {
        let mut versions: Vec<(u32, MetricId)> = ids
            .iter()
            .filter(|((n, _), _)| n == name)
            .map(|((_, v), id)| (*v, *id))
            .collect();
        versions.sort();
        versions
            .iter()
            .rev()
            .find(|(_, id)| statuses[id] == MetricStatus::Active)
            .or_else(|| {
                versions
                    .iter()
                    .rev()
                    .find(|(_, id)| statuses[id] == MetricStatus::Deprecated)
            })
            .map(|(_, id)| *id)
    };
    let all_names: Vec<String> = ids
        .keys()
        .map(|(n, _)| n.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let all_names_ref: Vec<&str> = all_names.iter().map(String::as_str).collect();

    let mut metrics: Vec<Option<Metric>> = Vec::new();
    for (id, p, version) in keep {
        let mut cx = Ctx {
            file: p.file.clone(),
            diags,
        };
        let raw = p.raw;
        let name = raw.name.value.clone();
        let f = |field: &str| format!("metrics.{name}.{field}");
        let status = match raw.status.as_ref() {
            None => MetricStatus::Active,
            Some(s) => match s.value.as_str() {
                "draft" => MetricStatus::Draft,
                "active" => MetricStatus::Active,
                "deprecated" => MetricStatus::Deprecated,
                other => {
                    cx.suggest(
                        &s.referenced,
                        f("status"),
                        format!("unknown status `{other}`"),
                        other,
                        &["draft", "active", "deprecated"],
                    );
                    MetricStatus::Active
                }
            },
        };
        let (deprecated_on, sunset_on, replaced_by) = {
            let resolve = |text: &str| match parse_input(text) {
                (n, Some(v)) => ids.get(&(n, v)).copied(),
                (n, None) => default_of(&n),
            };
            lifecycle(&mut cx, &raw, id, status, &resolve, &all_names_ref)
        };
        let resolve_input =
            |cx: &mut Ctx, input: &S<RawMetricInput>, field: String| -> Option<MetricInput> {
                let (text, filter, alias) = match &input.value {
                    RawMetricInput::Name(n) => (n.clone(), None, None),
                    RawMetricInput::Full(full) => {
                        (full.metric.clone(), full.filter.clone(), full.alias.clone())
                    }
                };
                let (mname, mversion) = parse_input(&text);
                let target = match mversion {
                    Some(v) => ids.get(&(mname.clone(), v)).copied(),
                    None => default_of(&mname),
                };
                let Some(target) = target else {
                    if all_names.contains(&mname) {
                        cx.error(
                            &input.referenced,
                            field,
                            format!("metric `{text}` has no such version, or no active version"),
                        );
                    } else {
                        cx.suggest(
                            &input.referenced,
                            field,
                            format!("unknown metric `{mname}`"),
                            &mname,
                            &all_names_ref,
                        );
                    }
                    return None;
                };
                let filter = match filter {
                    Some(t) => match parse_expr(&t, Origin::Definition) {
                        Ok(x) => Some(x),
                        Err(msg) => {
                            cx.error(&input.referenced, format!("{field}.filter"), msg);
                            return None;
                        }
                    },
                    None => None,
                };
                let alias = alias.unwrap_or(mname);
                if !is_identifier(&alias) {
                    cx.error(
                        &input.referenced,
                        format!("{field}.alias"),
                        format!("alias `{alias}` must be a plain identifier (letters, digits, _)"),
                    );
                    return None;
                }
                let offset = super::validate_time::input_offset(cx, input, &field).ok()?;
                Some(MetricInput {
                    metric: target,
                    alias,
                    filter,
                    offset,
                })
            };
        // Fields that belong to another metric type are mistakes (often a
        // wrong `type`), never silently ignored.
        let present: [(&str, Option<Location>); 6] = [
            ("measure", raw.measure.as_ref().map(|x| x.referenced)),
            ("numerator", raw.numerator.as_ref().map(|x| x.referenced)),
            (
                "denominator",
                raw.denominator.as_ref().map(|x| x.referenced),
            ),
            ("expr", raw.expr.as_ref().map(|x| x.referenced)),
            ("inputs", raw.inputs.first().map(|x| x.referenced)),
            ("filter", None),
        ];
        let allowed: &[&str] = match raw.kind.value.as_str() {
            "simple" => &["measure"],
            "ratio" => &["numerator", "denominator"],
            "derived" => &["expr", "inputs"],
            "cumulative" | "conversion" => &[],
            _ => &["measure", "numerator", "denominator", "expr", "inputs"],
        };
        for (field, loc) in present {
            if let Some(loc) = loc
                && !allowed.contains(&field)
            {
                cx.error(
                    &loc,
                    f(field),
                    format!("`{field}` does not apply to a {} metric", raw.kind.value),
                );
            }
        }
        let kind_loc = raw.kind.referenced;
        let kind = match raw.kind.value.as_str() {
            "simple" => match &raw.measure {
                None => {
                    cx.error(
                        &kind_loc,
                        f("measure"),
                        "a simple metric needs `measure: <model>.<measure>`",
                    );
                    None
                }
                Some(m) => resolve_measure(&mut cx, models, m, f("measure")),
            },
            "ratio" => match (&raw.numerator, &raw.denominator) {
                (Some(n), Some(d)) => {
                    let num = resolve_input(&mut cx, n, f("numerator"));
                    let den = resolve_input(&mut cx, d, f("denominator"));
                    match (num, den) {
                        (Some(numerator), Some(denominator)) => Some(MetricKind::Ratio {
                            numerator,
                            denominator,
                        }),
                        _ => None,
                    }
                }
                (n, _) => {
                    let missing = if n.is_none() {
                        "numerator"
                    } else {
                        "denominator"
                    };
                    cx.error(
                        &kind_loc,
                        f(missing),
                        "a ratio metric needs both `numerator` and `denominator`",
                    );
                    None
                }
            },
            "derived" => {
                match &raw.expr {
                    None => {
                        cx.error(
                            &kind_loc,
                            f("expr"),
                            "a derived metric needs `expr`, an expression over other metrics",
                        );
                        None
                    }
                    Some(e) => {
                        match parse_expr(&e.value, Origin::Definition) {
                            Err(msg) => {
                                cx.error(&e.referenced, f("expr"), msg);
                                None
                            }
                            Ok(expr) => {
                                let mut inputs: Vec<MetricInput> = raw
                                    .inputs
                                    .iter()
                                    .enumerate()
                                    .filter_map(|(i, inp)| {
                                        resolve_input(&mut cx, inp, f(&format!("inputs[{i}]")))
                                    })
                                    .collect();
                                let explicit = !raw.inputs.is_empty();
                                // An input that failed is already reported;
                                // don't report its uses as well.
                                let mut ok = inputs.len() == raw.inputs.len();
                                for (i, inp) in inputs.iter().enumerate() {
                                    if inputs[..i].iter().any(|x| x.alias == inp.alias) {
                                        cx.error(
                                            &raw.inputs[i].referenced,
                                            f(&format!("inputs[{i}].alias")),
                                            format!(
                                                "two inputs are named `{}`; give one an `alias`",
                                                inp.alias
                                            ),
                                        );
                                        ok = false;
                                    }
                                }
                                let mut refs: Vec<String> = Vec::new();
                                expr.walk(&mut |x| {
                                    if let Expr::Ref(parts) = x {
                                        refs.push(
                                            parts
                                                .iter()
                                                .map(|p| p.value.clone())
                                                .collect::<Vec<_>>()
                                                .join("."),
                                        );
                                    }
                                });
                                let check_refs = ok;
                                for r in refs.into_iter().filter(|_| check_refs) {
                                    if inputs.iter().any(|i| i.alias == r) {
                                        continue;
                                    }
                                    if !explicit && let Some(target) = default_of(&r) {
                                        inputs.push(MetricInput {
                                            metric: target,
                                            alias: r.clone(),
                                            filter: None,
                                            offset: None,
                                        });
                                        continue;
                                    }
                                    let mut options: Vec<&str> =
                                        inputs.iter().map(|i| i.alias.as_str()).collect();
                                    if !explicit {
                                        options.extend(all_names_ref.iter().copied());
                                    }
                                    cx.suggest(
                                        &e.referenced,
                                        f("expr"),
                                        format!("`{r}` is not an input of this metric"),
                                        &r,
                                        &options,
                                    );
                                    ok = false;
                                }
                                if expr.contains_aggregate() {
                                    cx.error(&e.referenced, f("expr"), "a derived expression combines metrics; it must not aggregate");
                                    ok = false;
                                }
                                ok.then_some(MetricKind::Derived { expr, inputs })
                            }
                        }
                    }
                }
            }
            "cumulative" => {
                let input = raw
                    .metric
                    .as_ref()
                    .map(|i| resolve_input(&mut cx, i, f("metric")));
                super::validate_time::cumulative(&mut cx, &raw, input)
            }
            "conversion" => super::validate_time::conversion(&mut cx, &raw, models),
            other => {
                cx.suggest(
                    &kind_loc,
                    f("type"),
                    format!("unknown metric type `{other}`"),
                    other,
                    &["simple", "ratio", "derived", "cumulative", "conversion"],
                );
                None
            }
        };
        super::validate_time::misplaced_fields(&mut cx, &raw);
        let fill_nulls_with = super::validate_time::fill_nulls_with(&raw);
        let filter = match &raw.filter {
            Some(s) => match parse_expr(&s.value, Origin::Definition) {
                Ok(x) if x.contains_aggregate() => {
                    cx.error(
                        &s.referenced,
                        f("filter"),
                        "a metric filter selects rows; it must not aggregate",
                    );
                    None
                }
                Ok(x) => Some(x),
                Err(msg) => {
                    cx.error(&s.referenced, f("filter"), msg);
                    None
                }
            },
            None => None,
        };
        let pos = cx.pos(&p.loc);
        metrics.push(kind.map(|kind| Metric {
            id,
            name: name.clone(),
            version,
            status,
            owner: raw.owner,
            description: raw.description,
            label: raw.label,
            format: raw.format,
            unit: raw.unit,
            filter_pos: raw.filter.as_ref().map(|s| cx.pos(&s.referenced)),
            filter_text: raw.filter.map(|s| s.value),
            filter,
            kind,
            pos,
            deprecated_on,
            sunset_on,
            replaced_by,
            fill_nulls_with: fill_nulls_with.clone(),
        }));
    }
    if metrics.iter().any(Option::is_none) {
        // A metric that failed leaves holes its dependents would point into;
        // its diagnostics are already recorded.
        return Vec::new();
    }
    let metrics: Vec<Metric> = metrics.into_iter().flatten().collect();
    check_cycles(&metrics, diags);
    metrics
}

/// Lifecycle fields: only on deprecated versions, dates as YYYY-MM-DD with
/// the sunset no earlier than the deprecation, and a replacement that
/// resolves to another metric.
fn lifecycle(
    cx: &mut Ctx,
    raw: &RawMetric,
    id: MetricId,
    status: MetricStatus,
    resolve: &dyn Fn(&str) -> Option<MetricId>,
    all_names: &[&str],
) -> (
    Option<chrono::NaiveDate>,
    Option<chrono::NaiveDate>,
    Option<MetricRef>,
) {
    let name = &raw.name.value;
    let f = |field: &str| format!("metrics.{name}.{field}");
    let fields = [
        ("deprecated_on", &raw.deprecated_on),
        ("sunset_on", &raw.sunset_on),
        ("replaced_by", &raw.replaced_by),
    ];
    if status != MetricStatus::Deprecated {
        for (field, v) in fields {
            if let Some(v) = v {
                cx.error(
                    &v.referenced,
                    f(field),
                    format!(
                        "`{field}` applies only to a deprecated metric, and this version is {}; set `status: deprecated` or remove it",
                        status.name()
                    ),
                );
            }
        }
        return (None, None, None);
    }
    let mut date = |field: &str, v: &Option<S<String>>| {
        let v = v.as_ref()?;
        match chrono::NaiveDate::parse_from_str(v.value.trim(), "%Y-%m-%d") {
            Ok(d) => Some(d),
            Err(_) => {
                cx.error(
                    &v.referenced,
                    f(field),
                    format!("`{}` is not a date; write YYYY-MM-DD", v.value),
                );
                None
            }
        }
    };
    let deprecated_on = date("deprecated_on", &raw.deprecated_on);
    let sunset_on = date("sunset_on", &raw.sunset_on);
    if let (Some(d), Some(s), Some(loc)) = (deprecated_on, sunset_on, &raw.sunset_on)
        && s < d
    {
        cx.error(
            &loc.referenced,
            f("sunset_on"),
            format!("sunset_on {s} is before deprecated_on {d}; a version is deprecated first, then sunset"),
        );
    }
    let replaced_by = raw.replaced_by.as_ref().and_then(|r| {
        let text = r.value.trim();
        match resolve(text) {
            Some(target) if target == id => {
                cx.error(
                    &r.referenced,
                    f("replaced_by"),
                    format!("`{text}` is this metric itself; name the version to use instead"),
                );
                None
            }
            Some(target) => Some(MetricRef {
                reference: text.to_string(),
                id: target,
            }),
            None => {
                let (mname, _) = parse_input(text);
                if all_names.contains(&mname.as_str()) {
                    cx.error(
                        &r.referenced,
                        f("replaced_by"),
                        format!("metric `{text}` has no such version, or no active version"),
                    );
                } else {
                    cx.suggest(
                        &r.referenced,
                        f("replaced_by"),
                        format!("unknown metric `{mname}`"),
                        &mname,
                        all_names,
                    );
                }
                None
            }
        }
    });
    (deprecated_on, sunset_on, replaced_by)
}

fn resolve_measure(
    cx: &mut Ctx,
    models: &[Model],
    m: &S<String>,
    field: String,
) -> Option<MetricKind> {
    let all: Vec<String> = models
        .iter()
        .flat_map(|md| {
            md.measures
                .iter()
                .map(move |x| format!("{}.{}", md.name, x.name))
        })
        .collect();
    let all_ref: Vec<&str> = all.iter().map(String::as_str).collect();
    let candidates: Vec<(ModelId, usize)> = match m.value.split_once('.') {
        Some((model, measure)) => models
            .iter()
            .filter(|md| md.name == model)
            .filter_map(|md| md.measure(measure).map(|(i, _)| (md.id, i)))
            .collect(),
        None => models
            .iter()
            .filter_map(|md| md.measure(&m.value).map(|(i, _)| (md.id, i)))
            .collect(),
    };
    match candidates.as_slice() {
        [(model, measure)] => Some(MetricKind::Simple {
            model: *model,
            measure: *measure,
        }),
        [] => {
            cx.suggest(
                &m.referenced,
                field,
                format!("unknown measure `{}`", m.value),
                &m.value,
                &all_ref,
            );
            None
        }
        many => {
            let names: Vec<String> = many
                .iter()
                .map(|(md, i)| {
                    format!(
                        "{}.{}",
                        models[md.0 as usize].name, models[md.0 as usize].measures[*i].name
                    )
                })
                .collect();
            cx.error(
                &m.referenced,
                field,
                format!(
                    "measure `{}` is ambiguous; write one of {}",
                    m.value,
                    names.join(", ")
                ),
            );
            None
        }
    }
}

fn check_cycles(metrics: &[Metric], diags: &mut Diagnostics) {
    fn inputs(m: &Metric) -> Vec<MetricId> {
        match &m.kind {
            MetricKind::Simple { .. } => vec![],
            MetricKind::Ratio {
                numerator,
                denominator,
            } => vec![numerator.metric, denominator.metric],
            MetricKind::Derived { inputs, .. } => inputs.iter().map(|i| i.metric).collect(),
            MetricKind::Cumulative { input, .. } => vec![input.metric],
            MetricKind::Conversion(_) => vec![],
        }
    }
    // 0 = unvisited, 1 = on the stack, 2 = done.
    let mut state = vec![0u8; metrics.len()];
    fn visit(
        i: usize,
        metrics: &[Metric],
        state: &mut [u8],
        stack: &mut Vec<usize>,
        diags: &mut Diagnostics,
    ) {
        state[i] = 1;
        stack.push(i);
        for next in inputs(&metrics[i]) {
            let n = next.0 as usize;
            if state[n] == 1 {
                let start = stack.iter().position(|x| *x == n).unwrap_or(0);
                let mut names: Vec<String> = stack[start..]
                    .iter()
                    .map(|x| metrics[*x].qualified_name())
                    .collect();
                names.push(metrics[n].qualified_name());
                let m = &metrics[n];
                diags.push(Diagnostic::new(
                    Some(m.pos.clone()),
                    format!("metrics.{}", m.name),
                    format!(
                        "metrics depend on each other in a cycle: {}",
                        names.join(" -> ")
                    ),
                ));
            } else if state[n] == 0 {
                visit(n, metrics, state, stack, diags);
            }
        }
        stack.pop();
        state[i] = 2;
    }
    for i in 0..metrics.len() {
        if state[i] == 0 {
            visit(i, metrics, &mut state, &mut Vec::new(), diags);
        }
    }
}

/// Plans each metric alone so its filters and join paths are checked by the
/// same code that will run them.
fn check_metric_plans(catalog: &Catalog, plans: &dyn super::PlanCheck, diags: &mut Diagnostics) {
    if !diags.is_empty() {
        // Cycles or missing inputs would make planning meaningless.
        return;
    }
    let today = crate::lifecycle::today();
    for m in &catalog.metrics {
        // A version past its sunset no longer plans (queries get an error
        // naming its replacement); that is its lifecycle, not a mistake.
        if crate::lifecycle::is_sunset(m, today) {
            continue;
        }
        let q = super::validate_time::validation_query(catalog, m);
        if let Err(e) = plans.check(catalog, &q) {
            // Point at the filter when the error names something it says.
            let in_filter = m.filter_text.as_deref().is_some_and(|f| {
                e.message
                    .split('`')
                    .skip(1)
                    .step_by(2)
                    .any(|name| !name.is_empty() && f.contains(name))
            });
            let (pos, field) = match (&m.filter_pos, in_filter) {
                (Some(p), true) => (p.clone(), format!("metrics.{}.filter", m.name)),
                _ => (m.pos.clone(), format!("metrics.{}", m.name)),
            };
            diags.push(
                Diagnostic::new(Some(pos), field, e.to_string())
                    .with_suggestions(e.suggestions().to_vec()),
            );
        }
    }
}
