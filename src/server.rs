//! The HTTP server: the GraphQL API, health, readiness, metrics, and
//! graceful shutdown, with the pages' router (and their CSV exports)
//! merged in.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use async_graphql::http::ALL_WEBSOCKET_PROTOCOLS;
use async_graphql_axum::{GraphQLProtocol, GraphQLResponse, GraphQLWebSocket};
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use futures::{SinkExt as _, StreamExt as _};
use metrics_exporter_prometheus::PrometheusHandle;
use passerelle_web::{OwnRefusal, session_token};
use serde_json::json;
use sqlx::PgPool;
use tokio::sync::watch;

/// The API, once the database is migrated and the projections are wired.
pub use passerelle_web::Api;

#[derive(Clone, Debug)]
pub struct AppState {
    pub pool: PgPool,
    pub metrics: PrometheusHandle,
    pub api: Arc<OnceLock<Api>>,
    pub http: HttpSettings,
    pub lifecycle: Lifecycle,
}

/// Where the process stands: stopping, its open subscriptions, fenced.
#[derive(Clone, Debug)]
pub struct Lifecycle {
    /// Turns true on SIGTERM: subscriptions close with a reconnect hint.
    pub stopping: watch::Receiver<bool>,
    /// How many WebSockets are open, so the process waits for their close.
    pub sockets: Arc<watch::Sender<usize>>,
    /// Why this replica applies no projection and runs no job, when its
    /// code is older than the database (see `fence`).
    pub fenced: watch::Receiver<Option<String>>,
}

impl Lifecycle {
    /// A process that is never stopped nor fenced from here (benchmarks).
    pub fn running() -> Self {
        Self {
            stopping: watch::channel(false).1,
            sockets: Arc::new(watch::channel(0).0),
            fenced: watch::channel(None).1,
        }
    }

    /// Resolves once every WebSocket is closed.
    pub async fn sockets_closed(&self) {
        let mut open = self.sockets.subscribe();
        let _ = open.wait_for(|n| *n == 0).await;
    }
}

/// Counts an open WebSocket while it lives.
struct OpenSocket(Arc<watch::Sender<usize>>);

impl OpenSocket {
    fn new(sockets: &Arc<watch::Sender<usize>>) -> Self {
        sockets.send_modify(|n| *n += 1);
        Self(sockets.clone())
    }
}

impl Drop for OpenSocket {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n -= 1);
    }
}

/// Where a WebSocket stands with its `connection_init`: none yet, its
/// session being looked up, one without a session, one with a session.
const UNINTRODUCED: u8 = 0;
const INTRODUCING: u8 = 3;
const ANONYMOUS: u8 = 1;
const SIGNED_IN: u8 = 2;

/// A socket that said who it is without a session, closed at the deadline:
/// graphql-transport-ws's code for a connection refused.
fn anonymous_frame() -> axum::extract::ws::Message {
    axum::extract::ws::Message::Close(Some(axum::extract::ws::CloseFrame {
        code: 4403,
        reason: "Connexion requise : ouvrez une session.".into(),
    }))
}

/// A socket that runs more operations at once than it may
/// (`ws_limits::MOST_SUBSCRIPTIONS`).
fn overloaded_frame() -> axum::extract::ws::Message {
    axum::extract::ws::Message::Close(Some(axum::extract::ws::CloseFrame {
        code: 4429,
        reason: "Trop d'abonnements sur cette connexion.".into(),
    }))
}

/// Closes a socket that sent no `connection_init` within the deadline, as
/// `graphql-transport-ws` names it: it held a connection's place for
/// nothing.
fn unintroduced_frame() -> axum::extract::ws::Message {
    axum::extract::ws::Message::Close(Some(axum::extract::ws::CloseFrame {
        code: 4408,
        reason: "Connection initialisation timeout".into(),
    }))
}

/// The close frame a subscription gets when the replica stops: 1012,
/// "service restart", which clients take as a reason to reconnect (to
/// another replica, through the load balancer).
fn restart_frame() -> axum::extract::ws::Message {
    axum::extract::ws::Message::Close(Some(axum::extract::ws::CloseFrame {
        code: 1012,
        reason: "Le service redémarre : reconnectez-vous.".into(),
    }))
}

