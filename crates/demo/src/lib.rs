//! Realistic multi-year histories of active mediation, for the demo, the
//! benchmarks and the tests: employers registered and visited by several
//! structures of a territory, needs surfaced on visits, people enrolled who
//! state a project, immersions proposed, accepted or declined, signed,
//! validated, started, interrupted or completed, assessed and followed up at
//! 1, 3 and 6 months, projects readjusted from the feedback. Around them,
//! what every screen shows: hosting capacities, needs formalised as offers,
//! work accidents reported and declared, referents changed, job inquiries,
//! peer meetings, mentorships started and ended, consents given, testimonies
//! shared with consent, a few disability recognitions, exits, and a few
//! mistakes corrected (an employer's address, a visit's notes, a need's
//! conditions, a person's phone), each with its reason.
//!
//! Those additions draw from a random stream of their own: the core
//! history's draws stay as they were, only the needs formalised without an
//! immersion are no longer offered to one.
//!
//! Every fact goes through the command path with a clock set to the day it
//! happens, so the domain's rules hold for the whole history and each event
//! is recorded at its own date. The same seed gives the same history.

use std::collections::HashSet;

use passerelle_app::{Actor, AppError, CommandMeta, FixedClock, Handler, Role, Views};
use passerelle_domain::Personal;
use passerelle_domain::consent_texts;
use passerelle_domain::employer::{
    Employer, EmployerChanges, EmployerCommand, VisitChanges, VisitPurpose,
};
use passerelle_domain::immersion::*;
use passerelle_domain::need::{
    HiringIntent, Horizon, Need, NeedCommand, NeedDescription, NeedSource,
};
use passerelle_domain::person::{
    ConsentProof, ConsentPurpose, ExitReason, Identity, IdentityChanges, LegalBasis, Person,
    PersonCommand, Project, ReadjustmentCause,
};
use passerelle_domain::testimony::{Audience, Testimony, TestimonyCommand};
use passerelle_domain::values::*;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use time::{Date, Duration, OffsetDateTime, Time};
use uuid::Uuid;

/// How big a history, over which months, from which seed.
#[derive(Debug, Clone)]
pub struct Options {
    pub seed: u64,
    pub people: usize,
    pub employers: usize,
    pub months: u32,
    /// The last day of the history: nothing happens after it.
    pub end: Date,
}

/// A structure of the territory and its mediators.
#[derive(Debug, Clone)]
pub struct Staff {
    pub structure: StructureId,
    /// The INSEE code of the département it works in.
    pub departement: &'static str,
    pub mediators: Vec<UserId>,
}

/// What a seeding did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub employers: usize,
    pub people: usize,
    pub immersions: usize,
    /// Commands carried out.
    pub commands: u64,
    /// Commands the domain refused: the rest of that path is left out.
    pub refused: u64,
    pub events: u64,
}

enum Command {
    Employer(EmployerId, EmployerCommand),
    Need(NeedId, NeedCommand),
    Person(PersonId, PersonCommand),
    Immersion(ImmersionId, ImmersionCommand),
    Testimony(TestimonyId, TestimonyCommand),
}

