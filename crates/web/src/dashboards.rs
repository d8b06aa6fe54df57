//! The dashboards as pages: the immersion funnel, outcomes, needs
//! conversion and project readjustments, each as SVG bars (with a text
//! alternative) and the same figures as a table, under one filter form
//! (period, département, objective, "as of") whose query is also the CSV's.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use passerelle_domain::fr::Labelled;
use passerelle_domain::immersion::{Milestone, Objective, Outcome};
use passerelle_domain::need::NeedSource;
use passerelle_domain::person::ReadjustmentCause;
use passerelle_domain::values::ContractType;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::answer::{Code, Unfit, fit};
use crate::labels::{AGE_BANDS, OBJECTIVES, offers};
use crate::page::{Nav, Page, encode, message};

/// The filter's fields the pages and the CSV take, by GraphQL name.
pub const FILTER_KEYS: [&str; 11] = [
    "from",
    "to",
    "structureId",
    "mediatorId",
    "departement",
    "region",
    "naf",
    "rome",
    "objective",
    "ageBand",
    "disability",
];

/// A filter refused: the field it names (by its GraphQL name, which the
/// page's form uses too), when one, and why, in French.
pub struct Refused {
    pub field: Option<String>,
    pub message: String,
}

/// The dashboards' variables from the URL: the filter's fields by their
/// GraphQL names, and `asOf`.
pub fn dashboard_variables(params: &HashMap<String, String>) -> Result<Value, Refused> {
    let mut filter = Map::new();
    let mut as_of = Value::Null;
    for (key, value) in params {
        let value = value.trim();
        if value.is_empty() {
            continue;
        }
        if key == "asOf" {
            as_of = Value::String(value.to_owned());
        } else if key == "disability" {
            let flag = match value {
                "true" | "oui" => true,
                "false" | "non" => false,
                _ => {
                    return Err(Refused {
                        field: Some(key.clone()),
                        message: format!(
                            "« disability » vaut true ou false, pas « {} ».",
                            passerelle_domain::echoed(value)
                        ),
                    });
                }
            };
            filter.insert(key.clone(), Value::Bool(flag));
        } else if FILTER_KEYS.contains(&key.as_str()) {
            // A list's value the form did not offer is refused in its
            // words, not in the API's codes.
            let (list, refused) = match key.as_str() {
                "objective" => (
                    Some(&*OBJECTIVES),
                    "n'est pas un objectif de la liste : choisissez l'un de ceux proposés.",
                ),
                "ageBand" => (
                    Some(&*AGE_BANDS),
                    "n'est pas une tranche d'âge de la liste : choisissez l'une de celles proposées.",
                ),
                _ => (None, ""),
            };
            if list.is_some_and(|options| !offers(options, value)) {
                return Err(Refused {
                    field: Some(key.clone()),
                    message: format!("« {} » {refused}", passerelle_domain::echoed(value)),
                });
            }
            filter.insert(key.clone(), Value::String(value.to_owned()));
        } else {
            return Err(Refused {
                field: None,
                message: format!(
                    "Filtre inconnu « {key} » : utilisez {} ou asOf.",
                    FILTER_KEYS.join(", ")
                ),
            });
        }
    }
    Ok(json!({ "filter": filter, "asOf": as_of }))
}

/// The funnel's steps, by GraphQL name, with their French label (the CSV
/// uses them too).
pub const STEPS: [(&str, &str); 7] = [
    ("PROPOSED", "Proposées"),
    ("ACCEPTED", "Acceptées"),
    ("SIGNED", "Signées"),
    ("VALIDATED", "Validées"),
    ("STARTED", "Commencées"),
    ("COMPLETED", "Terminées"),
    ("HIRED_OR_TRAINED", "Embauche ou formation"),
];

/// One row of a chart: a label, a count (none when masked), more columns.
pub(crate) struct Row {
    pub label: String,
    pub count: Option<i64>,
    pub extra: Vec<String>,
}