/// What the HTTP layer enforces, from configuration.
#[derive(Clone, Debug)]
pub struct HttpSettings {
    /// The largest request body on any route, and the largest WebSocket
    /// message.
    pub max_body_bytes: usize,
    /// Serve GraphiQL at `GET /graphql`.
    pub graphiql: bool,
    /// Browser origins allowed to open `/graphql/ws`, besides the request's
    /// own host.
    pub allowed_origins: Arc<Vec<String>>,
    /// How long a request's body may take to arrive once its head has.
    pub body_within: Duration,
}

impl HttpSettings {
    pub fn of(config: &crate::config::Config) -> Self {
        let mut allowed_origins = config.api.allowed_origins.clone();
        if let Ok(url) = url::Url::parse(&config.mail.public_url) {
            allowed_origins.push(url.origin().ascii_serialization());
        }
        Self {
            max_body_bytes: config.api.max_body_bytes,
            graphiql: config.api.graphiql,
            allowed_origins: Arc::new(allowed_origins),
            body_within: config.api.request_read_within(),
        }
    }
}

pub fn router(state: AppState) -> Router {
    let pages = passerelle_web::router(state.api.clone());
    let (max_body_bytes, body_within) = (state.http.max_body_bytes, state.http.body_within);
    let mut graphql = axum::routing::post(graphql);
    if state.http.graphiql {
        graphql = graphql.get(crate::graphiql::page);
    }
    let mut router = Router::new()
        .route("/graphql", graphql)
        .route("/graphql/ws", get(graphql_ws))
        .route("/live", get(live))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
        .with_state(state.clone())
        .merge(pages);
    if state.http.graphiql {
        router = router.merge(crate::graphiql::routes());
    }
    router
        // Every extractor that reads a body (forms, JSON, bytes) stops at
        // the limit; `limit_body` refuses a declared length over it first.
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(middleware::from_fn_with_state(
            (max_body_bytes, body_within),
            limit_body,
        ))
        // Outside the refusals above, so that theirs keep the navigation too.
        .layer(middleware::from_fn_with_state(
            state.api.clone(),
            passerelle_web::with_navigation,
        ))
        .layer(middleware::from_fn(record_request))
}

/// Refuses a body declared larger than the limit before reading any of it,
/// reads the body whole within `within` (408 past it: a client sending a
/// byte now and then would otherwise hold the connection and its task for
/// as long as it liked), and gives every refusal of the HTTP layer (too
/// large, too slow, malformed form, wrong method or media type) a French
/// answer instead of the framework's English text: JSON for the API, a page
/// for the pages.
async fn limit_body(
    State((max, within)): State<(usize, Duration)>,
    request: Request,
    next: Next,
) -> Response {
    use axum::body::HttpBody;
    let api = is_api(request.uri().path());
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return refusal(StatusCode::PAYLOAD_TOO_LARGE, max, api);
    }
    let (parts, body) = request.into_parts();
    let body = if body.is_end_stream() {
        body
    } else {
        // Bodies are read whole by every route that takes one (forms, the
        // API's JSON), within the same limit: reading it here costs no more.
        match tokio::time::timeout(within, axum::body::to_bytes(body, max)).await {
            Ok(Ok(bytes)) => axum::body::Body::from(bytes),
            Ok(Err(e))
                if std::error::Error::source(&e)
                    .is_some_and(|e| e.is::<http_body_util::LengthLimitError>()) =>
            {
                return refusal(StatusCode::PAYLOAD_TOO_LARGE, max, api);
            }
            // A malformed chunked body, a client gone half-way.
            Ok(Err(_)) => return refusal(StatusCode::BAD_REQUEST, max, api),
            Err(_) => return refusal(StatusCode::REQUEST_TIMEOUT, max, api),
        }
    };
    let response = next.run(Request::from_parts(parts, body)).await;
    let status = response.status();
    let plain_text = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| v.starts_with("text/plain"));
    let own = response.extensions().get::<OwnRefusal>().is_some();
    if status.is_client_error() && plain_text && !own && status != StatusCode::NOT_FOUND {
        return refusal(status, max, api);
    }
    response
}

