//! What every page is made of: the [`Page`] a handler starts from (the
//! viewer from the session cookie, the CSRF cookie and its token, a GraphQL
//! operation run in-process, errors mapped to form fields), the layout's
//! [`Nav`], a list's search and pages ([`ListQuery`], [`Pager`]), the
//! headers every page carries, and the French message pages.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use askama::Template;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use passerelle_app::policy;
use passerelle_graphql::{Gateway, PasserelleSchema, SESSION_COOKIE, Viewer, staff_actor};
use rand::RngCore;
use serde::Deserialize;
use serde_json::Value;

/// The API the pages run their operations on, once the database is ready.
#[derive(Clone)]
pub struct Api {
    pub schema: PasserelleSchema,
    pub gateway: Gateway,
    /// The header a trusted reverse proxy gives the client's address in
    /// (`api.client_ip_header`); unset, the peer's address is the client's.
    pub client_ip_header: Option<axum::http::HeaderName>,
}

/// The client's network address: the last value of the trusted proxy's
/// header when one is configured (the one the proxy itself saw), else the
/// connection's peer.
pub fn client_address(
    api: &Api,
    headers: &HeaderMap,
    extensions: &axum::http::Extensions,
) -> Option<std::net::IpAddr> {
    if let Some(name) = &api.client_ip_header {
        return headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .next_back()
            .and_then(|v| v.trim().parse().ok());
    }
    extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip())
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api").finish_non_exhaustive()
    }
}

pub type ApiCell = Arc<OnceLock<Api>>;

/// The `__Host-` prefix makes browsers refuse it unless it is Secure, for
/// the whole site and set by this host, so a neighbouring subdomain cannot
/// plant one.
const CSRF_COOKIE: &str = "__Host-passerelle_csrf";
/// The page a person or an employer asked for when she requested a mailed
/// link, kept in the browser that asked (`__Secure-`: refused unless
/// Secure) and sent back only to `/acces`, where the link is redeemed
/// ([`Page::mailed_return`]). The mail itself carries no address but the
/// link's: whoever opens it elsewhere lands on her space's first page.
const RETURN_COOKIE: &str = "__Secure-passerelle_suite";
/// Pages load their own stylesheet and nothing else; no script runs.
const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
                   frame-ancestors 'none'; base-uri 'none'";

/// A cookie of the request, by name.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (k, v) = pair.trim().split_once('=')?;
            (k == name && !v.is_empty()).then(|| v.to_owned())
        })
}

/// The session token: `Authorization: Bearer …` for API clients, the
/// session cookie for browsers.
pub fn session_token(headers: &HeaderMap) -> Option<String> {
    bearer(headers).or_else(|| cookie(headers, SESSION_COOKIE))
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|v| v.trim().to_owned())
}

/// Percent-encodes a query value.
pub(crate) fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A list's URL with its search and where its page starts, the empty
/// values left out.
pub(crate) fn list_href(path: &str, query: &[(&str, &str)]) -> String {
    let query: Vec<String> = query
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect();
    if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{}", query.join("&"))
    }
}

/// How many rows a list's page holds.
pub(crate) const PAGE_SIZE: i64 = 20;

/// A list's search and where its page starts, as its URL gives them; each
/// list reads the fields it searches by.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ListQuery {
    /// A name (an establishment's: or its SIRET).
    #[serde(default)]
    pub nom: String,
    /// An establishment's commune, by its INSEE code.
    #[serde(default)]
    pub commune: String,
    /// An establishment's sector: its APE code or NAF division.
    #[serde(default)]
    pub secteur: String,
    /// A job of a person's project, by its ROME code.
    #[serde(default)]
    pub metier: String,
    /// A referent, by their staff id: only the people they follow.
    #[serde(default)]
    pub referent: String,
    /// Where a person stands in their accompaniment, as the API names it
    /// (`NO_PROJECT_YET`…).
    #[serde(default)]
    pub etape: String,
    /// A need's employer's département, by its INSEE code.
    #[serde(default)]
    pub departement: String,
    /// Where a need was first heard (`PORTAL`, `PHONE`, `VISIT`).
    #[serde(default)]
    pub source: String,
    /// Needs older than this many days.
    #[serde(default)]
    pub anciennete: String,
    /// The cursor the page starts after.
    #[serde(default)]
    pub apres: String,
}

