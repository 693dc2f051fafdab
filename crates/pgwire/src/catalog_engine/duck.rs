//! The DuckDB side of the catalog engine: build, harden, run.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use duckdb::arrow::datatypes::DataType;
use pgwire::api::Type;

use super::{
    CATALOG_MEMORY_LIMIT, CatalogDbs, CatalogLimits, lock_poisoned, safe_error, timed_out,
    too_many_rows,
};
use crate::catalog_db::{SessionInfo, build_sql, q};
use crate::encode::Field;
use crate::error::SqlResult;
use crate::schema::Exposed;
use crate::warehouse::Value;
use crate::warehouse::duck::value;

/// Settings applied once a catalog database is built. The last one locks
/// them: no statement can turn any back on.
fn harden_sql() -> String {
    format!(
        "SET temp_directory = ''; \
         SET enable_external_access = false; \
         SET allow_community_extensions = false; \
         SET autoinstall_known_extensions = false; \
         SET autoload_known_extensions = false; \
         SET threads = 1; \
         SET GLOBAL integer_division = true; \
         SET memory_limit = '{CATALOG_MEMORY_LIMIT}'; \
         SET lock_configuration = true;"
    )
}

/// A new, hardened catalog database for one visibility.
fn build(exposed: &Exposed) -> duckdb::Result<duckdb::Connection> {
    let conn = duckdb::Connection::open_in_memory()?;
    conn.execute_batch(&build_sql(exposed, true))?;
    conn.execute_batch(&harden_sql())?;
    Ok(conn)
}

/// What a query's macros read from the session (`version()`,
/// `current_database()`, `pg_backend_pid()`, …). Variables belong to the
/// connection, which is the query's own.
fn session_sql(session: &SessionInfo) -> String {
    format!(
        "SET search_path = 'public,pgc'; SET VARIABLE accord_user = {}; SET VARIABLE accord_db = {}; SET VARIABLE accord_app = {}; SET VARIABLE accord_pid = {}; SET VARIABLE accord_version = {}; SET VARIABLE accord_started = TIMESTAMP '2025-01-01 00:00:00';",
        q(&session.user),
        q(&session.database),
        q(&session.application_name),
        session.pid,
        q(&format!(
            "PostgreSQL {} (accord {}) on x86_64-pc-linux-gnu, a semantic layer speaking the Postgres protocol, 64-bit",
            crate::auth::SERVER_VERSION,
            crate::version()
        )),
    )
}

fn pg_type(dt: &DataType) -> Type {
    match dt {
        DataType::Int8 | DataType::Int16 | DataType::UInt8 => Type::INT2,
        DataType::Int32 | DataType::UInt16 => Type::INT4,
        DataType::UInt32 => Type::OID,
        DataType::Int64 | DataType::UInt64 => Type::INT8,
        DataType::Decimal128(..) | DataType::Decimal256(..) => Type::NUMERIC,
        DataType::Float16 | DataType::Float32 => Type::FLOAT4,
        DataType::Float64 => Type::FLOAT8,
        DataType::Boolean => Type::BOOL,
        DataType::Date32 | DataType::Date64 => Type::DATE,
        DataType::Timestamp(..) => Type::TIMESTAMP,
        // Lists travel as PostgreSQL array text (`{a,b}`) in a text column.
        _ => Type::TEXT,
    }
}

/// Interrupts a connection's statement once `after` has passed, unless
/// dropped first.
struct Watchdog {
    _stop: mpsc::Sender<()>,
    fired: Arc<AtomicBool>,
}

