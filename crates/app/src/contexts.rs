//! The contexts decisions need, read from the inline views inside the
//! command's transaction.

use async_trait::async_trait;
use passerelle_domain::Decider;
use passerelle_domain::employer::{Employer, EmployerCommand, EmployerContext};
use passerelle_domain::immersion::{Immersion, ImmersionCommand, ImmersionContext};
use passerelle_domain::need::{Need, NeedCommand, NeedContext, NeedSource};
use passerelle_domain::person::{ConsentPurpose, Person, PersonCommand, PersonContext};
use passerelle_domain::testimony::{Testimony, TestimonyCommand, TestimonyContext};
use passerelle_projections::views::{employers, immersions, needs, people};
use sqlx::PgConnection;
use time::{Date, OffsetDateTime};

use crate::error::AppError;
use crate::handler::ContextSource;

/// Reads contexts from the views. Which structures pre-validate their
/// conventions is a structure setting; until structures carry settings,
/// none does.
#[derive(Debug, Clone, Copy, Default)]
pub struct Views;

#[async_trait]
impl ContextSource<Employer> for Views {
    async fn context(
        &self,
        conn: &mut PgConnection,
        _: &<Employer as Decider>::State,
        command: &EmployerCommand,
        _: OffsetDateTime,
        today: Date,
    ) -> Result<EmployerContext, AppError> {
        let siret_registered_as = match command {
            EmployerCommand::Register {
                siret, employer_id, ..
            } => employers::by_siret(&mut *conn, siret)
                .await?
                .filter(|found| found != employer_id),
            _ => None,
        };
        Ok(EmployerContext {
            today,
            siret_registered_as,
        })
    }
}

#[async_trait]
impl ContextSource<Need> for Views {
    async fn context(
        &self,
        conn: &mut PgConnection,
        _: &<Need as Decider>::State,
        command: &NeedCommand,
        _: OffsetDateTime,
        today: Date,
    ) -> Result<NeedContext, AppError> {
        // The decision asks only whether the visit the need came from was
        // logged there: that visit is the only one read, in one statement.
        let employer_visits = match command {
            NeedCommand::Surface {
                employer_id,
                source,
                ..
            } => {
                let named = match source {
                    NeedSource::Visit { visit_id } => vec![*visit_id],
                    _ => Vec::new(),
                };
                employers::visits_among(conn, *employer_id, &named).await?
            }
            _ => Some(Vec::new()),
        };
        Ok(NeedContext {
            today,
            employer_visits,
        })
    }
}

#[async_trait]
impl ContextSource<Person> for Views {
    async fn context(
        &self,
        conn: &mut PgConnection,
        state: &<Person as Decider>::State,
        command: &PersonCommand,
        _: OffsetDateTime,
        today: Date,
    ) -> Result<PersonContext, AppError> {
        let immersions_with_feedback = match (command, &state.enrolment) {
            (PersonCommand::ReadjustProject { .. }, Some(enrolment)) => {
                immersions::with_feedback(&mut *conn, enrolment.person_id).await?
            }
            _ => Vec::new(),
        };
        Ok(PersonContext {
            today,
            immersions_with_feedback,
        })
    }
}

#[async_trait]
impl ContextSource<Immersion> for Views {
    async fn context(
        &self,
        conn: &mut PgConnection,
        state: &<Immersion as Decider>::State,
        command: &ImmersionCommand,
        now: OffsetDateTime,
        today: Date,
    ) -> Result<ImmersionContext, AppError> {
        let mut context = ImmersionContext {
            today,
            now,
            person_accompanied: false,
            employer_registered: false,
            need_employer: None,
            history_with_host: Vec::new(),
            prevalidation_required: false,
        };
        match command {
            ImmersionCommand::Propose {
                person_id,
                employer_id,
                need_id,
                structure,
                ..
            } => {
                context.person_accompanied =
                    people::accompanied_by(&mut *conn, *person_id, *structure).await?;
                context.employer_registered =
                    employers::visits_among(&mut *conn, *employer_id, &[])
                        .await?
                        .is_some();
                if let Some(need) = need_id {
                    context.need_employer = needs::open_need_employer(&mut *conn, *need).await?;
                }
            }
            ImmersionCommand::DraftConvention { convention } => {
                if let Some(proposal) = &state.proposal {
                    context.history_with_host = immersions::history_with_host(
                        &mut *conn,
                        proposal.person_id,
                        &convention.host.siret,
                        proposal.immersion_id,
                    )
                    .await?;
                }
            }
            // The structure's own setting, as it stands when the convention
            // (or its renewal) is validated.
            ImmersionCommand::Validate { .. } => {
                if let Some(proposal) = &state.proposal {
                    context.prevalidation_required =
                        immersions::prevalidation_required(&mut *conn, proposal.structure).await?;
                }
            }
            ImmersionCommand::Renew { .. } => {
                if let (Some(proposal), Some(convention)) = (&state.proposal, &state.convention) {
                    context.history_with_host = immersions::history_with_host(
                        &mut *conn,
                        proposal.person_id,
                        &convention.host.siret,
                        proposal.immersion_id,
                    )
                    .await?;
                }
            }
            _ => {}
        }
        Ok(context)
    }
}

#[async_trait]
impl ContextSource<Testimony> for Views {
    async fn context(
        &self,
        conn: &mut PgConnection,
        state: &<Testimony as Decider>::State,
        command: &TestimonyCommand,
        _: OffsetDateTime,
        today: Date,
    ) -> Result<TestimonyContext, AppError> {
        let author = match command {
            TestimonyCommand::Record { author, .. } => Some(*author),
            _ => state.author,
        };
        let author_consents = match author {
            Some(author) => {
                people::has_consented(&mut *conn, author, ConsentPurpose::Testimony).await?
            }
            None => false,
        };
        Ok(TestimonyContext {
            today,
            author_consents,
        })
    }
}
