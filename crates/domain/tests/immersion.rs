//! The immersion (PMSMP) decider, given/when/then: every command, and every
//! rule broken once and passed at its boundary.

mod support;

use passerelle_domain::immersion::*;
use passerelle_domain::values::{EmployerId, NeedId, UserId};
use passerelle_domain::{Decider, ErrorKind, Personal, Rule};
use support::*;
use time::macros::{date, datetime};
use time::{Duration, OffsetDateTime};

fn ctx() -> ImmersionContext {
    context(TODAY)
}

fn draft(convention: Convention) -> ImmersionCommand {
    ImmersionCommand::DraftConvention {
        convention: Box::new(convention),
    }
}

fn with_period(start: time::Date, end: time::Date) -> Convention {
    Convention {
        period: range(start, end),
        ..convention()
    }
}

fn born(birth_date: time::Date) -> Convention {
    let mut c = convention();
    if let Personal::Known(identity) = &mut c.person.identity {
        identity.birth_date = birth_date;
    }
    c
}

// Proposal.

#[test]
fn a_mediator_proposes_an_immersion() {
    let events = given::<Immersion>(&[], ctx()).when(propose()).events();
    assert_eq!(
        events,
        vec![ImmersionEvent::ImmersionProposed(ImmersionProposed {
            immersion_id: immersion_id(),
            person_id: person_id(),
            employer_id: employer_id(),
            need_id: None,
            objective: Objective::DiscoverJobOrSector,
            structure: structure(),
            mediator: mediator(),
            message: None,
            proposed_on: TODAY,
        })]
    );
}

#[test]
fn a_proposal_needs_a_person_accompanied_and_a_registered_employer() {
    let mut c = ctx();
    c.person_accompanied = false;
    let err = given::<Immersion>(&[], c)
        .when(propose())
        .refused(Rule::UnknownAggregate, "personId");
    assert_eq!(err.kind, ErrorKind::NotFound);
    let mut c = ctx();
    c.employer_registered = false;
    given::<Immersion>(&[], c)
        .when(propose())
        .refused(Rule::UnknownAggregate, "employerId");
    given::<Immersion>(&Journey::proposed().events, ctx())
        .when(propose())
        .refused(Rule::AlreadyExists, "immersionId");
}

#[test]
fn a_proposal_for_a_need_names_an_open_need_of_that_employer() {
    let with_need = |need_employer: Option<EmployerId>| {
        let mut c = ctx();
        c.need_employer = need_employer;
        let mut command = propose();
        if let ImmersionCommand::Propose { need_id, .. } = &mut command {
            *need_id = Some(NeedId(uuid("need")));
        }
        given::<Immersion>(&[], c).when(command)
    };
    with_need(Some(EmployerId(uuid("another")))).refused(Rule::NeedOfAnotherEmployer, "needId");
    with_need(None).refused(Rule::NeedOfAnotherEmployer, "needId");
    assert_eq!(with_need(Some(employer_id())).events().len(), 1);
}

#[test]
fn a_proposal_is_not_dated_in_the_future() {
    let mut command = propose();
    if let ImmersionCommand::Propose { proposed_on, .. } = &mut command {
        *proposed_on = TODAY + Duration::days(1);
    }
    given::<Immersion>(&[], ctx())
        .when(command)
        .refused(Rule::DateInFuture, "proposedOn");
}

// Answers.

#[test]
fn the_person_and_the_employer_each_answer_once() {
    let proposed = Journey::proposed().events;
    given::<Immersion>(&proposed, ctx())
        .when(ImmersionCommand::Accept {
            by: Respondent::Person,
            answered_on: TODAY,
        })
        .then(vec![ProposalAcceptedByPerson { answered_on: TODAY }.into()]);
    given::<Immersion>(&proposed, ctx())
        .when(ImmersionCommand::Accept {
            by: Respondent::Employer,
            answered_on: TODAY,
        })
        .then(vec![
            ProposalAcceptedByEmployer { answered_on: TODAY }.into(),
        ]);
    let accepted_by_person = Journey::proposed().run(
        TODAY,
        ImmersionCommand::Accept {
            by: Respondent::Person,
            answered_on: TODAY,
        },
    );
    let err = given::<Immersion>(&accepted_by_person.events, ctx())
        .when(ImmersionCommand::Decline {
            by: Respondent::Person,
            reason: text("Finalement non"),
            answered_on: TODAY,
        })
        .refused(Rule::ProposalAlreadyAnswered, "by");
    assert_eq!(err.kind, ErrorKind::Conflict);
    given::<Immersion>(&Journey::accepted().events, ctx())
        .when(ImmersionCommand::Accept {
            by: Respondent::Employer,
            answered_on: TODAY,
        })
        .refused(Rule::ProposalAlreadyAnswered, "by");
}

#[test]
fn an_answer_does_not_precede_the_proposal() {
    given::<Immersion>(&Journey::proposed().events, ctx())
        .when(ImmersionCommand::Accept {
            by: Respondent::Person,
            answered_on: TODAY - Duration::days(1),
        })
        .refused(Rule::DateBeforeStart, "answeredOn");
}

#[test]
fn a_declined_proposal_ends_the_immersion_and_says_who_declined() {
    let declined = Journey::proposed().run(
        TODAY,
        ImmersionCommand::Decline {
            by: Respondent::Employer,
            reason: text("Pas de tuteur disponible en mars"),
            answered_on: TODAY,
        },
    );
    assert_eq!(
        declined.events.last(),
        Some(&ImmersionEvent::ProposalDeclined(ProposalDeclined {
            by: Respondent::Employer,
            reason: Personal::Known(text("Pas de tuteur disponible en mars")),
            answered_on: TODAY,
        }))
    );
    assert_eq!(declined.state().stage, Stage::Declined);
    given::<Immersion>(&declined.events, ctx())
        .when(draft(convention()))
        .refused(Rule::ProposalDeclined, "immersionId");
}

// Drafting.

#[test]
fn the_convention_is_drafted_once_both_accepted() {
    given::<Immersion>(&Journey::accepted().events, ctx())
        .when(draft(convention()))
        .then(vec![
            ConventionDrafted {
                convention: convention(),
            }
            .into(),
        ]);
    let half = Journey::proposed().run(
        TODAY,
        ImmersionCommand::Accept {
            by: Respondent::Person,
            answered_on: TODAY,
        },
    );
    let err = given::<Immersion>(&half.events, ctx())
        .when(draft(convention()))
        .refused(Rule::ProposalNotAccepted, "immersionId");
    assert!(err.message.contains("l'accord de l'employeur"), "{err}");
}

#[test]
fn one_month_from_date_to_date_at_most() {
    let accepted = Journey::accepted().events;
    let decide =
        |start, end| given::<Immersion>(&accepted, ctx()).when(draft(with_period(start, end)));
    // 1 to 30 April: 30 days, a month. To 1 May: 31 days, over.
    decide(date!(2026 - 04 - 01), date!(2026 - 04 - 30)).events();
    decide(date!(2026 - 04 - 01), date!(2026 - 05 - 01))
        .refused(Rule::MaxOneMonth, "convention.period.end");
    // 3 March to 2 April is 31 days and still one month; 3 April is not.
    decide(date!(2026 - 03 - 03), date!(2026 - 04 - 02)).events();
    let err = decide(date!(2026 - 03 - 03), date!(2026 - 04 - 03))
        .refused(Rule::MaxOneMonth, "convention.period.end");
    assert_eq!(
        err.message,
        "La période ne peut pas dépasser un mois de date à date (du 3 mars au 2 avril 2026 au plus tard)."
    );
}

#[test]
fn forty_eight_hours_a_week_at_most() {
    let accepted = Journey::accepted().events;
    let with_hours = |h| {
        given::<Immersion>(&accepted, ctx()).when(draft(Convention {
            weekly_hours: hours(h),
            ..convention()
        }))
    };
    with_hours(48).events();
    let err = with_hours(49).refused(Rule::MaxWeeklyHours, "convention.weeklyHours");
    assert!(err.message.contains("49 h"), "{err}");
}