pub(crate) struct Bar {
    pub label: String,
    pub y: i64,
    pub width: i64,
    pub count: String,
}

/// A chart and its table.
pub(crate) struct Chart {
    pub id: String,
    pub title: String,
    pub headers: Vec<&'static str>,
    pub rows: Vec<Row>,
}

impl Chart {
    fn new(id: &str, title: impl Into<String>, headers: &[&'static str], rows: Vec<Row>) -> Self {
        Self {
            id: id.to_owned(),
            title: title.into(),
            headers: headers.to_vec(),
            rows,
        }
    }

    pub fn height(&self) -> i64 {
        self.rows.len() as i64 * 28
    }

    pub fn bars(&self) -> Vec<Bar> {
        let max = self
            .rows
            .iter()
            .filter_map(|r| r.count)
            .max()
            .unwrap_or(0)
            .max(1);
        self.rows
            .iter()
            .enumerate()
            .map(|(i, r)| Bar {
                label: r.label.clone(),
                y: i as i64 * 28,
                width: r.count.unwrap_or(0) * 128 / max,
                count: shown(r.count),
            })
            .collect()
    }

    /// The chart in words, for those who do not see it.
    pub fn description(&self) -> String {
        self.rows
            .iter()
            .map(|r| format!("{} : {}", r.label, shown(r.count)))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn shown(count: Option<i64>) -> String {
    count.map_or_else(|| "masqué".to_owned(), |c| c.to_string())
}

fn french(n: f64, decimals: usize) -> String {
    format!("{n:.decimals$}").replace('.', ",")
}

/// A dashboard's operation, one for its page and its CSV: the page reads
/// `masked` too, the CSV the other figures.
pub(crate) struct Dashboard {
    /// At `/exports/<csv>.csv`.
    pub csv: &'static str,
    /// The CSV's name once downloaded.
    pub filename: &'static str,
    pub query: &'static str,
    /// The operation's field, whose value the page and the CSV read.
    pub field: &'static str,
}

pub(crate) const FUNNEL: Dashboard = Dashboard {
    csv: "immersion-funnel",
    filename: "entonnoir-immersions.csv",
    query: "query($filter: DashboardFilter, $asOf: Date) { immersionFunnel(filter: $filter, asOf: $asOf) {
        masked steps { step count rateFromPrevious medianDaysFromPrevious } } }",
    field: "immersionFunnel",
};

pub(crate) const OUTCOMES: Dashboard = Dashboard {
    csv: "immersion-outcomes",
    filename: "devenir-apres-immersion.csv",
    query: "query($filter: DashboardFilter, $asOf: Date) { immersionOutcomes(filter: $filter, asOf: $asOf) {
        masked cells { milestone objective outcome contract count } } }",
    field: "immersionOutcomes",
};

pub(crate) const NEEDS: Dashboard = Dashboard {
    csv: "needs-conversion",
    filename: "conversion-des-besoins.csv",
    query: "query($filter: DashboardFilter, $asOf: Date) { needsConversion(filter: $filter, asOf: $asOf) {
        masked visits needsPerVisit bySource { source needs becameImmersion becameOffer ledToHire } } }",
    field: "needsConversion",
};

pub(crate) const READJUSTMENTS: Dashboard = Dashboard {
    csv: "project-readjustments",
    filename: "reajustements-de-projet.csv",
    query: "query($filter: DashboardFilter, $asOf: Date) { projectReadjustments(filter: $filter, asOf: $asOf) {
        masked projects byIterations { readjustments people } byCause { cause readjustments } } }",
    field: "projectReadjustments",
};

/// Employers' engagement, for its page and its CSV.
pub(crate) const ENGAGEMENT: Dashboard = Dashboard {
    csv: "employer-engagement",
    filename: "engagement-employeurs.csv",
    query: "query($filter: DashboardFilter, $asOf: Date) { employerEngagement(filter: $filter, asOf: $asOf) {
        employersVisited visits employersWithNeeds needs employersHosting immersionsHosted
        proposals proposalsAnswered medianDaysToAnswer waitingOverSevenDays } }",
    field: "employerEngagement",
};

