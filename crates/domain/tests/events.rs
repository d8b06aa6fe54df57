//! Stored history must keep reading. One committed JSON snapshot per event
//! type and schema version (`snapshots/events/<type>.v<version>.json`):
//! - every event type has a sample here and a snapshot there;
//! - each sample serialises exactly to its snapshot (a renamed or removed
//!   field shows up as a diff);
//! - each snapshot still deserialises into today's types and back to the
//!   same JSON (events already stored stay readable);
//! - a snapshot of an older schema version reads into today's types once
//!   the domain's upcasting steps (`passerelle_domain::upcast`) are applied;
//! - no snapshot is left without its event type (a removed or renamed event
//!   would strand stored history).
//!
//! A deliberate change of shape gets a new schema version (and an upcaster
//! in the store); then regenerate with
//! `UPDATE_EVENT_SNAPSHOTS=1 cargo test -p passerelle-domain --test events`.

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use passerelle_domain::employer::*;
use passerelle_domain::immersion::*;
use passerelle_domain::need::*;
use passerelle_domain::person::*;
use passerelle_domain::testimony::*;
use passerelle_domain::values::*;
use passerelle_domain::{EventType, Personal, upcast};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use support::*;
use time::macros::{date, datetime};

fn employer_samples() -> Vec<EmployerEvent> {
    vec![
        EmployerRegistered {
            employer_id: employer_id(),
            siret: Siret::parse(SIRET).unwrap(),
            name: label("Boulangerie du Port"),
            naf: NafDivision::parse("10").unwrap(),
            commune: CommuneCode::parse("44109").unwrap(),
            address: Some(label("12 quai de la Fosse")),
        }
        .into(),
        ContactAdded {
            contact_id: ContactId(uuid("jean")),
            name: Personal::Known(label("Jean Martin")),
            job_title: Some(label("Gérant")),
            email: Some(Personal::Known(email("jean@boulangerie-du-port.fr"))),
            phone: Some(Personal::Known(
                PhoneNumber::parse("06 12 34 56 78").unwrap(),
            )),
        }
        .into(),
        ContactRemoved {
            contact_id: ContactId(uuid("jean")),
        }
        .into(),
        EmployerVisitLogged {
            visit_id: VisitId(uuid("visite")),
            visited_on: TODAY,
            mediator: mediator(),
            structure: structure(),
            purpose: VisitPurpose::Prospection,
            observations: text("Deux départs en retraite l'an prochain"),
            next_step: Some(text("Revenir avec une candidate")),
        }
        .into(),
        HostingCapacitySet {
            simultaneous_immersions: 2,
            notes: Some(text("Pas en décembre")),
        }
        .into(),
        EmployerCorrected {
            changes: EmployerChanges {
                name: Some(label("Boulangerie du Quai")),
                naf: None,
                commune: Some(CommuneCode::parse("44162").unwrap()),
                address: None,
            },
            reason: text("Enseigne changée"),
            corrected_on: TODAY,
        }
        .into(),
        EmployerVisitCorrected {
            visit_id: VisitId(uuid("visite")),
            changes: VisitChanges {
                visited_on: Some(TODAY),
                purpose: Some(VisitPurpose::FollowUp),
                observations: None,
                next_step: Some(text("Rappeler en juin")),
            },
            reason: text("Date mal saisie"),
            corrected_on: TODAY,
        }
        .into(),
    ]
}

fn description() -> NeedDescription {
    NeedDescription {
        activities: text("Préparer les viennoiseries"),
        rome_codes: vec![rome("D1102")],
        conditions: Some(text("Début à 5 h")),
        headcount: 1,
        horizon: Horizon::WithinThreeMonths,
        hiring_intent: HiringIntent::Possible,
    }
}

fn need_samples() -> Vec<NeedEvent> {
    vec![
        NeedSurfaced {
            need_id: NeedId(uuid("need")),
            employer_id: employer_id(),
            source: NeedSource::Visit {
                visit_id: VisitId(uuid("visite")),
            },
            description: description(),
            surfaced_on: TODAY,
        }
        .into(),
        NeedQualified {
            description: description(),
            qualified_on: TODAY,
        }
        .into(),
        NeedFormalisedAsOffer {
            offer_reference: Some(label("192XKLM")),
            formalised_on: TODAY,
        }
        .into(),
        NeedClosed {
            reason: NeedCloseReason::Other {
                explanation: text("Rachat de l'entreprise"),
            },
            closed_on: TODAY,
        }
        .into(),
        NeedCorrected {
            description: description(),
            reason: text("Confusion avec un autre besoin"),
            corrected_on: TODAY,
        }
        .into(),
    ]
}

