//! The employer and need deciders, given/when/then.

mod support;

use passerelle_domain::employer::*;
use passerelle_domain::need::*;
use passerelle_domain::values::{
    CommuneCode, ContactId, EmployerId, NafDivision, NeedId, Siret, StructureId, VisitId,
};
use passerelle_domain::{ErrorKind, Personal, Rule};
use support::*;
use time::Duration;

fn employer_ctx() -> EmployerContext {
    EmployerContext {
        today: TODAY,
        siret_registered_as: None,
    }
}

fn register() -> EmployerCommand {
    EmployerCommand::Register {
        employer_id: employer_id(),
        siret: Siret::parse(SIRET).unwrap(),
        name: label("Boulangerie du Port"),
        naf: NafDivision::parse("10.71C").unwrap(),
        commune: CommuneCode::parse("44109").unwrap(),
        address: Some(label("12 quai de la Fosse")),
    }
}

fn registered() -> Vec<EmployerEvent> {
    given::<Employer>(&[], employer_ctx())
        .when(register())
        .events()
}

fn visit(visited_on: time::Date) -> EmployerCommand {
    EmployerCommand::LogVisit {
        visit_id: VisitId(uuid("visite-1")),
        visited_on,
        mediator: mediator(),
        structure: StructureId(uuid("plie")),
        purpose: VisitPurpose::Prospection,
        observations: text("Deux départs en retraite l'an prochain, pas d'offre écrite"),
        next_step: Some(text("Revenir avec une candidate pour une immersion")),
    }
}

#[test]
fn an_employer_is_registered_once_per_siret() {
    let events = registered();
    assert_eq!(events.len(), 1);
    let EmployerEvent::EmployerRegistered(e) = &events[0] else {
        panic!("{events:?}")
    };
    assert_eq!(e.naf.as_str(), "10");
    given::<Employer>(&events, employer_ctx())
        .when(register())
        .refused(Rule::AlreadyExists, "employerId");
    let mut taken = employer_ctx();
    taken.siret_registered_as = Some(EmployerId(uuid("other")));
    let err = given::<Employer>(&[], taken)
        .when(register())
        .refused(Rule::SiretAlreadyRegistered, "siret");
    assert_eq!(err.kind, ErrorKind::Conflict);
    assert!(err.message.contains("732 829 320 00074"), "{err}");
}

#[test]
fn a_visit_is_logged_by_a_mediator_on_or_before_today() {
    let events = registered();
    let logged = given::<Employer>(&events, employer_ctx())
        .when(visit(TODAY))
        .events();
    assert!(
        matches!(&logged[..], [EmployerEvent::EmployerVisitLogged(v)] if v.structure == StructureId(uuid("plie")))
    );
    let err = given::<Employer>(&events, employer_ctx())
        .when(visit(TODAY + Duration::days(1)))
        .refused(Rule::DateInFuture, "visitedOn");
    assert!(err.message.contains("3 mars 2026"), "{err}");
    let mut after = events.clone();
    after.extend(logged);
    let state = <Employer as passerelle_domain::Decider>::fold(&after);
    assert_eq!(state.last_visit, Some(TODAY));
    given::<Employer>(&after, employer_ctx())
        .when(visit(TODAY))
        .refused(Rule::AlreadyExists, "visitId");
    given::<Employer>(&[], employer_ctx())
        .when(visit(TODAY))
        .refused(Rule::UnknownAggregate, "employerId");
}

#[test]
fn contacts_are_added_and_removed() {
    let events = registered();
    let contact = ContactId(uuid("jean"));
    let added = given::<Employer>(&events, employer_ctx())
        .when(EmployerCommand::AddContact {
            contact_id: contact,
            name: Personal::Known(label("Jean Martin")),
            job_title: Some(label("Gérant")),
            email: Some(Personal::Known(email("jean@boulangerie-du-port.fr"))),
            phone: None,
        })
        .events();
    let mut after = events.clone();
    after.extend(added);
    given::<Employer>(&after, employer_ctx())
        .when(EmployerCommand::RemoveContact {
            contact_id: contact,
        })
        .then(vec![
            ContactRemoved {
                contact_id: contact,
            }
            .into(),
        ]);
    given::<Employer>(&events, employer_ctx())
        .when(EmployerCommand::RemoveContact {
            contact_id: contact,
        })
        .refused(Rule::ContactUnknown, "contactId");
}

#[test]
fn hosting_capacity_is_set() {
    given::<Employer>(&registered(), employer_ctx())
        .when(EmployerCommand::SetHostingCapacity {
            simultaneous_immersions: 2,
            notes: None,
        })
        .then(vec![
            HostingCapacitySet {
                simultaneous_immersions: 2,
                notes: None,
            }
            .into(),
        ]);
}

// Needs.

fn need_ctx() -> NeedContext {
    NeedContext {
        today: TODAY,
        employer_visits: Some(vec![VisitId(uuid("visite-1"))]),
    }
}

