//! The person and testimony deciders, given/when/then.

mod support;

use passerelle_domain::person::*;
use passerelle_domain::testimony::*;
use passerelle_domain::values::{
    AgeBand, ContractType, ImmersionId, InquiryId, MeetingId, MentorshipId, TestimonyId,
};
use passerelle_domain::{Decider, Personal, Rule};
use support::*;
use time::Duration;
use time::macros::date;

fn ctx() -> PersonContext {
    PersonContext {
        today: TODAY,
        immersions_with_feedback: vec![immersion_id()],
    }
}

fn identity() -> Identity {
    Identity {
        first_name: label("Awa"),
        last_name: label("Diallo"),
        birth_date: date!(2001 - 05 - 12),
        email: Some(email("awa.diallo@exemple.fr")),
        phone: None,
        address: None,
    }
}

fn enroll() -> PersonCommand {
    PersonCommand::Enroll {
        person_id: person_id(),
        structure: structure(),
        referent: mediator(),
        identity: identity(),
        commune: None,
        legal_basis: LegalBasis::PublicInterestMission,
        enrolled_on: date!(2026 - 01 - 05),
    }
}

fn project(codes: &[&str], radius: u16) -> Project {
    Project {
        target_rome_codes: codes.iter().map(|c| rome(c)).collect(),
        contract_wishes: vec![ContractType::Cdi, ContractType::Alternance],
        mobility_radius_km: radius,
        constraints: Some(Personal::Known(text("Pas de travail de nuit"))),
    }
}

/// A person enrolled on 5 January with a project and a job inquiry.
struct Path(Vec<PersonEvent>);

impl Path {
    fn new() -> Self {
        Path(Vec::new()).run(enroll())
    }

    #[track_caller]
    fn run(mut self, command: PersonCommand) -> Self {
        let state = Person::fold(&self.0);
        let events = Person::decide(&command, &state, &ctx()).expect("fixture command");
        self.0.extend(events);
        self
    }

    fn with_project() -> Self {
        Self::new().run(PersonCommand::StateProject {
            project: project(&["D1102"], 20),
            stated_on: date!(2026 - 01 - 12),
        })
    }

    fn with_inquiry() -> Self {
        Self::with_project().run(PersonCommand::LogJobInquiry {
            inquiry_id: InquiryId(uuid("enquete")),
            held_on: date!(2026 - 01 - 20),
            rome_code: rome("D1104"),
            with_whom: label("Pâtisserie Louise, Nantes"),
            learned: Some(text("La pâtisserie commence moins tôt")),
        })
    }
}

#[test]
fn enrolment_keeps_the_identity_personal_and_the_age_band_in_clear() {
    let events = given::<Person>(&[], ctx()).when(enroll()).events();
    let [PersonEvent::PersonEnrolled(e)] = &events[..] else {
        panic!("{events:?}")
    };
    assert_eq!(e.identity, Personal::Known(identity()));
    assert_eq!(e.age_band, AgeBand::Under26);
    given::<Person>(&events, ctx())
        .when(enroll())
        .refused(Rule::AlreadyExists, "personId");
    let mut unborn = identity();
    unborn.birth_date = TODAY + Duration::days(1);
    given::<Person>(&[], ctx())
        .when(PersonCommand::Enroll {
            person_id: person_id(),
            structure: structure(),
            referent: mediator(),
            identity: unborn,
            commune: None,
            legal_basis: LegalBasis::PublicInterestMission,
            enrolled_on: TODAY,
        })
        .refused(Rule::DateInFuture, "identity.birthDate");
}

