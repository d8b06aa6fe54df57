//! Shared fixtures of the domain tests: a given/when/then harness over any
//! decider, readable values, and an immersion journey driven through its
//! own commands (so every fixture event is one the decider really emits).

#![allow(dead_code, reason = "each test binary uses part of the fixtures")]

use std::fmt::Debug;

use passerelle_domain::immersion::{
    Convention, ConventionIdentity, ConventionPerson, Host, Immersion, ImmersionCommand,
    ImmersionContext, ImmersionEvent, ImmersionState, Objective, Organisation, Place,
    PriorConvention, Respondent, Signatory, SignatureMethod, Signer, Situation, Tutor,
};
use passerelle_domain::values::{
    CommuneCode, DateRange, Email, EmployerId, ImmersionId, Label, PersonId, RomeCode, Siret,
    StructureId, Text, UserId, WeeklyHours,
};
use passerelle_domain::{Decider, DomainError, Personal, Rule};
use time::macros::{date, datetime};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

/// Given these past events and this context…
pub struct Given<D: Decider> {
    pub state: D::State,
    pub context: D::Context,
}

pub fn given<D: Decider>(events: &[D::Event], context: D::Context) -> Given<D> {
    Given {
        state: D::fold(events),
        context,
    }
}

impl<D: Decider> Given<D> {
    /// …when this command is decided…
    pub fn when(&self, command: D::Command) -> Then<D::Event> {
        Then(D::decide(&command, &self.state, &self.context))
    }
}

/// …then these events, or this refusal.
#[derive(Debug)]
pub struct Then<E>(pub Result<Vec<E>, DomainError>);

impl<E: Debug + PartialEq> Then<E> {
    #[track_caller]
    pub fn then(self, expected: Vec<E>) {
        assert_eq!(self.0.expect("the command should be accepted"), expected);
    }

    #[track_caller]
    pub fn events(self) -> Vec<E> {
        self.0.expect("the command should be accepted")
    }

    /// Refused for `rule` on `field`, with a French message: returns the
    /// error for more checks.
    #[track_caller]
    pub fn refused(self, rule: Rule, field: &str) -> DomainError {
        match self.0 {
            Ok(events) => panic!("expected a refusal ({rule}), got {events:?}"),
            Err(err) => {
                assert_eq!(err.rule, rule, "wrong rule: {err:?}");
                assert_eq!(err.field, field, "wrong field: {err:?}");
                assert!(
                    err.message.ends_with('.') && err.message.chars().count() > 20,
                    "a message a mediator can act on: {err:?}"
                );
                err
            }
        }
    }
}

pub fn label(s: &str) -> Label {
    Label::parse(s).unwrap()
}

pub fn text(s: &str) -> Text {
    Text::parse(s).unwrap()
}

pub fn rome(code: &str) -> RomeCode {
    RomeCode::parse(code).unwrap()
}

pub fn email(s: &str) -> Email {
    Email::parse(s).unwrap()
}

pub fn range(start: Date, end: Date) -> DateRange {
    DateRange::new(start, end).unwrap()
}

pub fn hours(h: u32) -> WeeklyHours {
    WeeklyHours::from_hours(h).unwrap()
}

/// A stable id per name, so tests read `id("awa")`.
pub fn uuid(name: &str) -> Uuid {
    Uuid::new_v5(&Uuid::NAMESPACE_OID, name.as_bytes())
}

pub const SIRET: &str = "73282932000074";
pub const TODAY: Date = date!(2026 - 03 - 02);

pub fn person_id() -> PersonId {
    PersonId(uuid("awa"))
}
pub fn employer_id() -> EmployerId {
    EmployerId(uuid("boulangerie"))
}
pub fn immersion_id() -> ImmersionId {
    ImmersionId(uuid("immersion"))
}
pub fn structure() -> StructureId {
    StructureId(uuid("mission-locale"))
}
pub fn mediator() -> UserId {
    UserId(uuid("camille"))
}

fn signer(name: &str) -> Signer {
    Signer {
        name: label(name),
        job_title: None,
        email: None,
        phone: None,
    }
}

