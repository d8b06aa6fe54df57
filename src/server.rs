//! The HTTP server: health, readiness, metrics, and graceful shutdown.

use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use metrics_exporter_prometheus::PrometheusHandle;
use serde_json::json;
use sqlx::PgPool;

#[derive(Clone, Debug)]
pub struct AppState {
    pub pool: PgPool,
    pub metrics: PrometheusHandle,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/live", get(live))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
        .layer(middleware::from_fn(record_request))
        .with_state(state)
}

async fn home() -> impl IntoResponse {
    (
        [("content-type", "text/plain; charset=utf-8")],
        "Passerelle — médiation active vers l'emploi.\nÉtat du service : /ready\n",
    )
}

/// The process is up; says nothing of its dependencies.
async fn live() -> impl IntoResponse {
    Json(json!({ "status": "live" }))
}

/// Ready to serve: the database answers and every migration is applied.
async fn ready(State(state): State<AppState>) -> Response {
    let check = async {
        sqlx::query("select 1").execute(&state.pool).await?;
        passerelle_store::pending_migrations(&state.pool).await
    };
    match tokio::time::timeout(Duration::from_secs(3), check).await {
        Ok(Ok(pending)) if pending.is_empty() => Json(json!({ "status": "ready" })).into_response(),
        Ok(Ok(pending)) => not_ready(format!(
            "migrations not applied: {pending:?}; run `passerelle migrate`"
        )),
        Ok(Err(e)) => not_ready(format!("database unreachable: {e}")),
        Err(_) => not_ready("database did not answer within 3 s".into()),
    }
}

fn not_ready(reason: String) -> Response {
    tracing::warn!(%reason, "not ready");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({ "status": "not ready", "reason": reason })),
    )
        .into_response()
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [("content-type", "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
}

/// Counts requests and their duration by route template (never by raw path,
/// which could carry identifiers).
async fn record_request(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let response = next.run(request).await;
    let labels = [
        ("method", method),
        ("route", route),
        ("status", response.status().as_u16().to_string()),
    ];
    metrics::counter!("passerelle_http_requests_total", &labels).increment(1);
    metrics::histogram!("passerelle_http_request_seconds", &labels)
        .record(started.elapsed().as_secs_f64());
    response
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = interrupt => tracing::info!("SIGINT received, shutting down"),
        () = terminate => tracing::info!("SIGTERM received, shutting down"),
    }
}
