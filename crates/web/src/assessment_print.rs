//! The host's assessment of an immersion as it is printed, on paper or to a
//! PDF, from the browser (`/immersions/<id>/bilan/imprimer`): the
//! attendance, the goals, the skills grid, the advice, the contract
//! offered, and the person's answer (their words, their countersignature or
//! why they contest it). Readable by whoever the API lets read each part:
//! the staff who reach the immersion and the person read all of it; the
//! host reads its assessment, not the person's words on it.
//!
//! The immersion's page shows the same assessment, read by the same
//! operation into the same shapes.

use askama::Template;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use passerelle_domain::immersion::{AttendanceKind, Level, Skill};
use passerelle_domain::values::ContractType;

use crate::answer::{Code, Day, read_or_return};
use crate::page::{Nav, Page, message};

/// The host's assessment and the person's answer, as the API reads them
/// back from the immersion's stream (each null to whoever may not read it).
pub(crate) const ASSESSMENT: &str = "query($i: ID!) { immersion(id: $i) {
    employerName periodStart periodEnd
    assessment { attendance lastDayPresent missedHours goalsReached
        skills { skill level comment } advice appraisal contractOffered
        receivedByOtherMeans recordedOn corrections { reason correctedOn } }
    personFeedback { words countersigns disagreement recordedOn answeredOn
        answerRecorded { role } corrections { reason correctedOn } } } }";

#[derive(Deserialize)]
pub(crate) struct AssessmentAnswer {
    pub immersion: Option<Assessed>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Assessed {
    pub employer_name: Option<String>,
    pub period_start: Option<Day>,
    pub period_end: Option<Day>,
    pub assessment: Option<Assessment>,
    pub person_feedback: Option<PersonFeedback>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Assessment {
    attendance: Code<AttendanceKind>,
    last_day_present: Option<Day>,
    missed_hours: Option<i64>,
    goals_reached: bool,
    skills: Vec<AssessedSkill>,
    advice: Option<String>,
    appraisal: Option<String>,
    contract_offered: Option<Code<ContractType>>,
    received_by_other_means: bool,
    recorded_on: Day,
    corrections: Vec<Correction>,
}

/// A correction of a feedback: why, and on which day.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Correction {
    /// Null once the person's data is erased.
    reason: Option<String>,
    corrected_on: Day,
}

impl Correction {
    /// « Corrigé le 20 mars 2026 », and why.
    pub(crate) fn said(&self) -> (&'static str, String) {
        (
            "Correction",
            format!(
                "le {}. Pourquoi : {}",
                self.corrected_on.french(),
                self.reason.as_deref().unwrap_or("(effacé)")
            ),
        )
    }
}

#[derive(Deserialize)]
struct AssessedSkill {
    skill: Code<Skill>,
    level: Code<Level>,
    comment: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PersonFeedback {
    words: Option<String>,
    countersigns: Option<bool>,
    disagreement: Option<String>,
    recorded_on: Day,
    /// The day they answered the assessment: their feedback's, or later
    /// when the assessment came in after it.
    answered_on: Option<Day>,
    /// Who recorded the answer: the person online, or staff from her
    /// answer on paper.
    answer_recorded: Option<RecordedBy>,
    pub corrections: Vec<Correction>,
}

#[derive(Deserialize)]
pub(crate) struct RecordedBy {
    role: String,
}

/// The assessment as pages show it: each mention a label and a value, and
/// the grid's rows (skill, level, comment).
pub(crate) struct AssessmentShown {
    pub lines: Vec<(&'static str, String)>,
    pub skills: Vec<(&'static str, &'static str, String)>,
}

impl Assessment {
    /// What it says as its form's fields name it: the form that corrects
    /// it starts from what was recorded.
    pub(crate) fn form_values(&self) -> Vec<(String, String)> {
        let mut values = vec![
            ("attendance".to_owned(), self.attendance.name()),
            (
                "goals_reached".to_owned(),
                if self.goals_reached { "oui" } else { "non" }.to_owned(),
            ),
            ("advice".to_owned(), self.advice.clone().unwrap_or_default()),
            (
                "hiring".to_owned(),
                self.contract_offered.map(Code::name).unwrap_or_default(),
            ),
            (
                "last_day_present".to_owned(),
                self.last_day_present
                    .map(|d| d.0.to_string())
                    .unwrap_or_default(),
            ),
            (
                "missed_hours".to_owned(),
                self.missed_hours.map(|h| h.to_string()).unwrap_or_default(),
            ),
        ];
        // What the page's form does not show, carried as it is: the
        // appraisal and the skills' comments, given online.
        values.push((
            "appraisal".to_owned(),
            self.appraisal.clone().unwrap_or_default(),
        ));
        for s in &self.skills {
            values.push((format!("skill-{}", s.skill.name()), s.level.name()));
            values.push((
                format!("comment-{}", s.skill.name()),
                s.comment.clone().unwrap_or_default(),
            ));
        }
        values
    }

    /// Given on paper or by phone, entered by staff.
    pub(crate) fn received_by_other_means(&self) -> bool {
        self.received_by_other_means
    }