impl ListQuery {
    /// The search's fields, by name.
    fn search(&self) -> [(&'static str, &str); 9] {
        [
            ("nom", &self.nom),
            ("commune", &self.commune),
            ("secteur", &self.secteur),
            ("metier", &self.metier),
            ("referent", &self.referent),
            ("etape", &self.etape),
            ("departement", &self.departement),
            ("source", &self.source),
            ("anciennete", &self.anciennete),
        ]
    }

    /// Whether any field narrows the list.
    pub(crate) fn searched(&self) -> bool {
        self.search().iter().any(|(_, v)| given(v).is_some())
    }

    /// The search form, holding what was typed.
    pub(crate) fn form(&self) -> FormState {
        FormState::with(&self.search())
    }

    /// Where the page starts: after this cursor, else at the beginning.
    pub(crate) fn after(&self) -> Option<&str> {
        (!self.apres.is_empty()).then_some(self.apres.as_str())
    }
}

/// A field's text, unless left blank: a blank field is not sent (no
/// filter, or a value not known).
pub(crate) fn given(value: &str) -> Option<&str> {
    let value = value.trim();
    (!value.is_empty()).then_some(value)
}

/// How a list's page ends: the next page's link, the first page's when
/// this is not it.
pub(crate) struct Pager {
    pub next: Option<String>,
    pub first: Option<String>,
}

impl Pager {
    /// No link: a list whose pages are posted forms, or one not read.
    pub(crate) fn none() -> Self {
        Self {
            next: None,
            first: None,
        }
    }

    /// The links of the list at `path` searched by `search` (in every
    /// link): the page after the cursor `next`, and the first page when
    /// this one came `after` a cursor.
    pub(crate) fn at(
        path: &str,
        search: &[(&str, &str)],
        next: Option<String>,
        after: Option<&str>,
    ) -> Self {
        Self {
            next: next.map(|cursor| {
                let mut query = search.to_vec();
                query.push(("apres", &cursor));
                list_href(path, &query)
            }),
            first: after.map(|_| list_href(path, search)),
        }
    }

