//! Queries with time intelligence: cumulative metrics, derived metrics with
//! offset inputs, and metrics with `fill_nulls_with`.
//!
//! The plain metrics underneath ("series") are planned by [`super::build`]
//! per period (`metric_time` at the query's grain) and per other dimension,
//! over the query's range widened backwards as far as the windows need.
//! Their statements become CTEs. A spine ([`super::spine`]) crossed with the
//! dimension values seen gives one row per period and group, the series are
//! LEFT JOINed onto it (periods without facts read NULL or
//! `fill_nulls_with`), and each window is one window function with a ROWS
//! frame over that dense series: a trailing window is `SUM .. ROWS n-1
//! PRECEDING`, a grain-to-date total partitions by the enclosing period, an
//! offset reads the row `n` periods back. Cost is linear in periods × groups;
//! nothing joins the spine to itself.
//!
//! Semantics (docs/definitions.md, Time intelligence):
//! - a window or offset is a whole number of query periods, and a
//!   grain-to-date grain is one the query's periods nest in; anything else
//!   (a 7-day window at month grain, `1 month` at day grain) is refused, as
//!   any answer would be a choice accord does not make silently;
//! - without `metric_time`, a running total is the total of everything up
//!   to the range's end; trailing windows, grain-to-date and offsets need
//!   `metric_time` and are refused without it;
//! - the output covers the query's `time_range` (period starts from the
//!   start's period up to the last period starting before the end); a
//!   missing side comes from the data (earliest/latest period with facts of
//!   any series).

use chrono::NaiveDateTime;

use crate::access::{Access, Caller};
use crate::catalog::time::{CumulativeWindow, TimeOffset};
use crate::catalog::{Catalog, DimensionKind, Grain, Metric, MetricId, MetricKind};
use crate::definitions::time_intelligent;
use crate::diagnostics::closest;
use crate::query::{DimensionRef, Filter, SemanticQuery, TimeRange, parse_metric_ref};
use crate::sql::ast::*;

use super::filters::structured;
use super::metrics::MetricTree;
use super::spine::{self, Bound, WeekStart};
use super::{ColumnRole, ErrorCode, OutputColumn, Plan, PlanError};

/// Does this query need the time-intelligence planner?
pub fn applies(catalog: &Catalog, q: &SemanticQuery) -> bool {
    q.metrics.iter().any(|text| {
        resolve(catalog, text)
            .is_some_and(|m| time_intelligent(catalog, m.id, 0) || m.fill_nulls_with.is_some())
    })
}

fn resolve<'c>(catalog: &'c Catalog, text: &str) -> Option<&'c Metric> {
    let (name, version) = parse_metric_ref(text).ok()?;
    match version {
        Some(v) => catalog.metric_version(&name, v),
        None => catalog.default_metric(&name),
    }
}

pub use crate::catalog::time::{natural_grain, nests};

/// A plain metric computed per period by the plain planner.
struct Series {
    metric: MetricId,
    /// Computed over all history up to the range's end (running totals).
    unbounded: bool,
    column: String,
    fill: Option<String>,
    integer: bool,
}

/// A window function over one series.
#[derive(Debug, Clone, Copy)]
enum Win {
    /// SUM over the `preceding` periods before and the current one
    /// (`None`: from the first), restarting at each `partition` period.
    Sum {
        preceding: Option<u64>,
        partition: Option<Grain>,
    },
    /// The value `n` periods earlier.
    Lag(u64),
    /// The value at the first period of the enclosing `grain`.
    AtStart(Grain),
}

struct Window {
    series: usize,
    win: Win,
    column: String,
}

enum Node {
    Series(usize),
    Window(usize),
    Ratio(Box<Node>, Box<Node>),
    Derived(Expr, Vec<(String, Node)>),
}

struct Planner<'a> {
    catalog: &'a Catalog,
    grain: Option<Grain>,
    week: WeekStart,
    series: Vec<Series>,
    windows: Vec<Window>,
}

fn invalid(msg: impl Into<String>) -> PlanError {
    PlanError::new(ErrorCode::InvalidQuery, msg)
}