/// The funnel as the API gives it.
#[derive(Deserialize)]
pub(crate) struct Funnel {
    pub steps: Vec<FunnelStep>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FunnelStep {
    /// As the API names it, one of [`STEPS`].
    pub step: String,
    /// None when masked.
    pub count: Option<i64>,
    pub rate_from_previous: Option<f64>,
    pub median_days_from_previous: Option<f64>,
}

impl FunnelStep {
    /// The step's French label.
    pub(crate) fn label(&self) -> &'static str {
        STEPS
            .iter()
            .find(|(name, _)| *name == self.step)
            .map_or("Autre étape", |(_, label)| label)
    }
}

/// What became of the immersions, by milestone, objective and outcome.
#[derive(Deserialize)]
pub(crate) struct Outcomes {
    pub cells: Vec<OutcomeCell>,
}

#[derive(Deserialize)]
pub(crate) struct OutcomeCell {
    pub milestone: Code<Milestone>,
    pub objective: Code<Objective>,
    pub outcome: Code<Outcome>,
    /// A hire's contract.
    pub contract: Option<Code<ContractType>>,
    pub count: Option<i64>,
}

/// From needs heard to hires, by where the need was heard.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Needs {
    pub visits: Option<i64>,
    pub needs_per_visit: Option<f64>,
    pub by_source: Vec<NeedsFromSource>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct NeedsFromSource {
    pub source: Code<NeedSource>,
    pub needs: Option<i64>,
    pub became_immersion: Option<i64>,
    pub became_offer: Option<i64>,
    pub led_to_hire: Option<i64>,
}

/// How often projects were readjusted, and after what.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Readjustments {
    pub projects: Option<i64>,
    pub by_iterations: Vec<PeopleByIterations>,
    pub by_cause: Vec<ReadjustmentsByCause>,
}

#[derive(Deserialize)]
pub(crate) struct PeopleByIterations {
    /// 3 stands for 3 or more.
    pub readjustments: i64,
    pub people: Option<i64>,
}

#[derive(Deserialize)]
pub(crate) struct ReadjustmentsByCause {
    pub cause: Code<ReadjustmentCause>,
    pub readjustments: Option<i64>,
}

/// Employers' engagement: visits, needs, immersions hosted, answers.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Engagement {
    pub employers_visited: Option<i64>,
    pub visits: Option<i64>,
    pub employers_with_needs: Option<i64>,
    pub needs: Option<i64>,
    pub employers_hosting: Option<i64>,
    pub immersions_hosted: Option<i64>,
    pub proposals: Option<i64>,
    pub proposals_answered: Option<i64>,
    pub median_days_to_answer: Option<f64>,
    pub waiting_over_seven_days: Option<i64>,
}

/// One dashboard's page: its tab, its operation, its charts.
struct Board {
    slug: &'static str,
    title: &'static str,
    dashboard: &'static Dashboard,
    charts: fn(&Value) -> Result<Vec<Chart>, Unfit>,
}

const BOARDS: [Board; 5] = [
    Board {
        slug: "entonnoir",
        title: "Entonnoir des immersions",
        dashboard: &FUNNEL,
        charts: funnel,
    },
    Board {
        slug: "suites",
        title: "Suites des immersions",
        dashboard: &OUTCOMES,
        charts: outcomes,
    },
    Board {
        slug: "besoins",
        title: "Des besoins aux embauches",
        dashboard: &NEEDS,
        charts: needs,
    },
    Board {
        slug: "reajustements",
        title: "Réajustements des projets",
        dashboard: &READJUSTMENTS,
        charts: readjustments,
    },
    Board {
        slug: "employeurs",
        title: "Engagement des employeurs",
        dashboard: &ENGAGEMENT,
        charts: engagement,
    },
];