/// A birth date after the enrolment, or one giving an age at it under 14
/// or over 100, is a slip of the keyboard.
#[test]
fn a_birth_date_must_be_plausible_at_enrolment_and_when_corrected() {
    let enrol = |birth_date, enrolled_on| {
        let mut identity = identity();
        identity.birth_date = birth_date;
        PersonCommand::Enroll {
            person_id: person_id(),
            structure: structure(),
            referent: mediator(),
            identity,
            commune: None,
            legal_basis: LegalBasis::PublicInterestMission,
            enrolled_on,
        }
    };
    let years_before = |years: i32| TODAY.replace_year(TODAY.year() - years).unwrap();
    for (birth, enrolled) in [
        (TODAY - Duration::days(10), TODAY - Duration::days(20)),
        (TODAY, TODAY),
        (years_before(14) + Duration::days(1), TODAY),
        (years_before(101), TODAY),
        (date!(1900 - 01 - 01), TODAY),
    ] {
        given::<Person>(&[], ctx())
            .when(enrol(birth, enrolled))
            .refused(Rule::BirthDateRange, "identity.birthDate");
    }
    for birth in [years_before(14), years_before(100), date!(1960 - 02 - 29)] {
        let events = given::<Person>(&[], ctx())
            .when(enrol(birth, TODAY))
            .events();
        assert!(
            matches!(&events[..], [PersonEvent::PersonEnrolled(_)]),
            "{birth}"
        );
    }
    given::<Person>(&Path::new().0, ctx())
        .when(correct(IdentityChanges {
            birth_date: Some(date!(1900 - 01 - 01)),
            ..IdentityChanges::default()
        }))
        .refused(Rule::BirthDateRange, "changes.birthDate");
}

#[test]
fn the_situation_is_in_the_persons_own_words() {
    given::<Person>(&Path::new().0, ctx())
        .when(PersonCommand::StateSituation {
            words: text("Je sors d'une formation en vente et je ne sais pas quoi faire"),
            stated_on: TODAY,
        })
        .then(vec![
            SituationStated {
                words: Personal::Known(text(
                    "Je sors d'une formation en vente et je ne sais pas quoi faire",
                )),
                stated_on: TODAY,
            }
            .into(),
        ]);
    given::<Person>(&Path::new().0, ctx())
        .when(PersonCommand::StateSituation {
            words: text("Avant l'inscription"),
            stated_on: date!(2026 - 01 - 04),
        })
        .refused(Rule::DateBeforeStart, "statedOn");
}

#[test]
fn a_project_is_stated_once_then_readjusted() {
    let path = Path::with_project();
    given::<Person>(&path.0, ctx())
        .when(PersonCommand::StateProject {
            project: project(&["D1104"], 20),
            stated_on: TODAY,
        })
        .refused(Rule::ProjectAlreadyStated, "project");
    given::<Person>(&Path::new().0, ctx())
        .when(PersonCommand::ReadjustProject {
            project: project(&["D1104"], 20),
            cause: ReadjustmentCause::ImmersionFeedback {
                immersion_id: immersion_id(),
            },
            what_changed: text("Pâtisserie plutôt que boulangerie"),
            readjusted_on: TODAY,
        })
        .refused(Rule::ProjectNotStated, "project");
    given::<Person>(&Path::new().0, ctx())
        .when(PersonCommand::StateProject {
            project: project(&[], 20),
            stated_on: TODAY,
        })
        .refused(Rule::Required, "project.targetRomeCodes");
    given::<Person>(&Path::new().0, ctx())
        .when(PersonCommand::StateProject {
            project: project(&["D1102"], 301),
            stated_on: TODAY,
        })
        .refused(Rule::MobilityRadiusRange, "project.mobilityRadiusKm");
}

#[test]
fn a_readjustment_names_the_experience_that_caused_it() {
    let path = Path::with_inquiry();
    let readjust = |cause| PersonCommand::ReadjustProject {
        project: project(&["D1104"], 20),
        cause,
        what_changed: text("Pâtisserie plutôt que boulangerie"),
        readjusted_on: TODAY,
    };
    let events = given::<Person>(&path.0, ctx())
        .when(readjust(ReadjustmentCause::JobInquiry {
            inquiry_id: InquiryId(uuid("enquete")),
        }))
        .events();
    let [PersonEvent::ProjectReadjusted(e)] = &events[..] else {
        panic!("{events:?}")
    };
    assert_eq!(e.version, 2);
    given::<Person>(&path.0, ctx())
        .when(readjust(ReadjustmentCause::ImmersionFeedback {
            immersion_id: immersion_id(),
        }))
        .events();
    for unknown in [
        ReadjustmentCause::JobInquiry {
            inquiry_id: InquiryId(uuid("autre")),
        },
        ReadjustmentCause::PeerMeeting {
            meeting_id: MeetingId(uuid("autre")),
        },
        ReadjustmentCause::Mentorship {
            mentorship_id: MentorshipId(uuid("autre")),
        },
        ReadjustmentCause::ImmersionFeedback {
            immersion_id: ImmersionId(uuid("sans-retour")),
        },
    ] {
        given::<Person>(&path.0, ctx())
            .when(readjust(unknown))
            .refused(Rule::ReadjustmentCauseUnknown, "cause");
    }
}

