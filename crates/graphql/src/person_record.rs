//! What is recorded about a person, read back from their stream with who
//! recorded it and when: their situation in their own words, job inquiries,
//! peer meetings, mentorships, consents given and withdrawn, referent
//! changes, their exit, their disability recognition (health data), and the
//! corrections of their identity; and their testimonies, read from their
//! own streams.
//! The policy says who reads which part (`policy::reads_person_record`);
//! anyone else reads it as absent. A personal value of an erased person
//! reads as null.

use std::sync::Arc;

use async_graphql::{Context, ID, Result, SimpleObject};
use passerelle_app::policy::{self, PersonRecord};
use passerelle_app::{Actor, Recorded};
use passerelle_domain::Personal;
use passerelle_domain::person::{
    ConsentProofKind, ConsentPurpose, ExitReason, ExitReasonKind, IdentityField,
    Person as PersonAggregate, PersonEvent,
};
use passerelle_domain::testimony::{Audience, TestimonyEvent};
use passerelle_domain::values::{ContractType, PersonId};
use passerelle_projections::views::people::PersonRow;
use time::Date;
use tokio::sync::OnceCell;

use crate::context::{actor, gateway};
use crate::error;
use crate::primitives::Recording;

/// A person's facts, read once per person object and request, on the
/// first field that needs them.
#[derive(Debug, Default)]
pub struct History(OnceCell<Arc<Vec<Recorded<PersonEvent>>>>);

/// The person's situation, in their own words.
#[derive(SimpleObject, Debug)]
pub struct Situation {
    /// Null once their personal data was erased.
    pub words: Option<String>,
    pub stated_on: Date,
    pub recorded: Recording,
}

/// A job inquiry (enquête métier) the person held.
#[derive(SimpleObject, Debug)]
pub struct JobInquiry {
    pub id: ID,
    pub rome_code: String,
    /// The job's French label, when the code is still in the referential.
    pub job: Option<String>,
    /// Where, or with whom (a company, a trade fair…).
    pub with_whom: String,
    /// What they learned; null when not said or once erased.
    pub learned: Option<String>,
    pub held_on: Date,
    pub recorded: Recording,
}

/// A meeting with a peer (parcours vécu).
#[derive(SimpleObject, Debug)]
pub struct PeerMeeting {
    pub id: ID,
    /// Who the peer is, without naming them.
    pub peer: String,
    pub rome_codes: Vec<String>,
    /// The testimony the meeting came from, if any.
    pub testimony_id: Option<ID>,
    /// What they took away; null when not said or once erased.
    pub takeaways: Option<String>,
    pub held_on: Date,
    pub recorded: Recording,
}

/// A mentorship (parrainage), and its end once ended.
#[derive(SimpleObject, Debug)]
pub struct Mentorship {
    pub id: ID,
    /// Null once their personal data was erased.
    pub mentor: Option<String>,
    /// The mentor's job, as a ROME code.
    pub mentor_job: Option<String>,
    pub started_on: Date,
    pub ended_on: Option<Date>,
    /// Why it ended; null when not said or once erased.
    pub end_reason: Option<String>,
    pub recorded: Recording,
}

/// A consent given or withdrawn, for one purpose.
#[derive(SimpleObject, Debug)]
pub struct ConsentRecord {
    pub purpose: ConsentPurpose,
    /// True when given, false when withdrawn.
    pub given: bool,
    /// The version of the text agreed to; null for a withdrawal.
    pub text_version: Option<String>,
    /// True when the person signed a form, false for an oral or online
    /// consent; null for a withdrawal.
    pub signed_form: Option<bool>,
    /// How it was given: on a signed form, online by the person, or orally
    /// before staff who noted it; null for a withdrawal.
    pub proof: Option<ConsentProofKind>,
    /// When it was given or withdrawn.
    pub on: Date,
    pub recorded: Recording,
}

/// The person's follow-up handed to another staff member.
#[derive(SimpleObject, Debug)]
pub struct ReferentChange {
    pub referent_id: ID,
    pub recorded: Recording,
}

