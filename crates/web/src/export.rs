//! CSV downloads of the dashboards and of the immersion list, at
//! `/exports/<name>.csv?<filters>`. Each runs the same GraphQL operation as
//! the screens, in-process and as the same viewer, so the figures, filters,
//! masking and authorization are the gateway's.
//!
//! Written for French-locale spreadsheets: UTF-8 with a byte-order mark,
//! `;` between fields, decimal commas, CRLF line ends. A masked figure is
//! written `s` (secret statistique).

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use passerelle_domain::fr::Labelled;
use passerelle_domain::immersion::{FeedbackAuthor, Milestone, Objective, Stage};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::answer::{Code, Day, Unfit, fit};
use crate::dashboards::{
    Dashboard, ENGAGEMENT, Engagement, FUNNEL, Funnel, NEEDS, Needs, OUTCOMES, Outcomes,
    READJUSTMENTS, Readjustments, dashboard_variables,
};
use crate::page::{ApiCell, session_token};

const IMMERSIONS: &str = "query($after: String, $filter: ImmersionFilterInput) {
    immersions(first: 100, after: $after, filter: $filter) {
        edges { node { id employerName pmsmpObjective currentStage proposedOn periodStart periodEnd days
                       validatedOn startedOn endedOn feedbackAuthors outcomeMilestones } }
        pageInfo { hasNextPage endCursor }
    }
}";

/// Turns a dashboard's data (its field of the operation's answer) into
/// rows, a header first.
type Render = fn(&Value) -> Result<Vec<Vec<String>>, Unfit>;

/// Each dashboard's CSV, with its operation.
const TABLES: [(&Dashboard, Render); 5] = [
    (&FUNNEL, funnel),
    (&OUTCOMES, outcomes),
    (&NEEDS, needs),
    (&READJUSTMENTS, readjustments),
    (&ENGAGEMENT, engagement),
];

/// At most this many immersions in one download.
const MAX_ROWS: usize = 100_000;

/// A refusal the user can act on, as plain French text.
fn refuse(status: StatusCode, message: impl Into<String>) -> Response {
    Refusal(status, message.into()).into_response()
}

struct Refusal(StatusCode, String);

/// Marks a refusal a handler wrote itself, in French: the HTTP layer
/// replaces the framework's refusals, in English, and leaves these.
#[derive(Debug, Clone, Copy)]
pub struct OwnRefusal;

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let mut response = (
            self.0,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            self.1,
        )
            .into_response();
        // Already in French: the HTTP layer leaves it as it is.
        response.extensions_mut().insert(OwnRefusal);
        response
    }
}

pub(crate) async fn download(
    State(api): State<ApiCell>,
    Path(name): Path<String>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let Some(api) = api.get() else {
        return refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "Le service démarre : réessayez dans un instant.",
        );
    };
    let viewer =
        match passerelle_graphql::viewer_of_token(&api.gateway, session_token(&headers)).await {
            Ok(viewer) => viewer,
            Err(e) => {
                tracing::error!(error = %e, "session lookup failed");
                return refuse(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Session illisible pour le moment : réessayez.",
                );
            }
        };
    let run = |query: &str, variables: Value| {
        let request = async_graphql::Request::new(query)
            .variables(async_graphql::Variables::from_json(variables));
        let request = passerelle_graphql::prepare(request, &api.gateway, viewer.clone());
        async move { answer(api.schema.execute(request).await) }
    };
    let dashboard = TABLES
        .iter()
        .find(|(d, _)| name.strip_suffix(".csv") == Some(d.csv));
    let (filename, table) = match (dashboard, name.as_str()) {
        (Some((dashboard, render)), _) => {
            let variables = match dashboard_variables(&params) {
                Ok(v) => v,
                Err(refused) => return refuse(StatusCode::BAD_REQUEST, refused.message),
            };
            match run(dashboard.query, variables).await {
                Ok(data) => match render(&data[dashboard.field]) {
                    Ok(table) => (dashboard.filename, table),
                    Err(e) => return unreadable(dashboard.field, &e),
                },
                Err(refusal) => return refusal.into_response(),
            }
        }
        (None, "immersions.csv") => {
            let filter = match immersion_filter(&params) {
                Ok(v) => v,
                Err(message) => return refuse(StatusCode::BAD_REQUEST, message),
            };
            let mut rows = vec![
                [
                    "Immersion",
                    "Employeur",
                    "Objectif",
                    "Étape",
                    "Proposée le",
                    "Début",
                    "Fin",
                    "Jours",
                    "Validée le",
                    "Commencée le",
                    "Terminée le",
                    "Retours de",
                    "Suivis",
                ]
                .map(String::from)
                .to_vec(),
            ];
            let mut after = Value::Null;
            loop {
                let data = match run(IMMERSIONS, json!({ "after": after, "filter": filter })).await
                {
                    Ok(data) => data,
                    Err(refusal) => return refusal.into_response(),
                };
                let page = match fit::<ListAnswer>(&data) {
                    Ok(answer) => answer.immersions,
                    Err(e) => return unreadable("immersions", &e),
                };
                rows.extend(page.edges.into_iter().map(|e| immersion_row(e.node)));
                if rows.len() > MAX_ROWS || !page.page_info.has_next_page {
                    break;
                }
                after = page.page_info.end_cursor.map_or(Value::Null, Value::String);
            }
            ("immersions.csv", rows)
        }
        _ => {
            return refuse(
                StatusCode::NOT_FOUND,
                "Export inconnu : immersion-funnel.csv, immersion-outcomes.csv, needs-conversion.csv, \
                 project-readjustments.csv, employer-engagement.csv ou immersions.csv.",
            );
        }
    };
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        csv(&table),
    )
        .into_response()
}