impl Watchdog {
    fn arm(handle: Arc<duckdb::InterruptHandle>, after: Duration) -> std::io::Result<Watchdog> {
        let (stop, wait) = mpsc::channel::<()>();
        let fired = Arc::new(AtomicBool::new(false));
        let flag = fired.clone();
        std::thread::Builder::new()
            .name("catalog-timeout".into())
            .spawn(move || {
                // Dropping the sender wakes this with `Disconnected`.
                if let Err(mpsc::RecvTimeoutError::Timeout) = wait.recv_timeout(after) {
                    flag.store(true, Ordering::SeqCst);
                    handle.interrupt();
                }
            })?;
        Ok(Watchdog { _stop: stop, fired })
    }

    fn fired(&self) -> bool {
        self.fired.load(Ordering::SeqCst)
    }
}

/// Why reading an answer stopped.
enum Stop {
    Duck(duckdb::Error),
    TooManyRows,
}

impl From<duckdb::Error> for Stop {
    fn from(e: duckdb::Error) -> Stop {
        Stop::Duck(e)
    }
}

type Answer = (Vec<Field>, Vec<Vec<Value>>);

/// Runs `sql` and reads at most `max_rows` rows.
fn fetch(conn: &duckdb::Connection, sql: &str, max_rows: usize) -> Result<Answer, Stop> {
    let mut stmt = conn.prepare(sql)?;
    let mut rows = stmt.query([])?;
    let fields: Vec<Field> = match rows.as_ref() {
        Some(st) => st
            .column_names()
            .into_iter()
            .enumerate()
            .map(|(i, name)| Field {
                name,
                ty: pg_type(&st.column_type(i)),
            })
            .collect(),
        None => Vec::new(),
    };
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        if out.len() == max_rows {
            return Err(Stop::TooManyRows);
        }
        let mut r = Vec::with_capacity(fields.len());
        for i in 0..fields.len() {
            r.push(value(row.get_ref(i)?));
        }
        out.push(r);
    }
    Ok((fields, out))
}

impl CatalogDbs {
    /// A fresh connection to the caller's catalog (built on first use).
    fn connection(
        &self,
        exposed: &Exposed,
        session: &SessionInfo,
    ) -> SqlResult<duckdb::Connection> {
        let fail = |e: duckdb::Error| safe_error(session, &e.to_string());
        let shared = {
            let mut dbs = self.dbs.lock().map_err(|_| lock_poisoned())?;
            match dbs.get(&exposed.fingerprint) {
                Some(c) => c.clone(),
                None => {
                    let c = Arc::new(Mutex::new(build(exposed).map_err(fail)?));
                    if dbs.len() > 64 {
                        dbs.clear();
                    }
                    dbs.insert(exposed.fingerprint.clone(), c.clone());
                    c
                }
            }
        };
        let base = shared.lock().map_err(|_| lock_poisoned())?;
        base.try_clone().map_err(fail)
    }

    /// Runs SQL on the caller's catalog: a fresh connection, a transaction
    /// always rolled back, the timeout and the row cap. Only [`Self::run`]
    /// (checked SQL) and tests call this.
    pub(super) fn run_sql(
        &self,
        exposed: &Exposed,
        session: &SessionInfo,
        sql: &str,
    ) -> SqlResult<Answer> {
        let limits: CatalogLimits = self.limits;
        let fail = |e: duckdb::Error| safe_error(session, &e.to_string());
        let conn = self.connection(exposed, session)?;
        conn.execute_batch(&session_sql(session)).map_err(fail)?;
        conn.execute_batch("BEGIN TRANSACTION").map_err(fail)?;
        let watchdog = Watchdog::arm(conn.interrupt_handle(), limits.timeout)
            .map_err(|e| safe_error(session, &format!("timeout thread: {e}")))?;
        let answer = fetch(&conn, sql, limits.max_rows);
        let fired = watchdog.fired();
        drop(watchdog);
        // Whatever the statement did, nothing of it stays.
        let _ = conn.execute_batch("ROLLBACK");
        match answer {
            Ok(a) => Ok(a),
            Err(Stop::TooManyRows) => Err(too_many_rows(&limits)),
            Err(Stop::Duck(e)) if fired => {
                tracing::warn!(pid = session.pid, user = %session.user, error = %e, "catalog query timed out");
                Err(timed_out(&limits))
            }
            Err(Stop::Duck(e)) => Err(fail(e)),
        }
    }
}