fn is_api(path: &str) -> bool {
    path.starts_with("/graphql") || path.starts_with("/exports/")
}

/// A refusal by the HTTP layer, in French.
fn refusal(status: StatusCode, max: usize, api: bool) -> Response {
    let message = match status {
        StatusCode::PAYLOAD_TOO_LARGE => {
            format!("La requête dépasse la taille maximale acceptée ({max} octets).")
        }
        StatusCode::METHOD_NOT_ALLOWED => {
            "Cette adresse n'accepte pas cette méthode HTTP.".to_owned()
        }
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            "Ce type de contenu n'est pas accepté ici.".to_owned()
        }
        StatusCode::REQUEST_TIMEOUT => {
            "La requête est arrivée trop lentement : envoyez-la de nouveau.".to_owned()
        }
        _ => "La requête est mal formée : vérifiez ce qui a été envoyé.".to_owned(),
    };
    if api {
        api_error(status, &message)
    } else {
        passerelle_web::error_page(status, &message)
    }
}

/// An error of the HTTP layer as GraphQL clients read errors.
fn api_error(status: StatusCode, message: &str) -> Response {
    (
        status,
        Json(json!({
            "errors": [{ "message": message, "extensions": { "code": "BAD_USER_INPUT" } }]
        })),
    )
        .into_response()
}

/// `POST /graphql`: a JSON body only. A browser's cross-site form or
/// `text/plain` request cannot carry that type without the server's
/// consent (CORS), so a session cookie cannot be made to run a mutation
/// from another site.
async fn graphql(State(state): State<AppState>, request: Request) -> Response {
    let Some(api) = state.api.get() else {
        return not_ready("the API starts once migrations are applied");
    };
    let (parts, body) = request.into_parts();
    let json = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !json {
        return api_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Envoyez la requête GraphQL en JSON (Content-Type: application/json).",
        );
    }
    let bytes = match axum::body::to_bytes(body, state.http.max_body_bytes).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return refusal(
                StatusCode::PAYLOAD_TOO_LARGE,
                state.http.max_body_bytes,
                true,
            );
        }
    };
    // One operation per request, as an object: a batch (an array) is not
    // accepted.
    let parsed = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .filter(serde_json::Value::is_object)
        .and_then(|v| serde_json::from_value::<async_graphql::Request>(v).ok());
    let Some(request) = parsed else {
        return api_error(
            StatusCode::BAD_REQUEST,
            "Le corps de la requête n'est pas une requête GraphQL en JSON : \
             {\"query\": \"…\", \"variables\": {…}}.",
        );
    };
    let token = session_token(&parts.headers);
    let mut response = None;
    let mut first = Some(request);
    // At most twice: a request whose session was kept and no longer stands
    // as it was is refused before anything is read or written, then run
    // once more, read again from its body, with the session looked up.
    for _ in 0..2 {
        let mut request = match first.take() {
            Some(request) => request,
            None => match serde_json::from_slice::<async_graphql::Request>(&bytes) {
                Ok(request) => request,
                Err(_) => break,
            },
        };
        let (mut viewer, check) =
            match passerelle_graphql::viewer_of_request(&api.gateway, &mut request, token.clone())
                .await
            {
                Ok(found) => found,
                Err(e) => {
                    tracing::error!(error = %e, "session lookup failed");
                    return not_ready("session lookup failed");
                }
            };
        let kept = check.is_some();
        viewer.client = passerelle_web::client_address(api, &parts.headers, &parts.extensions);
        let request = passerelle_graphql::prepare(request, &api.gateway, viewer);
        let answer = passerelle_graphql::execute(&api.schema, &api.gateway, request, check).await;
        let again = kept && passerelle_graphql::refused_as_kept(&answer);
        response = Some(answer);
        if !again {
            break;
        }
    }
    let response = response.unwrap_or_default();
    GraphQLResponse::from(response).into_response()
}

/// Who a session token stands for, looked up.
async fn viewer_for(
    api: &Api,
    token: Option<String>,
) -> Result<passerelle_graphql::Viewer, passerelle_accounts::AccountError> {
    passerelle_graphql::viewer_of_token(&api.gateway, token).await
}

