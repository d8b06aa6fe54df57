//! The mails sent for the viewer's structure (`/courriels`), newest first, a
//! page at a time: what each mail is, to whom (by role, never the address),
//! where it stands, and the mail server's last answer; searched by state or
//! by immersion (an immersion's page links to its own). A mail that failed
//! is sent again from here (`deliveryRetry`). The viewer's structure's
//! mails only, whatever the role (`policy::mail_structure`).

use askama::Template;
use axum::extract::{Form, Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use passerelle_graphql::DeliveryState;
use serde::Deserialize;
use serde_json::json;

use crate::answer::{Code, Paged, moment, read_or_return};
use crate::labels::{DELIVERY_STATES, offers};
use crate::page::{FormState, Nav, PAGE_SIZE, Page, Pager, STALE_PAGE, given, list_href};

/// The list's search and where its page starts, as its URL gives them.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct MailsQuery {
    /// A state, as the API names it (`FAILED`).
    #[serde(default)]
    etat: String,
    /// An immersion's id: its mails only.
    #[serde(default)]
    immersion: String,
    /// The cursor the page starts after (a mail's id).
    #[serde(default)]
    apres: String,
    /// What was just done, to say so.
    #[serde(default)]
    fait: String,
}

impl MailsQuery {
    fn search(&self) -> [(&'static str, &str); 2] {
        [("etat", &self.etat), ("immersion", &self.immersion)]
    }

    /// The search and the page it is on, to come back to after an action.
    fn here(&self) -> [(&'static str, &str); 3] {
        [
            ("etat", &self.etat),
            ("immersion", &self.immersion),
            ("apres", &self.apres),
        ]
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Mail {
    id: String,
    label: String,
    recipient: String,
    state: Code<DeliveryState>,
    attempts: i32,
    created_at: String,
    sent_at: Option<String>,
    next_attempt_at: Option<String>,
    last_answer: Option<String>,
    immersion_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Answer {
    mail_deliveries: Paged<Mail>,
}

/// A mail as the list shows it.
struct Row {
    id: String,
    label: String,
    recipient: String,
    state: &'static str,
    /// When it was made, sent, tried, in words.
    when: String,
    last_answer: Option<String>,
    immersion: Option<String>,
    /// Failed: the page offers to send it again.
    retry: bool,
    /// Why sending it again was refused.
    error: Option<String>,
}

impl Row {
    fn of(m: Mail) -> Self {
        let mut when = format!("Préparé le {}", moment(&m.created_at));
        if let Some(sent) = &m.sent_at {
            when.push_str(&format!(" · envoyé le {}", moment(sent)));
        }
        if matches!(m.state.0, DeliveryState::Queued)
            && let Some(next) = &m.next_attempt_at
        {
            when.push_str(&format!(" · prochain essai le {}", moment(next)));
        }
        if m.attempts > 0 {
            let tries = if m.attempts == 1 { "essai" } else { "essais" };
            when.push_str(&format!(" · {} {tries}", m.attempts));
        }
        Self {
            id: m.id,
            label: m.label,
            recipient: m.recipient,
            state: m.state.french(),
            when,
            last_answer: m.last_answer,
            immersion: m.immersion_id,
            retry: matches!(m.state.0, DeliveryState::Failed),
            error: None,
        }
    }
}

#[derive(Template)]
#[template(path = "mails.html")]
struct MailsTemplate {
    nav: Nav,
    form: FormState,
    states: &'static [(&'static str, &'static str)],
    /// The immersion searched by, to say so and to keep it in the forms.
    immersion: String,
    /// The page the list is on, kept by the forms that send a mail again.
    apres: String,
    mails: Vec<Row>,
    searched: bool,
    pager: Pager,
}

/// A refusal to show beside a mail of the list, or above it.
struct Refusal {
    mail: String,
    message: String,
}

impl Page {
    async fn mails_page(
        self,
        mut q: MailsQuery,
        status: StatusCode,
        refusal: Option<Refusal>,
    ) -> Response {
        if self.viewer.user.is_none() {
            return self.sign_in_first();
        }
        let mut form = FormState::with(&q.search());
        let mut notice = (q.fait == "renvoye")
            .then(|| "Le courriel est de nouveau à envoyer : il part dans un instant.".to_owned());
        let etat = given(&q.etat).map(str::to_owned);
        if etat
            .as_deref()
            .is_some_and(|e| !offers(&DELIVERY_STATES, e))
        {
            form.errors
                .insert("etat".into(), "Choisissez un état de la liste.".into());
        }
        let mut rows = Vec::new();
        let mut next = None;
        let mut status = status;
        if form.errors.is_empty() {
            let read = |q: &MailsQuery| {
                self.run(
                    "query($first: Int!, $after: String, $filter: DeliveryFilterInput) {
                        mailDeliveries(first: $first, after: $after, filter: $filter) {
                            edges { node { id label recipient state attempts createdAt sentAt
                                           nextAttemptAt lastAnswer immersionId } }
                            pageInfo { endCursor hasNextPage } } }",
                    json!({
                        "first": PAGE_SIZE,
                        "after": given(&q.apres),
                        "filter": {
                            "state": etat,
                            "immersionId": given(&q.immersion),
                        },
                    }),
                )
            };
            let mut out = read(&q).await;
            // A page's link no longer valid: the list from its start, saying so.
            if out.bad_cursor() {
                q.apres.clear();
                notice = Some(STALE_PAGE.to_owned());
                out = read(&q).await;
            }
            // An immersion's id that designates nothing is a page that does
            // not exist, as every page's id (`Outcome::read`).
            let answer: Answer = read_or_return!(out);
            let (mails, after) = answer.mail_deliveries.split();
            rows = mails.into_iter().map(Row::of).collect();
            next = after;
        } else {
            status = StatusCode::UNPROCESSABLE_ENTITY;
        }
        if let Some(refusal) = refusal {
            match rows.iter_mut().find(|r| r.id == refusal.mail) {
                Some(row) => row.error = Some(refusal.message),
                None => form.general = Some(refusal.message),
            }
        }
        let search = q.search();
        let pager = Pager::at("/courriels", &search, next, given(&q.apres));
        let body = MailsTemplate {
            nav: self.nav(notice),
            searched: search.iter().any(|(_, v)| given(v).is_some()),
            immersion: given(&q.immersion).unwrap_or_default().to_owned(),
            form,
            states: &DELIVERY_STATES,
            apres: q.apres.clone(),
            mails: rows,
            pager,
        }
        .render();
        self.render(status, body)
    }
}

pub(crate) async fn list(page: Page, Query(q): Query<MailsQuery>) -> Response {
    page.mails_page(q, StatusCode::OK, None).await
}

/// The form that sends a failed mail again: the list's search rides along,
/// to come back to the same list.
#[derive(Debug, Deserialize)]
pub(crate) struct RetryForm {
    #[serde(default)]
    csrf: String,
    #[serde(flatten)]
    list: MailsQuery,
}

pub(crate) async fn retry(
    page: Page,
    Path(id): Path<String>,
    Form(f): Form<RetryForm>,
) -> Response {
    if let Err(r) = page.checked(&f.csrf) {
        return *r;
    }
    if page.viewer.user.is_none() {
        return page.sign_in_first();
    }
    // What was just done is this form's to say, not the list's.
    let q = MailsQuery {
        fait: String::new(),
        ..f.list
    };
    let out = page
        .run(
            "mutation($id: ID!) { deliveryRetry(id: $id) { delivery { id state } } }",
            json!({ "id": id }),
        )
        .await;
    let Some(error) = out.errors.first() else {
        let mut query = q.here().to_vec();
        query.push(("fait", "renvoye"));
        return page.redirect(&list_href("/courriels", &query), out.cookies);
    };
    // Said as the page says mails; the API's own words otherwise.
    let (status, message) = match error.code.as_deref() {
        Some("NOT_FOUND") => (
            StatusCode::NOT_FOUND,
            "Ce courriel n'existe pas, ou pas pour votre structure.".to_owned(),
        ),
        Some("CONFLICT") => (
            StatusCode::CONFLICT,
            "Seul un courriel en échec se renvoie : celui-ci est déjà reparti, ou envoyé."
                .to_owned(),
        ),
        _ => (out.refusal_status(), error.message.clone()),
    };
    let refusal = Refusal { mail: id, message };
    page.mails_page(q, status, Some(refusal)).await
}