#[test]
fn sixteen_at_least_on_the_first_day() {
    let accepted = Journey::accepted().events;
    let representative = Some(Personal::Known(Signer {
        name: label("Mariam Diallo"),
        job_title: None,
        email: None,
        phone: None,
    }));
    // Sixteen on 9 March 2026, the first day.
    let mut sixteen = born(date!(2010 - 03 - 09));
    sixteen.person.legal_representative = representative.clone();
    given::<Immersion>(&accepted, ctx())
        .when(draft(sixteen))
        .events();
    let mut fifteen = born(date!(2010 - 03 - 10));
    fifteen.person.legal_representative = representative;
    let err = given::<Immersion>(&accepted, ctx())
        .when(draft(fifteen))
        .refused(Rule::MinimumAge, "convention.person.identity.birthDate");
    assert!(err.message.contains("15 ans"), "{err}");
}

#[test]
fn a_minor_needs_a_legal_representative_who_signs() {
    let accepted = Journey::accepted().events;
    let minor = born(date!(2009 - 01 - 01));
    given::<Immersion>(&accepted, ctx())
        .when(draft(minor.clone()))
        .refused(
            Rule::LegalRepresentativeRequired,
            "convention.person.legalRepresentative",
        );
    let mut represented = minor;
    represented.person.legal_representative = Some(Personal::Known(Signer {
        name: label("Mariam Diallo"),
        job_title: None,
        email: None,
        phone: None,
    }));
    assert!(
        represented
            .required_signatories(&represented.period)
            .contains(&Signatory::LegalRepresentative)
    );
    given::<Immersion>(&accepted, ctx())
        .when(draft(represented))
        .events();
    // Eighteen on the first day: an adult, who signs alone.
    let adult = born(date!(2008 - 03 - 09));
    assert!(
        !adult
            .required_signatories(&adult.period)
            .contains(&Signatory::LegalRepresentative)
    );
    given::<Immersion>(&accepted, ctx())
        .when(draft(adult))
        .events();
}

#[test]
fn the_tutor_is_never_the_person() {
    let accepted = Journey::accepted().events;
    let mut same_email = convention();
    if let Personal::Known(tutor) = &mut same_email.host.tutor {
        tutor.email = Some(email("Awa.Diallo@exemple.fr"));
    }
    given::<Immersion>(&accepted, ctx())
        .when(draft(same_email))
        .refused(Rule::TutorIsPerson, "convention.host.tutor");
    let mut same_name = convention();
    if let Personal::Known(tutor) = &mut same_name.host.tutor {
        tutor.name = label("DIALLO  Awa");
        tutor.email = None;
    }
    given::<Immersion>(&accepted, ctx())
        .when(draft(same_name))
        .refused(Rule::TutorIsPerson, "convention.host.tutor");
}

#[test]
fn the_host_attests_the_immersion_fills_no_post() {
    let accepted = Journey::accepted().events;
    given::<Immersion>(&accepted, ctx())
        .when(draft(Convention {
            forbidden_uses_excluded: false,
            ..convention()
        }))
        .refused(
            Rule::ForbiddenUseNotAttested,
            "convention.forbiddenUsesExcluded",
        );
}

#[test]
fn a_convention_states_who_the_person_and_the_tutor_are() {
    let mut erased = convention();
    erased.person.identity = Personal::Erased;
    given::<Immersion>(&Journey::accepted().events, ctx())
        .when(draft(erased))
        .refused(Rule::Required, "convention.person.identity");
    let mut no_tutor = convention();
    no_tutor.host.tutor = Personal::Erased;
    given::<Immersion>(&Journey::accepted().events, ctx())
        .when(draft(no_tutor))
        .refused(Rule::Required, "convention.host.tutor");
}

#[test]
fn signatories_follow_the_parties() {
    let c = convention();
    assert_eq!(
        c.required_signatories(&c.period)
            .into_iter()
            .collect::<Vec<_>>(),
        vec![Signatory::Person, Signatory::Host, Signatory::Prescriber]
    );
    let organisation = Organisation {
        name: label("Atelier chantier d'insertion"),
        siret: None,
        signatory: Signer {
            name: label("Paul Morel"),
            job_title: None,
            email: None,
            phone: None,
        },
    };
    let mut employed = convention();
    employed.person.situation = Situation::Employed {
        current_employer: organisation.clone(),
    };
    employed.support_structure = Some(organisation);
    assert_eq!(
        employed
            .required_signatories(&employed.period)
            .into_iter()
            .collect::<Vec<_>>(),
        vec![
            Signatory::Person,
            Signatory::Host,
            Signatory::Prescriber,
            Signatory::SupportStructure,
            Signatory::CurrentEmployer
        ]
    );
}

// The person's history with the host.

#[test]
fn two_conventions_with_the_same_host_in_twelve_months_at_most() {
    let accepted = Journey::accepted().events;
    let decide = |history: Vec<PriorConvention>| {
        let mut c = ctx();
        c.history_with_host = history;
        given::<Immersion>(&accepted, c).when(draft(convention()))
    };
    let first = prior(
        Objective::ConfirmProject,
        "Confirmer le projet de vendeuse",
        date!(2025 - 06 - 02),
        date!(2025 - 06 - 06),
    );
    let second = prior(
        Objective::InitiateRecruitment,
        "Préparer une embauche en CDD",
        date!(2025 - 11 - 03),
        date!(2025 - 11 - 07),
    );
    // One before: the new one is the second, allowed.
    decide(vec![second.clone()]).events();
    // Two within 12 months of the new one (2 June 2025 → 20 March 2026).
    let err = decide(vec![first, second.clone()])
        .refused(Rule::TwoConventionsPerHostIn12Months, "convention.period");
    assert!(err.message.contains("2 conventions"), "{err}");
    // The first one 12 months and a day before the new one ends: no window
    // of 12 consecutive months holds all three.
    let long_ago = prior(
        Objective::ConfirmProject,
        "Confirmer le projet de vendeuse",
        date!(2025 - 03 - 16),
        date!(2025 - 03 - 20),
    );
    decide(vec![long_ago.clone(), second.clone()]).events();
    // Ending on 21 March 2025, it shares a window with the new one.
    let in_window = prior(
        Objective::ConfirmProject,
        "Confirmer le projet de vendeuse",
        date!(2025 - 03 - 21),
        date!(2025 - 03 - 25),
    );
    decide(vec![in_window, second])
        .refused(Rule::TwoConventionsPerHostIn12Months, "convention.period");
}

#[test]
fn a_second_convention_with_the_host_has_another_objective_or_other_goals() {
    let accepted = Journey::accepted().events;
    let decide = |history: Vec<PriorConvention>| {
        let mut c = ctx();
        c.history_with_host = history;
        given::<Immersion>(&accepted, c).when(draft(convention()))
    };
    let goals = convention().goals.as_str().to_uppercase();
    let same = prior(
        Objective::DiscoverJobOrSector,
        &goals,
        date!(2025 - 10 - 06),
        date!(2025 - 10 - 10),
    );
    decide(vec![same]).refused(Rule::SameObjectiveWithHost, "convention.goals");
    let other_goals = prior(
        Objective::DiscoverJobOrSector,
        "Découvrir la vente en boutique",
        date!(2025 - 10 - 06),
        date!(2025 - 10 - 10),
    );
    decide(vec![other_goals]).events();
    let other_objective = prior(
        Objective::ConfirmProject,
        &goals,
        date!(2025 - 10 - 06),
        date!(2025 - 10 - 10),
    );
    decide(vec![other_objective]).events();
    let over_a_year_ago = prior(
        Objective::DiscoverJobOrSector,
        &goals,
        date!(2025 - 01 - 06),
        date!(2025 - 01 - 10),
    );
    decide(vec![over_a_year_ago]).events();
}