/// The end of the person's accompaniment, and why.
#[derive(SimpleObject, Debug)]
pub struct PersonExit {
    pub reason: ExitReasonKind,
    /// The contract signed, with `EMPLOYMENT`.
    pub contract: Option<ContractType>,
    /// Why, with `OTHER`.
    pub explanation: Option<String>,
    pub exited_on: Date,
    pub recorded: Recording,
}

/// Whether the person holds a disability recognition (RQTH), as last
/// recorded: health data.
#[derive(SimpleObject, Debug)]
pub struct DisabilityRecognition {
    /// Null once their personal data was erased.
    pub recognised: Option<bool>,
    pub recorded_on: Date,
    pub recorded: Recording,
}

/// A correction of the person's identity: which fields, their new values,
/// and why. The values before stay in the log (the enrolment, earlier
/// corrections).
#[derive(SimpleObject, Debug)]
pub struct IdentityCorrection {
    /// The fields it changed.
    pub fields: Vec<IdentityField>,
    /// The new values, null for a field it left alone or once erased.
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub birth_date: Option<Date>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub address: Option<String>,
    /// Why; null once erased.
    pub reason: Option<String>,
    pub corrected_on: Date,
    pub recorded: Recording,
}

/// Who the person is and how to reach them, as enrolled with the
/// corrections since folded in: whoever reaches them reads it (their
/// structure's staff, themselves).
#[derive(SimpleObject, Debug)]
pub struct PersonIdentity {
    pub first_name: String,
    pub last_name: String,
    pub birth_date: Date,
    pub email: Option<String>,
    /// `+33612345678`.
    pub phone: Option<String>,
    /// Postal address, as written on letters.
    pub address: Option<String>,
    /// INSEE code of their commune, when given at enrolment.
    pub commune: Option<String>,
    /// The commune's name, when the code is in the referential.
    pub commune_name: Option<&'static str>,
    pub enrolled_on: Date,
}

fn opened<T: ToString>(value: &Personal<T>) -> Option<String> {
    value.known().map(ToString::to_string)
}

impl History {
    /// The person's facts when the viewer may read `record` of them, else
    /// none.
    async fn readable(
        &self,
        ctx: &Context<'_>,
        row: &PersonRow,
        record: PersonRecord,
    ) -> Result<Option<&[Recorded<PersonEvent>]>> {
        // The object was reached by this viewer: what is left to decide is
        // the part.
        let viewer: Actor = actor(ctx)?;
        if !policy::reads_person_record(&viewer, record, row.referent) {
            return Ok(None);
        }
        crate::context::read_stream(ctx, format!("person-{}", row.person_id))?;
        let facts = self
            .0
            .get_or_try_init(|| async {
                gateway(ctx)
                    .handler
                    .history::<PersonAggregate>(PersonId(row.person_id))
                    .await
                    .map(Arc::new)
                    .map_err(error::app)
            })
            .await?;
        Ok(Some(facts.as_slice()))
    }

    /// The facts of `record` that `pick` keeps, oldest first; empty for a
    /// viewer who may not read them.
    async fn each<T>(
        &self,
        ctx: &Context<'_>,
        row: &PersonRow,
        record: PersonRecord,
        pick: impl Fn(&Recorded<PersonEvent>) -> Option<T>,
    ) -> Result<Vec<T>> {
        Ok(self
            .readable(ctx, row, record)
            .await?
            .map(|facts| facts.iter().filter_map(&pick).collect())
            .unwrap_or_default())
    }

    pub(crate) async fn situation(
        &self,
        ctx: &Context<'_>,
        row: &PersonRow,
    ) -> Result<Option<Situation>> {
        let stated = self
            .each(ctx, row, PersonRecord::Path, |r| match &r.event {
                PersonEvent::SituationStated(e) => Some(Situation {
                    words: opened(&e.words),
                    stated_on: e.stated_on,
                    recorded: r.into(),
                }),
                _ => None,
            })
            .await?;
        Ok(stated.into_iter().last())
    }

