//! Mail against a real SMTP server on loopback (aiosmtpd) and a real
//! PostgreSQL, with an injected clock: what the journey sends, on which
//! days reminders fall, and that nothing is sent twice or lost when the
//! sender dies, the server refuses, or two schedulers share a database.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;

use passerelle_accounts::{StaffRole, User};
use passerelle_app::{Actor, Clock, CommandMeta, FixedClock, Handler, Role, Views};
use passerelle_domain::Personal;
use passerelle_domain::employer::{Employer, EmployerCommand, VisitPurpose};
use passerelle_domain::immersion::*;
use passerelle_domain::person::{Identity, LegalBasis, Person, PersonCommand};
use passerelle_domain::values::*;
use passerelle_notify::outbox::{self, DeliveryFilter};
use passerelle_notify::{
    Entry, Job, Mailer, Notifications, Params, Recipient, Scheduler, Sender, SenderSettings,
    Template,
};
use passerelle_store::projection::{Projections, RunnerConfig};
use passerelle_store::testkit::TestDb;
use support::{Mail, SmtpSink};
use time::macros::{date, datetime};
use time::{Date, Duration, OffsetDateTime};
use uuid::Uuid;

const SIRET: &str = "73282932000074";

fn text(s: &str) -> Text {
    Text::parse(s).unwrap()
}
fn label(s: &str) -> Label {
    Label::parse(s).unwrap()
}
fn email(s: &str) -> Email {
    Email::parse(s).unwrap()
}

struct World {
    db: TestDb,
    projections: Arc<Projections>,
    handler: Handler,
    clock: Arc<FixedClock>,
    sink: SmtpSink,
    mediator: User,
    actor: Actor,
    employer: EmployerId,
    scheduler: Scheduler,
}

/// 08:00:30 in Paris on `day` (just after the reminders' schedule).
fn morning(day: Date) -> OffsetDateTime {
    let utc = if (date!(2026 - 03 - 29)..date!(2026 - 10 - 25)).contains(&day) {
        6
    } else {
        7
    };
    day.with_hms(utc, 0, 30).unwrap().assume_utc()
}

impl World {
    async fn new(start: Date) -> Self {
        log_baseline();
        let db = TestDb::new().await;
        let clock = Arc::new(FixedClock::new(morning(start) - Duration::days(1)));
        let mut list = passerelle_projections::all();
        list.push(Arc::new(Notifications::new(clock.clone())));
        let projections = Projections::new(db.store(), list, RunnerConfig::default());
        projections.setup().await.unwrap();
        let projections = Arc::new(projections);
        let handler = Handler::new(projections.clone(), clock.clone());
        let sink = SmtpSink::start().await;
        let mediator = passerelle_accounts::create_user(
            &db.pool,
            &label("Mission locale de Nantes"),
            StaffRole::Mediator,
            &email("camille.durand@ml-nantes.fr"),
            &label("Camille Durand"),
            "un mot de passe assez long",
        )
        .await
        .unwrap();
        let actor = Actor::user(mediator.user_id, Role::Mediator, mediator.structure);
        let scheduler = Scheduler::new(
            db.pool.clone(),
            clock.clone(),
            &[(Job::Reminders, "0 0 8 * * *".into())],
            std::time::Duration::from_secs(1),
        )
        .unwrap();
        let w = Self {
            db,
            projections,
            handler,
            clock,
            sink,
            mediator,
            actor,
            employer: EmployerId(Uuid::new_v4()),
            scheduler,
        };
        // The scheduler's first sight of its job, the day before.
        w.scheduler.tick().await.unwrap();
        w.employer_with_contact().await;
        w
    }

    fn sender(&self) -> Sender {
        self.sender_with(SenderSettings::default())
    }

    fn sender_with(&self, settings: SenderSettings) -> Sender {
        Sender::new(
            self.db.pool.clone(),
            Mailer::smtp(
                &self.sink.url(),
                "Passerelle <ne-pas-repondre@passerelle.test>",
                std::time::Duration::from_secs(10),
            )
            .unwrap(),
            self.clock.clone(),
            SenderSettings {
                public_url: "https://passerelle.test".into(),
                ..settings
            },
        )
    }

    fn meta(&self, actor: &Actor) -> CommandMeta {
        CommandMeta {
            command_id: Uuid::new_v4(),
            correlation_id: Uuid::new_v4(),
            causation_id: None,
            actor: actor.clone(),
        }
    }

    async fn employer_with_contact(&self) {
        for command in [
            EmployerCommand::Register {
                employer_id: self.employer,
                siret: Siret::parse(SIRET).unwrap(),
                name: label("Boulangerie du Port"),
                naf: NafDivision::parse("10.71C").unwrap(),
                commune: CommuneCode::parse("44109").unwrap(),
                address: None,
            },
            EmployerCommand::AddContact {
                contact_id: ContactId(Uuid::new_v4()),
                name: Personal::Known(label("Jean Martin")),
                job_title: None,
                email: Some(Personal::Known(email("contact@boulangerie-du-port.fr"))),
                phone: None,
            },
            EmployerCommand::LogVisit {
                visit_id: VisitId(Uuid::new_v4()),
                visited_on: self.clock.today(),
                mediator: self.mediator.user_id,
                structure: self.mediator.structure,
                purpose: VisitPurpose::Prospection,
                observations: text("Départ en retraite du second en septembre"),
                next_step: None,
            },
        ] {
            self.handler
                .execute::<Employer>(self.employer, &command, &self.meta(&self.actor), &Views)
                .await
                .unwrap();
        }
    }

    async fn person(&self, first_name: &str, address: &str) -> PersonId {
        let person = PersonId(Uuid::new_v4());
        self.handler
            .execute::<Person>(
                person,
                &PersonCommand::Enroll {
                    person_id: person,
                    structure: self.mediator.structure,
                    referent: self.mediator.user_id,
                    identity: Identity {
                        first_name: label(first_name),
                        last_name: label("Diallo"),
                        birth_date: date!(1998 - 05 - 12),
                        email: Some(email(address)),
                        phone: None,
                        address: None,
                    },
                    commune: None,
                    legal_basis: LegalBasis::PublicInterestMission,
                    enrolled_on: self.clock.today(),
                },
                &self.meta(&self.actor),
                &Views,
            )
            .await
            .unwrap();
        person
    }

