//! The one authorization policy: what an actor may reach. Every front door
//! asks it; none decides on its own.
//!
//! Employers, their visits and their needs are shared across the territory,
//! so that structures stop soliciting the same company blindly: any staff
//! member reads them. People belong to one structure: only its staff reach
//! them, and a person reaches only themself and their immersions; an
//! employer reaches its immersions. What is out of reach answers as
//! if it did not exist, so nothing leaks about who is accompanied elsewhere.

use passerelle_domain::immersion::{
    Feedback, ImmersionCommand, Respondent, Signatory, SignatureMethod,
};
use passerelle_domain::values::{ImmersionId, PersonId};
use passerelle_projections::views::immersions::{self, ImmersionRow};
use passerelle_projections::views::people;
use sqlx::PgExecutor;

use crate::actor::{Actor, Role};
use crate::error::AppError;

/// Staff of a structure: they mediate.
pub fn is_staff(actor: &Actor) -> bool {
    matches!(actor.role, Role::Admin | Role::Manager | Role::Mediator)
}

/// Whether the actor may read and act on this person's path.
pub async fn reaches_person(
    db: impl PgExecutor<'_>,
    actor: &Actor,
    person: PersonId,
) -> Result<bool, AppError> {
    Ok(match actor.role {
        Role::Admin | Role::Manager | Role::Mediator => people::get(db, person)
            .await?
            .is_some_and(|p| p.structure == actor.structure.as_uuid()),
        Role::Person(own) => own == person,
        Role::System => true,
        Role::Employer(_) => false,
    })
}

/// The immersion, when the actor reaches it: its structure's staff, its
/// person, its host employer.
pub async fn reachable_immersion(
    db: impl PgExecutor<'_>,
    actor: &Actor,
    immersion: ImmersionId,
) -> Result<Option<ImmersionRow>, AppError> {
    let Some(row) = immersions::get(db, immersion).await? else {
        return Ok(None);
    };
    let reached = match actor.role {
        Role::Admin | Role::Manager | Role::Mediator => row.structure == actor.structure.as_uuid(),
        Role::Person(own) => row.person_id == own.as_uuid(),
        Role::Employer(own) => row.employer_id == own.as_uuid(),
        Role::System => true,
    };
    Ok(reached.then_some(row))
}

/// Whether the actor may issue this command on an immersion it reaches.
/// Staff issue every command; an employer and a person only answer for
/// themselves, sign online for themselves and give their own feedback.
pub fn may_issue(actor: &Actor, command: &ImmersionCommand) -> bool {
    use ImmersionCommand as C;
    match actor.role {
        Role::Admin | Role::Manager | Role::Mediator | Role::System => true,
        Role::Employer(_) => match command {
            C::Accept { by, .. } | C::Decline { by, .. } => *by == Respondent::Employer,
            C::Sign { signatory, method } => {
                *signatory == Signatory::Host && *method == SignatureMethod::Online
            }
            C::RecordFeedback {
                feedback: Feedback::Host(assessment),
                ..
            } => !assessment.received_by_other_means,
            _ => false,
        },
        Role::Person(_) => match command {
            C::Accept { by, .. } | C::Decline { by, .. } => *by == Respondent::Person,
            C::Sign { signatory, method } => {
                *signatory == Signatory::Person && *method == SignatureMethod::Online
            }
            C::RecordFeedback {
                feedback: Feedback::Person(_),
                ..
            } => true,
            _ => false,
        },
    }
}