fn project() -> Project {
    Project {
        target_rome_codes: vec![rome("D1102")],
        contract_wishes: vec![ContractType::Alternance],
        mobility_radius_km: 20,
        constraints: Some(Personal::Known(text("Pas de nuit"))),
    }
}

fn person_samples() -> Vec<PersonEvent> {
    vec![
        PersonEnrolled {
            person_id: person_id(),
            structure: structure(),
            referent: mediator(),
            identity: Personal::Known(Identity {
                first_name: label("Awa"),
                last_name: label("Diallo"),
                birth_date: date!(2001 - 05 - 12),
                email: Some(email("awa.diallo@exemple.fr")),
                phone: Some(PhoneNumber::parse("0612345678").unwrap()),
                address: Some(text("3 rue des Lilas, 44000 Nantes")),
            }),
            age_band: AgeBand::Under26,
            commune: Some(CommuneCode::parse("44109").unwrap()),
            legal_basis: LegalBasis::PublicInterestMission,
            enrolled_on: TODAY,
        }
        .into(),
        ReferentChanged {
            referent: UserId(uuid("sami")),
        }
        .into(),
        SituationStated {
            words: Personal::Known(text("Je ne sais pas quoi faire")),
            stated_on: TODAY,
        }
        .into(),
        ProjectStated {
            version: 1,
            project: project(),
            stated_on: TODAY,
        }
        .into(),
        ProjectReadjusted {
            version: 2,
            project: project(),
            cause: ReadjustmentCause::ImmersionFeedback {
                immersion_id: immersion_id(),
            },
            what_changed: Personal::Known(text("Pâtisserie plutôt que boulangerie")),
            readjusted_on: TODAY,
        }
        .into(),
        JobInquiryHeld {
            inquiry_id: InquiryId(uuid("enquete")),
            held_on: TODAY,
            rome_code: rome("D1104"),
            with_whom: label("Pâtisserie Louise"),
            learned: Some(Personal::Known(text("On commence à 7 h"))),
        }
        .into(),
        PeerMeetingHeld {
            meeting_id: MeetingId(uuid("rencontre")),
            held_on: TODAY,
            testimony_id: Some(TestimonyId(uuid("temoignage"))),
            peer: label("Ancienne apprentie"),
            rome_codes: vec![rome("D1104")],
            takeaways: Some(Personal::Known(text("La première année est dure"))),
        }
        .into(),
        MentorshipStarted {
            mentorship_id: MentorshipId(uuid("parrainage")),
            mentor: Personal::Known(label("Marc Petit")),
            mentor_job: Some(rome("D1102")),
            started_on: TODAY,
        }
        .into(),
        MentorshipEnded {
            mentorship_id: MentorshipId(uuid("parrainage")),
            ended_on: TODAY,
            reason: Some(Personal::Known(text("Embauche"))),
        }
        .into(),
        ConsentGiven {
            purpose: ConsentPurpose::Testimony,
            text_version: label("temoignage-v1"),
            proof: ConsentProof::Oral {
                recorded_by: mediator(),
            },
            given_on: TODAY,
        }
        .into(),
        ConsentWithdrawn {
            purpose: ConsentPurpose::Testimony,
            withdrawn_on: TODAY,
        }
        .into(),
        DisabilityRecognitionRecorded {
            recognised: Personal::Known(true),
            recorded_on: TODAY,
        }
        .into(),
        PersonExited {
            reason: ExitReason::Other {
                explanation: Personal::Known(text("Part s'occuper de sa mère")),
            },
            exited_on: TODAY,
        }
        .into(),
        IdentityCorrected {
            fields: vec![IdentityField::LastName, IdentityField::BirthDate],
            changes: Personal::Known(IdentityChanges {
                first_name: None,
                last_name: Some(label("Diallo-Sow")),
                birth_date: Some(date!(2001 - 05 - 21)),
                email: None,
                phone: None,
                address: None,
            }),
            age_band: Some(AgeBand::Under26),
            reason: Personal::Known(text("Nom mal recopié")),
            corrected_on: TODAY,
        }
        .into(),
        PersonErased {
            by: mediator(),
            reason: ErasureReason::PersonRequest,
            explanation: Some(Personal::Known(text("Demande écrite du 3 mars"))),
            erased_on: TODAY,
        }
        .into(),
    ]
}