/// An answer the CSV could not read: a defect, logged, never a sheet with
/// empty cells.
fn unreadable(what: &str, error: &Unfit) -> Response {
    tracing::error!(answer = what, error = %error, "a CSV could not read the API's answer");
    refuse(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Cet export n'a pas pu être produit. Réessayez plus tard ; si cela se reproduit, signalez-le.",
    )
}

/// The operation's data, or its first error as an HTTP refusal.
fn answer(response: async_graphql::Response) -> Result<Value, Refusal> {
    if let Some(error) = response.errors.first() {
        let code = error
            .extensions
            .as_ref()
            .and_then(|e| e.get("code"))
            .and_then(|c| match c {
                async_graphql::Value::String(s) => Some(s.clone()),
                _ => None,
            })
            .unwrap_or_default();
        let status = match code.as_str() {
            "UNAUTHENTICATED" => StatusCode::UNAUTHORIZED,
            "FORBIDDEN" => StatusCode::FORBIDDEN,
            "NOT_FOUND" => StatusCode::NOT_FOUND,
            "INTERNAL" => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        };
        return Err(Refusal(status, error.message.clone()));
    }
    response
        .data
        .into_json()
        .map_err(|e| Refusal(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}

fn immersion_filter(params: &HashMap<String, String>) -> Result<Value, String> {
    let mut filter = Map::new();
    for (key, value) in params {
        match key.as_str() {
            "personId" | "employerId" | "stage" if !value.trim().is_empty() => {
                filter.insert(key.clone(), Value::String(value.trim().to_owned()));
            }
            "personId" | "employerId" | "stage" => {}
            _ => {
                return Err(format!(
                    "Filtre inconnu « {key} » : utilisez personId, employerId ou stage."
                ));
            }
        }
    }
    Ok(Value::Object(filter))
}

/// The labels of a list of values, comma-separated.
fn labels<T: Labelled>(values: &[Code<T>]) -> String {
    values
        .iter()
        .map(|v| v.french())
        .collect::<Vec<_>>()
        .join(", ")
}

/// A count, or `s` when masked.
fn count(value: Option<i64>) -> String {
    value.map_or_else(|| "s".to_owned(), |n| n.to_string())
}

/// A decimal with a comma, `digits` after it; empty when unknown.
fn decimal(value: Option<f64>, scale: f64, digits: usize) -> String {
    value
        .map(|x| format!("{:.*}", digits, x * scale).replace('.', ","))
        .unwrap_or_default()
}

fn funnel(data: &Value) -> Result<Vec<Vec<String>>, Unfit> {
    let funnel: Funnel = fit(data)?;
    let mut rows = vec![
        [
            "Étape",
            "Immersions",
            "Taux depuis l'étape précédente (%)",
            "Délai médian depuis l'étape précédente (jours)",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for step in &funnel.steps {
        rows.push(vec![
            step.label().to_owned(),
            count(step.count),
            decimal(step.rate_from_previous, 100.0, 1),
            decimal(step.median_days_from_previous, 1.0, 1),
        ]);
    }
    Ok(rows)
}

fn outcomes(data: &Value) -> Result<Vec<Vec<String>>, Unfit> {
    let outcomes: Outcomes = fit(data)?;
    let mut rows = vec![
        ["Échéance", "Objectif", "Devenir", "Contrat", "Immersions"]
            .map(String::from)
            .to_vec(),
    ];
    for cell in &outcomes.cells {
        rows.push(vec![
            cell.milestone.french().to_owned(),
            cell.objective.french().to_owned(),
            cell.outcome.french().to_owned(),
            cell.contract
                .map_or_else(String::new, |c| c.french().to_owned()),
            count(cell.count),
        ]);
    }
    Ok(rows)
}

fn needs(data: &Value) -> Result<Vec<Vec<String>>, Unfit> {
    let d: Needs = fit(data)?;
    let mut rows = vec![
        [
            "Source",
            "Besoins",
            "Devenus immersion",
            "Devenus offre",
            "Ayant mené à une embauche",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for s in &d.by_source {
        rows.push(vec![
            s.source.french().to_owned(),
            count(s.needs),
            count(s.became_immersion),
            count(s.became_offer),
            count(s.led_to_hire),
        ]);
    }
    rows.push(vec![
        "Visites".to_owned(),
        count(d.visits),
        String::new(),
        String::new(),
        String::new(),
    ]);
    rows.push(vec![
        "Besoins par visite".to_owned(),
        decimal(d.needs_per_visit, 1.0, 2),
        String::new(),
        String::new(),
        String::new(),
    ]);
    Ok(rows)
}

fn readjustments(data: &Value) -> Result<Vec<Vec<String>>, Unfit> {
    let d: Readjustments = fit(data)?;
    let mut rows = vec![
        ["Indicateur", "Valeur"].map(String::from).to_vec(),
        vec!["Projets formulés".to_owned(), count(d.projects)],
    ];
    for b in &d.by_iterations {
        let what = match b.readjustments {
            0 => "Projets sans réajustement".to_owned(),
            1 => "Projets réajustés 1 fois".to_owned(),
            n if n >= 3 => "Projets réajustés 3 fois ou plus".to_owned(),
            n => format!("Projets réajustés {n} fois"),
        };
        rows.push(vec![what, count(b.people)]);
    }
    for c in &d.by_cause {
        rows.push(vec![
            format!("Réajustements : {}", c.cause.french()),
            count(c.readjustments),
        ]);
    }
    Ok(rows)
}

fn engagement(data: &Value) -> Result<Vec<Vec<String>>, Unfit> {
    let d: Engagement = fit(data)?;
    let mut rows = vec![["Indicateur", "Valeur"].map(String::from).to_vec()];
    for (value, what) in [
        (d.employers_visited, "Employeurs visités"),
        (d.visits, "Visites"),
        (d.employers_with_needs, "Employeurs ayant exprimé un besoin"),
        (d.needs, "Besoins"),
        (
            d.employers_hosting,
            "Employeurs ayant accueilli une immersion",
        ),
        (d.immersions_hosted, "Immersions accueillies"),
        (d.proposals, "Propositions d'immersion"),
        (d.proposals_answered, "Propositions ayant reçu une réponse"),
        (
            d.waiting_over_seven_days,
            "Propositions sans réponse après 7 jours",
        ),
    ] {
        rows.push(vec![what.to_owned(), count(value)]);
    }
    rows.push(vec![
        "Délai médian de réponse (jours)".to_owned(),
        decimal(d.median_days_to_answer, 1.0, 1),
    ]);
    Ok(rows)
}

/// An immersion of the list, as the sheet shows it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Listed {
    id: String,
    employer_name: Option<String>,
    #[serde(rename = "pmsmpObjective")]
    objective: Code<Objective>,
    #[serde(rename = "currentStage")]
    stage: Code<Stage>,
    proposed_on: Option<Day>,
    period_start: Option<Day>,
    period_end: Option<Day>,
    days: i64,
    validated_on: Option<Day>,
    started_on: Option<Day>,
    ended_on: Option<Day>,
    #[serde(rename = "feedbackAuthors")]
    feedback_from: Vec<Code<FeedbackAuthor>>,
    #[serde(rename = "outcomeMilestones")]
    outcomes: Vec<Code<Milestone>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListPage {
    edges: Vec<ListEdge>,
    page_info: PageInfo,
}

#[derive(Deserialize)]
struct ListEdge {
    node: Listed,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PageInfo {
    has_next_page: bool,
    end_cursor: Option<String>,
}

#[derive(Deserialize)]
struct ListAnswer {
    immersions: ListPage,
}

/// One immersion, its values in words: no API name reaches the sheet.
fn immersion_row(node: Listed) -> Vec<String> {
    vec![
        node.id,
        node.employer_name.unwrap_or_default(),
        node.objective.french().to_owned(),
        node.stage.french().to_owned(),
        day(node.proposed_on),
        day(node.period_start),
        day(node.period_end),
        node.days.to_string(),
        day(node.validated_on),
        day(node.started_on),
        day(node.ended_on),
        labels(&node.feedback_from),
        labels(&node.outcomes),
    ]
}

/// A day as French-locale spreadsheets read one: `01/04/2026`.
fn day(day: Option<Day>) -> String {
    day.map_or_else(String::new, |Day(d)| {
        format!("{:02}/{:02}/{}", d.day(), u8::from(d.month()), d.year())
    })
}

/// A cell a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, a tab
/// or a carriage return first), but for a number, is written after an
/// apostrophe, which spreadsheets show as text: an establishment's name
/// comes from any structure of the territory, and opening the export must
/// not run what it holds.
fn inert(field: &str) -> std::borrow::Cow<'_, str> {
    let formula = field.starts_with(['=', '+', '-', '@', '\t', '\r'])
        && field.replace(',', ".").parse::<f64>().is_err();
    if formula {
        std::borrow::Cow::Owned(format!("'{field}"))
    } else {
        std::borrow::Cow::Borrowed(field)
    }
}

/// The table as CSV for French-locale spreadsheets.
pub fn csv(rows: &[Vec<String>]) -> String {
    let mut out = String::from('\u{feff}');
    for row in rows {
        let fields: Vec<String> = row
            .iter()
            .map(|f| inert(f))
            .map(|f| {
                if f.contains([';', '"', '\n', '\r']) {
                    format!("\"{}\"", f.replace('"', "\"\""))
                } else {
                    f.into_owned()
                }
            })
            .collect();
        out.push_str(&fields.join(";"));
        out.push_str("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_is_written_as_french_spreadsheets_read_it() {
        assert_eq!(
            day(Some(Day(time::macros::date!(2026 - 04 - 01)))),
            "01/04/2026"
        );
        assert_eq!(day(None), "");
    }

    #[test]
    fn fields_with_separators_or_quotes_are_quoted() {
        let table = vec![vec![
            "a;b".to_owned(),
            "dit \"oui\"".to_owned(),
            "simple".to_owned(),
        ]];
        assert_eq!(
            csv(&table),
            "\u{feff}\"a;b\";\"dit \"\"oui\"\"\";simple\r\n"
        );
    }

    #[test]
    fn a_cell_a_spreadsheet_would_run_is_written_as_text() {
        let table = vec![vec![
            "=HYPERLINK(\"http://x\";\"y\")".to_owned(),
            "@SUM(A1)".to_owned(),
            "-3,5".to_owned(),
            "+33612345678".to_owned(),
            "Boulangerie".to_owned(),
        ]];
        assert_eq!(
            csv(&table),
            "\u{feff}\"'=HYPERLINK(\"\"http://x\"\";\"\"y\"\")\";'@SUM(A1);-3,5;+33612345678;Boulangerie\r\n"
        );
    }

    #[test]
    fn decimals_take_a_comma_and_masked_counts_an_s() {
        assert_eq!(decimal(Some(0.8527), 100.0, 1), "85,3");
        assert_eq!(decimal(None, 100.0, 1), "");
        assert_eq!(count(None), "s");
        assert_eq!(count(Some(12)), "12");
    }

    #[test]
    fn an_unknown_filter_is_named() {
        let params = HashMap::from([("secteur".to_owned(), "56".to_owned())]);
        let Err(refused) = dashboard_variables(&params).map(|_| ()) else {
            panic!("an unknown filter is refused");
        };
        let refused = refused.message;
        assert!(refused.contains("« secteur »"), "{refused}");
    }
}