/// A fact a history brought about, as it was commanded: what tests
/// compute their expectations from.
#[derive(Debug, Clone, Copy)]
pub enum Fact<'a> {
    Employer(EmployerId, &'a EmployerCommand),
    Need(NeedId, &'a NeedCommand),
    Person(PersonId, &'a PersonCommand),
    Immersion(ImmersionId, &'a ImmersionCommand),
    Testimony(TestimonyId, &'a TestimonyCommand),
}

/// One fact to bring about, at its instant. `path` groups the facts that
/// only make sense if the earlier ones of the same path happened.
struct Step {
    at: OffsetDateTime,
    order: u64,
    path: Uuid,
    actor: Actor,
    command: Command,
}

struct EmployerPlan {
    id: EmployerId,
    siret: Siret,
    name: Label,
    naf: NafDivision,
    commune: CommuneCode,
    registered: Date,
    /// Open needs, with the day each was surfaced: each is offered to one
    /// immersion at most.
    needs: Vec<(NeedId, Date, Vec<RomeCode>)>,
}

const FIRST_NAMES: &[&str] = &[
    "Awa", "Lucas", "Inès", "Mathis", "Fatou", "Hugo", "Chloé", "Yanis", "Léa", "Karim", "Manon",
    "Nathan", "Aïcha", "Théo", "Camille", "Moussa", "Sarah", "Enzo", "Zoé", "Bilal", "Julie",
    "Mehdi", "Emma", "Louis",
];
const LAST_NAMES: &[&str] = &[
    "Diallo", "Martin", "Bernard", "Nguyen", "Dubois", "Traoré", "Moreau", "Laurent", "Benali",
    "Garcia", "Petit", "Rousseau", "Fontaine", "Lefèvre", "Mercier", "Camara", "Girard", "Morel",
];
/// Mentors, by the name and trade a mediator records.
const MENTORS: &[&str] = &[
    "Mme Girard, boulangère retraitée",
    "M. Camara, chef d'équipe en logistique",
    "Mme Petit, aide-soignante",
    "M. Fontaine, cuisinier",
];
const TRADES: &[&str] = &[
    "Boulangerie",
    "Garage",
    "Restaurant",
    "Atelier",
    "Jardinerie",
    "Transports",
    "Menuiserie",
    "Pharmacie",
    "Hôtel",
    "Entrepôt",
    "Clinique",
    "Supérette",
    "Imprimerie",
    "Crèche",
];

/// Carries out a seeded history through `handler`, whose clock must be
/// `clock`. Returns what was done.
pub async fn seed(
    handler: &Handler,
    clock: &FixedClock,
    staff: &[Staff],
    options: &Options,
) -> Result<Report, AppError> {
    let mut history = History::plan(staff, options);
    history.run_until(handler, clock, options.end).await?;
    Ok(history.report)
}

/// A planned history, carried out up to a day at a time: tests look at the
/// figures as they stood on a day before going on.
pub struct History {
    steps: Vec<Step>,
    next: usize,
    broken: HashSet<Uuid>,
    /// The steps carried out, in order.
    done: Vec<usize>,
    report: Report,
}

impl std::fmt::Debug for History {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("History")
            .field("steps", &self.steps.len())
            .field("next", &self.next)
            .field("report", &self.report)
            .finish_non_exhaustive()
    }
}

impl History {
    /// # Panics
    /// Without any structure or mediator to act.
    pub fn plan(staff: &[Staff], options: &Options) -> Self {
        assert!(
            !staff.is_empty() && staff.iter().all(|s| !s.mediators.is_empty()),
            "a history needs structures with mediators"
        );
        let mut plan = Plan::new(options, staff);
        plan.employers();
        plan.people();
        let mut steps = plan.steps;
        steps.sort_by_key(|s| (s.at, s.order));
        let last = paris_time(options.end, 24 * 60 - 1);
        steps.retain(|s| s.at <= last);
        Self {
            steps,
            next: 0,
            broken: HashSet::new(),
            done: Vec::new(),
            report: plan.report,
        }
    }

    pub fn report(&self) -> &Report {
        &self.report
    }

    /// The facts carried out so far, in the order they were; refused
    /// commands are left out.
    pub fn done(&self) -> impl Iterator<Item = Fact<'_>> {
        self.done.iter().map(|&i| match &self.steps[i].command {
            Command::Employer(id, c) => Fact::Employer(*id, c),
            Command::Need(id, c) => Fact::Need(*id, c),
            Command::Person(id, c) => Fact::Person(*id, c),
            Command::Immersion(id, c) => Fact::Immersion(*id, c),
            Command::Testimony(id, c) => Fact::Testimony(*id, c),
        })
    }

    /// Carries out every planned fact up to the end of `day` (Paris), in
    /// order, through `handler`, whose clock must be `clock`.
    pub async fn run_until(
        &mut self,
        handler: &Handler,
        clock: &FixedClock,
        day: Date,
    ) -> Result<(), AppError> {
        let last = paris_time(day, 24 * 60 - 1);
        while let Some(step) = self.steps.get(self.next) {
            if step.at > last {
                break;
            }
            self.next += 1;
            if self.broken.contains(&step.path) {
                continue;
            }
            clock.set(step.at);
            let meta = CommandMeta {
                command_id: Uuid::new_v4(),
                correlation_id: Uuid::new_v4(),
                causation_id: None,
                actor: step.actor.clone(),
            };
            let done = match &step.command {
                Command::Employer(id, c) => {
                    handler.execute::<Employer>(*id, c, &meta, &Views).await
                }
                Command::Need(id, c) => handler.execute::<Need>(*id, c, &meta, &Views).await,
                Command::Person(id, c) => handler.execute::<Person>(*id, c, &meta, &Views).await,
                Command::Immersion(id, c) => {
                    handler.execute::<Immersion>(*id, c, &meta, &Views).await
                }
                Command::Testimony(id, c) => {
                    handler.execute::<Testimony>(*id, c, &meta, &Views).await
                }
            };
            match done {
                Ok(outcome) => {
                    self.done.push(self.next - 1);
                    self.report.commands += 1;
                    self.report.events += outcome.events.len() as u64;
                }
                Err(AppError::Domain(refused)) => {
                    tracing::debug!(rule = refused.rule.code(), message = %refused.message, "seeded command refused");
                    self.report.refused += 1;
                    self.broken.insert(step.path);
                }
                Err(other) => return Err(other),
            }
        }
        Ok(())
    }
}

/// 09:00 in Paris plus `minutes`, on `day`.
fn paris_time(day: Date, minutes: i64) -> OffsetDateTime {
    let noon = day
        .with_time(Time::from_hms(12, 0, 0).expect("noon"))
        .assume_utc();
    let offset = passerelle_app::paris_offset(noon);
    day.with_time(Time::MIDNIGHT).assume_offset(offset) + Duration::minutes(minutes)
}

struct Plan<'a> {
    rng: StdRng,
    /// What surrounds the core history draws from here (see the module).
    extra: StdRng,
    options: &'a Options,
    staff: &'a [Staff],
    start: Date,
    days: i64,
    steps: Vec<Step>,
    order: u64,
    employers: Vec<EmployerPlan>,
    sirets: HashSet<String>,
    report: Report,
}

impl<'a> Plan<'a> {
    fn new(options: &'a Options, staff: &'a [Staff]) -> Self {
        let start = options.end - Duration::days(i64::from(options.months) * 365 / 12);
        Self {
            rng: StdRng::seed_from_u64(options.seed),
            extra: StdRng::seed_from_u64(options.seed ^ 0x005e_ed0f_e17a),
            options,
            staff,
            start,
            days: (options.end - start).whole_days().max(1),
            steps: Vec::new(),
            order: 0,
            employers: Vec::new(),
            sirets: HashSet::new(),
            report: Report::default(),
        }
    }

    fn uuid(&mut self) -> Uuid {
        uuid::Builder::from_random_bytes(self.rng.random()).into_uuid()
    }

    fn chance(&mut self, p: f64) -> bool {
        self.rng.random::<f64>() < p
    }

    fn extra_uuid(&mut self) -> Uuid {
        uuid::Builder::from_random_bytes(self.extra.random()).into_uuid()
    }

    fn extra_chance(&mut self, p: f64) -> bool {
        self.extra.random::<f64>() < p
    }

    fn extra_after(&mut self, day: Date, from: i64, to: i64) -> Date {
        day + Duration::days(self.extra.random_range(from..=to.max(from)))
    }

    /// Schedules `command` on `day` with a time drawn from the extra
    /// stream, after `not_before` within its path.
    fn push_extra(
        &mut self,
        path: Uuid,
        day: Date,
        not_before: &mut OffsetDateTime,
        actor: Actor,
        command: Command,
    ) {
        let minutes = self.extra.random_range(0..9 * 60) + 8 * 60;
        let at = paris_time(day, minutes).max(*not_before + Duration::minutes(1));
        *not_before = at;
        self.order += 1;
        self.steps.push(Step {
            at,
            order: self.order,
            path,
            actor,
            command,
        });
    }

    fn day(&mut self, from: i64, to: i64) -> Date {
        self.start + Duration::days(self.rng.random_range(from..=to.max(from)))
    }

    fn after(&mut self, day: Date, from: i64, to: i64) -> Date {
        day + Duration::days(self.rng.random_range(from..=to.max(from)))
    }

    /// Schedules `command` on `day`, after `not_before` within its path.
    fn push(
        &mut self,
        path: Uuid,
        day: Date,
        not_before: &mut OffsetDateTime,
        actor: Actor,
        command: Command,
    ) {
        let minutes = self.rng.random_range(0..9 * 60) + 8 * 60;
        let at = paris_time(day, minutes).max(*not_before + Duration::minutes(1));
        *not_before = at;
        self.order += 1;
        self.steps.push(Step {
            at,
            order: self.order,
            path,
            actor,
            command,
        });
    }

    fn mediator_of(&mut self, staff: usize) -> (StructureId, UserId, Actor) {
        let s = &self.staff[staff];
        let mediator = *s.mediators.choose(&mut self.rng).expect("a mediator");
        (
            s.structure,
            mediator,
            Actor::user(mediator, Role::Mediator, s.structure),
        )
    }

    /// As `mediator_of`, drawn from the extra stream.
    fn extra_mediator_of(&mut self, staff: usize) -> (StructureId, UserId, Actor) {
        let s = &self.staff[staff];
        let mediator = *s.mediators.choose(&mut self.extra).expect("a mediator");
        (
            s.structure,
            mediator,
            Actor::user(mediator, Role::Mediator, s.structure),
        )
    }

    /// A commune of the structure's département, the populated ones more
    /// often.
    fn commune(&mut self, staff: usize) -> CommuneCode {
        let communes = Commune::of_departement(self.staff[staff].departement);
        let top = communes.len().min(60);
        let index = (self.rng.random::<f64>().powi(3) * top as f64) as usize;
        CommuneCode::parse(communes[index.min(top - 1)].code).expect("a commune of the referential")
    }

    fn siret(&mut self) -> Siret {
        loop {
            let prefix: u64 = self.rng.random_range(100_000_000_000..999_999_999_999);
            let found = Siret::completing(prefix);
            if let Some(siret) = found
                && self.sirets.insert(siret.as_str().to_owned())
            {
                return siret;
            }
        }
    }

    fn employers(&mut self) {
        let divisions: Vec<NafDivision> = NafDivision::with_jobs();
        for n in 0..self.options.employers {
            let path = self.uuid();
            let mut clock = OffsetDateTime::UNIX_EPOCH;
            let id = EmployerId(self.uuid());
            let home = self.rng.random_range(0..self.staff.len());
            let (_, _, actor) = self.mediator_of(home);
            let naf = divisions.choose(&mut self.rng).expect("divisions").clone();
            let trade = *TRADES.choose(&mut self.rng).expect("trades");
            let surname = *LAST_NAMES.choose(&mut self.rng).expect("names");
            let name = Label::parse(&format!("{trade} {surname} {n}")).expect("a label");
            let siret = self.siret();
            let registered = self.day(0, self.days * 2 / 3);
            let commune = self.commune(home);
            self.push(
                path,
                registered,
                &mut clock,
                actor,
                Command::Employer(
                    id,
                    EmployerCommand::Register {
                        employer_id: id,
                        siret: siret.clone(),
                        name: name.clone(),
                        naf: naf.clone(),
                        commune: commune.clone(),
                        address: None,
                    },
                ),
            );
            let mut plan = EmployerPlan {
                id,
                siret,
                name,
                naf,
                commune,
                registered,
                needs: Vec::new(),
            };
            // Structures of the territory visit the same employers: the
            // shared visit history is what stops them soliciting blindly.
            let visits = self.rng.random_range(1..=6);
            let mut day = registered;
            for _ in 0..visits {
                if day > self.options.end {
                    break;
                }
                let who = self.rng.random_range(0..self.staff.len());
                let (structure, mediator, actor) = self.mediator_of(who);
                let visit_id = VisitId(self.uuid());
                let purpose = *[
                    VisitPurpose::Prospection,
                    VisitPurpose::FollowUp,
                    VisitPurpose::InEmploymentMediation,
                ]
                .choose(&mut self.rng)
                .expect("purposes");
                self.push(
                    path,
                    day,
                    &mut clock,
                    actor.clone(),
                    Command::Employer(
                        id,
                        EmployerCommand::LogVisit {
                            visit_id,
                            visited_on: day,
                            mediator,
                            structure,
                            purpose,
                            observations: Text::parse(
                                "Échange avec la direction sur l'activité et les besoins à venir",
                            )
                            .expect("a text"),
                            next_step: None,
                        },
                    ),
                );
                // The mediator who logged it completes the notes later
                // that day.
                if self.extra_chance(0.05) {
                    self.push_extra(
                        path,
                        day,
                        &mut clock,
                        actor.clone(),
                        Command::Employer(
                            id,
                            EmployerCommand::CorrectVisit {
                                visit_id,
                                changes: VisitChanges {
                                    observations: Some(
                                        Text::parse(
                                            "Échange avec la direction et le chef d'atelier sur l'activité et les besoins à venir",
                                        )
                                        .expect("a text"),
                                    ),
                                    ..VisitChanges::default()
                                },
                                reason: Text::parse("Notes de visite complétées").expect("a text"),
                                corrected_on: day,
                            },
                        ),
                    );
                }
                if self.chance(0.45) {
                    let source = NeedSource::Visit { visit_id };
                    self.need(&mut plan, source, day, actor, path, &mut clock);
                }
                day = self.after(day, 20, 150);
            }
            if self.chance(0.1) {
                let day = self.after(registered, 5, 200);
                let (_, _, actor) = self.mediator_of(home);
                let (path, mut clock) = (self.uuid(), OffsetDateTime::UNIX_EPOCH);
                self.need(&mut plan, NeedSource::Phone, day, actor, path, &mut clock);
            }
            if self.chance(0.15) {
                let day = self.after(registered, 5, 200);
                let actor = Actor {
                    id: format!("employer:{id}"),
                    role: Role::Employer(id),
                    structure: self.staff[home].structure,
                };
                // Its own path: it comes after the visits in no particular order.
                let (path, mut clock) = (self.uuid(), OffsetDateTime::UNIX_EPOCH);
                self.need(&mut plan, NeedSource::Portal, day, actor, path, &mut clock);
            }
            if self.extra_chance(0.08) {
                let day = self.extra_after(registered, 1, 60);
                let (_, _, actor) = self.extra_mediator_of(home);
                let (path, mut clock) = (self.extra_uuid(), OffsetDateTime::UNIX_EPOCH);
                self.push_extra(
                    path,
                    day,
                    &mut clock,
                    actor,
                    Command::Employer(
                        id,
                        EmployerCommand::Correct {
                            changes: EmployerChanges {
                                address: Some(
                                    Label::parse("Zone d'activité, bâtiment B").expect("a label"),
                                ),
                                ..EmployerChanges::default()
                            },
                            reason: Text::parse("Adresse relevée lors de la visite")
                                .expect("a text"),
                            corrected_on: day,
                        },
                    ),
                );
            }
            if self.extra_chance(0.3) {
                let day = self.extra_after(registered, 1, 120);
                let (_, _, actor) = self.extra_mediator_of(home);
                let places = self.extra.random_range(1..=3);
                let (path, mut clock) = (self.extra_uuid(), OffsetDateTime::UNIX_EPOCH);
                self.push_extra(
                    path,
                    day,
                    &mut clock,
                    actor,
                    Command::Employer(
                        id,
                        EmployerCommand::SetHostingCapacity {
                            simultaneous_immersions: places,
                            notes: None,
                        },
                    ),
                );
            }
            self.employers.push(plan);
        }
        self.report.employers = self.employers.len();
    }

    /// A need surfaced on `day`, after what `clock` says of its path (the
    /// visit it comes from).
    fn need(
        &mut self,
        employer: &mut EmployerPlan,
        source: NeedSource,
        day: Date,
        actor: Actor,
        path: Uuid,
        clock: &mut OffsetDateTime,
    ) {
        let id = NeedId(self.uuid());
        let actor_structure = actor.structure;
        let jobs = employer.naf.rome_codes();
        let count = self.rng.random_range(1..=2).min(jobs.len());
        let rome_codes: Vec<RomeCode> = jobs
            .choose_multiple(&mut self.rng, count)
            .cloned()
            .collect();
        let headcount = self.rng.random_range(1..=3);
        let horizon = *[
            Horizon::Now,
            Horizon::WithinThreeMonths,
            Horizon::WithinSixMonths,
            Horizon::NotKnownYet,
        ]
        .choose(&mut self.rng)
        .expect("horizons");
        let hiring_intent = *[
            HiringIntent::None,
            HiringIntent::Possible,
            HiringIntent::Planned,
        ]
        .choose(&mut self.rng)
        .expect("intents");
        self.push(
            path,
            day,
            clock,
            actor,
            Command::Need(
                id,
                NeedCommand::Surface {
                    need_id: id,
                    employer_id: employer.id,
                    source,
                    description: NeedDescription {
                        activities: Text::parse(
                            "Renfort sur l'activité principale, accueil et préparation",
                        )
                        .expect("a text"),
                        rome_codes: rome_codes.clone(),
                        conditions: None,
                        headcount,
                        horizon,
                        hiring_intent,
                    },
                    surfaced_on: day,
                },
            ),
        );
        // Some needs become job offers without an immersion: qualified with
        // the employer, then formalised. No immersion is offered on them.
        if self.extra_chance(0.12) {
            let staff = self
                .staff
                .iter()
                .position(|s| s.structure == actor_structure)
                .unwrap_or_default();
            let (_, _, mediator) = self.extra_mediator_of(staff);
            let (path, mut clock) = (self.extra_uuid(), OffsetDateTime::UNIX_EPOCH);
            let qualified = self.extra_after(day, 3, 20);
            self.push_extra(
                path,
                qualified,
                &mut clock,
                mediator.clone(),
                Command::Need(
                    id,
                    NeedCommand::Qualify {
                        description: NeedDescription {
                            activities: Text::parse(
                                "Poste précisé avec l'employeur : tâches, horaires et tenue",
                            )
                            .expect("a text"),
                            rome_codes,
                            conditions: None,
                            headcount,
                            horizon,
                            hiring_intent: HiringIntent::Planned,
                        },
                        qualified_on: qualified,
                    },
                ),
            );
            let formalised = self.extra_after(qualified, 1, 20);
            self.push_extra(
                path,
                formalised,
                &mut clock,
                mediator,
                Command::Need(
                    id,
                    NeedCommand::FormaliseAsOffer {
                        offer_reference: None,
                        formalised_on: formalised,
                    },
                ),
            );
            return;
        }
        if self.extra_chance(0.06) {
            let staff = self
                .staff
                .iter()
                .position(|s| s.structure == actor_structure)
                .unwrap_or_default();
            let (_, _, mediator) = self.extra_mediator_of(staff);
            let (path, mut clock) = (self.extra_uuid(), OffsetDateTime::UNIX_EPOCH);
            let corrected = self.extra_after(day, 1, 10);
            self.push_extra(
                path,
                corrected,
                &mut clock,
                mediator,
                Command::Need(
                    id,
                    NeedCommand::Correct {
                        description: NeedDescription {
                            activities: Text::parse(
                                "Renfort sur l'activité principale, accueil et préparation",
                            )
                            .expect("a text"),
                            rome_codes: rome_codes.clone(),
                            conditions: Some(
                                Text::parse("Horaires du matin, tenue fournie").expect("a text"),
                            ),
                            headcount,
                            horizon,
                            hiring_intent,
                        },
                        reason: Text::parse("Conditions oubliées à la saisie").expect("a text"),
                        corrected_on: corrected,
                    },
                ),
            );
        }
        employer.needs.push((id, day, rome_codes));
    }

    fn people(&mut self) {
        for _ in 0..self.options.people {
            let path = self.uuid();
            let mut clock = OffsetDateTime::UNIX_EPOCH;
            let id = PersonId(self.uuid());
            let home = self.rng.random_range(0..self.staff.len());
            let (structure, referent, actor) = self.mediator_of(home);
            let enrolled = self.day(0, self.days - 20);
            let age = match self.rng.random::<f64>() {
                x if x < 0.4 => self.rng.random_range(18..26),
                x if x < 0.85 => self.rng.random_range(26..50),
                _ => self.rng.random_range(50..62),
            };
            let birth_date = enrolled - Duration::days(age * 365 + self.rng.random_range(30..300));
            let identity = Identity {
                first_name: Label::parse(FIRST_NAMES.choose(&mut self.rng).expect("names"))
                    .expect("a label"),
                last_name: Label::parse(LAST_NAMES.choose(&mut self.rng).expect("names"))
                    .expect("a label"),
                birth_date,
                email: None,
                phone: None,
                address: None,
            };
            let commune = self.commune(home);
            self.push(
                path,
                enrolled,
                &mut clock,
                actor.clone(),
                Command::Person(
                    id,
                    PersonCommand::Enroll {
                        person_id: id,
                        structure,
                        referent,
                        identity: identity.clone(),
                        commune: Some(commune),
                        legal_basis: LegalBasis::PublicInterestMission,
                        enrolled_on: enrolled,
                    },
                ),
            );
            let stated = self.after(enrolled, 0, 10);
            let divisions = NafDivision::with_jobs();
            let wished = divisions
                .choose(&mut self.rng)
                .expect("divisions")
                .rome_codes();
            let target: Vec<RomeCode> = wished.choose_multiple(&mut self.rng, 1).cloned().collect();
            self.push(
                path,
                stated,
                &mut clock,
                actor.clone(),
                Command::Person(
                    id,
                    PersonCommand::StateProject {
                        project: project(target.clone()),
                        stated_on: stated,
                    },
                ),
            );
            self.report.people += 1;
            let immersions = match self.rng.random::<f64>() {
                x if x < 0.2 => 0,
                x if x < 0.65 => 1,
                x if x < 0.9 => 2,
                _ => 3,
            };
            let mut day = self.after(stated, 5, 40);
            let mut hosts: HashSet<EmployerId> = HashSet::new();
            let mut person = PersonPlan {
                id,
                structure,
                referent,
                actor,
                identity,
                target,
            };
            let mut busy_until = stated;
            for _ in 0..immersions {
                if day > self.options.end {
                    break;
                }
                match self.immersion(&mut person, day, &mut hosts, path) {
                    Some(next) => {
                        busy_until = next;
                        day = self.after(next, 7, 60);
                    }
                    None => break,
                }
            }
            self.around_person(&person, home, stated, busy_until);
        }
    }

    /// What surrounds a person's immersions, on a path of its own: a
    /// referent changed, job inquiries, a peer meeting, a mentorship,
    /// consents and a testimony, a disability recognition, and the exit
    /// once every immersion and its follow-up is behind.
    fn around_person(&mut self, person: &PersonPlan, home: usize, stated: Date, busy_until: Date) {
        let path = self.extra_uuid();
        let mut clock = OffsetDateTime::UNIX_EPOCH;
        let actor = person.actor.clone();
        let on_person = |c| Command::Person(person.id, c);
        let code = person.target[0].clone();
        if self.extra_chance(0.04) {
            let day = self.extra_after(stated, 1, 30);
            self.push_extra(
                path,
                day,
                &mut clock,
                actor.clone(),
                on_person(PersonCommand::CorrectIdentity {
                    changes: IdentityChanges {
                        phone: Some(PhoneNumber::parse("06 12 34 56 78").expect("a phone")),
                        ..IdentityChanges::default()
                    },
                    reason: Text::parse("Numéro de téléphone donné à l'entretien").expect("a text"),
                    corrected_on: day,
                }),
            );
        }
        if self.staff[home].mediators.len() > 1 && self.extra_chance(0.12) {
            let day = self.extra_after(stated, 20, 200);
            let others: Vec<UserId> = self.staff[home]
                .mediators
                .iter()
                .copied()
                .filter(|m| *m != person.referent)
                .collect();
            let referent = *others.choose(&mut self.extra).expect("another mediator");
            self.push_extra(
                path,
                day,
                &mut clock,
                actor.clone(),
                on_person(PersonCommand::ChangeReferent { referent }),
            );
        }
        if self.extra_chance(0.35) {
            let mut day = stated;
            for with_whom in ["Entreprise du quartier", "Forum de l'emploi"]
                .into_iter()
                .take(self.extra.random_range(1..=2))
            {
                day = self.extra_after(day, 3, 40);
                let inquiry_id = InquiryId(self.extra_uuid());
                self.push_extra(
                    path,
                    day,
                    &mut clock,
                    actor.clone(),
                    on_person(PersonCommand::LogJobInquiry {
                        inquiry_id,
                        held_on: day,
                        rome_code: code.clone(),
                        with_whom: Label::parse(with_whom).expect("a label"),
                        learned: Some(
                            Text::parse("Les horaires et les gestes du métier, vus sur place")
                                .expect("a text"),
                        ),
                    }),
                );
            }
        }
        if self.extra_chance(0.15) {
            let day = self.extra_after(stated, 15, 90);
            let meeting_id = MeetingId(self.extra_uuid());
            self.push_extra(
                path,
                day,
                &mut clock,
                actor.clone(),
                on_person(PersonCommand::LogPeerMeeting {
                    meeting_id,
                    held_on: day,
                    testimony_id: None,
                    peer: Label::parse("Ancien participant passé par le même métier")
                        .expect("a label"),
                    rome_codes: vec![code.clone()],
                    takeaways: Some(
                        Text::parse("Le métier s'apprend vite avec une bonne équipe")
                            .expect("a text"),
                    ),
                }),
            );
        }
        let consent = |purpose: ConsentPurpose, given_on: Date| PersonCommand::GiveConsent {
            purpose,
            text_version: Label::parse(consent_texts::current(purpose).version).expect("a label"),
            proof: ConsentProof::SignedForm,
            given_on,
        };
        if self.extra_chance(0.12) {
            let started = self.extra_after(stated, 10, 60);
            let mentorship_id = MentorshipId(self.extra_uuid());
            // Put in touch with a mentor with their consent only.
            self.push_extra(
                path,
                started,
                &mut clock,
                actor.clone(),
                on_person(consent(ConsentPurpose::Mentoring, started)),
            );
            let mentor = *MENTORS.choose(&mut self.extra).expect("mentors");
            self.push_extra(
                path,
                started,
                &mut clock,
                actor.clone(),
                on_person(PersonCommand::StartMentorship {
                    mentorship_id,
                    mentor: Label::parse(mentor).expect("a label"),
                    mentor_job: Some(code.clone()),
                    started_on: started,
                }),
            );
            if self.extra_chance(0.6) {
                let ended = self.extra_after(started, 60, 180);
                self.push_extra(
                    path,
                    ended,
                    &mut clock,
                    actor.clone(),
                    on_person(PersonCommand::EndMentorship {
                        mentorship_id,
                        ended_on: ended,
                        reason: Some(
                            Text::parse("Objectifs du parrainage atteints").expect("a text"),
                        ),
                    }),
                );
            }
        }
        if self.extra_chance(0.04) {
            let day = self.extra_after(stated, 5, 60);
            self.push_extra(
                path,
                day,
                &mut clock,
                actor.clone(),
                on_person(consent(ConsentPurpose::DisabilityRecognition, day)),
            );
            self.push_extra(
                path,
                day,
                &mut clock,
                actor.clone(),
                on_person(PersonCommand::RecordDisabilityRecognition {
                    recognised: true,
                    recorded_on: day,
                }),
            );
        }
        // Once their immersions are behind them, some agree to meet peers,
        // some to share their path as a testimony.
        let after_immersions = self.extra_after(busy_until, 5, 30);
        if self.extra_chance(0.3) {
            self.push_extra(
                path,
                after_immersions,
                &mut clock,
                actor.clone(),
                on_person(consent(ConsentPurpose::PeerContact, after_immersions)),
            );
        }
        if self.extra_chance(0.25) {
            self.push_extra(
                path,
                after_immersions,
                &mut clock,
                actor.clone(),
                on_person(consent(ConsentPurpose::Testimony, after_immersions)),
            );
            let recorded = self.extra_after(after_immersions, 0, 10);
            let testimony_id = TestimonyId(self.extra_uuid());
            let audience = *[
                Audience::OwnStructureMediators,
                Audience::OwnStructurePeople,
                Audience::Territory,
            ]
            .choose(&mut self.extra)
            .expect("audiences");
            self.push_extra(
                path,
                recorded,
                &mut clock,
                actor.clone(),
                Command::Testimony(
                    testimony_id,
                    TestimonyCommand::Record {
                        testimony_id,
                        author: person.id,
                        account: Text::parse(
                            "J'ai découvert le métier en immersion ; l'équipe m'a appris les gestes et j'ai pris confiance.",
                        )
                        .expect("a text"),
                        rome_codes: person.target.clone(),
                        audience,
                        recorded_on: recorded,
                    },
                ),
            );
        }
        // The exit, after the six-month follow-up of the last immersion.
        if self.extra_chance(0.25) {
            // After the path's own last fact too (a mentorship that ends).
            let exited =
                self.extra_after(busy_until, 200, 300)
                    .max(self.extra_after(clock.date(), 7, 30));
            let reason = match self.extra.random_range(0..4) {
                0 => ExitReason::Employment {
                    contract: ContractType::Cdi,
                },
                1 => ExitReason::Training,
                2 => ExitReason::EndOfSupport,
                _ => ExitReason::Moved,
            };
            self.push_extra(
                path,
                exited,
                &mut clock,
                actor,
                on_person(PersonCommand::Exit {
                    reason,
                    exited_on: exited,
                }),
            );
        }
    }

    /// One immersion from its proposal on `day`; returns the day the
    /// person is free for the next one.
    fn immersion(
        &mut self,
        person: &mut PersonPlan,
        day: Date,
        hosts: &mut HashSet<EmployerId>,
        person_path: Uuid,
    ) -> Option<Date> {
        let candidates: Vec<usize> = (0..self.employers.len())
            .filter(|&i| {
                self.employers[i].registered < day && !hosts.contains(&self.employers[i].id)
            })
            .collect();
        let &host = candidates.choose(&mut self.rng)?;
        hosts.insert(self.employers[host].id);
        let need = {
            let open: Vec<usize> = (0..self.employers[host].needs.len())
                .filter(|&n| self.employers[host].needs[n].1 < day)
                .collect();
            match open.choose(&mut self.rng) {
                Some(&n) if self.chance(0.7) => Some(self.employers[host].needs.remove(n)),
                _ => None,
            }
        };
        let id = ImmersionId(self.uuid());
        // The immersion's own path; the person's path goes on whatever
        // becomes of it.
        let path = self.uuid();
        let mut clock = OffsetDateTime::UNIX_EPOCH;
        let employer_actor = Actor {
            id: format!("employer:{}", self.employers[host].id),
            role: Role::Employer(self.employers[host].id),
            structure: person.structure,
        };
        let person_actor = Actor {
            id: format!("person:{}", person.id),
            role: Role::Person(person.id),
            structure: person.structure,
        };
        let objective = *[
            Objective::DiscoverJobOrSector,
            Objective::ConfirmProject,
            Objective::InitiateRecruitment,
        ]
        .choose(&mut self.rng)
        .expect("objectives");
        self.report.immersions += 1;
        let mediator = person.actor.clone();
        let cmd = |c| Command::Immersion(id, c);
        self.push(
            path,
            day,
            &mut clock,
            mediator.clone(),
            cmd(ImmersionCommand::Propose {
                immersion_id: id,
                person_id: person.id,
                employer_id: self.employers[host].id,
                need_id: need.as_ref().map(|n| n.0),
                objective,
                structure: person.structure,
                mediator: person.referent,
                message: None,
                proposed_on: day,
            }),
        );
        let answered = self.after(day, 1, 6);
        if self.chance(0.18) {
            let by = if self.chance(0.5) {
                Respondent::Person
            } else {
                Respondent::Employer
            };
            let actor = if by == Respondent::Person {
                person_actor
            } else {
                employer_actor
            };
            self.push(
                path,
                answered,
                &mut clock,
                actor,
                cmd(ImmersionCommand::Decline {
                    by,
                    reason: Text::parse("Le calendrier ne convient pas").expect("a text"),
                    answered_on: answered,
                }),
            );
            return Some(answered);
        }
        for (by, actor) in [
            (Respondent::Person, person_actor.clone()),
            (Respondent::Employer, employer_actor.clone()),
        ] {
            let on = self.after(day, 1, 8);
            self.push(
                path,
                on,
                &mut clock,
                actor,
                cmd(ImmersionCommand::Accept {
                    by,
                    answered_on: on,
                }),
            );
        }
        let drafted = self.after(day, 9, 14);
        let first = self.after(drafted, 7, 21);
        let last = self.after(first, 4, 25);
        let host_plan = &self.employers[host];
        let convention = convention(
            Host {
                siret: host_plan.siret.clone(),
                name: host_plan.name.clone(),
                ..self::host()
            },
            &person.identity,
            &host_plan.commune,
            objective,
            DateRange::new(first, last).expect("a period"),
        );
        let required = convention.required_signatories(&convention.period);
        self.push(
            path,
            drafted,
            &mut clock,
            mediator.clone(),
            cmd(ImmersionCommand::DraftConvention {
                convention: Box::new(convention),
            }),
        );
        if self.chance(0.06) {
            let on = self.after(drafted, 2, 6);
            self.push(
                path,
                on,
                &mut clock,
                mediator.clone(),
                cmd(ImmersionCommand::Deprecate {
                    justification: Text::parse("Convention restée sans signature").expect("a text"),
                }),
            );
            return Some(on);
        }
        for signatory in required {
            let on = self.after(drafted, 0, 4);
            let (actor, method) = match signatory {
                Signatory::Person => (person_actor.clone(), SignatureMethod::Online),
                Signatory::Host => (employer_actor.clone(), SignatureMethod::Online),
                _ => (
                    mediator.clone(),
                    SignatureMethod::Paper {
                        recorded_by: person.referent,
                        signed_on: on,
                    },
                ),
            };
            self.push(
                path,
                on,
                &mut clock,
                actor,
                cmd(ImmersionCommand::Sign { signatory, method }),
            );
        }
        let validated = self.after(drafted, 5, 6).min(first - Duration::days(1));
        self.push(
            path,
            validated,
            &mut clock,
            mediator.clone(),
            cmd(ImmersionCommand::Validate {
                by: person.referent,
            }),
        );
        if self.chance(0.04) {
            let on = self.after(validated, 0, 1).min(first - Duration::days(1));
            self.push(
                path,
                on,
                &mut clock,
                employer_actor,
                cmd(ImmersionCommand::Cancel {
                    by: Initiator::Employer,
                    reason: Text::parse("Fermeture exceptionnelle de l'établissement")
                        .expect("a text"),
                }),
            );
            return Some(on);
        }
        self.push(
            path,
            first,
            &mut clock,
            mediator.clone(),
            cmd(ImmersionCommand::Start { started_on: first }),
        );
        if self.chance(0.09) {
            let on = self.after(first, 1, (last - first).whole_days() - 1);
            self.push(
                path,
                on,
                &mut clock,
                mediator.clone(),
                cmd(ImmersionCommand::Interrupt {
                    by: Initiator::Person,
                    reason: Text::parse("Problème de transport pour venir").expect("a text"),
                    interrupted_on: on,
                }),
            );
            return Some(on);
        }
        // A work accident, now and then: reported the day it happens,
        // declared to the health insurance the next day.
        if self.extra_chance(0.03) {
            let on = self.extra_after(first, 0, ((last - first).whole_days() - 1).max(0));
            let accident_id = AccidentId(self.extra_uuid());
            let occurred_at = paris_time(on, 7 * 60 + 30);
            self.push_extra(
                path,
                on,
                &mut clock,
                mediator.clone(),
                cmd(ImmersionCommand::ReportAccident {
                    accident_id,
                    occurred_at,
                    structure_informed_at: occurred_at + Duration::minutes(20),
                    description: Text::parse("Coupure légère à la main pendant une tâche encadrée")
                        .expect("a text"),
                }),
            );
            let next = on + Duration::days(1);
            self.push_extra(
                path,
                next,
                &mut clock,
                mediator.clone(),
                cmd(ImmersionCommand::RecordAccidentDeclaration {
                    accident_id,
                    filed_at: paris_time(next, 7 * 60 + 45),
                }),
            );
        }
        self.push(
            path,
            last,
            &mut clock,
            mediator.clone(),
            cmd(ImmersionCommand::Complete { completed_on: last }),
        );
        let hired_intent = matches!(objective, Objective::InitiateRecruitment);
        if self.chance(0.75) {
            let on = self.after(last, 0, 10);
            let goals_reached = self.chance(0.7);
            let hiring = if hired_intent && self.chance(0.4) {
                Hiring::Yes {
                    contract: self.contract(),
                }
            } else {
                Hiring::No
            };
            self.push(
                path,
                on,
                &mut clock,
                employer_actor,
                cmd(ImmersionCommand::RecordFeedback {
                    feedback: Feedback::Host(HostAssessment {
                        attendance: Attendance::Completed,
                        goals_reached,
                        skills: vec![],
                        advice: None,
                        appraisal: None,
                        hiring,
                        received_by_other_means: false,
                    }),
                    recorded_on: on,
                }),
            );
        }
        let mut feedback_day = None;
        if self.chance(0.8) {
            let on = self.after(last, 0, 7);
            self.push(
                path,
                on,
                &mut clock,
                person_actor,
                cmd(ImmersionCommand::RecordFeedback {
                    feedback: Feedback::Person(PersonFeedback {
                        words: Personal::Known(
                            Text::parse("J'ai aimé l'équipe, le rythme est dur le matin")
                                .expect("a text"),
                        ),
                        on_assessment: None,
                    }),
                    recorded_on: on,
                }),
            );
            // The path may have put it on a later day than planned.
            feedback_day = Some(clock.date());
        }
        if self.chance(0.6) {
            let on = self.after(last, 0, 5);
            let goals_reached = self.chance(0.7);
            self.push(
                path,
                on,
                &mut clock,
                mediator.clone(),
                cmd(ImmersionCommand::RecordFeedback {
                    feedback: Feedback::Mediator(MediatorFeedback {
                        notes: Personal::Known(
                            Text::parse("Bilan fait avec la personne et la tutrice")
                                .expect("a text"),
                        ),
                        goals_reached,
                        next_steps: None,
                    }),
                    recorded_on: on,
                }),
            );
        }
        let mut outcome = None;
        for (milestone, p) in [
            (Milestone::End, 0.9),
            (Milestone::OneMonth, 0.75),
            (Milestone::ThreeMonths, 0.6),
            (Milestone::SixMonths, 0.5),
        ] {
            if !self.chance(p) {
                break;
            }
            let due = add_months(last, milestone.months());
            let on = self.after(due, 0, 12);
            let next = match outcome {
                Some(previous) if self.chance(0.7) => previous,
                _ => self.outcome(objective),
            };
            outcome = Some(next);
            self.push(
                path,
                on,
                &mut clock,
                mediator.clone(),
                cmd(ImmersionCommand::RecordOutcome {
                    milestone,
                    outcome: next,
                    recorded_on: on,
                }),
            );
            // A hire on a need the employer had not written down: the
            // need often becomes a job offer.
            if let (Outcome::Hired { .. }, Some((need_id, _, rome_codes))) = (next, &need)
                && milestone == Milestone::End
                && self.chance(0.6)
            {
                let (need_id, rome_codes) = (*need_id, rome_codes.clone());
                let qualified = self.after(on, 0, 5);
                self.push(
                    path,
                    qualified,
                    &mut clock,
                    mediator.clone(),
                    Command::Need(
                        need_id,
                        NeedCommand::Qualify {
                            description: NeedDescription {
                                activities: Text::parse(
                                    "Poste confirmé après l'immersion, tâches et horaires précisés",
                                )
                                .expect("a text"),
                                rome_codes,
                                conditions: None,
                                headcount: 1,
                                horizon: Horizon::Now,
                                hiring_intent: HiringIntent::Planned,
                            },
                            qualified_on: qualified,
                        },
                    ),
                );
                let formalised = self.after(qualified, 1, 20);
                self.push(
                    path,
                    formalised,
                    &mut clock,
                    mediator.clone(),
                    Command::Need(
                        need_id,
                        NeedCommand::FormaliseAsOffer {
                            offer_reference: None,
                            formalised_on: formalised,
                        },
                    ),
                );
            }
        }
        // A readjustment names the immersion whose feedback caused it: it
        // belongs to the person's path and waits for that feedback.
        if let Some(on) = feedback_day
            && self.chance(0.4)
        {
            // A later day than the feedback it names, so after it.
            let readjusted = self.after(on, 1, 14);
            let mut readjust_clock = OffsetDateTime::UNIX_EPOCH;
            let divisions = NafDivision::with_jobs();
            let jobs = divisions
                .choose(&mut self.rng)
                .expect("divisions")
                .rome_codes();
            let new = jobs
                .choose_multiple(&mut self.rng, 3)
                .find(|code| !person.target.contains(code))
                .cloned();
            let target = match new {
                // Widened to a new job while there is room, else refocused on it.
                Some(code) if person.target.len() < 3 => {
                    [person.target.clone(), vec![code]].concat()
                }
                Some(code) => vec![code],
                None => return Some(last),
            };
            person.target = target.clone();
            self.push(
                person_path,
                readjusted,
                &mut readjust_clock,
                mediator,
                Command::Person(
                    person.id,
                    PersonCommand::ReadjustProject {
                        project: project(target),
                        cause: ReadjustmentCause::ImmersionFeedback { immersion_id: id },
                        what_changed: Text::parse("Le projet s'élargit après l'immersion")
                            .expect("a text"),
                        readjusted_on: readjusted,
                    },
                ),
            );
        }
        Some(last)
    }

    fn contract(&mut self) -> ContractType {
        *[
            ContractType::Cdi,
            ContractType::CddSixMonthsOrMore,
            ContractType::CddUnderSixMonths,
            ContractType::Alternance,
            ContractType::ContratAide,
        ]
        .choose(&mut self.rng)
        .expect("contracts")
    }

    /// Plausible outcomes: recruitment immersions end in hiring more often,
    /// discovery ones in a new immersion or a readjusted project.
    fn outcome(&mut self, objective: Objective) -> Outcome {
        let hired = match objective {
            Objective::InitiateRecruitment => 0.45,
            Objective::ConfirmProject => 0.2,
            Objective::DiscoverJobOrSector => 0.08,
        };
        let x: f64 = self.rng.random();
        if x < hired {
            Outcome::Hired {
                contract: self.contract(),
            }
        } else if x < hired + 0.18 {
            Outcome::Training
        } else if x < hired + 0.36 {
            Outcome::NewImmersion
        } else if x < hired + 0.56 {
            Outcome::ProjectReadjusted
        } else {
            Outcome::Nothing
        }
    }
}

struct PersonPlan {
    id: PersonId,
    structure: StructureId,
    referent: UserId,
    actor: Actor,
    identity: Identity,
    target: Vec<RomeCode>,
}

fn project(target: Vec<RomeCode>) -> Project {
    Project {
        target_rome_codes: target,
        contract_wishes: vec![ContractType::Cdi],
        mobility_radius_km: 20,
        constraints: None,
    }
}

/// The host part of a plausible convention; its SIRET and name are the
/// caller's to set.
pub fn host() -> Host {
    Host {
        siret: Siret::parse("73282932000074").expect("a SIRET"),
        name: Label::parse("Établissement d'accueil").expect("a label"),
        activity: Text::parse("Activité de l'établissement").expect("a text"),
        collective_agreement: Label::parse("Convention collective de la branche").expect("a label"),
        signatory: signer("Dirigeant de l'établissement"),
        tutor: Personal::Known(Tutor {
            name: Label::parse("Tuteur désigné").expect("a label"),
            job_title: Label::parse("Chef d'équipe").expect("a label"),
            email: None,
            phone: None,
        }),
    }
}

fn signer(name: &str) -> Signer {
    Signer {
        name: Label::parse(name).expect("a label"),
        job_title: None,
        email: None,
        phone: None,
    }
}

/// A plausible convention for `person` at `host`, held at `place`: every
/// mandatory field filled, the adult person signing alone, 35 hours a week.
pub fn convention(
    host: Host,
    person: &Identity,
    place: &CommuneCode,
    objective: Objective,
    period: DateRange,
) -> Convention {
    let text = |s: &str| Text::parse(s).expect("a text");
    Convention {
        prescriber: Organisation {
            name: Label::parse("Structure d'accompagnement").expect("a label"),
            siret: None,
            signatory: signer("Responsable de la structure"),
        },
        support_structure: None,
        person: ConventionPerson {
            identity: Personal::Known(ConventionIdentity {
                first_name: person.first_name.clone(),
                last_name: person.last_name.clone(),
                birth_date: person.birth_date,
                address: text("Adresse communiquée à la structure"),
                email: None,
                phone: None,
            }),
            situation: Situation::JobSeeker,
            legal_representative: None,
        },
        host,
        period,
        schedule: text("Du lundi au vendredi, horaires de l'équipe"),
        weekly_hours: WeeklyHours::from_hours(35).expect("35 h"),
        place: Place {
            address: text("Locaux de l'établissement"),
            commune: place.clone(),
        },
        objective,
        goals: text("Découvrir les gestes du métier et le rythme de l'équipe"),
        evaluation: text("Grille d'évaluation remplie avec le tuteur"),
        tasks: text("Tâches confiées par le tuteur"),
        safety: None,
        forbidden_uses_excluded: true,
    }
}
