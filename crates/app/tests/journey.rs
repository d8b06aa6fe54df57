//! The mediation journey through the command path and the inline views,
//! against a real PostgreSQL: what one command writes, the next reads as its
//! context, and a person's timeline tells it all in order.

use std::sync::Arc;

use passerelle_app::{Actor, AppError, CommandMeta, FixedClock, Handler, Role, Views};
use passerelle_domain::employer::{Employer, EmployerCommand, VisitPurpose};
use passerelle_domain::immersion::*;
use passerelle_domain::need::{
    HiringIntent, Horizon, Need, NeedCloseReason, NeedCommand, NeedDescription, NeedSource,
};
use passerelle_domain::person::{
    Identity, LegalBasis, Person, PersonCommand, Project, ReadjustmentCause,
};
use passerelle_domain::values::*;
use passerelle_domain::{Personal, Rule};
use passerelle_projections::views::{immersions, people};
use passerelle_store::Store;
use passerelle_store::projection::{Projections, RunnerConfig};
use passerelle_store::testkit::TestDb;
use time::Date;
use time::macros::{date, datetime};
use uuid::Uuid;

struct World {
    db: TestDb,
    projections: Arc<Projections>,
    handler: Handler,
    clock: Arc<FixedClock>,
    mediator: Actor,
}

impl World {
    async fn new() -> Self {
        let db = TestDb::new().await;
        let store = db.store();
        Self::over(db, store).await
    }

    async fn over(db: TestDb, store: Store) -> Self {
        let projections = Projections::new(
            store,
            passerelle_projections::all(),
            RunnerConfig::default(),
        );
        projections.setup().await.unwrap();
        let projections = Arc::new(projections);
        let clock = Arc::new(FixedClock::new(datetime!(2026-03-02 08:00 UTC)));
        let handler = Handler::new(projections.clone(), clock.clone());
        Self {
            db,
            projections,
            handler,
            clock,
            mediator: Actor::user(mediator(), Role::Mediator, structure()),
        }
    }

    fn on(&self, day: Date) {
        self.clock.set(day.with_hms(9, 0, 0).unwrap().assume_utc());
    }

    fn meta(&self, actor: &Actor) -> CommandMeta {
        CommandMeta {
            command_id: Uuid::new_v4(),
            correlation_id: Uuid::new_v4(),
            causation_id: None,
            actor: actor.clone(),
        }
    }

    async fn employer(&self, command: EmployerCommand) {
        self.handler
            .execute::<Employer>(employer(), &command, &self.meta(&self.mediator), &Views)
            .await
            .unwrap();
    }

    async fn need(&self, command: NeedCommand) {
        self.handler
            .execute::<Need>(need(), &command, &self.meta(&self.mediator), &Views)
            .await
            .unwrap();
    }

    /// A command on another need than `need()`; what it did.
    async fn need_at(&self, id: NeedId, command: NeedCommand) -> passerelle_app::Outcome {
        self.handler
            .execute::<Need>(id, &command, &self.meta(&self.mediator), &Views)
            .await
            .unwrap()
    }

    async fn person(&self, command: PersonCommand) -> Result<(), AppError> {
        self.handler
            .execute::<Person>(person(), &command, &self.meta(&self.mediator), &Views)
            .await
            .map(drop)
    }

    async fn immersion_as(
        &self,
        id: ImmersionId,
        actor: &Actor,
        command: ImmersionCommand,
    ) -> Result<(), AppError> {
        self.handler
            .execute::<Immersion>(id, &command, &self.meta(actor), &Views)
            .await
            .map(drop)
    }

    async fn immersion(&self, id: ImmersionId, command: ImmersionCommand) -> Result<(), AppError> {
        self.immersion_as(id, &self.mediator, command).await
    }
}

fn id(n: u128) -> Uuid {
    Uuid::from_u128(n)
}
fn structure() -> StructureId {
    StructureId(id(1))
}
fn mediator() -> UserId {
    UserId(id(2))
}
fn employer() -> EmployerId {
    EmployerId(id(3))
}
fn need() -> NeedId {
    NeedId(id(4))
}
fn person() -> PersonId {
    PersonId(id(5))
}
fn visit() -> VisitId {
    VisitId(id(6))
}
const SIRET: &str = "73282932000074";