/// The engine's own defences, reached directly (the allow-list skipped).
#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::SqlError;

    fn exposed() -> Exposed {
        Exposed {
            tables: vec![],
            fingerprint: "engine-tests".into(),
            denied: None,
        }
    }

    fn session() -> SessionInfo {
        SessionInfo {
            user: "partner".into(),
            database: "accord".into(),
            application_name: String::new(),
            pid: 7,
        }
    }

    fn dbs(limits: CatalogLimits) -> CatalogDbs {
        CatalogDbs::new(limits)
    }

    fn run(dbs: &CatalogDbs, sql: &str) -> SqlResult<Answer> {
        dbs.run_sql(&exposed(), &session(), sql)
    }

    fn refused(dbs: &CatalogDbs, sql: &str) -> SqlError {
        match run(dbs, sql) {
            Ok((_, rows)) => panic!("{sql} ran and returned {rows:?}"),
            Err(e) => {
                assert!(!e.message.contains(sql), "{sql}: {}", e.message);
                e
            }
        }
    }

    fn count(dbs: &CatalogDbs, sql: &str) -> i64 {
        match run(dbs, sql).expect(sql).1.as_slice() {
            [row] => match row.as_slice() {
                [Value::Int(n)] => *n,
                other => panic!("{sql}: {other:?}"),
            },
            other => panic!("{sql}: {other:?}"),
        }
    }

    #[test]
    fn files_settings_and_extensions_are_out_of_reach() {
        let dbs = dbs(CatalogLimits::default());
        assert!(count(&dbs, "SELECT count(*) FROM pgc.pg_type") > 0);
        assert!(count(&dbs, "SELECT count(*) FROM pg_type") > 0);
        let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
        for sql in [
            format!("SELECT content FROM read_text('{manifest}')"),
            format!("SELECT * FROM read_blob('{manifest}')"),
            "SELECT * FROM read_csv('/etc/passwd', sep = ':', header = false)".to_string(),
            "SELECT * FROM glob('./*')".to_string(),
            format!("SELECT * FROM '{manifest}'"),
            format!("COPY (SELECT 1) TO '{manifest}.copy'"),
            "ATTACH 'accord-sandbox-attach.duckdb' AS x".to_string(),
            "INSTALL httpfs".to_string(),
            "LOAD httpfs".to_string(),
            "SET enable_external_access = true".to_string(),
            "SET GLOBAL enable_external_access = true".to_string(),
            "SET lock_configuration = false".to_string(),
            "SET threads = 8".to_string(),
            "SET memory_limit = '64GB'".to_string(),
            "SET temp_directory = '/tmp'".to_string(),
        ] {
            refused(&dbs, &sql);
        }
        assert!(!std::path::Path::new(&format!("{manifest}.copy")).exists());
    }

    #[test]
    fn writes_never_outlive_their_query() {
        let dbs = dbs(CatalogLimits::default());
        let classes = count(&dbs, "SELECT count(*) FROM pgc.pg_class");
        let types = count(&dbs, "SELECT count(*) FROM pgc.pg_type");
        // The low-level path runs these (the allow-list would refuse them);
        // each is undone when its query ends.
        let _ = run(&dbs, "DELETE FROM pgc.pg_type");
        let _ = run(
            &dbs,
            "INSERT INTO pgc.pg_class (oid, relname) VALUES (1, 'planted')",
        );
        let _ = run(&dbs, "CREATE TABLE public.planted AS SELECT 1 AS x");
        let _ = run(&dbs, "CREATE MACRO pgc.planted() AS 1");
        let _ = run(&dbs, "COMMIT");
        assert_eq!(count(&dbs, "SELECT count(*) FROM pgc.pg_type"), types);
        assert_eq!(count(&dbs, "SELECT count(*) FROM pgc.pg_class"), classes);
        refused(&dbs, "SELECT * FROM public.planted");
        refused(&dbs, "SELECT pgc.planted()");
    }

    #[test]
    fn a_long_statement_is_canceled() {
        let limits = CatalogLimits {
            timeout: Duration::from_millis(500),
            ..Default::default()
        };
        let dbs = dbs(limits);
        let started = std::time::Instant::now();
        let e = refused(&dbs, "SELECT count(*) FROM range(11000000000)");
        assert_eq!(e.code, "57014", "{}", e.message);
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        // The database is still there for the next caller.
        assert_eq!(count(&dbs, "SELECT count(*) FROM range(3)"), 3);
    }

    #[test]
    fn more_rows_than_the_cap_is_an_error() {
        let limits = CatalogLimits {
            max_rows: 10,
            ..Default::default()
        };
        let dbs = dbs(limits);
        assert_eq!(run(&dbs, "SELECT * FROM range(10)").unwrap().1.len(), 10);
        assert_eq!(refused(&dbs, "SELECT * FROM range(11)").code, "54000");
    }

    #[test]
    fn errors_carry_no_sql_and_no_duckdb_text() {
        let dbs = dbs(CatalogLimits::default());
        for sql in [
            "SELEC secret_marker FROM pgc.pg_class",
            "SELECT secret_marker FROM pgc.pg_class",
            "SELECT * FROM pgc.secret_marker",
            "SELECT secret_marker(1)",
        ] {
            let e = refused(&dbs, sql);
            assert!(!e.message.contains("secret_marker"), "{}", e.message);
            assert!(!e.message.contains("Error:"), "{}", e.message);
        }
        // The format() rewrite's own refusals keep their words.
        let e = refused(
            &dbs,
            "SELECT error('format(): widths are not supported; accord''s catalog supports %s')",
        );
        assert!(
            e.message.starts_with("format(): widths are not supported"),
            "{}",
            e.message
        );
    }

    /// The cost of the isolation chosen (a fresh connection and a rolled
    /// back transaction per query) against rebuilding the database per
    /// query: `cargo test --lib catalog_isolation_cost -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn catalog_isolation_cost() {
        let defs = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../metric_defs"));
        let catalog = crate::definitions::load_dir(defs).expect("demo definitions");
        let demo = crate::schema::build(&catalog, &crate::access::Caller::operator());
        let dbs = dbs(CatalogLimits::default());
        let run = |dbs: &CatalogDbs, sql: &str| dbs.run_sql(&demo, &session(), sql);
        let sql = "SELECT c.relname, a.attname FROM pgc.pg_class c JOIN pgc.pg_attribute a ON a.attrelid = c.oid";
        run(&dbs, sql).expect("warm up");
        let n = 200;
        let started = std::time::Instant::now();
        for _ in 0..n {
            run(&dbs, sql).expect(sql);
        }
        let shared = started.elapsed() / n;
        let started = std::time::Instant::now();
        for _ in 0..n {
            let conn = dbs.connection(&demo, &session()).expect("connect");
            conn.execute_batch(&session_sql(&session()))
                .expect("session");
            fetch(&conn, sql, 10_000).map_err(|_| ()).expect(sql);
        }
        let bare = started.elapsed() / n;
        let started = std::time::Instant::now();
        for _ in 0..20 {
            let conn = build(&demo).expect("build");
            conn.execute_batch(&session_sql(&session()))
                .expect("session");
            fetch(&conn, sql, 10_000).map_err(|_| ()).expect(sql);
        }
        let rebuilt = started.elapsed() / 20;
        println!(
            "per catalog query: fresh connection + rolled-back transaction + timer {shared:?} \
             (without transaction and timer {bare:?}), rebuilt database {rebuilt:?}"
        );
    }
}
