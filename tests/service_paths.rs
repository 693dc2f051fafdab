//! One query path (issue "One pipeline"): a scheduled anomaly check reads
//! its metric through the query service, with the deployment's time zone,
//! so it judges the same daily numbers a served query of the metric shows.
//! Hand fixture: 10 rows a day at noon UTC, and 20 more at 23:30 UTC on the
//! checked day — 00:30 the next day in Europe/Berlin (UTC+1 in March).

#[path = "common/http.rs"]
mod http;

use chrono::NaiveDate;
use serde_json::{Value as Json, json};

const DEFS: &str = "models:
  - name: hits
    source:
      table: hits
    entities:
      - name: hit
        type: primary
        expr: id
    dimensions:
      - name: seen_at
        type: time
        granularity: hour
    defaults:
      agg_time_dimension: seen_at
    measures:
      - name: hit_count
        agg: count
metrics:
  - name: hits
    type: simple
    measure: hits.hit_count
checks:
  - name: hits_anomaly
    metric: hits
    type: anomaly
    period: day
    trailing: 3
    k: 4
";

/// 2025-03-01..05 at noon: 10 a day; 2025-03-05 23:30 UTC: 20 more.
fn fixture(dir: &std::path::Path) -> accord::warehouse::WarehouseUrl {
    let path = dir.join("hits.duckdb");
    let conn = duckdb::Connection::open(&path).unwrap();
    conn.execute_batch("CREATE TABLE hits (id BIGINT, seen_at TIMESTAMP)")
        .unwrap();
    let mut id = 0;
    let mut insert = |at: chrono::NaiveDateTime, n: usize| {
        for _ in 0..n {
            id += 1;
            conn.execute_batch(&format!("INSERT INTO hits VALUES ({id}, TIMESTAMP '{at}')"))
                .unwrap();
        }
    };
    for day in 1..=5 {
        let d = NaiveDate::from_ymd_opt(2025, 3, day).unwrap();
        insert(d.and_hms_opt(12, 0, 0).unwrap(), 10);
    }
    let late = NaiveDate::from_ymd_opt(2025, 3, 5).unwrap();
    insert(late.and_hms_opt(23, 30, 0).unwrap(), 20);
    format!("duckdb://{}", path.display()).parse().unwrap()
}

/// The scheduled check's observed value and status, and the served daily
/// value of 2025-03-05, on a server with `time_zone`.
async fn observed(time_zone: Option<&str>) -> (f64, String, f64) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("defs.yml"), DEFS).unwrap();
    let url = fixture(dir.path());
    let mut config = accord::server::ServeConfig::for_tests(dir.path(), url);
    config.reload = false;
    config.pg_addr = None;
    config.time_zone = time_zone.map(str::to_string);
    // Noon UTC on the 6th: the checked day is the 5th in both zones.
    config.checks.now = Some(
        NaiveDate::from_ymd_opt(2025, 3, 6)
            .unwrap()
            .and_hms_opt(12, 0, 0)
            .unwrap(),
    );
    let server = http::Server::start(config, dir).await;
    let run = accord::checks::monitor::run_once(&server.running().state).await;
    let check = run
        .checks
        .iter()
        .find(|c| c.name == "hits_anomaly")
        .expect("the anomaly check ran");
    let served = server
        .client
        .query(&json!({
            "metrics": ["hits"],
            "dimensions": ["metric_time:day"],
            "time_range": {"start": "2025-03-05", "end": "2025-03-06"},
        }))
        .await
        .ok_json();
    let day: &Json = &served["rows"][0];
    (
        check.observed.expect("an observed value"),
        format!("{:?}", check.status),
        day[1].as_f64().unwrap(),
    )
}

#[tokio::test]
async fn scheduled_anomaly_check_uses_the_configured_time_zone() {
    // In Berlin the 23:30 UTC rows belong to the 6th: the 5th holds 10, like
    // every other day, and the check passes.
    let (check, status, served) = observed(Some("Europe/Berlin")).await;
    assert_eq!(check, 10.0, "scheduled check in the configured zone");
    assert_eq!(served, 10.0, "served query in the configured zone");
    assert_eq!(status, "Pass");
    // In UTC the 5th holds 30: a spike over a flat history of 10.
    let (check, status, served) = observed(None).await;
    assert_eq!((check, served), (30.0, 30.0));
    assert_eq!(status, "Fail");
}