fn register() -> EmployerCommand {
    EmployerCommand::Register {
        employer_id: employer(),
        siret: Siret::parse(SIRET).unwrap(),
        name: label("Boulangerie du Port"),
        naf: NafDivision::parse("10.71C").unwrap(),
        commune: CommuneCode::parse("44109").unwrap(),
        address: None,
    }
}

fn text(s: &str) -> Text {
    Text::parse(s).unwrap()
}
fn label(s: &str) -> Label {
    Label::parse(s).unwrap()
}
fn signer(name: &str) -> Signer {
    Signer {
        name: label(name),
        job_title: None,
        email: None,
        phone: None,
    }
}

fn convention(start: Date, end: Date, goals: &str) -> Convention {
    Convention {
        prescriber: Organisation {
            name: label("Mission locale"),
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
                email: None,
                phone: None,
            }),
            situation: Situation::JobSeeker,
            legal_representative: None,
        },
        host: Host {
            siret: Siret::parse(SIRET).unwrap(),
            name: label("Boulangerie du Port"),
            activity: text("Boulangerie"),
            collective_agreement: label("IDCC 843"),
            signatory: signer("Jean Martin"),
            tutor: Personal::Known(Tutor {
                name: label("Lucie Bernard"),
                job_title: label("Cheffe boulangère"),
                email: None,
                phone: None,
            }),
        },
        period: DateRange::new(start, end).unwrap(),
        schedule: text("Du lundi au vendredi, 6 h – 13 h"),
        weekly_hours: WeeklyHours::from_hours(35).unwrap(),
        place: Place {
            address: text("12 quai de la Fosse"),
            commune: CommuneCode::parse("44109").unwrap(),
        },
        objective: Objective::DiscoverJobOrSector,
        goals: text(goals),
        evaluation: text("Grille remplie avec la tutrice"),
        tasks: text("Peser, pétrir, façonner"),
        safety: None,
        forbidden_uses_excluded: true,
    }
}

fn project(codes: &[&str]) -> Project {
    Project {
        target_rome_codes: codes.iter().map(|c| RomeCode::parse(c).unwrap()).collect(),
        contract_wishes: vec![ContractType::Alternance],
        mobility_radius_km: 20,
        constraints: None,
    }
}