#[test]
fn a_readjustment_changes_the_project() {
    let path = Path::with_inquiry();
    given::<Person>(&path.0, ctx())
        .when(PersonCommand::ReadjustProject {
            // The same codes twice and the contracts in another order: the
            // same project.
            project: Project {
                target_rome_codes: vec![rome("D1102"), rome("D1102")],
                contract_wishes: vec![ContractType::Alternance, ContractType::Cdi],
                ..project(&["D1102"], 20)
            },
            cause: ReadjustmentCause::JobInquiry {
                inquiry_id: InquiryId(uuid("enquete")),
            },
            what_changed: text("Rien"),
            readjusted_on: TODAY,
        })
        .refused(Rule::ProjectUnchanged, "project");
}

#[test]
fn experiences_are_logged_once_and_not_in_the_future() {
    let path = Path::with_inquiry();
    let inquiry = |id: &str, held_on| PersonCommand::LogJobInquiry {
        inquiry_id: InquiryId(uuid(id)),
        held_on,
        rome_code: rome("D1104"),
        with_whom: label("Salon de l'artisanat"),
        learned: None,
    };
    given::<Person>(&path.0, ctx())
        .when(inquiry("enquete", TODAY))
        .refused(Rule::AlreadyExists, "inquiryId");
    given::<Person>(&path.0, ctx())
        .when(inquiry("demain", TODAY + Duration::days(1)))
        .refused(Rule::DateInFuture, "heldOn");
    given::<Person>(&path.0, ctx())
        .when(PersonCommand::LogPeerMeeting {
            meeting_id: MeetingId(uuid("rencontre")),
            held_on: TODAY,
            testimony_id: Some(TestimonyId(uuid("temoignage"))),
            peer: label("Ancienne apprentie pâtissière"),
            rome_codes: vec![rome("D1104")],
            takeaways: Some(text("L'apprentissage est dur la première année")),
        })
        .events();
}

#[test]
fn a_mentorship_needs_consent_and_ends_once() {
    let path = Path::new();
    let start = PersonCommand::StartMentorship {
        mentorship_id: MentorshipId(uuid("parrainage")),
        mentor: label("Marc Petit"),
        mentor_job: Some(rome("D1102")),
        started_on: TODAY,
    };
    given::<Person>(&path.0, ctx())
        .when(start.clone())
        .refused(Rule::ConsentNotGiven, "mentorshipId");
    let mentored = path
        .run(PersonCommand::GiveConsent {
            purpose: ConsentPurpose::Mentoring,
            text_version: label("parrainage-v2"),
            proof: ConsentProof::SignedForm,
            given_on: TODAY,
        })
        .run(start);
    let end = |ended_on| PersonCommand::EndMentorship {
        mentorship_id: MentorshipId(uuid("parrainage")),
        ended_on,
        reason: None,
    };
    given::<Person>(&mentored.0, ctx())
        .when(end(TODAY - Duration::days(1)))
        .refused(Rule::DateBeforeStart, "endedOn");
    let ended = mentored.run(end(TODAY));
    given::<Person>(&ended.0, ctx())
        .when(end(TODAY))
        .refused(Rule::MentorshipEnded, "mentorshipId");
    given::<Person>(&ended.0, ctx())
        .when(PersonCommand::EndMentorship {
            mentorship_id: MentorshipId(uuid("inconnu")),
            ended_on: TODAY,
            reason: None,
        })
        .refused(Rule::ExperienceUnknown, "mentorshipId");
}

