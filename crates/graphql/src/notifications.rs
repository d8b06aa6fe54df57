//! Mail delivery and scheduled job runs, for staff: what was sent to whom
//! (by role, never by address), what waits for a retry and why, what
//! failed with the server's answer; and a failed mail sent again on
//! request.

use async_graphql::{Context, ErrorExtensions as _, ID, InputObject, Object, Result, SimpleObject};
use passerelle_app::policy;
use passerelle_notify::outbox::{self, Delivery as Row, DeliveryFilter};
use passerelle_notify::schedule::Job;
use passerelle_notify::{Recipient, State, Template};

use passerelle_projections::views::UnknownTag;

use crate::context::{gateway, staff};
use crate::error::{self, Code};
use crate::input::{after as after_key, cursor, page_size, parse_id};
use crate::kinds::stored;
use crate::primitives::{PageInfo, page};

/// The structure of the mails a staff member may see: its own.
fn mail_structure(actor: &passerelle_app::Actor) -> Result<uuid::Uuid> {
    passerelle_app::policy::mail_structure(actor)
        .map(|s| s.as_uuid())
        .ok_or_else(error::forbidden)
}

/// One mail and where it stands.
#[derive(SimpleObject, Debug, Clone, PartialEq)]
pub struct Delivery {
    pub id: ID,
    /// The template's name (`signature_request`, `assessment_reminder`…).
    #[graphql(deprecation = "Use `mailTemplate`, the same value as an enum.")]
    pub template: String,
    /// Which mail.
    pub mail_template: Template,
    /// What the mail is, in French.
    pub label: String,
    /// Who it goes to, by role, in French (never the address).
    pub recipient: String,
    pub state: State,
    pub attempts: i32,
    /// The SMTP server's last answer, or why it was not sent.
    pub last_answer: Option<String>,
    pub created_at: time::OffsetDateTime,
    pub next_attempt_at: Option<time::OffsetDateTime>,
    pub sent_at: Option<time::OffsetDateTime>,
    pub immersion_id: Option<ID>,
}

fn recipient(r: &Recipient) -> String {
    match r {
        Recipient::Staff { .. } => "Membre de l'équipe".into(),
        Recipient::Person { .. } => "Personne accompagnée".into(),
        Recipient::Employer { .. } | Recipient::Contact { .. } => "Employeur".into(),
        Recipient::Referent { .. } => "Référent de l'employeur".into(),
        Recipient::Party { role, .. } => match role.as_str() {
            "person" => "Personne accompagnée (convention)",
            "legal_representative" => "Représentant légal",
            "host" => "Signataire de l'entreprise d'accueil",
            "tutor" => "Tuteur",
            "prescriber" => "Prescripteur",
            "support_structure" => "Structure d'accompagnement",
            _ => "Employeur actuel",
        }
        .into(),
    }
}

fn delivery(row: Row) -> Result<Delivery> {
    // A state the outbox does not know is a fault of ours, not a queued mail.
    let state = stored(State::parse(&row.state).ok_or_else(|| UnknownTag {
        kind: "passerelle_notify::State",
        value: row.state.clone(),
    }))?;
    let template = stored(Template::parse(&row.template).ok_or_else(|| UnknownTag {
        kind: "passerelle_notify::Template",
        value: row.template.clone(),
    }))?;
    Ok(Delivery {
        id: ID(row.id.to_string()),
        label: template.label().to_owned(),
        template: row.template,
        mail_template: template,
        recipient: recipient(&row.recipient.0),
        state,
        attempts: row.attempts,
        // Answers stored before they were masked on the way in may still
        // quote an address: masked on the way out too.
        last_answer: row
            .last_answer
            .map(|a| passerelle_notify::redact::without_addresses(&a).into_owned()),
        created_at: row.created_at,
        next_attempt_at: matches!(state, State::Queued).then_some(row.next_attempt_at),
        sent_at: row.sent_at,
        immersion_id: row.immersion_id.map(|i| ID(i.to_string())),
    })
}

#[derive(InputObject, Debug, Default)]
pub struct DeliveryFilterInput {
    pub immersion_id: Option<ID>,
    pub state: Option<State>,
}

/// A scheduled job's run.
#[derive(SimpleObject, Debug, Clone, PartialEq)]
pub struct JobRun {
    pub job: String,
    /// The schedule instant it ran for.
    pub tick: time::OffsetDateTime,
    pub started_at: time::OffsetDateTime,
    pub finished_at: time::OffsetDateTime,
    pub succeeded: bool,
    /// What it did: the mails it queued; for `retention`, its warnings,
    /// erasures and purges together.
    pub items: i32,
    pub error: Option<String>,
}