#[tokio::test]
async fn the_whole_journey_reads_its_own_writes_and_the_timeline_tells_it() {
    let w = World::new().await;
    let monday = date!(2026 - 03 - 02);
    w.on(monday);
    w.employer(register()).await;
    w.employer(EmployerCommand::LogVisit {
        visit_id: visit(),
        visited_on: monday,
        mediator: mediator(),
        structure: structure(),
        purpose: VisitPurpose::Prospection,
        observations: text("Départ en retraite du second en septembre"),
        next_step: None,
    })
    .await;
    // The need names the visit just logged: its context came from the view.
    w.need(NeedCommand::Surface {
        need_id: need(),
        employer_id: employer(),
        source: NeedSource::Visit { visit_id: visit() },
        description: NeedDescription {
            activities: text("Aider au fournil le matin"),
            rome_codes: vec![RomeCode::parse("D1102").unwrap()],
            conditions: None,
            headcount: 1,
            horizon: Horizon::WithinSixMonths,
            hiring_intent: HiringIntent::Possible,
        },
        surfaced_on: monday,
    })
    .await;
    // Another need, heard by phone, qualified then closed: each written in
    // its append's own statement, the row back with the outcome (and the
    // views compared with a rebuild at the end).
    let other_need = NeedId(id(31));
    let description = |activities: &str, codes: &[&str], headcount| NeedDescription {
        activities: text(activities),
        rome_codes: codes.iter().map(|c| RomeCode::parse(c).unwrap()).collect(),
        conditions: Some(text("Horaires décalés")),
        headcount,
        horizon: Horizon::WithinThreeMonths,
        hiring_intent: HiringIntent::Planned,
    };
    for command in [
        NeedCommand::Surface {
            need_id: other_need,
            employer_id: employer(),
            source: NeedSource::Phone,
            description: description("Réception des livraisons", &["N1103"], 1),
            surfaced_on: monday,
        },
        NeedCommand::Qualify {
            description: description("Réception et mise en rayon", &["N1103", "D1507"], 2),
            qualified_on: monday,
        },
        NeedCommand::Close {
            reason: NeedCloseReason::Other {
                explanation: text("Poste pourvu en interne"),
            },
            closed_on: monday,
        },
    ] {
        let outcome = w.need_at(other_need, command).await;
        let row = passerelle_projections::views::needs::written(&outcome.written, other_need);
        assert!(row.is_some(), "the need's row comes back with the outcome");
    }
    w.person(PersonCommand::Enroll {
        person_id: person(),
        structure: structure(),
        referent: mediator(),
        identity: Identity {
            first_name: label("Awa"),
            last_name: label("Diallo"),
            birth_date: date!(1998 - 05 - 12),
            email: None,
            phone: None,
            address: None,
        },
        commune: None,
        legal_basis: LegalBasis::PublicInterestMission,
        enrolled_on: monday,
    })
    .await
    .unwrap();
    w.person(PersonCommand::StateProject {
        project: project(&["D1104"]),
        stated_on: monday,
    })
    .await
    .unwrap();

    let first = ImmersionId(id(100));
    w.immersion(
        first,
        ImmersionCommand::Propose {
            immersion_id: first,
            person_id: person(),
            employer_id: employer(),
            need_id: Some(need()),
            objective: Objective::DiscoverJobOrSector,
            structure: structure(),
            mediator: mediator(),
            message: None,
            proposed_on: monday,
        },
    )
    .await
    .unwrap();
    let as_person = Actor {
        id: format!("person:{}", person()),
        role: Role::Person(person()),
        structure: structure(),
    };
    let as_employer = Actor {
        id: format!("employer:{}", employer()),
        role: Role::Employer(employer()),
        structure: structure(),
    };
    w.immersion_as(
        first,
        &as_person,
        ImmersionCommand::Accept {
            by: Respondent::Person,
            answered_on: monday,
        },
    )
    .await
    .unwrap();
    w.immersion_as(
        first,
        &as_employer,
        ImmersionCommand::Accept {
            by: Respondent::Employer,
            answered_on: monday,
        },
    )
    .await
    .unwrap();
    let goals = "Découvrir le façonnage du pain";
    let (start, end) = (date!(2026 - 03 - 09), date!(2026 - 03 - 20));
    w.immersion(
        first,
        ImmersionCommand::DraftConvention {
            convention: Box::new(convention(start, end, goals)),
        },
    )
    .await
    .unwrap();
    for (actor, signatory) in [
        (&as_person, Signatory::Person),
        (&as_employer, Signatory::Host),
        (&w.mediator, Signatory::Prescriber),
    ] {
        w.immersion_as(
            first,
            actor,
            ImmersionCommand::Sign {
                signatory,
                method: SignatureMethod::Online,
            },
        )
        .await
        .unwrap();
    }
    let view = immersions::get(&w.db.pool, first).await.unwrap().unwrap();
    assert_eq!(view.stage, "drafted");
    assert_eq!(view.signatures.len(), 3, "{view:?}");
    w.immersion(first, ImmersionCommand::Validate { by: mediator() })
        .await
        .unwrap();
    w.on(start);
    w.immersion(first, ImmersionCommand::Start { started_on: start })
        .await
        .unwrap();
    w.on(end);
    w.immersion(first, ImmersionCommand::Complete { completed_on: end })
        .await
        .unwrap();
    w.immersion_as(
        first,
        &as_employer,
        ImmersionCommand::RecordFeedback {
            feedback: Feedback::Host(HostAssessment {
                attendance: Attendance::Completed,
                goals_reached: true,
                skills: vec![],
                advice: Some(Personal::Known(text("La pâtisserie lui irait mieux"))),
                appraisal: None,
                hiring: Hiring::No,
                received_by_other_means: false,
            }),
            recorded_on: end,
        },
    )
    .await
    .unwrap();
    w.immersion_as(
        first,
        &as_person,
        ImmersionCommand::RecordFeedback {
            feedback: Feedback::Person(PersonFeedback {
                words: Personal::Known(text("J'ai préféré les gâteaux au pain")),
                on_assessment: Some(AssessmentResponse::Countersigned),
            }),
            recorded_on: end,
        },
    )
    .await
    .unwrap();
    w.immersion(
        first,
        ImmersionCommand::RecordOutcome {
            milestone: Milestone::End,
            outcome: Outcome::ProjectReadjusted,
            recorded_on: end,
        },
    )
    .await
    .unwrap();
    // The readjustment names the immersion: the view says it has feedback.
    w.person(PersonCommand::ReadjustProject {
        project: project(&["D1104", "D1102"]),
        cause: ReadjustmentCause::ImmersionFeedback {
            immersion_id: first,
        },
        what_changed: text("La boulangerie en second choix"),
        readjusted_on: end,
    })
    .await
    .unwrap();

    let view = immersions::get(&w.db.pool, first).await.unwrap().unwrap();
    assert_eq!(view.stage, "completed");
    assert_eq!(view.days, 12);
    assert_eq!(view.feedback_authors, ["host", "person"]);
    assert_eq!(view.outcomes, ["end"]);

    let versions = people::project_versions(&w.db.pool, person())
        .await
        .unwrap();
    assert_eq!(versions.len(), 2);
    assert_eq!(
        versions[1].cause_kind.as_deref(),
        Some("immersion_feedback")
    );
    assert_eq!(versions[1].cause_id, Some(first.0));

    let timeline = people::timeline(&w.db.pool, person(), true).await.unwrap();
    let kinds: Vec<&str> = timeline.iter().map(|t| t.event_type.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "person_enrolled",
            "project_stated",
            "immersion_proposed",
            "proposal_accepted_by_person",
            "proposal_accepted_by_employer",
            "convention_drafted",
            "convention_signed",
            "convention_signed",
            "convention_signed",
            "convention_validated",
            "immersion_started",
            "immersion_completed",
            "feedback_recorded",
            "feedback_recorded",
            "outcome_recorded",
            "project_readjusted",
        ]
    );
    assert_eq!(timeline[3].role, "person");
    assert_eq!(timeline[4].actor, format!("employer:{}", employer()));

    // A second immersion with the same host, objective and goals within 12
    // months: the history comes from the immersions view.
    let second = ImmersionId(id(101));
    w.on(date!(2026 - 04 - 01));
    for (actor, command) in [
        (
            &w.mediator,
            ImmersionCommand::Propose {
                immersion_id: second,
                person_id: person(),
                employer_id: employer(),
                need_id: None,
                objective: Objective::DiscoverJobOrSector,
                structure: structure(),
                mediator: mediator(),
                message: None,
                proposed_on: date!(2026 - 04 - 01),
            },
        ),
        (
            &as_person,
            ImmersionCommand::Accept {
                by: Respondent::Person,
                answered_on: date!(2026 - 04 - 01),
            },
        ),
        (
            &as_employer,
            ImmersionCommand::Accept {
                by: Respondent::Employer,
                answered_on: date!(2026 - 04 - 01),
            },
        ),
    ] {
        w.immersion_as(second, actor, command).await.unwrap();
    }
    let again = convention(date!(2026 - 04 - 13), date!(2026 - 04 - 17), goals);
    let err = w
        .immersion(
            second,
            ImmersionCommand::DraftConvention {
                convention: Box::new(again),
            },
        )
        .await
        .unwrap_err();
    let AppError::Domain(err) = err else {
        panic!("{err:?}")
    };
    assert_eq!(err.rule, Rule::SameObjectiveWithHost);
    // With other goals it is drafted.
    w.immersion(
        second,
        ImmersionCommand::DraftConvention {
            convention: Box::new(convention(
                date!(2026 - 04 - 13),
                date!(2026 - 04 - 17),
                "Découvrir la pâtisserie",
            )),
        },
    )
    .await
    .unwrap();

    // Every view rebuilt from the log equals the one kept inline.
    for (view, tables) in [
        ("employers", &["employers", "visits"][..]),
        ("needs", &["needs"][..]),
        (
            "people",
            &["people", "project_versions", "timeline", "owners"][..],
        ),
        ("immersions", &["immersions"][..]),
    ] {
        let before = dump(&w.db, view, tables).await;
        w.projections.rebuild(view, false).await.unwrap();
        assert_eq!(dump(&w.db, view, tables).await, before, "{view} rebuilt");
    }
}