#[test]
fn sixty_days_with_the_same_host_in_twelve_months_at_most() {
    let accepted = Journey::accepted().events;
    let thirty_days = prior(
        Objective::ConfirmProject,
        "Confirmer le projet",
        date!(2026 - 01 - 05),
        date!(2026 - 02 - 03),
    );
    assert_eq!(thirty_days.days, 30);
    let decide = |end| {
        let mut c = ctx();
        c.history_with_host = vec![thirty_days.clone()];
        given::<Immersion>(&accepted, c).when(draft(with_period(date!(2026 - 03 - 09), end)))
    };
    // 30 + 30 = 60 days: allowed. 30 + 31: the 61st day is refused.
    decide(date!(2026 - 04 - 07)).events();
    let err = decide(date!(2026 - 04 - 08)).refused(Rule::SixtyDaysWithHost, "convention.period");
    assert!(err.message.contains("61 jours au total"), "{err}");
    assert!(err.message.contains("30 jours au plus"), "{err}");
}

// Modification and signatures.

#[test]
fn a_modification_clears_the_signatures() {
    let half_signed = Journey::drafted(convention())
        .run(TODAY, online(Signatory::Person))
        .run(TODAY, online(Signatory::Host));
    let changed = Convention {
        weekly_hours: hours(30),
        ..convention()
    };
    let events = given::<Immersion>(&half_signed.events, ctx())
        .when(draft(changed.clone()))
        .events();
    assert_eq!(
        events,
        vec![
            ConventionModified {
                convention: changed.clone(),
                signatures_cleared: vec![Signatory::Person, Signatory::Host],
            }
            .into()
        ]
    );
    let mut after = half_signed.events.clone();
    after.extend(events);
    let state = Immersion::fold(&after);
    assert!(state.signatures.is_empty());
    assert_eq!(state.missing_signatures().len(), 3);
    // The same content again changes nothing and keeps the signatures.
    given::<Immersion>(&half_signed.events, ctx())
        .when(draft(convention()))
        .then(vec![]);
}

#[test]
fn a_validated_convention_no_longer_changes() {
    given::<Immersion>(&Journey::validated(convention()).events, ctx())
        .when(draft(Convention {
            weekly_hours: hours(30),
            ..convention()
        }))
        .refused(Rule::ConventionLocked, "convention");
}

#[test]
fn each_required_signatory_signs_once() {
    let drafted = Journey::drafted(convention()).events;
    let signed = given::<Immersion>(&drafted, ctx())
        .when(online(Signatory::Host))
        .events();
    assert_eq!(
        signed,
        vec![
            ConventionSigned {
                signatory: Signatory::Host,
                method: SignatureMethod::Online,
                signed_at: ctx().now,
                renewal: false,
            }
            .into()
        ]
    );
    let err = given::<Immersion>(&drafted, ctx())
        .when(online(Signatory::CurrentEmployer))
        .refused(Rule::SignatoryNotRequired, "signatory");
    assert!(err.message.starts_with("L'employeur actuel"), "{err}");
    let host_signed = Journey::drafted(convention()).run(TODAY, online(Signatory::Host));
    given::<Immersion>(&host_signed.events, ctx())
        .when(online(Signatory::Host))
        .refused(Rule::AlreadySigned, "signatory");
    given::<Immersion>(&Journey::accepted().events, ctx())
        .when(online(Signatory::Host))
        .refused(Rule::ConventionNotDrafted, "immersionId");
}

#[test]
fn a_mediator_records_a_paper_signature_once_it_was_given() {
    let drafted = Journey::drafted(convention()).events;
    let paper = |signed_on| ImmersionCommand::Sign {
        signatory: Signatory::Person,
        method: SignatureMethod::Paper {
            recorded_by: mediator(),
            signed_on,
        },
    };
    given::<Immersion>(&drafted, ctx())
        .when(paper(TODAY))
        .events();
    given::<Immersion>(&drafted, ctx())
        .when(paper(TODAY + Duration::days(1)))
        .refused(Rule::DateInFuture, "method.signedOn");
}

// Validation.

#[test]
fn validation_needs_every_signature() {
    let half = Journey::drafted(convention()).run(TODAY, online(Signatory::Person));
    let err = given::<Immersion>(&half.events, ctx())
        .when(ImmersionCommand::Validate { by: mediator() })
        .refused(Rule::SignaturesMissing, "signatures");
    assert_eq!(
        err.message,
        "Il manque la signature de : la structure d'accueil, le prescripteur."
    );
    given::<Immersion>(&Journey::signed(convention()).events, ctx())
        .when(ImmersionCommand::Validate { by: mediator() })
        .then(vec![
            ConventionValidated {
                by: mediator(),
                validated_on: TODAY,
                renewal: false,
            }
            .into(),
        ]);
}

#[test]
fn a_structure_that_prevalidates_validates_only_after_prevalidation() {
    let signed = Journey::signed(convention());
    let mut c = ctx();
    c.prevalidation_required = true;
    given::<Immersion>(&signed.events, c.clone())
        .when(ImmersionCommand::Validate { by: mediator() })
        .refused(Rule::PrevalidationRequired, "immersionId");
    let prevalidated = signed.run(
        TODAY,
        ImmersionCommand::Prevalidate {
            by: UserId(uuid("conseiller")),
        },
    );
    given::<Immersion>(&prevalidated.events, c)
        .when(ImmersionCommand::Validate { by: mediator() })
        .events();
    given::<Immersion>(&Journey::drafted(convention()).events, ctx())
        .when(ImmersionCommand::Prevalidate { by: mediator() })
        .refused(Rule::SignaturesMissing, "signatures");
}

#[test]
fn validation_comes_before_the_first_day() {
    let signed = Journey::signed(convention()).events;
    let start = convention().period.start();
    given::<Immersion>(&signed, context(start))
        .when(ImmersionCommand::Validate { by: mediator() })
        .events();
    let err = given::<Immersion>(&signed, context(start + Duration::days(1)))
        .when(ImmersionCommand::Validate { by: mediator() })
        .refused(Rule::ValidationAfterStart, "convention.period.start");
    assert!(err.message.contains("9 mars 2026"), "{err}");
}

#[test]
fn rejection_and_abandonment_come_before_validation_and_end_it() {
    let drafted = Journey::drafted(convention()).events;
    let rejected = given::<Immersion>(&drafted, ctx())
        .when(ImmersionCommand::Reject {
            by: mediator(),
            justification: text("Tâches d'un poste permanent"),
        })
        .events();
    let mut after = drafted.clone();
    after.extend(rejected);
    assert_eq!(Immersion::fold(&after).stage, Stage::Rejected);
    given::<Immersion>(&after, ctx())
        .when(online(Signatory::Person))
        .refused(Rule::ConventionStage, "immersionId");
    given::<Immersion>(&drafted, ctx())
        .when(ImmersionCommand::Deprecate {
            justification: text("Doublon"),
        })
        .events();
    given::<Immersion>(&Journey::validated(convention()).events, ctx())
        .when(ImmersionCommand::Reject {
            by: mediator(),
            justification: text("Trop tard"),
        })
        .refused(Rule::ConventionStage, "immersionId");
}

// Cancellation.

#[test]
fn cancelled_only_after_validation_and_before_the_start() {
    let validated = Journey::validated(convention());
    let events = given::<Immersion>(&validated.events, ctx())
        .when(ImmersionCommand::Cancel {
            by: Initiator::Employer,
            reason: text("Fermeture exceptionnelle du fournil"),
        })
        .events();
    assert_eq!(
        events,
        vec![
            ConventionCancelled {
                by: Initiator::Employer,
                reason: Personal::Known(text("Fermeture exceptionnelle du fournil")),
                cancelled_on: TODAY,
            }
            .into()
        ]
    );
    let mut cancelled = validated.events.clone();
    cancelled.extend(events);
    given::<Immersion>(&cancelled, context(date!(2026 - 03 - 09)))
        .when(ImmersionCommand::Start {
            started_on: date!(2026 - 03 - 09),
        })
        .refused(Rule::ConventionStage, "immersionId");
    let cancel = || ImmersionCommand::Cancel {
        by: Initiator::Person,
        reason: text("Malade"),
    };
    let err = given::<Immersion>(&Journey::started(convention()).events, ctx())
        .when(cancel())
        .refused(Rule::CancelOnlyBeforeStart, "immersionId");
    assert!(err.message.contains("s'interrompt"), "{err}");
    given::<Immersion>(&Journey::signed(convention()).events, ctx())
        .when(cancel())
        .refused(Rule::CancelOnlyBeforeStart, "immersionId");
}