    fn as_person(&self, person: PersonId) -> Actor {
        Actor {
            id: format!("person:{person}"),
            role: Role::Person(person),
            structure: self.mediator.structure,
        }
    }

    fn as_employer(&self) -> Actor {
        Actor {
            id: format!("employer:{}", self.employer),
            role: Role::Employer(self.employer),
            structure: self.mediator.structure,
        }
    }

    async fn immersion(&self, id: ImmersionId, actor: &Actor, command: ImmersionCommand) {
        self.handler
            .execute::<Immersion>(id, &command, &self.meta(actor), &Views)
            .await
            .unwrap();
    }

    /// Proposed, accepted by both, and the convention drafted: signatures
    /// awaited from the person, the host and the prescriber.
    async fn drafted(
        &self,
        person: PersonId,
        first_name: &str,
        tutor: &str,
        period: (Date, Date),
    ) -> ImmersionId {
        let id = ImmersionId(Uuid::new_v4());
        let today = self.clock.today();
        self.immersion(
            id,
            &self.actor,
            ImmersionCommand::Propose {
                immersion_id: id,
                person_id: person,
                employer_id: self.employer,
                need_id: None,
                objective: Objective::DiscoverJobOrSector,
                structure: self.mediator.structure,
                mediator: self.mediator.user_id,
                message: Some(text("Je pense à vous pour découvrir la boulangerie.")),
                proposed_on: today,
            },
        )
        .await;
        for (actor, by) in [
            (self.as_person(person), Respondent::Person),
            (self.as_employer(), Respondent::Employer),
        ] {
            self.immersion(
                id,
                &actor,
                ImmersionCommand::Accept {
                    by,
                    answered_on: today,
                },
            )
            .await;
        }
        let convention = convention(first_name, tutor, period);
        self.immersion(
            id,
            &self.actor,
            ImmersionCommand::DraftConvention {
                convention: Box::new(convention),
            },
        )
        .await;
        id
    }

    async fn sign(&self, id: ImmersionId, person: PersonId, signatories: &[Signatory]) {
        for signatory in signatories {
            let actor = match signatory {
                Signatory::Person => self.as_person(person),
                Signatory::Host => self.as_employer(),
                _ => self.actor.clone(),
            };
            self.immersion(
                id,
                &actor,
                ImmersionCommand::Sign {
                    signatory: *signatory,
                    method: SignatureMethod::Online,
                },
            )
            .await;
        }
    }

    async fn validate(&self, id: ImmersionId) {
        let by = self.mediator.user_id;
        self.immersion(id, &self.actor, ImmersionCommand::Validate { by })
            .await;
    }

    async fn start(&self, id: ImmersionId, on: Date) {
        self.immersion(id, &self.actor, ImmersionCommand::Start { started_on: on })
            .await;
    }

    async fn complete(&self, id: ImmersionId, on: Date) {
        self.immersion(
            id,
            &self.actor,
            ImmersionCommand::Complete { completed_on: on },
        )
        .await;
    }

    async fn assess(&self, id: ImmersionId) {
        self.immersion(
            id,
            &self.as_employer(),
            ImmersionCommand::RecordFeedback {
                feedback: Feedback::Host(HostAssessment {
                    attendance: Attendance::Completed,
                    goals_reached: true,
                    skills: vec![],
                    advice: None,
                    appraisal: None,
                    hiring: Hiring::No,
                    received_by_other_means: false,
                }),
                recorded_on: self.clock.today(),
            },
        )
        .await;
    }

    /// What runs each morning: the projections catch up, the reminders'
    /// job ticks, the sender sends. Returns the mails the server got.
    async fn morning(&self, day: Date) -> Vec<Mail> {
        self.clock.set(morning(day));
        let before = self.sink.mails().len();
        self.projections.catch_up().await.unwrap();
        self.scheduler.tick().await.unwrap();
        self.sender().send_due().await.unwrap();
        self.sink.mails().split_off(before)
    }

    /// After a command during the day: its mails go.
    async fn flush(&self) -> Vec<Mail> {
        let before = self.sink.mails().len();
        self.projections.catch_up().await.unwrap();
        self.sender().send_due().await.unwrap();
        self.sink.mails().split_off(before)
    }
}

fn signer(name: &str, address: Option<&str>) -> Signer {
    Signer {
        name: label(name),
        job_title: None,
        email: address.map(email),
        phone: None,
    }
}

/// The demo's plausible convention, with the parties' addresses the mails
/// go to.
fn convention(first_name: &str, tutor: &str, (start, end): (Date, Date)) -> Convention {
    let mut host = passerelle_demo::host();
    host.name = label("Boulangerie du Port");
    host.signatory = signer("Jean Martin", Some("jean.martin@boulangerie-du-port.fr"));
    host.tutor = Personal::Known(Tutor {
        name: label("Lucie Bernard"),
        job_title: label("Cheffe boulangère"),
        email: Some(email(tutor)),
        phone: None,
    });
    let identity = Identity {
        first_name: label(first_name),
        last_name: label("Diallo"),
        birth_date: date!(1998 - 05 - 12),
        email: None,
        phone: None,
        address: None,
    };
    let mut convention = passerelle_demo::convention(
        host,
        &identity,
        &CommuneCode::parse("44109").unwrap(),
        Objective::DiscoverJobOrSector,
        DateRange::new(start, end).unwrap(),
    );
    convention.prescriber.signatory = signer("Camille Durand", Some("camille.durand@ml-nantes.fr"));
    if let Personal::Known(person) = &mut convention.person.identity {
        person.email = Some(email(&format!("{}@exemple.fr", first_name.to_lowercase())));
    }
    convention
}