#[test]
fn consents_are_given_and_withdrawn_per_purpose() {
    let give = |purpose| PersonCommand::GiveConsent {
        purpose,
        text_version: label("v1"),
        proof: ConsentProof::Oral {
            recorded_by: mediator(),
        },
        given_on: TODAY,
    };
    let consented = Path::new().run(give(ConsentPurpose::Testimony));
    given::<Person>(&consented.0, ctx())
        .when(give(ConsentPurpose::Testimony))
        .refused(Rule::ConsentAlreadyGiven, "purpose");
    given::<Person>(&consented.0, ctx())
        .when(PersonCommand::WithdrawConsent {
            purpose: ConsentPurpose::Mentoring,
            withdrawn_on: TODAY,
        })
        .refused(Rule::ConsentNotGiven, "purpose");
    let withdrawn = consented.run(PersonCommand::WithdrawConsent {
        purpose: ConsentPurpose::Testimony,
        withdrawn_on: TODAY,
    });
    assert!(!Person::fold(&withdrawn.0).has_consented(ConsentPurpose::Testimony));
}

#[test]
fn disability_recognition_is_recorded_only_with_consent() {
    let record = PersonCommand::RecordDisabilityRecognition {
        recognised: true,
        recorded_on: TODAY,
    };
    given::<Person>(&Path::new().0, ctx())
        .when(record.clone())
        .refused(Rule::ConsentNotGiven, "recognised");
    let consented = Path::new().run(PersonCommand::GiveConsent {
        purpose: ConsentPurpose::DisabilityRecognition,
        text_version: label("rqth-v1"),
        proof: ConsentProof::SignedForm,
        given_on: TODAY,
    });
    given::<Person>(&consented.0, ctx()).when(record).then(vec![
        DisabilityRecognitionRecorded {
            recognised: Personal::Known(true),
            recorded_on: TODAY,
        }
        .into(),
    ]);
}

#[test]
fn after_the_exit_only_a_consent_can_still_be_withdrawn() {
    let exited = Path::new()
        .run(PersonCommand::GiveConsent {
            purpose: ConsentPurpose::Testimony,
            text_version: label("v1"),
            proof: ConsentProof::Online,
            given_on: TODAY,
        })
        .run(PersonCommand::Exit {
            reason: ExitReason::Employment {
                contract: ContractType::CddSixMonthsOrMore,
            },
            exited_on: TODAY,
        });
    given::<Person>(&exited.0, ctx())
        .when(PersonCommand::StateSituation {
            words: text("Encore un mot"),
            stated_on: TODAY,
        })
        .refused(Rule::PersonExited, "personId");
    given::<Person>(&exited.0, ctx())
        .when(PersonCommand::WithdrawConsent {
            purpose: ConsentPurpose::Testimony,
            withdrawn_on: TODAY,
        })
        .events();
}

fn erase() -> PersonCommand {
    PersonCommand::Erase {
        by: mediator(),
        reason: ErasureReason::PersonRequest,
        explanation: Some(text("Demande écrite de Mme Diallo")),
        erased_on: TODAY,
    }
}

#[test]
fn an_erasure_keeps_who_when_and_why_in_clear_and_the_explanation_personal() {
    given::<Person>(&Path::with_project().0, ctx())
        .when(erase())
        .then(vec![
            PersonErased {
                by: mediator(),
                reason: ErasureReason::PersonRequest,
                explanation: Some(Personal::Known(text("Demande écrite de Mme Diallo"))),
                erased_on: TODAY,
            }
            .into(),
        ]);
}

