//! The web pages, in French, served at `/`: the staff's login and inbox, a
//! visit logged from a phone, the employer portal's need form, and the
//! immersion funnel as an SVG chart with its table and CSV. Each page runs
//! a GraphQL operation in-process as the viewer, so authorization lives in
//! the gateway alone, and renders a compile-checked template. No script:
//! plain forms, each carrying a CSRF token (a cookie the form must repeat).

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use askama::Template;
use axum::Router;
use axum::extract::{Form, Query};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use passerelle_graphql::{Gateway, PasserelleSchema, SESSION_COOKIE, Viewer};
use rand::RngCore;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::labels::{HORIZONS, INTENTS, PURPOSES};

mod dashboards;
mod files;
mod immersions;
mod labels;
mod links;
mod people;

pub use dashboards::{STEPS as FUNNEL_STEPS, dashboard_variables};

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
const STYLESHEET: &str = include_str!("../static/app.css");
/// Pages load their own stylesheet and nothing else; no script runs.
const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
                   frame-ancestors 'none'; base-uri 'none'";

pub fn router(api: ApiCell) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/connexion", post(login))
        .route("/deconnexion", post(logout))
        .route("/lien", post(link_request))
        .route("/portail/besoin", get(need_form).post(need_submit))
        .route("/visites/nouvelle", get(visit_form))
        .route("/visites", post(visit_submit))
        .route("/tableaux/{board}", get(dashboards::page))
        .route("/employers/{id}", get(files::employer))
        .route("/needs/{id}", get(files::need))
        .route("/people", get(people::list))
        .route("/people/{id}", get(people::file))
        .route("/people/{id}/projet", post(people::readjust))
        .route("/immersions/nouvelle", get(immersions::propose_form))
        .route("/immersions", post(immersions::propose))
        .route("/immersions/{id}", get(immersions::page))
        .route("/immersions/{id}/{action}", post(immersions::action))
        .route(
            "/immersions/{id}/convention",
            get(immersions::convention_form).post(immersions::convention),
        )
        .route("/acces/{token}", get(links::access_page))
        .route("/acces", post(links::access))
        .route(
            "/preferences/{token}",
            get(links::preferences_page).post(links::set_preferences),
        )
        .route("/static/app.css", get(stylesheet))
        .fallback(not_found_page)
        .with_state(api)
}

/// Any other path: a French page that says so, with a way back.
async fn not_found_page() -> Response {
    message(
        StatusCode::NOT_FOUND,
        "Page introuvable",
        "Cette adresse ne mène à aucune page : vérifiez-la, ou repartez de l'accueil.",
    )
}

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        STYLESHEET,
    )
        .into_response()
}

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

/// A date the API gives: a day (`2026-05-04`) or the day of an instant.
pub(crate) fn date_of(value: &Value) -> Option<time::Date> {
    parse_date(value.as_str()?.get(..10)?)
}