    pub(crate) fn shown(&self) -> AssessmentShown {
        let mut attendance = self.attendance.french().to_owned();
        if let Some(day) = self.last_day_present {
            attendance.push_str(&format!(", jusqu'au {}", day.french()));
        }
        if let Some(hours) = self.missed_hours.filter(|h| *h > 0) {
            attendance.push_str(&format!(
                " ({hours} heure{} manquée{})",
                if hours > 1 { "s" } else { "" },
                if hours > 1 { "s" } else { "" }
            ));
        }
        let mut lines = vec![
            ("Présence", attendance),
            (
                "Objectifs atteints",
                if self.goals_reached { "Oui" } else { "Non" }.to_owned(),
            ),
            (
                "Conseils pour la suite",
                self.advice.clone().unwrap_or_else(|| "Aucun".to_owned()),
            ),
        ];
        if let Some(appraisal) = &self.appraisal {
            lines.push(("Appréciation de l'immersion", appraisal.clone()));
        }
        lines.push((
            "Contrat proposé",
            self.contract_offered
                .map_or_else(|| "Aucun".to_owned(), |c| c.french().to_owned()),
        ));
        lines.push((
            "Bilan donné",
            format!(
                "le {}, {}",
                self.recorded_on.french(),
                if self.received_by_other_means {
                    "sur papier ou par téléphone, saisi par le médiateur"
                } else {
                    "en ligne par l'entreprise"
                }
            ),
        ));
        lines.extend(self.corrections.iter().map(Correction::said));
        AssessmentShown {
            lines,
            skills: self
                .skills
                .iter()
                .map(|s| {
                    (
                        s.skill.french(),
                        s.level.french(),
                        s.comment.clone().unwrap_or_default(),
                    )
                })
                .collect(),
        }
    }
}

impl PersonFeedback {
    /// What she said as her form's fields name it: the form that corrects
    /// it starts from what was recorded.
    pub(crate) fn form_values(&self) -> Vec<(String, String)> {
        vec![
            ("words".to_owned(), self.words.clone().unwrap_or_default()),
            (
                "countersigns".to_owned(),
                match self.countersigns {
                    Some(true) => "oui",
                    Some(false) => "non",
                    None => "",
                }
                .to_owned(),
            ),
            (
                "disagreement".to_owned(),
                self.disagreement.clone().unwrap_or_default(),
            ),
        ]
    }

    /// The person's answer to the assessment, as a sentence.
    pub(crate) fn answer(&self) -> String {
        let on = self.answered_on.unwrap_or(self.recorded_on).french();
        // How it was given: online from her space, or on paper and
        // entered by staff (who recorded it says which).
        let how = match self.answer_recorded.as_ref().map(|r| r.role.as_str()) {
            Some("person") => " Réponse donnée en ligne par la personne.",
            Some("mediator" | "manager" | "admin") => {
                " Réponse donnée sur papier, saisie par son médiateur."
            }
            _ => "",
        };
        match self.countersigns {
            Some(true) => format!("Bilan contresigné par la personne le {on}.{how}"),
            Some(false) => format!(
                "Bilan contesté par la personne le {on}. Pourquoi : {}{how}",
                self.disagreement.as_deref().unwrap_or("(effacé)")
            ),
            None => "La personne n'a ni contresigné ni contesté le bilan.".to_owned(),
        }
    }

    /// Whether they countersigned or contested the assessment, with their
    /// feedback or later.
    pub(crate) fn answered(&self) -> bool {
        self.countersigns.is_some()
    }

    /// Their own words, or what stands for them once erased.
    pub(crate) fn words(&self) -> String {
        self.words.clone().unwrap_or_else(|| "(effacé)".to_owned())
    }
}

#[derive(Template)]
#[template(path = "assessment_print.html")]
struct PrintTemplate {
    nav: Nav,
    id: String,
    employer: String,
    period: Option<String>,
    assessment: AssessmentShown,
    /// The person's words and their answer to the assessment, when the
    /// viewer reads them.
    person: Option<(String, String)>,
}

pub(crate) async fn page(page: Page, Path(id): Path<String>) -> Response {
    if page.viewer.user.is_none() && page.viewer.principal.is_none() {
        return page.sign_in_first();
    }
    let out = page.run(ASSESSMENT, json!({ "i": id })).await;
    let answer: AssessmentAnswer = read_or_return!(out);
    let Some(immersion) = answer.immersion else {
        return message(
            StatusCode::NOT_FOUND,
            "Introuvable",
            "Cette immersion n'existe pas ou ne vous est pas accessible.",
        );
    };
    let Some(assessment) = &immersion.assessment else {
        return message(
            StatusCode::NOT_FOUND,
            "Pas encore de bilan",
            "Le bilan de l'entreprise n'est pas encore enregistré pour cette immersion.",
        );
    };
    let period = match (immersion.period_start, immersion.period_end) {
        (Some(s), Some(e)) => Some(passerelle_domain::fr::range(s.0, e.0)),
        _ => None,
    };
    let body = PrintTemplate {
        nav: page.nav(None),
        employer: immersion
            .employer_name
            .clone()
            .unwrap_or_else(|| "l'entreprise".to_owned()),
        period,
        assessment: assessment.shown(),
        person: immersion
            .person_feedback
            .as_ref()
            .map(|p| (p.words(), p.answer())),
        id,
    }
    .render();
    page.render(StatusCode::OK, body)
}