fn description(rome_codes: Vec<&str>) -> NeedDescription {
    NeedDescription {
        activities: text("Préparer les viennoiseries le matin, aider au four"),
        rome_codes: rome_codes.into_iter().map(rome).collect(),
        conditions: Some(text("Début à 5 h, samedi travaillé")),
        headcount: 1,
        horizon: Horizon::WithinThreeMonths,
        hiring_intent: HiringIntent::Possible,
    }
}

fn surface(source: NeedSource, description: NeedDescription) -> NeedCommand {
    NeedCommand::Surface {
        need_id: NeedId(uuid("need")),
        employer_id: employer_id(),
        source,
        description,
        surfaced_on: TODAY,
    }
}

fn surfaced() -> Vec<NeedEvent> {
    given::<Need>(&[], need_ctx())
        .when(surface(NeedSource::Portal, description(vec![])))
        .events()
}

#[test]
fn a_need_is_surfaced_in_plain_words_without_job_codes() {
    let events = surfaced();
    assert!(
        matches!(&events[..], [NeedEvent::NeedSurfaced(n)] if n.description.rome_codes.is_empty())
    );
    // Codes given twice are kept once.
    let events = given::<Need>(&[], need_ctx())
        .when(surface(
            NeedSource::Phone,
            description(vec!["D1102", "D1102"]),
        ))
        .events();
    assert!(
        matches!(&events[..], [NeedEvent::NeedSurfaced(n)] if n.description.rome_codes.len() == 1)
    );
}

#[test]
fn a_need_from_a_visit_names_a_visit_to_that_employer() {
    given::<Need>(&[], need_ctx())
        .when(surface(
            NeedSource::Visit {
                visit_id: VisitId(uuid("visite-1")),
            },
            description(vec![]),
        ))
        .events();
    given::<Need>(&[], need_ctx())
        .when(surface(
            NeedSource::Visit {
                visit_id: VisitId(uuid("visite-ailleurs")),
            },
            description(vec![]),
        ))
        .refused(Rule::VisitOfAnotherEmployer, "source.visitId");
    let unknown = NeedContext {
        employer_visits: None,
        ..need_ctx()
    };
    given::<Need>(&[], unknown)
        .when(surface(NeedSource::Portal, description(vec![])))
        .refused(Rule::UnknownAggregate, "employerId");
}

#[test]
fn a_headcount_is_between_1_and_50() {
    let mut none = description(vec![]);
    none.headcount = 0;
    given::<Need>(&[], need_ctx())
        .when(surface(NeedSource::Portal, none))
        .refused(Rule::HeadcountRange, "description.headcount");
    let mut fifty = description(vec![]);
    fifty.headcount = 50;
    given::<Need>(&[], need_ctx())
        .when(surface(NeedSource::Portal, fifty.clone()))
        .events();
    fifty.headcount = 51;
    given::<Need>(&[], need_ctx())
        .when(surface(NeedSource::Portal, fifty))
        .refused(Rule::HeadcountRange, "description.headcount");
}

#[test]
fn a_qualified_need_names_its_jobs_and_becomes_an_offer() {
    let events = surfaced();
    given::<Need>(&events, need_ctx())
        .when(NeedCommand::Qualify {
            description: description(vec![]),
            qualified_on: TODAY,
        })
        .refused(Rule::Required, "description.romeCodes");
    given::<Need>(&events, need_ctx())
        .when(NeedCommand::FormaliseAsOffer {
            offer_reference: None,
            formalised_on: TODAY,
        })
        .refused(Rule::NeedNotQualified, "needId");
    let qualified = given::<Need>(&events, need_ctx())
        .when(NeedCommand::Qualify {
            description: description(vec!["D1102"]),
            qualified_on: TODAY,
        })
        .events();
    let mut after = events.clone();
    after.extend(qualified);
    let offer = given::<Need>(&after, need_ctx())
        .when(NeedCommand::FormaliseAsOffer {
            offer_reference: Some(label("Offre France Travail 192XKLM")),
            formalised_on: TODAY,
        })
        .events();
    after.extend(offer);
    given::<Need>(&after, need_ctx())
        .when(NeedCommand::Qualify {
            description: description(vec!["D1102"]),
            qualified_on: TODAY,
        })
        .refused(Rule::NeedClosed, "needId");
    // An offer may still be closed once filled.
    given::<Need>(&after, need_ctx())
        .when(NeedCommand::Close {
            reason: NeedCloseReason::Met,
            closed_on: TODAY,
        })
        .events();
}

#[test]
fn a_closed_need_takes_nothing_more() {
    let closed: Vec<NeedEvent> = surfaced()
        .into_iter()
        .chain([NeedClosed {
            reason: NeedCloseReason::NoLongerNeeded,
            closed_on: TODAY,
        }
        .into()])
        .collect();
    given::<Need>(&closed, need_ctx())
        .when(NeedCommand::Close {
            reason: NeedCloseReason::Met,
            closed_on: TODAY,
        })
        .refused(Rule::NeedClosed, "needId");
    given::<Need>(&surfaced(), need_ctx())
        .when(NeedCommand::Close {
            reason: NeedCloseReason::Met,
            closed_on: TODAY - Duration::days(1),
        })
        .refused(Rule::DateBeforeStart, "closedOn");
}

