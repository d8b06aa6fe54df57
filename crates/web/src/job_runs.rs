//! The scheduled jobs' runs (`/administration/taches`), newest first, a
//! page at a time, for a structure's managers and admins
//! (`scheduledJobRuns`, `policy::reads_job_runs`): which job, for which
//! schedule's time, how long it took, how many mails it queued, and why it
//! failed when it did; searched by job. The runs name no person.

use askama::Template;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::Response;
use passerelle_graphql::ScheduledJob;
use serde::Deserialize;
use serde_json::json;

use crate::answer::{Code, Paged, moment, read_or_return};
use crate::labels::{JOBS, offers};
use crate::page::{FormState, Nav, PAGE_SIZE, Page, Pager, given, message};

/// The list's search and where its page starts, as its URL gives them.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct RunsQuery {
    /// A job, as the list offers it (`REMINDERS`).
    #[serde(default)]
    tache: String,
    /// The cursor the page starts after.
    #[serde(default)]
    apres: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Run {
    job: Code<ScheduledJob>,
    tick: String,
    started_at: String,
    finished_at: String,
    succeeded: bool,
    items: i32,
    error: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Answer {
    scheduled_job_runs: Paged<Run>,
}

/// A run as the list shows it.
struct Row {
    job: String,
    when: String,
    outcome: String,
    error: Option<String>,
    failed: bool,
}

/// How long a run took, in words: « 1,2 s », « moins de 0,1 s ».
fn took(started: &str, finished: &str) -> String {
    use time::format_description::well_known::Rfc3339;
    let parse = |t: &str| time::OffsetDateTime::parse(t, &Rfc3339).ok();
    match (parse(started), parse(finished)) {
        (Some(a), Some(b)) => {
            let tenths = ((b - a).whole_milliseconds().max(0) + 50) / 100;
            if tenths == 0 {
                "moins de 0,1 s".to_owned()
            } else {
                format!("{},{} s", tenths / 10, tenths % 10)
            }
        }
        _ => String::new(),
    }
}

impl Row {
    fn of(r: Run) -> Self {
        Self {
            job: r.job.french().to_owned(),
            when: format!(
                "Prévu le {}, lancé le {}, en {}",
                moment(&r.tick),
                moment(&r.started_at),
                took(&r.started_at, &r.finished_at)
            ),
            outcome: if r.succeeded {
                format!("Réussi : {}", r.job.0.did(r.items))
            } else {
                "Échoué".to_owned()
            },
            error: r.error,
            failed: !r.succeeded,
        }
    }
}

#[derive(Template)]
#[template(path = "job_runs.html")]
struct RunsTemplate {
    nav: Nav,
    form: FormState,
    jobs: &'static [(&'static str, &'static str)],
    runs: Vec<Row>,
    searched: bool,
    pager: Pager,
}

pub(crate) async fn list(page: Page, Query(mut q): Query<RunsQuery>) -> Response {
    if page.viewer.user.is_none() {
        return page.sign_in_first();
    }
    let mut form = FormState::with(&[("tache", &q.tache)]);
    let tache = given(&q.tache).map(str::to_owned);
    // A job the list does not offer is refused beside it; the runs are
    // asked for all the same, so that who may read them stays the policy's.
    let offered = tache.as_deref().is_none_or(|t| offers(&JOBS, t));
    if !offered {
        form.errors
            .insert("tache".into(), "Choisissez une tâche de la liste.".into());
    }
    // The list offers them as enums are named (`WEEKLY_DIGEST`); the API
    // takes the job's name (`weekly_digest`).
    let job = tache
        .as_deref()
        .filter(|_| offered)
        .map(str::to_ascii_lowercase);
    let (out, notice) = page
        .run_listed(
            "query($first: Int!, $after: String, $job: String) {
                scheduledJobRuns(first: $first, after: $after, job: $job) {
                    edges { node { job tick startedAt finishedAt succeeded items error } }
                    pageInfo { endCursor hasNextPage } } }",
            |after| json!({ "first": PAGE_SIZE, "after": after, "job": job }),
            &mut q.apres,
        )
        .await;
    // Who may read them is the policy's: a mediator is refused.
    if out.forbidden() {
        return message(
            StatusCode::FORBIDDEN,
            "Accès réservé",
            "Les tâches planifiées sont réservées aux responsables et administrateurs de la structure.",
        );
    }
    let answer: Answer = read_or_return!(out);
    let (rows, after) = answer.scheduled_job_runs.split();
    let (runs, next, status) = if offered {
        (
            rows.into_iter().map(Row::of).collect(),
            after,
            StatusCode::OK,
        )
    } else {
        (Vec::new(), None, StatusCode::UNPROCESSABLE_ENTITY)
    };
    let search = [("tache", q.tache.as_str())];
    let pager = Pager::at("/administration/taches", &search, next, given(&q.apres));
    let body = RunsTemplate {
        nav: page.nav(notice),
        form,
        jobs: &JOBS,
        runs,
        searched: tache.is_some(),
        pager,
    }
    .render();
    page.render(status, body)
}

#[cfg(test)]
mod tests {
    use super::took;

    #[test]
    fn a_run_takes_seconds_written_in_french() {
        assert_eq!(
            took("2026-12-07T06:00:00Z", "2026-12-07T06:00:01.24Z"),
            "1,2 s"
        );
        assert_eq!(
            took("2026-12-07T06:00:00Z", "2026-12-07T06:00:00.04Z"),
            "moins de 0,1 s"
        );
        assert_eq!(took("hier", "2026-12-07T06:00:00Z"), "");
    }
}
