//! Health of the current identity map: cluster count and size distribution,
//! largest clusters, identifiers per type, and the last run's iterations,
//! blocked, excluded, over-limit and erased counts.
//!
//! For a caller held to policies ([`crate::planner::people_scope`]) every
//! number is computed over the clusters of the people those policies let it
//! see (customers its row filters reach, with consent under its purpose,
//! never suppressed ones); other clusters and the global last-run counts
//! are not reported, and under `min_group_size` k no count over fewer than
//! k people (nor any single cluster) is shown. See docs/identity.md.

use chrono::NaiveDateTime;
use serde::Serialize;

use super::build::{IdentityError, Runner, c, identity_of, int, query, text};
use crate::catalog::Catalog;
use crate::planner::{PEOPLE_CTE, PeopleScope};
use crate::sql::ast::*;
use crate::sql::build::{aliased, column, count_star, eq, exists, select_from, subquery, table};
use crate::warehouse::{Value, Warehouse};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HealthReport {
    pub rule_version: u32,
    pub map_table: String,
    pub identifiers: i64,
    pub clusters: i64,
    pub identifiers_by_type: Vec<TypeCount>,
    /// Clusters per size range (`1`, `2`, `3-5`, `6-10`, `11-100`, `101+`).
    pub size_distribution: Vec<SizeBucket>,
    pub largest_clusters: Vec<ClusterSize>,
    pub last_run: Option<RunSummary>,
    /// `policies` when the numbers cover only the people the caller's
    /// policies let it see.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<&'static str>,
    /// Parts left out for the caller (`last_run`, `largest_clusters`,
    /// `totals`, `size 2`, `type email`, ...).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub withheld: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TypeCount {
    pub identifier_type: String,
    pub identifiers: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SizeBucket {
    pub size: &'static str,
    pub clusters: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClusterSize {
    /// Withheld from callers restricted by roles.
    pub canonical_id: Option<String>,
    pub canonical_type: String,
    pub identifiers: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunSummary {
    pub run_id: i64,
    pub run_at: Option<NaiveDateTime>,
    pub mode: String,
    pub iterations: i64,
    pub edges: i64,
    pub blocked: i64,
    pub excluded: i64,
    pub over_limit: i64,
    pub erased: i64,
    pub merges: i64,
    pub splits: i64,
    pub duration_ms: i64,
}

const BUCKETS: [(&str, i64, i64); 6] = [
    ("1", 1, 1),
    ("2", 2, 2),
    ("3-5", 3, 5),
    ("6-10", 6, 10),
    ("11-100", 11, 100),
    ("101+", 101, i64::MAX),
];

fn timestamp(v: &Value) -> Option<NaiveDateTime> {
    match v {
        Value::Timestamp(t) => Some(*t),
        Value::Text(t) => crate::sql::convert::parse_timestamp(t),
        _ => None,
    }
}

/// The report over the whole map (the operator's view).
pub async fn health(
    catalog: &Catalog,
    wh: &Warehouse,
    top: usize,
) -> Result<HealthReport, IdentityError> {
    health_scoped(catalog, wh, top, None).await
}

/// Map rows (aliased `alias`) of the people in `scope`: clusters of the
/// canonical type whose canonical id the caller's policies let it see.
fn in_scope(canonical_type: &str, alias: &str) -> Expr {
    let mut listed = select_from(
        vec![aliased(crate::sql::build::int(1), "one")],
        TableRef::Table {
            name: vec![Ident::generated(PEOPLE_CTE)],
            alias: Ident::generated("p"),
        },
    );
    listed.selection = Some(eq(column("p", "person"), column(alias, "canonical_id")));
    Expr::binary(
        BinOp::And,
        eq(
            column(alias, "canonical_type"),
            Expr::string(canonical_type),
        ),
        exists(listed, false),
    )
}

/// The report, narrowed to `scope` when the caller is held to policies.
pub async fn health_scoped(
    catalog: &Catalog,
    wh: &Warehouse,
    top: usize,
    scope: Option<&PeopleScope>,
) -> Result<HealthReport, IdentityError> {
    let identity = identity_of(catalog)?;
    let map = identity.tables.map();
    let r = Runner::new(wh);
    // The first read of a warehouse without a map is rejected; anything
    // else (unreachable, timeout) is reported as it is.
    let missing = |e: IdentityError| match e {
        IdentityError::Warehouse(crate::warehouse::WarehouseError::Query { .. }) => {
            IdentityError::Invalid(
                "no identity map to report on; run `accord identity build` first".into(),
            )
        }
        other => other,
    };
    let canonical = &identity.canonical_type().name;
    let ctes = scope.map(|s| s.ctes.clone()).unwrap_or_default();
    let scoped = |mut q: Query| {
        q.ctes = ctes.clone();
        q
    };
    let k = scope.and_then(|s| s.min_group_size).map(i64::from);
    // A count over fewer than k people (but not none) is withheld.
    let small = |n: i64| k.is_some_and(|k| n > 0 && n < k);
    let mut withheld = Vec::new();

    // Cluster sizes, then how many clusters have each size.
    let mut sizes = select_sizes(&map);
    if scope.is_some() {
        sizes.selection = Some(in_scope(canonical, "m"));
    }
    let mut counted = sizes.clone();
    counted.projection.truncate(3);
    let mut per_size = select_from(
        vec![
            aliased(Expr::col("z", "size"), "size"),
            aliased(count_star(), "clusters"),
        ],
        subquery(Query::select(counted), "z"),
    );
    per_size.group_by = vec![1];
    let per_size = scoped(Query::select(per_size));
    let dist = r.rows(per_size, usize::MAX).await.map_err(missing)?;
    let mut size_distribution: Vec<SizeBucket> = BUCKETS
        .iter()
        .map(|(name, _, _)| SizeBucket {
            size: name,
            clusters: 0,
        })
        .collect();
    let (mut clusters, mut identifiers) = (0, 0);
    for row in &dist {
        let (size, n) = (int(&row[0]), int(&row[1]));
        clusters += n;
        identifiers += size * n;
        if let Some(i) = BUCKETS
            .iter()
            .position(|(_, lo, hi)| size >= *lo && size <= *hi)
        {
            size_distribution[i].clusters += n;
        }
    }
    size_distribution.retain(|b| {
        let keep = !small(b.clusters);
        if !keep {
            withheld.push(format!("size {}", b.size));
        }
        keep
    });
    if small(clusters) {
        (clusters, identifiers) = (0, 0);
        withheld.push("totals".into());
    }

    // Single clusters are single people: none under a minimum group size.
    let largest_clusters = if k.is_some() {
        withheld.push("largest_clusters".into());
        Vec::new()
    } else {
        let mut largest = scoped(Query::select(sizes));
        largest.order_by = vec![
            OrderItem {
                expr: Expr::bare("size"),
                desc: true,
            },
            OrderItem {
                expr: Expr::bare("canonical_type"),
                desc: false,
            },
            OrderItem {
                expr: Expr::bare("canonical_id"),
                desc: false,
            },
        ];
        largest.limit = Some(top as u64);
        r.rows(largest, top)
            .await?
            .iter()
            .map(|row| ClusterSize {
                canonical_type: text(&row[0]).unwrap_or_default(),
                canonical_id: text(&row[1]),
                identifiers: int(&row[2]),
            })
            .collect()
    };

    let identifiers_by_type = by_type(&r, &map, scope.map(|_| canonical.as_str()), &ctes)
        .await?
        .into_iter()
        .filter_map(|(t, people)| {
            if small(people) {
                withheld.push(format!("type {}", t.identifier_type));
                None
            } else {
                Some(t)
            }
        })
        .collect();

    // The last run's counts are about everyone in the map.
    let last_run = match scope {
        Some(_) => {
            withheld.push("last_run".into());
            None
        }
        None => last_run(&r, identity).await?,
    };
    Ok(HealthReport {
        rule_version: identity.rule_version,
        map_table: map,
        identifiers,
        clusters,
        identifiers_by_type,
        size_distribution,
        largest_clusters,
        last_run,
        scope: scope.map(|_| "policies"),
        withheld,
    })
}

/// Identifiers per type, each with the number of clusters (people) they
/// belong to; only people in scope when `scoped_type` (the canonical
/// type) is given.
async fn by_type(
    r: &Runner<'_>,
    map: &str,
    scoped_type: Option<&str>,
    ctes: &[Cte],
) -> Result<Vec<(TypeCount, i64)>, IdentityError> {
    let people = Expr::Aggregate {
        agg: crate::catalog::Aggregation::CountDistinct,
        arg: Some(Box::new(c("canonical_id"))),
    };
    let mut q = query(
        vec![c("identifier_type"), count_star(), people],
        map,
        scoped_type.map(|t| in_scope(t, "t")),
    );
    q.ctes = ctes.to_vec();
    if let SetExpr::Select(s) = &mut q.body {
        s.group_by = vec![1];
    }
    q.order_by = vec![OrderItem {
        expr: Expr::bare("c0"),
        desc: false,
    }];
    Ok(r.rows(q, usize::MAX)
        .await?
        .iter()
        .map(|row| {
            let t = TypeCount {
                identifier_type: text(&row[0]).unwrap_or_default(),
                identifiers: int(&row[1]),
            };
            (t, int(&row[2]))
        })
        .collect())
}

/// The last build's summary.
async fn last_run(
    r: &Runner<'_>,
    identity: &super::Identity,
) -> Result<Option<RunSummary>, IdentityError> {
    let cols = [
        "run_id",
        "run_at",
        "mode",
        "iterations",
        "edges",
        "blocked",
        "excluded",
        "over_limit",
        "erased",
        "merges",
        "splits",
        "duration_ms",
    ];
    let mut last = query(
        cols.iter().map(|x| c(x)).collect(),
        &identity.tables.runs(),
        None,
    );
    last.order_by = vec![OrderItem {
        expr: Expr::bare("c0"),
        desc: true,
    }];
    last.limit = Some(1);
    Ok(r.rows(last, 1)
        .await?
        .into_iter()
        .next()
        .map(|row| RunSummary {
            run_id: int(&row[0]),
            run_at: timestamp(&row[1]),
            mode: text(&row[2]).unwrap_or_default(),
            iterations: int(&row[3]),
            edges: int(&row[4]),
            blocked: int(&row[5]),
            excluded: int(&row[6]),
            over_limit: int(&row[7]),
            erased: int(&row[8]),
            merges: int(&row[9]),
            splits: int(&row[10]),
            duration_ms: int(&row[11]),
        }))
}

/// `SELECT canonical_type, canonical_id, COUNT(*) AS size FROM map GROUP BY 1, 2`.
fn select_sizes(map: &str) -> Select {
    let m = |n: &str| column("m", n);
    let mut sizes = select_from(
        vec![
            aliased(m("canonical_type"), "canonical_type"),
            aliased(m("canonical_id"), "canonical_id"),
            aliased(count_star(), "size"),
        ],
        table(map, "m"),
    );
    sizes.group_by = vec![1, 2];
    sizes
}
