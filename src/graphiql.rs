//! GraphiQL, when `api.graphiql` is on: served from files embedded in the
//! binary (no CDN, so nothing a third party serves runs beside a session),
//! under a policy that lets it load only from here and talk only to here.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// GraphiQL's editor sets inline styles; its scripts come from here only.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                   img-src 'self' data:; font-src 'self' data:; connect-src 'self'; \
                   frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

const PAGE: &str = include_str!("../static/graphiql/index.html");

/// Name, media type, bytes, and whether they are gzipped.
const ASSETS: &[(&str, &str, &[u8], bool)] = &[
    (
        "graphiql.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../static/graphiql/graphiql.min.js.gz"),
        true,
    ),
    (
        "graphiql.min.css",
        "text/css; charset=utf-8",
        include_bytes!("../static/graphiql/graphiql.min.css.gz"),
        true,
    ),
    (
        "react.production.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../static/graphiql/react.production.min.js.gz"),
        true,
    ),
    (
        "react-dom.production.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../static/graphiql/react-dom.production.min.js.gz"),
        true,
    ),
    (
        "init.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../static/graphiql/init.js"),
        false,
    ),
];

/// `GET /graphql` (the page) and `/graphiql/<asset>`.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new().route("/graphiql/{asset}", get(asset))
}

pub async fn page() -> Response {
    let mut response = (StatusCode::OK, PAGE).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    passerelle_web::protect(headers, CSP, "no-referrer");
    response
}

async fn asset(Path(name): Path<String>) -> Response {
    let Some((_, media, bytes, gzipped)) = ASSETS.iter().find(|(n, ..)| *n == name) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mut response = (StatusCode::OK, *bytes).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(media));
    if *gzipped {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=86400"),
    );
    passerelle_web::protect(headers, CSP, "no-referrer");
    response
}
