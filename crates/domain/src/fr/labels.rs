//! The French label of each domain value a page, a CSV or a mail shows: one
//! wording per value, so a mediator reads the same word everywhere.

use uuid::Uuid;

use crate::employer::{EmployerField, VisitField, VisitPurpose};
use crate::immersion::{
    AttendanceKind, FeedbackAuthor, Initiator, Level, Milestone, Objective, Outcome, RenewalStatus,
    Respondent, Signatory, SignatureMethodKind, SituationKind, Skill, Stage,
};
use crate::need::{HiringIntent, Horizon, NeedCloseReasonKind, NeedSource};
use crate::person::{
    ConsentProofKind, ConsentPurpose, ErasureReason, ExitReasonKind, IdentityField, PersonStage,
    ReadjustmentCause,
};
use crate::testimony::Audience;
use crate::values::{
    AgeBand, ContractType, ImmersionId, InquiryId, MeetingId, MentorshipId, RomeCode, VisitId,
};

/// A domain value with a French label.
pub trait Labelled: Copy + 'static {
    /// One value of each kind, in the order forms and tables list them (a
    /// variant's details, such as an outcome's contract, do not change its
    /// label).
    const ALL: &'static [Self];

    /// How the API names the kind, lower-cased (`discover_job_or_sector`).
    fn code(self) -> &'static str;

    /// The label, capitalised, as a field's value or a table's cell.
    fn french(self) -> &'static str;
}

/// The label of a value.
pub fn label<T: Labelled>(value: T) -> &'static str {
    value.french()
}

/// A label as it reads inside a sentence, its first letter lowered:
/// « À l'oral » → « à l'oral ».
pub fn in_sentence(label: &str) -> String {
    let mut chars = label.chars();
    chars
        .next()
        .map(|first| first.to_lowercase().chain(chars).collect())
        .unwrap_or_default()
}

/// The label of a value given as the API names it (`DISCOVER_JOB_OR_SECTOR`)
/// or lower-cased; `None` when no value of `T` has that name.
pub fn label_of<T: Labelled>(code: &str) -> Option<&'static str> {
    T::ALL
        .iter()
        .find(|v| v.code().eq_ignore_ascii_case(code))
        .map(|v| v.french())
}

/// A ROME code with its job's label from the referential
/// ("A1101 — Conducteur / Conductrice d'engins agricoles"); the code alone
/// when the referential no longer knows it.
pub fn rome(code: &str) -> String {
    match RomeCode::parse(code).ok().and_then(|c| c.label()) {
        Some(job) => format!("{code} — {job}"),
        None => code.to_owned(),
    }
}

/// Labels an enum. The matches are exhaustive, so a variant added to the
/// enum does not compile until it has its label here; a variant's detail is
/// given a placeholder for `ALL`.
macro_rules! labels {
    ($type:ident {
        $($variant:ident $({ $field:ident: $placeholder:expr })? => $code:literal, $label:literal;)+
    }) => {
        impl Labelled for $type {
            const ALL: &'static [Self] = &[$($type::$variant $({ $field: $placeholder })?),+];

            fn code(self) -> &'static str {
                match self {
                    $($type::$variant $({ $field: _ })? => $code,)+
                }
            }

            fn french(self) -> &'static str {
                match self {
                    $($type::$variant $({ $field: _ })? => $label,)+
                }
            }
        }
    };
}

labels!(Objective {
    DiscoverJobOrSector => "discover_job_or_sector", "Découvrir un métier ou un secteur d'activité";
    ConfirmProject => "confirm_project", "Confirmer un projet professionnel";
    InitiateRecruitment => "initiate_recruitment", "Initier une démarche de recrutement";
});

labels!(Stage {
    NotProposed => "not_proposed", "Pas encore proposée";
    Proposed => "proposed", "Proposée";
    Declined => "declined", "Déclinée";
    Drafted => "drafted", "Convention rédigée";
    Validated => "validated", "Convention validée";
    Rejected => "rejected", "Convention rejetée";
    Deprecated => "deprecated", "Convention abandonnée";
    Cancelled => "cancelled", "Convention annulée";
    Started => "started", "En cours";
    Interrupted => "interrupted", "Interrompue";
    Completed => "completed", "Terminée";
});

