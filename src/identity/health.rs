//! Health of the current identity map: cluster count and size distribution,
//! largest clusters, identifiers per type, and the last run's iterations,
//! blocked, excluded, over-limit and erased counts.

use chrono::NaiveDateTime;
use serde::Serialize;

use super::build::{IdentityError, Runner, c, count_all, identity_of, int, query, text};
use crate::catalog::Catalog;
use crate::sql::ast::*;
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

fn item(e: Expr, a: &str) -> SelectItem {
    SelectItem {
        expr: e,
        alias: Some(Ident::generated(a)),
    }
}

fn timestamp(v: &Value) -> Option<NaiveDateTime> {
    match v {
        Value::Timestamp(t) => Some(*t),
        Value::Text(t) => crate::sql::convert::parse_timestamp(t),
        _ => None,
    }
}

pub async fn health(
    catalog: &Catalog,
    wh: &Warehouse,
    top: usize,
) -> Result<HealthReport, IdentityError> {
    let identity = identity_of(catalog)?;
    let map = identity.tables.map();
    let r = Runner::new(wh);
    // The first read of a warehouse without a map is rejected; anything
    // else (unreachable, timeout) is reported as it is.
    let missing = |e: IdentityError| match e {
        IdentityError::Warehouse(w @ crate::warehouse::WarehouseError::Query { .. }) => {
            IdentityError::Invalid(format!(
                "no identity map to report on ({w}); run `accord identity build` first"
            ))
        }
        other => other,
    };

    // Cluster sizes, then how many clusters have each size.
    let mut sizes = select_sizes(&map);
    sizes.projection.truncate(3);
    let per_size = Query::select(Select {
        projection: vec![
            item(
                Expr::Column {
                    table: Some(Ident::generated("z")),
                    name: Ident::generated("size"),
                },
                "size",
            ),
            item(count_all(), "clusters"),
        ],
        from: Some(TableRef::Subquery {
            query: Box::new(Query::select(sizes.clone())),
            alias: Ident::generated("z"),
        }),
        joins: Vec::new(),
        selection: None,
        group_by: vec![1],
        having: None,
    });
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

    let mut largest = Query::select(sizes);
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
    let largest_clusters = r
        .rows(largest, top)
        .await?
        .iter()
        .map(|row| ClusterSize {
            canonical_type: text(&row[0]).unwrap_or_default(),
            canonical_id: text(&row[1]),
            identifiers: int(&row[2]),
        })
        .collect();

    let mut by_type = query(vec![c("identifier_type"), count_all()], &map, None);
    if let SetExpr::Select(s) = &mut by_type.body {
        s.group_by = vec![1];
    }
    by_type.order_by = vec![OrderItem {
        expr: Expr::bare("c0"),
        desc: false,
    }];
    let identifiers_by_type = r
        .rows(by_type, usize::MAX)
        .await?
        .iter()
        .map(|row| TypeCount {
            identifier_type: text(&row[0]).unwrap_or_default(),
            identifiers: int(&row[1]),
        })
        .collect();

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
    let last_run = r
        .rows(last, 1)
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
        });
    Ok(HealthReport {
        rule_version: identity.rule_version,
        map_table: map,
        identifiers,
        clusters,
        identifiers_by_type,
        size_distribution,
        largest_clusters,
        last_run,
    })
}

/// `SELECT canonical_type, canonical_id, COUNT(*) AS size FROM map GROUP BY 1, 2`.
fn select_sizes(map: &str) -> Select {
    let m = |n: &str| Expr::Column {
        table: Some(Ident::generated("m")),
        name: Ident::new(n),
    };
    Select {
        projection: vec![
            item(m("canonical_type"), "canonical_type"),
            item(m("canonical_id"), "canonical_id"),
            item(count_all(), "size"),
        ],
        from: Some(TableRef::Table {
            name: vec![Ident::new(map)],
            alias: Ident::generated("m"),
        }),
        joins: Vec::new(),
        selection: None,
        group_by: vec![1, 2],
        having: None,
    }
}