/// Whether a browser page of `origin` may open a WebSocket here: the
/// service's own origin (the request's host, or one configured). Clients
/// that are not browsers send no `Origin`, and need a token all the same.
fn origin_allowed(headers: &HeaderMap, allowed: &[String]) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    let own = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .is_some_and(|host| {
            origin
                .strip_prefix("http://")
                .or_else(|| origin.strip_prefix("https://"))
                == Some(host)
        });
    own || allowed
        .iter()
        .any(|a| a.trim_end_matches('/').eq_ignore_ascii_case(origin))
}

/// GraphQL subscriptions over WebSocket. The session comes from the
/// upgrade request (cookie, bearer) or from `connection_init`'s payload
/// (`{"authorization": "Bearer …"}`), as browsers cannot set headers there.
async fn graphql_ws(
    State(state): State<AppState>,
    headers: HeaderMap,
    connection: axum::extract::ConnectInfo<std::net::SocketAddr>,
    protocol: GraphQLProtocol,
    slot: Option<axum::Extension<crate::listen::ConnectionSlot>>,
    upgrade: WebSocketUpgrade,
) -> Response {
    let Some(api) = state.api.get().cloned() else {
        return not_ready("the API starts once migrations are applied");
    };
    if !origin_allowed(&headers, &state.http.allowed_origins) {
        return api_error(
            StatusCode::FORBIDDEN,
            "Cette origine n'est pas autorisée à ouvrir une connexion ici.",
        );
    }
    let from_headers = session_token(&headers);
    let mut extensions = axum::http::Extensions::new();
    extensions.insert(connection);
    let client = passerelle_web::client_address(&api, &headers, &extensions);
    let (max, within) = (state.http.max_body_bytes, state.http.body_within);
    let lifecycle = state.lifecycle.clone();
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .max_message_size(max)
        .max_frame_size(max)
        .on_upgrade(move |socket| async move {
            // The connection's place among those open at once, kept while
            // the socket is.
            let _slot = slot;
            let open = OpenSocket::new(&lifecycle.sockets);
            let schema = api.schema.clone();
            let (mut sink, stream) = socket.split();
            // The client's messages end when the process stops, which ends
            // the subscriptions, when no `connection_init` with a session
            // came within `api.request_read_seconds` (a socket without one
            // has nothing to receive, and would hold its place), or when
            // the client starts too many subscriptions at once; the
            // socket's sending half is kept here so the close frame can
            // follow what they sent.
            let introduced = Arc::new(std::sync::atomic::AtomicU8::new(UNINTRODUCED));
            let mut stopping = lifecycle.stopping.clone();
            let seen = introduced.clone();
            let stopped = async move {
                let stop = async {
                    if stopping.wait_for(|s| *s).await.is_err() {
                        std::future::pending::<()>().await;
                    }
                };
                let unintroduced = async {
                    tokio::time::sleep(within).await;
                    // A session still being looked up is waited for: only
                    // its answer says whether the socket stays.
                    loop {
                        match seen.load(std::sync::atomic::Ordering::Relaxed) {
                            SIGNED_IN => std::future::pending::<()>().await,
                            INTRODUCING => {
                                tokio::time::sleep(Duration::from_millis(50)).await;
                            }
                            _ => break,
                        }
                    }
                };
                tokio::select! {
                    () = stop => {}
                    () = unintroduced => {}
                }
            };
            let introducing = introduced.clone();
            let subscriptions = crate::ws_limits::Subscriptions::default();
            let overloaded = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let (to_client, mut outgoing) = futures::channel::mpsc::channel(16);
            let ended = subscriptions.clone();
            let forwarding = async move {
                while let Some(message) = outgoing.next().await {
                    ended.answered(&message);
                    sink.send(message).await.ok()?;
                }
                Some(sink)
            };
            let (admitted, over) = (subscriptions, overloaded.clone());
            let incoming = stream.take_until(stopped).take_while(move |message| {
                let go_on = message.as_ref().map_or(true, |m| admitted.admit(m));
                if !go_on {
                    over.store(true, std::sync::atomic::Ordering::Relaxed);
                }
                std::future::ready(go_on)
            });
            let serving = GraphQLWebSocket::new_with_pair(to_client, incoming, schema, protocol)
                .on_connection_init(move |payload| async move {
                    introducing.store(INTRODUCING, std::sync::atomic::Ordering::Relaxed);
                    let from_payload = payload["authorization"]
                        .as_str()
                        .and_then(|v| v.strip_prefix("Bearer "))
                        .map(|t| t.trim().to_owned());
                    let mut viewer = viewer_for(&api, from_payload.or(from_headers))
                        .await
                        .map_err(|e| {
                            tracing::error!(error = %e, "session lookup failed");
                            introducing.store(ANONYMOUS, std::sync::atomic::Ordering::Relaxed);
                            async_graphql::Error::new("Service indisponible : réessayez.")
                        })?;
                    viewer.client = client;
                    let known = viewer.user.is_some() || viewer.principal.is_some();
                    introducing.store(
                        if known { SIGNED_IN } else { ANONYMOUS },
                        std::sync::atomic::Ordering::Relaxed,
                    );
                    Ok(passerelle_graphql::connection_data(&api.gateway, viewer))
                })
                .serve();
            let ((), sink) = tokio::join!(serving, forwarding);
            if let Some(mut sink) = sink {
                if *lifecycle.stopping.borrow() {
                    let _ = sink.send(restart_frame()).await;
                    let _ = sink.close().await;
                } else if overloaded.load(std::sync::atomic::Ordering::Relaxed) {
                    let _ = sink.send(overloaded_frame()).await;
                    let _ = sink.close().await;
                } else if introduced.load(std::sync::atomic::Ordering::Relaxed) == ANONYMOUS {
                    let _ = sink.send(anonymous_frame()).await;
                    let _ = sink.close().await;
                } else if introduced.load(std::sync::atomic::Ordering::Relaxed) == UNINTRODUCED {
                    let _ = sink.send(unintroduced_frame()).await;
                    let _ = sink.close().await;
                }
            }
            drop(open);
        })
}