/// A day as a date field sends it.
pub(crate) fn parse_date(text: &str) -> Option<time::Date> {
    time::Date::parse(
        text.trim(),
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .ok()
}

/// "4 mai 2026", or nothing when the API gave no date.
pub(crate) fn french_date(value: &Value) -> String {
    date_of(value).map_or_else(String::new, passerelle_domain::fr::date)
}

/// A list of strings the API gives.
pub(crate) fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// What every page knows of its request: who, and the form token.
pub(crate) struct Page {
    api: Api,
    viewer: Viewer,
    csrf: String,
    /// Cookies to set with the answer.
    cookies: Vec<String>,
}

/// What the layout shows.
pub(crate) struct Nav {
    pub staff: bool,
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
        Page::of(api, &parts.headers, &parts.extensions)
            .await
            .map_err(|r| *r)
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
        Ok(Self {
            api,
            viewer,
            csrf,
            cookies,
        })
    }

    /// A form's token must be the one made for this browser's cookie and
    /// its session: another site can make the browser post, not read the
    /// cookie; and a token seen before a login is worthless after it.
    fn checked(&self, sent: &str) -> Result<(), Box<Response>> {
        let same = sent.len() == self.csrf.len()
            && sent
                .bytes()
                .zip(self.csrf.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0;
        if same && self.cookies.is_empty() {
            Ok(())
        } else {
            Err(Box::new(message(
                StatusCode::FORBIDDEN,
                "Formulaire expiré",
                "Ce formulaire n'est plus valable : rechargez la page et recommencez.",
            )))
        }
    }

    fn nav(&self, notice: Option<String>) -> Nav {
        Nav {
            staff: self.viewer.user.is_some(),
            signed_in: self.viewer.user.is_some() || self.viewer.principal.is_some(),
            csrf: self.csrf.clone(),
            notice,
        }
    }

    async fn run(&self, query: &str, variables: Value) -> Outcome {
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
                }
            })
            .collect();
        Outcome {
            data: response.data.into_json().unwrap_or(Value::Null),
            errors,
            cookies,
        }
    }

    fn render(mut self, status: StatusCode, body: Result<String, askama::Error>) -> Response {
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

    /// After a form: to `to`, with the cookies the operation set.
    fn redirect(mut self, to: &str, cookies: Vec<String>) -> Response {
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
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

pub(crate) struct GqlError {
    pub field: Option<String>,
    pub message: String,
}

pub(crate) struct Outcome {
    pub data: Value,
    pub errors: Vec<GqlError>,
    pub cookies: Vec<String>,
}

/// A form's values as sent, and the errors to show beside each field.
#[derive(Default)]
pub(crate) struct FormState {
    values: HashMap<String, String>,
    errors: HashMap<String, String>,
    general: Option<String>,
}

impl FormState {
    fn with(values: &[(&str, &str)]) -> Self {
        Self {
            values: values
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
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

    /// Each error beside the form field its GraphQL field maps to, else
    /// above the form.
    fn absorb(&mut self, errors: &[GqlError], fields: &[(&str, &str)]) {
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
struct MessageTemplate<'a> {
    nav: Nav,
    title: &'a str,
    message: &'a str,
}

/// A refusal of the HTTP layer (a body too large, a malformed form), as a
/// French page.
pub fn error_page(status: StatusCode, text: &str) -> Response {
    message(status, "Requête refusée", text)
}

fn message(status: StatusCode, title: &str, text: &str) -> Response {
    let nav = Nav {
        staff: false,
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
    response
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomeTemplate {
    nav: Nav,
    form: FormState,
}

#[derive(Template)]
#[template(path = "inbox.html")]
struct InboxTemplate {
    nav: Nav,
    name: String,
    structure: String,
    overdue: i64,
    tasks: Vec<TaskView>,
}

struct TaskView {
    title: String,
    link: String,
    late: bool,
}

#[derive(Template)]
#[template(path = "portal.html")]
struct PortalTemplate {
    nav: Nav,
    name: String,
    needs: Vec<String>,
    /// Id, what.
    immersions: Vec<(String, String)>,
    visits: Vec<String>,
}

#[derive(Template)]
#[template(path = "person_home.html")]
struct PersonTemplate {
    nav: Nav,
    immersions: Vec<(String, String)>,
}

impl Page {
    /// The viewer's own immersions, as links: what stage, since when.
    async fn own_immersions(&self) -> Vec<(String, String)> {
        let out = self
            .run(
                "{ immersions(first: 50) { edges { node { id stage employerName } } } }",
                json!({}),
            )
            .await;
        let mut list = Vec::new();
        for edge in out.data["immersions"]["edges"]
            .as_array()
            .cloned()
            .unwrap_or_default()
        {
            let n = &edge["node"];
            let name = n["employerName"].as_str().unwrap_or("Immersion").to_owned();
            let stage = n["stage"].as_str().unwrap_or_default();
            let what = match stage {
                "proposed" => "proposée, en attente de réponse",
                "drafted" => "convention à signer",
                "validated" => "convention validée",
                "started" => "en cours",
                "completed" => "terminée",
                _ => "close",
            };
            list.push((
                n["id"].as_str().unwrap_or_default().to_owned(),
                format!("{name} : {what}"),
            ));
        }
        list
    }
}

#[derive(Debug, Deserialize)]
struct Notice {
    /// What was just done, to say so.
    #[serde(default)]
    fait: Option<String>,
    /// The employer a visit form starts with.
    #[serde(default)]
    employeur: Option<String>,
}

fn notice(q: &Notice) -> Option<String> {
    Some(
        match q.fait.as_deref()? {
            "besoin" => "Votre besoin est envoyé : votre médiateur vous recontacte.",
            "visite" => "Visite enregistrée.",
            "lien" => "Si cette adresse est connue, un lien vient de vous être envoyé par e-mail.",
            _ => return None,
        }
        .to_owned(),
    )
}

async fn home(page: Page, Query(q): Query<Notice>) -> Response {
    let nav = page.nav(notice(&q));
    if page.viewer.user.is_some() {
        let out = page
            .run(
                "{ me { name structureName } inbox { overdue tasks { title link overdueDays } } }",
                json!({}),
            )
            .await;
        let tasks = out.data["inbox"]["tasks"]
            .as_array()
            .map(|tasks| {
                tasks
                    .iter()
                    .map(|t| TaskView {
                        title: t["title"].as_str().unwrap_or_default().to_owned(),
                        link: t["link"].as_str().unwrap_or("/").to_owned(),
                        late: t["overdueDays"].as_i64().unwrap_or(0) > 0,
                    })
                    .collect()
            })
            .unwrap_or_default();
        let body = InboxTemplate {
            nav,
            name: out.data["me"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            structure: out.data["me"]["structureName"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            overdue: out.data["inbox"]["overdue"].as_i64().unwrap_or(0),
            tasks,
        }
        .render();
        return page.render(StatusCode::OK, body);
    }
    if let Some(employer) = own_employer(&page.viewer) {
        let out = page
            .run(
                "query($e: ID!) { employer(id: $e) { name needs { activities surfacedOn }
                    visits { visitedOn } } }",
                json!({ "e": employer }),
            )
            .await;
        let needs = out.data["employer"]["needs"]
            .as_array()
            .map(|needs| {
                needs
                    .iter()
                    .map(|n| n["activities"].as_str().unwrap_or_default().to_owned())
                    .collect()
            })
            .unwrap_or_default();
        let immersions = page.own_immersions().await;
        let visits = out.data["employer"]["visits"]
            .as_array()
            .map(|visits| {
                visits
                    .iter()
                    .filter_map(|v| {
                        let day = date_of(&v["visitedOn"])?;
                        Some(format!("Visite le {}", passerelle_domain::fr::date(day)))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let body = PortalTemplate {
            nav,
            name: out.data["employer"]["name"]
                .as_str()
                .unwrap_or("Votre établissement")
                .to_owned(),
            needs,
            immersions,
            visits,
        }
        .render();
        return page.render(StatusCode::OK, body);
    }
    if page.viewer.principal.is_some() {
        let immersions = page.own_immersions().await;
        let body = PersonTemplate { nav, immersions }.render();
        return page.render(StatusCode::OK, body);
    }
    let body = HomeTemplate {
        nav,
        form: FormState::default(),
    }
    .render();
    page.render(StatusCode::OK, body)
}

fn own_employer(viewer: &Viewer) -> Option<String> {
    match viewer.principal?.principal {
        passerelle_graphql::Principal::Employer(e) => Some(e.0.to_string()),
        passerelle_graphql::Principal::Person(_) => None,
    }
}

#[derive(Debug, Deserialize)]
struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

async fn login(page: Page, Form(form): Form<LoginForm>) -> Response {
    if let Err(r) = page.checked(&form.csrf) {
        return *r;
    }
    let out = page
        .run(
            "mutation($e: String!, $p: String!) { login(input: { email: $e, password: $p }) { token } }",
            json!({ "e": form.email, "p": form.password }),
        )
        .await;
    if out.errors.is_empty() {
        return page.redirect("/", out.cookies);
    }
    let mut state = FormState::with(&[("email", &form.email)]);
    state.absorb(&out.errors, &[]);
    let nav = page.nav(None);
    let body = HomeTemplate { nav, form: state }.render();
    page.render(StatusCode::UNAUTHORIZED, body)
}

#[derive(Debug, Deserialize)]
struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

async fn logout(page: Page, Form(form): Form<CsrfOnly>) -> Response {
    if let Err(r) = page.checked(&form.csrf) {
        return *r;
    }
    let out = page
        .run("mutation { logout { loggedOut } }", json!({}))
        .await;
    page.redirect("/", out.cookies)
}

#[derive(Debug, Deserialize)]
struct LinkForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
}

async fn link_request(page: Page, Form(form): Form<LinkForm>) -> Response {
    if let Err(r) = page.checked(&form.csrf) {
        return *r;
    }
    let out = page
        .run(
            "mutation($m: String!) { magicLinkRequest(input: { email: $m }) { sent } }",
            json!({ "m": form.email }),
        )
        .await;
    if let Some(e) = out.errors.first() {
        let nav = page.nav(None);
        let body = MessageTemplate {
            nav,
            title: "Demande non envoyée",
            message: &e.message,
        }
        .render();
        return page.render(StatusCode::TOO_MANY_REQUESTS, body);
    }
    page.redirect("/?fait=lien", Vec::new())
}

#[derive(Template)]
#[template(path = "need_form.html")]
struct NeedTemplate {
    nav: Nav,
    form: FormState,
    horizons: &'static [(&'static str, &'static str)],
    intents: &'static [(&'static str, &'static str)],
}

async fn need_form(page: Page) -> Response {
    if own_employer(&page.viewer).is_none() {
        return message(
            StatusCode::FORBIDDEN,
            "Espace employeur",
            "Ouvrez le lien reçu par e-mail pour décrire un besoin.",
        );
    }
    let body = NeedTemplate {
        nav: page.nav(None),
        form: FormState::default(),
        horizons: &HORIZONS,
        intents: &INTENTS,
    }
    .render();
    page.render(StatusCode::OK, body)
}

#[derive(Debug, Deserialize)]
struct NeedForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    activities: String,
    #[serde(default)]
    horizon: String,
    #[serde(default)]
    conditions: String,
    #[serde(default)]
    headcount: String,
    #[serde(default)]
    hiring_intent: String,
}

async fn need_submit(page: Page, Form(form): Form<NeedForm>) -> Response {
    if let Err(r) = page.checked(&form.csrf) {
        return *r;
    }
    let Some(employer) = own_employer(&page.viewer) else {
        return message(
            StatusCode::FORBIDDEN,
            "Espace employeur",
            "Ouvrez le lien reçu par e-mail pour décrire un besoin.",
        );
    };
    let mut state = FormState::with(&[
        ("activities", &form.activities),
        ("horizon", &form.horizon),
        ("conditions", &form.conditions),
        ("headcount", &form.headcount),
        ("hiring_intent", &form.hiring_intent),
    ]);
    let headcount = form
        .headcount
        .trim()
        .parse::<i32>()
        .ok()
        .filter(|n| (1..=50).contains(n));
    let Some(headcount) = headcount else {
        state.errors.insert(
            "headcount".into(),
            "Indiquez un nombre de personnes entre 1 et 50.".into(),
        );
        return need_again(page, state);
    };
    let out = page
        .run(
            "mutation($e: ID!, $d: NeedDescriptionInput!) {
                needSurface(input: { employerId: $e, source: { kind: PORTAL }, description: $d }) { need { id } }
            }",
            json!({
                "e": employer,
                "d": {
                    "activities": form.activities,
                    "conditions": (!form.conditions.trim().is_empty()).then_some(&form.conditions),
                    "headcount": headcount,
                    "horizon": form.horizon,
                    "hiringIntent": form.hiring_intent,
                },
            }),
        )
        .await;
    if out.errors.is_empty() {
        return page.redirect("/?fait=besoin", Vec::new());
    }
    state.absorb(
        &out.errors,
        &[
            ("activities", "activities"),
            ("conditions", "conditions"),
            ("headcount", "headcount"),
        ],
    );
    need_again(page, state)
}

fn need_again(page: Page, form: FormState) -> Response {
    let body = NeedTemplate {
        nav: page.nav(None),
        form,
        horizons: &HORIZONS,
        intents: &INTENTS,
    }
    .render();
    page.render(StatusCode::UNPROCESSABLE_ENTITY, body)
}

#[derive(Template)]
#[template(path = "visit_form.html")]
struct VisitTemplate {
    nav: Nav,
    form: FormState,
    employers: Vec<(String, String)>,
    purposes: &'static [(&'static str, &'static str)],
    today: String,
}

impl Page {
    async fn visit_page(
        self,
        status: StatusCode,
        form: FormState,
        notice: Option<String>,
    ) -> Response {
        let out = self
            .run(
                "{ employers(first: 100) { edges { node { id name communeName } } } }",
                json!({}),
            )
            .await;
        let employers = out.data["employers"]["edges"]
            .as_array()
            .map(|edges| {
                edges
                    .iter()
                    .map(|e| {
                        let n = &e["node"];
                        let name = n["name"].as_str().unwrap_or_default();
                        let label = match n["communeName"].as_str() {
                            Some(c) => format!("{name} ({c})"),
                            None => name.to_owned(),
                        };
                        (n["id"].as_str().unwrap_or_default().to_owned(), label)
                    })
                    .collect()
            })
            .unwrap_or_default();
        let today = self.api.gateway.handler.clock().today().to_string();
        let body = VisitTemplate {
            nav: self.nav(notice),
            form,
            employers,
            purposes: &PURPOSES,
            today,
        }
        .render();
        self.render(status, body)
    }
}

async fn visit_form(page: Page, Query(q): Query<Notice>) -> Response {
    if page.viewer.user.is_none() {
        return page.redirect("/", Vec::new());
    }
    let form = FormState::with(&[("employer", q.employeur.as_deref().unwrap_or_default())]);
    page.visit_page(StatusCode::OK, form, notice(&q)).await
}

#[derive(Debug, Deserialize)]
struct VisitForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    employer: String,
    #[serde(default)]
    visited_on: String,
    #[serde(default)]
    purpose: String,
    #[serde(default)]
    observations: String,
}

async fn visit_submit(page: Page, Form(form): Form<VisitForm>) -> Response {
    if let Err(r) = page.checked(&form.csrf) {
        return *r;
    }
    let mut state = FormState::with(&[
        ("employer", &form.employer),
        ("visited_on", &form.visited_on),
        ("purpose", &form.purpose),
        ("observations", &form.observations),
    ]);
    let visited_on = match parse_date(&form.visited_on) {
        Some(d) => d,
        None => {
            state
                .errors
                .insert("visited_on".into(), "Indiquez la date de la visite.".into());
            return page
                .visit_page(StatusCode::UNPROCESSABLE_ENTITY, state, None)
                .await;
        }
    };
    let out = page
        .run(
            "mutation($e: ID!, $d: Date, $p: VisitPurpose!, $o: String!) {
                employerVisitLog(input: { employerId: $e, visitedOn: $d, purpose: $p, observations: $o }) { employer { id } }
            }",
            json!({
                "e": form.employer,
                "d": visited_on.to_string(),
                "p": form.purpose,
                "o": form.observations,
            }),
        )
        .await;
    if out.errors.is_empty() {
        return page.redirect("/visites/nouvelle?fait=visite", Vec::new());
    }
    state.absorb(
        &out.errors,
        &[
            ("observations", "observations"),
            ("visitedOn", "visited_on"),
            ("employerId", "employer"),
        ],
    );
    page.visit_page(StatusCode::UNPROCESSABLE_ENTITY, state, None)
        .await
}
