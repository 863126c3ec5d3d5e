//! The operator's small HTTP server: `/metrics` for Prometheus, `/healthz` for liveness and
//! `/readyz` for readiness (caches synced and, with leader election, the role known).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

use crate::metrics::Metrics;

/// What the probes report.
#[derive(Debug, Default)]
pub struct Health {
    /// The controller's cache has its initial listing.
    pub synced: AtomicBool,
    /// Leader election has decided this replica's role (always true without it).
    pub role_known: AtomicBool,
    /// This replica is the leader (or leader election is off).
    pub leader: AtomicBool,
}

impl Health {
    /// Ready: the role is known, and a leader also has synced caches.
    pub fn ready(&self) -> bool {
        let leader = self.leader.load(Ordering::Relaxed);
        self.role_known.load(Ordering::Relaxed) && (!leader || self.synced.load(Ordering::Relaxed))
    }
}

#[derive(Clone)]
struct Shared {
    metrics: Arc<Metrics>,
    health: Arc<Health>,
}

async fn metrics(State(shared): State<Shared>) -> impl IntoResponse {
    let content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8";
    (
        [(header::CONTENT_TYPE, content_type)],
        shared.metrics.encode(),
    )
}

async fn ready(State(shared): State<Shared>) -> StatusCode {
    match shared.health.ready() {
        true => StatusCode::OK,
        false => StatusCode::SERVICE_UNAVAILABLE,
    }
}

/// Serves the endpoints on `addr` until the process ends.
pub async fn serve(
    addr: SocketAddr,
    metrics: Arc<Metrics>,
    health: Arc<Health>,
) -> std::io::Result<()> {
    let app = Router::new()
        .route("/metrics", get(self::metrics))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .with_state(Shared { metrics, health });
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(%addr, "serving /metrics, /healthz and /readyz");
    axum::serve(listener, app).await
}
