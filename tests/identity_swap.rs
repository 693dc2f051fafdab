//! Atomic replacement of the identity map. `Warehouse::execute_batch_atomic`
//! applies all of its statements or none, on every engine (DDL included
//! where the engine's DDL is transactional); and a reader querying the map
//! in a loop while it is rebuilt never fails and always sees the old map or
//! the new one, whole (DuckDB file, PostgreSQL).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use accord::identity::{self, BuildOptions};
use accord::warehouse::{Value, Warehouse, WarehouseError};
use common::demo_catalog;
use common::warehouses::{demo, mysql_db, open, postgres_db};

fn int(v: &Value) -> i64 {
    match v {
        Value::Int(i) => *i,
        Value::Text(t) => t.parse().unwrap_or(-1),
        Value::Decimal(d) => d.to_string().parse().unwrap_or(-1),
        other => panic!("not a count: {other:?}"),
    }
}

async fn count(wh: &Warehouse, table: &str) -> i64 {
    let rs = wh
        .query(&format!("SELECT COUNT(*) FROM {table}"), 1)
        .await
        .unwrap_or_else(|e| panic!("count {table}: {e}"));
    int(&rs.rows[0][0])
}

async fn batch(wh: &Warehouse, statements: &[&str]) -> Result<(), WarehouseError> {
    let owned: Vec<String> = statements.iter().map(|s| s.to_string()).collect();
    wh.execute_batch_atomic(&owned).await
}

#[tokio::test]
async fn batches_are_all_or_nothing_on_every_engine() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engines = [
        (
            "duckdb",
            open(&format!(
                "duckdb://{}",
                dir.path().join("b.duckdb").display()
            ))
            .await,
        ),
        ("postgres", open(&postgres_db("batch").await).await),
        ("mysql", open(&mysql_db("batch").await).await),
        (
            "sqlite",
            open(&format!(
                "sqlite://{}",
                dir.path().join("b.sqlite").display()
            ))
            .await,
        ),
    ];
    for (engine, wh) in &engines {
        wh.query("CREATE TABLE b_t (x INT)", 1)
            .await
            .unwrap_or_else(|e| panic!("{engine}: {e}"));
        batch(
            wh,
            &["INSERT INTO b_t VALUES (1)", "INSERT INTO b_t VALUES (2)"],
        )
        .await
        .unwrap_or_else(|e| panic!("{engine}: {e}"));
        assert_eq!(count(wh, "b_t").await, 2, "{engine}");

        // A failing statement undoes the ones before it.
        let err = batch(
            wh,
            &[
                "INSERT INTO b_t VALUES (3)",
                "INSERT INTO b_missing VALUES (1)",
            ],
        )
        .await
        .expect_err("b_missing does not exist");
        assert!(
            matches!(err, WarehouseError::Query { .. }),
            "{engine}: {err}"
        );
        assert_eq!(count(wh, "b_t").await, 2, "{engine}: rolled back");

        if *engine == "mysql" {
            // DDL commits implicitly here; a multi-table RENAME is the
            // atomic swap.
            batch(
                wh,
                &[
                    "CREATE TABLE b_n (x INT)",
                    "INSERT INTO b_n VALUES (7), (8), (9)",
                    "RENAME TABLE b_t TO b_o, b_n TO b_t",
                    "DROP TABLE b_o",
                ],
            )
            .await
            .unwrap_or_else(|e| panic!("{engine}: {e}"));
        } else {
            // DDL rolls back too: the table dropped by a failed batch is
            // still there, with its rows.
            let err = batch(
                wh,
                &[
                    "DROP TABLE b_t",
                    "CREATE TABLE b_t (x INT)",
                    "INSERT INTO b_missing VALUES (1)",
                ],
            )
            .await
            .expect_err("b_missing does not exist");
            assert!(
                matches!(err, WarehouseError::Query { .. }),
                "{engine}: {err}"
            );
            assert_eq!(count(wh, "b_t").await, 2, "{engine}: drop rolled back");
            batch(
                wh,
                &[
                    "CREATE TABLE b_n (x INT)",
                    "INSERT INTO b_n VALUES (7), (8), (9)",
                    "DROP TABLE b_t",
                    "ALTER TABLE b_n RENAME TO b_t",
                ],
            )
            .await
            .unwrap_or_else(|e| panic!("{engine}: {e}"));
        }
        assert_eq!(count(wh, "b_t").await, 3, "{engine}: swapped");
    }
}