/// A complete, valid convention: an adult, a bakery, 9 to 20 March 2026,
/// 35 h a week, to discover the job.
pub fn convention() -> Convention {
    Convention {
        prescriber: Organisation {
            name: label("Mission locale de Nantes"),
            siret: None,
            signatory: signer("Camille Durand"),
        },
        support_structure: None,
        person: ConventionPerson {
            identity: Personal::Known(ConventionIdentity {
                first_name: label("Awa"),
                last_name: label("Diallo"),
                birth_date: date!(1998 - 05 - 12),
                address: text("3 rue des Lilas, 44000 Nantes"),
                email: Some(email("awa.diallo@exemple.fr")),
                phone: None,
            }),
            situation: Situation::JobSeeker,
            legal_representative: None,
        },
        host: Host {
            siret: Siret::parse(SIRET).unwrap(),
            name: label("Boulangerie du Port"),
            activity: text("Boulangerie, pâtisserie"),
            collective_agreement: label("Boulangerie-pâtisserie artisanale (IDCC 843)"),
            signatory: signer("Jean Martin"),
            tutor: Personal::Known(Tutor {
                name: label("Lucie Bernard"),
                job_title: label("Cheffe boulangère"),
                email: Some(email("lucie@boulangerie-du-port.fr")),
                phone: None,
            }),
        },
        period: range(date!(2026 - 03 - 09), date!(2026 - 03 - 20)),
        schedule: text("Du lundi au vendredi, de 6 h à 13 h"),
        weekly_hours: hours(35),
        place: Place {
            address: text("12 quai de la Fosse"),
            commune: CommuneCode::parse("44109").unwrap(),
        },
        objective: Objective::DiscoverJobOrSector,
        goals: text("Découvrir le façonnage du pain et le rythme du fournil"),
        evaluation: text("Grille d'évaluation remplie avec la tutrice le dernier jour"),
        tasks: text("Peser, pétrir, façonner ; nettoyer le fournil"),
        safety: Some(text("Chaussures de sécurité fournies")),
        forbidden_uses_excluded: true,
    }
}

pub fn context(today: Date) -> ImmersionContext {
    ImmersionContext {
        today,
        now: today.with_hms(10, 0, 0).unwrap().assume_utc(),
        person_accompanied: true,
        employer_registered: true,
        need_employer: None,
        history_with_host: Vec::new(),
        prevalidation_required: false,
    }
}

pub fn prior(objective: Objective, goals: &str, start: Date, end: Date) -> PriorConvention {
    let span = range(start, end);
    PriorConvention {
        immersion_id: ImmersionId(uuid(&format!("prior-{start}"))),
        objective,
        goals: text(goals),
        span,
        days: span.days(),
    }
}

pub fn propose() -> ImmersionCommand {
    ImmersionCommand::Propose {
        immersion_id: immersion_id(),
        person_id: person_id(),
        employer_id: employer_id(),
        need_id: None,
        objective: Objective::DiscoverJobOrSector,
        structure: structure(),
        mediator: mediator(),
        message: None,
        proposed_on: TODAY,
    }
}

pub fn online(signatory: Signatory) -> ImmersionCommand {
    ImmersionCommand::Sign {
        signatory,
        method: SignatureMethod::Online,
    }
}

/// An immersion's events, produced by its own decider one command at a
/// time on the dates given.
#[derive(Debug, Default, Clone)]
pub struct Journey {
    pub events: Vec<ImmersionEvent>,
}

impl Journey {
    #[track_caller]
    pub fn run(mut self, on: Date, command: ImmersionCommand) -> Self {
        let state: ImmersionState = Immersion::fold(&self.events);
        let events = Immersion::decide(&command, &state, &context(on))
            .unwrap_or_else(|e| panic!("fixture command refused: {e:?}"));
        self.events.extend(events);
        self
    }

    pub fn proposed() -> Self {
        Journey::default().run(TODAY, propose())
    }

    pub fn accepted() -> Self {
        Self::proposed()
            .run(
                TODAY,
                ImmersionCommand::Accept {
                    by: Respondent::Person,
                    answered_on: TODAY,
                },
            )
            .run(
                TODAY,
                ImmersionCommand::Accept {
                    by: Respondent::Employer,
                    answered_on: TODAY,
                },
            )
    }

    pub fn drafted(convention: Convention) -> Self {
        Self::accepted().run(
            TODAY,
            ImmersionCommand::DraftConvention {
                convention: Box::new(convention),
            },
        )
    }

    pub fn signed(convention: Convention) -> Self {
        let required = convention.required_signatories(&convention.period);
        required
            .into_iter()
            .fold(Self::drafted(convention), |j, s| j.run(TODAY, online(s)))
    }

    pub fn validated(convention: Convention) -> Self {
        Self::signed(convention).run(TODAY, ImmersionCommand::Validate { by: mediator() })
    }

    pub fn started(convention: Convention) -> Self {
        let start = convention.period.start();
        Self::validated(convention).run(start, ImmersionCommand::Start { started_on: start })
    }

    pub fn completed(convention: Convention) -> Self {
        let end = convention.period.end();
        Self::started(convention).run(end, ImmersionCommand::Complete { completed_on: end })
    }

    pub fn state(&self) -> ImmersionState {
        Immersion::fold(&self.events)
    }
}

pub fn at(date: Date, hour: u8) -> OffsetDateTime {
    date.with_hms(hour, 0, 0).unwrap().assume_utc()
}

pub const NOON_9_MARCH: OffsetDateTime = datetime!(2026-03-09 12:00 UTC);
