//! The dashboards as pages: the immersion funnel, outcomes, needs
//! conversion and project readjustments, each as SVG bars (with a text
//! alternative) and the same figures as a table, under one filter form
//! (period, département, objective, "as of") whose query is also the CSV's.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value, json};

use crate::labels::{self, AGE_BANDS, CAUSES, CONTRACTS, MILESTONES, OBJECTIVES, SOURCES};
use crate::page::{Nav, Page, message};

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

/// The dashboards' variables from the URL: the filter's fields by their
/// GraphQL names, and `asOf`.
pub fn dashboard_variables(params: &HashMap<String, String>) -> Result<Value, String> {
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
                    return Err(format!(
                        "« disability » vaut true ou false, pas « {value} »."
                    ));
                }
            };
            filter.insert(key.clone(), Value::Bool(flag));
        } else if FILTER_KEYS.contains(&key.as_str()) {
            filter.insert(key.clone(), Value::String(value.to_owned()));
        } else {
            return Err(format!(
                "Filtre inconnu « {key} » : utilisez {} ou asOf.",
                FILTER_KEYS.join(", ")
            ));
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

/// A CSV only, without a page.
pub(crate) const ENGAGEMENT: Dashboard = Dashboard {
    csv: "employer-engagement",
    filename: "engagement-employeurs.csv",
    query: "query($filter: DashboardFilter, $asOf: Date) { employerEngagement(filter: $filter, asOf: $asOf) {
        employersVisited visits employersWithNeeds needs employersHosting immersionsHosted
        proposals proposalsAnswered medianDaysToAnswer waitingOverSevenDays } }",
    field: "employerEngagement",
};

/// One dashboard's page: its tab, its operation, its charts.
struct Board {
    slug: &'static str,
    title: &'static str,
    dashboard: &'static Dashboard,
    charts: fn(&Value) -> Vec<Chart>,
}

const BOARDS: [Board; 4] = [
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
];

fn funnel(data: &Value) -> Vec<Chart> {
    let steps = data["steps"].as_array().cloned().unwrap_or_default();
    let rows = STEPS
        .iter()
        .map(|(step, label)| {
            let found = steps.iter().find(|s| s["step"] == *step);
            let rate = found
                .and_then(|s| s["rateFromPrevious"].as_f64())
                .map_or_else(|| "–".to_owned(), |r| format!("{} %", french(r * 100.0, 0)));
            let median = found
                .and_then(|s| s["medianDaysFromPrevious"].as_f64())
                .map_or_else(|| "–".to_owned(), |d| french(d, 1));
            Row {
                label: (*label).to_owned(),
                count: found.and_then(|s| s["count"].as_i64()),
                extra: vec![rate, median],
            }
        })
        .collect();
    vec![Chart::new(
        "entonnoir",
        "Immersions ayant atteint chaque étape",
        &["Étape", "Nombre", "Part", "Délai"],
        rows,
    )]
}

fn outcomes(data: &Value) -> Vec<Chart> {
    let cells = data["cells"].as_array().cloned().unwrap_or_default();
    MILESTONES
        .iter()
        .map(|(milestone, when)| {
            let rows = labels::OUTCOMES
                .iter()
                .map(|(outcome, label)| {
                    let mine: Vec<&Value> = cells
                        .iter()
                        .filter(|c| c["milestone"] == *milestone && c["outcome"] == *outcome)
                        .collect();
                    let masked = mine.iter().any(|c| c["count"].is_null());
                    let count =
                        (!masked).then(|| mine.iter().filter_map(|c| c["count"].as_i64()).sum());
                    let contracts = mine
                        .iter()
                        .filter_map(|c| {
                            Some(format!(
                                "{} {}",
                                crate::labels::label(&CONTRACTS, &c["contract"]),
                                c["count"].as_i64()?
                            ))
                        })
                        .filter(|s| !s.starts_with(' '))
                        .collect::<Vec<_>>();
                    Row {
                        label: (*label).to_owned(),
                        count,
                        extra: vec![if *outcome == "HIRED" {
                            contracts.join(", ")
                        } else {
                            String::new()
                        }],
                    }
                })
                .collect();
            Chart::new(
                &format!("suites-{}", milestone.to_lowercase()),
                (*when).to_owned(),
                &["Situation", "Immersions", "Contrats"],
                rows,
            )
        })
        .collect()
}

fn needs(data: &Value) -> Vec<Chart> {
    let by_source = data["bySource"].as_array().cloned().unwrap_or_default();
    SOURCES
        .iter()
        .map(|(source, label)| {
            let s = by_source
                .iter()
                .find(|s| s["source"] == *source)
                .cloned()
                .unwrap_or(Value::Null);
            let rows = [
                ("needs", "Besoins exprimés"),
                ("becameImmersion", "Devenus immersion"),
                ("becameOffer", "Devenus offre"),
                ("ledToHire", "Suivis d'une embauche"),
            ]
            .iter()
            .map(|(key, l)| Row {
                label: (*l).to_owned(),
                count: s[*key].as_i64(),
                extra: vec![],
            })
            .collect();
            Chart::new(
                &format!("besoins-{}", source.to_lowercase()),
                format!("Besoins venus par : {}", label.to_lowercase()),
                &["Étape", "Besoins"],
                rows,
            )
        })
        .collect()
}

fn readjustments(data: &Value) -> Vec<Chart> {
    let iterations = data["byIterations"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|b| Row {
            label: match b["readjustments"].as_i64() {
                Some(0) => "Aucun réajustement".to_owned(),
                Some(1) => "1 réajustement".to_owned(),
                Some(n) if n >= 3 => "3 réajustements ou plus".to_owned(),
                Some(n) => format!("{n} réajustements"),
                None => String::new(),
            },
            count: b["people"].as_i64(),
            extra: vec![],
        })
        .collect();
    let by_cause = data["byCause"].as_array().cloned().unwrap_or_default();
    let causes = CAUSES
        .iter()
        .map(|(cause, label)| Row {
            label: (*label).to_owned(),
            count: by_cause
                .iter()
                .find(|c| c["cause"] == *cause)
                .and_then(|c| c["readjustments"].as_i64())
                .or(Some(0)),
            extra: vec![],
        })
        .collect();
    vec![
        Chart::new(
            "iterations",
            "Personnes selon le nombre de réajustements de leur projet",
            &["Réajustements", "Personnes"],
            iterations,
        ),
        Chart::new(
            "causes",
            "Ce qui a fait réajuster les projets",
            &["Cause", "Réajustements"],
            causes,
        ),
    ]
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
    error: Option<String>,
    charts: Vec<Chart>,
    csv: String,
}

impl DashboardTemplate {
    pub fn value(&self, name: &str) -> &str {
        self.values.get(name).map_or("", String::as_str)
    }
}

pub(crate) async fn page(
    page: Page,
    Path(slug): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    if page.viewer.user.is_none() {
        return page.redirect("/", Vec::new());
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
                out.errors.first().map(|e| e.message.clone()),
            )
        }
    };
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
        values: params,
        objectives: &OBJECTIVES,
        age_bands: &AGE_BANDS,
        masked: data["masked"].as_bool().unwrap_or(false),
        charts: if data.is_null() {
            Vec::new()
        } else {
            (board.charts)(&data)
        },
        error,
        csv: if query.is_empty() {
            format!("/exports/{}.csv", board.dashboard.csv)
        } else {
            format!("/exports/{}.csv?{query}", board.dashboard.csv)
        },
    }
    .render();
    page.render(StatusCode::OK, body)
}

/// Percent-encodes a query value.
fn encode(value: &str) -> String {
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
