//! The GraphQL schema of one catalog version as one caller may see it.
//!
//! [`Layout`] is computed once per definitions version, for the whole
//! catalog: which models get a query field, which metrics and dimensions
//! their rows have, and every GraphQL name (see [`super::names`]).
//! [`build`] then keeps the members a caller may see and generates the
//! dynamic schema; hidden members are simply absent, so introspection shows
//! nothing a caller may not use.

use std::sync::Arc;

use async_graphql::Value;
use async_graphql::dynamic::{
    Enum, EnumItem, Field, FieldFuture, FieldValue, InputObject, InputValue, Object, Scalar,
    Schema, SchemaError, TypeRef,
};
use indexmap::IndexMap;

use super::names::{self, ModelTypeNames, Scope, TypeScope};
use crate::access::Access;
use crate::catalog::{Aggregation, Catalog, DimensionKind, Metric, MetricId, MetricKind, ModelId};

/// Most nested selection a request may have. Data queries are 2 deep and
/// metadata 3; the standard introspection query (GraphiQL's) is about 13.
pub const MAX_DEPTH: usize = 15;
/// Most fields one request may select (introspection included).
pub const MAX_COMPLEXITY: usize = 1000;
/// Most nested selections counting fragment spreads, checked before
/// validation (a fragment cycle stops here): async-graphql's default, set
/// explicitly so it cannot change under us.
pub const MAX_RECURSIVE_DEPTH: usize = 32;
/// Most directives on one field.
pub const MAX_DIRECTIVES: usize = 16;

/// Fixed (non-model) type names.
pub const FIXED_TYPES: &[&str] = &[
    "Query",
    "MetricInfo",
    "DimensionInfo",
    "ModelInfo",
    "CompileResult",
    "SemanticQueryInput",
    "FilterInput",
    "TimeRangeInput",
    "StringFilter",
    "IntFilter",
    "FloatFilter",
    "BooleanFilter",
    "TimeFilter",
    "IdFilter",
    "Granularity",
    "SortDirection",
    "JSON",
    super::analysis::RESULT_TYPE,
];

/// The GraphQL type of a dimension's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DimType {
    /// Categorical: String.
    Text,
    /// Time: an ISO-8601 timestamp string (`2024-01-31T00:00:00`, UTC).
    Time,
    /// Number: Float.
    Number,
    Boolean,
    /// An entity key that is not also a dimension: ID.
    Key,
}

impl DimType {
    fn of(kind: DimensionKind) -> DimType {
        match kind {
            DimensionKind::Categorical => DimType::Text,
            DimensionKind::Time { .. } => DimType::Time,
            DimensionKind::Number => DimType::Number,
            DimensionKind::Boolean => DimType::Boolean,
        }
    }

    fn output(self) -> &'static str {
        match self {
            DimType::Text | DimType::Time => TypeRef::STRING,
            DimType::Number => TypeRef::FLOAT,
            DimType::Boolean => TypeRef::BOOLEAN,
            DimType::Key => TypeRef::ID,
        }
    }

    fn filter(self) -> &'static str {
        match self {
            DimType::Text => "StringFilter",
            DimType::Time => "TimeFilter",
            DimType::Number => "FloatFilter",
            DimType::Boolean => "BooleanFilter",
            DimType::Key => "IdFilter",
        }
    }
}

/// What one field of a row type means.
#[derive(Debug, Clone)]
pub enum Member {
    Metric {
        /// The metric's name in the catalog.
        name: String,
        /// Every version counts (Int); otherwise Float.
        integer: bool,
        /// The version a bare name means (or the newest), for descriptions
        /// and visibility.
        rep: MetricId,
    },
    Dimension {
        /// `model.dimension`, as a semantic query names it.
        reference: String,
        model: ModelId,
        name: String,
        ty: DimType,
    },
    MetricTime,
}

/// One model's query field and row type.
#[derive(Debug)]
pub struct ModelSpec {
    pub model: ModelId,
    pub name: String,
    /// The root field.
    pub field: String,
    pub types: ModelTypeNames,
    /// Every row field, whoever asks, by GraphQL name.
    pub members: IndexMap<String, Member>,
}