/// The process is up; says nothing of its dependencies.
async fn live() -> impl IntoResponse {
    Json(json!({ "status": "live" }))
}

/// Ready to serve: the database answers and every migration is applied.
/// A fenced replica (older than the database, during a rolling upgrade)
/// answers 200 all the same, as it serves reads and commands, with the
/// status `fenced` and why: it applies no projection and runs no job.
async fn ready(State(state): State<AppState>) -> Response {
    let check = async {
        sqlx::query("select 1").execute(&state.pool).await?;
        passerelle_store::pending_migrations(&state.pool).await
    };
    let fenced = state.lifecycle.fenced.borrow().clone();
    match tokio::time::timeout(Duration::from_secs(3), check).await {
        Ok(Ok(pending)) if pending.is_empty() => match fenced {
            None => Json(json!({ "status": "ready" })).into_response(),
            Some(reason) => Json(json!({ "status": "fenced", "reason": reason })).into_response(),
        },
        Ok(Ok(pending)) => {
            tracing::warn!(?pending, "migrations not applied: run `passerelle migrate`");
            not_ready("migrations not applied: run `passerelle migrate`")
        }
        // The driver's text can name hosts, users and paths: it goes to the
        // log, not to whoever asks.
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "database unreachable");
            not_ready("database unreachable")
        }
        Err(_) => not_ready("database did not answer within 3 s"),
    }
}

fn not_ready(reason: &str) -> Response {
    tracing::warn!(reason, "not ready");
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
    let method = method_label(request.method()).to_owned();
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

/// A request's method as a metric's label: the standard ones by name, any
/// other as `OTHER`. HTTP takes any token as a method, and a label kept for
/// each one a client made up would grow the metrics without end.
fn method_label(method: &axum::http::Method) -> &'static str {
    match method.as_str() {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "POST" => "POST",
        "PUT" => "PUT",
        "DELETE" => "DELETE",
        "OPTIONS" => "OPTIONS",
        "PATCH" => "PATCH",
        "CONNECT" => "CONNECT",
        "TRACE" => "TRACE",
        _ => "OTHER",
    }
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