#[derive(Default, Debug)]
pub struct NotificationQuery;

#[Object]
impl NotificationQuery {
    /// Mails, newest first: those of the viewer's structure, whatever
    /// their role (`policy::mail_structure`). The cursor is the mail's id.
    async fn mail_deliveries(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<DeliveryFilterInput>,
    ) -> Result<DeliveryConnection> {
        let actor = staff(ctx)?;
        let gw = gateway(ctx);
        let limit = page_size(first)?;
        let before = after_key(after, 1, |key| key[0].parse::<i64>().ok())?;
        let filter = filter.unwrap_or_default();
        let rows = outbox::deliveries(
            &gw.pool,
            &DeliveryFilter {
                structure: Some(mail_structure(&actor)?),
                immersion: match &filter.immersion_id {
                    Some(id) => Some(parse_id(id, "Immersion")?),
                    None => None,
                },
                state: filter.state,
                before,
            },
            limit + 1,
        )
        .await
        .map_err(error::db)?;
        let (edges, page_info) = page(
            rows,
            limit,
            |r| cursor(&[&r.id.to_string()]),
            |cursor, r| (cursor, r),
        );
        let edges = edges
            .into_iter()
            .map(|(cursor, r)| {
                Ok(DeliveryEdge {
                    cursor,
                    node: delivery(r)?,
                })
            })
            .collect::<Result<_>>()?;
        Ok(DeliveryConnection { edges, page_info })
    }

    /// Mails, newest first: those of the viewer's structure, whatever
    /// their role (`policy::mail_structure`). `before` is the id of the
    /// last one of the previous page.
    #[graphql(deprecation = "Use `mailDeliveries`, the same mails a page at a time with cursors.")]
    async fn deliveries(
        &self,
        ctx: &Context<'_>,
        filter: Option<DeliveryFilterInput>,
        #[graphql(default = 20)] first: i64,
        before: Option<ID>,
    ) -> Result<Vec<Delivery>> {
        let actor = staff(ctx)?;
        let gw = gateway(ctx);
        let filter = filter.unwrap_or_default();
        let before = match before {
            Some(id) => Some(id.parse::<i64>().map_err(|_| {
                error::error(Code::BadUserInput, "Curseur de pagination invalide.")
            })?),
            None => None,
        };
        let rows = outbox::deliveries(
            &gw.pool,
            &DeliveryFilter {
                structure: Some(mail_structure(&actor)?),
                immersion: match &filter.immersion_id {
                    Some(id) => Some(parse_id(id, "Immersion")?),
                    None => None,
                },
                state: filter.state,
                before,
            },
            first.clamp(1, crate::input::MOST_PER_PAGE),
        )
        .await
        .map_err(error::db)?;
        rows.into_iter().map(delivery).collect()
    }

    /// Whether the address behind a preferences link (from a mail) has
    /// optional mails turned off; null for an unknown link. The link is
    /// the authority: no session is needed.
    async fn notification_preferences(
        &self,
        ctx: &Context<'_>,
        token: String,
    ) -> Result<Option<bool>> {
        passerelle_notify::preferences::state_of_link(&gateway(ctx).pool, &token)
            .await
            .map_err(error::db)
    }

    /// The scheduled jobs' runs, newest first, for managers and
    /// administrators; `job` keeps one job's (`reminders`,
    /// `weekly_digest`, `retention`).
    async fn scheduled_job_runs(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        job: Option<String>,
    ) -> Result<JobRunConnection> {
        let actor = staff(ctx)?;
        if !policy::reads_job_runs(&actor) {
            return Err(error::forbidden());
        }
        let limit = page_size(first)?;
        let job = match job.as_deref().map(str::trim).filter(|j| !j.is_empty()) {
            None => None,
            Some(j) => Some(Job::parse(j).map(Job::name).ok_or_else(|| {
                error::error(
                    Code::BadUserInput,
                    "Tâche inconnue : indiquez reminders, weekly_digest ou retention.",
                )
                .extend_with(|_, e| e.set("field", "job"))
            })?),
        };
        let after = after_key(after, 2, |key| {
            let nanos: i128 = key[0].parse().ok()?;
            let at = time::OffsetDateTime::from_unix_timestamp_nanos(nanos).ok()?;
            // Within the years PostgreSQL's timestamps hold (and the
            // product's): a cursor beyond them is refused, not sent.
            (1..=9999).contains(&at.year()).then_some(())?;
            Some((at, key[1].parse().ok()?))
        })?;
        let runs =
            passerelle_notify::schedule::runs_page(&gateway(ctx).pool, job, after, limit + 1)
                .await
                .map_err(error::db)?;
        let (edges, page_info) = page(
            runs,
            limit,
            |r| {
                cursor(&[
                    &r.started_at.unix_timestamp_nanos().to_string(),
                    &r.id.to_string(),
                ])
            },
            |cursor, r| JobRunEdge {
                cursor,
                node: job_run(r),
            },
        );
        Ok(JobRunConnection { edges, page_info })
    }