/// The names and members of one catalog version.
#[derive(Debug)]
pub struct Layout {
    pub models: Vec<Arc<ModelSpec>>,
}

impl Layout {
    pub fn new(catalog: &Catalog) -> Layout {
        let mut types = TypeScope::new(FIXED_TYPES);
        let mut roots = Scope::new(names::ROOT_RESERVED);
        // A metric's models, and whether every version of it counts.
        let per_metric: Vec<(String, Vec<ModelId>, bool, MetricId, bool)> = catalog
            .metric_names()
            .filter_map(|name| {
                let versions = catalog.metric_versions(name);
                let rep = catalog
                    .default_metric(name)
                    .or_else(|| versions.last().map(|id| catalog.metric(*id)))?;
                let mut models: Vec<ModelId> = Vec::new();
                for id in versions {
                    for m in catalog.metric_models(*id) {
                        if !models.contains(&m) {
                            models.push(m);
                        }
                    }
                }
                let integer = versions
                    .iter()
                    .all(|id| is_integer(catalog, catalog.metric(*id)));
                let timed = catalog
                    .groupable_dimensions(rep.id)
                    .first()
                    .is_some_and(|d| d == "metric_time");
                Some((name.to_string(), models, integer, rep.id, timed))
            })
            .collect();
        let mut models = Vec::new();
        for model in &catalog.models {
            let mine: Vec<_> = per_metric
                .iter()
                .filter(|(_, ms, ..)| ms.contains(&model.id))
                .collect();
            if mine.is_empty() {
                continue;
            }
            let mut scope = Scope::new(names::ROW_RESERVED);
            let mut members = IndexMap::new();
            for (name, _, integer, rep, _) in &mine {
                members.insert(
                    scope.name(name),
                    Member::Metric {
                        name: name.clone(),
                        integer: *integer,
                        rep: *rep,
                    },
                );
            }
            if mine.iter().any(|m| m.4) {
                members.insert("metricTime".to_string(), Member::MetricTime);
            }
            // The model's own dimensions first, then the others it reaches
            // by exactly one shortest path, in catalog order.
            let mut targets: Vec<&crate::catalog::Model> = vec![model];
            targets.extend(catalog.models.iter().filter(|t| {
                t.id != model.id && catalog.graph.shortest_paths(model.id, t.id).len() == 1
            }));
            for t in targets {
                for d in &t.dimensions {
                    members.insert(
                        scope.name(&format!("{}__{}", t.name, d.name)),
                        Member::Dimension {
                            reference: format!("{}.{}", t.name, d.name),
                            model: t.id,
                            name: d.name.clone(),
                            ty: DimType::of(d.kind),
                        },
                    );
                }
                for e in t.entities.iter().filter(|e| e.keys.len() == 1) {
                    if t.dimension(&e.name).is_none() {
                        members.insert(
                            scope.name(&format!("{}__{}", t.name, e.name)),
                            Member::Dimension {
                                reference: format!("{}.{}", t.name, e.name),
                                model: t.id,
                                name: e.name.clone(),
                                ty: DimType::Key,
                            },
                        );
                    }
                }
            }
            models.push(Arc::new(ModelSpec {
                model: model.id,
                name: model.name.clone(),
                field: roots.name(&model.name),
                types: types.model(&model.name),
                members,
            }));
        }
        Layout { models }
    }

    pub fn model_by_type(&self, type_name: &str) -> Option<&Arc<ModelSpec>> {
        self.models
            .iter()
            .find(|m| m.types.row == type_name || m.types.filter == type_name)
    }
}

/// Whether a metric's values are counts (Int), as the planner decides for
/// `ColumnRole::Metric { integer }`.
fn is_integer(catalog: &Catalog, m: &Metric) -> bool {
    match &m.kind {
        MetricKind::Simple { model, measure } => matches!(
            catalog.model(*model).measures[*measure].agg,
            Aggregation::Count | Aggregation::CountDistinct | Aggregation::SumBoolean
        ),
        _ => false,
    }
}