    pub(crate) async fn job_inquiries(
        &self,
        ctx: &Context<'_>,
        row: &PersonRow,
    ) -> Result<Vec<JobInquiry>> {
        self.each(ctx, row, PersonRecord::Path, |r| match &r.event {
            PersonEvent::JobInquiryHeld(e) => Some(JobInquiry {
                id: ID(e.inquiry_id.to_string()),
                rome_code: e.rome_code.as_str().to_owned(),
                job: e.rome_code.label().map(str::to_owned),
                with_whom: e.with_whom.as_str().to_owned(),
                learned: e.learned.as_ref().and_then(opened),
                held_on: e.held_on,
                recorded: r.into(),
            }),
            _ => None,
        })
        .await
    }

    pub(crate) async fn peer_meetings(
        &self,
        ctx: &Context<'_>,
        row: &PersonRow,
    ) -> Result<Vec<PeerMeeting>> {
        self.each(ctx, row, PersonRecord::Path, |r| match &r.event {
            PersonEvent::PeerMeetingHeld(e) => Some(PeerMeeting {
                id: ID(e.meeting_id.to_string()),
                peer: e.peer.as_str().to_owned(),
                rome_codes: e.rome_codes.iter().map(|c| c.as_str().to_owned()).collect(),
                testimony_id: e.testimony_id.map(|t| ID(t.to_string())),
                takeaways: e.takeaways.as_ref().and_then(opened),
                held_on: e.held_on,
                recorded: r.into(),
            }),
            _ => None,
        })
        .await
    }

    pub(crate) async fn mentorships(
        &self,
        ctx: &Context<'_>,
        row: &PersonRow,
    ) -> Result<Vec<Mentorship>> {
        let Some(facts) = self.readable(ctx, row, PersonRecord::Path).await? else {
            return Ok(Vec::new());
        };
        let mut mentorships: Vec<Mentorship> = Vec::new();
        for r in facts {
            match &r.event {
                PersonEvent::MentorshipStarted(e) => mentorships.push(Mentorship {
                    id: ID(e.mentorship_id.to_string()),
                    mentor: opened(&e.mentor),
                    mentor_job: e.mentor_job.as_ref().map(|c| c.as_str().to_owned()),
                    started_on: e.started_on,
                    ended_on: None,
                    end_reason: None,
                    recorded: r.into(),
                }),
                PersonEvent::MentorshipEnded(e) => {
                    let id = e.mentorship_id.to_string();
                    if let Some(m) = mentorships.iter_mut().find(|m| m.id.as_str() == id) {
                        m.ended_on = Some(e.ended_on);
                        m.end_reason = e.reason.as_ref().and_then(opened);
                    }
                }
                _ => {}
            }
        }
        Ok(mentorships)
    }

    pub(crate) async fn consent_records(
        &self,
        ctx: &Context<'_>,
        row: &PersonRow,
    ) -> Result<Vec<ConsentRecord>> {
        self.each(ctx, row, PersonRecord::Path, |r| match &r.event {
            PersonEvent::ConsentGiven(e) => Some(ConsentRecord {
                purpose: e.purpose,
                given: true,
                text_version: Some(e.text_version.as_str().to_owned()),
                signed_form: Some(e.proof.kind() == ConsentProofKind::SignedForm),
                proof: Some(e.proof.kind()),
                on: e.given_on,
                recorded: r.into(),
            }),
            PersonEvent::ConsentWithdrawn(e) => Some(ConsentRecord {
                purpose: e.purpose,
                given: false,
                text_version: None,
                signed_form: None,
                proof: None,
                on: e.withdrawn_on,
                recorded: r.into(),
            }),
            _ => None,
        })
        .await
    }

    pub(crate) async fn referent_changes(
        &self,
        ctx: &Context<'_>,
        row: &PersonRow,
    ) -> Result<Vec<ReferentChange>> {
        self.each(ctx, row, PersonRecord::FollowUp, |r| match &r.event {
            PersonEvent::ReferentChanged(e) => Some(ReferentChange {
                referent_id: ID(e.referent.to_string()),
                recorded: r.into(),
            }),
            _ => None,
        })
        .await
    }