fn sent(mails: &[Mail]) -> Vec<(String, String)> {
    let mut out: Vec<_> = mails
        .iter()
        .map(|m| (m.rcpt_to.join(","), m.subject.clone()))
        .collect();
    out.sort();
    out
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut out: Vec<_> = expected
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn the_journey_sends_exactly_the_expected_mails_and_their_links_open_a_session() {
    let monday = date!(2026 - 03 - 02);
    let w = World::new(monday).await;
    w.clock.set(morning(monday) + Duration::hours(1));
    let awa = w.person("Awa", "awa@exemple.fr").await;
    let (start, end) = (date!(2026 - 03 - 09), date!(2026 - 03 - 20));
    let id = w
        .drafted(
            awa,
            "Awa",
            "lucie.bernard@boulangerie-du-port.fr",
            (start, end),
        )
        .await;
    let mut all = w.flush().await;
    // When each mail arrived: its link is followed then.
    let mut arrived = vec![w.clock.now(); all.len()];
    assert_eq!(
        sent(&all),
        pairs(&[
            (
                "contact@boulangerie-du-port.fr",
                "Une immersion vous est proposée, Boulangerie du Port"
            ),
            (
                "awa@exemple.fr",
                "Une immersion chez Boulangerie du Port vous est proposée"
            ),
            (
                "awa@exemple.fr",
                "Convention d'immersion à signer (Boulangerie du Port)"
            ),
            (
                "jean.martin@boulangerie-du-port.fr",
                "Convention d'immersion à signer (Boulangerie du Port)"
            ),
            (
                "camille.durand@ml-nantes.fr",
                "Convention d'immersion à signer (Boulangerie du Port)"
            ),
        ]),
        "the proposal and the signature requests"
    );
    // The proposal came with the mediator's word: its mails say where to
    // read it, never what it says.
    for m in all
        .iter()
        .filter(|m| m.subject.contains("vous est proposée"))
    {
        assert!(m.text.contains("a joint un mot"), "{}", m.text);
        assert!(!m.text.contains("Je pense à vous"), "{}", m.text);
    }
    w.sign(id, awa, &[Signatory::Person, Signatory::Host]).await;
    assert!(w.flush().await.is_empty(), "signing sends nothing yet");

    let mut by_day: BTreeMap<Date, Vec<(String, String)>> = BTreeMap::new();
    let mut day = date!(2026 - 03 - 03);
    while day <= date!(2026 - 04 - 22) {
        let mut mails = w.morning(day).await;
        // The day's facts, after the morning's job.
        if day == date!(2026 - 03 - 05) {
            w.sign(id, awa, &[Signatory::Prescriber]).await;
            w.validate(id).await;
        } else if day == start {
            w.start(id, start).await;
        } else if day == end {
            w.complete(id, end).await;
        } else if day == date!(2026 - 03 - 24) {
            // D+2 business days: before the first reminder.
            w.assess(id).await;
        }
        mails.extend(w.flush().await);
        if !mails.is_empty() {
            by_day.insert(day, sent(&mails));
        }
        arrived.extend(mails.iter().map(|_| w.clock.now()));
        all.extend(mails);
        day = day.next_day().unwrap();
    }
    let expected: BTreeMap<Date, Vec<(String, String)>> = [
        (
            date!(2026 - 03 - 05),
            pairs(&[
                (
                    "camille.durand@ml-nantes.fr",
                    "Rappel : convention à signer avant le début de l'immersion (Boulangerie du Port)",
                ),
                (
                    "awa@exemple.fr",
                    "Convention validée : immersion chez Boulangerie du Port",
                ),
                (
                    "jean.martin@boulangerie-du-port.fr",
                    "Convention validée : immersion chez Boulangerie du Port",
                ),
                (
                    "lucie.bernard@boulangerie-du-port.fr",
                    "Convention validée : immersion chez Boulangerie du Port",
                ),
            ]),
        ),
        (
            start,
            pairs(&[(
                "lucie.bernard@boulangerie-du-port.fr",
                "Awa commence son immersion aujourd'hui",
            )]),
        ),
        (
            end,
            pairs(&[
                (
                    "lucie.bernard@boulangerie-du-port.fr",
                    "Bilan de l'immersion de Awa à remplir",
                ),
                (
                    "awa@exemple.fr",
                    "Comment s'est passée votre immersion chez Boulangerie du Port ?",
                ),
            ]),
        ),
        (
            date!(2026 - 04 - 20),
            pairs(&[(
                "camille.durand@ml-nantes.fr",
                "Suivi à 1 mois de l'immersion de Awa",
            )]),
        ),
    ]
    .into_iter()
    .collect();
    assert_eq!(by_day, expected);
    assert_eq!(all.len(), 13);

    // Every mail is UTF-8 text and HTML; every message id is its own.
    let ids: std::collections::HashSet<_> = all.iter().map(|m| m.message_id.clone()).collect();
    assert_eq!(ids.len(), all.len());
    for m in &all {
        assert_eq!(m.content_type, "multipart/alternative", "{}", m.subject);
        assert_eq!(m.text_charset, "utf-8");
        assert!(m.html.contains("lang=\"fr\""));
    }

    // The links for the person, the host and the tutor open their space,
    // each once; the mediator's links point at the service's pages.
    let mut opened = 0;
    for (m, at) in all.iter().zip(&arrived) {
        let Some(link) = m.link("/acces/") else {
            assert!(
                m.rcpt_to
                    .contains(&"camille.durand@ml-nantes.fr".to_owned())
                    || m.subject.contains("commence"),
                "no link in {:?}",
                m.subject
            );
            continue;
        };
        let token = link.rsplit('/').next().unwrap();
        let redeemed = passerelle_accounts::redeem_magic_link(
            &w.db.pool,
            token,
            *at + Duration::hours(2),
            Duration::hours(1),
        )
        .await
        .unwrap();
        let (_, session) = redeemed.unwrap_or_else(|| panic!("{} opens", m.subject));
        let expected = if m.rcpt_to.contains(&"awa@exemple.fr".to_owned()) {
            passerelle_accounts::Principal::Person(awa)
        } else {
            passerelle_accounts::Principal::Employer(w.employer)
        };
        assert_eq!(session.principal, expected, "{}", m.subject);
        assert!(
            passerelle_accounts::redeem_magic_link(&w.db.pool, token, *at, Duration::hours(1))
                .await
                .unwrap()
                .is_none(),
            "a link serves once"
        );
        opened += 1;
    }
    assert_eq!(opened, 9);

    // Every delivery is recorded as sent.
    let deliveries = outbox::deliveries(&w.db.pool, &DeliveryFilter::default(), 100)
        .await
        .unwrap();
    assert_eq!(deliveries.len(), 13);
    assert!(
        deliveries.iter().all(|d| d.state == "sent"),
        "{deliveries:?}"
    );
}

#[tokio::test]
async fn reminders_fall_on_business_days_across_holidays_and_stop_once_the_assessment_is_in() {
    // Thursday 30 April 2026 is a last day; 1 May (Friday) and 8 May are
    // holidays, Ascension is Thursday 14 May.
    let w = World::new(date!(2026 - 04 - 24)).await;
    w.clock
        .set(morning(date!(2026 - 04 - 24)) + Duration::hours(1));
    let awa = w.person("Awa", "awa@exemple.fr").await;
    let leo = w.person("Leo", "leo@exemple.fr").await;
    let (start, end) = (date!(2026 - 04 - 27), date!(2026 - 04 - 30));
    let late = w
        .drafted(awa, "Awa", "tutrice.a@boulangerie-du-port.fr", (start, end))
        .await;
    let prompt = w
        .drafted(leo, "Leo", "tuteur.b@boulangerie-du-port.fr", (start, end))
        .await;
    let all = [Signatory::Person, Signatory::Host, Signatory::Prescriber];
    w.sign(late, awa, &all).await;
    w.sign(prompt, leo, &all).await;
    w.validate(late).await;
    w.validate(prompt).await;
    // A third, starting Monday 4 May, still missing the host's signature.
    let zoe = w.person("Zoe", "zoe@exemple.fr").await;
    let unsigned = w
        .drafted(
            zoe,
            "Zoe",
            "tuteur.c@boulangerie-du-port.fr",
            (date!(2026 - 05 - 04), date!(2026 - 05 - 07)),
        )
        .await;
    w.sign(unsigned, zoe, &[Signatory::Person, Signatory::Prescriber])
        .await;
    w.flush().await;

    let mut days: BTreeMap<&str, Vec<Date>> = BTreeMap::new();
    let mut day = date!(2026 - 04 - 25);
    while day <= date!(2026 - 05 - 29) {
        let mails = w.morning(day).await;
        for m in &mails {
            let what = if m.subject.starts_with("Bilan de l'immersion de Awa") {
                "request A"
            } else if m
                .subject
                .starts_with("Relance : bilan de l'immersion de Awa")
            {
                "reminder A"
            } else if m.subject.starts_with("Bilan de l'immersion de Leo") {
                "request B"
            } else if m
                .subject
                .starts_with("Relance : bilan de l'immersion de Leo")
            {
                "reminder B"
            } else if m.subject.starts_with("Rappel : convention à signer") {
                "signature C"
            } else {
                continue;
            };
            days.entry(what).or_default().push(day);
        }
        for id in [late, prompt] {
            if day == start {
                w.start(id, start).await;
            } else if day == end {
                w.complete(id, end).await;
            }
        }
        if day == date!(2026 - 05 - 07) {
            w.assess(prompt).await;
        }
        w.flush().await;
        day = day.next_day().unwrap();
    }
    let expected: BTreeMap<&str, Vec<Date>> = [
        // 2 business days before Monday 4 May: Thursday 30 April is one
        // (1 May is a holiday, then the weekend), Wednesday 29 the second.
        ("signature C", vec![date!(2026 - 04 - 29)]),
        ("request A", vec![end]),
        // D+3: Monday 4, Tuesday 5, Wednesday 6 May.
        // D+10: 7, (8 May), 11, 12, 13, (Ascension 14), 15, 18, 19 May.
        (
            "reminder A",
            vec![date!(2026 - 05 - 06), date!(2026 - 05 - 19)],
        ),
        ("request B", vec![end]),
        // Assessed on 7 May: no D+10 reminder.
        ("reminder B", vec![date!(2026 - 05 - 06)]),
    ]
    .into_iter()
    .collect();
    assert_eq!(days, expected);
}

async fn staff_mails(w: &World, n: usize, tag: &str) -> Vec<Entry> {
    (0..n)
        .map(|i| Entry {
            key: format!("test:{tag}:{i}"),
            template: Template::FollowUpRequest,
            recipient: Recipient::Staff {
                user_id: w.mediator.user_id.0,
            },
            params: Params {
                milestone: Some("one_month".into()),
                ..Params::default()
            },
            structure: Some(w.mediator.structure.0),
        })
        .collect()
}

async fn queue(w: &World, entries: &[Entry]) {
    let mut conn = w.db.pool.acquire().await.unwrap();
    outbox::enqueue(&mut conn, entries, w.clock.now())
        .await
        .unwrap();
}

#[tokio::test]
async fn a_sender_killed_in_the_middle_of_a_batch_sends_nothing_twice() {
    let w = World::new(date!(2026 - 03 - 02)).await;
    let entries = staff_mails(&w, 6, "crash").await;
    queue(&w, &entries).await;
    // Queuing again (a replayed event, a retried job) adds nothing.
    queue(&w, &entries).await;

    // The server takes three mails and holds the fourth without answering;
    // the sender dies while waiting.
    w.sink.set_mode("hang_after:3");
    let sender = w.sender();
    let running = tokio::spawn(async move { sender.send_due().await });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !w.sink.hanging() {
        assert!(
            std::time::Instant::now() < deadline,
            "the fourth mail never came"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    running.abort();
    let _ = running.await;
    assert_eq!(w.sink.mails().len(), 3);
    w.sink.set_mode("accept");

    // Restarted at once: the dead sender's claim still holds, nothing goes.
    let report = w.sender().send_due().await.unwrap();
    assert_eq!(report.sent, 0);
    assert_eq!(w.sink.mails().len(), 3);

    // Once the claim lapses, the three left go, and only they.
    w.clock.advance(SenderSettings::default().lease);
    let report = w.sender().send_due().await.unwrap();
    assert_eq!(report.sent, 3);
    let mails = w.sink.mails();
    assert_eq!(mails.len(), 6);
    let ids: std::collections::HashSet<_> = mails.iter().map(|m| m.message_id.clone()).collect();
    assert_eq!(ids.len(), 6, "no mail twice");
    let deliveries = outbox::deliveries(&w.db.pool, &DeliveryFilter::default(), 100)
        .await
        .unwrap();
    assert_eq!(deliveries.len(), 6);
    assert!(deliveries.iter().all(|d| d.state == "sent"));

    // Two senders at once share the work and send each mail once.
    let more = staff_mails(&w, 10, "pair").await;
    queue(&w, &more).await;
    let (a, b) = (w.sender(), w.sender());
    let (ra, rb) = tokio::join!(a.send_due(), b.send_due());
    assert_eq!(ra.unwrap().sent + rb.unwrap().sent, 10);
    let mails = w.sink.mails();
    assert_eq!(mails.len(), 16);
    let ids: std::collections::HashSet<_> = mails.iter().map(|m| m.message_id.clone()).collect();
    assert_eq!(ids.len(), 16);
}

#[tokio::test]
async fn a_refused_or_dropped_mail_stays_queued_and_is_retried_never_lost() {
    let w = World::new(date!(2026 - 03 - 02)).await;
    queue(&w, &staff_mails(&w, 1, "retry").await).await;
    let delivery = || async {
        outbox::deliveries(&w.db.pool, &DeliveryFilter::default(), 10)
            .await
            .unwrap()
            .remove(0)
    };

    w.sink.set_mode("refuse");
    let report = w.sender().send_due().await.unwrap();
    assert_eq!(report.retried, 1);
    let d = delivery().await;
    assert_eq!((d.state.as_str(), d.attempts), ("queued", 1));
    assert!(d.last_answer.as_deref().unwrap().contains("451"), "{d:?}");
    assert_eq!(d.next_attempt_at, w.clock.now() + Duration::minutes(1));

    // Not due yet: nothing is tried.
    w.sink.set_mode("accept");
    assert_eq!(w.sender().send_due().await.unwrap(), Default::default());
    w.sink.set_mode("drop");
    w.clock.advance(Duration::minutes(1));
    let report = w.sender().send_due().await.unwrap();
    assert_eq!(report.retried, 1);
    let d = delivery().await;
    assert_eq!((d.state.as_str(), d.attempts), ("queued", 2));
    assert_eq!(d.next_attempt_at, w.clock.now() + Duration::minutes(2));

    w.sink.set_mode("reject");
    w.clock.advance(Duration::minutes(2));
    w.sender().send_due().await.unwrap();
    let d = delivery().await;
    assert_eq!((d.state.as_str(), d.attempts), ("queued", 3));
    assert!(d.last_answer.as_deref().unwrap().contains("554"), "{d:?}");
    assert!(w.sink.mails().is_empty());

    w.sink.set_mode("accept");
    w.clock.advance(Duration::minutes(4));
    let report = w.sender().send_due().await.unwrap();
    assert_eq!(report.sent, 1);
    assert_eq!(w.sink.mails().len(), 1);
    let d = delivery().await;
    assert_eq!(d.state, "sent");
    assert_eq!(d.last_answer, None);

    // After the last attempt a mail is marked failed, with the answer.
    queue(&w, &staff_mails(&w, 1, "give-up").await).await;
    w.sink.set_mode("reject");
    let report = w
        .sender_with(SenderSettings {
            max_attempts: 1,
            ..SenderSettings::default()
        })
        .send_due()
        .await
        .unwrap();
    assert_eq!(report.failed, 1);
    let d = delivery().await;
    assert_eq!(d.state, "failed");
    assert!(d.last_answer.as_deref().unwrap().contains("554"));
}

#[tokio::test]
async fn two_schedulers_fire_a_job_once_and_a_missed_run_is_caught_up_once() {
    let w = World::new(date!(2026 - 03 - 02)).await;
    let other = Scheduler::new(
        w.db.pool.clone(),
        w.clock.clone(),
        &[(Job::Reminders, "0 0 8 * * *".into())],
        std::time::Duration::from_secs(1),
    )
    .unwrap();
    // Down for three days: one run on restart, by one of the two.
    w.clock
        .set(morning(date!(2026 - 03 - 05)) + Duration::hours(2));
    let (a, b) = tokio::join!(w.scheduler.tick(), other.tick());
    let runs: Vec<_> = a.unwrap().into_iter().chain(b.unwrap()).collect();
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0].tick, datetime!(2026-03-05 07:00 UTC));
    assert_eq!(runs[0].outcome, "succeeded");
    // Again at the same instant: nothing more.
    assert!(w.scheduler.tick().await.unwrap().is_empty());
    assert!(other.tick().await.unwrap().is_empty());
    // Many rounds at the next tick, racing: still one run.
    w.clock.set(morning(date!(2026 - 03 - 06)));
    let rounds = futures::future::join_all((0..8).map(|i| {
        let s = if i % 2 == 0 { &w.scheduler } else { &other };
        s.tick()
    }))
    .await;
    let fired: usize = rounds.into_iter().map(|r| r.unwrap().len()).sum();
    assert_eq!(fired, 1);
    let recorded = passerelle_notify::schedule::runs(&w.db.pool, Some("reminders"), 10)
        .await
        .unwrap();
    assert_eq!(recorded.len(), 2);

    // An empty expression disables a job; a wrong one is refused by name.
    let off = Scheduler::new(
        w.db.pool.clone(),
        w.clock.clone(),
        &[(Job::WeeklyDigest, String::new())],
        std::time::Duration::from_secs(1),
    )
    .unwrap();
    assert!(off.tick().await.unwrap().is_empty());
    let err = Scheduler::new(
        w.db.pool.clone(),
        w.clock.clone(),
        &[(Job::WeeklyDigest, "chaque lundi".into())],
        std::time::Duration::from_secs(1),
    )
    .unwrap_err();
    assert!(err.to_string().contains("weekly_digest"), "{err}");
}

#[tokio::test]
async fn a_recipient_turns_optional_mails_off_but_still_gets_the_essential_ones() {
    let w = World::new(date!(2026 - 03 - 02)).await;
    queue(&w, &staff_mails(&w, 1, "before").await).await;
    w.sender().send_due().await.unwrap();
    let first = w.sink.mails().remove(0);
    let link = first
        .link("/preferences/")
        .expect("an optional mail links to preferences");
    let token = link.rsplit('/').next().unwrap();
    assert!(
        passerelle_notify::preferences::set_by_link(&w.db.pool, token, true, w.clock.now())
            .await
            .unwrap()
    );
    assert!(
        !passerelle_notify::preferences::set_by_link(&w.db.pool, "inconnu", true, w.clock.now())
            .await
            .unwrap()
    );

    queue(&w, &staff_mails(&w, 1, "after").await).await;
    queue(
        &w,
        &[Entry {
            key: "test:essential".into(),
            template: Template::MagicLink,
            recipient: Recipient::Staff {
                user_id: w.mediator.user_id.0,
            },
            params: Params::default(),
            structure: Some(w.mediator.structure.0),
        }],
    )
    .await;
    let report = w.sender().send_due().await.unwrap();
    assert_eq!((report.sent, report.cancelled), (1, 1));
    let mails = w.sink.mails();
    assert_eq!(mails.len(), 2);
    assert_eq!(mails[1].subject, "Votre lien de connexion à Passerelle");
    assert!(
        mails[1].link("/preferences/").is_none(),
        "essential: no opt-out"
    );
    let cancelled = outbox::deliveries(
        &w.db.pool,
        &DeliveryFilter {
            state: Some(passerelle_notify::State::Cancelled),
            ..DeliveryFilter::default()
        },
        10,
    )
    .await
    .unwrap();
    assert_eq!(cancelled.len(), 1);
    assert_eq!(cancelled[0].key, "test:after:0");
}

#[tokio::test]
async fn the_mediator_hears_of_portal_needs_unanswered_proposals_and_their_week() {
    let monday = date!(2026 - 03 - 02);
    let w = World::new(monday).await;
    let weekly = Scheduler::new(
        w.db.pool.clone(),
        w.clock.clone(),
        &[(Job::WeeklyDigest, "0 0 7 * * Mon".into())],
        std::time::Duration::from_secs(1),
    )
    .unwrap();
    weekly.tick().await.unwrap();
    // Monday's digest: nothing to do yet, so no mail.
    w.clock.set(morning(monday));
    assert_eq!(weekly.tick().await.unwrap().len(), 1);
    assert!(w.flush().await.is_empty());
    w.clock.set(morning(monday) + Duration::hours(1));
    // A need the employer described on the portal.
    let need = passerelle_domain::values::NeedId(Uuid::new_v4());
    w.handler
        .execute::<passerelle_domain::need::Need>(
            need,
            &passerelle_domain::need::NeedCommand::Surface {
                need_id: need,
                employer_id: w.employer,
                source: passerelle_domain::need::NeedSource::Portal,
                description: passerelle_domain::need::NeedDescription {
                    activities: text("Aider au fournil le matin"),
                    rome_codes: vec![RomeCode::parse("D1102").unwrap()],
                    conditions: None,
                    headcount: 1,
                    horizon: passerelle_domain::need::Horizon::WithinThreeMonths,
                    hiring_intent: passerelle_domain::need::HiringIntent::Possible,
                },
                surfaced_on: monday,
            },
            &w.meta(&w.as_employer()),
            &Views,
        )
        .await
        .unwrap();
    // A proposal the employer leaves unanswered.
    let awa = w.person("Awa", "awa@exemple.fr").await;
    let id = ImmersionId(Uuid::new_v4());
    w.immersion(
        id,
        &w.actor,
        ImmersionCommand::Propose {
            immersion_id: id,
            person_id: awa,
            employer_id: w.employer,
            need_id: None,
            objective: Objective::DiscoverJobOrSector,
            structure: w.mediator.structure,
            mediator: w.mediator.user_id,
            message: None,
            proposed_on: monday,
        },
    )
    .await;
    let first = w.flush().await;
    assert_eq!(
        sent(&first),
        pairs(&[
            (
                "camille.durand@ml-nantes.fr",
                "Nouveau besoin déposé par Boulangerie du Port"
            ),
            (
                "contact@boulangerie-du-port.fr",
                "Une immersion vous est proposée, Boulangerie du Port"
            ),
            (
                "awa@exemple.fr",
                "Une immersion chez Boulangerie du Port vous est proposée"
            ),
        ])
    );

    let mut by_day = BTreeMap::new();
    let mut day = date!(2026 - 03 - 03);
    while day <= date!(2026 - 03 - 17) {
        w.clock.set(morning(day));
        weekly.tick().await.unwrap();
        let mails = w.morning(day).await;
        if !mails.is_empty() {
            by_day.insert(day, mails);
        }
        day = day.next_day().unwrap();
    }
    let days: Vec<_> = by_day.iter().map(|(d, m)| (*d, sent(m))).collect();
    assert_eq!(
        days,
        [
            (
                date!(2026 - 03 - 09),
                pairs(&[
                    (
                        "camille.durand@ml-nantes.fr",
                        "Boulangerie du Port n'a pas répondu à une proposition depuis 7 jours"
                    ),
                    ("camille.durand@ml-nantes.fr", "Vos 2 tâches de la semaine"),
                ])
            ),
            (
                date!(2026 - 03 - 16),
                pairs(&[("camille.durand@ml-nantes.fr", "Vos 2 tâches de la semaine")])
            ),
        ]
    );
    // The digest lists the inbox as it stands: the same tasks, by title.
    let facts = passerelle_projections::inbox::facts(
        &w.db.pool,
        w.mediator.user_id.0,
        w.mediator.structure.0,
    )
    .await
    .unwrap();
    let tasks = passerelle_projections::inbox::tasks(
        &facts,
        date!(2026 - 03 - 16),
        morning(date!(2026 - 03 - 16)),
    );
    let last = &by_day[&date!(2026 - 03 - 16)][0];
    assert_eq!(tasks.len(), 2);
    for task in &tasks {
        assert!(last.text.contains(&task.title()), "{}", last.text);
    }
    let digest = by_day[&date!(2026 - 03 - 09)]
        .iter()
        .find(|m| m.subject.starts_with("Vos"))
        .unwrap();
    assert!(
        digest
            .text
            .contains("n'a pas répondu à la proposition d'immersion"),
        "{}",
        digest.text
    );
    assert!(
        digest.text.contains("a exprimé un besoin"),
        "{}",
        digest.text
    );
}

#[tokio::test]
async fn mail_queued_for_a_person_since_erased_is_not_sent() {
    let monday = date!(2026 - 03 - 02);
    let w = World::new(monday).await;
    w.clock.set(morning(monday) + Duration::hours(1));
    let awa = w.person("Awa", "awa@exemple.fr").await;
    let id = w
        .drafted(
            awa,
            "Awa",
            "lucie.bernard@boulangerie-du-port.fr",
            (monday + Duration::days(7), monday + Duration::days(11)),
        )
        .await;
    // Queued, not yet sent, when her data is erased.
    w.projections.catch_up().await.unwrap();
    let store = w.projections.store().clone();
    let metadata = passerelle_store::Metadata {
        actor: format!("user:{}", w.mediator.user_id),
        role: "mediator".into(),
        structure: w.mediator.structure.0,
        correlation_id: Uuid::new_v4(),
        causation_id: None,
        command_id: Uuid::new_v4(),
    };
    let mut tx = w.db.pool.begin().await.unwrap();
    let (result, event) = store
        .erase_subject_in(&mut tx, awa.0, &metadata)
        .await
        .unwrap();
    let recorded = result.recorded(
        std::slice::from_ref(&event),
        &metadata,
        &format!("subject-{}", awa.0),
    );
    w.projections
        .apply_inline(&mut tx, &recorded)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    w.projections.catch_up().await.unwrap();

    let report = w.sender().send_due().await.unwrap();
    let to_her: Vec<_> = w
        .sink
        .mails()
        .into_iter()
        .filter(|m| m.rcpt_to.contains(&"awa@exemple.fr".to_owned()))
        .collect();
    assert!(
        to_her.is_empty(),
        "{:?}",
        to_her.iter().map(|m| &m.subject).collect::<Vec<_>>()
    );
    // Her proposal and her signature request, both dropped.
    assert_eq!(report.cancelled, 2, "{report:?}");
    assert_eq!(
        report.sent, 3,
        "the employer's and the other signatories' mails go"
    );
    let _ = id;
}

/// Everything written to the log while it is held.
/// A process-wide subscriber that takes every event and writes none, set
/// before the first test of this binary logs anything. tracing decides
/// once per log line, process-wide, whether anyone listens to it, from the
/// first thread that reaches it: a test thread with no subscriber would
/// settle « never » for a line (the sender's « mail not sent ») that the
/// test capturing the log then waits for in vain. With this one, the answer
/// is always « yes », and each thread's own subscriber, if it has one,
/// receives the line.
fn log_baseline() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = tracing::subscriber::set_global_default(tracing_subscriber::registry());
    });
}