#[test]
fn after_the_erasure_every_command_is_refused_even_another_erasure() {
    let erased = Path::with_project().run(erase());
    let refused = given::<Person>(&erased.0, ctx())
        .when(PersonCommand::StateSituation {
            words: text("Encore un mot"),
            stated_on: TODAY,
        })
        .refused(Rule::PersonErased, "personId");
    assert!(refused.message.contains("effacées"), "{}", refused.message);
    given::<Person>(&erased.0, ctx())
        .when(PersonCommand::WithdrawConsent {
            purpose: ConsentPurpose::Testimony,
            withdrawn_on: TODAY,
        })
        .refused(Rule::PersonErased, "personId");
    given::<Person>(&erased.0, ctx())
        .when(erase())
        .refused(Rule::PersonErased, "personId");
    given::<Person>(&erased.0, ctx())
        .when(enroll())
        .refused(Rule::AlreadyExists, "personId");
}

#[test]
fn a_person_who_exited_can_be_erased() {
    let exited = Path::new().run(PersonCommand::Exit {
        reason: ExitReason::Moved,
        exited_on: TODAY,
    });
    given::<Person>(&exited.0, ctx()).when(erase()).events();
}

#[test]
fn the_referent_changes() {
    let other = passerelle_domain::values::UserId(uuid("sami"));
    let path = Path::new().run(PersonCommand::ChangeReferent { referent: other });
    assert_eq!(Person::fold(&path.0).enrolment.unwrap().referent, other);
    given::<Person>(&[], ctx())
        .when(PersonCommand::ChangeReferent { referent: other })
        .refused(Rule::UnknownAggregate, "personId");
}

// Testimonies.

fn testimony_ctx(author_consents: bool) -> TestimonyContext {
    TestimonyContext {
        today: TODAY,
        author_consents,
    }
}

fn record_testimony() -> TestimonyCommand {
    TestimonyCommand::Record {
        testimony_id: TestimonyId(uuid("temoignage")),
        author: person_id(),
        account: text("J'ai commencé par une immersion en boulangerie, puis…"),
        rome_codes: vec![rome("D1102")],
        audience: Audience::OwnStructurePeople,
        recorded_on: TODAY,
    }
}

#[test]
fn a_testimony_is_shared_only_with_the_authors_consent() {
    given::<Testimony>(&[], testimony_ctx(false))
        .when(record_testimony())
        .refused(Rule::ConsentNotGiven, "audience");
    let recorded = given::<Testimony>(&[], testimony_ctx(true))
        .when(record_testimony())
        .events();
    let [TestimonyEvent::TestimonyRecorded(e)] = &recorded[..] else {
        panic!("{recorded:?}")
    };
    assert!(matches!(e.account, Personal::Known(_)));
    given::<Testimony>(&recorded, testimony_ctx(false))
        .when(TestimonyCommand::ChangeAudience {
            audience: Audience::Territory,
        })
        .refused(Rule::ConsentNotGiven, "audience");
    given::<Testimony>(&recorded, testimony_ctx(true))
        .when(TestimonyCommand::ChangeAudience {
            audience: Audience::Territory,
        })
        .events();
}

#[test]
fn a_withdrawn_testimony_is_shared_no_more() {
    let mut events = given::<Testimony>(&[], testimony_ctx(true))
        .when(record_testimony())
        .events();
    events.extend(
        given::<Testimony>(&events, testimony_ctx(true))
            .when(TestimonyCommand::Withdraw {
                withdrawn_on: TODAY,
            })
            .events(),
    );
    assert!(!Testimony::fold(&events).is_shared());
    given::<Testimony>(&events, testimony_ctx(true))
        .when(TestimonyCommand::ChangeAudience {
            audience: Audience::Territory,
        })
        .refused(Rule::TestimonyWithdrawn, "testimonyId");
    given::<Testimony>(&events, testimony_ctx(true))
        .when(TestimonyCommand::Withdraw {
            withdrawn_on: TODAY,
        })
        .refused(Rule::TestimonyWithdrawn, "testimonyId");
    given::<Testimony>(&[], testimony_ctx(true))
        .when(TestimonyCommand::Withdraw {
            withdrawn_on: TODAY,
        })
        .refused(Rule::UnknownAggregate, "testimonyId");
}

