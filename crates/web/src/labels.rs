//! The French labels of the API's enum values, for every page.

use serde_json::Value;

/// The label of an API value, whether given as the enum (`WITHIN_A_YEAR`)
/// or as stored (`within_a_year`); the value itself when unknown.
pub(crate) fn label(list: &[(&str, &'static str)], value: &Value) -> String {
    let given = value.as_str().unwrap_or_default();
    let upper = given.to_uppercase();
    list.iter()
        .find(|(v, _)| *v == upper)
        .map_or_else(|| given.to_owned(), |(_, l)| (*l).to_owned())
}

pub(crate) const OBJECTIVES: [(&str, &str); 3] = [
    (
        "DISCOVER_JOB_OR_SECTOR",
        "Découvrir un métier ou un secteur",
    ),
    ("CONFIRM_PROJECT", "Confirmer un projet professionnel"),
    (
        "INITIATE_RECRUITMENT",
        "Initier une démarche de recrutement",
    ),
];

pub(crate) const HORIZONS: [(&str, &str); 5] = [
    ("NOW", "Dès maintenant"),
    ("WITHIN_THREE_MONTHS", "Dans les 3 mois"),
    ("WITHIN_SIX_MONTHS", "Dans les 6 mois"),
    ("WITHIN_A_YEAR", "Dans l'année"),
    ("NOT_KNOWN_YET", "Je ne sais pas encore"),
];

pub(crate) const INTENTS: [(&str, &str); 3] = [
    ("PLANNED", "Oui, c'est prévu"),
    ("POSSIBLE", "Peut-être, si la personne convient"),
    ("NONE", "Non, pas pour l'instant"),
];

pub(crate) const PURPOSES: [(&str, &str); 3] = [
    ("PROSPECTION", "Prospection"),
    ("FOLLOW_UP", "Suivi"),
    ("IN_EMPLOYMENT_MEDIATION", "Médiation dans l'emploi"),
];

pub(crate) const SKILLS: [(&str, &str); 7] = [
    ("JOB_TASKS", "Gestes du métier"),
    ("PUNCTUALITY", "Ponctualité"),
    ("SAFETY_RULES", "Règles de sécurité"),
    ("TEAMWORK", "Travail en équipe"),
    ("COMMUNICATION", "Communication"),
    ("AUTONOMY", "Autonomie"),
    ("INITIATIVE", "Initiative"),
];

pub(crate) const CONTRACTS: [(&str, &str); 8] = [
    ("CDI", "CDI"),
    ("CDD_SIX_MONTHS_OR_MORE", "CDD de 6 mois ou plus"),
    ("CDD_UNDER_SIX_MONTHS", "CDD de moins de 6 mois"),
    ("ALTERNANCE", "Alternance"),
    ("INTERIM", "Intérim"),
    ("CONTRAT_AIDE", "Contrat aidé"),
    ("CONTRAT_INSERTION", "Contrat d'insertion"),
    ("OTHER", "Autre contrat"),
];

pub(crate) const MILESTONES: [(&str, &str); 4] = [
    ("END", "À la fin de l'immersion"),
    ("ONE_MONTH", "À 1 mois"),
    ("THREE_MONTHS", "À 3 mois"),
    ("SIX_MONTHS", "À 6 mois"),
];

pub(crate) const OUTCOMES: [(&str, &str); 5] = [
    ("HIRED", "Embauche"),
    ("TRAINING", "Formation"),
    ("NEW_IMMERSION", "Nouvelle immersion"),
    ("PROJECT_READJUSTED", "Projet réajusté"),
    ("NOTHING", "Rien pour l'instant"),
];

pub(crate) const AGE_BANDS: [(&str, &str); 3] = [
    ("UNDER_26", "Moins de 26 ans"),
    ("FROM_26_TO_49", "26 à 49 ans"),
    ("FROM_50", "50 ans et plus"),
];
