//! What the scheduled jobs queue. Each looks at the day of its run and a
//! few days back, and keys every mail by what it is about and the day it
//! fell due: a run caught up after downtime sends what was missed, a second
//! run the same day sends nothing again, and a mail whose cause is gone
//! (the assessment came in) is not queued.

use passerelle_domain::calendar::add_business_days;
use passerelle_domain::values::add_months;
use passerelle_projections::inbox::{self, OpenImmersion};
use sqlx::PgPool;
use time::{Date, Duration};
use uuid::Uuid;

use crate::outbox::{Entry, Params, Recipient};
use crate::projection::{self, Parties};
use crate::templates::Template;

/// A mail is still queued this many days after it fell due, for a run
/// caught up late; not after.
pub const LOOK_BACK_DAYS: i64 = 7;
/// Signature reminders go this many business days before the start.
pub const SIGNATURE_REMINDER_BUSINESS_DAYS: i64 = inbox::SIGNATURE_NOTICE_BUSINESS_DAYS;

fn within(due: Date, today: Date) -> bool {
    today >= due && today < due + Duration::days(LOOK_BACK_DAYS)
}

fn entry(
    key: String,
    template: Template,
    recipient: Recipient,
    params: Params,
    structure: Uuid,
) -> Entry {
    Entry {
        key: format!("job:{key}"),
        template,
        recipient,
        params,
        structure: Some(structure),
    }
}

/// The reminders due on `today` (Paris), from the facts of every open
/// immersion.
pub async fn reminders(pool: &PgPool, today: Date) -> Result<Vec<Entry>, sqlx::Error> {
    let open = inbox::open_immersions(pool).await?;
    let parties: std::collections::HashMap<Uuid, Parties> = projection::all_parties(pool)
        .await?
        .into_iter()
        .map(|p| (p.immersion_id, p))
        .collect();
    Ok(open
        .iter()
        .flat_map(|i| reminders_of(i, parties.get(&i.facts.immersion_id), today))
        .collect())
}

/// The reminders one immersion calls for on `today`; pure.
pub fn reminders_of(i: &OpenImmersion, parties: Option<&Parties>, today: Date) -> Vec<Entry> {
    let f = &i.facts;
    let id = f.immersion_id;
    let mut out = Vec::new();
    let params = |due: Date| Params {
        immersion_id: Some(id),
        due_on: Some(due),
        ..Params::default()
    };
    let party = |role: &str| Recipient::Party {
        immersion_id: id,
        role: role.to_owned(),
    };
    let mediator = Recipient::Staff {
        user_id: i.mediator,
    };
    let proposal_due = f.proposed_on + Duration::days(inbox::PROPOSAL_UNANSWERED_DAYS);
    if !f.employer_answered && within(proposal_due, today) {
        out.push(entry(
            format!("proposal_unanswered:{id}"),
            Template::ProposalUnanswered,
            mediator.clone(),
            params(proposal_due),
            i.structure,
        ));
    }
    let (Some(start), Some(end)) = (f.period_start, f.period_end) else {
        return out;
    };
    if !f.validated {
        let due = add_business_days(start, -SIGNATURE_REMINDER_BUSINESS_DAYS);
        if today >= due && today <= start {
            for role in f
                .required_signatories
                .iter()
                .filter(|r| !f.signatures.contains(r))
            {
                out.push(entry(
                    format!("signature_reminder:{id}:{role}:{start}"),
                    Template::SignatureReminder,
                    party(role),
                    params(due),
                    i.structure,
                ));
            }
        }
        return out;
    }
    if today >= start && today <= end {
        out.push(entry(
            format!("start_day:{id}:{start}"),
            Template::StartDay,
            party("tutor"),
            params(start),
            i.structure,
        ));
    }
    if !f.host_assessed {
        let d3 = add_business_days(end, inbox::ASSESSMENT_OVERDUE_BUSINESS_DAYS);
        let d10 = add_business_days(end, inbox::ASSESSMENT_LATE_BUSINESS_DAYS);
        // The latest step reached, only: a run after a long outage sends
        // one reminder, not every missed one.
        if within(d10, today) {
            out.push(reminder(i, 10, d10, end));
        } else if within(d3, today) {
            out.push(reminder(i, 3, d3, end));
        } else if within(end, today) {
            out.push(entry(
                format!("assessment_request:{id}:{end}"),
                Template::AssessmentRequest,
                party("tutor"),
                params(end),
                i.structure,
            ));
        }
    }
    if let Some(p) = parties
        && !p.person_feedback
        && within(end, today)
    {
        out.push(entry(
            format!("feedback_request:{id}:{end}"),
            Template::FeedbackRequest,
            Recipient::Person {
                person_id: p.person_id,
            },
            params(end),
            i.structure,
        ));
    }
    for (months, milestone) in [(1, "one_month"), (3, "three_months"), (6, "six_months")] {
        let due = add_months(end, months);
        if within(due, today) && !f.outcomes.iter().any(|o| o == milestone) {
            out.push(entry(
                format!("follow_up:{id}:{milestone}"),
                Template::FollowUpRequest,
                mediator.clone(),
                Params {
                    milestone: Some(milestone.to_owned()),
                    ..params(due)
                },
                i.structure,
            ));
        }
    }
    out
}

fn reminder(i: &OpenImmersion, stage: i64, due: Date, end: Date) -> Entry {
    let id = i.facts.immersion_id;
    entry(
        format!("assessment_reminder:{id}:{stage}:{end}"),
        Template::AssessmentReminder,
        Recipient::Party {
            immersion_id: id,
            role: "tutor".into(),
        },
        Params {
            immersion_id: Some(id),
            stage: Some(stage),
            due_on: Some(due),
            ..Params::default()
        },
        i.structure,
    )
}

/// One digest per mediator for the week of `today`; the sender leaves out
/// those whose inbox is empty when it goes.
pub async fn weekly_digests(pool: &PgPool, today: Date) -> Result<Vec<Entry>, sqlx::Error> {
    let staff = passerelle_accounts::staff_members(pool)
        .await
        .map_err(crate::outbox::account_error)?;
    Ok(staff
        .into_iter()
        .filter(|u| u.role == passerelle_accounts::StaffRole::Mediator)
        .map(|u| Entry {
            key: format!("job:weekly_digest:{}:{today}", u.user_id.0),
            template: Template::WeeklyDigest,
            recipient: Recipient::Staff {
                user_id: u.user_id.0,
            },
            params: Params {
                due_on: Some(today),
                ..Params::default()
            },
            structure: Some(u.structure.0),
        })
        .collect())
}
