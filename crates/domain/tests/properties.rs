//! Property tests: random command sequences never reach a state that breaks
//! an invariant, `evolve` is deterministic, and value objects hold under
//! arbitrary input.

mod support;

use std::collections::BTreeSet;

use passerelle_domain::immersion::*;
use passerelle_domain::person::*;
use passerelle_domain::values::*;
use passerelle_domain::{Decider, Personal};
use proptest::prelude::*;
use support::*;
use time::macros::date;
use time::{Date, Duration};

// Immersions.

/// A convention drawn from a small universe that straddles every boundary:
/// periods of 1 to 35 days, 30 to 50 hours, people aged 15 to 40, with or
/// without a legal representative, a tutor who may be the person.
fn arb_convention() -> impl Strategy<Value = Convention> {
    (
        0i64..30,
        1i64..36,
        30u32..51,
        prop_oneof![
            Just(date!(2011 - 01 - 01)),
            Just(date!(2009 - 06 - 01)),
            Just(date!(1990 - 01 - 01))
        ],
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        prop_oneof![
            Just(Objective::DiscoverJobOrSector),
            Just(Objective::ConfirmProject)
        ],
    )
        .prop_map(
            |(offset, days, h, birth, representative, tutor_is_person, attested, objective)| {
                let start = TODAY + Duration::days(offset);
                let mut c = convention();
                c.period = range(start, start + Duration::days(days - 1));
                c.weekly_hours = hours(h);
                if let Personal::Known(identity) = &mut c.person.identity {
                    identity.birth_date = birth;
                }
                if representative {
                    c.person.legal_representative = Some(Personal::Known(Signer {
                        name: label("Mariam Diallo"),
                        job_title: None,
                        email: None,
                        phone: None,
                    }));
                }
                if let (true, Personal::Known(tutor)) = (tutor_is_person, &mut c.host.tutor) {
                    tutor.name = label("Awa Diallo");
                }
                c.forbidden_uses_excluded = attested;
                c.objective = objective;
                c
            },
        )
}

fn arb_signatory() -> impl Strategy<Value = Signatory> {
    prop_oneof![
        Just(Signatory::Person),
        Just(Signatory::LegalRepresentative),
        Just(Signatory::Host),
        Just(Signatory::Prescriber),
        Just(Signatory::SupportStructure),
        Just(Signatory::CurrentEmployer),
    ]
}

fn arb_respondent() -> impl Strategy<Value = Respondent> {
    prop_oneof![Just(Respondent::Person), Just(Respondent::Employer)]
}

/// One step of a random walk: a command as drawn, or the natural next step
/// of the stage the walk has reached (a signature still missing, the first
/// or last day, a renewal right after the period…), so that walks reach the
/// deep stages as well as the refusals.
#[derive(Debug, Clone)]
enum Step {
    Raw(ImmersionCommand),
    /// A choice among the next steps, and a renewal's length in days.
    Progress(u8, i64),
}