fn correct(changes: IdentityChanges) -> PersonCommand {
    PersonCommand::CorrectIdentity {
        changes,
        reason: text("Nom mal recopié à l'inscription"),
        corrected_on: TODAY,
    }
}

#[test]
fn an_identity_correction_keeps_only_what_changes_sealed_with_its_reason() {
    let path = Path::new();
    let events = given::<Person>(&path.0, ctx())
        .when(correct(IdentityChanges {
            first_name: Some(label("Awa")),
            last_name: Some(label("Diallo-Sow")),
            birth_date: Some(date!(1990 - 02 - 01)),
            ..IdentityChanges::default()
        }))
        .events();
    let [PersonEvent::IdentityCorrected(e)] = &events[..] else {
        panic!("{events:?}")
    };
    // The first name given is the one recorded: not a change.
    assert_eq!(
        e.fields,
        [IdentityField::LastName, IdentityField::BirthDate]
    );
    assert_eq!(
        e.changes,
        Personal::Known(IdentityChanges {
            last_name: Some(label("Diallo-Sow")),
            birth_date: Some(date!(1990 - 02 - 01)),
            ..IdentityChanges::default()
        })
    );
    assert_eq!(
        e.reason,
        Personal::Known(text("Nom mal recopié à l'inscription"))
    );
    // Born in 1990, enrolled in 2026: the band at enrolment follows, in clear.
    assert_eq!(e.age_band, Some(AgeBand::From26To49));
    let mut all = path.0.clone();
    all.extend(events);
    let state = Person::fold(&all);
    assert_eq!(
        state.identity.as_ref().map(|i| i.last_name.as_str()),
        Some("Diallo-Sow")
    );
    // The same correction again changes nothing: refused.
    given::<Person>(&all, ctx())
        .when(correct(IdentityChanges {
            last_name: Some(label("Diallo-Sow")),
            ..IdentityChanges::default()
        }))
        .refused(Rule::NothingToCorrect, "changes");
}

#[test]
fn an_identity_correction_refuses_nothing_to_change_and_a_future_birth() {
    let path = Path::new();
    given::<Person>(&path.0, ctx())
        .when(correct(IdentityChanges::default()))
        .refused(Rule::NothingToCorrect, "changes");
    given::<Person>(&path.0, ctx())
        .when(correct(IdentityChanges {
            birth_date: Some(TODAY + Duration::days(1)),
            ..IdentityChanges::default()
        }))
        .refused(Rule::DateInFuture, "changes.birthDate");
    given::<Person>(&[], ctx())
        .when(correct(IdentityChanges {
            last_name: Some(label("Sow")),
            ..IdentityChanges::default()
        }))
        .refused(Rule::UnknownAggregate, "personId");
}

#[test]
fn an_identity_is_corrected_after_the_exit_but_not_after_the_erasure() {
    let exited = Path::new().run(PersonCommand::Exit {
        reason: ExitReason::Moved,
        exited_on: TODAY,
    });
    let fix = || {
        correct(IdentityChanges {
            phone: Some(passerelle_domain::values::PhoneNumber::parse("06 12 34 56 78").unwrap()),
            ..IdentityChanges::default()
        })
    };
    assert_eq!(
        given::<Person>(&exited.0, ctx()).when(fix()).events().len(),
        1
    );
    let erased = exited.run(PersonCommand::Erase {
        by: mediator(),
        reason: ErasureReason::PersonRequest,
        explanation: None,
        erased_on: TODAY,
    });
    given::<Person>(&erased.0, ctx())
        .when(fix())
        .refused(Rule::PersonErased, "personId");
}

/// A refusal quotes what was typed, but never all of it.
#[test]
fn refusals_quote_an_input_short() {
    use passerelle_domain::values::{PhoneNumber, RomeCode};
    let phone = PhoneNumber::parse(&"0".repeat(100_000))
        .unwrap_err()
        .message;
    assert!(phone.len() < 200, "{phone}");
    let rome = RomeCode::parse(&"B".repeat(100_000)).unwrap_err().message;
    assert!(rome.len() < 200, "{rome}");
}
