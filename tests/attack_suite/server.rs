//! The server under attack: the real `accord serve` binary as a child
//! process (HTTP, GraphQL and the Postgres endpoint), over a private copy of
//! the demo DuckDB file, with the demo definitions and secret plus an
//! RS256 public key (for the HS/RS confusion token). A child process, not
//! an in-process server, so an abort (stack overflow) or a hang is observed
//! as a failed case and the server restarted, and every other case still
//! runs.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::http;

pub struct Server {
    child: Child,
    pub base: String,
    pub pg_port: u16,
    pub log: PathBuf,
    /// Holds the config and DuckDB copy until the server is dropped.
    _dir: tempfile::TempDir,
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    l.local_addr().expect("local addr").port()
}

fn config(dir: &Path, http_port: u16, pg_port: u16, rsa_public: &Path) -> String {
    http::demo_duckdb_copy(dir);
    let url = format!("duckdb://{}", dir.join("demo.duckdb").display());
    format!(
        "http_addr: 127.0.0.1:{http_port}\n\
         pg_addr: 127.0.0.1:{pg_port}\n\
         defs: {defs}\n\
         warehouse: {url}\n\
         reload: false\n\
         auth:\n  hs256_secret: {secret}\n  rs256_public_key: {rsa}\n  roles_claim: roles\n\
         limits:\n  max_rows: 10000\n  max_body_bytes: 65536\n  query_timeout_seconds: 30\n  max_connections: 8\n\
         masking:\n  hmac_key: {mask_key}\n\
         log:\n  level: warn\n",
        defs = http::demo_defs().display(),
        mask_key = accord::masking::DEV_KEY,
        secret = accord::auth::DEV_SECRET,
        rsa = rsa_public.display(),
    )
}

/// `accord serve --config CFG`: the `accord` binary cargo built for this
/// test, or with `ATTACK_SUITE_SERVER=test-binary` this test binary itself
/// running the same entry point (`accord::cli::run`, see `serve_child` in
/// attack_suite.rs) — for target directories shared by several checkouts,
/// where `target/debug/accord` may be another checkout's build.
fn command(cfg: &Path) -> Command {
    if std::env::var("ATTACK_SUITE_SERVER").as_deref() == Ok("test-binary") {
        let mut cmd = Command::new(std::env::current_exe().expect("the test binary"));
        cmd.args([
            "serve_child",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env("ATTACK_SUITE_CHILD_CONFIG", cfg);
        cmd
    } else {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_accord"));
        cmd.arg("serve").arg("--config").arg(cfg);
        cmd
    }
}

impl Server {
    /// Starts the binary and waits until /healthz answers.
    pub fn start(rsa_public: &Path) -> Server {
        let dir = tempfile::Builder::new()
            .prefix("accord-attack-suite")
            .tempdir()
            .expect("tempdir");
        let (http_port, pg_port) = (free_port(), free_port());
        let cfg = dir.path().join("suite.yaml");
        std::fs::write(&cfg, config(dir.path(), http_port, pg_port, rsa_public))
            .expect("write config");
        let log = dir.path().join("server.log");
        let out = std::fs::File::create(&log).expect("log file");
        let mut cmd = command(&cfg);
        // The demo's working directory: `read_text('accord.yaml')` reads the
        // demo configuration and its secret, as with `cargo run -- serve`.
        cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("log file"))
            .stderr(out);
        for (k, _) in std::env::vars() {
            if k.starts_with("ACCORD_") || k.starts_with("RUST_TEST") {
                cmd.env_remove(k);
            }
        }
        let child = cmd.spawn().expect("spawn accord serve");
        let mut s = Server {
            child,
            base: format!("http://127.0.0.1:{http_port}"),
            pg_port,
            log,
            _dir: dir,
        };
        s.wait_ready();
        s
    }

    fn wait_ready(&mut self) {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(180) {
            if let Some(status) = self.exited() {
                panic!(
                    "accord serve exited at start ({status}):\n{}",
                    self.log_tail()
                );
            }
            if self.healthy(Duration::from_secs(2)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!("accord serve did not become ready:\n{}", self.log_tail());
    }

    /// The exit status when the process has ended.
    pub fn exited(&mut self) -> Option<String> {
        match self.child.try_wait() {
            Ok(Some(s)) => Some(s.to_string()),
            Ok(None) => None,
            Err(e) => Some(format!("unknown ({e})")),
        }
    }

    /// GET /healthz answers 200 within `timeout`.
    pub fn healthy(&self, timeout: Duration) -> bool {
        let url = format!("{}/healthz", self.base);
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                let c = reqwest::Client::builder().timeout(timeout).build().ok()?;
                let r = c.get(url).send().await.ok()?;
                Some(r.status().as_u16() == 200)
            })
        })
        .join()
        .ok()
        .flatten()
        .unwrap_or(false)
    }

    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