// Start, interruption, completion.

#[test]
fn an_immersion_starts_within_its_period_once_validated() {
    let validated = Journey::validated(convention()).events;
    let start_on = |day, today| {
        given::<Immersion>(&validated, context(today))
            .when(ImmersionCommand::Start { started_on: day })
    };
    start_on(date!(2026 - 03 - 09), date!(2026 - 03 - 09)).then(vec![
        ImmersionStarted {
            started_on: date!(2026 - 03 - 09),
        }
        .into(),
    ]);
    start_on(date!(2026 - 03 - 20), date!(2026 - 03 - 20)).events();
    start_on(date!(2026 - 03 - 08), date!(2026 - 03 - 09))
        .refused(Rule::StartOutsidePeriod, "startedOn");
    start_on(date!(2026 - 03 - 21), date!(2026 - 03 - 21))
        .refused(Rule::StartOutsidePeriod, "startedOn");
    start_on(date!(2026 - 03 - 10), date!(2026 - 03 - 09)).refused(Rule::DateInFuture, "startedOn");
    given::<Immersion>(
        &Journey::signed(convention()).events,
        context(date!(2026 - 03 - 09)),
    )
    .when(ImmersionCommand::Start {
        started_on: date!(2026 - 03 - 09),
    })
    .refused(Rule::ConventionStage, "immersionId");
}

#[test]
fn the_first_day_is_corrected_once_started_and_holds_what_it_holds() {
    let started = Journey::started(convention());
    let correct = |events: &[ImmersionEvent], day, today| {
        given::<Immersion>(events, context(today)).when(ImmersionCommand::CorrectStart {
            started_on: day,
            reason: text("Début noté le lendemain"),
            corrected_on: today,
        })
    };
    let today = date!(2026 - 03 - 12);
    correct(&started.events, date!(2026 - 03 - 10), today).then(vec![
        StartCorrected {
            started_on: date!(2026 - 03 - 10),
            reason: Personal::Known(text("Début noté le lendemain")),
            corrected_on: today,
        }
        .into(),
    ]);
    correct(&started.events, date!(2026 - 03 - 09), today)
        .refused(Rule::NothingToCorrect, "startedOn");
    correct(&started.events, date!(2026 - 03 - 08), today)
        .refused(Rule::StartOutsidePeriod, "startedOn");
    correct(&started.events, date!(2026 - 03 - 13), today).refused(Rule::DateInFuture, "startedOn");
    let corrected = started.clone().run(
        today,
        ImmersionCommand::CorrectStart {
            started_on: date!(2026 - 03 - 10),
            reason: text("Début noté le lendemain"),
            corrected_on: today,
        },
    );
    assert_eq!(corrected.state().started_on, Some(date!(2026 - 03 - 10)));
    // An accident on the 10th: the immersion had begun by then.
    let accident = started.clone().run(
        today,
        ImmersionCommand::ReportAccident {
            accident_id: passerelle_domain::values::AccidentId(uuid("chute")),
            occurred_at: at(date!(2026 - 03 - 10), 10),
            structure_informed_at: at(date!(2026 - 03 - 10), 11),
            description: text("Chute dans l'escalier"),
        },
    );
    correct(&accident.events, date!(2026 - 03 - 11), today)
        .refused(Rule::StartOutsidePeriod, "startedOn");
    correct(&accident.events, date!(2026 - 03 - 10), today).events();
    // A correction dated before the immersion began.
    given::<Immersion>(&started.events, context(today))
        .when(ImmersionCommand::CorrectStart {
            started_on: date!(2026 - 03 - 10),
            reason: text("Début noté le lendemain"),
            corrected_on: date!(2026 - 03 - 08),
        })
        .refused(Rule::DateBeforeStart, "correctedOn");
    // The host's assessment, given from the last day, has her present
    // until the 10th only.
    let mut partial = host_assessment(false);
    partial.attendance = Attendance::Partially {
        last_day_present: date!(2026 - 03 - 10),
        missed_hours: 4,
    };
    let assessed = started.clone().run(
        date!(2026 - 03 - 20),
        ImmersionCommand::RecordFeedback {
            feedback: Feedback::Host(partial),
            recorded_on: date!(2026 - 03 - 20),
        },
    );
    correct(
        &assessed.events,
        date!(2026 - 03 - 11),
        date!(2026 - 03 - 20),
    )
    .refused(Rule::StartOutsidePeriod, "startedOn");
    // Not before it started.
    correct(
        &Journey::validated(convention()).events,
        date!(2026 - 03 - 09),
        today,
    )
    .refused(Rule::ConventionStage, "startedOn");
    // Once ended too, on or before the day it ended.
    correct(
        &Journey::completed(convention()).events,
        date!(2026 - 03 - 10),
        date!(2026 - 03 - 20),
    )
    .events();
    let interrupted = started.clone().run(
        date!(2026 - 03 - 11),
        ImmersionCommand::Interrupt {
            by: Initiator::Person,
            reason: text("Horaires incompatibles"),
            interrupted_on: date!(2026 - 03 - 11),
        },
    );
    correct(&interrupted.events, date!(2026 - 03 - 12), today)
        .refused(Rule::StartOutsidePeriod, "startedOn");
    correct(&interrupted.events, date!(2026 - 03 - 11), today).events();
}