    pub(crate) async fn exit(
        &self,
        ctx: &Context<'_>,
        row: &PersonRow,
    ) -> Result<Option<PersonExit>> {
        let exits = self
            .each(ctx, row, PersonRecord::FollowUp, |r| match &r.event {
                PersonEvent::PersonExited(e) => Some(PersonExit {
                    reason: e.reason.kind(),
                    contract: match &e.reason {
                        ExitReason::Employment { contract } => Some(*contract),
                        _ => None,
                    },
                    explanation: match &e.reason {
                        ExitReason::Other { explanation } => {
                            explanation.known().map(|t| t.as_str().to_owned())
                        }
                        _ => None,
                    },
                    exited_on: e.exited_on,
                    recorded: r.into(),
                }),
                _ => None,
            })
            .await?;
        Ok(exits.into_iter().last())
    }

    pub(crate) async fn identity_corrections(
        &self,
        ctx: &Context<'_>,
        row: &PersonRow,
    ) -> Result<Vec<IdentityCorrection>> {
        self.each(ctx, row, PersonRecord::Identity, |r| match &r.event {
            PersonEvent::IdentityCorrected(e) => {
                let changes = e.changes.known();
                Some(IdentityCorrection {
                    fields: e.fields.clone(),
                    first_name: changes
                        .and_then(|c| c.first_name.as_ref())
                        .map(|v| v.as_str().to_owned()),
                    last_name: changes
                        .and_then(|c| c.last_name.as_ref())
                        .map(|v| v.as_str().to_owned()),
                    birth_date: changes.and_then(|c| c.birth_date),
                    email: changes
                        .and_then(|c| c.email.as_ref())
                        .map(|v| v.as_str().to_owned()),
                    phone: changes
                        .and_then(|c| c.phone.as_ref())
                        .map(ToString::to_string),
                    address: changes
                        .and_then(|c| c.address.as_ref())
                        .map(|v| v.as_str().to_owned()),
                    reason: opened(&e.reason),
                    corrected_on: e.corrected_on,
                    recorded: r.into(),
                })
            }
            _ => None,
        })
        .await
    }

    /// Their identity as it stands; null for a viewer who may not read it,
    /// and once their data was erased.
    pub(crate) async fn identity(
        &self,
        ctx: &Context<'_>,
        row: &PersonRow,
    ) -> Result<Option<PersonIdentity>> {
        let Some(facts) = self.readable(ctx, row, PersonRecord::Identity).await? else {
            return Ok(None);
        };
        let mut identity: Option<PersonIdentity> = None;
        for r in facts {
            match &r.event {
                PersonEvent::PersonEnrolled(e) => {
                    let Some(i) = e.identity.known() else {
                        return Ok(None);
                    };
                    let commune = e.commune.as_ref();
                    identity = Some(PersonIdentity {
                        first_name: i.first_name.as_str().to_owned(),
                        last_name: i.last_name.as_str().to_owned(),
                        birth_date: i.birth_date,
                        email: i.email.as_ref().map(|m| m.as_str().to_owned()),
                        phone: i.phone.as_ref().map(|p| p.international().to_owned()),
                        address: i.address.as_ref().map(|a| a.as_str().to_owned()),
                        commune: commune.map(|c| c.as_str().to_owned()),
                        commune_name: commune.and_then(|c| c.commune()).map(|c| c.name),
                        enrolled_on: e.enrolled_on,
                    });
                }
                PersonEvent::IdentityCorrected(e) => {
                    let (Some(identity), Some(c)) = (identity.as_mut(), e.changes.known()) else {
                        continue;
                    };
                    if let Some(v) = &c.first_name {
                        identity.first_name = v.as_str().to_owned();
                    }
                    if let Some(v) = &c.last_name {
                        identity.last_name = v.as_str().to_owned();
                    }
                    if let Some(v) = c.birth_date {
                        identity.birth_date = v;
                    }
                    if let Some(v) = &c.email {
                        identity.email = Some(v.as_str().to_owned());
                    }
                    if let Some(v) = &c.phone {
                        identity.phone = Some(v.international().to_owned());
                    }
                    if let Some(v) = &c.address {
                        identity.address = Some(v.as_str().to_owned());
                    }
                }
                _ => {}
            }
        }
        Ok(identity)
    }

