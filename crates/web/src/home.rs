//! The home page: the login form, a mediator's inbox, an employer's portal,
//! a person's immersions.

use askama::Template;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::Response;
use passerelle_graphql::Viewer;
use serde::Deserialize;
use serde_json::json;

use passerelle_domain::immersion::Stage;

use crate::answer::{Code, Connection, Day, read_or_return};
use crate::page::{FormState, Nav, Page};

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
    /// The person's id, for the page of their own data.
    me: Option<String>,
}

impl Page {
    /// The viewer's own immersions, as links: what stage, since when.
    async fn own_immersions(&self) -> Result<Vec<(String, String)>, Box<Response>> {
        let out = self
            .run(
                "{ immersions(first: 50) { edges { node { id currentStage employerName } } } }",
                json!({}),
            )
            .await;
        #[derive(Deserialize)]
        struct Answer {
            immersions: Connection<Own>,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Own {
            id: String,
            current_stage: Code<Stage>,
            employer_name: Option<String>,
        }
        let answer: Answer = out.read()?;
        Ok(answer
            .immersions
            .nodes()
            .map(|n| {
                let name = n.employer_name.as_deref().unwrap_or("Immersion");
                let what = match n.current_stage.0 {
                    Stage::Proposed => "proposée, en attente de réponse",
                    Stage::Drafted => "convention à signer",
                    Stage::Validated => "convention validée",
                    Stage::Started => "en cours",
                    Stage::Completed => "terminée",
                    Stage::NotProposed
                    | Stage::Declined
                    | Stage::Rejected
                    | Stage::Deprecated
                    | Stage::Cancelled
                    | Stage::Interrupted => "close",
                };
                (n.id, format!("{name} : {what}"))
            })
            .collect())
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
            "inscription" => "Personne inscrite : vous êtes son référent.",
            "effacement" => "Ses données sont effacées : seuls les chiffres restent.",
            "correction" => "Identité corrigée : la correction est conservée avec sa raison.",
            "etablissement" => "Établissement enregistré.",
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
        #[derive(Deserialize)]
        struct Answer {
            me: Me,
            inbox: Inbox,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Me {
            name: String,
            structure_name: String,
        }
        #[derive(Deserialize)]
        struct Inbox {
            overdue: i64,
            tasks: Vec<Task>,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Task {
            title: String,
            link: String,
            overdue_days: i64,
        }
        let answer: Answer = read_or_return!(out);
        let body = InboxTemplate {
            nav,
            name: answer.me.name,
            structure: answer.me.structure_name,
            overdue: answer.inbox.overdue,
            tasks: answer
                .inbox
                .tasks
                .into_iter()
                .map(|t| TaskView {
                    title: t.title,
                    link: t.link,
                    late: t.overdue_days > 0,
                })
                .collect(),
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
        #[derive(Deserialize)]
        struct Answer {
            employer: Option<Portal>,
        }
        #[derive(Deserialize)]
        struct Portal {
            name: String,
            needs: Vec<PortalNeed>,
            visits: Vec<PortalVisit>,
        }
        #[derive(Deserialize)]
        struct PortalNeed {
            activities: String,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct PortalVisit {
            visited_on: Day,
        }
        let answer: Answer = read_or_return!(out);
        let immersions = match page.own_immersions().await {
            Ok(list) => list,
            Err(r) => return *r,
        };
        let portal = answer.employer;
        let body = PortalTemplate {
            nav,
            name: portal
                .as_ref()
                .map_or_else(|| "Votre établissement".to_owned(), |p| p.name.clone()),
            needs: portal
                .iter()
                .flat_map(|p| &p.needs)
                .map(|n| n.activities.clone())
                .collect(),
            immersions,
            visits: portal
                .iter()
                .flat_map(|p| &p.visits)
                .map(|v| format!("Visite le {}", v.visited_on.french()))
                .collect(),
        }
        .render();
        return page.render(StatusCode::OK, body);
    }
    if page.viewer.principal.is_some() {
        let immersions = match page.own_immersions().await {
            Ok(list) => list,
            Err(r) => return *r,
        };
        let me = own_person(&page.viewer);
        let body = PersonTemplate {
            nav,
            immersions,
            me,
        }
        .render();
        return page.render(StatusCode::OK, body);
    }
    let body = HomeTemplate {
        nav,
        form: FormState::default(),
    }
    .render();
    page.render(StatusCode::OK, body)
}

/// The person signed in by their own link, if that is who views.
fn own_person(viewer: &Viewer) -> Option<String> {
    match viewer.principal?.principal {
        passerelle_graphql::Principal::Person(p) => Some(p.0.to_string()),
        passerelle_graphql::Principal::Employer(_) => None,
    }
}

pub(crate) fn own_employer(viewer: &Viewer) -> Option<String> {
    match viewer.principal?.principal {
        passerelle_graphql::Principal::Employer(e) => Some(e.0.to_string()),
        passerelle_graphql::Principal::Person(_) => None,
    }
}