#[test]
fn the_last_day_is_corrected_once_ended_as_the_same_kind_of_end_and_holds_what_it_holds() {
    let completed = Journey::completed(convention());
    let correct = |events: &[ImmersionEvent], day, today| {
        given::<Immersion>(events, context(today)).when(ImmersionCommand::CorrectEnd {
            ended_on: day,
            reason: text("Fin notée le lundi suivant"),
            corrected_on: today,
        })
    };
    let today = date!(2026 - 03 - 25);
    // Completed on the 20th, its last planned day: noted on the 23rd by
    // mistake, then put back.
    let late = Journey::started(convention()).run(
        date!(2026 - 03 - 23),
        ImmersionCommand::Complete {
            completed_on: date!(2026 - 03 - 23),
        },
    );
    correct(&late.events, date!(2026 - 03 - 20), today).then(vec![
        EndCorrected {
            ended_on: date!(2026 - 03 - 20),
            reason: Personal::Known(text("Fin notée le lundi suivant")),
            corrected_on: today,
        }
        .into(),
    ]);
    let corrected = late.clone().run(
        today,
        ImmersionCommand::CorrectEnd {
            ended_on: date!(2026 - 03 - 20),
            reason: text("Fin notée le lundi suivant"),
            corrected_on: today,
        },
    );
    assert_eq!(corrected.state().ended_on, Some(date!(2026 - 03 - 20)));
    assert_eq!(corrected.state().stage, Stage::Completed);
    correct(&completed.events, date!(2026 - 03 - 20), today)
        .refused(Rule::NothingToCorrect, "endedOn");
    // A completion does not end before its last planned day: that is an
    // interruption.
    correct(&completed.events, date!(2026 - 03 - 19), today)
        .refused(Rule::CompletionBeforeEnd, "endedOn");
    correct(&completed.events, date!(2026 - 03 - 26), today).refused(Rule::DateInFuture, "endedOn");
    // Dated before the day it ended.
    given::<Immersion>(&late.events, context(today))
        .when(ImmersionCommand::CorrectEnd {
            ended_on: date!(2026 - 03 - 20),
            reason: text("Fin notée le lundi suivant"),
            corrected_on: date!(2026 - 03 - 22),
        })
        .refused(Rule::DateBeforeStart, "correctedOn");
    // An interruption, moved within the immersion's days only.
    let interrupted = Journey::started(convention()).run(
        date!(2026 - 03 - 13),
        ImmersionCommand::Interrupt {
            by: Initiator::Person,
            reason: text("Horaires incompatibles"),
            interrupted_on: date!(2026 - 03 - 13),
        },
    );
    correct(&interrupted.events, date!(2026 - 03 - 12), today).events();
    correct(&interrupted.events, date!(2026 - 03 - 08), today)
        .refused(Rule::DateBeforeStart, "endedOn");
    correct(&interrupted.events, date!(2026 - 03 - 20), today).events();
    correct(&interrupted.events, date!(2026 - 03 - 21), today)
        .refused(Rule::InterruptionAfterEnd, "endedOn");
    // An accident on the 12th: the immersion ran that day.
    let accident = Journey::started(convention())
        .run(
            date!(2026 - 03 - 13),
            ImmersionCommand::ReportAccident {
                accident_id: passerelle_domain::values::AccidentId(uuid("chute")),
                occurred_at: at(date!(2026 - 03 - 12), 10),
                structure_informed_at: at(date!(2026 - 03 - 12), 11),
                description: text("Chute dans l'escalier"),
            },
        )
        .run(
            date!(2026 - 03 - 13),
            ImmersionCommand::Interrupt {
                by: Initiator::Employer,
                reason: text("Après l'accident"),
                interrupted_on: date!(2026 - 03 - 13),
            },
        );
    correct(&accident.events, date!(2026 - 03 - 11), today)
        .refused(Rule::AccidentOutsideImmersion, "endedOn");
    correct(&accident.events, date!(2026 - 03 - 12), today).events();
    // The host's assessment has her present until the 12th.
    let mut partial = host_assessment(false);
    partial.attendance = Attendance::Partially {
        last_day_present: date!(2026 - 03 - 12),
        missed_hours: 4,
    };
    let assessed = interrupted.clone().run(
        date!(2026 - 03 - 20),
        ImmersionCommand::RecordFeedback {
            feedback: Feedback::Host(partial),
            recorded_on: date!(2026 - 03 - 20),
        },
    );
    correct(&assessed.events, date!(2026 - 03 - 11), today)
        .refused(Rule::PresenceOutsideImmersion, "endedOn");
    correct(&assessed.events, date!(2026 - 03 - 12), today).events();
    // The follow-up at one month, noted on April 23rd, says the end came
    // by March 23rd.
    let followed = late.clone().run(
        date!(2026 - 04 - 23),
        ImmersionCommand::RecordOutcome {
            milestone: Milestone::OneMonth,
            outcome: Outcome::Training,
            recorded_on: date!(2026 - 04 - 23),
        },
    );
    correct(
        &followed.events,
        date!(2026 - 03 - 24),
        date!(2026 - 04 - 23),
    )
    .refused(Rule::OutcomeTooEarly, "endedOn");
    correct(
        &followed.events,
        date!(2026 - 03 - 20),
        date!(2026 - 04 - 23),
    )
    .events();
    // Nothing to correct before it ended.
    correct(
        &Journey::started(convention()).events,
        date!(2026 - 03 - 12),
        today,
    )
    .refused(Rule::ConventionStage, "endedOn");
    correct(
        &Journey::validated(convention()).events,
        date!(2026 - 03 - 12),
        today,
    )
    .refused(Rule::ConventionStage, "endedOn");
}

#[test]
fn an_interruption_says_who_and_why() {
    let started = Journey::started(convention()).events;
    let on = date!(2026 - 03 - 12);
    given::<Immersion>(&started, context(on))
        .when(ImmersionCommand::Interrupt {
            by: Initiator::Person,
            reason: text("Horaires de nuit incompatibles avec la garde de ma fille"),
            interrupted_on: on,
        })
        .then(vec![
            ImmersionInterrupted {
                by: Initiator::Person,
                reason: Personal::Known(text(
                    "Horaires de nuit incompatibles avec la garde de ma fille",
                )),
                interrupted_on: on,
            }
            .into(),
        ]);
    given::<Immersion>(&started, context(on))
        .when(ImmersionCommand::Interrupt {
            by: Initiator::Employer,
            reason: text("Absences"),
            interrupted_on: date!(2026 - 03 - 08),
        })
        .refused(Rule::DateBeforeStart, "interruptedOn");
    // Past its last planned day, the immersion went to its end: a
    // completion, not an interruption.
    given::<Immersion>(&started, context(date!(2026 - 03 - 23)))
        .when(ImmersionCommand::Interrupt {
            by: Initiator::Employer,
            reason: text("Absences"),
            interrupted_on: date!(2026 - 03 - 21),
        })
        .refused(Rule::InterruptionAfterEnd, "interruptedOn");
    given::<Immersion>(&started, context(date!(2026 - 03 - 23)))
        .when(ImmersionCommand::Interrupt {
            by: Initiator::Employer,
            reason: text("Absences"),
            interrupted_on: date!(2026 - 03 - 20),
        })
        .events();
    given::<Immersion>(&Journey::validated(convention()).events, context(on))
        .when(ImmersionCommand::Interrupt {
            by: Initiator::Employer,
            reason: text("Absences"),
            interrupted_on: on,
        })
        .refused(Rule::NotStarted, "immersionId");
}

#[test]
fn completion_comes_on_or_after_the_last_day() {
    let started = Journey::started(convention()).events;
    let complete = |day| {
        given::<Immersion>(&started, context(day))
            .when(ImmersionCommand::Complete { completed_on: day })
    };
    complete(date!(2026 - 03 - 20)).events();
    let err = complete(date!(2026 - 03 - 19)).refused(Rule::CompletionBeforeEnd, "completedOn");
    assert!(err.message.contains("interruption"), "{err}");
    given::<Immersion>(
        &Journey::completed(convention()).events,
        context(date!(2026 - 03 - 21)),
    )
    .when(ImmersionCommand::Complete {
        completed_on: date!(2026 - 03 - 21),
    })
    .refused(Rule::AlreadyEnded, "immersionId");
}

// Renewal.

fn renewal(start: time::Date, end: time::Date) -> RenewalTerms {
    let c = convention();
    RenewalTerms {
        period: range(start, end),
        schedule: c.schedule,
        weekly_hours: c.weekly_hours,
        objective: c.objective,
        goals: c.goals,
        why_goals_not_reached: text("Le façonnage n'a pas pu être pratiqué : panne du four").into(),
    }
}

fn renew(terms: RenewalTerms) -> ImmersionCommand {
    ImmersionCommand::Renew { terms }
}

const DURING: time::Date = date!(2026 - 03 - 16);

#[test]
fn a_renewal_is_signed_and_validated_then_extends_the_immersion() {
    let terms = renewal(date!(2026 - 03 - 23), date!(2026 - 04 - 03));
    let renewed = Journey::started(convention()).run(DURING, renew(terms.clone()));
    assert_eq!(
        renewed.events.last(),
        Some(&ImmersionEvent::ConventionRenewed(ConventionRenewed {
            terms: terms.clone()
        }))
    );
    let state = renewed.state();
    assert_eq!(state.missing_signatures().len(), 3);
    let signed = [Signatory::Person, Signatory::Host, Signatory::Prescriber]
        .into_iter()
        .fold(renewed, |j, s| j.run(DURING, online(s)));
    assert!(signed.state().renewal.as_ref().unwrap().signatures.len() == 3);
    assert!(
        signed.state().signatures.len() == 3,
        "the first signatures stay"
    );
    let validated = signed.run(DURING, ImmersionCommand::Validate { by: mediator() });
    let state = validated.state();
    assert_eq!(state.planned_end(), Some(date!(2026 - 04 - 03)));
    assert_eq!(state.planned_days(), 12 + 12);
    // The first period's end no longer completes it.
    given::<Immersion>(&validated.events, context(date!(2026 - 03 - 20)))
        .when(ImmersionCommand::Complete {
            completed_on: date!(2026 - 03 - 20),
        })
        .refused(Rule::CompletionBeforeEnd, "completedOn");
    // Once only.
    given::<Immersion>(&validated.events, context(DURING))
        .when(renew(renewal(date!(2026 - 04 - 06), date!(2026 - 04 - 10))))
        .refused(Rule::RenewalOnlyOnce, "immersionId");
}