/// Whether a caller may see a member.
pub fn member_visible(member: &Member, access: &Access) -> bool {
    match member {
        Member::Metric { rep, .. } => access.metric_visible(*rep),
        Member::Dimension { model, name, .. } => access.dimension_visible(*model, name),
        Member::MetricTime => access.metric_time_visible(),
    }
}

/// A short key for what a caller may see: callers with equal keys share
/// one schema.
pub fn visibility_key(catalog: &Catalog, access: &Access) -> String {
    let mut key = String::with_capacity(catalog.metrics.len() + 128);
    let bit = |b: bool| if b { '1' } else { '0' };
    for m in &catalog.metrics {
        key.push(bit(access.metric_visible(m.id)));
    }
    for model in &catalog.models {
        key.push('|');
        for d in &model.dimensions {
            key.push(bit(access.dimension_visible(model.id, &d.name)));
        }
        for e in &model.entities {
            key.push(bit(access.dimension_visible(model.id, &e.name)));
        }
    }
    key.push(bit(access.metric_time_visible()));
    key
}

/// A built schema with what produced it.
pub struct Built {
    pub schema: Schema,
    pub layout: Arc<Layout>,
}

impl Built {
    /// What kind of name an unknown `field` of `type_name` would have been,
    /// judged from its spelling only: a field this caller may not see and
    /// one that does not exist get the same code (`unknown_dimension` for
    /// `model__dim` and `metricTime`, `unknown_metric` for plain names,
    /// `unknown_field` elsewhere), so hidden names cannot be probed.
    pub fn classify_unknown(&self, type_name: &str, field: &str) -> &'static str {
        if type_name == "Query" || self.layout.model_by_type(type_name).is_none() {
            "unknown_field"
        } else if field.contains("__") || field == "metricTime" {
            "unknown_dimension"
        } else {
            "unknown_metric"
        }
    }
}

fn granularity_enum() -> Enum {
    Enum::new("Granularity")
        .description("Time grain a time dimension or metricTime is truncated to.")
        .items(["HOUR", "DAY", "WEEK", "MONTH", "QUARTER", "YEAR"].map(EnumItem::new))
}

fn sort_enum() -> Enum {
    Enum::new("SortDirection").items(["ASC", "DESC"].map(EnumItem::new))
}

/// A filter input over one scalar type, with the operators that fit it.
fn scalar_filter(name: &str, scalar: &str, text_ops: bool, order_ops: bool) -> InputObject {
    let mut o = InputObject::new(name)
        .description(
            "Conditions on one field, ANDed. `equals: null` means IS NULL. Values of time \
             fields are `YYYY-MM-DD` or `YYYY-MM-DD HH:MM:SS`.",
        )
        .field(InputValue::new("equals", TypeRef::named(scalar)))
        .field(InputValue::new("notEquals", TypeRef::named(scalar)))
        .field(
            InputValue::new("isNull", TypeRef::named(TypeRef::BOOLEAN))
                .description("true: IS NULL; false: IS NOT NULL."),
        );
    if scalar != TypeRef::BOOLEAN {
        o = o
            .field(InputValue::new("in", TypeRef::named_list(scalar)))
            .field(InputValue::new("notIn", TypeRef::named_list(scalar)));
    }
    if order_ops {
        o = o
            .field(InputValue::new("gt", TypeRef::named(scalar)))
            .field(InputValue::new("gte", TypeRef::named(scalar)))
            .field(InputValue::new("lt", TypeRef::named(scalar)))
            .field(InputValue::new("lte", TypeRef::named(scalar)))
            .field(
                InputValue::new("between", TypeRef::named_nn_list(scalar))
                    .description("Two bounds, both inclusive."),
            );
    }
    if text_ops {
        o = o
            .field(InputValue::new("contains", TypeRef::named(scalar)))
            .field(InputValue::new("startsWith", TypeRef::named(scalar)));
    }
    o
}