/// A view's tables as text, rows sorted.
async fn dump(db: &TestDb, view: &str, tables: &[&str]) -> Vec<String> {
    let mut all = Vec::new();
    for table in tables {
        let rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "select t::text from {view}.{table} t order by 1"
        )))
        .fetch_all(&db.pool)
        .await
        .unwrap();
        assert!(!rows.is_empty(), "{view}.{table} is empty");
        all.extend(rows);
    }
    all
}

#[tokio::test]
async fn a_proposal_needs_a_person_of_the_proposing_structure() {
    let w = World::new().await;
    w.on(date!(2026 - 03 - 02));
    let other = ImmersionId(id(200));
    let err = w
        .immersion(
            other,
            ImmersionCommand::Propose {
                immersion_id: other,
                person_id: person(),
                employer_id: employer(),
                need_id: None,
                objective: Objective::ConfirmProject,
                structure: structure(),
                mediator: mediator(),
                message: None,
                proposed_on: date!(2026 - 03 - 02),
            },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AppError::Domain(e) if e.rule == Rule::UnknownAggregate && e.field == "personId"),
        "{err:?}"
    );
}

/// A person enrolled is appended with her key and her views in one
/// statement: the key made for her sealed her identity (read back opened),
/// her row comes back with the outcome, and the views are those `apply`
/// writes from the log. A retry answers as the first, under the same key;
/// a subject erased gets no key, and nothing is appended.
#[tokio::test]
async fn an_enrolment_writes_its_key_and_views_in_its_append_as_apply_would() {
    let w = World::new().await;
    w.on(date!(2026 - 03 - 02));
    let enrol = |person_id: PersonId| PersonCommand::Enroll {
        person_id,
        structure: structure(),
        referent: mediator(),
        identity: Identity {
            first_name: label("Awa"),
            last_name: label("Diallo"),
            birth_date: date!(1998 - 05 - 12),
            email: Some(Email::parse("awa@example.org").unwrap()),
            phone: None,
            address: None,
        },
        commune: Some(CommuneCode::parse("44109").unwrap()),
        legal_basis: LegalBasis::PublicInterestMission,
        enrolled_on: date!(2026 - 03 - 02),
    };
    let meta = w.meta(&w.mediator);
    let outcome = w
        .handler
        .execute::<Person>(person(), &enrol(person()), &meta, &Views)
        .await
        .unwrap();
    let row = people::written(&outcome.written, person())
        .expect("the person's row comes back with the outcome");
    assert_eq!(
        row,
        people::get(&w.db.pool, person()).await.unwrap().unwrap()
    );
    assert_eq!(row.first_name.as_deref(), Some("Awa"));
    let keys = || async {
        sqlx::query_scalar::<_, Vec<u8>>(
            "select wrapped_key from subject_keys where subject_id = $1",
        )
        .bind(person().0)
        .fetch_all(&w.db.pool)
        .await
        .unwrap()
    };
    let key = keys().await;
    assert_eq!(key.len(), 1, "her key, made with her enrolment");
    let history = w.handler.history::<Person>(person()).await.unwrap();
    match &history[0].event {
        passerelle_domain::person::PersonEvent::PersonEnrolled(e) => {
            assert_eq!(e.identity.known().unwrap().last_name.as_str(), "Diallo");
        }
        other => panic!("{other:?}"),
    }
    // The same command again: the first answer, the same key.
    let again = w
        .handler
        .execute::<Person>(person(), &enrol(person()), &meta, &Views)
        .await
        .unwrap();
    assert!(again.replayed);
    assert_eq!(keys().await, key);

    // The views as `apply` writes them from the log.
    let tables = &["people", "timeline"][..];
    let before = dump(&w.db, "people", tables).await;
    w.projections.rebuild("people", false).await.unwrap();
    assert_eq!(
        dump(&w.db, "people", tables).await,
        before,
        "people rebuilt"
    );

    // An erased subject gets no key: nothing is appended.
    let erased = PersonId(id(900));
    sqlx::query("insert into erased_subjects (subject_id) values ($1)")
        .bind(erased.0)
        .execute(&w.db.pool)
        .await
        .unwrap();
    let events = || async {
        sqlx::query_scalar::<_, i64>("select count(*) from events")
            .fetch_one(&w.db.pool)
            .await
            .unwrap()
    };
    let appended = events().await;
    let refused = w
        .handler
        .execute::<Person>(erased, &enrol(erased), &w.meta(&w.mediator), &Views)
        .await
        .unwrap_err();
    assert!(refused.names_erased_subject(), "{refused:?}");
    assert_eq!(events().await, appended, "nothing appended");
    assert!(people::get(&w.db.pool, erased).await.unwrap().is_none());

    // A subject whose key exists already (a fact about her sealed before):
    // her enrolment goes through the transaction, sealed with that key.
    let known = PersonId(id(901));
    let mut note = passerelle_store::NewEvent::new(
        "note_taken",
        1,
        serde_json::json!({ "words": { "$personal": "Déjà connue" } }),
    );
    note.subject = Some(known.0);
    w.handler
        .store()
        .append(&passerelle_store::Append {
            stream_id: &format!("note-{}", Uuid::new_v4()),
            expected: passerelle_store::ExpectedVersion::NoStream,
            events: &[note],
            metadata: &passerelle_store::Metadata {
                actor: "system:test".into(),
                role: "system".into(),
                structure: structure().0,
                correlation_id: Uuid::new_v4(),
                causation_id: None,
                command_id: Uuid::new_v4(),
            },
            recorded_at: None,
        })
        .await
        .unwrap();
    let pool = w.db.pool.clone();
    let key_of = |subject: Uuid| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, Vec<u8>>(
                "select wrapped_key from subject_keys where subject_id = $1",
            )
            .bind(subject)
            .fetch_all(&pool)
            .await
            .unwrap()
        }
    };
    let her_key = key_of(known.0).await;
    assert_eq!(her_key.len(), 1);
    let outcome = w
        .handler
        .execute::<Person>(known, &enrol(known), &w.meta(&w.mediator), &Views)
        .await
        .unwrap();
    assert!(outcome.written.is_empty(), "appended in a transaction");
    assert_eq!(key_of(known.0).await, her_key, "her key, not a second one");
    let history = w.handler.history::<Person>(known).await.unwrap();
    match &history[0].event {
        passerelle_domain::person::PersonEvent::PersonEnrolled(e) => {
            assert_eq!(e.identity.known().unwrap().first_name.as_str(), "Awa");
        }
        other => panic!("{other:?}"),
    }
    assert!(people::get(&w.db.pool, known).await.unwrap().is_some());
}

