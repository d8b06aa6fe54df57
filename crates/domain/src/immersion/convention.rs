//! The PMSMP convention: its mandatory content (D5135-2), who signs it
//! (L5135-4, D5135-1), and the rules its content must follow (D5135-3,
//! L5135-6, the DGEFP circular of 14 January 2015).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use time::Date;

use crate::error::{DomainError, Rule};
use crate::fr::dates as fr;
use crate::personal::Personal;
use crate::values::{
    CommuneCode, DateRange, Email, Label, PhoneNumber, Siret, Text, WeeklyHours, age_on,
    one_month_after,
};

/// The one objective of a PMSMP (L5135-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
pub enum Objective {
    /// Discover a job or a sector.
    DiscoverJobOrSector,
    /// Confirm a professional project.
    ConfirmProject,
    /// Initiate a recruitment.
    InitiateRecruitment,
}

impl Objective {
    pub fn label(self) -> &'static str {
        match self {
            Objective::DiscoverJobOrSector => "découvrir un métier ou un secteur d'activité",
            Objective::ConfirmProject => "confirmer un projet professionnel",
            Objective::InitiateRecruitment => "initier une démarche de recrutement",
        }
    }
}

/// Someone who signs for an organisation or for themself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signer {
    pub name: Label,
    pub job_title: Option<Label>,
    pub email: Option<Email>,
    pub phone: Option<PhoneNumber>,
}

/// A party that is an organisation: the prescriber, the support structure,
/// the person's current employer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Organisation {
    pub name: Label,
    pub siret: Option<Siret>,
    pub signatory: Signer,
}

/// The person's identity as the convention states it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConventionIdentity {
    pub first_name: Label,
    pub last_name: Label,
    pub birth_date: Date,
    pub address: Text,
    pub email: Option<Email>,
    pub phone: Option<PhoneNumber>,
}

/// The person's situation, which decides whether a current employer signs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Situation {
    JobSeeker,
    /// Employed (part-time, in an integration structure…): the current
    /// employer is a party and signs.
    Employed {
        current_employer: Organisation,
    },
    Student,
    Other {
        /// Personal: the person's situation in a few words, sealed with
        /// their key.
        description: Personal<Label>,
    },
}

/// The person's situation without its details.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
pub enum SituationKind {
    JobSeeker,
    Employed,
    Student,
    Other,
}