    pub(crate) fn of(path: &str, q: &ListQuery, next: Option<String>) -> Self {
        Self::at(path, &q.search(), next, q.after())
    }
}

/// The links of one of a page's several lists (each with its own cursor
/// in the URL, `lists` the names and cursors of them all): its next page,
/// its first when this is not it, the other lists staying on their pages;
/// each link leads back to the list's section (`#list`).
pub(crate) fn list_pager(
    path: &str,
    lists: &[(&str, &str)],
    list: &str,
    next: Option<String>,
) -> Pager {
    let mut at = lists.to_vec();
    let section = |query: &[(&str, &str)]| format!("{}#{list}", list_href(path, query));
    let own = at.iter().position(|(k, _)| *k == list).unwrap_or_default();
    let started = at.get(own).is_some_and(|(_, v)| !v.is_empty());
    let next = next.map(|cursor| {
        let mut query: Vec<(&str, &str)> = at.to_vec();
        if let Some(slot) = query.get_mut(own) {
            slot.1 = &cursor;
        }
        section(&query)
    });
    if let Some(slot) = at.get_mut(own) {
        slot.1 = "";
    }
    Pager {
        next,
        first: started.then(|| section(&at)),
    }
}

/// A day as a date field sends it.
pub(crate) fn parse_date(text: &str) -> Option<time::Date> {
    time::Date::parse(
        text.trim(),
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .ok()
}

/// The day a date field holds as typed, as the API takes it: `None` when
/// left blank, `Err` when typed and not a date ([`BAD_DAY`] says so).
pub(crate) fn typed_day(text: &str) -> Result<Option<String>, ()> {
    match given(text) {
        None => Ok(None),
        Some(typed) => parse_date(typed).map(|d| Some(d.to_string())).ok_or(()),
    }
}

/// Beside a date field left for today, when what it holds is not a date.
pub(crate) const BAD_DAY: &str =
    "Indiquez la date (jour, mois, année), ou laissez vide pour aujourd'hui.";

/// The ROME codes a field holds as typed: separated by spaces or commas,
/// in capitals; the API checks each against the referential.
pub(crate) fn typed_rome_codes(text: &str) -> Vec<String> {
    text.split(|c: char| c.is_whitespace() || c == ',')
        .filter(|c| !c.is_empty())
        .map(str::to_uppercase)
        .collect()
}

/// What every page knows of its request: who, and the form token.
pub(crate) struct Page {
    pub api: Api,
    pub viewer: Viewer,
    csrf: String,
    /// The address a GET asked for (path and query), to come back to
    /// after signing in.
    asked: Option<String>,
    /// Cookies to set with the answer.
    cookies: Vec<String>,
    /// The page to come back to after a mailed link, as this browser kept
    /// it ([`RETURN_COOKIE`]), checked again as a return.
    mailed_return: Option<String>,
    /// This browser's CSRF nonce, which seals the way back it keeps.
    nonce: String,
}

/// What the layout shows.
#[derive(Clone)]
pub(crate) struct Nav {
    pub staff: bool,
    /// Administers the structure's staff (`policy::administers_staff`):
    /// the administration's link, and the team by name.
    pub administers: bool,
    /// Hands a person's follow-up to another referent
    /// (`policy::reassigns_referents`): the link on a person's file.
    pub reassigns: bool,
    pub signed_in: bool,
    pub csrf: String,
    pub notice: Option<String>,
}

/// Every page handler starts from its [`Page`].
impl axum::extract::FromRequestParts<ApiCell> for Page {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        api: &ApiCell,
    ) -> Result<Self, Response> {
        let mut page = Page::of(api, &parts.headers, &parts.extensions)
            .await
            .map_err(|r| *r)?;
        if parts.method == axum::http::Method::GET {
            page.asked = Some(without_names(&parts.uri));
        }
        Ok(page)
    }
}

impl Page {
    async fn of(
        api: &ApiCell,
        headers: &HeaderMap,
        extensions: &axum::http::Extensions,
    ) -> Result<Self, Box<Response>> {
        let Some(api) = api.get().cloned() else {
            return Err(Box::new(message(
                StatusCode::SERVICE_UNAVAILABLE,
                "Service en cours de démarrage",
                "Réessayez dans un instant.",
            )));
        };
        let token = cookie(headers, SESSION_COOKIE);
        let mut viewer = passerelle_graphql::viewer_of_token(&api.gateway, token.clone())
            .await
            .map_err(|e| {
                tracing::error!("session lookup failed: {e}");
                Box::new(message(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Service indisponible",
                    "Réessayez dans un instant.",
                ))
            })?;
        viewer.client = client_address(&api, headers, extensions);
        let mut cookies = Vec::new();
        let nonce = match cookie(headers, CSRF_COOKIE) {
            Some(nonce) => nonce,
            None => {
                let mut bytes = [0u8; 24];
                rand::rng().fill_bytes(&mut bytes);
                let nonce = URL_SAFE_NO_PAD.encode(bytes);
                cookies.push(format!(
                    "{CSRF_COOKIE}={nonce}; Path=/; HttpOnly; Secure; SameSite=Strict"
                ));
                nonce
            }
        };
        let csrf = csrf_token(&nonce, token.as_deref());
        let mailed_return =
            cookie(headers, RETURN_COOKIE).and_then(|kept| kept_return(&kept, &nonce));
        let page = Self {
            api,
            viewer,
            csrf,
            asked: None,
            cookies,
            mailed_return,
            nonce,
        };
        // The navigation of this viewer, for a message page the handler
        // answers after (`with_navigation`), without a second lookup.
        if let Some(seen) = extensions.get::<SeenNav>() {
            let _ = seen.0.set((page.nav(None), page.cookies.clone()));
        }
        Ok(page)
    }

