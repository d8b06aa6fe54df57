//! The immersion funnel: bars drawn as SVG on the server (with a text
//! alternative), the same figures as a table, "as of" a day, and the CSV.

use askama::Template;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use crate::{Nav, Page};

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

pub(crate) struct Bar {
    pub label: &'static str,
    pub y: i64,
    pub width: i64,
    pub count: String,
}

#[derive(Template)]
#[template(path = "funnel.html")]
struct FunnelTemplate {
    nav: Nav,
    as_of: String,
    masked: bool,
    bars: Vec<Bar>,
    height: i64,
    description: String,
    rows: Vec<(&'static str, String, String, String)>,
    csv_query: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct FunnelQuery {
    #[serde(default, rename = "asOf")]
    as_of: String,
}

fn french(n: f64, decimals: usize) -> String {
    format!("{n:.decimals$}").replace('.', ",")
}

pub(crate) async fn page(page: Page, Query(q): Query<FunnelQuery>) -> Response {
    if page.viewer.user.is_none() {
        return page.redirect("/", Vec::new());
    }
    let as_of = q.as_of.trim().to_owned();
    let out = page
        .run(
            "query($asOf: Date) { immersionFunnel(asOf: $asOf) {
                masked steps { step count rateFromPrevious medianDaysFromPrevious } } }",
            json!({ "asOf": (!as_of.is_empty()).then_some(&as_of) }),
        )
        .await;
    let notice = out.errors.first().map(|e| e.message.clone());
    let funnel = &out.data["immersionFunnel"];
    let steps = funnel["steps"].as_array().cloned().unwrap_or_default();
    let count_of = |step: &str| {
        steps
            .iter()
            .find(|s| s["step"] == step)
            .and_then(|s| s["count"].as_i64())
    };
    let max = STEPS
        .iter()
        .filter_map(|(s, _)| count_of(s))
        .max()
        .unwrap_or(0)
        .max(1);
    let mut bars = Vec::new();
    let mut rows = Vec::new();
    let mut description = Vec::new();
    for (i, (step, label)) in STEPS.iter().enumerate() {
        let found = steps.iter().find(|s| s["step"] == *step);
        let count = count_of(step);
        let shown = count.map_or_else(|| "masqué".to_owned(), |c| c.to_string());
        bars.push(Bar {
            label,
            y: i as i64 * 28,
            width: count.unwrap_or(0) * 140 / max,
            count: shown.clone(),
        });
        description.push(format!("{label} : {shown}"));
        let rate = found
            .and_then(|s| s["rateFromPrevious"].as_f64())
            .map_or_else(|| "–".to_owned(), |r| format!("{} %", french(r * 100.0, 0)));
        let median = found
            .and_then(|s| s["medianDaysFromPrevious"].as_f64())
            .map_or_else(|| "–".to_owned(), |d| french(d, 1));
        rows.push((*label, shown, rate, median));
    }
    let csv_query = if as_of.is_empty() {
        String::new()
    } else {
        format!("?asOf={as_of}")
    };
    let body = FunnelTemplate {
        nav: page.nav(notice),
        as_of,
        masked: funnel["masked"].as_bool().unwrap_or(false),
        height: STEPS.len() as i64 * 28,
        bars,
        description: description.join(", "),
        rows,
        csv_query,
    }
    .render();
    page.render(StatusCode::OK, body)
}