fn engagement(data: &Value) -> Result<Vec<Chart>, Unfit> {
    let e: Engagement = fit(data)?;
    let median = e
        .median_days_to_answer
        .map_or_else(|| "–".to_owned(), |d| french(d, 1));
    let rows = [
        ("Employeurs visités", e.employers_visited, ""),
        ("Visites", e.visits, ""),
        ("Avec un besoin", e.employers_with_needs, ""),
        ("Besoins", e.needs, ""),
        ("Ayant accueilli", e.employers_hosting, ""),
        ("Immersions accueillies", e.immersions_hosted, ""),
        ("Propositions", e.proposals, ""),
        ("Avec réponse", e.proposals_answered, median.as_str()),
        ("Sans réponse à 7 jours", e.waiting_over_seven_days, ""),
    ]
    .into_iter()
    .map(|(label, count, extra)| Row {
        label: label.to_owned(),
        count,
        extra: vec![extra.to_owned()],
    })
    .collect();
    Ok(vec![Chart::new(
        "employeurs",
        "Engagement des employeurs",
        &["Mesure", "Nombre", "Délai médian de réponse (jours)"],
        rows,
    )])
}

fn funnel(data: &Value) -> Result<Vec<Chart>, Unfit> {
    let funnel: Funnel = fit(data)?;
    let rows = STEPS
        .iter()
        .map(|(step, label)| {
            let found = funnel.steps.iter().find(|s| s.step == *step);
            let rate = found
                .and_then(|s| s.rate_from_previous)
                .map_or_else(|| "–".to_owned(), |r| format!("{} %", french(r * 100.0, 0)));
            let median = found
                .and_then(|s| s.median_days_from_previous)
                .map_or_else(|| "–".to_owned(), |d| french(d, 1));
            Row {
                label: (*label).to_owned(),
                count: found.and_then(|s| s.count),
                extra: vec![rate, median],
            }
        })
        .collect();
    Ok(vec![Chart::new(
        "entonnoir",
        "Immersions ayant atteint chaque étape",
        &["Étape", "Nombre", "Part", "Délai"],
        rows,
    )])
}

fn outcomes(data: &Value) -> Result<Vec<Chart>, Unfit> {
    let outcomes: Outcomes = fit(data)?;
    Ok(Milestone::ALL
        .iter()
        .map(|milestone| {
            let rows = Outcome::ALL
                .iter()
                .map(|outcome| {
                    let mine: Vec<&OutcomeCell> = outcomes
                        .cells
                        .iter()
                        .filter(|c| {
                            c.milestone.0 == *milestone && c.outcome.0.code() == outcome.code()
                        })
                        .collect();
                    let masked = mine.iter().any(|c| c.count.is_none());
                    let count = (!masked).then(|| mine.iter().filter_map(|c| c.count).sum());
                    let contracts = mine
                        .iter()
                        .filter_map(|c| Some(format!("{} {}", c.contract?.french(), c.count?)))
                        .collect::<Vec<_>>();
                    Row {
                        label: outcome.french().to_owned(),
                        count,
                        extra: vec![contracts.join(", ")],
                    }
                })
                .collect();
            Chart::new(
                &format!("suites-{}", milestone.code()),
                milestone.french().to_owned(),
                &["Situation", "Immersions", "Contrats"],
                rows,
            )
        })
        .collect())
}

fn needs(data: &Value) -> Result<Vec<Chart>, Unfit> {
    let needs: Needs = fit(data)?;
    Ok(NeedSource::ALL
        .iter()
        .map(|source| {
            let s = needs
                .by_source
                .iter()
                .find(|s| s.source.0.code() == source.code());
            let rows = [
                ("Besoins exprimés", s.and_then(|s| s.needs)),
                ("Devenus immersion", s.and_then(|s| s.became_immersion)),
                ("Devenus offre", s.and_then(|s| s.became_offer)),
                ("Suivis d'une embauche", s.and_then(|s| s.led_to_hire)),
            ]
            .into_iter()
            .map(|(label, count)| Row {
                label: label.to_owned(),
                count,
                extra: vec![],
            })
            .collect();
            Chart::new(
                &format!("besoins-{}", source.code()),
                format!("Besoins venus par : {}", source.french().to_lowercase()),
                &["Étape", "Besoins"],
                rows,
            )
        })
        .collect())
}