impl Planner<'_> {
    fn series(&mut self, metric: MetricId, unbounded: bool) -> usize {
        if let Some(i) = self
            .series
            .iter()
            .position(|s| s.metric == metric && s.unbounded == unbounded)
        {
            return i;
        }
        let m = self.catalog.metric(metric);
        self.series.push(Series {
            metric,
            unbounded,
            column: format!("__v{}", self.series.len()),
            fill: m.fill_nulls_with.clone(),
            integer: false,
        });
        self.series.len() - 1
    }

    fn window(&mut self, series: usize, win: Win) -> Node {
        self.windows.push(Window {
            series,
            win,
            column: format!("__w{}", self.windows.len()),
        });
        Node::Window(self.windows.len() - 1)
    }

    fn needs_time(&self, name: &str, what: &str) -> PlanError {
        invalid(format!(
            "`{name}` ({what}) is defined per period; add metric_time with a grain to the dimensions (e.g. `metric_time:day`)"
        ))
    }

    fn node(&mut self, id: MetricId, offset: Option<TimeOffset>) -> Result<Node, PlanError> {
        let catalog = self.catalog;
        let m = catalog.metric(id);
        if let Some(off) = offset {
            let Some(g) = self.grain else {
                return Err(self.needs_time(&m.name, &off.describe()));
            };
            let s = self.series(id, false);
            let win = match off {
                TimeOffset::Window(span) => Win::Lag(span.periods_of(g).ok_or_else(|| {
                    invalid(format!(
                        "an input of `{}` is read {span} earlier, which is not a whole number of {g}s; query metric_time at a grain {span} is made of (e.g. `metric_time:{}`)",
                        m.name, span.unit
                    ))
                })?),
                TimeOffset::ToGrain(to) => {
                    if !nests(to, g) {
                        return Err(invalid(format!(
                            "an input of `{}` is read at the start of each {to}, but {g}s do not nest in {to}s; query metric_time at a grain that does (e.g. `metric_time:day`)",
                            m.name
                        )));
                    }
                    Win::AtStart(to)
                }
            };
            return Ok(self.window(s, win));
        }
        if !time_intelligent(catalog, id, 0) {
            return Ok(Node::Series(self.series(id, false)));
        }
        match &m.kind {
            MetricKind::Cumulative { input, window } => {
                let Some(g) = self.grain else {
                    return match window {
                        // Without periods, a running total is everything
                        // up to the range's end.
                        CumulativeWindow::RunningTotal => {
                            Ok(Node::Series(self.series(input.metric, true)))
                        }
                        w => Err(self.needs_time(&m.name, &w.describe())),
                    };
                };
                let win = match window {
                    CumulativeWindow::RunningTotal => Win::Sum {
                        preceding: None,
                        partition: None,
                    },
                    CumulativeWindow::Trailing(span) => {
                        let n = span.periods_of(g).ok_or_else(|| {
                            invalid(format!(
                                "`{}` adds up a trailing {span}, which is not a whole number of {g}s: at metric_time:{g} any value would be a guess (first, last or average of the {}s); query metric_time:{} or another grain {span} is made of",
                                m.name, span.unit, span.unit
                            ))
                        })?;
                        Win::Sum {
                            preceding: Some(n - 1),
                            partition: None,
                        }
                    }
                    CumulativeWindow::GrainToDate(to) => {
                        if !nests(*to, g) {
                            return Err(invalid(format!(
                                "`{}` is a {to}-to-date total, which is defined at grains that nest in a {to} (hour, day{}); query metric_time at one of them",
                                m.name,
                                match to {
                                    Grain::Week => ", week",
                                    Grain::Month => ", month",
                                    Grain::Quarter => ", month, quarter",
                                    Grain::Year => ", month, quarter, year",
                                    _ => "",
                                }
                            )));
                        }
                        Win::Sum {
                            preceding: None,
                            partition: Some(*to),
                        }
                    }
                };
                let unbounded = matches!(window, CumulativeWindow::RunningTotal);
                let s = self.series(input.metric, unbounded);
                Ok(self.window(s, win))
            }
            MetricKind::Ratio {
                numerator,
                denominator,
            } => Ok(Node::Ratio(
                Box::new(self.node(numerator.metric, None)?),
                Box::new(self.node(denominator.metric, None)?),
            )),
            MetricKind::Derived { expr, inputs } => {
                let mut children = Vec::new();
                for i in inputs {
                    children.push((i.alias.clone(), self.node(i.metric, i.offset)?));
                }
                Ok(Node::Derived(expr.clone(), children))
            }
            MetricKind::Simple { .. } | MetricKind::Conversion(_) => {
                Ok(Node::Series(self.series(id, false)))
            }
        }
    }

    /// Periods before the output's first period that a window reads.
    fn reach_back(&self, w: &Window, g: Grain, out_lo: NaiveDateTime) -> Option<NaiveDateTime> {
        match w.win {
            Win::Sum {
                preceding: None,
                partition: None,
            } => None,
            Win::Sum {
                preceding: Some(n), ..
            }
            | Win::Lag(n) => Some(spine::add(g, out_lo, -(n as i64))),
            Win::Sum {
                partition: Some(to),
                ..
            }
            | Win::AtStart(to) => Some(spine::align(to, out_lo, self.week)),
        }
    }
}