    /// The constraints of each version of their project, in their words
    /// (sealed with their key: null once erased), by version; empty for a
    /// viewer who may not read their path.
    pub(crate) async fn project_constraints(
        &self,
        ctx: &Context<'_>,
        row: &PersonRow,
    ) -> Result<std::collections::HashMap<i64, String>> {
        Ok(self
            .each(ctx, row, PersonRecord::Path, |r| {
                let (version, project) = match &r.event {
                    PersonEvent::ProjectStated(e) => (e.version, &e.project),
                    PersonEvent::ProjectReadjusted(e) => (e.version, &e.project),
                    _ => return None,
                };
                let words = project.constraints.as_ref().and_then(opened)?;
                Some((i64::from(version), words))
            })
            .await?
            .into_iter()
            .collect())
    }

    pub(crate) async fn disability_recognition(
        &self,
        ctx: &Context<'_>,
        row: &PersonRow,
    ) -> Result<Option<DisabilityRecognition>> {
        let recorded = self
            .each(ctx, row, PersonRecord::Health, |r| match &r.event {
                PersonEvent::DisabilityRecognitionRecorded(e) => Some(DisabilityRecognition {
                    recognised: e.recognised.known().copied(),
                    recorded_on: e.recorded_on,
                    recorded: r.into(),
                }),
                _ => None,
            })
            .await?;
        Ok(recorded.into_iter().last())
    }
}

/// A testimony of the person, as its facts leave it: withdrawn ones too,
/// with the day, so she sees what she shared and what she took back.
#[derive(SimpleObject, Debug)]
pub struct PersonTestimony {
    pub id: ID,
    /// The account, in her words; null once her personal data was erased.
    pub account: Option<String>,
    pub rome_codes: Vec<String>,
    /// Who may read it now (while not withdrawn).
    pub audience: Audience,
    pub recorded_on: Date,
    /// Null while it is shared.
    pub withdrawn_on: Option<Date>,
}

/// `Person.testimonies`: hers, oldest first, read from their streams (a
/// change a moment ago holds at once), for whoever reads her path (her
/// structure's staff, herself); empty to anyone else.
pub(crate) async fn testimonies_of(
    ctx: &Context<'_>,
    row: &PersonRow,
) -> Result<Vec<PersonTestimony>> {
    let viewer = actor(ctx)?;
    if !policy::reads_person_record(&viewer, PersonRecord::Path, row.referent) {
        return Ok(Vec::new());
    }
    let mut testimonies = Vec::new();
    for (_, id, history) in crate::context::testimony_histories(ctx, &[row.person_id]).await? {
        let mut testimony: Option<PersonTestimony> = None;
        for event in history {
            match event {
                TestimonyEvent::TestimonyRecorded(e) => {
                    testimony = Some(PersonTestimony {
                        id: ID(id.0.to_string()),
                        account: e.account.known().map(|a| a.as_str().to_owned()),
                        rome_codes: e.rome_codes.iter().map(|c| c.as_str().to_owned()).collect(),
                        audience: e.audience,
                        recorded_on: e.recorded_on,
                        withdrawn_on: None,
                    });
                }
                TestimonyEvent::TestimonyAudienceChanged(e) => {
                    if let Some(t) = testimony.as_mut() {
                        t.audience = e.audience;
                    }
                }
                TestimonyEvent::TestimonyWithdrawn(e) => {
                    if let Some(t) = testimony.as_mut() {
                        t.withdrawn_on = Some(e.withdrawn_on);
                    }
                }
            }
        }
        testimonies.extend(testimony);
    }
    Ok(testimonies)
}