impl Step {
    /// The command, and the day it is decided on (the clock only moves
    /// forward).
    fn resolve(self, state: &ImmersionState, today: Date) -> (ImmersionCommand, Date) {
        let Step::Progress(choice, renewal_days) = self else {
            let Step::Raw(command) = self else {
                unreachable!()
            };
            return (command, today);
        };
        let current = state.convention.clone();
        let missing = state.missing_signatures();
        match (state.stage, current) {
            (Stage::NotProposed, _) => (propose(), today),
            (Stage::Proposed, _) if !state.accepted_by_person || !state.accepted_by_employer => (
                ImmersionCommand::Accept {
                    by: if state.accepted_by_person {
                        Respondent::Employer
                    } else {
                        Respondent::Person
                    },
                    answered_on: today,
                },
                today,
            ),
            (Stage::Proposed, _) => {
                let start = today + Duration::days(7);
                (
                    ImmersionCommand::DraftConvention {
                        convention: Box::new(Convention {
                            period: range(start, start + Duration::days(11)),
                            ..convention()
                        }),
                    },
                    today,
                )
            }
            (Stage::Drafted | Stage::Started, _) if !missing.is_empty() => {
                (online(missing[usize::from(choice) % missing.len()]), today)
            }
            (Stage::Drafted, _) => (ImmersionCommand::Validate { by: mediator() }, today),
            (Stage::Started, _) if state.renewal.as_ref().is_some_and(|r| !r.validated) => {
                (ImmersionCommand::Validate { by: mediator() }, today)
            }
            (Stage::Validated, Some(c)) => match choice % 3 {
                0 => (
                    ImmersionCommand::Cancel {
                        by: Initiator::Person,
                        reason: text("Déménagement"),
                    },
                    today,
                ),
                _ => {
                    let day = today.max(c.period.start());
                    (ImmersionCommand::Start { started_on: day }, day)
                }
            },
            (Stage::Started, Some(c)) => match (choice % 4, state.validated_renewal().is_some()) {
                (0, false) | (1, true) => (
                    ImmersionCommand::Interrupt {
                        by: Initiator::Employer,
                        reason: text("Absences répétées"),
                        interrupted_on: today,
                    },
                    today,
                ),
                (1 | 2, false) | (0, true) => {
                    let start = c.period.end() + Duration::days(1);
                    let terms = RenewalTerms {
                        period: range(start, start + Duration::days(renewal_days - 1)),
                        schedule: c.schedule,
                        weekly_hours: c.weekly_hours,
                        objective: c.objective,
                        goals: c.goals,
                        why_goals_not_reached: text("Pas assez pratiqué").into(),
                    };
                    (ImmersionCommand::Renew { terms }, today)
                }
                _ => {
                    let day = today.max(state.planned_end().unwrap());
                    (ImmersionCommand::Complete { completed_on: day }, day)
                }
            },
            // Either day corrected, to a day near it that the rules may
            // refuse (the invariants hold either way).
            (Stage::Completed | Stage::Interrupted, _) if choice % 4 == 2 => (
                ImmersionCommand::CorrectEnd {
                    ended_on: state.ended_on.unwrap() + Duration::days(renewal_days % 7 - 3),
                    reason: text("Jour noté par erreur"),
                    corrected_on: today,
                },
                today,
            ),
            (Stage::Completed | Stage::Interrupted, Some(c)) if choice % 4 == 3 => (
                ImmersionCommand::CorrectStart {
                    started_on: c.period.start() + Duration::days(renewal_days % 12),
                    reason: text("Jour noté par erreur"),
                    corrected_on: today,
                },
                today,
            ),
            (Stage::Completed | Stage::Interrupted, _) => {
                let milestone = [Milestone::End, Milestone::OneMonth][usize::from(choice) % 2];
                let day = today.max(add_months(state.ended_on.unwrap(), milestone.months()));
                (
                    ImmersionCommand::RecordOutcome {
                        milestone,
                        outcome: Outcome::NewImmersion,
                        recorded_on: day,
                    },
                    day,
                )
            }
            _ => (propose(), today),
        }
    }
}

fn arb_step() -> impl Strategy<Value = (i64, Step)> {
    let progress = (any::<u8>(), 1i64..20).prop_map(|(c, d)| Step::Progress(c, d));
    let advance = prop_oneof![8 => Just(0i64), 2 => 1i64..6];
    (
        advance,
        prop_oneof![1 => arb_command().prop_map(Step::Raw), 2 => progress],
    )
}

