//! An immersion renewed (`/immersions/{id}/renouvellement`): the new
//! period, schedule and hours, the objective and goals, which a renewal
//! keeps, and why the goals are not reached yet, then `conventionRenew`;
//! each refusal beside its field, what was typed kept. And what the
//! immersion's page shows of its convention beyond its stage: the person's
//! situation, their legal representative, their current employer, and the
//! renewal with the signatures it asked for.

use askama::Template;
use axum::extract::{Form, Path};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use passerelle_domain::fr::{self, Labelled};
use passerelle_domain::immersion::{Objective, RenewalStatus, Signatory, SituationKind, Stage};

use crate::answer::{Code, Day, hours, read_or_return};
use crate::labels::OBJECTIVES;
use crate::page::{FormState, Nav, Page, message, parse_date};

/// The convention as the immersion's page and the renewal form read it.
const CONVENTION: &str = "query($i: ID!) { immersion(id: $i) { currentStage signatories
    convention {
        objective goals schedule weeklyHours period { start end }
        person {
            legalRepresentative { name email phone }
            situation { kind description
                currentEmployer { name siret signatory { name jobTitle email } } }
        }
        renewal { status period { start end } schedule weeklyHours whyGoalsNotReached
            signatures { signatory signedAt } }
    } } }";

#[derive(Deserialize)]
struct Answer {
    immersion: Option<Immersion>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Immersion {
    current_stage: Code<Stage>,
    signatories: Vec<Code<Signatory>>,
    convention: Option<Convention>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Convention {
    objective: Code<Objective>,
    goals: String,
    schedule: String,
    weekly_hours: f64,
    period: Period,
    person: Person,
    renewal: Option<Renewal>,
}

#[derive(Deserialize)]
struct Period {
    start: Day,
    end: Day,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Person {
    legal_representative: Option<Signer>,
    situation: Situation,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Situation {
    kind: Code<SituationKind>,
    description: Option<String>,
    current_employer: Option<Organisation>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Signer {
    name: String,
    #[serde(default)]
    job_title: Option<String>,
    email: Option<String>,
    #[serde(default)]
    phone: Option<String>,
}

impl Signer {
    /// "Jean Martin, gérant, jean@example.fr, 06 12 34 56 78".
    fn described(&self) -> String {
        [
            Some(self.name.clone()),
            self.job_title.clone(),
            self.email.clone(),
            self.phone.as_deref().map(crate::answer::phone),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(", ")
    }
}

#[derive(Deserialize)]
struct Organisation {
    name: String,
    siret: Option<String>,
    signatory: Signer,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Renewal {
    status: Code<RenewalStatus>,
    period: Period,
    schedule: String,
    weekly_hours: f64,
    why_goals_not_reached: String,
    signatures: Vec<Signed>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Signed {
    signatory: Code<Signatory>,
    signed_at: Day,
}

/// What the immersion's page shows of its convention: each a label and a
/// value, in French.
pub(crate) struct ConventionFacts {
    /// The person's situation, legal representative, current employer.
    pub parties: Vec<(&'static str, String)>,
    /// The renewal: its terms, where it stands.
    pub renewal: Vec<(&'static str, String)>,
    /// Each party asked to sign the renewal, and whether it has.
    pub renewal_signatures: Vec<(&'static str, String)>,
    /// Staff may renew it now (it runs, and no renewal was validated).
    pub renewable: bool,
}

impl Page {
    /// The convention's facts for the immersion's page; none before a
    /// convention is drafted, or for a viewer who does not read it.
    pub(crate) async fn convention_facts(
        &self,
        id: &str,
    ) -> Result<Option<ConventionFacts>, Box<Response>> {
        let out = self.run(CONVENTION, json!({ "i": id })).await;
        let answer: Answer = out.read()?;
        let Some(i) = answer.immersion else {
            return Ok(None);
        };
        let Some(c) = i.convention else {
            return Ok(None);
        };
        let situation = &c.person.situation;
        let mut parties = vec![(
            "Situation de la personne",
            match &situation.description {
                Some(words) => format!("{} : {words}", situation.kind.french()),
                None => situation.kind.french().to_owned(),
            },
        )];
        if let Some(r) = &c.person.legal_representative {
            parties.push(("Représentant légal", r.described()));
        }
        if let Some(e) = &situation.current_employer {
            let mut text = e.name.clone();
            if let Some(siret) = &e.siret {
                text.push_str(&format!(" (SIRET {siret})"));
            }
            text.push_str(&format!(", signataire : {}", e.signatory.described()));
            parties.push(("Employeur actuel", text));
        }
        let mut renewal = Vec::new();
        let mut renewal_signatures = Vec::new();
        if let Some(r) = &c.renewal {
            renewal.push(("Où en est-il", r.status.french().to_owned()));
            renewal.push(("Période", fr::range(r.period.start.0, r.period.end.0)));
            renewal.push((
                "Horaires",
                format!("{} ({} h par semaine)", r.schedule, hours(r.weekly_hours)),
            ));
            renewal.push((
                "Pourquoi les objectifs ne sont pas encore atteints",
                r.why_goals_not_reached.clone(),
            ));
            for Code(signatory) in &i.signatories {
                let given = r.signatures.iter().find(|s| s.signatory.0 == *signatory);
                renewal_signatures.push((
                    signatory.french(),
                    match given {
                        Some(s) => format!("signé le {}", s.signed_at.french()),
                        None => "demande de signature envoyée, en attente".to_owned(),
                    },
                ));
            }
        }
        let renewable = self.viewer.user.is_some()
            && i.current_stage.0 == Stage::Started
            && c.renewal
                .as_ref()
                .is_none_or(|r| r.status.0 != RenewalStatus::Validated);
        Ok(Some(ConventionFacts {
            parties,
            renewal,
            renewal_signatures,
            renewable,
        }))
    }
}

#[derive(Template)]
#[template(path = "renewal.html")]
struct RenewalTemplate {
    nav: Nav,
    id: String,
    /// The first period, in French.
    first: String,
    form: FormState,
    objectives: &'static [(&'static str, &'static str)],
}

impl Page {
    async fn renewal_page(self, id: &str, status: StatusCode, form: Option<FormState>) -> Response {
        let out = self.run(CONVENTION, json!({ "i": id })).await;
        let answer: Answer = read_or_return!(out);
        let Some(c) = answer.immersion.and_then(|i| i.convention) else {
            return message(
                StatusCode::NOT_FOUND,
                "Introuvable",
                "Cette immersion n'a pas de convention ou ne vous est pas accessible.",
            );
        };
        let form = form.unwrap_or_else(|| {
            let start = c
                .period
                .end
                .0
                .next_day()
                .map(|d| d.to_string())
                .unwrap_or_default();
            FormState::with(&[
                ("start", &start),
                ("schedule", &c.schedule),
                ("weekly_hours", &hours(c.weekly_hours)),
                ("objective", &c.objective.0.code().to_ascii_uppercase()),
                ("goals", &c.goals),
            ])
        });
        let body = RenewalTemplate {
            nav: self.nav(None),
            id: id.to_owned(),
            first: fr::range(c.period.start.0, c.period.end.0),
            form,
            objectives: &OBJECTIVES,
        }
        .render();
        self.render(status, body)
    }
}

pub(crate) async fn form(page: Page, Path(id): Path<String>) -> Response {
    if page.viewer.user.is_none() {
        return page.sign_in_first();
    }
    page.renewal_page(&id, StatusCode::OK, None).await
}

#[derive(Debug, Deserialize)]
pub(crate) struct RenewalForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    start: String,
    #[serde(default)]
    end: String,
    #[serde(default)]
    schedule: String,
    #[serde(default)]
    weekly_hours: String,
    #[serde(default)]
    objective: String,
    #[serde(default)]
    goals: String,
    #[serde(default)]
    why: String,
}

/// The renewal's fields, with where the gateway and the rules name them.
const FIELDS: [(&str, &str); 8] = [
    ("period.start", "start"),
    ("period.end", "end"),
    ("period", "end"),
    ("schedule", "schedule"),
    ("weeklyHours", "weekly_hours"),
    ("objective", "objective"),
    ("goals", "goals"),
    ("whyGoalsNotReached", "why"),
];

pub(crate) async fn renew(
    page: Page,
    Path(id): Path<String>,
    Form(f): Form<RenewalForm>,
) -> Response {
    if let Err(r) = page.checked(&f.csrf) {
        return *r;
    }
    let mut state = FormState::with(&[
        ("start", &f.start),
        ("end", &f.end),
        ("schedule", &f.schedule),
        ("weekly_hours", &f.weekly_hours),
        ("objective", &f.objective),
        ("goals", &f.goals),
        ("why", &f.why),
    ]);
    let mut days = Vec::new();
    for (name, typed) in [("start", &f.start), ("end", &f.end)] {
        match parse_date(typed) {
            Some(day) => days.push(day.to_string()),
            None => {
                state
                    .errors
                    .insert(name.into(), "Indiquez une date (jour, mois, année).".into());
            }
        }
    }
    let hours = f.weekly_hours.trim().replace(',', ".").parse::<f64>();
    if hours.is_err() {
        state.errors.insert(
            "weekly_hours".into(),
            "Indiquez un nombre d'heures, par exemple 35 ou 35,5.".into(),
        );
    }
    state.offered(
        "objective",
        &f.objective,
        &OBJECTIVES,
        "Choisissez l'objectif de l'immersion parmi ceux proposés.",
    );
    if !state.errors.is_empty() {
        return page
            .renewal_page(&id, StatusCode::UNPROCESSABLE_ENTITY, Some(state))
            .await;
    }
    let out = page
        .run(
            "mutation($r: ConventionRenewInput!) { conventionRenew(input: $r) { immersion { id } } }",
            json!({ "r": {
                "immersionId": id,
                "period": { "start": days[0], "end": days[1] },
                "schedule": f.schedule,
                "weeklyHours": hours.unwrap_or_default(),
                "objective": f.objective,
                "goals": f.goals,
                "whyGoalsNotReached": f.why,
            } }),
        )
        .await;
    if out.errors.is_empty() {
        return page.redirect(&format!("/immersions/{id}#renouvellement"), Vec::new());
    }
    state.absorb(&out.errors, &FIELDS);
    page.renewal_page(&id, StatusCode::UNPROCESSABLE_ENTITY, Some(state))
        .await
}