labels!(ConsentPurpose {
    Testimony => "testimony", "Partager son parcours (témoignage)";
    Mentoring => "mentoring", "Être mis en relation avec un parrain ou une marraine";
    PeerContact => "peer_contact", "Rencontrer des personnes accompagnées comme pair";
    DisabilityRecognition => "disability_recognition", "Enregistrer la RQTH (donnée de santé)";
});

labels!(ConsentProofKind {
    SignedForm => "signed_form", "Sur un formulaire signé";
    Online => "online", "En ligne, depuis son espace";
    Oral => "oral", "À l'oral, noté par l'équipe";
});

labels!(Audience {
    OwnStructureMediators => "own_structure_mediators", "Les médiateurs de la structure seulement";
    OwnStructurePeople => "own_structure_people", "Les médiateurs et les personnes accompagnées par la structure";
    Territory => "territory", "Toutes les structures du territoire et les personnes qu'elles accompagnent";
});

labels!(ErasureReason {
    PersonRequest => "person_request", "À la demande de la personne (droit à l'effacement)";
    EndOfRetention => "end_of_retention", "Fin de la durée de conservation";
    Other => "other", "Autre motif";
});

labels!(FeedbackAuthor {
    Host => "host", "Entreprise";
    Person => "person", "Personne";
    Mediator => "mediator", "Médiateur";
});

labels!(Respondent {
    Person => "person", "La personne";
    Employer => "employer", "L'employeur";
});

labels!(Initiator {
    Person => "person", "La personne";
    Employer => "employer", "L'employeur";
    Mediator => "mediator", "Le médiateur";
});

labels!(Signatory {
    Person => "person", "Personne";
    LegalRepresentative => "legal_representative", "Représentant légal";
    Host => "host", "Structure d'accueil";
    Prescriber => "prescriber", "Prescripteur";
    SupportStructure => "support_structure", "Structure d'accompagnement";
    CurrentEmployer => "current_employer", "Employeur actuel";
});

labels!(SituationKind {
    JobSeeker => "job_seeker", "Demandeur ou demandeuse d'emploi";
    Employed => "employed", "Salarié ou salariée";
    Student => "student", "Étudiant ou étudiante";
    Other => "other", "Autre situation";
});

labels!(SignatureMethodKind {
    Online => "online", "Signée en ligne";
    Paper => "paper", "Signée sur papier";
});

labels!(Skill {
    JobTasks => "job_tasks", "Gestes du métier";
    Punctuality => "punctuality", "Ponctualité";
    SafetyRules => "safety_rules", "Règles de sécurité";
    Teamwork => "teamwork", "Travail en équipe";
    Communication => "communication", "Communication";
    Autonomy => "autonomy", "Autonomie";
    Initiative => "initiative", "Initiative";
});

labels!(Level {
    ToImprove => "to_improve", "À améliorer";
    Acquired => "acquired", "Acquise";
    Strong => "strong", "Point fort";
});

labels!(AttendanceKind {
    Completed => "completed", "Présente tout du long";
    Partially => "partially", "Présente en partie";
    DidNotShow => "did_not_show", "Jamais venue";
});

labels!(Milestone {
    End => "end", "À la fin de l'immersion";
    OneMonth => "one_month", "À 1 mois";
    ThreeMonths => "three_months", "À 3 mois";
    SixMonths => "six_months", "À 6 mois";
});

labels!(Outcome {
    Hired { contract: ContractType::Cdi } => "hired", "Embauche";
    Training => "training", "Formation";
    NewImmersion => "new_immersion", "Nouvelle immersion";
    ProjectReadjusted => "project_readjusted", "Projet réajusté";
    Nothing => "nothing", "Sans suite";
});

labels!(ContractType {
    Cdi => "cdi", "CDI";
    CddSixMonthsOrMore => "cdd_six_months_or_more", "CDD de 6 mois ou plus";
    CddUnderSixMonths => "cdd_under_six_months", "CDD de moins de 6 mois";
    Alternance => "alternance", "Alternance";
    Interim => "interim", "Intérim";
    ContratAide => "contrat_aide", "Contrat aidé";
    ContratInsertion => "contrat_insertion", "Contrat d'insertion";
    Other => "other", "Autre contrat";
});

labels!(ExitReasonKind {
    Employment => "employment", "Emploi";
    Training => "training", "Formation";
    Moved => "moved", "Déménagement";
    NoLongerInTouch => "no_longer_in_touch", "Plus de nouvelles";
    EndOfSupport => "end_of_support", "Fin de l'accompagnement prévu";
    Other => "other", "Autre raison";
});