    /// The scheduled jobs' latest runs, for managers and administrators.
    #[graphql(deprecation = "Use `scheduledJobRuns`, the same runs a page at a time with cursors.")]
    async fn job_runs(
        &self,
        ctx: &Context<'_>,
        job: Option<String>,
        #[graphql(default = 20)] first: i64,
    ) -> Result<Vec<JobRun>> {
        let actor = staff(ctx)?;
        if !policy::reads_job_runs(&actor) {
            return Err(error::forbidden());
        }
        let gw = gateway(ctx);
        let runs = passerelle_notify::schedule::runs(
            &gw.pool,
            job.as_deref(),
            first.clamp(1, crate::input::MOST_PER_PAGE),
        )
        .await
        .map_err(error::db)?;
        Ok(runs.into_iter().map(job_run).collect())
    }
}

fn job_run(r: passerelle_notify::schedule::JobRun) -> JobRun {
    JobRun {
        job: r.job,
        tick: r.tick,
        started_at: r.started_at,
        finished_at: r.finished_at,
        succeeded: r.outcome == "succeeded",
        items: r.items,
        error: r.error,
    }
}

#[derive(SimpleObject, Debug)]
pub struct DeliveryEdge {
    pub cursor: String,
    pub node: Delivery,
}

#[derive(SimpleObject, Debug)]
pub struct DeliveryConnection {
    pub edges: Vec<DeliveryEdge>,
    pub page_info: PageInfo,
}

#[derive(SimpleObject, Debug)]
pub struct JobRunEdge {
    pub cursor: String,
    pub node: JobRun,
}

#[derive(SimpleObject, Debug)]
pub struct JobRunConnection {
    pub edges: Vec<JobRunEdge>,
    pub page_info: PageInfo,
}

#[derive(SimpleObject, Debug)]
pub struct DeliveryRetryPayload {
    pub delivery: Delivery,
}

#[derive(InputObject, Debug)]
pub struct NotificationPreferencesSetInput {
    /// The token of a preferences link from a mail.
    pub token: String,
    /// Turn optional mails off (true) or on again (false).
    pub muted: bool,
}

#[derive(SimpleObject, Debug)]
pub struct NotificationPreferencesSetPayload {
    pub muted: bool,
}

#[derive(Default, Debug)]
pub struct NotificationMutation;

#[Object]
impl NotificationMutation {
    /// Turns optional mails off or on for the address behind a preferences
    /// link; essential mails (signature requests, links asked for) still go.
    async fn notification_preferences_set(
        &self,
        ctx: &Context<'_>,
        input: NotificationPreferencesSetInput,
    ) -> Result<NotificationPreferencesSetPayload> {
        let gw = gateway(ctx);
        let now = gw.handler.clock().now();
        let known =
            passerelle_notify::preferences::set_by_link(&gw.pool, &input.token, input.muted, now)
                .await
                .map_err(error::db)?;
        if !known {
            return Err(error::not_found("Lien de préférences"));
        }
        Ok(NotificationPreferencesSetPayload { muted: input.muted })
    }

    /// Sends a failed mail again, from its first attempt.
    async fn delivery_retry(&self, ctx: &Context<'_>, id: ID) -> Result<DeliveryRetryPayload> {
        let actor = staff(ctx)?;
        let gw = gateway(ctx);
        let not_found = || error::not_found("Envoi");
        let id: i64 = id.parse().map_err(|_| not_found())?;
        let structure = Some(mail_structure(&actor)?);
        let now = gw.handler.clock().now();
        match outbox::retry(&gw.pool, id, structure, now)
            .await
            .map_err(error::db)?
        {
            outbox::Retry::Queued(row) => Ok(DeliveryRetryPayload {
                delivery: delivery(*row)?,
            }),
            outbox::Retry::NotFailed => Err(error::error(
                Code::Conflict,
                "Seul un envoi en échec peut être relancé.",
            )),
            outbox::Retry::NotFound => Err(not_found()),
        }
    }
}