/// What the live version of `projection`'s `table` has had: scans of the
/// whole table, and rows read through an index other than its key.
#[derive(Debug, PartialEq, Eq)]
struct Reads {
    scans: i64,
    through_other_indexes: i64,
}

/// [`Reads`] of the live `projection`'s `table`, once its counts include
/// `inserts` inserts and `updates` updates: a backend sends its counts when
/// it goes idle, or up to ten seconds later when it sent some in the last
/// second (twice that when the counts were busy).
async fn reads_once_counted(
    db: &TestDb,
    projection: &str,
    table: &str,
    inserts: i64,
    updates: i64,
) -> Reads {
    for _ in 0..800 {
        let counts: Option<(i64, i64, i64, i64)> = sqlx::query_as(
            "select s.seq_scan, s.n_tup_ins, s.n_tup_upd,
                    (select coalesce(sum(i.idx_tup_read), 0)::int8 from pg_stat_user_indexes i
                     where i.relid = s.relid and i.indexrelname <> s.relname || '_pkey')
             from pg_stat_user_tables s join projection_checkpoints c
               on s.schemaname = c.projection || '_v' || c.version
             where c.projection = $1 and c.status = 'live' and s.relname = $2",
        )
        .bind(projection)
        .bind(table)
        .fetch_optional(&db.pool)
        .await
        .unwrap();
        let (scans, inserted, updated, through_other_indexes) = counts.expect("the live table");
        if inserted >= inserts && updated >= updates {
            return Reads {
                scans,
                through_other_indexes,
            };
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!(
        "{projection}.{table}: the counts never reached {inserts} inserts and {updates} updates"
    );
}

/// Copies of the first row of the live `projection`'s `table` under `n`
/// other keys, with `also` changed (pairs of a column and an expression,
/// JSON object arguments; `g` numbers the copies), then the planner's
/// statistics.
async fn fill(db: &TestDb, projection: &str, table: &str, key: &str, n: i32, also: &str) {
    let version: i32 = sqlx::query_scalar(
        "select version from projection_checkpoints where projection = $1 and status = 'live'",
    )
    .bind(projection)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    let table = format!("{projection}_v{version}.{table}");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "insert into {table}
         select (jsonb_populate_record(t, jsonb_build_object(
                    '{key}', gen_random_uuid(){also}))).*
         from {table} t, generate_series(1, {n}) g
         where t.ctid = (select ctid from {table} limit 1);
         analyze {table}"
    )))
    .execute(&db.pool)
    .await
    .unwrap();
}