// In the order of a path, as the people list's filter offers them.
labels!(PersonStage {
    NoProjectYet => "no_project_yet", "Projet pas encore formulé";
    ProjectStated => "project_stated", "Projet formulé, sans immersion en cours";
    ImmersionInProgress => "immersion_in_progress", "Immersion en cours";
    Hired => "hired", "Sortie vers l'emploi";
    Exited => "exited", "Sortie pour une autre raison";
});

labels!(Horizon {
    Now => "now", "Dès maintenant";
    WithinThreeMonths => "within_three_months", "Dans les 3 mois";
    WithinSixMonths => "within_six_months", "Dans les 6 mois";
    WithinAYear => "within_a_year", "Dans l'année";
    NotKnownYet => "not_known_yet", "Je ne sais pas encore";
});

labels!(HiringIntent {
    Planned => "planned", "Oui, c'est prévu";
    Possible => "possible", "Peut-être, si la personne convient";
    None => "none", "Non, pas pour l'instant";
});

labels!(VisitPurpose {
    Prospection => "prospection", "Prospection";
    FollowUp => "follow_up", "Suivi";
    InEmploymentMediation => "in_employment_mediation", "Médiation dans l'emploi";
});

labels!(IdentityField {
    FirstName => "first_name", "Prénom";
    LastName => "last_name", "Nom";
    BirthDate => "birth_date", "Date de naissance";
    Email => "email", "E-mail";
    Phone => "phone", "Téléphone";
    Address => "address", "Adresse";
});

labels!(EmployerField {
    Name => "name", "Nom";
    Naf => "naf", "Secteur d'activité";
    Commune => "commune", "Commune";
    Address => "address", "Adresse";
});

labels!(VisitField {
    VisitedOn => "visited_on", "Date";
    Purpose => "purpose", "Objet";
    Observations => "observations", "Observations";
    NextStep => "next_step", "Suite prévue";
});

labels!(RenewalStatus {
    Pending => "pending", "En attente des signatures et de la validation";
    Validated => "validated", "Validé";
});

labels!(NeedCloseReasonKind {
    Met => "met", "Besoin pourvu";
    NoLongerNeeded => "no_longer_needed", "Plus d'actualité";
    NoSuitableCandidate => "no_suitable_candidate", "Personne ne correspondait";
    Other => "other", "Autre raison";
});

labels!(NeedSource {
    Visit { visit_id: VisitId(Uuid::nil()) } => "visit", "Visite";
    Portal => "portal", "Portail employeur";
    Phone => "phone", "Téléphone";
});

labels!(ReadjustmentCause {
    ImmersionFeedback { immersion_id: ImmersionId(Uuid::nil()) } => "immersion_feedback", "Retour d'immersion";
    JobInquiry { inquiry_id: InquiryId(Uuid::nil()) } => "job_inquiry", "Enquête métier";
    PeerMeeting { meeting_id: MeetingId(Uuid::nil()) } => "peer_meeting", "Rencontre avec un pair";
    Mentorship { mentorship_id: MentorshipId(Uuid::nil()) } => "mentorship", "Parrainage";
});

labels!(AgeBand {
    Under26 => "under_26", "Moins de 26 ans";
    From26To49 => "from_26_to_49", "26 à 49 ans";
    From50 => "from_50", "50 ans et plus";
});