#[derive(Clone, Default)]
struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

#[tokio::test]
async fn the_log_names_mails_by_template_and_id_never_by_recipient_address_or_subject() {
    let logs = Captured::default();
    let _logging = tracing::subscriber::set_default(
        tracing_subscriber::fmt()
            .with_writer(logs.clone())
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .finish(),
    );
    let monday = date!(2026 - 03 - 02);
    let w = World::new(monday).await;
    w.clock.set(morning(monday) + Duration::hours(1));
    let aminata = w.person("Aminata", "aminata@exemple.fr").await;
    let id = w
        .drafted(
            aminata,
            "Aminata",
            "lucie.bernard@boulangerie-du-port.fr",
            (date!(2026 - 03 - 09), date!(2026 - 03 - 20)),
        )
        .await;
    w.projections.catch_up().await.unwrap();
    // A mail whose subject names her.
    queue(
        &w,
        &[Entry {
            key: "test:follow-up".into(),
            template: Template::FollowUpRequest,
            recipient: Recipient::Staff {
                user_id: w.mediator.user_id.0,
            },
            params: Params {
                immersion_id: Some(id.0),
                milestone: Some("one_month".into()),
                ..Params::default()
            },
            structure: Some(w.mediator.structure.0),
        }],
    )
    .await;

    // The server turns every recipient away, quoting the address: the
    // answer is kept for the staff with the address masked, and not logged.
    w.sink.set_mode("refuse_rcpt");
    let report = w.sender().send_due().await.unwrap();
    assert_eq!(report.retried, 6, "{report:?}");
    let deliveries = outbox::deliveries(&w.db.pool, &DeliveryFilter::default(), 100)
        .await
        .unwrap();
    assert!(
        deliveries
            .iter()
            .any(|d| d.last_answer.as_deref().is_some_and(|a| a
                .contains("Recipient address rejected")
                && a.contains("[adresse masquée]"))),
        "{deliveries:?}"
    );
    assert!(
        !deliveries
            .iter()
            .any(|d| d.last_answer.as_deref().is_some_and(|a| a.contains('@'))),
        "{deliveries:?}"
    );

    // Then written as files, as without an SMTP server.
    let dir = std::env::temp_dir().join(format!("passerelle-mail-{}", Uuid::new_v4()));
    let files = Sender::new(
        w.db.pool.clone(),
        Mailer::files(dir.clone(), "Passerelle <ne-pas-repondre@passerelle.test>").unwrap(),
        w.clock.clone(),
        SenderSettings::default(),
    );
    w.clock.advance(Duration::minutes(1));
    let report = files.send_due().await.unwrap();
    assert_eq!(report.sent, 6, "{report:?}");
    // They carry links that open sessions: the service's user alone reads them.
    use std::os::unix::fs::PermissionsExt as _;
    let dir_mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
    let modes: Vec<u32> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|f| f.unwrap().metadata().unwrap().permissions().mode() & 0o777)
        .collect();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(modes.len(), 6);
    assert_eq!(dir_mode, 0o700);
    assert!(modes.iter().all(|m| *m == 0o600), "{modes:?}");

    let text = logs.text();
    assert!(text.contains("mail not sent"), "{text}");
    assert!(text.contains("mail written"), "{text}");
    for personal in [
        "Aminata",
        "aminata",
        "Diallo",
        "exemple.fr",
        "Camille",
        "camille.durand",
        "Jean Martin",
        "jean.martin",
        "Lucie",
        "lucie.bernard",
        "contact@boulangerie-du-port.fr",
        // Subjects, whole or in part.
        "Suivi à 1 mois",
        "vous est proposée",
        "Convention d'immersion à signer",
    ] {
        assert!(!text.contains(personal), "{personal:?} in the log:\n{text}");
    }
}