/// Lowers a node to an expression over the calc CTE's columns.
fn to_tree(node: &Node, columns: &mut Vec<Expr>, planner: &Planner) -> MetricTree {
    match node {
        Node::Series(i) => {
            columns.push(Expr::bare(&planner.series[*i].column));
            MetricTree::Leaf(columns.len() - 1)
        }
        Node::Window(i) => {
            columns.push(Expr::bare(&planner.windows[*i].column));
            MetricTree::Leaf(columns.len() - 1)
        }
        Node::Ratio(a, b) => MetricTree::Ratio(
            Box::new(to_tree(a, columns, planner)),
            Box::new(to_tree(b, columns, planner)),
        ),
        Node::Derived(e, children) => MetricTree::Derived(
            e.clone(),
            children
                .iter()
                .map(|(a, n)| (a.clone(), to_tree(n, columns, planner)))
                .collect(),
        ),
    }
}

fn coalesce(e: Expr, fill: &Option<String>) -> Expr {
    match fill {
        Some(v) => Expr::Func {
            name: "COALESCE".into(),
            args: vec![e, Expr::Lit(Literal::Number(v.clone()))],
            distinct: false,
        },
        None => e,
    }
}

/// `a = b`, true also when both are NULL (a group whose key is NULL).
fn same(a: Expr, b: Expr) -> Expr {
    Expr::Nested(Box::new(Expr::binary(
        BinOp::Or,
        Expr::binary(BinOp::Eq, a.clone(), b.clone()),
        Expr::binary(
            BinOp::And,
            Expr::IsNull {
                expr: Box::new(a),
                negated: false,
            },
            Expr::IsNull {
                expr: Box::new(b),
                negated: false,
            },
        ),
    )))
}

fn select(projection: Vec<SelectItem>, from: TableRef) -> Select {
    Select {
        projection,
        from: Some(from),
        joins: Vec::new(),
        selection: None,
        group_by: Vec::new(),
        having: None,
    }
}

fn item(expr: Expr, alias: &str) -> SelectItem {
    SelectItem {
        expr,
        alias: Some(Ident::generated(alias)),
    }
}

fn named(name: &str, alias: Option<&str>) -> TableRef {
    TableRef::Named {
        name: Ident::generated(name),
        alias: alias.map(Ident::generated),
    }
}