impl Situation {
    pub fn kind(&self) -> SituationKind {
        match self {
            Situation::JobSeeker => SituationKind::JobSeeker,
            Situation::Employed { .. } => SituationKind::Employed,
            Situation::Student => SituationKind::Student,
            Situation::Other { .. } => SituationKind::Other,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConventionPerson {
    pub identity: Personal<ConventionIdentity>,
    pub situation: Situation,
    /// Required, and a signatory, when the person is under 18 on the first
    /// day.
    pub legal_representative: Option<Personal<Signer>>,
}

/// The tutor named by the host: helps, informs, guides and evaluates
/// (D5135-5). Not a signatory, and never the person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tutor {
    pub name: Label,
    pub job_title: Label,
    pub email: Option<Email>,
    pub phone: Option<PhoneNumber>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Host {
    pub siret: Siret,
    pub name: Label,
    pub activity: Text,
    /// The applicable collective agreement (convention collective), or
    /// "aucune".
    pub collective_agreement: Label,
    pub signatory: Signer,
    /// Personal: sealed with the person's key, like the rest of what the
    /// convention says about people.
    pub tutor: Personal<Tutor>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Place {
    pub address: Text,
    pub commune: CommuneCode,
}

/// Everything the convention must state (D5135-2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Convention {
    pub prescriber: Organisation,
    /// The structure that supports the person, when it is not the
    /// prescriber.
    pub support_structure: Option<Organisation>,
    pub person: ConventionPerson,
    pub host: Host,
    pub period: DateRange,
    /// Days and hours of presence, in words ("lundi au vendredi, 9 h–12 h et
    /// 14 h–17 h").
    pub schedule: Text,
    pub weekly_hours: WeeklyHours,
    pub place: Place,
    pub objective: Objective,
    /// The precise goals.
    pub goals: Text,
    /// How the goals will be evaluated.
    pub evaluation: Text,
    pub tasks: Text,
    /// Risks of the post and protective equipment, when there are any.
    pub safety: Option<Text>,
    /// The host attests that the immersion does not fill a regular task of a
    /// permanent post, a temporary increase of activity, a seasonal job or an
    /// absent employee.
    pub forbidden_uses_excluded: bool,
}

/// Who signs a convention.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
pub enum Signatory {
    Person,
    LegalRepresentative,
    Host,
    Prescriber,
    SupportStructure,
    CurrentEmployer,
}

impl Signatory {
    pub fn label(self) -> &'static str {
        match self {
            Signatory::Person => "la personne",
            Signatory::LegalRepresentative => "son représentant légal",
            Signatory::Host => "la structure d'accueil",
            Signatory::Prescriber => "le prescripteur",
            Signatory::SupportStructure => "la structure d'accompagnement",
            Signatory::CurrentEmployer => "l'employeur actuel de la personne",
        }
    }
}

/// The most hours of presence in a week (L5135-6 refers to the host's rules,
/// which the Code du travail caps at 48 h).
pub const MAX_WEEKLY_HOURS: u32 = 48;
/// No PMSMP before 16.
pub const MINIMUM_AGE: i32 = 16;
/// Under 18, a legal representative signs.
pub const AGE_OF_MAJORITY: i32 = 18;

impl Convention {
    /// The person's birth date, unless their data was erased.
    fn birth_date(&self) -> Option<Date> {
        self.person.identity.known().map(|i| i.birth_date)
    }

    /// Whether the person is a minor on `on`.
    pub fn is_minor_on(&self, on: Date) -> bool {
        self.birth_date()
            .is_some_and(|b| age_on(b, on) < AGE_OF_MAJORITY)
    }

    /// The parties that must sign before validation (L5135-4): the person,
    /// the host, the prescriber; the support structure when distinct; the
    /// current employer when the person is employed; the legal
    /// representative when the person is a minor on the first day of
    /// `period`.
    pub fn required_signatories(&self, period: &DateRange) -> BTreeSet<Signatory> {
        let mut required =
            BTreeSet::from([Signatory::Person, Signatory::Host, Signatory::Prescriber]);
        if self.support_structure.is_some() {
            required.insert(Signatory::SupportStructure);
        }
        if matches!(self.person.situation, Situation::Employed { .. }) {
            required.insert(Signatory::CurrentEmployer);
        }
        if self.is_minor_on(period.start()) {
            required.insert(Signatory::LegalRepresentative);
        }
        required
    }

    /// The rules the content itself must follow. Rules that need history
    /// (other conventions with this host) are in `rules`.
    pub fn check(&self) -> Result<(), DomainError> {
        if !self.forbidden_uses_excluded {
            return Err(DomainError::rule(
                Rule::ForbiddenUseNotAttested,
                "convention.forbiddenUsesExcluded",
                "La structure d'accueil doit attester que l'immersion ne pourvoit pas un poste permanent, un surcroît d'activité, un emploi saisonnier ni le remplacement d'un salarié absent.",
            ));
        }
        check_period(&self.period, "convention.period.end")?;
        check_weekly_hours(self.weekly_hours, "convention.weeklyHours")?;
        let Some(identity) = self.person.identity.known() else {
            return Err(DomainError::invalid(
                Rule::Required,
                "convention.person.identity",
                "L'identité de la personne est requise (nom, prénom, date de naissance, adresse).",
            ));
        };
        let age = age_on(identity.birth_date, self.period.start());
        if age < MINIMUM_AGE {
            return Err(DomainError::rule(
                Rule::MinimumAge,
                "convention.person.identity.birthDate",
                format!(
                    "La personne aura {age} ans le {} : une immersion est possible à partir de {MINIMUM_AGE} ans.",
                    fr::date(self.period.start())
                ),
            ));
        }
        if age < AGE_OF_MAJORITY && self.person.legal_representative.is_none() {
            return Err(DomainError::rule(
                Rule::LegalRepresentativeRequired,
                "convention.person.legalRepresentative",
                format!(
                    "La personne aura {age} ans le {} : indiquez son représentant légal, qui signe aussi la convention.",
                    fr::date(self.period.start())
                ),
            ));
        }
        let Some(tutor) = self.host.tutor.known() else {
            return Err(DomainError::invalid(
                Rule::Required,
                "convention.host.tutor",
                "Le tuteur est requis : la structure d'accueil désigne un de ses salariés.",
            ));
        };
        if tutor_is_person(tutor, identity) {
            return Err(DomainError::rule(
                Rule::TutorIsPerson,
                "convention.host.tutor",
                "Le tuteur ne peut pas être la personne en immersion : la structure d'accueil désigne un de ses salariés.",
            ));
        }
        Ok(())
    }
}

/// At most one month "de date à date" (D5135-3).
pub(crate) fn check_period(period: &DateRange, field: &'static str) -> Result<(), DomainError> {
    let latest_end = one_month_after(period.start());
    if period.end() > latest_end {
        return Err(DomainError::rule(
            Rule::MaxOneMonth,
            field,
            format!(
                "La période ne peut pas dépasser un mois de date à date ({} au plus tard).",
                fr::range(period.start(), latest_end)
            ),
        ));
    }
    Ok(())
}

pub(crate) fn check_weekly_hours(
    hours: WeeklyHours,
    field: &'static str,
) -> Result<(), DomainError> {
    if hours.minutes() > MAX_WEEKLY_HOURS * 60 {
        return Err(DomainError::rule(
            Rule::MaxWeeklyHours,
            field,
            format!(
                "La présence ne peut pas dépasser {MAX_WEEKLY_HOURS} heures par semaine ({hours} indiquées)."
            ),
        ));
    }
    Ok(())
}

/// Lower case, single spaces, no accents: "Élodie  MARTIN" and "elodie
/// martin" are the same name.
fn normalise(name: &str) -> String {
    let folded: String = name
        .chars()
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            'à' | 'â' | 'ä' => 'a',
            'é' | 'è' | 'ê' | 'ë' => 'e',
            'î' | 'ï' => 'i',
            'ô' | 'ö' => 'o',
            'ù' | 'û' | 'ü' => 'u',
            'ç' => 'c',
            '-' | '\'' => ' ',
            c => c,
        })
        .collect();
    folded.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The tutor is the person when they share an email address or a full name
/// (in either order).
fn tutor_is_person(tutor: &Tutor, person: &ConventionIdentity) -> bool {
    if let (Some(a), Some(b)) = (&tutor.email, &person.email)
        && a == b
    {
        return true;
    }
    let tutor_name = normalise(tutor.name.as_str());
    let first = person.first_name.as_str();
    let last = person.last_name.as_str();
    tutor_name == normalise(&format!("{first} {last}"))
        || tutor_name == normalise(&format!("{last} {first}"))
}
