//! Prometheus metrics for `GET /metrics` (prometheus-client): requests,
//! latencies, cache hits, warehouse time, errors.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CodeLabels {
    pub code: String,
}

pub struct Telemetry {
    registry: Registry,
    pub requests: Family<RouteLabels, Counter>,
    pub latency: Family<RouteLabels, Histogram>,
    pub cache_hits: Counter,
    pub cache_misses: Counter,
    pub warehouse_seconds: Histogram,
    pub errors: Family<CodeLabels, Counter>,
    pub reloads: Counter,
    pub reload_failures: Counter,
    pub catalog_metrics: Gauge,
    /// Models the warehouse lacks a table or column for (`/readyz`).
    pub models_unavailable: Gauge,
    /// Data quality check gauges (src/checks/monitor.rs).
    pub checks: crate::monitor::CheckGauges,
}

fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

impl Telemetry {
    pub fn new() -> Telemetry {
        let mut registry = Registry::with_prefix("accord");
        let requests = Family::<RouteLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        let cache_hits = Counter::default();
        let cache_misses = Counter::default();
        let warehouse_seconds = latency_histogram();
        let errors = Family::<CodeLabels, Counter>::default();
        let reloads = Counter::default();
        let reload_failures = Counter::default();
        let catalog_metrics = Gauge::default();
        let models_unavailable = Gauge::default();
        registry.register(
            "http_requests",
            "HTTP requests by route and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency",
            latency.clone(),
        );
        registry.register("cache_hits", "Result cache hits", cache_hits.clone());
        registry.register("cache_misses", "Result cache misses", cache_misses.clone());
        registry.register(
            "warehouse_query_duration_seconds",
            "Time spent in the warehouse",
            warehouse_seconds.clone(),
        );
        registry.register("errors", "Errors by problem code", errors.clone());
        registry.register(
            "definition_reloads",
            "Successful definitions reloads",
            reloads.clone(),
        );
        registry.register(
            "definition_reload_failures",
            "Refused definitions reloads",
            reload_failures.clone(),
        );
        registry.register(
            "catalog_metrics",
            "Metrics in the served catalog",
            catalog_metrics.clone(),
        );
        registry.register(
            "models_unavailable",
            "Models the warehouse lacks a table or column for (GET /readyz lists them)",
            models_unavailable.clone(),
        );
        let checks = crate::monitor::CheckGauges::register(&mut registry);
        Telemetry {
            checks,
            registry,
            requests,
            latency,
            cache_hits,
            cache_misses,
            warehouse_seconds,
            errors,
            reloads,
            reload_failures,
            catalog_metrics,
            models_unavailable,
        }
    }

    pub fn encode(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

impl Default for Telemetry {
    fn default() -> Self {
        Telemetry::new()
    }
}