#[test]
fn a_renewal_keeps_the_objective_and_the_goals() {
    let started = Journey::started(convention()).events;
    let mut other_objective = renewal(date!(2026 - 03 - 23), date!(2026 - 03 - 27));
    other_objective.objective = Objective::InitiateRecruitment;
    given::<Immersion>(&started, context(DURING))
        .when(renew(other_objective))
        .refused(Rule::RenewalSameObjective, "terms.objective");
    let mut other_goals = renewal(date!(2026 - 03 - 23), date!(2026 - 03 - 27));
    other_goals.goals = text("Apprendre la vente");
    given::<Immersion>(&started, context(DURING))
        .when(renew(other_goals))
        .refused(Rule::RenewalSameObjective, "terms.goals");
}

#[test]
fn a_renewal_only_when_the_goals_were_not_reached() {
    let last_day = date!(2026 - 03 - 20);
    let assessed = Journey::started(convention()).run(
        last_day,
        ImmersionCommand::RecordFeedback {
            feedback: Feedback::Host(host_assessment(true)),
            recorded_on: last_day,
        },
    );
    given::<Immersion>(&assessed.events, context(last_day))
        .when(renew(renewal(date!(2026 - 03 - 23), date!(2026 - 03 - 27))))
        .refused(Rule::RenewalGoalsReached, "whyGoalsNotReached");
    let not_reached = Journey::started(convention()).run(
        last_day,
        ImmersionCommand::RecordFeedback {
            feedback: Feedback::Host(host_assessment(false)),
            recorded_on: last_day,
        },
    );
    given::<Immersion>(&not_reached.events, context(last_day))
        .when(renew(renewal(date!(2026 - 03 - 23), date!(2026 - 03 - 27))))
        .events();
}

#[test]
fn a_renewal_follows_the_first_period_and_lasts_no_longer() {
    let started = Journey::started(convention()).events;
    let decide =
        |start, end| given::<Immersion>(&started, context(DURING)).when(renew(renewal(start, end)));
    // The first period lasts 12 days (9–20 March).
    decide(date!(2026 - 03 - 21), date!(2026 - 04 - 01)).events();
    decide(date!(2026 - 03 - 21), date!(2026 - 04 - 02))
        .refused(Rule::RenewalMaxDuration, "terms.period.end");
    decide(date!(2026 - 03 - 20), date!(2026 - 03 - 27))
        .refused(Rule::RenewalMustFollow, "terms.period.start");
    let mut long_hours = renewal(date!(2026 - 03 - 23), date!(2026 - 03 - 27));
    long_hours.weekly_hours = hours(49);
    given::<Immersion>(&started, context(DURING))
        .when(renew(long_hours))
        .refused(Rule::MaxWeeklyHours, "terms.weeklyHours");
}

#[test]
fn a_renewal_counts_in_the_sixty_days_with_the_host() {
    let started = Journey::started(convention()).events;
    let mut c = context(DURING);
    // 37 days before, 12 in the first period: 11 days left.
    c.history_with_host = vec![
        prior(
            Objective::ConfirmProject,
            "Confirmer",
            date!(2025 - 09 - 01),
            date!(2025 - 09 - 30),
        ),
        prior(
            Objective::ConfirmProject,
            "Confirmer encore",
            date!(2025 - 12 - 01),
            date!(2025 - 12 - 07),
        ),
    ];
    given::<Immersion>(&started, c.clone())
        .when(renew(renewal(date!(2026 - 03 - 23), date!(2026 - 04 - 02))))
        .events();
    let err = given::<Immersion>(&started, c)
        .when(renew(renewal(date!(2026 - 03 - 23), date!(2026 - 04 - 03))))
        .refused(Rule::SixtyDaysWithHost, "terms.period");
    assert!(err.message.contains("61 jours au total"), "{err}");
}

#[test]
fn a_renewal_happens_while_the_immersion_runs() {
    let terms = renewal(date!(2026 - 03 - 23), date!(2026 - 03 - 27));
    given::<Immersion>(&Journey::validated(convention()).events, ctx())
        .when(renew(terms.clone()))
        .refused(Rule::NotStarted, "immersionId");
    given::<Immersion>(
        &Journey::completed(convention()).events,
        context(date!(2026 - 03 - 20)),
    )
    .when(renew(terms))
    .refused(Rule::AlreadyEnded, "immersionId");
}

// Accidents.