fn immersion_samples() -> Vec<ImmersionEvent> {
    let at = datetime!(2026-03-09 10:30 UTC);
    let terms = RenewalTerms {
        period: range(date!(2026 - 03 - 23), date!(2026 - 04 - 03)),
        schedule: text("Du lundi au vendredi"),
        weekly_hours: WeeklyHours::from_minutes(35 * 60 + 30).unwrap(),
        objective: Objective::DiscoverJobOrSector,
        goals: text("Découvrir le façonnage"),
        why_goals_not_reached: text("Panne du four").into(),
    };
    vec![
        ImmersionProposed {
            immersion_id: immersion_id(),
            person_id: person_id(),
            employer_id: employer_id(),
            need_id: Some(NeedId(uuid("need"))),
            objective: Objective::DiscoverJobOrSector,
            structure: structure(),
            mediator: mediator(),
            message: Some(Personal::Known(text("Une semaine au fournil ?"))),
            proposed_on: TODAY,
        }
        .into(),
        ProposalAcceptedByPerson { answered_on: TODAY }.into(),
        ProposalAcceptedByEmployer { answered_on: TODAY }.into(),
        ProposalDeclined {
            by: Respondent::Employer,
            reason: Personal::Known(text("Pas de tuteur en mars")),
            answered_on: TODAY,
        }
        .into(),
        ConventionDrafted {
            convention: convention(),
        }
        .into(),
        ConventionModified {
            convention: Convention {
                person: ConventionPerson {
                    situation: Situation::Other {
                        description: Personal::Known(label("En formation à distance")),
                    },
                    ..convention().person
                },
                ..convention()
            },
            signatures_cleared: vec![Signatory::Person],
        }
        .into(),
        ConventionSigned {
            signatory: Signatory::Host,
            method: SignatureMethod::Paper {
                recorded_by: mediator(),
                signed_on: TODAY,
            },
            signed_at: at,
            renewal: false,
        }
        .into(),
        ConventionPrevalidated {
            by: mediator(),
            renewal: false,
        }
        .into(),
        ConventionValidated {
            by: mediator(),
            validated_on: TODAY,
            renewal: true,
        }
        .into(),
        ConventionRejected {
            by: mediator(),
            justification: Personal::Known(text("Poste permanent")),
        }
        .into(),
        ConventionDeprecated {
            justification: Personal::Known(text("Doublon")),
        }
        .into(),
        ConventionCancelled {
            by: Initiator::Person,
            reason: Personal::Known(text("Malade")),
            cancelled_on: TODAY,
        }
        .into(),
        ConventionRenewed { terms }.into(),
        ImmersionStarted {
            started_on: date!(2026 - 03 - 09),
        }
        .into(),
        ImmersionInterrupted {
            by: Initiator::Employer,
            reason: Personal::Known(text("Absences")),
            interrupted_on: date!(2026 - 03 - 12),
        }
        .into(),
        ImmersionCompleted {
            completed_on: date!(2026 - 03 - 20),
        }
        .into(),
        AccidentReported {
            accident_id: AccidentId(uuid("coupure")),
            occurred_at: at,
            structure_informed_at: at,
            description: Personal::Known(text("Coupure")),
            informed_in_time: true,
            declaration_due_at: datetime!(2026-03-11 10:30 UTC),
        }
        .into(),
        AccidentDeclarationFiled {
            accident_id: AccidentId(uuid("coupure")),
            filed_at: at,
            filed_in_time: true,
        }
        .into(),
        FeedbackRecorded {
            feedback: Feedback::Host(HostAssessment {
                attendance: Attendance::Partially {
                    last_day_present: date!(2026 - 03 - 19),
                    missed_hours: 7,
                },
                goals_reached: false,
                skills: vec![SkillObserved {
                    skill: Skill::Teamwork,
                    level: Level::Acquired,
                    comment: Some(Personal::Known(text("S'intègre vite"))),
                }],
                advice: Some(Personal::Known(text("CAP en alternance"))),
                appraisal: Some(Personal::Known(text("Une bonne semaine"))),
                hiring: Hiring::Yes {
                    contract: ContractType::Alternance,
                },
                received_by_other_means: true,
            }),
            recorded_on: TODAY,
        }
        .into(),
        OutcomeRecorded {
            milestone: Milestone::ThreeMonths,
            outcome: Outcome::Hired {
                contract: ContractType::CddUnderSixMonths,
            },
            recorded_on: TODAY,
        }
        .into(),
        AssessmentAnswered {
            response: AssessmentResponse::Disagreed {
                comment: Personal::Known(text("Je n'ai manqué que deux heures")),
            },
            answered_on: TODAY,
        }
        .into(),
        FeedbackCorrected {
            feedback: Feedback::Mediator(MediatorFeedback {
                notes: Personal::Known(text("Projet confirmé en boulangerie")),
                goals_reached: true,
                next_steps: Some(Personal::Known(text("Chercher une alternance"))),
            }),
            reason: Personal::Known(text("Objectifs cochés par erreur")),
            corrected_on: TODAY,
        }
        .into(),
        StartCorrected {
            started_on: date!(2026 - 03 - 03),
            reason: Personal::Known(text("Début noté le lendemain")),
            corrected_on: TODAY,
        }
        .into(),
        EndCorrected {
            ended_on: date!(2026 - 03 - 27),
            reason: Personal::Known(text("Fin notée le lundi suivant")),
            corrected_on: TODAY,
        }
        .into(),
    ]
}