/// A command drawn without looking at the state; what ends an immersion
/// early is drawn rarely, so that walks also go deep.
fn arb_command() -> impl Strategy<Value = ImmersionCommand> {
    let day = || (0i64..70).prop_map(|d| TODAY + Duration::days(d));
    // Lengths near a month are drawn often: that is where the limits bite.
    let valid_convention =
        (0i64..30, prop_oneof![1i64..32, 28i64..32]).prop_map(|(offset, days)| {
            let start = TODAY + Duration::days(offset);
            Convention {
                period: range(start, start + Duration::days(days - 1)),
                ..convention()
            }
        });
    prop_oneof![
        1 => Just(propose()),
        4 => (arb_respondent(), prop_oneof![3 => Just(TODAY), 1 => day()])
            .prop_map(|(by, answered_on)| ImmersionCommand::Accept { by, answered_on }),
        1 => arb_respondent().prop_map(|by| ImmersionCommand::Decline {
            by,
            reason: text("Pas disponible"),
            answered_on: TODAY,
        }),
        2 => arb_convention().prop_map(|c| ImmersionCommand::DraftConvention {
            convention: Box::new(c)
        }),
        4 => valid_convention.prop_map(|c| ImmersionCommand::DraftConvention {
            convention: Box::new(c)
        }),
        2 => arb_signatory().prop_map(online),
        2 => Just(ImmersionCommand::Prevalidate { by: mediator() }),
        4 => Just(ImmersionCommand::Validate { by: mediator() }),
        1 => Just(ImmersionCommand::Reject {
            by: mediator(),
            justification: text("Non conforme"),
        }),
        2 => Just(ImmersionCommand::Cancel {
            by: Initiator::Employer,
            reason: text("Fermeture"),
        }),
        1 => day().prop_map(|started_on| ImmersionCommand::Start { started_on }),
        1 => day().prop_map(|interrupted_on| ImmersionCommand::Interrupt {
            by: Initiator::Person,
            reason: text("Raisons personnelles"),
            interrupted_on,
        }),
        1 => day().prop_map(|completed_on| ImmersionCommand::Complete { completed_on }),
        1 => (0i64..70, 1i64..36, any::<bool>(), any::<bool>()).prop_map(
            |(offset, days, same_objective, same_goals)| {
                let start = TODAY + Duration::days(offset);
                let c = convention();
                ImmersionCommand::Renew {
                    terms: RenewalTerms {
                        period: range(start, start + Duration::days(days - 1)),
                        schedule: c.schedule,
                        weekly_hours: c.weekly_hours,
                        objective: if same_objective {
                            c.objective
                        } else {
                            Objective::InitiateRecruitment
                        },
                        goals: if same_goals { c.goals } else { text("Autre chose") },
                        why_goals_not_reached: text("Pas assez pratiqué").into(),
                    },
                }
            }
        ),
        2 => (any::<bool>(), day()).prop_map(|(goals_reached, recorded_on)| {
            ImmersionCommand::RecordFeedback {
                feedback: Feedback::Mediator(MediatorFeedback {
                    notes: Personal::Known(text("Notes")),
                    goals_reached,
                    next_steps: None,
                }),
                recorded_on,
            }
        }),
        1 => day().prop_map(|recorded_on| ImmersionCommand::RecordOutcome {
            milestone: Milestone::OneMonth,
            outcome: Outcome::Training,
            recorded_on,
        }),
    ]
}

/// Earlier conventions with the host, all within 12 months of any period
/// drawn here, so their days always add up with the immersion's.
fn arb_history() -> impl Strategy<Value = Vec<PriorConvention>> {
    let count = prop_oneof![1 => Just(0usize), 2 => Just(1), 1 => Just(2)];
    count
        .prop_flat_map(|n| {
            proptest::collection::vec((0i64..40, prop_oneof![1i64..32, 25i64..32]), n)
        })
        .prop_map(|priors| {
            priors
                .into_iter()
                .enumerate()
                .map(|(i, (offset, days))| {
                    let start = date!(2025 - 11 - 03) + Duration::days(offset + 45 * i as i64);
                    prior(
                        Objective::ConfirmProject,
                        &format!("Objectif {i}"),
                        start,
                        start + Duration::days(days - 1),
                    )
                })
                .collect()
        })
}