fn correct(changes: EmployerChanges) -> EmployerCommand {
    EmployerCommand::Correct {
        changes,
        reason: text("Enseigne changée"),
        corrected_on: TODAY,
    }
}

#[test]
fn an_employer_is_corrected_with_only_what_changes() {
    let events = registered();
    let corrected = given::<Employer>(&events, employer_ctx())
        .when(correct(EmployerChanges {
            name: Some(label("Boulangerie du Quai")),
            naf: Some(NafDivision::parse("10").unwrap()),
            ..EmployerChanges::default()
        }))
        .events();
    // The sector given is the one recorded (10.71C is division 10).
    assert_eq!(
        corrected,
        [EmployerCorrected {
            changes: EmployerChanges {
                name: Some(label("Boulangerie du Quai")),
                ..EmployerChanges::default()
            },
            reason: text("Enseigne changée"),
            corrected_on: TODAY,
        }
        .into()]
    );
    let mut all = events.clone();
    all.extend(corrected);
    assert_eq!(
        <Employer as passerelle_domain::Decider>::fold(&all)
            .registered
            .map(|r| r.name),
        Some(label("Boulangerie du Quai"))
    );
    given::<Employer>(&all, employer_ctx())
        .when(correct(EmployerChanges {
            name: Some(label("Boulangerie du Quai")),
            ..EmployerChanges::default()
        }))
        .refused(Rule::NothingToCorrect, "changes");
    given::<Employer>(&[], employer_ctx())
        .when(correct(EmployerChanges {
            name: Some(label("X")),
            ..EmployerChanges::default()
        }))
        .refused(Rule::UnknownAggregate, "employerId");
}

fn correct_visit(visit_id: VisitId, changes: VisitChanges) -> EmployerCommand {
    EmployerCommand::CorrectVisit {
        visit_id,
        changes,
        reason: text("Date mal saisie"),
        corrected_on: TODAY,
    }
}

#[test]
fn a_visit_is_corrected_and_the_last_visit_follows() {
    let mut events = registered();
    events.extend(
        given::<Employer>(&events, employer_ctx())
            .when(visit(TODAY))
            .events(),
    );
    let earlier = TODAY - Duration::days(10);
    let corrected = given::<Employer>(&events, employer_ctx())
        .when(correct_visit(
            VisitId(uuid("visite-1")),
            VisitChanges {
                visited_on: Some(earlier),
                ..VisitChanges::default()
            },
        ))
        .events();
    assert_eq!(corrected.len(), 1);
    events.extend(corrected);
    assert_eq!(
        <Employer as passerelle_domain::Decider>::fold(&events).last_visit,
        Some(earlier)
    );
    given::<Employer>(&events, employer_ctx())
        .when(correct_visit(
            VisitId(uuid("visite-1")),
            VisitChanges {
                visited_on: Some(earlier),
                ..VisitChanges::default()
            },
        ))
        .refused(Rule::NothingToCorrect, "changes");
    given::<Employer>(&events, employer_ctx())
        .when(correct_visit(
            VisitId(uuid("visite-1")),
            VisitChanges {
                visited_on: Some(TODAY + Duration::days(1)),
                ..VisitChanges::default()
            },
        ))
        .refused(Rule::DateInFuture, "changes.visitedOn");
    given::<Employer>(&events, employer_ctx())
        .when(correct_visit(
            VisitId(uuid("autre")),
            VisitChanges {
                observations: Some(text("Autre")),
                ..VisitChanges::default()
            },
        ))
        .refused(Rule::VisitUnknown, "visitId");
}

fn correct_need(description: NeedDescription) -> NeedCommand {
    NeedCommand::Correct {
        description,
        reason: text("Confusion avec un autre besoin"),
        corrected_on: TODAY,
    }
}

#[test]
fn a_need_is_corrected_even_closed_and_keeps_its_jobs_once_qualified() {
    let mut events = surfaced();
    let corrected = given::<Need>(&events, need_ctx())
        .when(correct_need(description(vec!["D1102"])))
        .events();
    assert_eq!(corrected.len(), 1);
    events.extend(corrected);
    given::<Need>(&events, need_ctx())
        .when(correct_need(description(vec!["D1102"])))
        .refused(Rule::NothingToCorrect, "description");
    events.extend(
        given::<Need>(&events, need_ctx())
            .when(NeedCommand::Qualify {
                description: description(vec!["D1102"]),
                qualified_on: TODAY,
            })
            .events(),
    );
    given::<Need>(&events, need_ctx())
        .when(correct_need(description(vec![])))
        .refused(Rule::Required, "description.romeCodes");
    events.extend(
        given::<Need>(&events, need_ctx())
            .when(NeedCommand::Close {
                reason: NeedCloseReason::NoLongerNeeded,
                closed_on: TODAY,
            })
            .events(),
    );
    assert_eq!(
        given::<Need>(&events, need_ctx())
            .when(correct_need(description(vec!["D1104"])))
            .events()
            .len(),
        1
    );
    given::<Need>(&[], need_ctx())
        .when(correct_need(description(vec![])))
        .refused(Rule::UnknownAggregate, "needId");
}