/// A need surfaced from a visit, another qualified, corrected, made an
/// offer then closed, and a visit logged, each in its append's own statement, among a structure's
/// thousands of needs and employers and an employer's thousand visits: each
/// reads and writes its own rows, found by key, never the whole table nor
/// every visit of the employer, on the generic plans the command path runs
/// its statements on.
#[tokio::test]
async fn commands_find_their_rows_by_key_among_thousands() {
    let w = World::new().await;
    let monday = date!(2026 - 03 - 02);
    w.on(monday);
    w.employer(register()).await;
    let log_visit = |visit_id| EmployerCommand::LogVisit {
        visit_id,
        visited_on: monday,
        mediator: mediator(),
        structure: structure(),
        purpose: VisitPurpose::Prospection,
        observations: text("Point sur les besoins"),
        next_step: None,
    };
    w.employer(log_visit(visit())).await;
    let description = |activities: &str| NeedDescription {
        activities: text(activities),
        rome_codes: vec![RomeCode::parse("D1102").unwrap()],
        conditions: None,
        headcount: 1,
        horizon: Horizon::WithinSixMonths,
        hiring_intent: HiringIntent::Possible,
    };
    w.need(NeedCommand::Surface {
        need_id: need(),
        employer_id: employer(),
        source: NeedSource::Phone,
        description: description("Aider au fournil"),
        surfaced_on: monday,
    })
    .await;
    fill(&w.db, "needs", "needs", "need_id", 3000, "").await;
    // SIRETs are unique.
    let siret = ", 'siret', lpad(g::text, 14, '0')";
    fill(&w.db, "employers", "employers", "employer_id", 3000, siret).await;
    // The employer's own visits, and one for each of many others.
    fill(&w.db, "employers", "visits", "visit_id", 1000, "").await;
    let elsewhere = ", 'employer_id', gen_random_uuid()";
    fill(&w.db, "employers", "visits", "visit_id", 3000, elsewhere).await;
    let needs = reads_once_counted(&w.db, "needs", "needs", 3001, 0).await;
    let employers = reads_once_counted(&w.db, "employers", "employers", 3001, 1).await;
    let visits = reads_once_counted(&w.db, "employers", "visits", 4001, 0).await;

    w.need_at(
        NeedId(id(41)),
        NeedCommand::Surface {
            need_id: NeedId(id(41)),
            employer_id: employer(),
            source: NeedSource::Visit { visit_id: visit() },
            description: description("Livrer le pain"),
            surfaced_on: monday,
        },
    )
    .await;
    for command in [
        NeedCommand::Qualify {
            description: description("Aider au fournil le matin"),
            qualified_on: monday,
        },
        NeedCommand::Correct {
            description: description("Aider au fournil l'après-midi"),
            reason: text("Horaires mal notés"),
            corrected_on: monday,
        },
        NeedCommand::FormaliseAsOffer {
            offer_reference: None,
            formalised_on: monday,
        },
        NeedCommand::Close {
            reason: NeedCloseReason::NoLongerNeeded,
            closed_on: monday,
        },
    ] {
        let outcome = w.need_at(need(), command).await;
        let row = passerelle_projections::views::needs::written(&outcome.written, need());
        assert!(row.is_some(), "written in the append's own statement");
    }
    let visited = w
        .handler
        .execute::<Employer>(
            employer(),
            &log_visit(VisitId(id(42))),
            &w.meta(&w.mediator),
            &Views,
        )
        .await
        .unwrap();
    assert!(
        !visited.written.is_empty(),
        "written in the append's own statement"
    );
    assert_eq!(
        reads_once_counted(&w.db, "needs", "needs", 3002, 4).await,
        needs,
        "a need surfaced, qualified, corrected, made an offer or closed read every need"
    );
    assert_eq!(
        reads_once_counted(&w.db, "employers", "employers", 3001, 2).await,
        employers,
        "a visit read every employer"
    );
    assert_eq!(
        reads_once_counted(&w.db, "employers", "visits", 4002, 0).await,
        visits,
        "a need surfaced from a visit read every visit of the employer"
    );
    let row: (bool, String, i32) = sqlx::query_as(
        "select n.qualified, n.status, e.visits from needs.needs n, employers.employers e
         where n.need_id = $1 and e.employer_id = $2",
    )
    .bind(need().0)
    .bind(employer().0)
    .fetch_one(&w.db.pool)
    .await
    .unwrap();
    assert_eq!(row, (true, "closed".to_owned(), 2));
}
