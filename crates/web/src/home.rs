//! The home page: the login form, a mediator's inbox, an employer's portal,
//! a person's immersions.

use askama::Template;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::Response;
use passerelle_graphql::Viewer;
use serde::Deserialize;
use serde_json::json;

use crate::page::{FormState, Nav, Page, date_of};

#[derive(Template)]
#[template(path = "home.html")]
pub(crate) struct HomeTemplate {
    pub nav: Nav,
    pub form: FormState,
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
pub(crate) struct Notice {
    /// What was just done, to say so.
    #[serde(default)]
    fait: Option<String>,
    /// The employer a visit form starts with.
    #[serde(default)]
    pub employeur: Option<String>,
}

pub(crate) fn notice(q: &Notice) -> Option<String> {
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

pub(crate) async fn home(page: Page, Query(q): Query<Notice>) -> Response {
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

pub(crate) fn own_employer(viewer: &Viewer) -> Option<String> {
    match viewer.principal?.principal {
        passerelle_graphql::Principal::Employer(e) => Some(e.0.to_string()),
        passerelle_graphql::Principal::Person(_) => None,
    }
}