/// A field of a metadata object: the parent's JSON-like value at `name`.
fn prop(name: &str, ty: TypeRef) -> Field {
    let key = name.to_string();
    Field::new(name, ty, move |ctx| {
        let v = match ctx.parent_value.as_value() {
            Some(Value::Object(map)) => map.get(key.as_str()).cloned(),
            _ => None,
        };
        FieldFuture::from_value(v.filter(|v| *v != Value::Null))
    })
}

fn meta_types() -> Vec<Object> {
    let s = || TypeRef::named(TypeRef::STRING);
    let s_nn = || TypeRef::named_nn(TypeRef::STRING);
    let list = || TypeRef::named_nn_list_nn(TypeRef::STRING);
    let metric = Object::new("MetricInfo")
        .description("One version of a metric, as GET /v1/catalog describes it.")
        .field(prop("name", s_nn()))
        .field(prop("version", TypeRef::named_nn(TypeRef::INT)))
        .field(
            prop("default", TypeRef::named_nn(TypeRef::BOOLEAN))
                .description("Whether a bare name means this version."),
        )
        .field(prop("type", s_nn()).description("simple, ratio or derived."))
        .field(prop("status", s_nn()).description("draft, active or deprecated."))
        .field(prop("owner", s()))
        .field(prop("description", s()))
        .field(prop("label", s()))
        .field(prop("format", s()))
        .field(prop("unit", s()))
        .field(prop("filter", s()))
        .field(prop("inputs", list()))
        .field(prop("dimensions", list()).description(
            "Dimensions the metric can be grouped by (`model.dimension`, `metric_time`).",
        ))
        .field(prop("graphqlField", s_nn()).description("The metric's field on row types."))
        .field(
            prop("graphqlModels", list()).description("Root fields whose rows have this metric."),
        );
    let dimension = Object::new("DimensionInfo")
        .field(prop("name", s_nn()).description("`model.dimension`."))
        .field(prop("model", s_nn()))
        .field(prop("dimension", s_nn()))
        .field(prop("type", s_nn()).description("categorical, time, number, boolean or entity."))
        .field(prop("granularity", s()))
        .field(prop("label", s()))
        .field(prop("description", s()))
        .field(prop("pii", TypeRef::named_nn(TypeRef::BOOLEAN)))
        .field(prop("masked", TypeRef::named_nn(TypeRef::BOOLEAN)))
        .field(prop("tags", list()))
        .field(prop("graphqlField", s_nn()).description("The field on row types."));
    let model = Object::new("ModelInfo")
        .field(prop("name", s_nn()))
        .field(prop("description", s()))
        .field(prop("owner", s()))
        .field(
            prop("graphqlField", s())
                .description("The root field, if the model has metrics you may use."),
        )
        .field(prop("dimensions", list()))
        .field(prop("metrics", list()));
    let compile = Object::new("CompileResult")
        .field(prop("sql", s_nn()))
        .field(prop("dialect", s_nn()))
        .field(prop("sqlHash", s_nn()))
        .field(prop("definitionsVersion", s_nn()))
        .field(prop("columns", list()))
        .field(prop("models", list()))
        .field(prop("warnings", list()))
        .field(prop("policies", list()).description("Access and consent rules applied, in words."));
    vec![metric, dimension, model, compile]
}

