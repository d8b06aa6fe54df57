//! The HTTP server: the GraphQL API, health, readiness, metrics, and
//! graceful shutdown.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use async_graphql::http::ALL_WEBSOCKET_PROTOCOLS;
use async_graphql::http::GraphiQLSource;
use async_graphql_axum::{GraphQLProtocol, GraphQLRequest, GraphQLResponse, GraphQLWebSocket};
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use metrics_exporter_prometheus::PrometheusHandle;
use passerelle_graphql::{SESSION_COOKIE, Viewer};
use serde_json::json;
use sqlx::PgPool;

/// The API, once the database is migrated and the projections are wired.
pub use passerelle_web::Api;

#[derive(Clone, Debug)]
pub struct AppState {
    pub pool: PgPool,
    pub metrics: PrometheusHandle,
    pub api: Arc<OnceLock<Api>>,
}

pub fn router(state: AppState, max_body_bytes: usize) -> Router {
    let pages = passerelle_web::router(state.api.clone());
    Router::new()
        .route(
            "/graphql",
            get(graphiql)
                .post(graphql)
                .layer(DefaultBodyLimit::max(max_body_bytes)),
        )
        .route("/graphql/ws", get(graphql_ws))
        .route("/exports/{name}", get(crate::export::download))
        .route("/live", get(live))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
        .with_state(state)
        .merge(pages)
        .layer(middleware::from_fn(record_request))
}

async fn graphiql() -> impl IntoResponse {
    Html(
        GraphiQLSource::build()
            .endpoint("/graphql")
            .subscription_endpoint("/graphql/ws")
            .finish(),
    )
}

/// The session token: `Authorization: Bearer …` for API clients, the
/// session cookie for browsers.
pub(crate) fn session_token(headers: &HeaderMap) -> Option<String> {
    if let Some(bearer) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    {
        return Some(bearer.trim().to_owned());
    }
    passerelle_web::cookie(headers, SESSION_COOKIE)
}

async fn graphql(
    State(state): State<AppState>,
    headers: HeaderMap,
    request: GraphQLRequest,
) -> Response {
    let Some(api) = state.api.get() else {
        return not_ready("the API starts once migrations are applied".into());
    };
    let viewer = match viewer_for(&state.pool, api, session_token(&headers)).await {
        Ok(viewer) => viewer,
        Err(e) => {
            tracing::error!(error = %e, "session lookup failed");
            return (StatusCode::SERVICE_UNAVAILABLE, "session lookup failed").into_response();
        }
    };
    let request = passerelle_graphql::prepare(request.into_inner(), &api.gateway, viewer);
    GraphQLResponse::from(api.schema.execute(request).await).into_response()
}

/// Who a session token stands for.
pub(crate) async fn viewer_for(
    _pool: &PgPool,
    api: &Api,
    token: Option<String>,
) -> Result<Viewer, passerelle_accounts::AccountError> {
    passerelle_graphql::viewer_of_token(&api.gateway, token).await
}

/// GraphQL subscriptions over WebSocket. The session comes from the
/// upgrade request (cookie, bearer) or from `connection_init`'s payload
/// (`{"authorization": "Bearer …"}`), as browsers cannot set headers there.
async fn graphql_ws(
    State(state): State<AppState>,
    headers: HeaderMap,
    protocol: GraphQLProtocol,
    upgrade: WebSocketUpgrade,
) -> Response {
    let Some(api) = state.api.get().cloned() else {
        return not_ready("the API starts once migrations are applied".into());
    };
    let from_headers = session_token(&headers);
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| {
            let schema = api.schema.clone();
            GraphQLWebSocket::new(socket, schema, protocol)
                .on_connection_init(move |payload| async move {
                    let from_payload = payload["authorization"]
                        .as_str()
                        .and_then(|v| v.strip_prefix("Bearer "))
                        .map(|t| t.trim().to_owned());
                    let viewer = viewer_for(&state.pool, &api, from_payload.or(from_headers))
                        .await
                        .map_err(|e| async_graphql::Error::new(e.to_string()))?;
                    Ok(passerelle_graphql::connection_data(&api.gateway, viewer))
                })
                .serve()
        })
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
