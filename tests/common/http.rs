//! Helpers for tests that talk to a real listening `accord serve`: servers
//! over a private copy of the demo DuckDB file (or any warehouse URL and
//! definitions directory), an HTTP client that refuses 500s, and checks for
//! problem+json errors.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use accord::server::{Running, ServeConfig};
use accord::warehouse::{Warehouse, WarehouseOptions, WarehouseUrl};
use serde_json::Value as Json;

/// The demo definitions shipped in the repository.
pub fn demo_defs() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("metric_defs")
}

/// A DuckDB file loaded once per test binary with the demo data (scale 1,
/// seed 42). DuckDB opens a file once per process, so each server gets its
/// own copy (see [`demo_duckdb_copy`]).
fn demo_duckdb_template() -> &'static Path {
    static TEMPLATE: OnceLock<PathBuf> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("accord-http-template")
            .tempdir()
            .expect("tempdir")
            .keep();
        let path = dir.join("demo.duckdb");
        let p = path.clone();
        // Tests run inside a tokio runtime; load on a thread with its own.
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                let url: WarehouseUrl = format!("duckdb://{}", p.display()).parse().unwrap();
                let wh = Warehouse::connect(&url, WarehouseOptions::default())
                    .await
                    .expect("open the template DuckDB file");
                wh.load_demo(&accord::demo::generate(&accord::demo::DemoConfig {
                    scale: 1,
                    seed: 42,
                }))
                .await
                .expect("load the demo data into DuckDB");
                // Stitched definitions read the identity map.
                let catalog =
                    accord::definitions::load_dir(&demo_defs()).expect("demo definitions");
                let opts = accord::identity::BuildOptions {
                    full: true,
                    ..Default::default()
                };
                accord::identity::build(&catalog, &wh, &opts)
                    .await
                    .expect("build the demo identity map");
                // Dropping the warehouse closes the database and checkpoints.
                drop(wh);
            });
        })
        .join()
        .expect("template loader thread panicked");
        path
    })
}

/// Copies the demo DuckDB file into `dir` and returns its warehouse URL.
pub fn demo_duckdb_copy(dir: &Path) -> WarehouseUrl {
    let template = demo_duckdb_template();
    let target = dir.join("demo.duckdb");
    std::fs::copy(template, &target).expect("copy the demo DuckDB file");
    let wal = template.with_extension("duckdb.wal");
    if wal.exists() {
        std::fs::copy(&wal, target.with_extension("duckdb.wal")).expect("copy the WAL");
    }
    format!("duckdb://{}", target.display())
        .parse()
        .expect("duckdb url")
}

/// Copies a directory tree (definitions) into `to`.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create dir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("dir entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy file");
        }
    }
}

/// Writes `text` to `path` atomically (write elsewhere, then rename), so a
/// directory watcher never reads a half-written file.
pub fn write_atomic(path: &Path, text: &str) {
    let staging = std::env::temp_dir().join(format!(
        "accord-http-staging-{}-{}",
        std::process::id(),
        uuid_like()
    ));
    std::fs::write(&staging, text).expect("write staging file");
    if std::fs::rename(&staging, path).is_err() {
        // Another filesystem: fall back to a sibling temp name.
        let sibling = path.with_extension("tmp~");
        std::fs::copy(&staging, &sibling).expect("copy staging file");
        std::fs::rename(&sibling, path).expect("rename into place");
        let _ = std::fs::remove_file(&staging);
    }
}

fn uuid_like() -> u128 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed) as u128;
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    t ^ (n << 64)
}

/// A running server and a client pointed at it.
pub struct Server {
    running: Option<Running>,
    pub base: String,
    pub client: Client,
    /// Keeps the warehouse file and definitions alive.
    pub dir: tempfile::TempDir,
}

impl Server {
    /// Starts a server with `config` (its files live in `dir`).
    pub async fn start(config: ServeConfig, dir: tempfile::TempDir) -> Server {
        let running = accord::server::start(config)
            .await
            .unwrap_or_else(|e| panic!("server failed to start: {e}"));
        let base = format!("http://{}", running.addr);
        Server {
            client: Client::new(&base),
            base,
            running: Some(running),
            dir,
        }
    }