#[test]
fn an_accident_starts_the_24_and_48_hour_clocks() {
    let started = Journey::started(convention()).events;
    let c = context(date!(2026 - 03 - 12));
    let report = |informed_after: i64| {
        given::<Immersion>(&started, c.clone()).when(ImmersionCommand::ReportAccident {
            accident_id: passerelle_domain::values::AccidentId(uuid("coupure")),
            occurred_at: NOON_9_MARCH,
            structure_informed_at: NOON_9_MARCH + Duration::hours(informed_after),
            description: text("Coupure à la main en façonnant"),
        })
    };
    let in_time = report(24).events();
    assert_eq!(
        in_time,
        vec![
            AccidentReported {
                accident_id: passerelle_domain::values::AccidentId(uuid("coupure")),
                occurred_at: NOON_9_MARCH,
                structure_informed_at: NOON_9_MARCH + Duration::hours(24),
                description: Personal::Known(text("Coupure à la main en façonnant")),
                informed_in_time: true,
                declaration_due_at: NOON_9_MARCH + Duration::hours(48),
            }
            .into()
        ]
    );
    // Told late: recorded as it happened, flagged.
    match &report(25).events()[0] {
        ImmersionEvent::AccidentReported(e) => assert!(!e.informed_in_time),
        other => panic!("{other:?}"),
    }
    let mut reported = started.clone();
    reported.extend(in_time);
    let file = |hours: i64| {
        given::<Immersion>(&reported, c.clone()).when(ImmersionCommand::RecordAccidentDeclaration {
            accident_id: passerelle_domain::values::AccidentId(uuid("coupure")),
            filed_at: NOON_9_MARCH + Duration::hours(hours),
        })
    };
    match &file(48).events()[0] {
        ImmersionEvent::AccidentDeclarationFiled(e) => assert!(e.filed_in_time),
        other => panic!("{other:?}"),
    }
    match &file(49).events()[0] {
        ImmersionEvent::AccidentDeclarationFiled(e) => assert!(!e.filed_in_time),
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_accident_happens_during_the_immersion_and_is_declared_once() {
    let started = Journey::started(convention()).events;
    let c = context(date!(2026 - 03 - 12));
    let id = passerelle_domain::values::AccidentId(uuid("chute"));
    let report = |occurred_at| ImmersionCommand::ReportAccident {
        accident_id: id,
        occurred_at,
        structure_informed_at: occurred_at + Duration::hours(1),
        description: text("Chute dans l'escalier"),
    };
    given::<Immersion>(&started, c.clone())
        .when(report(at(date!(2026 - 03 - 08), 12)))
        .refused(Rule::AccidentOutsideImmersion, "occurredAt");
    given::<Immersion>(&Journey::validated(convention()).events, c.clone())
        .when(report(at(date!(2026 - 03 - 09), 12)))
        .refused(Rule::AccidentOutsideImmersion, "occurredAt");
    given::<Immersion>(&started, c.clone())
        .when(ImmersionCommand::RecordAccidentDeclaration {
            accident_id: id,
            filed_at: at(date!(2026 - 03 - 10), 9),
        })
        .refused(Rule::AccidentUnknown, "accidentId");
    let declared = Journey {
        events: started.clone(),
    }
    .run(date!(2026 - 03 - 12), report(at(date!(2026 - 03 - 10), 9)))
    .run(
        date!(2026 - 03 - 12),
        ImmersionCommand::RecordAccidentDeclaration {
            accident_id: id,
            filed_at: at(date!(2026 - 03 - 10), 15),
        },
    );
    given::<Immersion>(&declared.events, c)
        .when(ImmersionCommand::RecordAccidentDeclaration {
            accident_id: id,
            filed_at: at(date!(2026 - 03 - 10), 16),
        })
        .refused(Rule::AccidentAlreadyDeclared, "accidentId");
}

#[test]
fn an_accident_s_day_is_its_day_in_paris_whatever_offset_it_is_sent_with() {
    // The immersion starts on Monday 9 March 2026 (winter time, UTC+1).
    let started = Journey::started(convention()).events;
    let c = context(date!(2026 - 03 - 12));
    let report = |occurred_at: OffsetDateTime| ImmersionCommand::ReportAccident {
        accident_id: passerelle_domain::values::AccidentId(uuid("nuit")),
        occurred_at,
        structure_informed_at: occurred_at + Duration::hours(1),
        description: text("Chute en prenant son poste de nuit"),
    };
    // 00:30 on 9 March in Paris, sent in UTC: still 8 March there.
    let first_night = datetime!(2026-03-08 23:30 UTC);
    assert_eq!(
        given::<Immersion>(&started, c.clone())
            .when(report(first_night))
            .events()
            .len(),
        1
    );
    // 23:30 on 8 March in Paris, sent with an offset that puts it on the 9th.
    given::<Immersion>(&started, c)
        .when(report(
            datetime!(2026-03-08 22:30 UTC).to_offset(time::macros::offset!(+3)),
        ))
        .refused(Rule::AccidentOutsideImmersion, "occurredAt");
}

// Feedback and outcomes.

fn host_assessment(goals_reached: bool) -> HostAssessment {
    HostAssessment {
        attendance: Attendance::Completed,
        goals_reached,
        skills: vec![SkillObserved {
            skill: Skill::Punctuality,
            level: Level::Strong,
            comment: None,
        }],
        advice: Some(Personal::Known(text(
            "Passer le CAP boulanger en alternance",
        ))),
        appraisal: None,
        hiring: Hiring::No,
        received_by_other_means: false,
    }
}

fn person_feedback(on_assessment: Option<AssessmentResponse>) -> Feedback {
    Feedback::Person(PersonFeedback {
        words: Personal::Known(text("J'ai aimé le fournil, moins les horaires")),
        on_assessment,
    })
}

#[test]
fn feedback_comes_from_the_last_day_each_party_once() {
    let started = Journey::started(convention()).events;
    let record = |events: &[ImmersionEvent], today, feedback| {
        given::<Immersion>(events, context(today)).when(ImmersionCommand::RecordFeedback {
            feedback,
            recorded_on: today,
        })
    };
    let err = record(
        &started,
        date!(2026 - 03 - 19),
        Feedback::Host(host_assessment(false)),
    )
    .refused(Rule::FeedbackTooEarly, "feedback");
    assert!(err.message.contains("20 mars 2026"), "{err}");
    record(
        &started,
        date!(2026 - 03 - 20),
        Feedback::Host(host_assessment(false)),
    )
    .events();
    let completed = Journey::completed(convention()).run(
        date!(2026 - 03 - 20),
        ImmersionCommand::RecordFeedback {
            feedback: Feedback::Host(host_assessment(false)),
            recorded_on: date!(2026 - 03 - 20),
        },
    );
    record(
        &completed.events,
        date!(2026 - 03 - 23),
        Feedback::Host(host_assessment(true)),
    )
    .refused(Rule::FeedbackAlreadyRecorded, "feedback");
    record(
        &completed.events,
        date!(2026 - 03 - 23),
        Feedback::Mediator(MediatorFeedback {
            notes: Personal::Known(text("Bonne immersion, projet à confirmer")),
            goals_reached: false,
            next_steps: None,
        }),
    )
    .events();
}

#[test]
fn the_person_countersigns_or_contests_an_assessment_that_exists() {
    let completed = Journey::completed(convention());
    let day = date!(2026 - 03 - 20);
    given::<Immersion>(&completed.events, context(day))
        .when(ImmersionCommand::RecordFeedback {
            feedback: person_feedback(Some(AssessmentResponse::Countersigned)),
            recorded_on: day,
        })
        .refused(Rule::CountersignWithoutAssessment, "feedback.onAssessment");
    given::<Immersion>(&completed.events, context(day))
        .when(ImmersionCommand::RecordFeedback {
            feedback: person_feedback(None),
            recorded_on: day,
        })
        .events();
    let assessed = completed.run(
        day,
        ImmersionCommand::RecordFeedback {
            feedback: Feedback::Host(host_assessment(false)),
            recorded_on: day,
        },
    );
    given::<Immersion>(&assessed.events, context(day))
        .when(ImmersionCommand::RecordFeedback {
            feedback: person_feedback(Some(AssessmentResponse::Disagreed {
                comment: Personal::Known(text("J'étais là tous les jours")),
            })),
            recorded_on: day,
        })
        .events();
}

#[test]
fn the_person_answers_an_assessment_that_came_after_her_feedback_once() {
    let day = date!(2026 - 03 - 20);
    let completed = Journey::completed(convention());
    let answer = |events: &[ImmersionEvent], response| {
        given::<Immersion>(events, context(day)).when(ImmersionCommand::AnswerAssessment {
            response,
            answered_on: day,
        })
    };
    let countersigned = || AssessmentResponse::Countersigned;
    // No assessment yet: nothing to answer.
    answer(&completed.events, countersigned())
        .refused(Rule::CountersignWithoutAssessment, "response");
    // Her feedback first, without an answer; then the assessment.
    let spoke = completed.run(
        day,
        ImmersionCommand::RecordFeedback {
            feedback: person_feedback(None),
            recorded_on: day,
        },
    );
    answer(&spoke.events, countersigned()).refused(Rule::CountersignWithoutAssessment, "response");
    let assessed = spoke.run(
        day,
        ImmersionCommand::RecordFeedback {
            feedback: Feedback::Host(host_assessment(false)),
            recorded_on: day,
        },
    );
    let disagreed = AssessmentResponse::Disagreed {
        comment: Personal::Known(text("J'étais là tous les jours")),
    };
    given::<Immersion>(&assessed.events, context(day))
        .when(ImmersionCommand::AnswerAssessment {
            response: disagreed.clone(),
            answered_on: date!(2026 - 03 - 21),
        })
        .refused(Rule::DateInFuture, "answeredOn");
    answer(&assessed.events, disagreed.clone()).then(vec![
        AssessmentAnswered {
            response: disagreed.clone(),
            answered_on: day,
        }
        .into(),
    ]);
    // Answered: the state reads it as her feedback's answer, and a second
    // answer is refused.
    let answered = assessed.run(
        day,
        ImmersionCommand::AnswerAssessment {
            response: disagreed.clone(),
            answered_on: day,
        },
    );
    let state: ImmersionState = Immersion::fold(&answered.events);
    assert_eq!(
        state.feedback.get(&FeedbackAuthor::Person),
        Some(&Feedback::Person(PersonFeedback {
            words: Personal::Known(text("J'ai aimé le fournil, moins les horaires")),
            on_assessment: Some(disagreed),
        }))
    );
    let err = answer(&answered.events, countersigned())
        .refused(Rule::AssessmentAlreadyAnswered, "response");
    assert_eq!(err.kind, ErrorKind::Conflict);
    // Answered with her feedback: answering again is refused too.
    let with_feedback = Journey::completed(convention())
        .run(
            day,
            ImmersionCommand::RecordFeedback {
                feedback: Feedback::Host(host_assessment(false)),
                recorded_on: day,
            },
        )
        .run(
            day,
            ImmersionCommand::RecordFeedback {
                feedback: person_feedback(Some(AssessmentResponse::Countersigned)),
                recorded_on: day,
            },
        );
    answer(&with_feedback.events, countersigned())
        .refused(Rule::AssessmentAlreadyAnswered, "response");
    // The assessment there, her feedback not yet: she answers with it.
    let only_assessed = Journey::completed(convention()).run(
        day,
        ImmersionCommand::RecordFeedback {
            feedback: Feedback::Host(host_assessment(false)),
            recorded_on: day,
        },
    );
    answer(&only_assessed.events, countersigned()).refused(Rule::AnswerWithoutFeedback, "response");
}

#[test]
fn a_feedback_recorded_is_corrected_whole_by_its_party_and_the_correction_says_why() {
    let day = date!(2026 - 03 - 20);
    let completed = Journey::completed(convention());
    let correct = |events: &[ImmersionEvent], feedback, corrected_on| {
        given::<Immersion>(events, context(day)).when(ImmersionCommand::CorrectFeedback {
            feedback,
            reason: text("Le tuteur s'était trompé de ligne"),
            corrected_on,
        })
    };
    // Nothing recorded yet: nothing to correct.
    correct(
        &completed.events,
        Feedback::Host(host_assessment(true)),
        day,
    )
    .refused(Rule::FeedbackNotRecorded, "feedback");
    let assessed = completed.run(
        day,
        ImmersionCommand::RecordFeedback {
            feedback: Feedback::Host(host_assessment(false)),
            recorded_on: day,
        },
    );
    // The same assessment again changes nothing.
    correct(
        &assessed.events,
        Feedback::Host(host_assessment(false)),
        day,
    )
    .refused(Rule::NothingToCorrect, "feedback");
    correct(
        &assessed.events,
        Feedback::Host(host_assessment(true)),
        date!(2026 - 03 - 21),
    )
    .refused(Rule::DateInFuture, "correctedOn");
    // A partial attendance is checked as when recorded.
    let mut outside = host_assessment(true);
    outside.attendance = Attendance::Partially {
        last_day_present: date!(2026 - 04 - 30),
        missed_hours: 2,
    };
    correct(&assessed.events, Feedback::Host(outside), day)
        .refused(Rule::PresenceOutsideImmersion, "feedback.lastDayPresent");
    correct(&assessed.events, Feedback::Host(host_assessment(true)), day).then(vec![
        FeedbackCorrected {
            feedback: Feedback::Host(host_assessment(true)),
            reason: Personal::Known(text("Le tuteur s'était trompé de ligne")),
            corrected_on: day,
        }
        .into(),
    ]);
    // How it was given stays as recorded: online here.
    let mut on_paper = host_assessment(true);
    on_paper.received_by_other_means = true;
    correct(&assessed.events, Feedback::Host(on_paper), day).refused(
        Rule::FeedbackGivenOtherwise,
        "feedback.receivedByOtherMeans",
    );
    // The person countersigned the assessment; corrected since, it is
    // hers to answer again, and her words stay.
    let countersigned = assessed.run(
        day,
        ImmersionCommand::RecordFeedback {
            feedback: person_feedback(Some(AssessmentResponse::Countersigned)),
            recorded_on: day,
        },
    );
    let corrected = countersigned.clone().run(
        day,
        ImmersionCommand::CorrectFeedback {
            feedback: Feedback::Host(host_assessment(true)),
            reason: text("Le tuteur s'était trompé de ligne"),
            corrected_on: day,
        },
    );
    let state: ImmersionState = Immersion::fold(&corrected.events);
    assert_eq!(
        state.feedback.get(&FeedbackAuthor::Host),
        Some(&Feedback::Host(host_assessment(true)))
    );
    assert_eq!(
        state.feedback.get(&FeedbackAuthor::Person),
        Some(&person_feedback(None))
    );
    given::<Immersion>(&corrected.events, context(day))
        .when(ImmersionCommand::AnswerAssessment {
            response: AssessmentResponse::Countersigned,
            answered_on: day,
        })
        .events();
    // Her own words corrected keep the assessment's answer she gives.
    let reworded = Feedback::Person(PersonFeedback {
        words: Personal::Known(text("J'ai aimé le fournil et les horaires")),
        on_assessment: Some(AssessmentResponse::Countersigned),
    });
    correct(&countersigned.events, reworded.clone(), day).events();
    // A party that gave no feedback yet records it; it is not corrected.
    let mediator = Feedback::Mediator(MediatorFeedback {
        notes: Personal::Known(text("Projet confirmé")),
        goals_reached: true,
        next_steps: None,
    });
    correct(&countersigned.events, mediator, day).refused(Rule::FeedbackNotRecorded, "feedback");
}

#[test]
fn outcomes_at_the_end_then_at_one_three_and_six_months() {
    let completed = Journey::completed(convention()).events;
    let record = |events: &[ImmersionEvent], milestone, day| {
        given::<Immersion>(events, context(day)).when(ImmersionCommand::RecordOutcome {
            milestone,
            outcome: Outcome::Training,
            recorded_on: day,
        })
    };
    record(
        &Journey::started(convention()).events,
        Milestone::End,
        date!(2026 - 03 - 20),
    )
    .refused(Rule::OutcomeTooEarly, "milestone");
    record(&completed, Milestone::End, date!(2026 - 03 - 20)).events();
    // Ended on 20 March: the 1-month follow-up is due on 20 April.
    let err = record(&completed, Milestone::OneMonth, date!(2026 - 04 - 19))
        .refused(Rule::OutcomeTooEarly, "recordedOn");
    assert!(err.message.contains("20 avril 2026"), "{err}");
    record(&completed, Milestone::OneMonth, date!(2026 - 04 - 20)).events();
    record(&completed, Milestone::SixMonths, date!(2026 - 09 - 20)).events();
    let followed = Journey {
        events: completed.clone(),
    }
    .run(
        date!(2026 - 06 - 22),
        ImmersionCommand::RecordOutcome {
            milestone: Milestone::ThreeMonths,
            outcome: Outcome::Hired {
                contract: passerelle_domain::values::ContractType::Alternance,
            },
            recorded_on: date!(2026 - 06 - 22),
        },
    );
    record(
        &followed.events,
        Milestone::ThreeMonths,
        date!(2026 - 06 - 23),
    )
    .refused(Rule::OutcomeAlreadyRecorded, "milestone");
}

#[test]
fn an_unknown_immersion_is_not_found() {
    let err = given::<Immersion>(&[], ctx())
        .when(online(Signatory::Person))
        .refused(Rule::UnknownAggregate, "immersionId");
    assert_eq!(err.kind, ErrorKind::NotFound);
}

#[test]
fn a_partial_attendance_falls_within_the_immersion() {
    // From 9 to 20 March, 35 hours a week: 60 hours planned. Its
    // completion recorded late, on the 25th, adds no day.
    let late = Journey::started(convention()).run(
        date!(2026 - 03 - 25),
        ImmersionCommand::Complete {
            completed_on: date!(2026 - 03 - 25),
        },
    );
    let day = date!(2026 - 03 - 26);
    let partial = |events: &[ImmersionEvent], last_day_present, missed_hours| {
        given::<Immersion>(events, context(day)).when(ImmersionCommand::RecordFeedback {
            feedback: Feedback::Host(HostAssessment {
                attendance: Attendance::Partially {
                    last_day_present,
                    missed_hours,
                },
                ..host_assessment(false)
            }),
            recorded_on: day,
        })
    };
    for outside in [
        date!(2026 - 03 - 08),
        date!(2026 - 03 - 21),
        date!(2026 - 03 - 24),
    ] {
        let err = partial(&late.events, outside, 0)
            .refused(Rule::PresenceOutsideImmersion, "feedback.lastDayPresent");
        assert!(err.message.contains("du 9 au 20 mars 2026"), "{err}");
    }
    let err = partial(&late.events, date!(2026 - 03 - 09), 61)
        .refused(Rule::PresenceOutsideImmersion, "feedback.missedHours");
    assert!(err.message.contains("les 60 heures"), "{err}");
    partial(&late.events, date!(2026 - 03 - 09), 60).events();
    partial(&late.events, date!(2026 - 03 - 20), 0).events();
    // Interrupted on the 12th: its last day.
    let interrupted = Journey::started(convention()).run(
        date!(2026 - 03 - 12),
        ImmersionCommand::Interrupt {
            by: Initiator::Person,
            reason: text("Un déménagement"),
            interrupted_on: date!(2026 - 03 - 12),
        },
    );
    partial(&interrupted.events, date!(2026 - 03 - 13), 0)
        .refused(Rule::PresenceOutsideImmersion, "feedback.lastDayPresent");
    partial(&interrupted.events, date!(2026 - 03 - 12), 0).events();
}