#[tokio::test]
async fn a_dead_senders_mails_go_again_once_its_configured_lease_has_passed() {
    let w = World::new(date!(2026 - 03 - 02)).await;
    queue(&w, &staff_mails(&w, 1, "lease").await).await;
    let lease = Duration::seconds(30);
    let settings = || SenderSettings {
        lease,
        ..SenderSettings::default()
    };
    // The sender dies while the server holds its mail.
    w.sink.set_mode("hang");
    let dying = w.sender_with(settings());
    assert_eq!(dying.lease(), lease);
    let running = tokio::spawn(async move { dying.send_due().await });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !w.sink.hanging() {
        assert!(std::time::Instant::now() < deadline, "the mail never came");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    running.abort();
    let _ = running.await;
    w.sink.set_mode("accept");

    w.clock.advance(lease - Duration::seconds(1));
    assert_eq!(w.sender_with(settings()).send_due().await.unwrap().sent, 0);
    w.clock.advance(Duration::seconds(1));
    assert_eq!(w.sender_with(settings()).send_due().await.unwrap().sent, 1);
    assert_eq!(w.sink.mails().len(), 1);

    // A lease shorter than a send can take would let a second sender take
    // a mail while it goes: it is raised to the send's limit (10 s here)
    // and the time to record the outcome.
    queue(&w, &staff_mails(&w, 1, "short").await).await;
    let short = || SenderSettings {
        lease: Duration::seconds(1),
        ..SenderSettings::default()
    };
    let held = w.sender_with(short());
    assert_eq!(held.lease(), Duration::seconds(20));
    w.sink.set_mode("hang");
    let running = tokio::spawn(async move { held.send_due().await });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let state: String =
            sqlx::query_scalar("select state from outbox where key = 'test:short:0'")
                .fetch_one(&w.db.pool)
                .await
                .unwrap();
        if state == "sending" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the mail was never taken"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    running.abort();
    let _ = running.await;
    w.sink.set_mode("accept");
    w.clock.advance(Duration::seconds(1));
    assert_eq!(w.sender_with(short()).send_due().await.unwrap().sent, 0);
    w.clock.advance(Duration::seconds(19));
    assert_eq!(w.sender_with(short()).send_due().await.unwrap().sent, 1);
}

#[tokio::test]
async fn a_send_the_server_never_answers_is_cut_off_within_the_lease_and_retried() {
    let w = World::new(date!(2026 - 03 - 02)).await;
    queue(&w, &staff_mails(&w, 1, "hang").await).await;
    let sender = Sender::new(
        w.db.pool.clone(),
        Mailer::smtp(
            &w.sink.url(),
            "Passerelle <ne-pas-repondre@passerelle.test>",
            std::time::Duration::from_secs(1),
        )
        .unwrap(),
        w.clock.clone(),
        SenderSettings {
            public_url: "https://passerelle.test".into(),
            ..SenderSettings::default()
        },
    );
    w.sink.set_mode("hang");
    let report = tokio::time::timeout(std::time::Duration::from_secs(20), sender.send_due())
        .await
        .expect("the send is cut off")
        .unwrap();
    assert_eq!(report.retried, 1, "{report:?}");
    let d = outbox::deliveries(&w.db.pool, &DeliveryFilter::default(), 10)
        .await
        .unwrap()
        .remove(0);
    assert_eq!((d.state.as_str(), d.attempts), ("queued", 1));
    assert!(
        d.last_answer.as_deref().unwrap().contains("pas de réponse"),
        "{d:?}"
    );

    w.sink.set_mode("accept");
    w.clock.advance(Duration::minutes(1));
    assert_eq!(sender.send_due().await.unwrap().sent, 1);
    assert_eq!(w.sink.mails().len(), 1);
}

#[tokio::test]
async fn a_stopping_sender_finishes_its_mail_and_gives_the_rest_of_its_claim_back_at_once() {
    let w = World::new(date!(2026 - 03 - 02)).await;
    queue(&w, &staff_mails(&w, 6, "stop").await).await;
    // Three go; the server holds the fourth while the sender is told to stop.
    w.sink.set_mode("hang_after:3");
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let running = tokio::spawn(w.sender().run(stopped));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !w.sink.hanging() {
        assert!(
            std::time::Instant::now() < deadline,
            "the fourth mail never came"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    stop.send(true).unwrap();
    w.sink.set_mode("accept");
    // The mail in flight ends (cut off by the send's limit), then the
    // sender stops without taking the two it still held.
    tokio::time::timeout(std::time::Duration::from_secs(30), running)
        .await
        .expect("the sender stops")
        .unwrap();
    assert_eq!(w.sink.mails().len(), 3);
    let held: i64 = sqlx::query_scalar(
        "select count(*) from outbox where key like 'test:stop:%'
           and state = 'queued' and claimed_until is null and attempts = 0",
    )
    .fetch_one(&w.db.pool)
    .await
    .unwrap();
    assert_eq!(
        held, 2,
        "the rest of the claim is given back, its attempt not counted"
    );

    // Another sender takes them at once, before the claim would have lapsed.
    let report = w.sender().send_due().await.unwrap();
    assert_eq!(report.sent, 2);
    let mails = w.sink.mails();
    assert_eq!(mails.len(), 5);
    let ids: std::collections::HashSet<_> = mails.iter().map(|m| m.message_id.clone()).collect();
    assert_eq!(ids.len(), 5, "no mail twice");
}