    /// A server over the demo definitions and a private copy of the demo
    /// DuckDB file; `tweak` adjusts the configuration (reload is off unless
    /// `tweak` turns it on).
    pub async fn demo(tweak: impl FnOnce(&mut ServeConfig)) -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = demo_duckdb_copy(dir.path());
        let mut config = ServeConfig::for_tests(&demo_defs(), url);
        config.reload = false;
        tweak(&mut config);
        Server::start(config, dir).await
    }

    pub fn running(&self) -> &Running {
        self.running.as_ref().expect("server is running")
    }

    /// Graceful shutdown: stop accepting, finish in-flight requests.
    pub async fn shutdown(&mut self) {
        if let Some(r) = self.running.take() {
            r.shutdown().await.expect("graceful shutdown");
        }
    }
}

/// An HTTP response read to the end.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn content_type(&self) -> &str {
        self.header("content-type").unwrap_or("")
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Json {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "response ({}) is not JSON ({e}):\n{}",
                self.status,
                self.text()
            )
        })
    }

    /// Asserts a 200 JSON response and returns its body.
    pub fn ok_json(&self) -> Json {
        assert_eq!(self.status, 200, "expected 200, got:\n{}", self.text());
        assert!(
            self.content_type().starts_with("application/json"),
            "content-type {}",
            self.content_type()
        );
        self.json()
    }

    /// Asserts an RFC 9457 problem with this status and code; returns it.
    pub fn problem(&self, status: u16, code: &str) -> Json {
        assert_eq!(
            self.status,
            status,
            "expected {status} {code}, got {}:\n{}",
            self.status,
            self.text()
        );
        assert_eq!(
            self.content_type(),
            "application/problem+json",
            "problem content-type; body:\n{}",
            self.text()
        );
        let p = self.json();
        assert_eq!(p["code"], code, "problem code in:\n{p:#}");
        assert_eq!(p["status"], status, "problem status in:\n{p:#}");
        assert_eq!(
            p["type"],
            format!("/problems/{code}"),
            "problem type in:\n{p:#}"
        );
        assert!(
            p["title"].as_str().is_some_and(|t| !t.is_empty()),
            "problem title in:\n{p:#}"
        );
        assert!(
            p["detail"].as_str().is_some_and(|t| !t.is_empty()),
            "problem detail in:\n{p:#}"
        );
        p
    }
}

/// A reqwest client bound to one server; every response is checked never
/// to be a 500.
#[derive(Clone)]
pub struct Client {
    pub base: String,
    pub http: reqwest::Client,
}

impl Client {
    pub fn new(base: &str) -> Client {
        Client {
            base: base.to_string(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .expect("reqwest client"),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn send(&self, req: reqwest::RequestBuilder) -> Resp {
        let resp = req.send().await.expect("HTTP request failed");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.bytes().await.expect("read body").to_vec();
        let r = Resp {
            status,
            headers,
            body,
        };
        assert!(r.status != 500, "the server answered 500:\n{}", r.text());
        r
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.send(self.http.get(self.url(path))).await
    }

    pub async fn post_json(&self, path: &str, body: &Json) -> Resp {
        self.send(self.http.post(self.url(path)).json(body)).await
    }

    /// POST /v1/query with a JSON body.
    pub async fn query(&self, body: &Json) -> Resp {
        self.post_json("/v1/query", body).await
    }

    /// POST with a raw body and content type.
    pub async fn post_raw(&self, path: &str, content_type: &str, body: Vec<u8>) -> Resp {
        self.send(
            self.http
                .post(self.url(path))
                .header("content-type", content_type)
                .body(body),
        )
        .await
    }

    /// The value of an unlabelled counter (`accord_cache_misses_total`) in
    /// /metrics, 0 when absent.
    pub async fn counter(&self, name: &str) -> f64 {
        let text = self.get("/metrics").await.text();
        metric_value(&text, name).unwrap_or(0.0)
    }
}

/// The value of the sample `name` (exact name with labels, e.g.
/// `accord_cache_hits_total` or `accord_http_requests_total{route="/healthz",status="200"}`).
pub fn metric_value(text: &str, name: &str) -> Option<f64> {
    text.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
        let (k, v) = l.rsplit_once(' ')?;
        (k == name).then(|| v.parse().ok()).flatten()
    })
}

/// Polls `check` until it returns `Some`, panicking with `what` after
/// `timeout`.
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            started.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
