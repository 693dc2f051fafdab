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

use crate::catalog::time::{CumulativeWindow, TimeOffset};
use crate::catalog::{Aggregation, Catalog, DimensionKind, Grain, Metric, MetricId, MetricKind};
use crate::definitions::time_intelligent;
use crate::query::{DimensionRef, Filter, SemanticQuery, TimeRange};
use crate::sql::ast::*;

use super::filters::structured;
use super::metrics::MetricTree;
use super::nulls::{self, NullProbe, NullRule};
use super::request::{Kind, Request, lookup_metric};
use super::spine::{self, Bound, WeekStart};
use super::{ColumnRole, ErrorCode, OutputColumn, Plan, PlanError};

/// Does this query need the time-intelligence planner?
pub fn applies(catalog: &Catalog, q: &SemanticQuery) -> bool {
    applies_among(catalog, q, |_| true)
}

/// [`applies`], counting only the metrics `shown` lets through: for a
/// caller, a hidden metric is absent and cannot make its query one of
/// time intelligence.
pub fn applies_among(
    catalog: &Catalog,
    q: &SemanticQuery,
    shown: impl Fn(MetricId) -> bool,
) -> bool {
    q.metrics.iter().any(|text| {
        lookup_metric(catalog, text).is_some_and(|m| {
            shown(m.id) && (time_intelligent(catalog, m.id, 0) || m.fill_nulls_with.is_some())
        })
    })
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

/// Lowers a node to an expression over the calc CTE's columns, each
/// column with the series it reads.
fn to_tree(node: &Node, columns: &mut Vec<(Expr, usize)>, planner: &Planner) -> MetricTree {
    match node {
        Node::Series(i) => {
            columns.push((Expr::bare(&planner.series[*i].column), *i));
            MetricTree::Leaf(columns.len() - 1)
        }
        Node::Window(i) => {
            let w = &planner.windows[*i];
            columns.push((Expr::bare(&w.column), w.series));
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

/// The state one time-intelligence query is planned in.
struct Ti<'r, 'q, 'c> {
    req: &'r Request<'q, 'c>,
    planner: Planner<'c>,
    /// The query's period (`metric_time`'s grain), if any.
    grain: Option<Grain>,
    /// The column of `metric_time`, if asked.
    time_alias: Option<String>,
    /// The other dimensions: position in the request and column name.
    keys: Vec<(usize, String)>,
    /// What each key resolved to in the series plans.
    key_kinds: Vec<DimensionKind>,
    /// Per requested metric: column name, metric, and its node.
    requested: Vec<(String, &'c Metric, Node)>,
    /// Series plans: CTE name and the series it computes.
    subplans: Vec<(String, Vec<usize>)>,
    ctes: Vec<Cte>,
}

/// The output range and how far back the windows read.
struct Range {
    end: Option<NaiveDateTime>,
    out_lo: Option<NaiveDateTime>,
    out_hi: Option<NaiveDateTime>,
    fetch_from: Option<NaiveDateTime>,
}

pub fn plan(mut req: Request) -> Result<Plan, PlanError> {
    let week = super::timezone::week_start(req.query)?;
    let time_dim = time_dimension(&req)?;
    let mut warnings = std::mem::take(&mut req.warnings);
    let req = &req;
    let grain = time_dim.map(|(_, g)| g);
    let keys: Vec<(usize, String)> = req
        .dimensions
        .iter()
        .enumerate()
        .filter(|(_, r)| !r.is_metric_time())
        .map(|(i, r)| (i, r.alias()))
        .collect();
    let mut ti = Ti {
        req,
        planner: Planner {
            catalog: req.catalog,
            grain,
            week,
            series: Vec::new(),
            windows: Vec::new(),
        },
        grain,
        time_alias: time_dim.map(|(i, _)| req.dimensions[i].alias()),
        key_kinds: vec![DimensionKind::Categorical; keys.len()],
        keys,
        requested: Vec::new(),
        subplans: Vec::new(),
        ctes: Vec::new(),
    };
    // Requested metrics → nodes over series and windows.
    for m in &req.metrics {
        let node = ti
            .planner
            .node(m.metric.id, None)
            .map_err(|e| e.at(m.field()))?;
        ti.requested.push((m.alias.clone(), m.metric, node));
    }
    if ti.planner.series.is_empty() {
        return Err(invalid("a query needs at least one metric").at("metrics"));
    }
    let range = ti.range()?;
    let (models, policies) = ti.series_plans(&range, &mut warnings)?;
    ti.spine(&range)?;
    ti.groups();
    ti.dense();
    ti.windows();
    let Output {
        columns,
        projection,
        conditions,
        probes,
    } = ti.output(&range)?;
    let aliases: Vec<String> = req.dimensions.iter().map(DimensionRef::alias).collect();
    let order = super::build::ordering(
        req.query,
        &columns,
        &aliases,
        "it is not a metric or dimension of this query",
    )?;
    let mut out = Select::from(projection, TableRef::named("__calc", None));
    out.selection = Expr::and_all(conditions);
    Ok(Plan {
        query: Query {
            ctes: ti.ctes,
            body: SetExpr::Select(Box::new(out)),
            order_by: order,
            limit: req.query.limit,
            offset: req.query.offset,
        },
        columns,
        metrics: ti.requested.iter().map(|(_, m, _)| m.id).collect(),
        warnings,
        models,
        policies,
        valid_until: None,
        probes,
    })
}

/// At most one metric_time, with a grain: its position and grain.
fn time_dimension(req: &Request) -> Result<Option<(usize, Grain)>, PlanError> {
    let mut time_dim: Option<(usize, Grain)> = None;
    for (i, r) in req.dimensions.iter().enumerate() {
        if !r.is_metric_time() {
            continue;
        }
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
    Ok(time_dim)
}

/// Adds what `from` has and `into` lacks.
fn union_into(into: &mut Vec<String>, from: Vec<String>) {
    for x in from {
        if !into.contains(&x) {
            into.push(x);
        }
    }
}

impl Ti<'_, '_, '_> {
    fn range(&self) -> Result<Range, PlanError> {
        let (grain, week) = (self.grain, self.planner.week);
        let (start, end) = match &self.req.query.time_range {
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
        let fetch_from = match (grain, out_lo) {
            (Some(g), Some(lo)) => Some(
                self.planner
                    .windows
                    .iter()
                    .filter_map(|w| self.planner.reach_back(w, g, lo))
                    .fold(lo, |a, b| a.min(b)),
            ),
            _ => start,
        };
        Ok(Range {
            end,
            out_lo,
            out_hi,
            fetch_from,
        })
    }

    /// Series sub-plans, by the plain planner: one for bounded series, one
    /// for unbounded. Returns the models and policies they report.
    fn series_plans(
        &mut self,
        range: &Range,
        warnings: &mut Vec<String>,
    ) -> Result<(Vec<String>, Vec<String>), PlanError> {
        let (catalog, q) = (self.req.catalog, self.req.query);
        let fmt = |t: NaiveDateTime| t.format("%Y-%m-%d %H:%M:%S").to_string();
        let row_filters: Vec<Filter> = self
            .req
            .row_filters
            .iter()
            .map(|f| f.filter.clone())
            .collect();
        let (mut models, mut policies) = (Vec::new(), Vec::new());
        for unbounded in [false, true] {
            let members: Vec<usize> = (0..self.planner.series.len())
                .filter(|i| self.planner.series[*i].unbounded == unbounded)
                .collect();
            if members.is_empty() {
                continue;
            }
            let time_range = if unbounded {
                range.end.map(|e| TimeRange {
                    start: None,
                    end: Some(fmt(e)),
                })
            } else if range.fetch_from.is_some() || range.end.is_some() {
                Some(TimeRange {
                    start: range.fetch_from.map(fmt),
                    end: range.end.map(fmt),
                })
            } else {
                None
            };
            let sub = SemanticQuery {
                metrics: members
                    .iter()
                    .map(|i| {
                        catalog
                            .metric(self.planner.series[*i].metric)
                            .qualified_name()
                    })
                    .collect(),
                dimensions: q.dimensions.clone(),
                filters: row_filters.clone(),
                where_sql: q.where_sql.clone(),
                filter: q.filter.clone(),
                time_range,
                purpose: q.purpose.clone(),
                week_start: q.week_start.clone(),
                time_zone: q.time_zone.clone(),
                ..Default::default()
            };
            let sub_req =
                Request::resolve(catalog, &sub, self.req.caller, &self.req.cx, Kind::Metrics)?;
            let p = super::build::plan(sub_req)?;
            self.note_columns(&p, &members);
            union_into(warnings, p.warnings);
            union_into(&mut models, p.models);
            union_into(&mut policies, p.policies);
            let name = format!("__s{}", self.subplans.len());
            let (mut hoisted, body) = hoist(p.query, &format!("{name}_"));
            self.ctes.append(&mut hoisted);
            self.ctes.push(Cte::new(&name, body));
            self.subplans.push((name, members));
        }
        Ok((models, policies))
    }

    /// What a series plan's columns say: which series count, and each
    /// key's kind.
    fn note_columns(&mut self, p: &Plan, members: &[usize]) {
        let catalog = self.req.catalog;
        for c in &p.columns {
            match &c.role {
                ColumnRole::Metric {
                    metric,
                    version,
                    integer,
                } => {
                    if let Some(i) = members.iter().find(|i| {
                        let m = catalog.metric(self.planner.series[**i].metric);
                        m.name == *metric && m.version == *version
                    }) {
                        self.planner.series[*i].integer = *integer;
                    }
                }
                ColumnRole::Dimension { kind, .. } => {
                    if let Some(k) = self.keys.iter().position(|(_, a)| *a == c.name) {
                        self.key_kinds[k] = *kind;
                    }
                }
            }
        }
    }

    /// The periods, from the range or the data.
    fn spine(&mut self, range: &Range) -> Result<(), PlanError> {
        let (Some(g), Some(talias)) = (self.grain, &self.time_alias) else {
            return Ok(());
        };
        let week = self.planner.week;
        let facts = || {
            Query::union_all(
                self.subplans
                    .iter()
                    .map(|(n, _)| {
                        Select::from(
                            vec![SelectItem::aliased(Expr::bare(talias), "__period")],
                            TableRef::named(n, None),
                        )
                    })
                    .collect(),
            )
        };
        let data = |agg| Expr::agg(agg, Some(Expr::bare("__period")));
        let any_unbounded = self.planner.series.iter().any(|s| s.unbounded);
        let lo = match (
            range.fetch_from.map(|t| spine::align(g, t, week)),
            any_unbounded,
        ) {
            (Some(l), false) => Bound::Literal(l),
            (Some(l), true) => Bound::Data(Expr::case(
                vec![(
                    Expr::binary(
                        BinOp::Lt,
                        data(Aggregation::Min),
                        Expr::Lit(Literal::Timestamp(l)),
                    ),
                    data(Aggregation::Min),
                )],
                Some(Expr::Lit(Literal::Timestamp(l))),
            )),
            (None, _) => Bound::Data(data(Aggregation::Min)),
        };
        let hi = match range.out_hi {
            Some(h) => Bound::Literal(h),
            None => Bound::Data(data(Aggregation::Max)),
        };
        let dynamic = matches!(lo, Bound::Data(_)) || matches!(hi, Bound::Data(_));
        if dynamic && g == Grain::Hour {
            return Err(invalid(
                "an hourly series with cumulative, offset or gap-filled metrics needs a time_range with both start and end (and running totals, whose start comes from the data, are not available by hour)",
            )
            .at("time_range"));
        }
        let facts = dynamic.then(facts);
        self.ctes.extend(spine::ctes(g, lo, hi, facts));
        Ok(())
    }

    /// Groups: every combination of the other dimensions seen in any series.
    fn groups(&mut self) {
        if self.keys.is_empty() {
            return;
        }
        let key_items =
            || -> Vec<SelectItem> { self.keys.iter().map(|(_, a)| SelectItem::bare(a)).collect() };
        let branches: Vec<Select> = self
            .subplans
            .iter()
            .map(|(n, _)| Select::from(key_items(), TableRef::named(n, None)))
            .collect();
        let mut s = Select::from(
            key_items(),
            TableRef::Subquery {
                query: Box::new(Query::union_all(branches)),
                alias: Ident::generated("__all"),
            },
        );
        s.group_by = (1..=self.keys.len()).collect();
        self.ctes.push(Cte::new("__groups", Query::select(s)));
    }

    /// Dense: one row per (period, group) with each series' value.
    fn dense(&mut self) {
        let keys = &self.keys;
        let mut proj: Vec<SelectItem> = keys
            .iter()
            .map(|(_, a)| SelectItem::aliased(Expr::col("__g", a), a))
            .collect();
        let (from, mut joins) = match (self.grain.is_some(), keys.is_empty()) {
            (true, true) => (TableRef::named("__spine", Some("__t")), Vec::new()),
            (true, false) => (
                TableRef::named("__spine", Some("__t")),
                vec![Join {
                    kind: JoinKind::Cross,
                    table: TableRef::named("__groups", Some("__g")),
                    on: None,
                }],
            ),
            (false, false) => (TableRef::named("__groups", Some("__g")), Vec::new()),
            (false, true) => (
                TableRef::Subquery {
                    query: Box::new(Query::select(Select {
                        projection: vec![SelectItem::aliased(Expr::num(1), "__one")],
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
        if self.grain.is_some() {
            proj.push(SelectItem::aliased(
                Expr::col("__t", "__period"),
                "__period",
            ));
        }
        for (si, (name, members)) in self.subplans.iter().enumerate() {
            let alias = format!("__j{si}");
            let mut on: Vec<Expr> = keys
                .iter()
                .map(|(_, a)| Expr::null_safe_eq(Expr::col(&alias, a), Expr::col("__g", a)))
                .collect();
            if let Some(t) = &self.time_alias {
                on.push(Expr::binary(
                    BinOp::Eq,
                    Expr::col(&alias, t),
                    Expr::col("__t", "__period"),
                ));
            }
            joins.push(Join {
                kind: JoinKind::Left,
                table: TableRef::named(name, Some(&alias)),
                on: Some(
                    Expr::and_all(on)
                        .unwrap_or_else(|| Expr::binary(BinOp::Eq, Expr::num(1), Expr::num(1))),
                ),
            });
            for i in members {
                let s = &self.planner.series[*i];
                let m = self.req.catalog.metric(s.metric);
                let column = format!("{}_v{}", m.name, m.version);
                proj.push(SelectItem::aliased(
                    coalesce(Expr::col(&alias, &column), &s.fill),
                    &s.column,
                ));
            }
        }
        let mut dense = Select::from(proj, from);
        dense.joins = joins;
        self.ctes.push(Cte::new("__dense", Query::select(dense)));
    }

    /// Windows over the dense series.
    fn windows(&mut self) {
        let key_cols: Vec<Expr> = self.keys.iter().map(|(_, a)| Expr::bare(a)).collect();
        let mut calc: Vec<SelectItem> =
            self.keys.iter().map(|(_, a)| SelectItem::bare(a)).collect();
        if self.grain.is_some() {
            calc.push(SelectItem::bare("__period"));
        }
        for s in &self.planner.series {
            calc.push(SelectItem::bare(&s.column));
        }
        for w in &self.planner.windows {
            let value = Expr::bare(&self.planner.series[w.series].column);
            calc.push(SelectItem::aliased(
                window_expr(w.win, value, &key_cols, self.planner.week),
                &w.column,
            ));
        }
        let calc = Select::from(calc, TableRef::named("__dense", None));
        self.ctes.push(Cte::new("__calc", Query::select(calc)));
    }

    /// The requested dimensions in order, then the metrics; and the
    /// conditions on them (output range, filters on metric values).
    fn output(&self, range: &Range) -> Result<Output, PlanError> {
        let mut probes = Vec::new();
        let mut projection: Vec<SelectItem> = Vec::new();
        let mut columns: Vec<OutputColumn> = Vec::new();
        for (i, r) in self.req.dimensions.iter().enumerate() {
            let alias = r.alias();
            let (expr, kind) = if r.is_metric_time() {
                let granularity = self.grain.unwrap_or(Grain::Day);
                (Expr::bare("__period"), DimensionKind::Time { granularity })
            } else {
                let k = self.keys.iter().position(|(j, _)| *j == i).unwrap_or(0);
                (Expr::bare(&alias), self.key_kinds[k])
            };
            projection.push(SelectItem::aliased(expr, &alias));
            columns.push(OutputColumn {
                name: alias,
                role: ColumnRole::Dimension {
                    reference: r.raw.clone(),
                    kind,
                },
            });
        }
        let planner = &self.planner;
        let mut lowered: Vec<(String, Expr)> = Vec::new();
        for (alias, m, node) in &self.requested {
            let mut cols = Vec::new();
            let tree = to_tree(node, &mut cols, planner);
            let leaf = |i: usize| cols[i].0.clone();
            let expr = coalesce(tree.lower(&leaf), &m.fill_nulls_with);
            probes.push(nulls::probe(alias, expr.clone(), &tree, &leaf, &|i| {
                NullRule::EmptyPeriod {
                    series: self
                        .req
                        .catalog
                        .metric(planner.series[cols[i].1].metric)
                        .name
                        .clone(),
                }
            }));
            let integer = match node {
                Node::Series(i) => planner.series[*i].integer,
                Node::Window(w) => planner.series[planner.windows[*w].series].integer,
                _ => false,
            };
            projection.push(SelectItem::aliased(expr.clone(), alias));
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
        if let Some(lo) = range.out_lo {
            conditions.push(Expr::binary(
                BinOp::GtEq,
                Expr::bare("__period"),
                Expr::Lit(Literal::Timestamp(lo)),
            ));
        }
        for (i, f) in &self.req.post_filters {
            if let Some((_, e)) = lowered.iter().find(|(a, _)| *a == f.dimension) {
                conditions.push(
                    structured(e.clone(), None, f).map_err(|e| e.at(format!("filters[{i}]")))?,
                );
            }
        }
        Ok(Output {
            columns,
            projection,
            conditions,
            probes,
        })
    }
}

/// The outer SELECT of a time-intelligence query.
struct Output {
    columns: Vec<OutputColumn>,
    projection: Vec<SelectItem>,
    /// The output range and filters on metric values.
    conditions: Vec<Expr>,
    probes: Vec<NullProbe>,
}

/// One window over a dense series' `value`, per group (`key_cols`).
fn window_expr(win: Win, value: Expr, key_cols: &[Expr], week: WeekStart) -> Expr {
    let period = Expr::bare("__period");
    let (name, args, partition, frame) = match win {
        Win::Sum {
            preceding,
            partition,
        } => {
            let mut parts = key_cols.to_vec();
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
            key_cols.to_vec(),
            Some(WindowFrame {
                start: FrameBound::Preceding(n),
                end: FrameBound::Preceding(n),
            }),
        ),
        Win::AtStart(to) => {
            let start = spine::trunc(to, period.clone(), week);
            let mut parts = key_cols.to_vec();
            parts.push(start.clone());
            (
                "MAX",
                vec![Expr::case(
                    vec![(Expr::binary(BinOp::Eq, period.clone(), start), value)],
                    None,
                )],
                parts,
                None,
            )
        }
    };
    let order_by = match win {
        Win::AtStart(_) => Vec::new(),
        _ => vec![period],
    };
    Expr::Window {
        name: name.into(),
        args,
        partition_by: partition,
        order_by,
        frame,
    }
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
