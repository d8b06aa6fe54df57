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
use passerelle_domain::fr::{self, Labelled};
use passerelle_domain::immersion::{FeedbackAuthor, Milestone, Objective, Outcome, Stage};
use passerelle_domain::need::NeedSource;
use passerelle_domain::person::ReadjustmentCause;
use passerelle_domain::values::ContractType;
use serde_json::{Map, Value, json};

use crate::dashboards::{
    Dashboard, ENGAGEMENT, FUNNEL, NEEDS, OUTCOMES, READJUSTMENTS, STEPS, dashboard_variables,
};
use crate::page::{ApiCell, session_token};

const IMMERSIONS: &str = "query($after: String, $filter: ImmersionFilterInput) {
    immersions(first: 100, after: $after, filter: $filter) {
        edges { node { id objective stage proposedOn periodStart periodEnd days
                       validatedOn startedOn endedOn feedbackFrom outcomes } }
        pageInfo { hasNextPage endCursor }
    }
}";

/// Turns a dashboard's data (its field of the operation's answer) into
/// rows, a header first.
type Render = fn(&Value) -> Vec<Vec<String>>;

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
                Err(message) => return refuse(StatusCode::BAD_REQUEST, message),
            };
            match run(dashboard.query, variables).await {
                Ok(data) => (dashboard.filename, render(&data[dashboard.field])),
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
                let page = &data["immersions"];
                for edge in page["edges"].as_array().into_iter().flatten() {
                    rows.push(immersion_row(&edge["node"]));
                }
                if rows.len() > MAX_ROWS || page["pageInfo"]["hasNextPage"] != true {
                    break;
                }
                after = page["pageInfo"]["endCursor"].clone();
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

/// A domain value's French label, from its API name; the name itself when
/// unknown.
fn label<T: Labelled>(value: &Value) -> String {
    let code = value.as_str().unwrap_or_default();
    fr::label_of::<T>(code).map_or_else(|| code.to_owned(), str::to_owned)
}

/// The labels of a list of values, comma-separated.
fn labels<T: Labelled>(values: &Value) -> String {
    values
        .as_array()
        .into_iter()
        .flatten()
        .map(label::<T>)
        .collect::<Vec<_>>()
        .join(", ")
}

fn step_label(value: &Value) -> String {
    let key = value.as_str().unwrap_or_default();
    STEPS
        .iter()
        .find(|(k, _)| *k == key)
        .map_or_else(|| key.to_owned(), |(_, l)| (*l).to_owned())
}

/// A count, or `s` when masked.
fn count(value: &Value) -> String {
    value
        .as_i64()
        .map_or_else(|| "s".to_owned(), |n| n.to_string())
}

/// A decimal with a comma, `digits` after it; empty when unknown.
fn decimal(value: &Value, scale: f64, digits: usize) -> String {
    value
        .as_f64()
        .map(|x| format!("{:.*}", digits, x * scale).replace('.', ","))
        .unwrap_or_default()
}

fn funnel(data: &Value) -> Vec<Vec<String>> {
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
    for step in data["steps"].as_array().into_iter().flatten() {
        rows.push(vec![
            step_label(&step["step"]),
            count(&step["count"]),
            decimal(&step["rateFromPrevious"], 100.0, 1),
            decimal(&step["medianDaysFromPrevious"], 1.0, 1),
        ]);
    }
    rows
}

fn outcomes(data: &Value) -> Vec<Vec<String>> {
    let mut rows = vec![
        ["Échéance", "Objectif", "Devenir", "Contrat", "Immersions"]
            .map(String::from)
            .to_vec(),
    ];
    for cell in data["cells"].as_array().into_iter().flatten() {
        rows.push(vec![
            label::<Milestone>(&cell["milestone"]),
            label::<Objective>(&cell["objective"]),
            label::<Outcome>(&cell["outcome"]),
            if cell["contract"].is_null() {
                String::new()
            } else {
                label::<ContractType>(&cell["contract"])
            },
            count(&cell["count"]),
        ]);
    }
    rows
}

fn needs(d: &Value) -> Vec<Vec<String>> {
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
    for s in d["bySource"].as_array().into_iter().flatten() {
        rows.push(vec![
            label::<NeedSource>(&s["source"]),
            count(&s["needs"]),
            count(&s["becameImmersion"]),
            count(&s["becameOffer"]),
            count(&s["ledToHire"]),
        ]);
    }
    rows.push(vec![
        "Visites".to_owned(),
        count(&d["visits"]),
        String::new(),
        String::new(),
        String::new(),
    ]);
    rows.push(vec![
        "Besoins par visite".to_owned(),
        decimal(&d["needsPerVisit"], 1.0, 2),
        String::new(),
        String::new(),
        String::new(),
    ]);
    rows
}

fn readjustments(d: &Value) -> Vec<Vec<String>> {
    let mut rows = vec![
        ["Indicateur", "Valeur"].map(String::from).to_vec(),
        vec!["Projets formulés".to_owned(), count(&d["projects"])],
    ];
    for b in d["byIterations"].as_array().into_iter().flatten() {
        let n = b["readjustments"].as_i64().unwrap_or_default();
        let what = match n {
            0 => "Projets sans réajustement".to_owned(),
            1 => "Projets réajustés 1 fois".to_owned(),
            3 => "Projets réajustés 3 fois ou plus".to_owned(),
            n => format!("Projets réajustés {n} fois"),
        };
        rows.push(vec![what, count(&b["people"])]);
    }
    for c in d["byCause"].as_array().into_iter().flatten() {
        rows.push(vec![
            format!(
                "Réajustements : {}",
                label::<ReadjustmentCause>(&c["cause"])
            ),
            count(&c["readjustments"]),
        ]);
    }
    rows
}

fn engagement(d: &Value) -> Vec<Vec<String>> {
    let mut rows = vec![["Indicateur", "Valeur"].map(String::from).to_vec()];
    for (key, what) in [
        ("employersVisited", "Employeurs visités"),
        ("visits", "Visites"),
        ("employersWithNeeds", "Employeurs ayant exprimé un besoin"),
        ("needs", "Besoins"),
        (
            "employersHosting",
            "Employeurs ayant accueilli une immersion",
        ),
        ("immersionsHosted", "Immersions accueillies"),
        ("proposals", "Propositions d'immersion"),
        ("proposalsAnswered", "Propositions ayant reçu une réponse"),
        (
            "waitingOverSevenDays",
            "Propositions sans réponse après 7 jours",
        ),
    ] {
        rows.push(vec![what.to_owned(), count(&d[key])]);
    }
    rows.push(vec![
        "Délai médian de réponse (jours)".to_owned(),
        decimal(&d["medianDaysToAnswer"], 1.0, 1),
    ]);
    rows
}

/// One immersion, its values in words: no API name reaches the sheet.
fn immersion_row(node: &Value) -> Vec<String> {
    let text = |v: &Value| match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    vec![
        text(&node["id"]),
        label::<Objective>(&node["objective"]),
        label::<Stage>(&node["stage"]),
        text(&node["proposedOn"]),
        text(&node["periodStart"]),
        text(&node["periodEnd"]),
        text(&node["days"]),
        text(&node["validatedOn"]),
        text(&node["startedOn"]),
        text(&node["endedOn"]),
        labels::<FeedbackAuthor>(&node["feedbackFrom"]),
        labels::<Milestone>(&node["outcomes"]),
    ]
}

/// The table as CSV for French-locale spreadsheets.
pub fn csv(rows: &[Vec<String>]) -> String {
    let mut out = String::from('\u{feff}');
    for row in rows {
        let fields: Vec<String> = row
            .iter()
            .map(|f| {
                if f.contains([';', '"', '\n', '\r']) {
                    format!("\"{}\"", f.replace('"', "\"\""))
                } else {
                    f.clone()
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
    fn decimals_take_a_comma_and_masked_counts_an_s() {
        assert_eq!(decimal(&json!(0.8527), 100.0, 1), "85,3");
        assert_eq!(decimal(&Value::Null, 100.0, 1), "");
        assert_eq!(count(&Value::Null), "s");
        assert_eq!(count(&json!(12)), "12");
    }

    #[test]
    fn an_unknown_filter_is_named() {
        let params = HashMap::from([("secteur".to_owned(), "56".to_owned())]);
        let refused = dashboard_variables(&params).unwrap_err();
        assert!(refused.contains("« secteur »"), "{refused}");
    }
}