pub fn plan(catalog: &Catalog, q: &SemanticQuery, caller: &Caller) -> Result<Plan, PlanError> {
    let access = Access::resolve(catalog, caller)?;
    let week = super::timezone::week_start(q)?;
    super::timezone::zone(q)?;

    // Dimensions: at most one metric_time, with a grain.
    let mut dims: Vec<DimensionRef> = Vec::new();
    let mut time_dim: Option<(usize, Grain)> = None;
    for (i, text) in q.dimensions.iter().enumerate() {
        let r = DimensionRef::parse(text).map_err(|e| e.at(format!("dimensions[{i}]")))?;
        if r.is_metric_time() {
            if time_dim.is_some() {
                return Err(invalid(
                    "metric_time appears twice; time intelligence works on one time series",
                )
                .at(format!("dimensions[{i}]")));
            }
            let g = r.grain.ok_or_else(|| {
                invalid("with cumulative, offset or gap-filled metrics, write metric_time with a grain (e.g. `metric_time:day`)")
                    .at(format!("dimensions[{i}]"))
            })?;
            time_dim = Some((i, g));
        }
        dims.push(r);
    }
    let grain = time_dim.map(|(_, g)| g);
    let keys: Vec<(usize, String)> = dims
        .iter()
        .enumerate()
        .filter(|(_, r)| !r.is_metric_time())
        .map(|(i, r)| (i, r.alias()))
        .collect();

    // Requested metrics → nodes over series and windows.
    let mut planner = Planner {
        catalog,
        grain,
        week,
        series: Vec::new(),
        windows: Vec::new(),
    };
    let mut requested: Vec<(String, &Metric, Node)> = Vec::new();
    let mut warnings = Vec::new();
    for (i, text) in q.metrics.iter().enumerate() {
        let field = format!("metrics[{i}]");
        // A hidden metric is worded as an unknown one, by the plain planner.
        let Some(m) = resolve(catalog, text).filter(|m| access.metric_visible(m.id)) else {
            // The plain planner words unknown names (with suggestions).
            return super::build::plan(
                catalog,
                &SemanticQuery {
                    metrics: vec![text.clone()],
                    ..Default::default()
                },
                caller,
            )
            .map_err(|e| e.at(&field))
            .and(Err(invalid(format!("unknown metric `{text}`")).at(&field)));
        };
        warnings.extend(
            crate::lifecycle::check_use(catalog, m, crate::lifecycle::today())
                .map_err(|e| e.at(&field))?,
        );
        let alias = match parse_metric_ref(text)?.1 {
            Some(v) => format!("{}_v{v}", m.name),
            None => m.name.clone(),
        };
        if requested.iter().any(|(a, _, _)| *a == alias) {
            return Err(invalid(format!("metric `{text}` is requested twice")).at(&field));
        }
        let node = planner.node(m.id, None).map_err(|e| e.at(&field))?;
        requested.push((alias, m, node));
    }
    if planner.series.is_empty() {
        return Err(invalid("a query needs at least one metric").at("metrics"));
    }

    // The output range and how far back the windows read.
    let (start, end) = match &q.time_range {
        Some(TimeRange { start, end }) => (
            super::timezone::parse_bound(start, "start")?,
            super::timezone::parse_bound(end, "end")?,
        ),
        None => (None, None),
    };
    let out_lo = grain.zip(start).map(|(g, s)| spine::align(g, s, week));
    let out_hi = grain
        .zip(end)
        .map(|(g, e)| spine::align(g, e - chrono::Duration::seconds(1), week));
    let any_unbounded = planner.series.iter().any(|s| s.unbounded);
    let fetch_from: Option<NaiveDateTime> = match (grain, out_lo) {
        (Some(g), Some(lo)) => Some(
            planner
                .windows
                .iter()
                .filter_map(|w| planner.reach_back(w, g, lo))
                .fold(lo, |a, b| a.min(b)),
        ),
        _ => start,
    };
    let fmt = |t: NaiveDateTime| t.format("%Y-%m-%d %H:%M:%S").to_string();

    // Series sub-plans: one for bounded series, one for unbounded.
    let post_filters: Vec<(usize, &Filter)> = q
        .filters
        .iter()
        .enumerate()
        .filter(|(_, f)| requested.iter().any(|(a, _, _)| *a == f.dimension))
        .collect();
    let row_filters: Vec<Filter> = q
        .filters
        .iter()
        .filter(|f| !requested.iter().any(|(a, _, _)| *a == f.dimension))
        .cloned()
        .collect();
    let time_alias = time_dim.map(|(i, _)| dims[i].alias());
    let mut ctes: Vec<Cte> = Vec::new();
    let mut subplans: Vec<(String, Vec<usize>)> = Vec::new();
    let mut key_kinds: Vec<DimensionKind> = vec![DimensionKind::Categorical; keys.len()];
    let mut models: Vec<String> = Vec::new();
    let mut policies: Vec<String> = Vec::new();
    for unbounded in [false, true] {
        let members: Vec<usize> = (0..planner.series.len())
            .filter(|i| planner.series[*i].unbounded == unbounded)
            .collect();
        if members.is_empty() {
            continue;
        }
        let range = if unbounded {
            end.map(|e| TimeRange {
                start: None,
                end: Some(fmt(e)),
            })
        } else if fetch_from.is_some() || end.is_some() {
            Some(TimeRange {
                start: fetch_from.map(fmt),
                end: end.map(fmt),
            })
        } else {
            None
        };
        let sub = SemanticQuery {
            metrics: members
                .iter()
                .map(|i| catalog.metric(planner.series[*i].metric).qualified_name())
                .collect(),
            dimensions: q.dimensions.clone(),
            filters: row_filters.clone(),
            where_sql: q.where_sql.clone(),
            filter: q.filter.clone(),
            time_range: range,
            purpose: q.purpose.clone(),
            week_start: q.week_start.clone(),
            time_zone: q.time_zone.clone(),
            ..Default::default()
        };
        let p = super::build::plan(catalog, &sub, caller)?;
        let name = format!("__s{}", subplans.len());
        for c in &p.columns {
            match &c.role {
                ColumnRole::Metric {
                    metric,
                    version,
                    integer,
                } => {
                    if let Some(i) = members.iter().find(|i| {
                        let m = catalog.metric(planner.series[**i].metric);
                        m.name == *metric && m.version == *version
                    }) {
                        planner.series[*i].integer = *integer;
                    }
                }
                ColumnRole::Dimension { kind, .. } => {
                    if let Some(k) = keys.iter().position(|(_, a)| *a == c.name) {
                        key_kinds[k] = *kind;
                    }
                }
            }
        }
        for w in p.warnings {
            if !warnings.contains(&w) {
                warnings.push(w);
            }
        }
        for m in p.models {
            if !models.contains(&m) {
                models.push(m);
            }
        }
        for x in p.policies {
            if !policies.contains(&x) {
                policies.push(x);
            }
        }
        let (mut hoisted, body) = hoist(p.query, &format!("{name}_"));
        ctes.append(&mut hoisted);
        ctes.push(Cte {
            name: Ident::generated(name.clone()),
            query: body,
        });
        subplans.push((name, members));
    }
    let metric_col = |i: usize| {
        let m = catalog.metric(planner.series[i].metric);
        format!("{}_v{}", m.name, m.version)
    };

    // Spine.
    if let (Some(g), Some(talias)) = (grain, &time_alias) {
        let facts = || {
            let branches: Vec<Select> = subplans
                .iter()
                .map(|(n, _)| select(vec![item(Expr::bare(talias), "__period")], named(n, None)))
                .collect();
            Query {
                ctes: Vec::new(),
                body: SetExpr::UnionAll(branches),
                order_by: Vec::new(),
                limit: None,
                offset: None,
            }
        };
        let data_min = || Expr::Aggregate {
            agg: crate::catalog::Aggregation::Min,
            arg: Some(Box::new(Expr::bare("__period"))),
        };
        let lo = match (fetch_from.map(|t| spine::align(g, t, week)), any_unbounded) {
            (Some(l), false) => Bound::Literal(l),
            (Some(l), true) => Bound::Data(Expr::Case {
                operand: None,
                whens: vec![(
                    Expr::binary(BinOp::Lt, data_min(), Expr::Lit(Literal::Timestamp(l))),
                    data_min(),
                )],
                otherwise: Some(Box::new(Expr::Lit(Literal::Timestamp(l)))),
            }),
            (None, _) => Bound::Data(data_min()),
        };
        let hi = match out_hi {
            Some(h) => Bound::Literal(h),
            None => Bound::Data(Expr::Aggregate {
                agg: crate::catalog::Aggregation::Max,
                arg: Some(Box::new(Expr::bare("__period"))),
            }),
        };
        let dynamic = matches!(lo, Bound::Data(_)) || matches!(hi, Bound::Data(_));
        if dynamic && g == Grain::Hour {
            return Err(invalid(
                "an hourly series with cumulative, offset or gap-filled metrics needs a time_range with both start and end (and running totals, whose start comes from the data, are not available by hour)",
            )
            .at("time_range"));
        }
        ctes.extend(spine::ctes(g, lo, hi, dynamic.then(facts)));
    }

    // Groups: every combination of the other dimensions seen in any series.
    if !keys.is_empty() {
        let branches: Vec<Select> = subplans
            .iter()
            .map(|(n, _)| {
                select(
                    keys.iter().map(|(_, a)| item(Expr::bare(a), a)).collect(),
                    named(n, None),
                )
            })
            .collect();
        let mut s = select(
            keys.iter().map(|(_, a)| item(Expr::bare(a), a)).collect(),
            TableRef::Subquery {
                query: Box::new(Query {
                    ctes: Vec::new(),
                    body: SetExpr::UnionAll(branches),
                    order_by: Vec::new(),
                    limit: None,
                    offset: None,
                }),
                alias: Ident::generated("__all"),
            },
        );
        s.group_by = (1..=keys.len()).collect();
        ctes.push(Cte {
            name: Ident::generated("__groups"),
            query: Query::select(s),
        });
    }

    // Dense: one row per (period, group) with each series' value.
    let mut proj: Vec<SelectItem> = keys
        .iter()
        .map(|(_, a)| item(Expr::col("__g", a), a))
        .collect();
    let (from, mut joins) = match (grain.is_some(), keys.is_empty()) {
        (true, true) => (named("__spine", Some("__t")), Vec::new()),
        (true, false) => (
            named("__spine", Some("__t")),
            vec![Join {
                kind: JoinKind::Cross,
                table: named("__groups", Some("__g")),
                on: None,
            }],
        ),
        (false, false) => (named("__groups", Some("__g")), Vec::new()),
        (false, true) => (
            TableRef::Subquery {
                query: Box::new(Query::select(Select {
                    projection: vec![item(Expr::Lit(Literal::Number("1".into())), "__one")],
                    from: None,
                    joins: Vec::new(),
                    selection: None,
                    group_by: Vec::new(),
                    having: None,
                })),
                alias: Ident::generated("__t"),
            },
            Vec::new(),
        ),
    };
    if grain.is_some() {
        proj.push(item(Expr::col("__t", "__period"), "__period"));
    }
    for (si, (name, members)) in subplans.iter().enumerate() {
        let alias = format!("__j{si}");
        let mut on: Vec<Expr> = keys
            .iter()
            .map(|(_, a)| same(Expr::col(&alias, a), Expr::col("__g", a)))
            .collect();
        if let Some(t) = &time_alias {
            on.push(Expr::binary(
                BinOp::Eq,
                Expr::col(&alias, t),
                Expr::col("__t", "__period"),
            ));
        }
        joins.push(Join {
            kind: JoinKind::Left,
            table: named(name, Some(&alias)),
            on: Some(Expr::and_all(on).unwrap_or_else(|| {
                Expr::binary(
                    BinOp::Eq,
                    Expr::Lit(Literal::Number("1".into())),
                    Expr::Lit(Literal::Number("1".into())),
                )
            })),
        });
        for i in members {
            let s = &planner.series[*i];
            proj.push(item(
                coalesce(Expr::col(&alias, &metric_col(*i)), &s.fill),
                &s.column,
            ));
        }
    }
    let mut dense = select(proj, from);
    dense.joins = joins;
    ctes.push(Cte {
        name: Ident::generated("__dense"),
        query: Query::select(dense),
    });

    // Windows over the dense series.
    let key_cols: Vec<Expr> = keys.iter().map(|(_, a)| Expr::bare(a)).collect();
    let mut calc: Vec<SelectItem> = key_cols
        .iter()
        .zip(&keys)
        .map(|(e, (_, a))| item(e.clone(), a))
        .collect();
    if grain.is_some() {
        calc.push(item(Expr::bare("__period"), "__period"));
    }
    for s in &planner.series {
        calc.push(item(Expr::bare(&s.column), &s.column));
    }
    for w in &planner.windows {
        let value = Expr::bare(&planner.series[w.series].column);
        let period = Expr::bare("__period");
        let (name, args, partition, frame) = match w.win {
            Win::Sum {
                preceding,
                partition,
            } => {
                let mut parts = key_cols.clone();
                if let Some(to) = partition {
                    parts.push(spine::trunc(to, period.clone(), week));
                }
                (
                    "SUM",
                    vec![value],
                    parts,
                    Some(WindowFrame {
                        start: match preceding {
                            Some(0) => FrameBound::CurrentRow,
                            Some(n) => FrameBound::Preceding(n),
                            None => FrameBound::UnboundedPreceding,
                        },
                        end: FrameBound::CurrentRow,
                    }),
                )
            }
            // One row exactly n back; MAX of one value is that value, and
            // ROWS frames exist everywhere LAG does not (ClickHouse).
            Win::Lag(n) => (
                "MAX",
                vec![value],
                key_cols.clone(),
                Some(WindowFrame {
                    start: FrameBound::Preceding(n),
                    end: FrameBound::Preceding(n),
                }),
            ),
            Win::AtStart(to) => {
                let start = spine::trunc(to, period.clone(), week);
                let mut parts = key_cols.clone();
                parts.push(start.clone());
                (
                    "MAX",
                    vec![Expr::Case {
                        operand: None,
                        whens: vec![(Expr::binary(BinOp::Eq, period.clone(), start), value)],
                        otherwise: None,
                    }],
                    parts,
                    None,
                )
            }
        };
        let order_by = match w.win {
            Win::AtStart(_) => Vec::new(),
            _ => vec![period],
        };
        calc.push(item(
            Expr::Window {
                name: name.into(),
                args,
                partition_by: partition,
                order_by,
                frame,
            },
            &w.column,
        ));
    }
    ctes.push(Cte {
        name: Ident::generated("__calc"),
        query: Query::select(select(calc, named("__dense", None))),
    });

    // Output: the requested dimensions in order, then the metrics.
    let mut projection: Vec<SelectItem> = Vec::new();
    let mut columns: Vec<OutputColumn> = Vec::new();
    for (i, r) in dims.iter().enumerate() {
        let alias = r.alias();
        if r.is_metric_time() {
            projection.push(item(Expr::bare("__period"), &alias));
            columns.push(OutputColumn {
                name: alias,
                role: ColumnRole::Dimension {
                    reference: r.raw.clone(),
                    kind: DimensionKind::Time {
                        granularity: grain.unwrap_or(Grain::Day),
                    },
                },
            });
        } else {
            let k = keys.iter().position(|(j, _)| *j == i).unwrap_or(0);
            projection.push(item(Expr::bare(&alias), &alias));
            columns.push(OutputColumn {
                name: alias,
                role: ColumnRole::Dimension {
                    reference: r.raw.clone(),
                    kind: key_kinds[k],
                },
            });
        }
    }
    let mut lowered: Vec<(String, Expr)> = Vec::new();
    for (alias, m, node) in &requested {
        let mut cols = Vec::new();
        let tree = to_tree(node, &mut cols, &planner);
        let expr = coalesce(tree.lower(&|i| cols[i].clone()), &m.fill_nulls_with);
        let integer = match node {
            Node::Series(i) => planner.series[*i].integer,
            Node::Window(w) => planner.series[planner.windows[*w].series].integer,
            _ => false,
        };
        projection.push(item(expr.clone(), alias));
        columns.push(OutputColumn {
            name: alias.clone(),
            role: ColumnRole::Metric {
                metric: m.name.clone(),
                version: m.version,
                integer,
            },
        });
        lowered.push((alias.clone(), expr));
    }
    let mut conditions: Vec<Expr> = Vec::new();
    if let Some(lo) = out_lo {
        conditions.push(Expr::binary(
            BinOp::GtEq,
            Expr::bare("__period"),
            Expr::Lit(Literal::Timestamp(lo)),
        ));
    }
    for (i, f) in &post_filters {
        if let Some((_, e)) = lowered.iter().find(|(a, _)| *a == f.dimension) {
            conditions
                .push(structured(e.clone(), None, f).map_err(|e| e.at(format!("filters[{i}]")))?);
        }
    }

    // Ordering: as asked, then every dimension.
    let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
    let mut order: Vec<OrderItem> = Vec::new();
    let mut ordered: Vec<String> = Vec::new();
    for (i, o) in q.order_by.iter().enumerate() {
        let (field, desc) = o.field_and_desc();
        let name = columns
            .iter()
            .find(|c| {
                c.name == field
                    || matches!(&c.role, ColumnRole::Dimension { reference, .. } if *reference == field)
            })
            .map(|c| c.name.clone())
            .ok_or_else(|| {
                invalid(format!(
                    "cannot order by `{field}`: it is not a metric or dimension of this query"
                ))
                .with_suggestions(closest(&field, names.iter().copied()))
                .at(format!("order_by[{i}]"))
            })?;
        if !ordered.contains(&name) {
            order.push(OrderItem {
                expr: Expr::bare(&name),
                desc,
            });
            ordered.push(name);
        }
    }
    for r in &dims {
        let a = r.alias();
        if !ordered.contains(&a) {
            order.push(OrderItem {
                expr: Expr::bare(&a),
                desc: false,
            });
            ordered.push(a);
        }
    }
    let mut out = select(projection, named("__calc", None));
    out.selection = Expr::and_all(conditions);
    Ok(Plan {
        query: Query {
            ctes,
            body: SetExpr::Select(Box::new(out)),
            order_by: order,
            limit: q.limit,
            offset: q.offset,
        },
        columns,
        metrics: requested.iter().map(|(_, m, _)| m.id).collect(),
        warnings,
        models,
        policies,
    })
}

