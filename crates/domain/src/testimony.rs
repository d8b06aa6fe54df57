//! The testimony (parcours vécu): a former participant's account of their
//! path, tagged with jobs, shared only with their consent and only with the
//! audience they chose; withdrawable at any time.

use serde::{Deserialize, Serialize};
use time::Date;

use crate::checks::{already_exists, not_found, not_in_future, rome_codes};
use crate::decider::{Decider, events};
use crate::error::{DomainError, Rule};
use crate::personal::Personal;
use crate::values::{PersonId, RomeCode, TestimonyId, Text};

/// Who may read the testimony: the author chooses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
pub enum Audience {
    /// The mediators of the author's structure, to prepare peer meetings.
    OwnStructureMediators,
    /// Also the people that structure accompanies.
    OwnStructurePeople,
    /// Every structure of the territory and the people they accompany.
    Territory,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TestimonyCommand {
    Record {
        testimony_id: TestimonyId,
        author: PersonId,
        account: Text,
        rome_codes: Vec<RomeCode>,
        audience: Audience,
        recorded_on: Date,
    },
    ChangeAudience {
        audience: Audience,
    },
    Withdraw {
        withdrawn_on: Date,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestimonyRecorded {
    pub testimony_id: TestimonyId,
    pub author: PersonId,
    /// The account in the author's words: sealed with the author's key.
    pub account: Personal<Text>,
    pub rome_codes: Vec<RomeCode>,
    pub audience: Audience,
    pub recorded_on: Date,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestimonyAudienceChanged {
    pub audience: Audience,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestimonyWithdrawn {
    pub withdrawn_on: Date,
}

events! {
    /// What happened to a testimony.
    pub enum TestimonyEvent {
        TestimonyRecorded = ("testimony_recorded", 1),
        TestimonyAudienceChanged = ("testimony_audience_changed", 1),
        TestimonyWithdrawn = ("testimony_withdrawn", 1),
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TestimonyState {
    pub author: Option<PersonId>,
    pub audience: Option<Audience>,
    pub withdrawn: bool,
}

impl TestimonyState {
    /// Whether anyone but its author may read it now.
    pub fn is_shared(&self) -> bool {
        self.author.is_some() && !self.withdrawn
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestimonyContext {
    pub today: Date,
    /// Whether the author's consent to share testimonies is given and not
    /// withdrawn (from the people view).
    pub author_consents: bool,
}

#[derive(Debug, Clone, Copy)]
pub struct Testimony;

fn consent_required(context: &TestimonyContext) -> Result<(), DomainError> {
    if context.author_consents {
        Ok(())
    } else {
        Err(DomainError::rule(
            Rule::ConsentNotGiven,
            "audience",
            "L'auteur n'a pas consenti au partage de son témoignage : recueillez d'abord son consentement.",
        ))
    }
}

impl Decider for Testimony {
    type Command = TestimonyCommand;
    type Event = TestimonyEvent;
    type State = TestimonyState;
    type Context = TestimonyContext;

    fn decide(
        command: &TestimonyCommand,
        state: &TestimonyState,
        context: &TestimonyContext,
    ) -> Result<Vec<TestimonyEvent>, DomainError> {
        let event: TestimonyEvent = match command {
            TestimonyCommand::Record {
                testimony_id,
                author,
                account,
                rome_codes: codes,
                audience,
                recorded_on,
            } => {
                if state.author.is_some() {
                    return Err(already_exists(
                        "testimonyId",
                        "Ce témoignage est déjà enregistré.",
                    ));
                }
                consent_required(context)?;
                not_in_future(*recorded_on, context.today, "recordedOn")?;
                TestimonyRecorded {
                    testimony_id: *testimony_id,
                    author: *author,
                    account: Personal::Known(account.clone()),
                    rome_codes: rome_codes(codes, "romeCodes")?,
                    audience: *audience,
                    recorded_on: *recorded_on,
                }
                .into()
            }
            TestimonyCommand::ChangeAudience { audience } => {
                live(state)?;
                consent_required(context)?;
                TestimonyAudienceChanged {
                    audience: *audience,
                }
                .into()
            }
            TestimonyCommand::Withdraw { withdrawn_on } => {
                live(state)?;
                not_in_future(*withdrawn_on, context.today, "withdrawnOn")?;
                TestimonyWithdrawn {
                    withdrawn_on: *withdrawn_on,
                }
                .into()
            }
        };
        Ok(vec![event])
    }

    fn evolve(mut state: TestimonyState, event: &TestimonyEvent) -> TestimonyState {
        match event {
            TestimonyEvent::TestimonyRecorded(e) => {
                state.author = Some(e.author);
                state.audience = Some(e.audience);
            }
            TestimonyEvent::TestimonyAudienceChanged(e) => state.audience = Some(e.audience),
            TestimonyEvent::TestimonyWithdrawn(_) => state.withdrawn = true,
        }
        state
    }
}

fn live(state: &TestimonyState) -> Result<(), DomainError> {
    if state.author.is_none() {
        return Err(not_found("testimonyId", "Ce témoignage n'existe pas."));
    }
    if state.withdrawn {
        return Err(DomainError::rule(
            Rule::TestimonyWithdrawn,
            "testimonyId",
            "Ce témoignage a été retiré : il ne se partage plus.",
        ));
    }
    Ok(())
}