    /// A form's token must be the one made for this browser's cookie and
    /// its session: another site can make the browser post, not read the
    /// cookie; and a token seen before a login is worthless after it.
    pub(crate) fn checked(&self, sent: &str) -> Result<(), Box<Response>> {
        if same(sent, &self.csrf) && self.cookies.is_empty() {
            Ok(())
        } else {
            Err(Box::new(message(
                StatusCode::FORBIDDEN,
                "Formulaire expiré",
                "Ce formulaire n'est plus valable : rechargez la page et recommencez.",
            )))
        }
    }

    pub(crate) fn nav(&self, notice: Option<String>) -> Nav {
        Nav {
            staff: self.viewer.user.is_some(),
            administers: self
                .viewer
                .user
                .as_ref()
                .is_some_and(|u| policy::administers_staff(&staff_actor(u))),
            reassigns: self
                .viewer
                .user
                .as_ref()
                .is_some_and(|u| policy::reassigns_referents(&staff_actor(u))),
            signed_in: self.viewer.user.is_some() || self.viewer.principal.is_some(),
            csrf: self.csrf.clone(),
            notice,
        }
    }

    /// Runs a list's operation from the cursor `apres` of the page's URL,
    /// `variables` given it as the operation's `after`. A cursor no longer
    /// valid reads the list from its start instead: `apres` is cleared and
    /// the notice to show is returned with the outcome.
    pub(crate) async fn run_listed(
        &self,
        query: &str,
        variables: impl Fn(Option<&str>) -> Value,
        apres: &mut String,
    ) -> (Outcome, Option<String>) {
        let out = self.run(query, variables(given(apres))).await;
        if !out.bad_cursor() {
            return (out, None);
        }
        apres.clear();
        (
            self.run(query, variables(None)).await,
            Some(STALE_PAGE.to_owned()),
        )
    }

    pub(crate) async fn run(&self, query: &str, variables: Value) -> Outcome {
        let request = async_graphql::Request::new(query)
            .variables(async_graphql::Variables::from_json(variables));
        let request = passerelle_graphql::prepare(request, &self.api.gateway, self.viewer.clone());
        let response = self.api.schema.execute(request).await;
        let cookies = response
            .http_headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect();
        let errors = response
            .errors
            .iter()
            .map(|e| {
                let ext = |key: &str| {
                    e.extensions
                        .as_ref()
                        .and_then(|x| x.get(key))
                        .and_then(|v| match v {
                            async_graphql::Value::String(s) => Some(s.clone()),
                            _ => None,
                        })
                };
                GqlError {
                    field: ext("field"),
                    message: e.message.clone(),
                    code: ext("code"),
                }
            })
            .collect();
        Outcome {
            data: response.data.into_json().unwrap_or(Value::Null),
            errors,
            cookies,
        }
    }

    pub(crate) fn render(
        mut self,
        status: StatusCode,
        body: Result<String, askama::Error>,
    ) -> Response {
        match body {
            Ok(html) => {
                let mut response = (status, html).into_response();
                secure(response.headers_mut());
                for c in self.cookies.drain(..) {
                    if let Ok(v) = HeaderValue::from_str(&c) {
                        response.headers_mut().append(header::SET_COOKIE, v);
                    }
                }
                response
            }
            Err(e) => {
                tracing::error!("template failed: {e}");
                message(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Erreur",
                    "La page n'a pas pu s'afficher.",
                )
            }
        }
    }

    /// A page for the signed in only, asked by nobody signed in: to the
    /// sign-in form, which brings a staff member back to the page she
    /// asked for (`/?suite=…`), and a person or an employer after her
    /// mailed link, opened in the same browser ([`Page::keep_for_link`]).
    /// Anyone signed in (a person or an employer on a staff page, a staff
    /// member on a space's page), and a form sent, go to the home page.
    pub(crate) fn sign_in_first(self) -> Response {
        let signed_in = self.viewer.user.is_some() || self.viewer.principal.is_some();
        let to = match self.asked.as_deref().and_then(return_path) {
            Some(asked) if !signed_in => format!("/?suite={}", encode(asked)),
            _ => "/".to_owned(),
        };
        self.redirect(&to, Vec::new())
    }