/// Rebuilds the map while a task counts its rows in a loop; returns every
/// count the task saw (it fails the test on the first error).
async fn counts_during_rebuild(wh: &Arc<Warehouse>, engine: &str) -> Vec<i64> {
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (wh, stop, engine) = (wh.clone(), stop.clone(), engine.to_string());
        tokio::spawn(async move {
            let mut seen = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                match wh
                    .query("SELECT COUNT(*) FROM accord_identity_map", 1)
                    .await
                {
                    Ok(rs) => seen.push(int(&rs.rows[0][0])),
                    Err(e) => panic!("{engine}: a reader failed during the rebuild: {e}"),
                }
            }
            seen
        })
    };
    let built = identity::build(
        &demo_catalog(),
        wh,
        &BuildOptions {
            full: true,
            now: None,
        },
    )
    .await;
    stop.store(true, Ordering::Relaxed);
    let seen = reader.await.unwrap_or_else(|e| panic!("{engine}: {e}"));
    built.unwrap_or_else(|e| panic!("{engine}: rebuild: {e}"));
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_see_the_old_map_or_the_new_one_never_a_gap() {
    let data = demo(1);
    // Three new cookies, each linked to a customer nobody erased: the new
    // map has exactly three identifiers more.
    let erased: Vec<i64> = data
        .erasure_requests
        .iter()
        .map(|e| e.customer_id)
        .collect();
    let customer = data
        .customers
        .iter()
        .map(|c| c.customer_id)
        .find(|c| !erased.contains(c))
        .expect("a customer");
    let dir = tempfile::tempdir().expect("tempdir");
    let engines = [
        (
            "duckdb",
            open(&format!(
                "duckdb://{}",
                dir.path().join("s.duckdb").display()
            ))
            .await,
        ),
        ("postgres", open(&postgres_db("swap").await).await),
    ];
    for (engine, wh) in engines {
        wh.load_demo(&data)
            .await
            .unwrap_or_else(|e| panic!("{engine}: load: {e}"));
        let wh = Arc::new(wh);
        identity::build(&demo_catalog(), &wh, &BuildOptions::default())
            .await
            .unwrap_or_else(|e| panic!("{engine}: first build: {e}"));
        let old = count(&wh, "accord_identity_map").await;
        for i in 1..=3 {
            wh.query(
                &format!(
                    "INSERT INTO identity_links VALUES ('anon_swap_{i}', {customer}, TIMESTAMP '2025-12-30 10:00:00', 'login')"
                ),
                1,
            )
            .await
            .unwrap_or_else(|e| panic!("{engine}: {e}"));
        }
        let new = old + 3;

        let seen = counts_during_rebuild(&wh, engine).await;
        assert!(!seen.is_empty(), "{engine}: the reader never ran");
        let odd: Vec<_> = seen.iter().filter(|c| **c != old && **c != new).collect();
        assert!(odd.is_empty(), "{engine}: partial maps seen: {odd:?}");
        assert_eq!(count(&wh, "accord_identity_map").await, new, "{engine}");
        println!(
            "{engine}: {} reads during the rebuild, {} of the old map, {} of the new",
            seen.len(),
            seen.iter().filter(|c| **c == old).count(),
            seen.iter().filter(|c| **c == new).count()
        );

        // And again with nothing to change: still never a gap.
        let seen = counts_during_rebuild(&wh, engine).await;
        assert!(seen.iter().all(|c| *c == new), "{engine}: {seen:?}");
    }
}