/// A planned statement as a CTE body: its own CTEs move to the top level
/// under `prefix` (nested WITH is not accepted everywhere), and ordering
/// and paging are dropped (the outer query orders).
fn hoist(q: Query, prefix: &str) -> (Vec<Cte>, Query) {
    let names: Vec<String> = q.ctes.iter().map(|c| c.name.value.clone()).collect();
    let rename = |n: &str| format!("{prefix}{n}");
    let mut out = Vec::new();
    for c in q.ctes {
        out.push(Cte {
            name: Ident::generated(rename(&c.name.value)),
            query: rename_query(c.query, &names, prefix),
        });
    }
    let body = rename_query(
        Query {
            ctes: Vec::new(),
            body: q.body,
            order_by: Vec::new(),
            limit: None,
            offset: None,
        },
        &names,
        prefix,
    );
    (out, body)
}

fn rename_query(mut q: Query, names: &[String], prefix: &str) -> Query {
    q.body = match q.body {
        SetExpr::Select(s) => SetExpr::Select(Box::new(rename_select(*s, names, prefix))),
        SetExpr::UnionAll(v) => SetExpr::UnionAll(
            v.into_iter()
                .map(|s| rename_select(s, names, prefix))
                .collect(),
        ),
    };
    q.ctes = q
        .ctes
        .into_iter()
        .map(|c| Cte {
            name: c.name,
            query: rename_query(c.query, names, prefix),
        })
        .collect();
    q
}