/// "1 réajustement", "3 réajustements ou plus": the API's 3 stands for 3
/// or more.
fn iterations(readjustments: i64) -> String {
    match readjustments {
        0 => "Aucun réajustement".to_owned(),
        1 => "1 réajustement".to_owned(),
        n if n >= 3 => "3 réajustements ou plus".to_owned(),
        n => format!("{n} réajustements"),
    }
}

fn readjustments(data: &Value) -> Result<Vec<Chart>, Unfit> {
    let readjustments: Readjustments = fit(data)?;
    let by_iterations = readjustments
        .by_iterations
        .iter()
        .map(|b| Row {
            label: iterations(b.readjustments),
            count: b.people,
            extra: vec![],
        })
        .collect();
    let causes = ReadjustmentCause::ALL
        .iter()
        .map(|cause| Row {
            label: cause.french().to_owned(),
            count: readjustments
                .by_cause
                .iter()
                .find(|c| c.cause.0.code() == cause.code())
                .map_or(Some(0), |c| c.readjustments),
            extra: vec![],
        })
        .collect();
    Ok(vec![
        Chart::new(
            "iterations",
            "Personnes selon le nombre de réajustements de leur projet",
            &["Réajustements", "Personnes"],
            by_iterations,
        ),
        Chart::new(
            "causes",
            "Ce qui a fait réajuster les projets",
            &["Cause", "Réajustements"],
            causes,
        ),
    ])
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardTemplate {
    nav: Nav,
    slug: &'static str,
    title: &'static str,
    tabs: Vec<(&'static str, &'static str)>,
    values: HashMap<String, String>,
    objectives: &'static [(&'static str, &'static str)],
    age_bands: &'static [(&'static str, &'static str)],
    masked: bool,
    /// Why the filters were refused, beside the field named when the form
    /// has it, else above the figures.
    error: Option<Refused>,
    charts: Vec<Chart>,
    csv: String,
    /// The viewer's structure (id, name), to narrow the figures to it.
    structure: Option<(String, String)>,
    /// Its mediators (id, name), for its managers and admins, who alone
    /// read the team.
    mediators: Vec<(String, String)>,
}

impl DashboardTemplate {
    pub fn value(&self, name: &str) -> &str {
        self.values.get(name).map_or("", String::as_str)
    }

    /// The refusal to say beside the field `name`.
    pub fn refused(&self, name: &str) -> Option<&str> {
        self.error
            .as_ref()
            .filter(|e| e.field.as_deref() == Some(name))
            .map(|e| e.message.as_str())
    }

    /// The refusal to say above the figures: one naming no field the form
    /// shows (the structure and the team are offered only to some).
    pub fn general(&self) -> Option<&str> {
        let shown = |field: &str| match field {
            "structureId" => self.structure.is_some(),
            "mediatorId" => !self.mediators.is_empty(),
            // Every filter, and the day the figures are read as of.
            _ => FILTER_KEYS.contains(&field) || field == "asOf",
        };
        self.error
            .as_ref()
            .filter(|e| !e.field.as_deref().is_some_and(shown))
            .map(|e| e.message.as_str())
    }
}

pub(crate) async fn page(
    page: Page,
    Path(slug): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    if page.viewer.user.is_none() {
        return page.sign_in_first();
    }
    let Some(board) = BOARDS.iter().find(|b| b.slug == slug) else {
        return message(
            StatusCode::NOT_FOUND,
            "Introuvable",
            "Ce tableau de bord n'existe pas.",
        );
    };
    let params: HashMap<String, String> = params
        .into_iter()
        .filter(|(_, v)| !v.trim().is_empty())
        .collect();
    let (data, error) = match dashboard_variables(&params) {
        Err(refused) => (Value::Null, Some(refused)),
        Ok(variables) => {
            let out = page.run(board.dashboard.query, variables).await;
            (
                out.data[board.dashboard.field].clone(),
                // The API names a filter's field by its path
                // (`filter.departement`): the form's field is its end.
                out.errors.first().map(|e| Refused {
                    field: e
                        .field
                        .as_deref()
                        .and_then(|f| f.rsplit('.').next())
                        .map(str::to_owned),
                    message: e.message.clone(),
                }),
            )
        }
    };
    /// Whether small counts were masked: the page says so.
    #[derive(Deserialize)]
    struct Masking {
        masked: bool,
    }
    let masked = fit::<Masking>(&data).is_ok_and(|m| m.masked);
    let charts = if data.is_null() {
        Vec::new()
    } else {
        match (board.charts)(&data) {
            Ok(charts) => charts,
            Err(e) => {
                tracing::error!(dashboard = board.dashboard.field, error = %e, "a dashboard's answer could not be read");
                return message(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Erreur",
                    "Ce tableau de bord n'a pas pu être affiché. Réessayez plus tard ; si cela se reproduit, signalez-le.",
                );
            }
        }
    };
    let (structure, mediators) = page.filter_choices().await;
    let mut query: Vec<(&String, &String)> = params.iter().collect();
    query.sort();
    let query = query
        .iter()
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let body = DashboardTemplate {
        nav: page.nav(None),
        slug: board.slug,
        title: board.title,
        tabs: BOARDS.iter().map(|b| (b.slug, b.title)).collect(),
        values: params
            .into_iter()
            .map(|(k, v)| (k, passerelle_domain::shown_again(&v)))
            .collect(),
        objectives: &OBJECTIVES,
        age_bands: &AGE_BANDS,
        masked,
        charts,
        error,
        csv: if query.is_empty() {
            format!("/exports/{}.csv", board.dashboard.csv)
        } else {
            format!("/exports/{}.csv?{query}", board.dashboard.csv)
        },
        structure,
        mediators,
    }
    .render();
    page.render(StatusCode::OK, body)
}

impl Page {
    /// What the structure and mediator filters offer: the viewer's
    /// structure, and its staff to its managers and admins (the API lists
    /// the team to them alone; a mediator's form has no such field).
    async fn filter_choices(&self) -> (Option<(String, String)>, Vec<(String, String)>) {
        #[derive(Deserialize)]
        struct Answer {
            structure: Option<Own>,
        }
        #[derive(Deserialize)]
        struct Own {
            id: String,
            name: String,
        }
        let structure = self
            .run("{ structure { id name } }", json!({}))
            .await
            .read::<Answer>()
            .ok()
            .and_then(|a| a.structure)
            .map(|s| (s.id, s.name));
        if !self.nav(None).administers {
            return (structure, Vec::new());
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Team {
            staff_members: crate::answer::Paged<Member>,
        }
        #[derive(Deserialize)]
        struct Member {
            id: String,
            name: String,
        }
        // Every member of the team, a page after another: the filter's
        // choice is never cut short.
        let mut mediators = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let Ok(team) = self
                .run(
                    "query($after: String) { staffMembers(first: 100, after: $after) {
                        edges { node { id name } } pageInfo { endCursor hasNextPage } } }",
                    json!({ "after": after }),
                )
                .await
                .read::<Team>()
            else {
                break;
            };
            let (members, next) = team.staff_members.split();
            mediators.extend(members.into_iter().map(|m| (m.id, m.name)));
            match next {
                Some(cursor) => after = Some(cursor),
                None => break,
            }
        }
        (structure, mediators)
    }
}
