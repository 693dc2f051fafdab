//! Funnel and retention SQL compiled by accord against hand-written DuckDB
//! SQL for the same question, on the embedded demo warehouse at ~5M events.
//!
//! Run: `cargo bench --bench analysis --profile dev` (the DuckDB build the
//! tests compiled; both sides of each ratio run on the same engine, in the
//! same run). `ACCORD_BENCH_SCALE` (default 500 ≈ 5M events) sizes the data.
//!
//! The hand-written queries answer the same questions the way an analyst
//! would in DuckDB (`arg_min`, `date_diff`, `INTERVAL`), including the
//! suppression list the operator's queries honour; they order same-second
//! events by time only, so they are a cost baseline, not a second oracle
//! (the tests hold the numbers).

use std::path::PathBuf;

use accord::demo::{DemoConfig, generate};
use accord::query::SemanticQuery;
use criterion::{Criterion, criterion_group, criterion_main};

mod common;

const FUNNEL_HAND: &str = "
WITH ev AS (
  SELECT e.customer_id AS c, e.occurred_at AS t, e.event_id AS id, e.event_type AS k, s.channel
  FROM events e LEFT JOIN sessions s ON s.session_id = e.session_id
  WHERE e.customer_id IS NOT NULL
    AND e.event_type IN ('product_view', 'add_to_cart', 'checkout', 'purchase')
    AND NOT EXISTS (SELECT 1 FROM erasure_requests r WHERE r.customer_id = e.customer_id)
),
a AS (
  SELECT c, min(t) AS t1, arg_min(channel, (t, id)) AS channel
  FROM ev WHERE k = 'product_view' GROUP BY c
),
s2 AS (
  SELECT a.c, min(ev.t) AS t2 FROM a JOIN ev ON ev.c = a.c
  WHERE ev.k = 'add_to_cart' AND ev.t >= a.t1 AND ev.t <= a.t1 + INTERVAL 1 DAY GROUP BY a.c
),
s3 AS (
  SELECT s2.c, min(ev.t) AS t3 FROM s2 JOIN a ON a.c = s2.c JOIN ev ON ev.c = s2.c
  WHERE ev.k = 'checkout' AND ev.t >= s2.t2 AND ev.t <= a.t1 + INTERVAL 1 DAY GROUP BY s2.c
),
s4 AS (
  SELECT s3.c, min(ev.t) AS t4 FROM s3 JOIN a ON a.c = s3.c JOIN ev ON ev.c = s3.c
  WHERE ev.k = 'purchase' AND ev.t >= s3.t3 AND ev.t <= a.t1 + INTERVAL 1 DAY GROUP BY s3.c
)
SELECT a.channel, count(*) AS n1, count(t2) AS n2, count(t3) AS n3, count(t4) AS n4,
  median(epoch(t2) - epoch(t1)) AS m2, median(epoch(t3) - epoch(t2)) AS m3,
  median(epoch(t4) - epoch(t3)) AS m4
FROM a LEFT JOIN s2 ON s2.c = a.c LEFT JOIN s3 ON s3.c = a.c LEFT JOIN s4 ON s4.c = a.c
GROUP BY 1 ORDER BY 1
";

const RETENTION_HAND: &str = "
WITH o AS (
  SELECT customer_id AS c, ordered_at AS t FROM orders
  WHERE status <> 'cancelled'
    AND NOT EXISTS (SELECT 1 FROM erasure_requests r WHERE r.customer_id = orders.customer_id)
),
f AS (SELECT c, min(t) AS t0, date_trunc('week', min(t)) AS cw FROM o GROUP BY c),
h AS (
  SELECT f.c, f.cw, date_diff('week', f.cw, date_trunc('week', o.t)) AS k
  FROM f JOIN o ON o.c = f.c WHERE o.t >= f.t0
),
sizes AS (
  SELECT f.cw, cu.region, count(*) AS n FROM f LEFT JOIN customers cu ON cu.customer_id = f.c GROUP BY 1, 2
),
ret AS (
  SELECT h.cw, cu.region, h.k, count(DISTINCT h.c) AS r
  FROM h LEFT JOIN customers cu ON cu.customer_id = h.c WHERE h.k <= 8 GROUP BY 1, 2, 3
)
SELECT s.cw, s.region, p.k, s.n, coalesce(ret.r, 0), coalesce(ret.r, 0) / s.n
FROM sizes s CROSS JOIN range(0, 9) p(k)
LEFT JOIN ret ON ret.cw = s.cw AND ret.region IS NOT DISTINCT FROM s.region AND ret.k = p.k
WHERE s.cw + to_weeks(CAST(p.k AS INTEGER)) <= (SELECT date_trunc('week', max(t)) FROM o)
ORDER BY 1, 2, 3
";

fn q(v: serde_json::Value) -> SemanticQuery {
    serde_json::from_value(v).expect("valid query")
}

fn bench(c: &mut Criterion) {
    let common::Bench {
        rt,
        wh,
        scale,
        _dir,
    } = common::duckdb();
    let data = generate(&DemoConfig { scale, seed: 42 });
    eprintln!("demo scale {scale}: {} events", data.events.len());
    rt.block_on(wh.load_demo(&data)).expect("load");
    drop(data);
    let catalog = accord::definitions::load_dir(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("metric_defs"),
    )
    .expect("defs");
    let cases = [
        (
            "checkout_funnel",
            q(serde_json::json!({"funnel": "checkout_funnel"})),
            FUNNEL_HAND,
        ),
        (
            "weekly_purchase_retention",
            q(serde_json::json!({"retention": "weekly_purchase_retention"})),
            RETENTION_HAND,
        ),
    ];
    let mut g = c.benchmark_group("analysis_duckdb_5m");
    g.sample_size(10);
    for (name, query, hand) in cases {
        let sql = common::duckdb_sql(&catalog, &query);
        // Both must answer: a failing hand-written query is a bench bug.
        let a = rt
            .block_on(wh.query(&sql, usize::MAX))
            .expect("accord SQL runs");
        let b = rt
            .block_on(wh.query(hand, usize::MAX))
            .expect("hand SQL runs");
        eprintln!(
            "{name}: accord {} rows, hand-written {} rows",
            a.rows.len(),
            b.rows.len()
        );
        g.bench_function(format!("{name}/accord"), |bch| {
            bch.iter(|| rt.block_on(wh.query(&sql, usize::MAX)).expect("runs"))
        });
        g.bench_function(format!("{name}/hand_written"), |bch| {
            bch.iter(|| rt.block_on(wh.query(hand, usize::MAX)).expect("runs"))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
