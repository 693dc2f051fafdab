//! DuckDB file locks (issue #19): `accord query` used to open the file
//! read-write, so any other process holding it — even read-only, like a
//! notebook or a BI tool's driver — made it fail with DuckDB's "Could not
//! set lock on file … Conflicting lock is held". accord now opens DuckDB
//! read-only wherever it does not write (queries, checks, `validate
//! --warehouse`, `accord serve`), so readers share the file; a writer's
//! lock is reported naming the file, the process, that it writes, and what
//! to do.
//!
//! The other process is real: `accord serve` (a reader), or this test
//! binary run again as a child that holds the file open for writing
//! (the ignored test `hold_for_writing`, a no-op unless `ACCORD_TEST_HOLD`
//! names a file).

#[path = "common/http.rs"]
mod http;

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

fn accord() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_accord"));
    for (k, _) in std::env::vars() {
        if k.starts_with("ACCORD_") {
            cmd.env_remove(k);
        }
    }
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"));
    cmd
}

/// Kills the child when the test ends, passed or not.
struct Holder(Child);

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Reads `child`'s `stream` line by line until a line holds `marker`;
/// returns the lines read. Panics after two minutes.
fn wait_for(stream: impl Read + Send + 'static, marker: &'static str) -> String {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(120)) {
        let done = line.contains(marker);
        seen.push(line);
        if done {
            return seen.join("\n");
        }
    }
    panic!("no `{marker}` in:\n{}", seen.join("\n"));
}

/// `accord serve` over `file`: it holds the file (read-only) until killed.
fn serve(file: &Path) -> Holder {
    let mut child = accord()
        .args([
            "serve",
            "--warehouse",
            &format!("duckdb://{}", file.display()),
        ])
        .args(["--http-addr", "127.0.0.1:0", "--pg-addr", "off"])
        .args(["--no-reload", "--log", "error"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn accord serve");
    let stderr = child.stderr.take().expect("stderr");
    let holder = Holder(child);
    wait_for(stderr, "health ");
    holder
}

/// This test binary again, holding `file` open for writing.
fn writer_holding(file: &Path) -> Holder {
    let mut child = Command::new(std::env::current_exe().expect("the test binary"))
        .args(["hold_for_writing", "--exact", "--ignored", "--nocapture"])
        .env("ACCORD_TEST_HOLD", file)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn the holder");
    let stdout = child.stdout.take().expect("stdout");
    let holder = Holder(child);
    wait_for(stdout, "holding");
    holder
}

/// The child's side: open the file read-write, say so, and keep it open
/// until the parent closes stdin (or kills it).
#[test]
#[ignore = "run by `writer_holding` as a child process"]
fn hold_for_writing() {
    let Some(file) = std::env::var_os("ACCORD_TEST_HOLD") else {
        return;
    };
    let conn = duckdb::Connection::open(&file).expect("open for writing");
    conn.execute_batch("CREATE TABLE IF NOT EXISTS accord_test_held (x INTEGER)")
        .expect("write");
    println!("holding");
    let mut sink = String::new();
    let _ = std::io::stdin().read_to_string(&mut sink);
    drop(conn);
}

fn run(cmd: &mut Command) -> (Output, String) {
    let out = cmd.output().expect("run accord");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    (out, err)
}

fn query(file: &Path) -> Command {
    let mut cmd = accord();
    cmd.args([
        "query",
        "--warehouse",
        &format!("duckdb://{}", file.display()),
    ])
    .args([
        "--metrics",
        "revenue",
        "--by",
        "customers.region",
        "--format",
        "csv",
    ]);
    cmd
}

#[test]
fn query_reads_a_file_another_reader_holds() {
    let dir = tempfile::tempdir().expect("tempdir");
    http::demo_duckdb_copy(dir.path());
    let file = dir.path().join("demo.duckdb");
    let _server = serve(&file);
    let (out, err) = run(&mut query(&file));
    assert!(out.status.success(), "{err}");
    let csv = String::from_utf8_lossy(&out.stdout);
    assert!(csv.starts_with("customers__region,revenue"), "{csv}");
    // And a second reader of the same kind.
    let (out, err) = run(accord().args([
        "validate",
        "--warehouse",
        &format!("duckdb://{}", file.display()),
    ]));
    assert!(out.status.success(), "{err}");
}

#[test]
fn a_writers_lock_is_named_with_what_to_do() {
    let dir = tempfile::tempdir().expect("tempdir");
    http::demo_duckdb_copy(dir.path());
    let file = dir.path().join("demo.duckdb");
    let holder = writer_holding(&file);
    let pid = holder.0.id();
    let (out, err) = run(&mut query(&file));
    assert_eq!(out.status.code(), Some(1), "{err}");
    let shown = file.display().to_string();
    for want in [
        format!("error: cannot open the DuckDB file {shown}: "),
        format!("(PID {pid}"),
        "has it open for writing; accord only reads here and can share the file with other readers, but not with a writer".to_string(),
        "Close the file in that program (or stop it), or point accord at a copy".to_string(),
    ] {
        assert!(err.contains(&want), "missing `{want}` in:\n{err}");
    }
    assert!(!err.contains("Could not set lock"), "{err}");
}

#[test]
fn demo_init_names_the_serving_accord_that_reads_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    http::demo_duckdb_copy(dir.path());
    let file = dir.path().join("demo.duckdb");
    let server = serve(&file);
    let pid = server.0.id();
    let (out, err) = run(accord().args([
        "demo",
        "init",
        "--scale",
        "1",
        "--no-identity",
        "--warehouse",
        &format!("duckdb://{}", file.display()),
    ]));
    assert_eq!(out.status.code(), Some(1), "{err}");
    for want in [
        format!("(PID {pid}"),
        "has it open for reading (another accord reading it: `accord serve` keeps it open while it runs".to_string(),
        "accord writes here".to_string(),
    ] {
        assert!(err.contains(&want), "missing `{want}` in:\n{err}");
    }
}