fn input_types() -> Vec<InputObject> {
    let s = || TypeRef::named(TypeRef::STRING);
    vec![
        InputObject::new("TimeRangeInput")
            .description("Start inclusive, end exclusive; `YYYY-MM-DD` or `YYYY-MM-DD HH:MM:SS`.")
            .field(InputValue::new("start", s()))
            .field(InputValue::new("end", s())),
        InputObject::new("FilterInput")
            .field(InputValue::new(
                "dimension",
                TypeRef::named_nn(TypeRef::STRING),
            ))
            .field(InputValue::new("op", TypeRef::named_nn(TypeRef::STRING)))
            .field(InputValue::new("values", TypeRef::named_list("JSON"))),
        InputObject::new("SemanticQueryInput")
            .description("The body of POST /v1/query, with camelCase keys.")
            .field(InputValue::new(
                "metrics",
                TypeRef::named_nn_list_nn(TypeRef::STRING),
            ))
            .field(InputValue::new(
                "dimensions",
                TypeRef::named_nn_list(TypeRef::STRING),
            ))
            .field(InputValue::new(
                "filters",
                TypeRef::named_nn_list("FilterInput"),
            ))
            .field(InputValue::new("where", s()))
            .field(InputValue::new(
                "timeRange",
                TypeRef::named("TimeRangeInput"),
            ))
            .field(InputValue::new(
                "orderBy",
                TypeRef::named_nn_list(TypeRef::STRING),
            ))
            .field(InputValue::new("limit", TypeRef::named(TypeRef::INT)))
            .field(InputValue::new("offset", TypeRef::named(TypeRef::INT)))
            .field(InputValue::new("purpose", s()))
            .field(InputValue::new("timeZone", s()))
            .field(InputValue::new("weekStart", s()))
            .field(InputValue::new("funnel", s()))
            .field(InputValue::new("retention", s()))
            .field(InputValue::new(
                "attribution",
                TypeRef::named_nn_list(TypeRef::STRING),
            )),
        scalar_filter("StringFilter", TypeRef::STRING, true, true),
        scalar_filter("TimeFilter", TypeRef::STRING, false, true).field(
            InputValue::new("granularity", TypeRef::named("Granularity")).description(
                "Compare the time truncated to this grain (in the query's `timeZone`, weeks from \
                 its `weekStart`), as the field's `granularity` argument groups it: \
                 `metricTime: {granularity: DAY, gte: \"2025-01-01\"}`.",
            ),
        ),
        scalar_filter("IntFilter", TypeRef::INT, false, true),
        scalar_filter("FloatFilter", TypeRef::FLOAT, false, true),
        scalar_filter("BooleanFilter", TypeRef::BOOLEAN, false, false),
        scalar_filter("IdFilter", TypeRef::ID, false, false),
    ]
}

fn metric_description(catalog: &Catalog, rep: MetricId) -> String {
    let m = catalog.metric(rep);
    let mut parts: Vec<String> = Vec::new();
    if let Some(l) = &m.label {
        parts.push(l.clone());
    }
    if let Some(d) = &m.description {
        parts.push(d.clone());
    }
    if let Some(u) = &m.unit {
        parts.push(format!("Unit: {u}."));
    }
    parts.join(" — ")
}

