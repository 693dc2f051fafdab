//! A warehouse that goes away and comes back: queries fail with a clear
//! "unavailable" error (never a panic) while it is down, and the next query
//! after it returns works without restarting anything. The outage is a real
//! TCP forwarder in front of the local PostgreSQL that the test stops and
//! restarts on the same port.

mod common;

use std::time::Duration;

use accord::warehouse::{Warehouse, WarehouseError, WarehouseOptions, WarehouseUrl};
use std::sync::{Arc, Mutex};
use tokio::net::{TcpListener, TcpStream};

use tokio::task::{AbortHandle, JoinHandle};

/// A forwarder to PostgreSQL; `stop` closes the listener and every open
/// connection, as a crashed warehouse would.
struct Forwarder {
    accept: JoinHandle<()>,
    conns: Arc<Mutex<Vec<AbortHandle>>>,
}

impl Forwarder {
    fn start(listener: TcpListener, upstream: String) -> Forwarder {
        let conns: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let tracked = conns.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let upstream = upstream.clone();
                let task = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                tracked.lock().unwrap().push(task.abort_handle());
            }
        });
        Forwarder { accept, conns }
    }

    async fn stop(self) {
        self.accept.abort();
        let _ = self.accept.await;
        for c in self.conns.lock().unwrap().drain(..) {
            c.abort();
        }
    }
}

fn upstream_addr() -> String {
    let url = common::warehouses::postgres_url();
    let host = url
        .split('@')
        .nth(1)
        .and_then(|h| h.split('/').next())
        .unwrap_or("127.0.0.1:5432");
    host.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_recover_after_the_warehouse_comes_back() {
    let upstream = upstream_addr();
    TcpStream::connect(&upstream)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at {upstream} is unreachable ({e}); start it or set ACCORD_TEST_POSTGRES_URL"));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let proxy = Forwarder::start(listener, upstream.clone());

    let base = common::warehouses::postgres_url();
    let db = base.rsplit_once('/').map(|(_, d)| d).unwrap_or("test");
    let user = base
        .split("://")
        .nth(1)
        .and_then(|r| r.split('@').next())
        .unwrap_or("postgres");
    let url: WarehouseUrl = format!("postgres://{user}@127.0.0.1:{port}/{db}")
        .parse()
        .unwrap();
    let options = WarehouseOptions {
        connect_timeout: Duration::from_secs(2),
        max_connections: 2,
        ..WarehouseOptions::default()
    };
    let wh = Warehouse::connect(&url, options).await.unwrap();

    let up = wh
        .query("SELECT 41 + 1 AS answer", 10)
        .await
        .expect("works while up");
    assert_eq!(up.rows[0][0].to_text(), "42");

    // Outage: stop accepting and drop live connections.
    proxy.stop().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut saw_unavailable = false;
    for _ in 0..3 {
        match wh.query("SELECT 1", 10).await {
            Err(WarehouseError::Unavailable { warehouse, message }) => {
                assert!(warehouse.contains(&port.to_string()), "{warehouse}");
                assert!(!message.is_empty());
                saw_unavailable = true;
            }
            // A pooled connection may first fail mid-query; that is an
            // error too, never a panic or a result.
            Err(other) => eprintln!("while down: {other}"),
            Ok(r) => panic!("a query succeeded while the warehouse was down: {r:?}"),
        }
    }
    assert!(saw_unavailable, "an outage is reported as unavailable");

    // Back on the same port: the next query works, same Warehouse value.
    let listener = TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("port is free again");
    let proxy = Forwarder::start(listener, upstream);
    let mut recovered = None;
    for _ in 0..20 {
        match wh.query("SELECT 'back' AS status", 10).await {
            Ok(r) => {
                recovered = Some(r);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
    let r = recovered.expect("queries work again without a restart");
    assert_eq!(r.rows[0][0].to_text(), "back");
    proxy.stop().await;
}
