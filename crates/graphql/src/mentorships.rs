//! Mentorships (parrainage): a person of the structure is put in touch with
//! a mentor, until it ends. Each answers with the person, as `people` shows
//! them.

use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use passerelle_domain::person::PersonCommand;
use passerelle_domain::values::{MentorshipId, RomeCode};
use time::Date;
use uuid::Uuid;

use crate::context::new_id;
use crate::error::on_field;
use crate::input::{label, optional_text, parse_id};
use crate::people::{Person, on_person};

#[derive(InputObject, Debug)]
pub struct MentorshipStartInput {
    pub command_id: Option<Uuid>,
    pub person_id: ID,
    /// Who the mentor is, as the person knows them.
    pub mentor: String,
    /// The mentor's job, as a ROME code.
    pub mentor_job: Option<String>,
    pub started_on: Option<Date>,
}

#[derive(InputObject, Debug)]
pub struct MentorshipEndInput {
    pub command_id: Option<Uuid>,
    pub person_id: ID,
    pub mentorship_id: ID,
    pub reason: Option<String>,
    pub ended_on: Option<Date>,
}

#[derive(SimpleObject, Debug)]
pub struct MentorshipStartPayload {
    pub person: Person,
    /// The mentorship, for its end and for a readjustment to name.
    pub mentorship_id: ID,
}

#[derive(SimpleObject, Debug)]
pub struct MentorshipEndPayload {
    pub person: Person,
}

#[derive(Default, Debug)]
pub struct MentorshipMutation;

#[Object]
impl MentorshipMutation {
    /// Starts a mentorship for a person of the viewer's structure, who
    /// consented to it.
    async fn mentorship_start(
        &self,
        ctx: &Context<'_>,
        input: MentorshipStartInput,
    ) -> Result<MentorshipStartPayload> {
        let mentorship = MentorshipId(new_id(input.command_id, "mentorship"));
        on_person(
            ctx,
            &input.person_id,
            input.command_id,
            |_, _| true,
            |today| {
                Ok(PersonCommand::StartMentorship {
                    mentorship_id: mentorship,
                    mentor: label("mentor", &input.mentor)?,
                    mentor_job: input
                        .mentor_job
                        .as_deref()
                        .filter(|c| !c.trim().is_empty())
                        .map(|c| RomeCode::parse(c).map_err(|e| on_field("mentorJob", e)))
                        .transpose()?,
                    started_on: input.started_on.unwrap_or(today),
                })
            },
        )
        .await
        .map(|person| MentorshipStartPayload {
            person,
            mentorship_id: ID(mentorship.to_string()),
        })
    }

    /// Ends a mentorship of a person of the viewer's structure.
    async fn mentorship_end(
        &self,
        ctx: &Context<'_>,
        input: MentorshipEndInput,
    ) -> Result<MentorshipEndPayload> {
        on_person(
            ctx,
            &input.person_id,
            input.command_id,
            |_, _| true,
            |today| {
                Ok(PersonCommand::EndMentorship {
                    mentorship_id: MentorshipId(parse_id(&input.mentorship_id, "Parrainage")?),
                    ended_on: input.ended_on.unwrap_or(today),
                    reason: optional_text("reason", input.reason.as_deref())?,
                })
            },
        )
        .await
        .map(|person| MentorshipEndPayload { person })
    }
}