fn check_invariants(
    before: &ImmersionState,
    events: &[ImmersionEvent],
    after: &ImmersionState,
    log: &[ImmersionEvent],
    context: &ImmersionContext,
) -> Result<(), TestCaseError> {
    for event in events {
        match event {
            ImmersionEvent::ConventionValidated(e) => {
                prop_assert!(before.missing_signatures().is_empty(), "validated unsigned");
                if context.prevalidation_required {
                    let prevalidated = if e.renewal {
                        before.renewal.as_ref().is_some_and(|r| r.prevalidated)
                    } else {
                        before.prevalidated
                    };
                    prop_assert!(prevalidated, "validated without pre-validation");
                }
            }
            ImmersionEvent::ImmersionStarted(_) => {
                prop_assert_eq!(before.stage, Stage::Validated)
            }
            ImmersionEvent::ConventionCancelled(_) => {
                prop_assert_eq!(
                    before.stage,
                    Stage::Validated,
                    "cancelled outside validated"
                )
            }
            ImmersionEvent::ConventionRenewed(_) => {
                prop_assert_eq!(before.stage, Stage::Started);
                prop_assert!(before.validated_renewal().is_none(), "second renewal");
                prop_assert!(
                    !before.feedback.values().any(Feedback::goals_reached),
                    "renewed with goals reached"
                );
            }
            _ => {}
        }
    }
    let renewals_validated = log
        .iter()
        .filter(|e| matches!(e, ImmersionEvent::ConventionValidated(v) if v.renewal))
        .count();
    prop_assert!(renewals_validated <= 1, "renewed twice");
    if let Some(c) = &after.convention {
        prop_assert!(
            c.period.end() <= one_month_after(c.period.start()),
            "over a month"
        );
        prop_assert!(c.weekly_hours.minutes() <= 48 * 60, "over 48 h");
        prop_assert!(c.forbidden_uses_excluded);
        let birth = c.person.identity.known().unwrap().birth_date;
        prop_assert!(age_on(birth, c.period.start()) >= 16, "under 16");
        if age_on(birth, c.period.start()) < 18 {
            prop_assert!(c.person.legal_representative.is_some(), "minor alone");
        }
        prop_assert!(
            c.host.tutor.known().unwrap().name.as_str() != "Awa Diallo",
            "tutor is the person"
        );
        let required = c.required_signatories(&c.period);
        prop_assert!(
            after.signatures.keys().all(|s| required.contains(s)),
            "a signature of someone who does not sign"
        );
        if let Some(r) = &after.renewal {
            prop_assert_eq!(r.terms.objective, c.objective);
            prop_assert_eq!(&r.terms.goals, &c.goals);
            prop_assert!(r.terms.period.days() <= c.period.days());
            prop_assert!(r.terms.period.start() > c.period.end());
            prop_assert!(r.terms.period.end() <= one_month_after(r.terms.period.start()));
        }
        let history = &context.history_with_host;
        prop_assert!(
            history.len() < 2,
            "a third convention with the host in 12 months"
        );
        let days: i64 = history.iter().map(|p| p.days).sum::<i64>() + after.planned_days();
        prop_assert!(days <= 60, "{} days with the host", days);
    }
    if matches!(
        after.stage,
        Stage::Started | Stage::Interrupted | Stage::Completed
    ) {
        prop_assert!(after.validated_on.is_some(), "ran without validation");
        let start = after.started_on.unwrap();
        prop_assert!(after.convention.as_ref().unwrap().period.contains(start));
    }
    if let Some(ended) = after.ended_on {
        prop_assert!(
            ended >= after.started_on.unwrap(),
            "ended before it started"
        );
        // An interruption within the planned days, a completion from the
        // last of them on.
        let planned_end = after.planned_end().unwrap();
        match after.stage {
            Stage::Interrupted => prop_assert!(ended <= planned_end, "interrupted past its end"),
            Stage::Completed => prop_assert!(ended >= planned_end, "completed before its end"),
            _ => {}
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn random_immersion_commands_never_break_an_invariant(
        steps in proptest::collection::vec(arb_step(), 1..60),
        history in arb_history(),
        prevalidation_required in any::<bool>(),
    ) {
        let mut log: Vec<ImmersionEvent> = Vec::new();
        let mut state = ImmersionState::default();
        let mut today = TODAY;
        let mut accepted = 0;
        for (advance, step) in steps {
            today += Duration::days(advance);
            let (command, on) = step.resolve(&state, today);
            today = on;
            let mut context = context(today);
            context.history_with_host = history.clone();
            context.prevalidation_required = prevalidation_required;
            let decided = Immersion::decide(&command, &state, &context);
            if state.stage.is_final() {
                prop_assert!(decided.is_err(), "a final stage took {:?}", command);
            }
            let Ok(events) = decided else { continue };
            accepted += 1;
            let after = events.iter().fold(state.clone(), Immersion::evolve);
            log.extend(events.iter().cloned());
            check_invariants(&state, &events, &after, &log, &context)?;
            state = after;
        }
        // evolve is deterministic: folding the whole log again gives the
        // same state, as does folding it twice.
        prop_assert_eq!(&Immersion::fold(&log), &state);
        prop_assert_eq!(Immersion::fold(&log), Immersion::fold(&log));
        // The stored JSON of each event reads back as the same event.
        for event in &log {
            let json = serde_json::to_string(event).unwrap();
            prop_assert_eq!(&serde_json::from_str::<ImmersionEvent>(&json).unwrap(), event);
        }
        let _ = accepted;
    }
}

/// The generator reaches deep stages, or the property above would prove
/// little: walk a journey from random pieces and require that some runs
/// start, renew and complete.
#[test]
fn the_generator_reaches_every_stage() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let mut seen = BTreeSet::new();
    let strategy = proptest::collection::vec(arb_step(), 1..80);
    for _ in 0..1000 {
        let steps = strategy.new_tree(&mut runner).unwrap().current();
        let mut state = ImmersionState::default();
        let mut today = TODAY;
        for (advance, step) in steps {
            today += Duration::days(advance);
            let (command, on) = step.resolve(&state, today);
            today = on;
            if let Ok(events) = Immersion::decide(&command, &state, &context(today)) {
                for e in &events {
                    seen.insert(passerelle_domain::EventType::event_type(e));
                    if matches!(e, ImmersionEvent::ConventionValidated(v) if v.renewal) {
                        seen.insert("renewal validated");
                    }
                }
                state = events.iter().fold(state, Immersion::evolve);
            }
        }
    }
    for wanted in [
        "convention_drafted",
        "convention_modified",
        "convention_signed",
        "convention_validated",
        "convention_cancelled",
        "immersion_started",
        "convention_renewed",
        "renewal validated",
        "immersion_completed",
        "immersion_interrupted",
        "feedback_recorded",
        "outcome_recorded",
        "end_corrected",
        "start_corrected",
    ] {
        assert!(seen.contains(wanted), "never reached {wanted}: {seen:?}");
    }
}

// People.

fn arb_person_command() -> impl Strategy<Value = PersonCommand> {
    let id = || (0u8..3).prop_map(|i| uuid(&format!("x{i}")));
    let project = (0usize..3, 0u16..400).prop_map(|(i, radius)| Project {
        target_rome_codes: vec![rome(["D1102", "D1104", "G1602"][i])],
        contract_wishes: vec![],
        mobility_radius_km: radius,
        constraints: None,
    });
    let cause = prop_oneof![
        id().prop_map(|u| ReadjustmentCause::JobInquiry {
            inquiry_id: InquiryId(u)
        }),
        id().prop_map(|u| ReadjustmentCause::PeerMeeting {
            meeting_id: MeetingId(u)
        }),
        id().prop_map(|u| ReadjustmentCause::Mentorship {
            mentorship_id: MentorshipId(u)
        }),
        id().prop_map(|u| ReadjustmentCause::ImmersionFeedback {
            immersion_id: ImmersionId(u)
        }),
    ];
    let purpose = prop_oneof![
        Just(ConsentPurpose::Mentoring),
        Just(ConsentPurpose::Testimony)
    ];
    prop_oneof![
        project
            .clone()
            .prop_map(|project| PersonCommand::StateProject {
                project,
                stated_on: TODAY
            }),
        (project.clone(), cause.clone()).prop_map(|(project, cause)| {
            PersonCommand::ReadjustProject {
                project,
                cause,
                what_changed: text("Changement"),
                readjusted_on: TODAY,
            }
        }),
        (project, cause).prop_map(|(project, cause)| PersonCommand::ReadjustProject {
            project,
            cause,
            what_changed: text("Changement"),
            readjusted_on: TODAY,
        }),
        id().prop_map(|u| PersonCommand::LogJobInquiry {
            inquiry_id: InquiryId(u),
            held_on: TODAY,
            rome_code: rome("D1104"),
            with_whom: label("Une entreprise"),
            learned: None,
        }),
        id().prop_map(|u| PersonCommand::LogPeerMeeting {
            meeting_id: MeetingId(u),
            held_on: TODAY,
            testimony_id: None,
            peer: label("Un pair"),
            rome_codes: vec![rome("D1104")],
            takeaways: None,
        }),
        id().prop_map(|u| PersonCommand::StartMentorship {
            mentorship_id: MentorshipId(u),
            mentor: label("Un parrain"),
            mentor_job: None,
            started_on: TODAY,
        }),
        purpose
            .clone()
            .prop_map(|purpose| PersonCommand::GiveConsent {
                purpose,
                text_version: label("v1"),
                proof: ConsentProof::Online,
                given_on: TODAY,
            }),
        purpose.prop_map(|purpose| PersonCommand::WithdrawConsent {
            purpose,
            withdrawn_on: TODAY
        }),
        Just(PersonCommand::Exit {
            reason: ExitReason::Training,
            exited_on: TODAY
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn a_persons_path_stays_coherent(
        commands in proptest::collection::vec(arb_person_command(), 0..50),
    ) {
        let context = PersonContext {
            today: TODAY,
            immersions_with_feedback: vec![ImmersionId(uuid("x0"))],
        };
        let enroll = PersonCommand::Enroll {
            person_id: person_id(),
            structure: structure(),
            referent: mediator(),
            identity: Identity {
                first_name: label("Awa"),
                last_name: label("Diallo"),
                birth_date: date!(2001 - 05 - 12),
                email: None,
                phone: None,
                address: None,
            },
            commune: None,
            legal_basis: LegalBasis::PublicInterestMission,
            enrolled_on: date!(2026 - 01 - 05),
        };
        let mut log = Person::decide(&enroll, &PersonState::default(), &context).unwrap();
        let mut state = Person::fold(&log);
        for command in commands {
            let Ok(events) = Person::decide(&command, &state, &context) else { continue };
            log.extend(events.iter().cloned());
            state = events.iter().fold(state, Person::evolve);
        }
        // Independent fold over the log: versions count up from 1, every
        // cause was logged before, nothing but a withdrawal after the exit,
        // mentorships only under consent.
        let mut version = 0;
        let mut inquiries = BTreeSet::new();
        let mut meetings = BTreeSet::new();
        let mut mentorships = BTreeSet::new();
        let mut consents = BTreeSet::new();
        let mut exited = false;
        for event in &log {
            if exited {
                prop_assert!(matches!(event, PersonEvent::ConsentWithdrawn(_)), "{:?} after the exit", event);
            }
            match event {
                PersonEvent::ProjectStated(e) => {
                    prop_assert_eq!(version, 0);
                    version = e.version;
                    prop_assert_eq!(version, 1);
                }
                PersonEvent::ProjectReadjusted(e) => {
                    prop_assert_eq!(e.version, version + 1);
                    version = e.version;
                    let known = match e.cause {
                        ReadjustmentCause::JobInquiry { inquiry_id } => inquiries.contains(&inquiry_id),
                        ReadjustmentCause::PeerMeeting { meeting_id } => meetings.contains(&meeting_id),
                        ReadjustmentCause::Mentorship { mentorship_id } => mentorships.contains(&mentorship_id),
                        ReadjustmentCause::ImmersionFeedback { immersion_id } => immersion_id == ImmersionId(uuid("x0")),
                    };
                    prop_assert!(known, "readjusted by an unknown experience");
                    prop_assert!(e.project.mobility_radius_km <= 300);
                }
                PersonEvent::JobInquiryHeld(e) => { prop_assert!(inquiries.insert(e.inquiry_id), "logged twice"); }
                PersonEvent::PeerMeetingHeld(e) => { prop_assert!(meetings.insert(e.meeting_id), "logged twice"); }
                PersonEvent::MentorshipStarted(e) => {
                    prop_assert!(consents.contains(&ConsentPurpose::Mentoring), "mentored without consent");
                    prop_assert!(mentorships.insert(e.mentorship_id), "started twice");
                }
                PersonEvent::ConsentGiven(e) => { prop_assert!(consents.insert(e.purpose), "given twice"); }
                PersonEvent::ConsentWithdrawn(e) => { prop_assert!(consents.remove(&e.purpose), "withdrawn unseen"); }
                PersonEvent::PersonExited(_) => exited = true,
                _ => {}
            }
        }
        prop_assert_eq!(state.project_version, version);
        prop_assert_eq!(&state.consents, &consents);
        prop_assert_eq!(Person::fold(&log), state);
    }
}

// Values.

/// Luhn, written another way than the crate's (from the left, with a
/// table of doubled digits), as an independent oracle.
fn luhn(digits: &str) -> bool {
    const DOUBLED: [u32; 10] = [0, 2, 4, 6, 8, 1, 3, 5, 7, 9];
    let parity = digits.len() % 2;
    let total: u32 = digits
        .chars()
        .enumerate()
        .map(|(i, c)| {
            let d = c.to_digit(10).unwrap();
            if i % 2 == parity {
                DOUBLED[d as usize]
            } else {
                d
            }
        })
        .sum();
    total.is_multiple_of(10)
}

proptest! {
    #[test]
    fn a_siret_accepted_is_14_digits_that_check(input in "[0-9 ]{0,20}|\\PC{0,20}") {
        if let Ok(siret) = Siret::parse(&input) {
            let digits = siret.as_str();
            prop_assert_eq!(digits.len(), 14);
            let la_poste = digits.starts_with("356000000") && digits != "35600000000048";
            if la_poste {
                prop_assert_eq!(digits.bytes().map(|b| u32::from(b - b'0')).sum::<u32>() % 5, 0);
            } else {
                prop_assert!(luhn(digits));
            }
            prop_assert_eq!(Siret::parse(&siret.to_string()).unwrap(), siret);
        }
    }

    #[test]
    fn any_thirteen_digits_complete_to_exactly_one_siret(prefix in "[1-9][0-9]{12}") {
        let valid: Vec<_> = (0..10)
            .filter(|d| Siret::parse(&format!("{prefix}{d}")).is_ok())
            .collect();
        if !prefix.starts_with("35600000") {
            prop_assert_eq!(valid.len(), 1, "{:?}", valid);
        }
    }

    #[test]
    fn phone_numbers_read_back_from_their_display(n in 100_000_000u32..1_000_000_000) {
        let typed = format!("0{n}");
        let phone = PhoneNumber::parse(&typed).unwrap();
        prop_assert_eq!(PhoneNumber::parse(&phone.to_string()).unwrap(), phone.clone());
        prop_assert_eq!(PhoneNumber::parse(phone.international()).unwrap(), phone);
    }

    #[test]
    fn one_month_is_28_to_31_days(offset in 0i64..20_000) {
        let start = date!(2000 - 01 - 01) + Duration::days(offset);
        let end = one_month_after(start);
        let days = (end - start).whole_days() + 1;
        prop_assert!((28..=31).contains(&days), "{} → {}: {} days", start, end, days);
        // The day after the month is the same day of the next month, or the
        // first of the month after when that day does not exist.
        let next: Date = end.next_day().unwrap();
        prop_assert!(next.day() == start.day() || next.day() == 1);
    }

    #[test]
    fn text_never_holds_blank_or_surrounding_space(input in "\\PC{0,300}") {
        if let Ok(t) = Label::parse(&input) {
            prop_assert!(!t.as_str().is_empty());
            prop_assert_eq!(t.as_str().trim(), t.as_str());
            prop_assert!(t.as_str().chars().count() <= Label::MAX_CHARS);
        }
    }
}
