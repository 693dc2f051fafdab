//! Loading the demo data into real engines for tests. Server URLs come from
//! ACCORD_TEST_POSTGRES_URL / ACCORD_TEST_MYSQL_URL (defaults: the local
//! PostgreSQL and MariaDB); an unreachable server fails the test loudly.
#![allow(dead_code)]

use accord::demo::{DemoConfig, DemoData, generate};
use accord::warehouse::{Warehouse, WarehouseOptions, WarehouseUrl};

pub fn postgres_url() -> String {
    std::env::var("ACCORD_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

pub fn mysql_url() -> String {
    std::env::var("ACCORD_TEST_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".into())
}

pub fn demo(scale: u32) -> DemoData {
    generate(&DemoConfig { scale, seed: 42 })
}

/// Drops and recreates database `accord_t_{name}` on the server at `base`
/// (`accord_{db}_{name}` when the URL names a database `db` other than
/// `test`, so checkouts pointed at different databases never share one);
/// returns its URL. A private database per test lets tests run in parallel.
async fn recreate<C>(base: &str, engine: &str, env: &str, drop_options: &str, name: &str) -> String
where
    C: sqlx::Connection,
    for<'c> &'c mut C: sqlx::Executor<'c, Database = C::Database>,
{
    let mut conn = C::connect(base).await.unwrap_or_else(|e| {
        panic!("{engine} at {base} is unreachable ({e}); start it or set {env}")
    });
    let (prefix, _) = base.rsplit_once('/').expect("the URL has a database path");
    let db = test_db_name(base, name);
    for sql in [
        format!("DROP DATABASE IF EXISTS {db}{drop_options}"),
        format!("CREATE DATABASE {db}"),
    ] {
        sqlx::raw_sql(&sql)
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    format!("{prefix}/{db}")
}

/// The database a test named `name` gets on the server at `base`.
pub fn test_db_name(base: &str, name: &str) -> String {
    let base_db = base.rsplit_once('/').map(|(_, d)| d).unwrap_or_default();
    match base_db.split('?').next().unwrap_or_default() {
        "test" | "" => format!("accord_t_{name}"),
        other => format!("accord_{other}_{name}"),
    }
}

pub async fn postgres_db(name: &str) -> String {
    recreate::<sqlx::PgConnection>(
        &postgres_url(),
        "PostgreSQL",
        "ACCORD_TEST_POSTGRES_URL",
        " WITH (FORCE)",
        name,
    )
    .await
}

pub async fn mysql_db(name: &str) -> String {
    recreate::<sqlx::MySqlConnection>(
        &mysql_url(),
        "MariaDB/MySQL",
        "ACCORD_TEST_MYSQL_URL",
        "",
        name,
    )
    .await
}

/// Opens `url` with the development mask key, as the demo server has.
pub async fn open(url: &str) -> Warehouse {
    let url: WarehouseUrl = url.parse().expect("warehouse url");
    Warehouse::connect(&url, WarehouseOptions::default())
        .await
        .expect("connect")
        .with_mask_key(Some(accord::masking::MaskKey::dev()))
}

/// The four executed engines, each loaded with `data`.
pub async fn all_engines(
    name: &str,
    data: &DemoData,
    dir: &std::path::Path,
) -> Vec<(&'static str, Warehouse)> {
    let duck = open(&format!("duckdb://{}", dir.join("demo.duckdb").display())).await;
    let pg = open(&postgres_db(name).await).await;
    let my = open(&mysql_db(name).await).await;
    let lite = open(&format!("sqlite://{}", dir.join("demo.sqlite").display())).await;
    let mut out = Vec::new();
    for (n, w) in [
        ("duckdb", duck),
        ("postgres", pg),
        ("mysql", my),
        ("sqlite", lite),
    ] {
        w.load_demo(data)
            .await
            .unwrap_or_else(|e| panic!("loading demo data into {n}: {e}"));
        out.push((n, w));
    }
    out
}

/// Builds the demo definitions' identity map in `wh` (stitched metrics,
/// funnels and attribution read it), as `accord demo init` does.
pub async fn build_identity(wh: &Warehouse) {
    let catalog = super::demo_catalog();
    let opts = accord::identity::BuildOptions {
        full: true,
        ..Default::default()
    };
    accord::identity::build(&catalog, wh, &opts)
        .await
        .unwrap_or_else(|e| panic!("identity build on the demo data: {e}"));
}

/// DuckDB, PostgreSQL (database `name`), MariaDB (database `name`) and
/// SQLite, each holding a hand-made fixture: `sql(timestamp_type)` gives
/// its statements (`TIMESTAMP`, or `DATETIME` on MariaDB).
pub async fn fixture_engines(
    name: &str,
    dir: &std::path::Path,
    sql: impl Fn(&str) -> Vec<String>,
) -> Vec<(&'static str, Warehouse)> {
    use sqlx::Connection;
    let duck = dir.join(format!("{name}.duckdb"));
    {
        let conn = duckdb::Connection::open(&duck).expect("open DuckDB");
        for s in sql("TIMESTAMP") {
            conn.execute_batch(&s)
                .unwrap_or_else(|e| panic!("DuckDB: {s}: {e}"));
        }
    }
    let pg = postgres_db(name).await;
    {
        let mut c = sqlx::PgConnection::connect(&pg).await.expect("PostgreSQL");
        for s in sql("TIMESTAMP") {
            sqlx::raw_sql(&s)
                .execute(&mut c)
                .await
                .unwrap_or_else(|e| panic!("PostgreSQL: {s}: {e}"));
        }
    }
    let my = mysql_db(name).await;
    {
        let mut c = sqlx::MySqlConnection::connect(&my).await.expect("MariaDB");
        for s in sql("DATETIME") {
            sqlx::raw_sql(&s)
                .execute(&mut c)
                .await
                .unwrap_or_else(|e| panic!("MariaDB: {s}: {e}"));
        }
    }
    let lite = dir.join(format!("{name}.sqlite"));
    {
        let mut c =
            sqlx::SqliteConnection::connect(&format!("sqlite://{}?mode=rwc", lite.display()))
                .await
                .expect("SQLite");
        for s in sql("TIMESTAMP") {
            sqlx::raw_sql(&s)
                .execute(&mut c)
                .await
                .unwrap_or_else(|e| panic!("SQLite: {s}: {e}"));
        }
    }
    vec![
        (
            "duckdb",
            open(&format!("duckdb://{}", duck.display())).await,
        ),
        ("postgres", open(&pg).await),
        ("mysql", open(&my).await),
        (
            "sqlite",
            open(&format!("sqlite://{}", lite.display())).await,
        ),
    ]
}
