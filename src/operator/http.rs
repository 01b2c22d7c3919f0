//! `/livez`, `/readyz` (ready once the watches have synced, whether or not this replica leads)
//! and `/metrics`.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::metrics::Metrics;
use super::watch::Synced;

#[derive(Clone)]
struct Probes {
    metrics: Arc<Metrics>,
    synced: Synced,
}

async fn livez() -> &'static str {
    "ok"
}

async fn readyz(State(probes): State<Probes>) -> impl IntoResponse {
    if probes.synced.is_synced() {
        (StatusCode::OK, "ok")
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "the watches have not synced yet",
        )
    }
}

/// The metrics, or a 500 that says they could not be written (never an empty 200, which a
/// scraper would take for "no series").
async fn metrics_text(State(probes): State<Probes>) -> Response {
    match probes.metrics.render() {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "cannot encode the metrics");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the metrics could not be encoded",
            )
                .into_response()
        }
    }
}

/// Binds `addr` and serves the probes and metrics in the background; returns the bound address.
pub async fn serve(
    addr: SocketAddr,
    metrics: Arc<Metrics>,
    synced: Synced,
) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let app = Router::new()
        .route("/livez", get(livez))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .with_state(Probes { metrics, synced });
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "the probe and metrics server stopped");
        }
    });
    Ok(bound)
}
