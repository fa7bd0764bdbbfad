//! `/metrics`: what an operator scrapes (Prometheus, OpenMetrics text). Responses by
//! status and their latency, the rate limiter's decisions by store and outcome, whether
//! Redis is in an outage, and the database pool. Nothing per workspace: no tenant's
//! traffic shows, and the series stay few. Like `/healthz` it needs no token and is never
//! rate limited; keep it off the public internet at the proxy.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, HttpResponse};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use super::AppState;
use crate::ratelimit::DecisionCounts;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Status {
    status: u16,
}

/// The live series, shared by every worker.
#[derive(Debug)]
pub struct Metrics {
    responses: Family<Status, Counter>,
    seconds: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            responses: Family::default(),
            // 0.5 ms to 10 s: a read by key to a long export page.
            seconds: Histogram::new([
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
            ]),
        }
    }
}

impl Metrics {
    fn observe(&self, status: u16, started: Instant) {
        self.responses.get_or_create(&Status { status }).inc();
        self.seconds.observe(started.elapsed().as_secs_f64());
    }
}

/// Counts every response and the time until its head was ready.
pub async fn record(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let started = Instant::now();
    let res = next.call(req).await?;
    if let Some(state) = state {
        state.metrics.observe(res.status().as_u16(), started);
    }
    Ok(res)
}

/// What is read at scrape time rather than counted per request.
#[derive(Debug)]
struct Snapshot {
    decisions: DecisionCounts,
    redis_down: Option<bool>,
    pool_connections: u32,
    pool_idle: u32,
}

impl Collector for Snapshot {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let mut family = encoder.encode_descriptor(
            "rate_limit_decisions",
            "Rate-limit decisions, by the store that made them and their outcome",
            None,
            MetricType::Counter,
        )?;
        for (store, outcome, n) in self.decisions.iter() {
            let labels = [("store", store), ("outcome", outcome)];
            ConstCounter::new(n).encode(family.encode_family(&labels)?)?;
        }
        if let Some(down) = self.redis_down {
            let gauge = ConstGauge::new(i64::from(down));
            gauge.encode(encoder.encode_descriptor(
                "rate_limit_redis_down",
                "1 while Redis is unavailable and the limiter decides in-process",
                None,
                MetricType::Gauge,
            )?)?;
        }
        for (name, help, value) in [
            (
                "db_pool_connections",
                "Database connections open",
                self.pool_connections,
            ),
            (
                "db_pool_idle_connections",
                "Database connections open and idle",
                self.pool_idle,
            ),
        ] {
            ConstGauge::new(i64::from(value)).encode(encoder.encode_descriptor(
                name,
                help,
                None,
                MetricType::Gauge,
            )?)?;
        }
        Ok(())
    }
}

pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let mut registry = Registry::with_prefix("crm_odata");
    registry.register(
        "http_responses",
        "Responses, by status",
        state.metrics.responses.clone(),
    );
    registry.register(
        "http_response_seconds",
        "Time until a response's head was ready",
        state.metrics.seconds.clone(),
    );
    let pool = state.db.pool.state();
    registry.register_collector(Box::new(Snapshot {
        decisions: state.limiter.decision_counts(),
        redis_down: state
            .limiter
            .is_shared()
            .then(|| state.limiter.source() == crate::ratelimit::Source::Fallback),
        pool_connections: pool.connections,
        pool_idle: pool.idle_connections,
    }));
    let mut text = String::new();
    match prometheus_client::encoding::text::encode(&mut text, &registry) {
        Ok(()) => HttpResponse::Ok()
            .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
            .body(text),
        // Writing to a String does not fail; should it, say so rather than half a page.
        Err(_) => HttpResponse::ServiceUnavailable().finish(),
    }
}