fn testimony_samples() -> Vec<TestimonyEvent> {
    vec![
        TestimonyRecorded {
            testimony_id: TestimonyId(uuid("temoignage")),
            author: person_id(),
            account: Personal::Known(text("J'ai commencé par une immersion…")),
            rome_codes: vec![rome("D1102")],
            audience: Audience::OwnStructurePeople,
            recorded_on: TODAY,
        }
        .into(),
        TestimonyAudienceChanged {
            audience: Audience::Territory,
        }
        .into(),
        TestimonyWithdrawn {
            withdrawn_on: TODAY,
        }
        .into(),
    ]
}

/// One sample, serialised, with how to read a snapshot back.
struct Sample {
    event_type: &'static str,
    schema_version: i32,
    json: Value,
    reread: fn(&Value) -> Result<Value, String>,
}

fn reread<E: Serialize + DeserializeOwned>(json: &Value) -> Result<Value, String> {
    let event: E = serde_json::from_value(json.clone()).map_err(|e| e.to_string())?;
    Ok(serde_json::to_value(event).expect("events serialise"))
}

fn samples_of<E>(events: Vec<E>) -> Vec<Sample>
where
    E: EventType + Serialize + DeserializeOwned + PartialEq + std::fmt::Debug,
{
    events
        .into_iter()
        .map(|event| {
            let json = serde_json::to_value(&event).unwrap();
            // Round trip: what is written reads back as the same event.
            let back: E = serde_json::from_value(json.clone()).unwrap();
            assert_eq!(back, event, "serde round trip");
            assert_eq!(
                json["type"],
                event.event_type(),
                "the tag is the event type"
            );
            Sample {
                event_type: event.event_type(),
                schema_version: event.schema_version(),
                json,
                reread: reread::<E>,
            }
        })
        .collect()
}

fn all_samples() -> Vec<Sample> {
    let mut all = samples_of(employer_samples());
    all.extend(samples_of(need_samples()));
    all.extend(samples_of(person_samples()));
    all.extend(samples_of(immersion_samples()));
    all.extend(samples_of(testimony_samples()));
    all
}

fn all_types() -> BTreeSet<(&'static str, i32)> {
    [
        EmployerEvent::TYPES,
        NeedEvent::TYPES,
        PersonEvent::TYPES,
        ImmersionEvent::TYPES,
        TestimonyEvent::TYPES,
    ]
    .into_iter()
    .flatten()
    .copied()
    .collect()
}

fn snapshot_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots/events")
}

fn snapshot_path(event_type: &str, version: i32) -> PathBuf {
    snapshot_dir().join(format!("{event_type}.v{version}.json"))
}

#[test]
fn every_event_type_has_one_sample_and_a_unique_name() {
    let types = all_types();
    let count: usize = [
        EmployerEvent::TYPES.len(),
        NeedEvent::TYPES.len(),
        PersonEvent::TYPES.len(),
        ImmersionEvent::TYPES.len(),
        TestimonyEvent::TYPES.len(),
    ]
    .iter()
    .sum();
    assert_eq!(
        types.len(),
        count,
        "two aggregates share an event type name"
    );
    let sampled: BTreeSet<_> = all_samples()
        .iter()
        .map(|s| (s.event_type, s.schema_version))
        .collect();
    let missing: Vec<_> = types.difference(&sampled).collect();
    assert!(
        missing.is_empty(),
        "event types without a sample here: {missing:?}"
    );
    assert_eq!(
        all_samples().len(),
        types.len(),
        "one sample per event type"
    );
}