    /// The page to go to once a mailed link is redeemed in this browser,
    /// if one was asked for when the link was requested here.
    pub(crate) fn mailed_return(&self) -> Option<&str> {
        self.mailed_return.as_deref()
    }

    /// The cookie that keeps `suite` for the mailed link requested now,
    /// sealed for this browser ([`return_seal`]); without `suite`, the
    /// cookie that forgets one kept for an earlier link (and, `None` once
    /// the link is redeemed, the one just used). It lasts a day beyond the
    /// link's validity, which counts from when the mail leaves (later than
    /// now when sending is retried); it holds only a path.
    pub(crate) fn keep_for_link(&self, suite: Option<&str>) -> String {
        let attributes = "Path=/acces; HttpOnly; Secure; SameSite=Strict";
        match suite {
            Some(path) => format!(
                "{RETURN_COOKIE}={}.{}; Max-Age={}; {attributes}",
                URL_SAFE_NO_PAD.encode(path),
                return_seal(&self.nonce, path),
                (self.api.gateway.magic_link_ttl + time::Duration::DAY)
                    .whole_seconds()
                    .max(0)
            ),
            None => format!("{RETURN_COOKIE}=; Max-Age=0; {attributes}"),
        }
    }

    /// After a form: to `to`, with the cookies the operation set.
    pub(crate) fn redirect(mut self, to: &str, cookies: Vec<String>) -> Response {
        let mut response =
            (StatusCode::SEE_OTHER, [(header::LOCATION, to.to_owned())]).into_response();
        self.cookies.extend(cookies);
        for c in self.cookies.drain(..) {
            if let Ok(v) = HeaderValue::from_str(&c) {
                response.headers_mut().append(header::SET_COOKIE, v);
            }
        }
        response
    }
}

/// A page's address without a person's name typed into it by hand: the
/// people's lists are searched by name only by POST (`nom` is never read
/// from their address), and the way back to them must not carry a name
/// into another address. Their query is read as the page reads it
/// (percent-decoded), then written anew.
fn without_names(uri: &axum::http::Uri) -> String {
    let path = uri.path();
    if !path.starts_with("/people") {
        return uri.path_and_query().map_or(path, |p| p.as_str()).to_owned();
    }
    let Ok(axum::extract::Query(pairs)) =
        axum::extract::Query::<Vec<(String, String)>>::try_from_uri(uri)
    else {
        return path.to_owned();
    };
    let kept: Vec<(&str, &str)> = pairs
        .iter()
        .filter(|(name, _)| name != "nom")
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect();
    list_href(path, &kept)
}

/// An address of this service to go to after signing in: a path of ours
/// (never another site's, `//host` or `/\host`, which browsers read as
/// one), in the characters a request line carries, of a bounded length.
/// The home page is no return, nor a page that opens a session or signs
/// in (a mailed link's `/acces/…`, a password's `/mot-de-passe/…`): led
/// there by a link made by someone else, a member just signed in could
/// open that person's session in place of her own. A path with a dot
/// segment (`/./acces/…`, `/x/%2e%2e/acces/…`), which browsers resolve
/// before asking, is no return either: no page of ours has one.
pub(crate) fn return_path(asked: &str) -> Option<&str> {
    const NOT_A_RETURN: [&str; 6] = [
        "/acces",
        "/mot-de-passe",
        "/connexion",
        "/deconnexion",
        "/lien",
        "/static",
    ];
    let path = asked.split('?').next().unwrap_or(asked);
    let lower = path.to_ascii_lowercase();
    let ours = asked.len() <= 1024
        && path.len() > 1
        && path.starts_with('/')
        && !path.starts_with("//")
        && asked.bytes().all(|b| b.is_ascii_graphic() && b != b'\\')
        && !lower.contains("/.")
        && !lower.contains("%2e")
        && !NOT_A_RETURN
            .iter()
            .any(|p| lower == *p || lower.starts_with(&format!("{p}/")));
    ours.then_some(asked)
}

/// Whether two tokens are the same, in a time that does not tell how much
/// of them matched.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The proof that a way back kept for a mailed link was set by this
/// service for this browser: the path hashed with the browser's CSRF nonce
/// (`__Host-`, HttpOnly), which a neighbouring subdomain that could plant
/// a `__Secure-` cookie can neither read nor set.
fn return_seal(nonce: &str, path: &str) -> String {
    use sha2::Digest as _;
    let mut digest = sha2::Sha256::new();
    digest.update(b"passerelle-suite\0");
    digest.update(nonce.as_bytes());
    digest.update(b"\0");
    digest.update(path.as_bytes());
    URL_SAFE_NO_PAD.encode(digest.finalize())
}

/// The way back a [`RETURN_COOKIE`] holds, if this service sealed it for
/// this browser's `nonce` and it is still a return.
fn kept_return(kept: &str, nonce: &str) -> Option<String> {
    let (path, seal) = kept.split_once('.')?;
    let path = String::from_utf8(URL_SAFE_NO_PAD.decode(path).ok()?).ok()?;
    (same(seal, &return_seal(nonce, &path)) && return_path(&path).is_some()).then_some(path)
}

/// The form token of a browser: its cookie's nonce bound to its session
/// token (both HttpOnly), hashed, so it can be neither read nor made
/// elsewhere, and changes when the session does.
fn csrf_token(nonce: &str, session: Option<&str>) -> String {
    use sha2::Digest as _;
    let mut digest = sha2::Sha256::new();
    digest.update(b"passerelle-csrf\0");
    digest.update(nonce.as_bytes());
    digest.update(b"\0");
    digest.update(session.unwrap_or("").as_bytes());
    URL_SAFE_NO_PAD.encode(digest.finalize())
}

fn secure(headers: &mut HeaderMap) {
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    protect(headers, CSP, "same-origin");
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

/// The headers every HTML answer of the service carries: its content
/// policy, no guessing of its type, and what a link tells the next site.
pub fn protect(headers: &mut HeaderMap, csp: &'static str, referrer: &'static str) {
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(csp),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static(referrer));
}

pub(crate) struct GqlError {
    pub field: Option<String>,
    pub message: String,
    /// `extensions.code`.
    pub code: Option<String>,
}

pub(crate) struct Outcome {
    pub data: Value,
    pub errors: Vec<GqlError>,
    pub cookies: Vec<String>,
}

/// The status of a form's answer refused with `errors` (the API's, or the
/// page's own): what was acted on not found (404), the viewer not allowed
/// (403), too many tries (429), the service failing (500), else a value the
/// form shows refused (422).
pub(crate) fn refusal_status(errors: &[GqlError]) -> StatusCode {
    match errors.first().and_then(|e| e.code.as_deref()) {
        Some("NOT_FOUND") => StatusCode::NOT_FOUND,
        Some("FORBIDDEN") => StatusCode::FORBIDDEN,
        Some("RATE_LIMITED") => StatusCode::TOO_MANY_REQUESTS,
        Some("INTERNAL") => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

impl Outcome {
    /// The status of a form's answer the API refused ([`refusal_status`]).
    pub(crate) fn refusal_status(&self) -> StatusCode {
        refusal_status(&self.errors)
    }

    /// Whether the API refused the viewer what it asked for (`FORBIDDEN`):
    /// a list reserved to some roles, said as the page's refusal.
    pub(crate) fn forbidden(&self) -> bool {
        self.errors
            .iter()
            .any(|e| e.code.as_deref() == Some("FORBIDDEN"))
    }

    /// Whether the API refused a page's cursor (`after`): a link made
    /// before the list changed, or edited by hand.
    pub(crate) fn bad_cursor(&self) -> bool {
        self.errors
            .iter()
            .any(|e| e.field.as_deref() == Some("after"))
    }
}

/// What a page says when the cursor of its link was refused and it shows
/// the list's first page instead.
pub(crate) const STALE_PAGE: &str =
    "Ce lien de page n'est plus valable : voici le début de la liste.";

/// Above a form a list's entry prefills, when that entry can no longer be
/// found where the link said (the list moved, or its page link expired).
pub(crate) const STALE_CHOICE: &str = "La personne choisie n'est plus à cette place dans la liste : \
     rien n'a été prérempli. Choisissez-la de nouveau depuis la liste, ou remplissez le formulaire.";

/// A form's fields, by name, as sent: for a form that repeats a name (a
/// group of boxes ticked) or has many fields.
pub(crate) struct Fields(pub Vec<(String, String)>);

impl Fields {
    pub(crate) fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    pub(crate) fn optional(&self, name: &str) -> Option<String> {
        let v = self.get(name).trim();
        (!v.is_empty()).then(|| v.to_owned())
    }

    /// Every value sent under `name`, in order.
    pub(crate) fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// A form's values as sent, and the errors to show beside each field.
#[derive(Default)]
pub(crate) struct FormState {
    values: HashMap<String, String>,
    pub errors: HashMap<String, String>,
    pub general: Option<String>,
}

impl FormState {
    /// The values sent, to show again ([`passerelle_domain::shown_again`]).
    pub(crate) fn with(values: &[(&str, &str)]) -> Self {
        Self {
            values: values
                .iter()
                .map(|(k, v)| ((*k).to_owned(), passerelle_domain::shown_again(v)))
                .collect(),
            ..Self::default()
        }
    }

    pub fn value(&self, name: &str) -> &str {
        self.values.get(name).map_or("", String::as_str)
    }

    pub fn value_or<'a>(&'a self, name: &str, default: &'a str) -> &'a str {
        match self.values.get(name) {
            Some(v) if !v.is_empty() => v,
            _ => default,
        }
    }

    /// Whether the field holds `value` (else `default` when empty).
    pub fn is(&self, name: &str, value: &str, default: &str) -> bool {
        self.value_or(name, default) == value
    }

    pub fn error(&self, name: &str) -> Option<&str> {
        self.errors.get(name).map(String::as_str)
    }

    /// Refuses beside the field `name` a `value` that is none of the
    /// `options` its list offers (a form edited by hand, or a page older
    /// than the list): the API would refuse it in its own codes, not in
    /// the labels the page shows. Says whether it was offered.
    pub(crate) fn offered(
        &mut self,
        name: &str,
        value: &str,
        options: &[(&str, &str)],
        message: &str,
    ) -> bool {
        let offered = options.iter().any(|(option, _)| *option == value);
        if !offered {
            self.errors.insert(name.to_owned(), message.to_owned());
        }
        offered
    }

    /// Whether the box `value` of the group `name` is ticked (kept as
    /// `name_value`, see [`FormState::tick`]).
    pub(crate) fn ticked(&self, name: &str, value: &str) -> bool {
        self.values.contains_key(&format!("{name}_{value}"))
    }

    /// Keeps the box `value` of the group `name` ticked.
    pub(crate) fn tick(&mut self, name: &str, value: &str) {
        self.values
            .insert(format!("{name}_{value}"), "oui".to_owned());
    }

    /// Keeps `value` to show again under `name`.
    pub(crate) fn keep(&mut self, name: &str, value: &str) {
        self.values
            .insert(name.to_owned(), passerelle_domain::shown_again(value));
    }

    /// Shows `value` under `name` unless a value was sent for it: a form
    /// that corrects a record starts from what it says, and keeps what was
    /// sent when refused.
    pub(crate) fn start_from(&mut self, name: &str, value: &str) {
        if !self.values.contains_key(name) {
            self.keep(name, value);
        }
    }

    /// Nothing sent, nothing refused: a page shown afresh.
    pub(crate) fn is_fresh(&self) -> bool {
        self.values.is_empty() && self.errors.is_empty() && self.general.is_none()
    }

    /// Each error beside the form field its GraphQL field maps to, else
    /// above the form.
    pub(crate) fn absorb(&mut self, errors: &[GqlError], fields: &[(&str, &str)]) {
        for e in errors {
            let field = e.field.as_deref().and_then(|f| {
                fields
                    .iter()
                    .find(|(gql, _)| f == *gql || f.ends_with(&format!(".{gql}")))
                    .map(|(_, name)| *name)
            });
            match field {
                Some(name) => {
                    self.errors.insert(name.to_owned(), e.message.clone());
                }
                None => self.general = Some(e.message.clone()),
            }
        }
    }
}

#[derive(Template)]
#[template(path = "message.html")]
pub(crate) struct MessageTemplate<'a> {
    pub nav: Nav,
    pub title: &'a str,
    pub message: &'a str,
}

/// A refusal of the HTTP layer (a body too large, a malformed form), as a
/// French page.
pub fn error_page(status: StatusCode, text: &str) -> Response {
    message(status, "Requête refusée", text)
}

/// A message page's words, kept on its answer so that [`with_navigation`]
/// can show it again with the viewer's navigation.
#[derive(Clone)]
struct Said {
    title: String,
    text: String,
}

/// A page that only says something (not found, refused, unavailable). It
/// is made without knowing the viewer; [`with_navigation`] gives it back
/// the menu of whoever is signed in.
pub(crate) fn message(status: StatusCode, title: &str, text: &str) -> Response {
    let nav = Nav {
        staff: false,
        administers: false,
        reassigns: false,
        signed_in: false,
        csrf: String::new(),
        notice: None,
    };
    let body = MessageTemplate {
        nav,
        title,
        message: text,
    }
    .render()
    .unwrap_or_else(|_| text.to_owned());
    let mut response = (status, body).into_response();
    secure(response.headers_mut());
    response.extensions_mut().insert(Said {
        title: title.to_owned(),
        text: text.to_owned(),
    });
    response
}

/// The navigation a request's [`Page`] was made with, and the cookies it
/// was to set (a new form nonce, whose token the navigation's sign-out
/// carries), kept for [`with_navigation`].
#[derive(Clone, Default)]
struct SeenNav(Arc<OnceLock<(Nav, Vec<String>)>>);

/// The service's outer layer: a message page (a handler's, or a refusal of
/// the HTTP layer) answered to a signed-in viewer is
/// shown again with her navigation (her menu, signing out), so that an
/// error does not strand her. The navigation is the one the handler's
/// [`Page`] was made with; a page no handler made (an unknown address)
/// looks the session up, only then and only with a session cookie. A
/// message of a failed lookup (503) is left as it is. Only the body
/// changes: status and headers stay.
pub async fn with_navigation(
    axum::extract::State(api): axum::extract::State<ApiCell>,
    mut request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let seen = SeenNav::default();
    request.extensions_mut().insert(seen.clone());
    // What a lookup would need (the cookies, the client's address), kept
    // only when there is a session to look up.
    let session = cookie(request.headers(), SESSION_COOKIE)
        .is_some()
        .then(|| {
            let mut headers = HeaderMap::new();
            let proxy = api.get().and_then(|a| a.client_ip_header.clone());
            for (name, value) in request.headers() {
                if name == header::COOKIE || proxy.as_ref() == Some(name) {
                    headers.append(name.clone(), value.clone());
                }
            }
            let mut extensions = axum::http::Extensions::new();
            if let Some(peer) = request
                .extensions()
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            {
                extensions.insert(*peer);
            }
            (headers, extensions)
        });
    let response = next.run(request).await;
    let Some(said) = response.extensions().get::<Said>().cloned() else {
        return response;
    };
    if response.status() == StatusCode::SERVICE_UNAVAILABLE {
        return response;
    }
    let (nav, cookies) = match (seen.0.get(), session) {
        (Some((nav, cookies)), _) => (nav.clone(), cookies.clone()),
        (None, Some((headers, extensions))) => match Page::of(&api, &headers, &extensions).await {
            Ok(page) => (page.nav(None), page.cookies),
            Err(_) => return response,
        },
        (None, None) => return response,
    };
    if !nav.signed_in {
        return response;
    }
    let Ok(html) = (MessageTemplate {
        nav,
        title: &said.title,
        message: &said.text,
    })
    .render() else {
        return response;
    };
    let (mut parts, _) = response.into_parts();
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(&c) {
            parts.headers.append(header::SET_COOKIE, v);
        }
    }
    Response::from_parts(parts, axum::body::Body::from(html))
}