/// What a recorded fact is, from its stored event type, in the words of a
/// mediator (a person's history, the export of their data).
pub fn event_label(event_type: &str) -> &'static str {
    match event_type {
        "person_enrolled" => "Début de l'accompagnement",
        "person_exited" => "Fin de l'accompagnement",
        "person_referent_changed" => "Changement de référent",
        "situation_stated" => "Situation décrite",
        "project_stated" => "Projet formulé",
        "project_readjusted" => "Projet réajusté",
        "consent_given" => "Consentement donné",
        "consent_withdrawn" => "Consentement retiré",
        "disability_recognition_recorded" => "Reconnaissance du handicap enregistrée",
        "job_inquiry_held" => "Enquête métier",
        "peer_meeting_held" => "Rencontre avec un pair",
        "mentorship_started" => "Début d'un parrainage",
        "mentorship_ended" => "Fin d'un parrainage",
        "immersion_proposed" => "Immersion proposée",
        "proposal_accepted_by_person" => "Immersion acceptée par la personne",
        "proposal_accepted_by_employer" => "Immersion acceptée par l'employeur",
        "proposal_declined" => "Immersion déclinée",
        "convention_drafted" => "Convention rédigée",
        "convention_modified" => "Convention modifiée",
        "convention_signed" => "Convention signée",
        "convention_prevalidated" => "Convention prévalidée",
        "convention_validated" => "Convention validée",
        "convention_rejected" => "Convention rejetée",
        "convention_deprecated" => "Convention abandonnée",
        "convention_cancelled" => "Convention annulée",
        "convention_renewed" => "Renouvellement rédigé",
        "immersion_started" => "Début de l'immersion",
        "start_corrected" => "Premier jour corrigé",
        "immersion_interrupted" => "Immersion interrompue",
        "immersion_completed" => "Fin de l'immersion",
        "end_corrected" => "Dernier jour corrigé",
        "accident_reported" => "Accident signalé",
        "accident_declaration_filed" => "Déclaration d'accident faite",
        "feedback_recorded" => "Retour enregistré",
        "feedback_corrected" => "Retour corrigé",
        "outcome_recorded" => "Situation après l'immersion",
        "assessment_answered" => "Bilan contresigné ou contesté",
        "testimony_recorded" => "Témoignage recueilli",
        "testimony_audience_changed" => "Diffusion du témoignage modifiée",
        "testimony_withdrawn" => "Témoignage retiré",
        "person_erased" => "Données effacées",
        "person_identity_corrected" => "Identité corrigée",
        _ => "Autre fait",
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    /// Every value has a label of its own and an API name of its own.
    fn distinct<T: Labelled + std::fmt::Debug>() {
        let mut labels = HashSet::new();
        let mut codes = HashSet::new();
        for value in T::ALL {
            let label = value.french();
            assert!(!label.trim().is_empty(), "{value:?} has no label");
            assert!(labels.insert(label), "« {label} » labels two values");
            assert!(codes.insert(value.code()), "{value:?}: code used twice");
            assert_eq!(label_of::<T>(&value.code().to_uppercase()), Some(label));
        }
    }

    #[test]
    fn every_value_has_its_own_label() {
        distinct::<Objective>();
        distinct::<ConsentPurpose>();
        distinct::<ConsentProofKind>();
        distinct::<Stage>();
        distinct::<FeedbackAuthor>();
        distinct::<Skill>();
        distinct::<Milestone>();
        distinct::<Outcome>();
        distinct::<ContractType>();
        distinct::<Horizon>();
        distinct::<HiringIntent>();
        distinct::<VisitPurpose>();
        distinct::<EmployerField>();
        distinct::<NeedSource>();
        distinct::<ReadjustmentCause>();
        distinct::<AgeBand>();
        distinct::<PersonStage>();
    }

    /// A stage's code is the name it is stored and sent by, so a stage
    /// renamed in the enum cannot drift from the filter's options.
    #[test]
    fn the_stages_codes_are_their_names() {
        for stage in <PersonStage as Labelled>::ALL {
            assert_eq!(
                serde_json::to_value(stage).unwrap(),
                serde_json::json!(stage.code()),
                "{stage:?}"
            );
        }
    }

    #[test]
    fn sentence_forms_agree_with_labels() {
        for m in <Milestone as Labelled>::ALL {
            assert_eq!(m.label(), in_sentence(label(*m)));
        }
        for o in <Objective as Labelled>::ALL {
            assert_eq!(o.label(), in_sentence(label(*o)));
        }
    }

    #[test]
    fn rome_codes_read_with_their_job() {
        assert_eq!(
            rome("A1101"),
            "A1101 — Conducteur / Conductrice d'engins agricoles"
        );
        assert_eq!(rome("Z9999"), "Z9999");
    }

    /// Every fact a person's history or data export shows has its words.
    #[test]
    fn every_fact_about_a_person_has_its_label() {
        let types = crate::person::PersonEvent::TYPES
            .iter()
            .chain(crate::immersion::ImmersionEvent::TYPES)
            .chain(crate::testimony::TestimonyEvent::TYPES);
        for (event_type, _) in types {
            assert_ne!(
                event_label(event_type),
                "Autre fait",
                "{event_type} has no label"
            );
        }
    }
}