#[test]
fn events_serialise_exactly_as_their_snapshots() {
    let update = std::env::var_os("UPDATE_EVENT_SNAPSHOTS").is_some();
    let mut drifted = Vec::new();
    for sample in all_samples() {
        let path = snapshot_path(sample.event_type, sample.schema_version);
        let written = serde_json::to_string_pretty(&sample.json).unwrap() + "\n";
        if update {
            std::fs::create_dir_all(snapshot_dir()).unwrap();
            std::fs::write(&path, &written).unwrap();
            continue;
        }
        match std::fs::read_to_string(&path) {
            Ok(stored) if stored == written => {}
            Ok(stored) => drifted.push(format!(
                "{}: the JSON changed\n--- stored\n{stored}--- now\n{written}",
                path.display()
            )),
            Err(_) => drifted.push(format!("{}: no snapshot", path.display())),
        }
    }
    assert!(
        drifted.is_empty(),
        "events no longer serialise as stored history does. Give a changed event a new schema \
         version (and an upcaster), then run `UPDATE_EVENT_SNAPSHOTS=1 cargo test -p \
         passerelle-domain --test events`.\n{}",
        drifted.join("\n")
    );
}

#[test]
fn stored_snapshots_still_read_and_none_is_orphaned() {
    let samples = all_samples();
    let mut problems = Vec::new();
    for entry in std::fs::read_dir(snapshot_dir()).expect("snapshots are committed") {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let stored: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let sample = samples
            .iter()
            .find(|s| format!("{}.v{}.json", s.event_type, s.schema_version) == name);
        if let Some(sample) = sample {
            match (sample.reread)(&stored) {
                Ok(again) if again == stored => {}
                Ok(again) => problems.push(format!("{name}: reads back as {again}")),
                Err(e) => problems.push(format!("{name}: no longer reads: {e}")),
            }
            continue;
        }
        // An older version of a type still recorded: it reads once upcast.
        let older = name
            .strip_suffix(".json")
            .and_then(|n| n.rsplit_once(".v"))
            .and_then(|(t, v)| Some((t, v.parse::<i32>().ok()?)))
            .and_then(|(t, v)| Some((samples.iter().find(|s| s.event_type == t)?, v)));
        let Some((sample, version)) = older.filter(|(s, v)| *v < s.schema_version) else {
            problems.push(format!(
                "{name}: no event has this type and version any more; stored events of it would not read"
            ));
            continue;
        };
        let (upcast_to, upcast) = upcast::upcast(sample.event_type, version, stored);
        if upcast_to != sample.schema_version {
            problems.push(format!(
                "{name}: upcast to version {upcast_to}, not {}",
                sample.schema_version
            ));
            continue;
        }
        match (sample.reread)(&upcast) {
            Ok(again) if again == upcast => {}
            Ok(again) => problems.push(format!("{name}: once upcast, reads back as {again}")),
            Err(e) => problems.push(format!("{name}: once upcast, no longer reads: {e}")),
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn personal_values_are_marked_for_sealing() {
    let samples = all_samples();
    let enrolled = samples
        .iter()
        .find(|s| s.event_type == "person_enrolled")
        .unwrap();
    assert!(enrolled.json["identity"]["$personal"]["birth_date"].is_string());
    assert!(enrolled.json["age_band"].is_string(), "kept in clear");
    let drafted = samples
        .iter()
        .find(|s| s.event_type == "convention_drafted")
        .unwrap();
    assert!(drafted.json["convention"]["person"]["identity"]["$personal"].is_object());
    assert!(drafted.json["convention"]["host"]["tutor"]["$personal"].is_object());
    let readjusted = samples
        .iter()
        .find(|s| s.event_type == "project_readjusted")
        .unwrap();
    assert!(readjusted.json["what_changed"]["$personal"].is_string());
    let exited = samples
        .iter()
        .find(|s| s.event_type == "person_exited")
        .unwrap();
    assert!(exited.json["reason"]["explanation"]["$personal"].is_string());
    let modified = samples
        .iter()
        .find(|s| s.event_type == "convention_modified")
        .unwrap();
    let situation = &modified.json["convention"]["person"]["situation"];
    assert!(
        situation["description"]["$personal"].is_string(),
        "{situation}"
    );
    assert_eq!(situation["kind"], "other", "kept in clear");
    let renewed = samples
        .iter()
        .find(|s| s.event_type == "convention_renewed")
        .unwrap();
    assert!(renewed.json["terms"]["why_goals_not_reached"]["$personal"].is_string());
    assert!(
        renewed.json["terms"]["goals"].is_string(),
        "a term, in clear"
    );
    assert_eq!(exited.json["reason"]["kind"], "other", "kept in clear");
}