fn rename_table(t: TableRef, names: &[String], prefix: &str) -> TableRef {
    match t {
        TableRef::Named { name, alias } if names.contains(&name.value) => TableRef::Named {
            // Keep the old name as the alias so qualified columns resolve.
            alias: alias.or_else(|| Some(name.clone())),
            name: Ident::generated(format!("{prefix}{}", name.value)),
        },
        TableRef::Subquery { query, alias } => TableRef::Subquery {
            query: Box::new(rename_query(*query, names, prefix)),
            alias,
        },
        other => other,
    }
}

fn rename_expr(e: Expr, names: &[String], prefix: &str) -> Expr {
    let renamed = e.try_transform::<std::convert::Infallible>(&mut |x| match x {
        Expr::Exists { query, negated } => Ok(Expr::Exists {
            query: Box::new(rename_query(*query, names, prefix)),
            negated,
        }),
        other => Ok(other),
    });
    match renamed {
        Ok(x) => x,
        Err(never) => match never {},
    }
}

fn rename_select(mut s: Select, names: &[String], prefix: &str) -> Select {
    s.from = s.from.map(|t| rename_table(t, names, prefix));
    s.joins = s
        .joins
        .into_iter()
        .map(|j| Join {
            kind: j.kind,
            table: rename_table(j.table, names, prefix),
            on: j.on.map(|e| rename_expr(e, names, prefix)),
        })
        .collect();
    s.projection = s
        .projection
        .into_iter()
        .map(|i| SelectItem {
            expr: rename_expr(i.expr, names, prefix),
            alias: i.alias,
        })
        .collect();
    s.selection = s.selection.map(|e| rename_expr(e, names, prefix));
    s.having = s.having.map(|e| rename_expr(e, names, prefix));
    s
}