/// Generates the schema of `layout` for a caller.
pub fn build(
    layout: &Arc<Layout>,
    catalog: &Catalog,
    access: &Access,
) -> Result<Built, SchemaError> {
    let mut builder = Schema::build("Query", None, None)
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COMPLEXITY)
        .limit_recursive_depth(MAX_RECURSIVE_DEPTH)
        .limit_directives(MAX_DIRECTIVES)
        .register(Scalar::new("JSON").description("Any JSON value."))
        .register(granularity_enum())
        .register(sort_enum());
    for t in meta_types() {
        builder = builder.register(t);
    }
    for t in input_types() {
        builder = builder.register(t);
    }
    let mut query = Object::new("Query").description(
        "accord metrics. Each model field returns one row per group of the dimensions you \
         select; the metrics you select are computed per row, with your access policies \
         applied exactly as on POST /v1/query.",
    );
    for spec in &layout.models {
        let visible: Vec<(&String, &Member)> = spec
            .members
            .iter()
            .filter(|(_, m)| member_visible(m, access))
            .collect();
        if !visible
            .iter()
            .any(|(_, m)| matches!(m, Member::Metric { .. }))
        {
            continue;
        }
        let mut row = Object::new(&spec.types.row).description(format!(
            "One group of `{}` query results: the metrics and dimensions you selected.",
            spec.name
        ));
        let mut filter = InputObject::new(&spec.types.filter)
            .description(
                "Conditions, ANDed. Dimension conditions filter rows before aggregation; metric \
                 conditions filter groups after it (the metric must be selected). `and`/`or` \
                 combine nested conditions (metrics cannot appear under `or`).",
            )
            .field(InputValue::new(
                "and",
                TypeRef::named_nn_list(&spec.types.filter),
            ))
            .field(InputValue::new(
                "or",
                TypeRef::named_nn_list(&spec.types.filter),
            ));
        let mut fields_enum = Enum::new(&spec.types.field_enum);
        for (name, member) in &visible {
            let name = name.as_str();
            let (ty, filter_ty) = match member {
                Member::Metric { integer: true, .. } => (TypeRef::INT, "IntFilter"),
                Member::Metric { .. } => (TypeRef::FLOAT, "FloatFilter"),
                Member::Dimension { ty, .. } => (ty.output(), ty.filter()),
                Member::MetricTime => (TypeRef::STRING, "TimeFilter"),
            };
            let mut field = Field::new(name, TypeRef::named(ty), super::resolve::row_field);
            match member {
                Member::Metric { rep, .. } => {
                    field = field
                        .description(metric_description(catalog, *rep))
                        .argument(InputValue::new("version", TypeRef::named(TypeRef::INT)).description(
                            "A specific version (`revenue(version: 2)` is `revenue@2`); the default version when absent.",
                        ));
                    let m = catalog.metric(*rep);
                    if m.status == crate::catalog::MetricStatus::Deprecated {
                        field = field.deprecation(Some(&format!(
                            "metric `{}` is deprecated",
                            m.qualified_name()
                        )));
                    }
                }
                Member::Dimension {
                    reference,
                    model,
                    name: dim,
                    ty,
                } => {
                    let d = catalog.model(*model).dimension(dim).map(|(_, d)| d);
                    let mut text = format!("`{reference}`");
                    if let Some(desc) = d.and_then(|d| d.description.as_deref()) {
                        text = format!("{text}: {desc}");
                    }
                    if *ty == DimType::Time {
                        text.push_str(
                            " ISO-8601 timestamp (UTC), truncated to `granularity` when given.",
                        );
                        field = field.argument(InputValue::new(
                            "granularity",
                            TypeRef::named("Granularity"),
                        ));
                    }
                    field = field.description(text);
                }
                Member::MetricTime => {
                    field = field
                        .description(
                            "The metrics' own time (each measure's time dimension), truncated to \
                             `granularity` (default: the coarsest grain the measures are recorded at).",
                        )
                        .argument(InputValue::new("granularity", TypeRef::named("Granularity")));
                }
            }
            row = row.field(field);
            filter = filter.field(InputValue::new(name, TypeRef::named(filter_ty)));
            fields_enum = fields_enum.item(EnumItem::new(name));
        }
        let order_by = InputObject::new(&spec.types.order_by)
            .field(InputValue::new(
                "field",
                TypeRef::named_nn(&spec.types.field_enum),
            ))
            .field(
                InputValue::new("direction", TypeRef::named("SortDirection"))
                    .default_value(Value::Enum(async_graphql::Name::new("ASC"))),
            );
        let spec_for_resolver = spec.clone();
        let root = Field::new(
            &spec.field,
            // Nullable: one failing model field leaves the others' data.
            TypeRef::named_nn_list(&spec.types.row),
            move |ctx| super::resolve::model_field(ctx, spec_for_resolver.clone()),
        )
        .description(
            catalog
                .model(spec.model)
                .description
                .clone()
                .unwrap_or_else(|| format!("Metrics of `{}`.", spec.name)),
        )
        .argument(InputValue::new("where", TypeRef::named(&spec.types.filter)))
        .argument(
            InputValue::new("orderBy", TypeRef::named_nn_list(&spec.types.order_by))
                .description("Sort keys, in order; then every selected dimension ascending."),
        )
        .argument(InputValue::new("limit", TypeRef::named(TypeRef::INT)))
        .argument(InputValue::new("offset", TypeRef::named(TypeRef::INT)))
        .argument(InputValue::new("timeRange", TypeRef::named("TimeRangeInput")).description(
            "Restricts metricTime: start inclusive, end exclusive.",
        ))
        .argument(InputValue::new("purpose", TypeRef::named(TypeRef::STRING)).description(
            "The purpose the data is used for (consent); defaults to the token's, then the configured default.",
        ))
        .argument(time_zone_arg())
        .argument(week_start_arg());
        query = query.field(root);
        builder = builder
            .register(row)
            .register(filter)
            .register(fields_enum)
            .register(order_by);
    }
    query = query
        .field(
            Field::new(
                "metrics",
                TypeRef::named_nn_list_nn("MetricInfo"),
                super::meta::metrics,
            )
            .description("Every version of every metric you may use.")
            .argument(InputValue::new("name", TypeRef::named(TypeRef::STRING))),
        )
        .field(
            Field::new(
                "dimensions",
                TypeRef::named_nn_list_nn("DimensionInfo"),
                super::meta::dimensions,
            )
            .description("Every dimension you may use.")
            .argument(InputValue::new("model", TypeRef::named(TypeRef::STRING))),
        )
        .field(
            Field::new(
                "models",
                TypeRef::named_nn_list_nn("ModelInfo"),
                super::meta::models,
            )
            .description("Every model, with the members you may use."),
        )
        .field(
            Field::new(
                "compile",
                TypeRef::named("CompileResult"),
                super::meta::compile,
            )
            .description(
                "The SQL a query compiles to for you, without running it (POST /v1/compile).",
            )
            .argument(InputValue::new(
                "query",
                TypeRef::named_nn("SemanticQueryInput"),
            ))
            .argument(InputValue::new("dialect", TypeRef::named(TypeRef::STRING))),
        );
    // Funnels and retention, for callers who may run one (which follows
    // from dimension visibility, so the visibility key still decides).
    let runnable = crate::planner::analysis_catalog(catalog, access);
    let any = |k: &str| runnable[k].as_array().is_some_and(|a| !a.is_empty());
    if any("funnels") || any("retention") {
        query = query
            .field(super::analysis::field("funnel"))
            .field(super::analysis::field("retention"))
            .field(super::analysis::list_field());
    }
    // Only for callers who may use some attribution instance.
    if !accord_service::attribution::listing(catalog, access).is_empty() {
        query = query.field(
            Field::new(
                "attributed",
                TypeRef::named("JSON"),
                super::attribution::attributed,
            )
            .description(
                "Metrics credited to marketing touches by attribution instances \
                 (`query.attribution`): `{columns, rows, definitionsVersion}`, one column per \
                 metric and instance (`revenue__linear_30d`), like POST /v1/query.",
            )
            .argument(InputValue::new(
                "query",
                TypeRef::named_nn("SemanticQueryInput"),
            )),
        );
    }
    let schema = builder
        .register(super::analysis::result_type())
        .register(query)
        .finish()?;
    Ok(Built {
        schema,
        layout: layout.clone(),
    })
}

/// A row value's field resolver helper: clones into a `FieldValue`.
pub fn value_of(v: Option<&Value>) -> Option<FieldValue<'static>> {
    v.filter(|v| **v != Value::Null)
        .cloned()
        .map(FieldValue::value)
}

/// `timeZone`: the IANA zone periods and `timeRange` are read in.
pub(super) fn time_zone_arg() -> InputValue {
    InputValue::new("timeZone", TypeRef::named(TypeRef::STRING)).description(
        "IANA time zone (`Europe/Berlin`) metricTime periods and timeRange are read in; defaults to the server's, UTC.",
    )
}

/// `weekStart`: the first day of a `week` period.
pub(super) fn week_start_arg() -> InputValue {
    InputValue::new("weekStart", TypeRef::named(TypeRef::STRING)).description(
        "First day of a week period (`monday` .. `sunday`); defaults to the server's, Monday.",
    )
}
