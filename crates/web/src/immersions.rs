//! An immersion from proposal to validated convention: proposing one, the
//! immersion's page (answers, signatures, validation, for whoever views it:
//! the person and the employer act for themselves, staff for anyone), and
//! the convention form, whose rule errors show beside their field. Staff
//! also walk the rest of the lifecycle there (prevalidation, rejection,
//! abandon, cancellation, interruption, work accidents and their
//! declaration), and read back what was recorded.

use askama::Template;
use axum::extract::{Form, Path};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};
use time::PrimitiveDateTime;
use time::format_description::well_known::Rfc3339;

use passerelle_domain::fr::Labelled;
use passerelle_domain::immersion::{
    FeedbackAuthor, Initiator, Milestone, Objective, Outcome, Respondent, Signatory, Stage,
};
use passerelle_domain::values::ContractType;

use crate::answer::{Code, Day, Paged, PersonName, moment, read_or_return};
use crate::assessment_print::{ASSESSMENT, AssessmentAnswer, AssessmentShown, Correction};
use crate::labels::{
    ATTENDANCES, CONTRACTS, INITIATORS, LEVELS, MILESTONES, OBJECTIVES, OUTCOMES, SIGNATORIES,
    SITUATIONS, SKILLS,
};
use crate::page::{
    Fields, FormState, Nav, PAGE_SIZE, Page, STALE_PAGE, given, message, parse_date,
};
use crate::renewal::ConventionFacts;
use crate::visit::{ChoiceQuery, EmployerChoice, ListAction, PostedChoice};

fn not_found() -> Response {
    message(
        StatusCode::NOT_FOUND,
        "Introuvable",
        "Cette immersion n'existe pas ou ne vous est pas accessible.",
    )
}

const IMMERSION: &str = "query($i: ID!) { immersion(id: $i) { currentStage pmsmpObjective
    personId employerId employerName acceptedByPerson acceptedByEmployer periodStart periodEnd
    startedOn endedOn awaitedSignatories awaitsValidation takesFeedback feedbackAuthors needId
    proposalMessage
    viewerMay { answerFor signOnlineAs giveFeedbackAs answerAssessment } } }";

/// What the immersion's stream records of its ends and accidents: read
/// only by its page.
const RECORD: &str = "query($i: ID!) { immersion(id: $i) { prevalidated
    prevalidations { renewal recorded { at role } } validations { renewal recorded { at role } }
    decline { by reason answeredOn }
    cancellation { by reason cancelledOn } interruption { by reason interruptedOn }
    rejection { justification recorded { at } } deprecation { justification recorded { at } }
    accidents { id occurredAt structureInformedAt informedInTime description
        declarationDueAt declarationFiledAt declarationFiledInTime }
    mediatorFeedback { goalsReached notes nextSteps recordedOn corrections { reason correctedOn } }
    startCorrections { previous startedOn reason correctedOn }
    endCorrections { previous endedOn reason correctedOn }
    outcomeRecords { milestone outcome contract recordedOn } } }";

/// What the person reads of her outcomes (her host reads none: null).
const OWN_OUTCOMES: &str = "query($i: ID!) { immersion(id: $i) { outcomeRecords { milestone outcome contract recordedOn } } }";

#[derive(Deserialize)]
struct OwnOutcomesAnswer {
    immersion: Option<OwnOutcomes>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OwnOutcomes {
    outcome_records: Option<Vec<OutcomeAnswer>>,
}

#[derive(Deserialize)]
struct RecordAnswer {
    immersion: Option<Recorded>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Recorded {
    prevalidated: bool,
    prevalidations: Option<Vec<Approval>>,
    validations: Option<Vec<Approval>>,
    decline: Option<Decline>,
    cancellation: Option<Ending>,
    interruption: Option<Ending>,
    rejection: Option<Justification>,
    deprecation: Option<Justification>,
    accidents: Option<Vec<Accident>>,
    mediator_feedback: Option<MediatorNotes>,
    outcome_records: Option<Vec<OutcomeAnswer>>,
    start_corrections: Option<Vec<DayCorrection>>,
    end_corrections: Option<Vec<DayCorrection>>,
}

/// A correction of the first or the last day, read back.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DayCorrection {
    previous: Day,
    #[serde(alias = "startedOn", alias = "endedOn")]
    day: Day,
    reason: Option<String>,
    corrected_on: Day,
}

impl DayCorrection {
    /// As the page says it, under « Premier jour corrigé » or « Dernier
    /// jour corrigé ».
    fn said(&self) -> String {
        format!(
            "le {} : le {} au lieu du {}. Pourquoi : {}",
            self.corrected_on.french(),
            self.day.french(),
            self.previous.french(),
            said(self.reason.as_deref().unwrap_or_default())
        )
    }
}

/// The mediator's own feedback, read back.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MediatorNotes {
    goals_reached: bool,
    notes: String,
    next_steps: Option<String>,
    recorded_on: Day,
    corrections: Vec<Correction>,
}

/// Where the person stood at a milestone.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OutcomeAnswer {
    milestone: Code<Milestone>,
    outcome: Code<Outcome>,
    contract: Option<Code<ContractType>>,
    recorded_on: Day,
}

impl OutcomeAnswer {
    /// « À la fin de l'immersion : Embauche (CDI), noté le 4 mai 2026 ».
    fn said(&self) -> String {
        let contract = self
            .contract
            .map(|c| format!(" ({})", c.french()))
            .unwrap_or_default();
        format!(
            "{} : {}{contract}, noté le {}",
            self.milestone.french(),
            self.outcome.french(),
            self.recorded_on.french()
        )
    }
}

/// A reason as recorded, or that it was erased with the person's data (a
/// sealed reason reads as empty then).
fn said(reason: &str) -> &str {
    if reason.is_empty() {
        "(effacé)"
    } else {
        reason
    }
}

/// A proposal declined: by whom, why, when.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Decline {
    by: Code<Respondent>,
    reason: String,
    answered_on: Day,
}

/// A cancellation or an interruption: who took the initiative, why, when.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Ending {
    by: Code<Initiator>,
    reason: String,
    #[serde(alias = "interruptedOn")]
    cancelled_on: Day,
}

#[derive(Deserialize)]
struct Justification {
    justification: String,
    recorded: At,
}

#[derive(Deserialize)]
struct At {
    at: Day,
}

/// A prevalidation or a validation of the convention or its renewal.
#[derive(Deserialize)]
struct Approval {
    renewal: bool,
    recorded: Role,
}

#[derive(Deserialize)]
struct Role {
    at: Day,
    role: String,
}

impl Approval {
    /// Its line on the page: what it approved, when and by whom.
    fn said(&self, validated: bool) -> (&'static str, String) {
        let what = match (validated, self.renewal) {
            (false, false) => "Prévalidation",
            (false, true) => "Prévalidation du renouvellement",
            (true, false) => "Validation",
            (true, true) => "Validation du renouvellement",
        };
        (
            what,
            format!(
                "le {}, par : {}",
                self.recorded.at.french(),
                crate::answer::recorder(&self.recorded.role)
            ),
        )
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Accident {
    id: String,
    occurred_at: String,
    structure_informed_at: String,
    informed_in_time: bool,
    description: Option<String>,
    declaration_due_at: String,
    declaration_filed_at: Option<String>,
    declaration_filed_in_time: Option<bool>,
}

/// An accident as the page lists it.
struct AccidentShown {
    id: String,
    occurred: String,
    informed: String,
    description: String,
    /// When the declaration was filed, or is due.
    declaration: String,
    declared: bool,
}

/// A value of a `datetime-local` field (`2026-05-04T09:30`, Paris time) as
/// the API takes an instant (`2026-05-04T09:30:00+02:00`); the text as sent
/// when it is not one, for the API to refuse beside its field.
fn instant(text: &str) -> String {
    let text = text.trim();
    // To the minute as browsers send it, or to the second as some do.
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute][optional [:[second]]]"
    );
    let Ok(local) = PrimitiveDateTime::parse(text, format) else {
        return text.to_owned();
    };
    // The offset of that wall-clock time in Paris (off by an hour only in
    // the hour the clocks change).
    let offset = passerelle_app::paris_offset(local.assume_utc());
    local
        .assume_offset(offset)
        .format(&Rfc3339)
        .unwrap_or_else(|_| text.to_owned())
}

#[derive(Deserialize)]
struct ImmersionAnswer {
    immersion: Option<Shown>,
}

/// An immersion as its page and the convention form show it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Shown {
    current_stage: Code<Stage>,
    pmsmp_objective: Code<Objective>,
    person_id: String,
    employer_id: String,
    employer_name: Option<String>,
    accepted_by_person: bool,
    accepted_by_employer: bool,
    period_start: Option<Day>,
    period_end: Option<Day>,
    /// Its first day, once started.
    #[serde(default)]
    started_on: Option<Day>,
    /// The day it was completed or interrupted.
    #[serde(default)]
    ended_on: Option<Day>,
    awaited_signatories: Vec<Code<Signatory>>,
    awaits_validation: bool,
    takes_feedback: bool,
    feedback_authors: Vec<Code<FeedbackAuthor>>,
    /// The employer's need it answers, if proposed for one.
    need_id: Option<String>,
    /// The mediator's word with the proposal.
    proposal_message: Option<String>,
    viewer_may: ViewerMay,
}

/// What the viewer may do on the immersion as a party, as the policy
/// allows it: the page offers only that.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ViewerMay {
    /// Whose answer the viewer gives or records (`PERSON`, `EMPLOYER`).
    answer_for: Vec<String>,
    sign_online_as: Vec<Code<Signatory>>,
    give_feedback_as: Vec<Code<FeedbackAuthor>>,
    answer_assessment: bool,
}

impl ViewerMay {
    fn answers_for(&self, party: &str) -> bool {
        self.answer_for.iter().any(|p| p == party)
    }
    fn signs_online_as(&self, signatory: Signatory) -> bool {
        self.sign_online_as.contains(&Code(signatory))
    }
    fn gives_feedback_as(&self, author: FeedbackAuthor) -> bool {
        self.give_feedback_as.contains(&Code(author))
    }
}

/// What a feedback is, as the page lists those received.
fn feedback_of(author: FeedbackAuthor) -> &'static str {
    match author {
        FeedbackAuthor::Host => "le bilan de l'entreprise",
        FeedbackAuthor::Person => "le retour de la personne",
        FeedbackAuthor::Mediator => "le retour du médiateur",
    }
}

/// The person's words, her answer to the assessment, and each correction
/// of her feedback (label, sentence).
type PersonResponse = (String, String, Vec<(&'static str, String)>);

#[derive(Template)]
#[template(path = "immersion.html")]
struct ImmersionTemplate {
    nav: Nav,
    id: String,
    employer: String,
    person: String,
    /// The person's and the establishment's files, linked for staff.
    person_id: String,
    employer_id: String,
    /// The need it answers, linked for staff.
    need_id: Option<String>,
    /// The mediator's word with the proposal.
    proposal_message: Option<String>,
    objective: String,
    stage: &'static str,
    period: Option<String>,
    missing: Vec<&'static str>,
    error: Option<String>,
    /// Party, button, decline label.
    answers: Vec<(&'static str, &'static str, &'static str)>,
    draft: bool,
    /// The convention is drafted: the form changes it.
    convention_drafted: bool,
    /// A convention exists, to print.
    drafted: bool,
    /// Signatory, button, on paper.
    signatures: Vec<(String, String, bool)>,
    /// The viewer's own signature awaited: read the convention to sign it.
    read_to_sign: bool,
    validate: bool,
    given: Vec<&'static str>,
    /// Path, button, the date's label: start, complete.
    steps: Vec<(&'static str, &'static str, &'static str)>,
    assess: bool,
    feedback: bool,
    outcome: bool,
    /// What an immersion is, for those it is proposed to.
    plain: bool,
    /// A party the policy lets do nothing here any more (a person whose
    /// accompaniment ended): she reads it, and is told why she cannot act.
    read_only: bool,
    /// The mediator's own feedback.
    observe: bool,
    staff: bool,
    skills: &'static [(&'static str, &'static str)],
    levels: &'static [(&'static str, &'static str)],
    attendances: &'static [(&'static str, &'static str)],
    contracts: &'static [(&'static str, &'static str)],
    /// The milestones with no outcome recorded yet.
    milestones: Vec<(&'static str, &'static str)>,
    /// The mediator's feedback, read back: label, value.
    observed: Vec<(&'static str, String)>,
    /// The outcomes recorded, as sentences.
    outcomes_recorded: Vec<String>,
    /// When the next milestone's outcome may be noted, if none is due yet.
    next_milestone: Option<String>,
    outcomes: &'static [(&'static str, &'static str)],
    initiators: &'static [(&'static str, &'static str)],
    /// The failed form's values and errors (names are unique on the page).
    form: FormState,
    /// The action refused, and the refusal shown beside its form.
    refused: Option<(String, String)>,
    prevalidate: bool,
    /// Reject or abandon the convention (before validation).
    judge: bool,
    cancel: bool,
    interrupt: bool,
    report: bool,
    /// What was recorded: who, why, when.
    endings: Vec<(&'static str, String)>,
    /// The convention's parties beyond the usual and its renewal.
    convention_facts: Option<ConventionFacts>,
    accidents: Option<Vec<AccidentShown>>,
    /// The host's assessment, read back to whoever reads it.
    assessment: Option<AssessmentShown>,
    /// The person's words, their answer to the assessment and the
    /// corrections of their feedback, read back to whoever reads them.
    response: Option<PersonResponse>,
    /// The person countersigns or contests the assessment that came in
    /// after their feedback (staff: they enter her paper answer).
    answer_assessment: bool,
    /// The host's assessment, corrected by whoever gave it: staff the one
    /// they entered from paper, the host the one it gave online.
    correct_assessment: bool,
    /// The mediator's feedback, corrected by staff.
    correct_observation: bool,
    /// The person's own feedback, corrected by her.
    correct_words: bool,
    /// Its first day, once started.
    started: Option<String>,
    /// The first day corrected by staff once it started.
    correct_start: bool,
    /// Its last day, once completed or interrupted.
    ended: Option<String>,
    /// The last day corrected by staff once it ended.
    correct_end: bool,
}

impl ImmersionTemplate {
    /// Whether the page offers the form of `action` (a declaration's is
    /// `declaration-<accident>`).
    fn offers(&self, action: &str) -> bool {
        match action {
            "bilan" => self.assess,
            "bilan-corrige" => self.correct_assessment,
            "observation" => self.observe,
            "observation-corrigee" => self.correct_observation,
            "retour-corrige" => self.correct_words,
            "debut-corrige" => self.correct_start,
            "fin-corrigee" => self.correct_end,
            "suite" => self.outcome && !self.milestones.is_empty(),
            "retour" => self.feedback,
            "reponse-au-bilan" => self.answer_assessment,
            "annulation" => self.cancel,
            "interruption" => self.interrupt,
            "accident" => self.report,
            "rejet" | "abandon" => self.judge,
            "prevalidation" => self.prevalidate,
            other if other.starts_with("reponse-") => self
                .answers
                .iter()
                .any(|(party, _, _)| other.starts_with(&format!("reponse-{party}-"))),
            other => other.strip_prefix("declaration-").is_none_or(|accident| {
                self.accidents
                    .iter()
                    .flatten()
                    .any(|a| a.id == accident && !a.declared)
            }),
        }
    }

    /// The action of a feedback's form: it records the feedback, or
    /// corrects the one recorded.
    fn form_action(&self, recorded: &'static str) -> &'static str {
        match recorded {
            "bilan" if self.correct_assessment => "bilan-corrige",
            "retour" if self.correct_words => "retour-corrige",
            "observation" if self.correct_observation => "observation-corrigee",
            other => other,
        }
    }

    /// The level a refused assessment gave `skill`: none when first shown.
    fn level_of(&self, skill: &str) -> &str {
        self.form.value(&format!("skill-{skill}"))
    }

    /// The refusal of `action`, shown beside its form.
    fn refusal(&self, action: &str) -> Option<&str> {
        self.refused
            .as_ref()
            .filter(|(a, _)| a == action)
            .map(|(_, m)| m.as_str())
    }
}

/// Each action's GraphQL fields, by the page's field names.
fn fields_of(action: &str) -> &'static [(&'static str, &'static str)] {
    match action {
        "annulation" => &[("reason", "cancel_reason"), ("by", "cancel_by")],
        "interruption" => &[
            ("reason", "interrupt_reason"),
            ("by", "interrupt_by"),
            ("interruptedOn", "interrupt_on"),
            ("on", "interrupt_on"),
        ],
        "accident" => &[
            ("occurredAt", "accident_at"),
            ("structureInformedAt", "accident_informed"),
            ("description", "accident_description"),
        ],
        "rejet" => &[("justification", "reject_justification")],
        // A party's answer to the proposal, each of its two forms refused
        // beside itself (`refusal_key`).
        "reponse" => &[("answeredOn", "answered_on"), ("reason", "reason")],
        // The day it started or ended, today when left blank.
        "debut" => &[("startedOn", "on"), ("on", "on")],
        "debut-corrige" => &[
            ("startedOn", "start_on"),
            ("on", "start_on"),
            ("reason", "start_reason"),
            ("correctedOn", "start_reason"),
        ],
        "fin" => &[("completedOn", "on"), ("on", "on")],
        "fin-corrigee" => &[
            ("endedOn", "end_on"),
            ("on", "end_on"),
            ("reason", "end_reason"),
            ("correctedOn", "end_reason"),
        ],
        // The person's feedback, and their answer to the host's assessment.
        "retour" => &[
            ("words", "words"),
            ("disagreement", "disagreement"),
            ("onAssessment", "countersigns"),
        ],
        // The person's answer to the assessment, when it came in after
        // their feedback.
        "reponse-au-bilan" => &[
            ("countersigns", "countersigns"),
            ("disagreement", "disagreement"),
            ("answeredOn", "answered_on"),
        ],
        "abandon" => &[("justification", "deprecate_justification")],
        // The host's assessment.
        "bilan" => &[
            ("attendance", "attendance"),
            ("lastDayPresent", "last_day_present"),
            ("missedHours", "missed_hours"),
            ("advice", "advice"),
            ("hiring", "hiring"),
        ],
        // The mediator's own feedback.
        "observation" => &[("notes", "notes"), ("nextSteps", "next_steps")],
        // A feedback corrected: its form's fields, and why.
        "bilan-corrige" => &[
            ("attendance", "attendance"),
            ("lastDayPresent", "last_day_present"),
            ("missedHours", "missed_hours"),
            ("advice", "advice"),
            ("hiring", "hiring"),
            ("reason", "bilan_reason"),
            ("correctedOn", "bilan_reason"),
        ],
        "observation-corrigee" => &[
            ("notes", "notes"),
            ("nextSteps", "next_steps"),
            ("reason", "observation_reason"),
            ("correctedOn", "observation_reason"),
        ],
        "retour-corrige" => &[
            ("words", "words"),
            ("disagreement", "disagreement"),
            ("onAssessment", "countersigns"),
            ("reason", "retour_reason"),
            ("correctedOn", "retour_reason"),
        ],
        // An outcome: a milestone too early or already recorded is said
        // beside the milestone.
        "suite" => &[
            ("milestone", "milestone"),
            ("recordedOn", "milestone"),
            ("outcome", "outcome"),
            ("contract", "contract"),
        ],
        _ => &[],
    }
}

impl Page {
    async fn immersion_page(self, id: &str, status: StatusCode, error: Option<String>) -> Response {
        self.immersion_form(id, status, error, FormState::default(), None, None)
            .await
    }

    async fn immersion_form(
        self,
        id: &str,
        status: StatusCode,
        error: Option<String>,
        mut form: FormState,
        refused: Option<(String, String)>,
        acted: Option<&str>,
    ) -> Response {
        let out = self.run(IMMERSION, json!({ "i": id })).await;
        let answer: ImmersionAnswer = read_or_return!(out);
        let Some(i) = answer.immersion else {
            return not_found();
        };
        let employer = i
            .employer_name
            .clone()
            .unwrap_or_else(|| "l'employeur".to_owned());
        let staff = self.viewer.user.is_some();
        let person = if staff {
            #[derive(Deserialize)]
            struct Answer {
                person: Option<PersonName>,
            }
            let p = self
                .run(
                    "query($p: ID!) { person(id: $p) { firstName lastName } }",
                    json!({ "p": i.person_id }),
                )
                .await;
            match p.read::<Answer>() {
                Ok(a) => a.person.map(|p| p.full()).unwrap_or_default(),
                Err(r) => return *r,
            }
        } else if matches!(
            self.viewer.principal.as_ref().map(|p| &p.principal),
            Some(passerelle_graphql::Principal::Person(_))
        ) {
            "Vous".to_owned()
        } else {
            "La personne que vous accueillez".to_owned()
        };
        let stage = i.current_stage.0;
        // What the viewer may do is the policy's to say (a person whose
        // accompaniment ended answers, signs and gives feedback no more);
        // the stage says what the immersion calls for.
        let may = &i.viewer_may;
        let mut answers = Vec::new();
        if stage == Stage::Proposed {
            if !i.accepted_by_person && may.answers_for("PERSON") {
                answers.push(if staff {
                    (
                        "PERSON",
                        "Enregistrer l'accord de la personne",
                        "Refus de la personne",
                    )
                } else {
                    ("PERSON", "J'accepte cette immersion", "Je décline")
                });
            }
            if !i.accepted_by_employer && may.answers_for("EMPLOYER") {
                answers.push(if staff {
                    (
                        "EMPLOYER",
                        "Enregistrer l'accord de l'employeur",
                        "Refus de l'employeur",
                    )
                } else {
                    (
                        "EMPLOYER",
                        "Nous acceptons cette immersion",
                        "Nous déclinons",
                    )
                });
            }
        }
        // Drafted once both accepted; changed until it is validated.
        let draft = staff
            && (stage == Stage::Proposed && i.accepted_by_person && i.accepted_by_employer
                || stage == Stage::Drafted);
        let mut signatures = Vec::new();
        // A party signs for itself from the convention's page, where it
        // reads the whole of what it signs.
        let mut read_to_sign = false;
        for Code(signatory) in &i.awaited_signatories {
            // The form sends the signatory as the API names it.
            let name = signatory.code().to_ascii_uppercase();
            let own = !staff && may.signs_online_as(*signatory);
            if own {
                read_to_sign = true;
            } else if staff && *signatory == Signatory::Prescriber {
                signatures.push((name, "Signer la convention en ligne".to_owned(), false));
            } else if staff {
                signatures.push((
                    name,
                    format!(
                        "Enregistrer la signature sur papier de {}",
                        signatory.label()
                    ),
                    true,
                ));
            }
        }
        // The domain says when the convention awaits validation.
        let validate = staff && i.awaits_validation;
        let given = |author| i.feedback_authors.contains(&Code(author));
        let mut steps = Vec::new();
        // From its first day: the domain takes no start before it.
        let today = self.api.gateway.handler.clock().today();
        if staff && stage == Stage::Validated && i.period_start.is_some_and(|d| d.0 <= today) {
            steps.push((
                "debut",
                "Enregistrer le début de l'immersion",
                "Premier jour",
            ));
        }
        if staff && stage == Stage::Started {
            steps.push(("fin", "Enregistrer la fin de l'immersion", "Dernier jour"));
        }
        let after_start = matches!(
            stage,
            Stage::Started | Stage::Completed | Stage::Interrupted
        );
        // The host assesses online; a mediator enters an assessment
        // received on paper or by phone, which also stops the reminders.
        // Feedback is offered when the domain takes it: from the last
        // planned day on.
        let assess = i.takes_feedback
            && may.gives_feedback_as(FeedbackAuthor::Host)
            && !given(FeedbackAuthor::Host);
        let observe = i.takes_feedback && staff && !given(FeedbackAuthor::Mediator);
        let feedback = i.takes_feedback
            && !staff
            && may.gives_feedback_as(FeedbackAuthor::Person)
            && !given(FeedbackAuthor::Person);
        let ended = matches!(stage, Stage::Completed | Stage::Interrupted);
        let outcome = staff && ended;
        let recorded = if staff {
            let out = self.run(RECORD, json!({ "i": id })).await;
            let answer: RecordAnswer = read_or_return!(out);
            answer.immersion
        } else {
            None
        };
        // The person reads what became of her after it; her host, nothing.
        let own_outcomes = if !staff && ended {
            let out = self.run(OWN_OUTCOMES, json!({ "i": id })).await;
            let answer: OwnOutcomesAnswer = read_or_return!(out);
            answer.immersion.and_then(|o| o.outcome_records)
        } else {
            None
        };
        let mut endings = Vec::new();
        let mut accidents = None;
        let mut prevalidated = false;
        let mut observed = Vec::new();
        let mut outcomes_recorded: Vec<String> = own_outcomes
            .unwrap_or_default()
            .iter()
            .map(OutcomeAnswer::said)
            .collect();
        let mut milestones: Vec<(&'static str, &'static str)> = Vec::new();
        let mut next_milestone = None;
        if let Some(r) = recorded {
            prevalidated = r.prevalidated;
            for (approvals, validated) in [(&r.prevalidations, false), (&r.validations, true)] {
                endings.extend(approvals.iter().flatten().map(|a| a.said(validated)));
            }
            if let Some(m) = r.mediator_feedback {
                // Its correction's form starts from what it says.
                form.start_from(
                    "goals_observed",
                    if m.goals_reached { "oui" } else { "non" },
                );
                form.start_from("notes", &m.notes);
                form.start_from("next_steps", m.next_steps.as_deref().unwrap_or_default());
                observed.push(("Noté le", m.recorded_on.french()));
                observed.push((
                    "Objectifs atteints",
                    if m.goals_reached { "Oui" } else { "Non" }.to_owned(),
                ));
                observed.push(("Ce que le médiateur retient", m.notes));
                if let Some(next) = m.next_steps {
                    observed.push(("Et maintenant ?", next));
                }
                observed.extend(m.corrections.iter().map(Correction::said));
            }
            let mut unrecorded = Milestone::ALL.to_vec();
            for o in r.outcome_records.unwrap_or_default() {
                unrecorded.retain(|m| *m != o.milestone.0);
                outcomes_recorded.push(o.said());
            }
            // The milestones due are offered; the next one is said with
            // its day (the domain refuses an outcome before it).
            let due = |m: &Milestone| i.ended_on.map_or(today, |e| m.due(e.0));
            next_milestone = unrecorded
                .iter()
                .map(|m| (m, due(m)))
                .find(|(_, d)| *d > today)
                .map(|(m, d)| {
                    format!(
                        "Le suivi {} se note à partir du {}.",
                        m.label(),
                        passerelle_domain::fr::date(d)
                    )
                });
            milestones = MILESTONES
                .iter()
                .zip(Milestone::ALL)
                .filter(|(_, m)| unrecorded.contains(m) && due(m) <= today)
                .map(|(option, _)| *option)
                .collect();
            endings.extend(
                r.start_corrections
                    .iter()
                    .flatten()
                    .map(|c| ("Premier jour corrigé", c.said())),
            );
            if let Some(d) = r.decline {
                endings.push((
                    "Proposition refusée",
                    format!(
                        "le {}, par : {}. Motif : {}",
                        d.answered_on.french(),
                        passerelle_domain::fr::in_sentence(d.by.french()),
                        said(&d.reason)
                    ),
                ));
            }
            if let Some(c) = r.cancellation {
                endings.push((
                    "Annulation",
                    format!(
                        "le {}, à l'initiative de : {}. Motif : {}",
                        c.cancelled_on.french(),
                        passerelle_domain::fr::in_sentence(c.by.french()),
                        said(&c.reason)
                    ),
                ));
            }
            if let Some(c) = r.interruption {
                endings.push((
                    "Interruption",
                    format!(
                        "le {}, à l'initiative de : {}. Motif : {}",
                        c.cancelled_on.french(),
                        passerelle_domain::fr::in_sentence(c.by.french()),
                        said(&c.reason)
                    ),
                ));
            }
            // Read after the interruption, which says the day as corrected.
            endings.extend(
                r.end_corrections
                    .iter()
                    .flatten()
                    .map(|c| ("Dernier jour corrigé", c.said())),
            );
            if let Some(j) = r.rejection {
                endings.push((
                    "Rejet de la convention",
                    format!(
                        "le {}. Motif : {}",
                        j.recorded.at.french(),
                        said(&j.justification)
                    ),
                ));
            }
            if let Some(j) = r.deprecation {
                endings.push((
                    "Abandon de la convention",
                    format!(
                        "le {}. Motif : {}",
                        j.recorded.at.french(),
                        said(&j.justification)
                    ),
                ));
            }
            accidents = r.accidents.map(|list| {
                list.into_iter()
                    .map(|a| AccidentShown {
                        occurred: moment(&a.occurred_at),
                        informed: format!(
                            "{}{}",
                            moment(&a.structure_informed_at),
                            if a.informed_in_time {
                                ""
                            } else {
                                " (plus de 24 heures après)"
                            }
                        ),
                        description: a.description.unwrap_or_else(|| "Effacée".to_owned()),
                        declared: a.declaration_filed_at.is_some(),
                        declaration: match (a.declaration_filed_at, a.declaration_filed_in_time) {
                            (Some(at), Some(false)) => {
                                format!("déposée le {} (hors délai de 48 heures)", moment(&at))
                            }
                            (Some(at), _) => format!("déposée le {}", moment(&at)),
                            (None, _) => {
                                format!("à déposer avant le {}", moment(&a.declaration_due_at))
                            }
                        },
                        id: a.id,
                    })
                    .collect()
            });
        }
        let convention_facts = if matches!(
            stage,
            Stage::NotProposed | Stage::Proposed | Stage::Declined
        ) {
            None
        } else {
            match self.convention_facts(id).await {
                Ok(facts) => facts,
                Err(r) => return *r,
            }
        };
        let period = match (i.period_start, i.period_end) {
            (Some(s), Some(e)) => Some(passerelle_domain::fr::range(s.0, e.0)),
            _ => None,
        };
        // The first day's correction starts from the day recorded.
        if staff
            && after_start
            && let Some(day) = i.started_on
        {
            form.start_from("start_on", &day.0.to_string());
        }
        // The last day's correction starts from the day recorded.
        if staff
            && ended
            && let Some(day) = i.ended_on
        {
            form.start_from("end_on", &day.0.to_string());
        }
        // The assessment and the person's answer, read back once given
        // (each null to whoever may not read it).
        let (mut assessment, mut response, mut unanswered) = (None, None, false);
        // Who gave the assessment corrects it: staff the one they entered
        // from paper, the host the one it gave online; the person her own
        // words, from her space.
        let (mut correct_assessment, mut correct_words) = (false, false);
        if given(FeedbackAuthor::Host) || given(FeedbackAuthor::Person) {
            let out = self.run(ASSESSMENT, json!({ "i": id })).await;
            let answer: AssessmentAnswer = read_or_return!(out);
            if let Some(a) = answer.immersion {
                if let Some(recorded) = &a.assessment {
                    correct_assessment = may.gives_feedback_as(FeedbackAuthor::Host)
                        && recorded.received_by_other_means() == staff;
                    if correct_assessment {
                        for (name, value) in recorded.form_values() {
                            form.start_from(&name, &value);
                        }
                    }
                }
                if let Some(p) = &a.person_feedback {
                    correct_words = !staff && may.gives_feedback_as(FeedbackAuthor::Person);
                    if correct_words {
                        for (name, value) in p.form_values() {
                            form.start_from(&name, &value);
                        }
                    }
                }
                assessment = a.assessment.as_ref().map(|a| a.shown());
                response = a.person_feedback.as_ref().map(|p| {
                    let corrected = p
                        .corrections
                        .iter()
                        .map(|c| ("Retour corrigé", c.said().1))
                        .collect();
                    (p.words(), p.answer(), corrected)
                });
                unanswered = a.person_feedback.as_ref().is_some_and(|p| !p.answered());
            }
        }
        // The assessment came in after the person's feedback: they
        // countersign or contest it on its own, or staff enter the answer
        // she gave them on paper.
        let answer_assessment = may.answer_assessment && assessment.is_some() && unanswered;
        let mut shown = ImmersionTemplate {
            nav: self.nav(None),
            id: id.to_owned(),
            employer,
            person,
            person_id: i.person_id.clone(),
            employer_id: i.employer_id.clone(),
            need_id: i.need_id.clone(),
            proposal_message: i.proposal_message.clone(),
            objective: i.pmsmp_objective.french().to_owned(),
            stage: stage.french(),
            period,
            missing: i.awaited_signatories.iter().map(|s| s.0.label()).collect(),
            error,
            answers,
            draft,
            convention_drafted: stage == Stage::Drafted,
            drafted: !matches!(
                stage,
                Stage::NotProposed | Stage::Proposed | Stage::Declined
            ),
            signatures,
            read_to_sign,
            validate,
            given: i
                .feedback_authors
                .iter()
                .map(|a| feedback_of(a.0))
                .collect(),
            steps,
            assess,
            feedback,
            outcome,
            plain: !staff && matches!(stage, Stage::Proposed | Stage::Drafted),
            read_only: !staff
                && may.answer_for.is_empty()
                && may.sign_online_as.is_empty()
                && may.give_feedback_as.is_empty()
                && !may.answer_assessment,
            observe,
            staff,
            skills: &SKILLS,
            levels: &LEVELS,
            attendances: &ATTENDANCES,
            contracts: &CONTRACTS,
            milestones,
            observed,
            outcomes_recorded,
            next_milestone,
            outcomes: &OUTCOMES,
            initiators: &INITIATORS,
            form,
            refused,
            prevalidate: staff && i.awaits_validation && !prevalidated,
            judge: staff && stage == Stage::Drafted,
            cancel: staff && stage == Stage::Validated,
            interrupt: staff && stage == Stage::Started,
            report: staff && after_start,
            endings,
            convention_facts,
            accidents,
            assessment,
            response,
            answer_assessment,
            correct_assessment,
            correct_observation: staff && given(FeedbackAuthor::Mediator),
            correct_words,
            started: i.started_on.map(|d| d.french()),
            correct_start: staff && after_start,
            ended: i.ended_on.filter(|_| ended).map(|d| d.french()),
            correct_end: staff && ended,
        };
        // The form refused may be gone from the page as it stands now (the
        // assessment recorded meanwhile by someone else): its refusal then
        // shows above the page, not with nothing to show it beside.
        if let Some(action) = acted
            && !shown.offers(action)
        {
            let mut said: Vec<String> = shown.refused.take().map(|(_, m)| m).into_iter().collect();
            said.extend(shown.form.errors.drain().map(|(_, m)| m));
            shown.error = shown
                .error
                .take()
                .or((!said.is_empty()).then(|| said.join(" ")));
        }
        let body = shown.render();
        self.render(status, body)
    }

    /// Runs an action on the immersion; back to its page, with the error
    /// if refused.
    async fn act(self, id: &str, query: &str, variables: Value) -> Response {
        let out = self.run(query, variables).await;
        match out.errors.first() {
            None => self.redirect(&format!("/immersions/{id}"), Vec::new()),
            Some(e) => {
                let message = e.message.clone();
                self.immersion_page(id, StatusCode::UNPROCESSABLE_ENTITY, Some(message))
                    .await
            }
        }
    }
}

pub(crate) async fn page(page: Page, Path(id): Path<String>) -> Response {
    if page.viewer.user.is_none() && page.viewer.principal.is_none() {
        return page.sign_in_first();
    }
    page.immersion_page(&id, StatusCode::OK, None).await
}

#[derive(Template)]
#[template(path = "propose.html")]
struct ProposeTemplate {
    nav: Nav,
    form: FormState,
    /// The person proposed to (id, name), else a page of the people her
    /// name's search found.
    person: Option<(String, String)>,
    people: PeopleChoice,
    /// The employer, or a page of them to choose from.
    choice: EmployerChoice,
    objectives: &'static [(&'static str, &'static str)],
}

/// The people a proposal's form found by the name posted (a name never
/// travels in a URL), a page at a time: the search the list shows and its
/// cursors go in hidden fields.
#[derive(Default)]
struct PeopleChoice {
    /// Id, name.
    found: Vec<(String, String)>,
    /// The search the list shows; empty, no search was made.
    listed: String,
    /// Where the page shown starts, empty on the first.
    after: String,
    /// Where the next page starts, when there is one.
    next: Option<String>,
}

/// What a proposal's form is about: the person and the employer chosen
/// (ids, else empty) and the pages of both lists to offer.
struct Proposal<'a> {
    person: &'a str,
    employer: &'a str,
    people: ChoiceQuery,
    employers: ChoiceQuery,
}

impl Page {
    /// The proposal's form with `form`'s values as typed.
    async fn propose_page(
        self,
        status: StatusCode,
        mut form: FormState,
        mut asked: Proposal<'_>,
    ) -> Response {
        #[derive(Deserialize)]
        struct One {
            person: Option<Named>,
        }
        #[derive(Deserialize)]
        struct Named {
            #[serde(flatten)]
            name: PersonName,
        }
        let mut notice = None;
        let mut person = None;
        if let Some(id) = given(asked.person) {
            let out = self
                .run(
                    "query($p: ID!) { person(id: $p) { firstName lastName } }",
                    json!({ "p": id }),
                )
                .await;
            // An id unknown or not readable: the search instead.
            if let Ok(One { person: Some(p) }) = out.read::<One>() {
                person = Some((id.to_owned(), p.name.full()));
            }
        }
        let mut people = PeopleChoice::default();
        if person.is_none()
            && let Some(name) = given(&asked.people.nom).map(str::to_owned)
        {
            #[derive(Deserialize)]
            struct Answer {
                people: Paged<Choice>,
            }
            #[derive(Deserialize)]
            struct Choice {
                id: String,
                #[serde(flatten)]
                name: PersonName,
            }
            let read = |after: &str| {
                self.run(
                    "query($first: Int!, $after: String, $filter: PeopleFilterInput) {
                        people(first: $first, after: $after, filter: $filter) {
                            edges { node { id firstName lastName } }
                            pageInfo { endCursor hasNextPage } } }",
                    json!({ "first": PAGE_SIZE, "after": given(after), "filter": { "name": name } }),
                )
            };
            let mut out = read(&asked.people.apres).await;
            if out.bad_cursor() {
                asked.people.apres.clear();
                notice = Some(STALE_PAGE.to_owned());
                out = read("").await;
            }
            if out.errors.is_empty() {
                let answer: Answer = read_or_return!(out);
                let (rows, next) = answer.people.split();
                people = PeopleChoice {
                    found: rows.into_iter().map(|p| (p.id, p.name.full())).collect(),
                    listed: passerelle_domain::shown_again(&name),
                    after: asked.people.apres,
                    next,
                };
            } else {
                form.absorb(&out.errors, &[("name", "nom_personne")]);
            }
        }
        let choice = match self
            .employer_choice(
                asked.employer,
                asked.employers,
                form.value("nom"),
                &mut notice,
            )
            .await
        {
            Ok(choice) => choice,
            Err(page) => return *page,
        };
        let body = ProposeTemplate {
            nav: self.nav(notice),
            form,
            person,
            people,
            choice,
            objectives: &OBJECTIVES,
        }
        .render();
        self.render(status, body)
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct ProposeQuery {
    /// The person a proposal starts with, from their file.
    #[serde(default)]
    personne: Option<String>,
    /// The employer it starts with, from a need or a matching employer
    /// (an id: no personal data in the URL).
    #[serde(default)]
    employeur: Option<String>,
    /// The employer's need it answers, from the need's page.
    #[serde(default)]
    besoin: Option<String>,
}

pub(crate) async fn propose_form(
    page: Page,
    axum::extract::Query(q): axum::extract::Query<ProposeQuery>,
    axum::extract::Query(choice): axum::extract::Query<ChoiceQuery>,
) -> Response {
    if page.viewer.user.is_none() {
        return page.sign_in_first();
    }
    let person = q.personne.unwrap_or_default();
    let employer = q.employeur.unwrap_or_default();
    // A need is kept only with its employer, and only if it is an id (an
    // address edited by hand proposes without it).
    let need = q
        .besoin
        .filter(|n| !employer.is_empty() && uuid::Uuid::parse_str(n).is_ok())
        .unwrap_or_default();
    let form = FormState::with(&[
        ("person", &person),
        ("employer", &employer),
        ("need", &need),
        ("nom", &choice.nom),
    ]);
    let asked = Proposal {
        person: &person,
        employer: &employer,
        people: ChoiceQuery::default(),
        employers: choice,
    };
    page.propose_page(StatusCode::OK, form, asked).await
}

#[derive(Debug, Deserialize)]
pub(crate) struct ProposeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    person: String,
    #[serde(default)]
    employer: String,
    /// The employer's need it answers, when proposed from the need.
    #[serde(default)]
    need: String,
    #[serde(default)]
    objective: String,
    #[serde(default)]
    message: String,
    /// The search or page button pressed, if any (`ListAction`).
    #[serde(default)]
    liste: String,
    /// The people's search as typed, the one their list shows, the page
    /// shown and the next.
    #[serde(default)]
    nom_personne: String,
    #[serde(default)]
    nom_personne_liste: String,
    #[serde(default)]
    personnes_apres: String,
    #[serde(default)]
    personnes_suivant: String,
    /// The employers' search and pages.
    #[serde(flatten)]
    choice: PostedChoice,
}

impl ProposeForm {
    /// The people's page `action` asks for; none, the page shown.
    fn people_asked(&self, action: Option<ListAction>) -> ChoiceQuery {
        let (nom, apres) = match action {
            Some(ListAction::Search | ListAction::OtherPerson) => (&self.nom_personne, ""),
            Some(ListAction::PeopleFirst) => (&self.nom_personne_liste, ""),
            Some(ListAction::PeopleNext) => {
                (&self.nom_personne_liste, self.personnes_suivant.as_str())
            }
            _ => (&self.nom_personne_liste, self.personnes_apres.as_str()),
        };
        ChoiceQuery {
            nom: nom.clone(),
            apres: apres.to_owned(),
        }
    }
}

/// The proposal's form posted: a search or a page asked gives the form
/// back with every field as typed; its own button proposes.
pub(crate) async fn propose(page: Page, Form(form): Form<ProposeForm>) -> Response {
    if page.viewer.user.is_none() {
        return page.sign_in_first();
    }
    if let Err(r) = page.checked(&form.csrf) {
        return *r;
    }
    let action = ListAction::of(&form.liste);
    // Another person or employer asked for: that choice undone.
    let person = match action {
        Some(ListAction::OtherPerson) => "",
        _ => form.person.as_str(),
    };
    let employer = match action {
        Some(ListAction::Other) => "",
        _ => form.employer.as_str(),
    };
    // Another employer asked for: the need was the first one's; a need
    // that is not an id (sent by hand) is left out.
    let need = if employer.is_empty() || uuid::Uuid::parse_str(&form.need).is_err() {
        ""
    } else {
        form.need.as_str()
    };
    let mut state = FormState::with(&[
        ("person", person),
        ("employer", employer),
        ("need", need),
        ("objective", &form.objective),
        ("message", &form.message),
        ("nom", &form.choice.nom),
        ("nom_personne", &form.nom_personne),
    ]);
    if let Some(action) = action {
        // A choice made stays so, but for the list asked for (or searched
        // anew), whose choice is ticked again when its page holds it.
        let search = action == ListAction::Search;
        let people_list = matches!(
            action,
            ListAction::PeopleNext | ListAction::PeopleFirst | ListAction::OtherPerson
        ) || search && given(&form.nom_personne).is_some();
        let employers_list = matches!(
            action,
            ListAction::Next | ListAction::First | ListAction::Other
        ) || search && given(&form.choice.nom).is_some();
        let asked = Proposal {
            person: if people_list { "" } else { person },
            employer: if employers_list { "" } else { employer },
            people: form.people_asked(Some(action)),
            employers: form.choice.asked(Some(action)),
        };
        return page.propose_page(StatusCode::OK, state, asked).await;
    }
    let missing = |field: &str, message: &str, state: &mut FormState| {
        state.errors.insert(field.into(), message.into());
    };
    if given(&form.person).is_none() {
        missing("person", "Choisissez la personne.", &mut state);
    }
    if given(&form.employer).is_none() {
        missing("employer", "Choisissez l'employeur.", &mut state);
    }
    state.offered(
        "objective",
        &form.objective,
        &OBJECTIVES,
        "Choisissez l'objectif de l'immersion parmi ceux proposés.",
    );
    let asked = Proposal {
        person: &form.person,
        employer: &form.employer,
        people: form.people_asked(None),
        employers: form.choice.asked(None),
    };
    if !state.errors.is_empty() {
        return page
            .propose_page(StatusCode::UNPROCESSABLE_ENTITY, state, asked)
            .await;
    }
    let out = page
        .run(
            "mutation($p: ID!, $e: ID!, $n: ID, $o: Objective!, $m: String) {
                immersionPropose(input: { personId: $p, employerId: $e, needId: $n,
                    objective: $o, message: $m }) {
                    immersion { id } } }",
            json!({
                "p": form.person,
                "e": form.employer,
                "n": given(need),
                "o": form.objective,
                "m": (!form.message.trim().is_empty()).then_some(&form.message),
            }),
        )
        .await;
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Answer {
        immersion_propose: Option<Proposed>,
    }
    #[derive(Deserialize)]
    struct Proposed {
        immersion: Created,
    }
    #[derive(Deserialize)]
    struct Created {
        id: String,
    }
    // Refused, the answer's data is null: the errors say why.
    if let Ok(Answer {
        immersion_propose: Some(proposed),
    }) = out.read::<Answer>()
    {
        let id = proposed.immersion.id;
        return page.redirect(&format!("/immersions/{id}"), Vec::new());
    }
    state.absorb(
        &out.errors,
        &[
            ("message", "message"),
            ("employerId", "employer"),
            ("personId", "person"),
        ],
    );
    // A need no longer open (closed, formalised meanwhile): the refusal
    // says so above the form, which then proposes without it.
    if out
        .errors
        .iter()
        .any(|e| e.field.as_deref() == Some("needId"))
    {
        state.keep("need", "");
    }
    page.propose_page(StatusCode::UNPROCESSABLE_ENTITY, state, asked)
        .await
}

/// The convention form's fields, with where the gateway names them.
const CONVENTION_FIELDS: [(&str, &str); 37] = [
    // Another convention with the same host over some of its dates.
    ("confirmDuplicate", "confirm_duplicate"),
    // The person's situation and parties of their own, before the
    // organisations' fields whose paths end alike.
    ("situation.description", "situation_description"),
    ("currentEmployer.siret", "employer_siret"),
    ("currentEmployer.signatory.name", "employer_signatory"),
    ("currentEmployer.signatory.email", "employer_email"),
    ("currentEmployer.name", "employer_name"),
    ("currentEmployer", "employer_name"),
    ("legalRepresentative.email", "legal_email"),
    ("legalRepresentative.phone", "legal_phone"),
    ("legalRepresentative.name", "legal_name"),
    ("legalRepresentative", "legal_name"),
    ("period.start", "start"),
    ("period.end", "end"),
    ("period", "end"),
    ("schedule", "schedule"),
    ("weeklyHours", "weekly_hours"),
    ("place.address", "place_address"),
    ("place.commune", "place_commune"),
    ("identity.firstName", "first_name"),
    ("identity.lastName", "last_name"),
    ("identity.birthDate", "birth_date"),
    ("identity.address", "address"),
    ("identity.email", "person_email"),
    ("host.name", "host_name"),
    ("host.siret", "host_siret"),
    ("host.activity", "host_activity"),
    ("host.collectiveAgreement", "host_agreement"),
    ("host.signatory.name", "host_signatory"),
    ("host.signatory.email", "host_email"),
    ("host.tutor", "tutor_name"),
    ("tutor.name", "tutor_name"),
    ("tutor.jobTitle", "tutor_job"),
    ("tutor.email", "tutor_email"),
    ("prescriber.name", "prescriber_name"),
    ("prescriber.signatory.name", "prescriber_signatory"),
    ("goals", "goals"),
    ("forbiddenUsesExcluded", "attestation"),
];

#[derive(Template)]
#[template(path = "convention.html")]
struct ConventionTemplate {
    nav: Nav,
    id: String,
    employer: String,
    person: String,
    form: FormState,
    objectives: &'static [(&'static str, &'static str)],
    situations: &'static [(&'static str, &'static str)],
    /// A convention drafted already, changed before its validation: the
    /// signatures given to it are to be given again.
    modifying: bool,
}

/// A drafted convention as the API gives it, in the shape it is sent:
/// what its form is filled from ([`DRAFTED_FIELDS`]), and what a change
/// keeps of what the form does not show ([`KEPT_AT`]).
const DRAFTED: &str = "query($i: ID!) { immersion(id: $i) { convention {
    objective goals tasks evaluation safety schedule weeklyHours forbiddenUsesExcluded
    period { start end } place { address commune }
    supportStructure { name siret signatory { name jobTitle email phone } }
    prescriber { name siret signatory { name jobTitle email phone } }
    person {
        identity { firstName lastName birthDate address email phone }
        legalRepresentative { name jobTitle email phone }
        situation { kind description
            currentEmployer { name siret signatory { name jobTitle email phone } } }
    }
    host { name siret activity collectiveAgreement signatory { name jobTitle email phone }
        tutor { name jobTitle email phone } }
} } }";

/// Each field of the convention's form, and where the API's convention
/// gives its value.
const DRAFTED_FIELDS: [(&str, &str); 34] = [
    ("start", "/period/start"),
    ("end", "/period/end"),
    ("schedule", "/schedule"),
    ("objective", "/objective"),
    ("goals", "/goals"),
    ("tasks", "/tasks"),
    ("evaluation", "/evaluation"),
    ("place_address", "/place/address"),
    ("place_commune", "/place/commune"),
    ("prescriber_name", "/prescriber/name"),
    ("prescriber_signatory", "/prescriber/signatory/name"),
    ("first_name", "/person/identity/firstName"),
    ("last_name", "/person/identity/lastName"),
    ("birth_date", "/person/identity/birthDate"),
    ("address", "/person/identity/address"),
    ("person_email", "/person/identity/email"),
    ("legal_name", "/person/legalRepresentative/name"),
    ("legal_email", "/person/legalRepresentative/email"),
    ("legal_phone", "/person/legalRepresentative/phone"),
    ("situation", "/person/situation/kind"),
    ("situation_description", "/person/situation/description"),
    ("employer_name", "/person/situation/currentEmployer/name"),
    ("employer_siret", "/person/situation/currentEmployer/siret"),
    (
        "employer_signatory",
        "/person/situation/currentEmployer/signatory/name",
    ),
    (
        "employer_email",
        "/person/situation/currentEmployer/signatory/email",
    ),
    ("host_name", "/host/name"),
    ("host_siret", "/host/siret"),
    ("host_activity", "/host/activity"),
    ("host_agreement", "/host/collectiveAgreement"),
    ("host_signatory", "/host/signatory/name"),
    ("host_email", "/host/signatory/email"),
    ("tutor_name", "/host/tutor/name"),
    ("tutor_job", "/host/tutor/jobTitle"),
    ("tutor_email", "/host/tutor/email"),
];

/// What a convention may hold that its form does not show (given through
/// the API), and where it goes in the convention sent, each kept only while
/// the names it belongs to are the same in both (another signatory, tutor
/// or structure typed in does not inherit its predecessor's email, phone or
/// SIRET), and where the form's convention has the object that holds it.
const KEPT_AT: [(&str, &[&str]); 13] = [
    ("/safety", &[]),
    ("/supportStructure", &[]),
    ("/prescriber/siret", &["/prescriber/name"]),
    (
        "/prescriber/signatory/jobTitle",
        &["/prescriber/signatory/name"],
    ),
    (
        "/prescriber/signatory/email",
        &["/prescriber/signatory/name"],
    ),
    (
        "/prescriber/signatory/phone",
        &["/prescriber/signatory/name"],
    ),
    (
        "/person/identity/phone",
        &["/person/identity/firstName", "/person/identity/lastName"],
    ),
    (
        "/person/legalRepresentative/jobTitle",
        &["/person/legalRepresentative/name"],
    ),
    (
        "/person/situation/currentEmployer/signatory/jobTitle",
        &["/person/situation/currentEmployer/signatory/name"],
    ),
    (
        "/person/situation/currentEmployer/signatory/phone",
        &["/person/situation/currentEmployer/signatory/name"],
    ),
    ("/host/signatory/jobTitle", &["/host/signatory/name"]),
    ("/host/signatory/phone", &["/host/signatory/name"]),
    ("/host/tutor/phone", &["/host/tutor/name"]),
];

/// `convention` with the values `current` (read by [`DRAFTED`]) holds at
/// [`KEPT_AT`].
fn keep_unshown(convention: &mut Value, current: &Value) {
    for (at, owner) in KEPT_AT {
        let Some(value) = current.pointer(at).filter(|v| !v.is_null()) else {
            continue;
        };
        let text = |v: &Value, name: &str| -> Option<String> {
            v.pointer(name)
                .and_then(Value::as_str)
                .map(|t| t.trim().to_owned())
        };
        let same = |name: &&str| {
            let was = text(current, name);
            was.is_some() && was == text(convention, name)
        };
        if !owner.iter().all(same) {
            continue;
        }
        let (parent, leaf) = at.rsplit_once('/').unwrap_or(("", at));
        if let Some(Value::Object(holder)) = convention.pointer_mut(parent) {
            holder.insert(leaf.to_owned(), value.clone());
        }
    }
}

/// An immersion's convention as a query of it gives it, in the API's
/// names: what the form is filled from and what a change keeps.
#[derive(Deserialize)]
struct ConventionValue {
    immersion: Option<ConventionOf>,
}

#[derive(Deserialize)]
struct ConventionOf {
    convention: Option<Value>,
}

impl Page {
    /// The convention of the immersion `id` ([`DRAFTED`]), if it has one.
    async fn convention_value(&self, id: &str) -> Result<Option<Value>, Box<Response>> {
        let answer: ConventionValue = self.run(DRAFTED, json!({ "i": id })).await.read()?;
        Ok(answer.immersion.and_then(|i| i.convention))
    }
}

/// The form filled with a drafted convention's values.
fn drafted_form(convention: &Value) -> FormState {
    let mut values: Vec<(&str, String)> = DRAFTED_FIELDS
        .iter()
        .map(|(name, at)| {
            let value = convention.pointer(at).and_then(Value::as_str).unwrap_or("");
            (*name, value.to_owned())
        })
        .collect();
    if let Some(hours) = convention.get("weeklyHours").and_then(Value::as_f64) {
        values.push(("weekly_hours", crate::answer::hours(hours)));
    }
    if convention.get("forbiddenUsesExcluded") == Some(&Value::Bool(true)) {
        values.push(("attestation", "oui".to_owned()));
    }
    let values: Vec<(&str, &str)> = values.iter().map(|(n, v)| (*n, v.as_str())).collect();
    FormState::with(&values)
}

impl Page {
    async fn convention_page(
        self,
        id: &str,
        status: StatusCode,
        form: Option<FormState>,
    ) -> Response {
        let out = self.run(IMMERSION, json!({ "i": id })).await;
        let answer: ImmersionAnswer = read_or_return!(out);
        let Some(i) = answer.immersion else {
            return not_found();
        };
        #[derive(Deserialize)]
        struct Facts {
            me: Me,
            person: Option<PersonName>,
            employer: Option<Host>,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Me {
            name: String,
            structure_name: String,
        }
        #[derive(Deserialize, Default)]
        #[serde(rename_all = "camelCase")]
        struct Host {
            name: String,
            siret: String,
            commune: String,
            address: Option<String>,
            naf_label: Option<String>,
        }
        let facts = self
            .run(
                "query($p: ID!, $e: ID!) { me { name structureName }
                    person(id: $p) { firstName lastName }
                    employer(id: $e) { name siret commune address nafLabel } }",
                json!({ "p": i.person_id, "e": i.employer_id }),
            )
            .await;
        let facts: Facts = read_or_return!(facts);
        let person = facts.person.unwrap_or_default();
        let employer = facts.employer.unwrap_or_default();
        let modifying = i.current_stage.0 == Stage::Drafted;
        // Changed before its validation: the form starts from its values.
        let form = match form {
            None if modifying => match self.convention_value(id).await {
                Ok(drafted) => drafted.map(|c| drafted_form(&c)),
                Err(page) => return *page,
            },
            form => form,
        };
        let form = form.unwrap_or_else(|| {
            FormState::with(&[
                (
                    "first_name",
                    person.first_name.as_deref().unwrap_or_default(),
                ),
                ("last_name", person.last_name.as_deref().unwrap_or_default()),
                ("host_name", &employer.name),
                ("host_siret", &employer.siret),
                (
                    "host_activity",
                    employer.naf_label.as_deref().unwrap_or_default(),
                ),
                ("place_commune", &employer.commune),
                (
                    "place_address",
                    employer.address.as_deref().unwrap_or_default(),
                ),
                ("prescriber_name", &facts.me.structure_name),
                ("prescriber_signatory", &facts.me.name),
                ("objective", &i.pmsmp_objective.name()),
                ("schedule", "Du lundi au vendredi, de 9 h à 17 h"),
                ("weekly_hours", "35"),
            ])
        });
        let body = ConventionTemplate {
            nav: self.nav(None),
            id: id.to_owned(),
            employer: employer.name.clone(),
            person: person.full(),
            form,
            objectives: &OBJECTIVES,
            situations: &SITUATIONS,
            modifying,
        }
        .render();
        self.render(status, body)
    }
}

pub(crate) async fn convention_form(page: Page, Path(id): Path<String>) -> Response {
    if page.viewer.user.is_none() {
        return page.sign_in_first();
    }
    page.convention_page(&id, StatusCode::OK, None).await
}

pub(crate) async fn convention(
    page: Page,
    Path(id): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let fields = Fields(fields);
    let get = |name: &str| fields.get(name);
    if let Err(r) = page.checked(get("csrf")) {
        return *r;
    }
    // Staff draft conventions; the form is theirs only, as its page is.
    if page.viewer.user.is_none() {
        return not_found();
    }
    let mut state = FormState::with(
        &fields
            .0
            .iter()
            .filter(|(k, _)| k != "csrf")
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect::<Vec<_>>(),
    );
    for date in ["start", "end", "birth_date"] {
        if parse_date(get(date)).is_none() {
            state
                .errors
                .insert(date.into(), "Indiquez une date (jour, mois, année).".into());
        }
    }
    let hours = get("weekly_hours").trim().replace(',', ".").parse::<f64>();
    if hours.is_err() {
        state.errors.insert(
            "weekly_hours".into(),
            "Indiquez un nombre d'heures, par exemple 35 ou 35,5.".into(),
        );
    }
    if !get("situation").is_empty() {
        state.offered(
            "situation",
            get("situation"),
            &SITUATIONS,
            "Choisissez la situation de la personne dans la liste.",
        );
    }
    state.offered(
        "objective",
        get("objective"),
        &OBJECTIVES,
        "Choisissez l'objectif de l'immersion parmi ceux proposés.",
    );
    if !state.errors.is_empty() {
        return page
            .convention_page(&id, StatusCode::UNPROCESSABLE_ENTITY, Some(state))
            .await;
    }
    let optional = |name: &str| fields.optional(name);
    // A party of the person's own, sent when any of its fields is filled:
    // the gateway says which the situation or the age requires.
    let any = |names: &[&str]| names.iter().any(|n| fields.optional(n).is_some());
    let current_employer = any(&[
        "employer_name",
        "employer_siret",
        "employer_signatory",
        "employer_email",
    ])
    .then(|| {
        json!({
            "name": get("employer_name"), "siret": optional("employer_siret"),
            "signatory": { "name": get("employer_signatory"), "email": optional("employer_email") },
        })
    });
    let legal_representative = any(&["legal_name", "legal_email", "legal_phone"]).then(|| {
        json!({ "name": get("legal_name"), "email": optional("legal_email"), "phone": optional("legal_phone") })
    });
    let situation = match get("situation") {
        "" => "JOB_SEEKER",
        kind => kind,
    };
    let mut convention = json!({
        "prescriber": { "name": get("prescriber_name"), "signatory": { "name": get("prescriber_signatory") } },
        "person": {
            "identity": {
                "firstName": get("first_name"), "lastName": get("last_name"),
                "birthDate": get("birth_date"), "address": get("address"),
                "email": optional("person_email"),
            },
            "situation": {
                "kind": situation,
                "description": optional("situation_description"),
                "currentEmployer": current_employer,
            },
            "legalRepresentative": legal_representative,
        },
        "host": {
            "siret": get("host_siret"), "name": get("host_name"), "activity": get("host_activity"),
            "collectiveAgreement": get("host_agreement"),
            "signatory": { "name": get("host_signatory"), "email": optional("host_email") },
            "tutor": { "name": get("tutor_name"), "jobTitle": get("tutor_job"), "email": optional("tutor_email") },
        },
        "period": { "start": get("start"), "end": get("end") },
        "schedule": get("schedule"),
        "weeklyHours": hours.unwrap_or_default(),
        "place": { "address": get("place_address"), "commune": get("place_commune") },
        "objective": get("objective"),
        "goals": get("goals"),
        "evaluation": get("evaluation"),
        "tasks": get("tasks"),
        "forbiddenUsesExcluded": get("attestation") == "oui",
    });
    // A drafted convention changed: what the form does not show stays.
    match page.convention_value(&id).await {
        Ok(Some(current)) => keep_unshown(&mut convention, &current),
        Ok(None) => {}
        Err(answer) => return *answer,
    }
    let out = page
        .run(
            "mutation($i: ID!, $c: ConventionInput!, $d: Boolean) {
                conventionDraft(input: { immersionId: $i, convention: $c, confirmDuplicate: $d }) {
                    immersion { id } } }",
            json!({ "i": id, "c": convention, "d": get("confirm_duplicate") == "oui" }),
        )
        .await;
    if out.errors.is_empty() {
        return page.redirect(&format!("/immersions/{id}"), Vec::new());
    }
    state.absorb(&out.errors, &CONVENTION_FIELDS);
    page.convention_page(&id, StatusCode::UNPROCESSABLE_ENTITY, Some(state))
        .await
}

/// The operation an action on the immersion's page runs, with its
/// variables; none for an unknown action.
fn operation(
    action: &str,
    id: &str,
    f: &Fields,
    staff: bool,
    today: &str,
) -> Option<(String, Value)> {
    let one = |mutation: &str| {
        format!(
            "mutation($i: ID!) {{ {mutation}(input: {{ immersionId: $i }}) {{ immersion {{ id }} }} }}"
        )
    };
    Some(match action {
        // The person's or the employer's answer, or the mediator recording it.
        "reponse" => {
            let mutation = if f.get("choix") == "refuser" {
                "immersionDecline"
            } else {
                "immersionAccept"
            };
            (
                format!(
                    "mutation($i: ID!, $by: Party!, $r: String, $on: Date) {{
                        {mutation}(input: {{ immersionId: $i, by: $by, reason: $r, answeredOn: $on }}) {{ immersion {{ id }} }} }}"
                ),
                // The day staff recording it give; the party's own is today.
                json!({ "i": id, "by": f.get("by"), "r": f.optional("reason"),
                    "on": if staff { f.optional("answered_on") } else { None } }),
            )
        }
        "signature" => (
            "mutation($i: ID!, $s: Signatory!, $p: Date) {
                conventionSign(input: { immersionId: $i, signatory: $s, onPaperOn: $p }) { immersion { id } } }"
                .to_owned(),
            json!({ "i": id, "s": f.get("signatory"), "p": (f.get("paper") == "true").then_some(today) }),
        ),
        "validation" => (one("conventionValidate"), json!({ "i": id })),
        "prevalidation" => (one("conventionPrevalidate"), json!({ "i": id })),
        "rejet" => (
            "mutation($i: ID!, $j: String!) {
                conventionReject(input: { immersionId: $i, justification: $j }) { immersion { id } } }"
                .to_owned(),
            json!({ "i": id, "j": f.get("reject_justification") }),
        ),
        "abandon" => (
            "mutation($i: ID!, $j: String!) {
                conventionDeprecate(input: { immersionId: $i, justification: $j }) { immersion { id } } }"
                .to_owned(),
            json!({ "i": id, "j": f.get("deprecate_justification") }),
        ),
        "annulation" => (
            "mutation($i: ID!, $by: Initiative!, $r: String!) {
                conventionCancel(input: { immersionId: $i, by: $by, reason: $r }) { immersion { id } } }"
                .to_owned(),
            json!({ "i": id, "by": f.get("cancel_by"), "r": f.get("cancel_reason") }),
        ),
        "interruption" => (
            "mutation($i: ID!, $by: Initiative!, $r: String!, $on: Date) {
                immersionInterrupt(input: { immersionId: $i, by: $by, reason: $r, on: $on }) { immersion { id } } }"
                .to_owned(),
            json!({ "i": id, "by": f.get("interrupt_by"), "r": f.get("interrupt_reason"), "on": f.optional("interrupt_on") }),
        ),
        // A work accident: when, when the structure heard of it, what
        // happened; its declaration to the health insurance is due 48
        // hours after.
        "accident" => (
            "mutation($i: ID!, $at: DateTime!, $told: DateTime!, $d: String!) {
                accidentReport(input: { immersionId: $i, occurredAt: $at, structureInformedAt: $told, description: $d }) {
                    immersion { id } } }"
                .to_owned(),
            json!({ "i": id, "at": instant(f.get("accident_at")), "told": instant(f.get("accident_informed")),
                "d": f.get("accident_description") }),
        ),
        "declaration" => (
            "mutation($i: ID!, $a: ID!, $at: DateTime!) {
                accidentDeclarationRecord(input: { immersionId: $i, accidentId: $a, filedAt: $at }) {
                    immersion { id } } }"
                .to_owned(),
            json!({ "i": id, "a": f.get("accident"), "at": instant(f.get("filed_at")) }),
        ),
        // The first day corrected, and why.
        "debut-corrige" => (
            "mutation($i: ID!, $on: Date!, $r: String!) {
                immersionStartCorrect(input: { immersionId: $i, on: $on, reason: $r }) {
                    immersion { id } } }"
                .to_owned(),
            // Checked a day by `action` first, sent as the API reads one.
            json!({ "i": id, "on": crate::page::typed_day(f.get("start_on")).ok().flatten(),
                "r": f.get("start_reason") }),
        ),
        // The last day corrected, and why.
        "fin-corrigee" => (
            "mutation($i: ID!, $on: Date!, $r: String!) {
                immersionEndCorrect(input: { immersionId: $i, on: $on, reason: $r }) {
                    immersion { id } } }"
                .to_owned(),
            // Checked a day by `action` first, sent as the API reads one.
            json!({ "i": id, "on": crate::page::typed_day(f.get("end_on")).ok().flatten(),
                "r": f.get("end_reason") }),
        ),
        "debut" | "fin" => {
            let mutation = if action == "debut" {
                "immersionStart"
            } else {
                "immersionComplete"
            };
            (
                format!(
                    "mutation($i: ID!, $on: Date) {{
                        {mutation}(input: {{ immersionId: $i, on: $on }}) {{ immersion {{ id }} }} }}"
                ),
                json!({ "i": id, "on": f.optional("on") }),
            )
        }
        // The host's assessment: attendance, goals, a grid of skills,
        // advice, a contract offered; entered by a mediator when received
        // on paper or by phone.
        "bilan" => (
            "mutation($i: ID!, $h: HostAssessmentInput!) {
                feedbackRecord(input: { immersionId: $i, host: $h }) { immersion { id } } }"
                .to_owned(),
            json!({ "i": id, "h": host_assessment(f, staff) }),
        ),
        // The person's own feedback, in their words, with their
        // countersignature of the host's assessment or why they contest it.
        "retour" => (
            "mutation($i: ID!, $p: PersonFeedbackInput!) {
                feedbackRecord(input: { immersionId: $i, person: $p }) { immersion { id } } }"
                .to_owned(),
            json!({ "i": id, "p": person_feedback(f) }),
        ),
        // The person's answer to the host's assessment that came in after
        // their feedback: countersigned, or contested with why; from her
        // session, or entered by staff from her paper answer, on its day.
        "reponse-au-bilan" => (
            "mutation($i: ID!, $c: Boolean, $d: String, $on: Date) {
                assessmentAnswer(input: { immersionId: $i, countersigns: $c, disagreement: $d,
                    answeredOn: $on }) { immersion { id } } }"
                .to_owned(),
            json!({ "i": id,
                "c": match f.get("countersigns") { "oui" => Some(true), "non" => Some(false), _ => None },
                "d": f.optional("disagreement"),
                "on": if staff { f.optional("answered_on") } else { None } }),
        ),
        // The mediator's own feedback.
        "observation" => (
            "mutation($i: ID!, $m: MediatorFeedbackInput!) {
                feedbackRecord(input: { immersionId: $i, mediator: $m }) { immersion { id } } }"
                .to_owned(),
            json!({ "i": id, "m": mediator_feedback(f) }),
        ),
        // A feedback corrected: the whole of it as its form now says, and
        // why.
        "bilan-corrige" | "observation-corrigee" | "retour-corrige" => {
            let (party, value, reason) = match action {
                "bilan-corrige" => ("host", host_assessment(f, staff), "bilan_reason"),
                "observation-corrigee" => ("mediator", mediator_feedback(f), "observation_reason"),
                _ => ("person", person_feedback(f), "retour_reason"),
            };
            (
                "mutation($c: FeedbackCorrectInput!) {
                    feedbackCorrect(input: $c) { immersion { id } } }"
                    .to_owned(),
                json!({ "c": { "immersionId": id, party: value, "reason": f.get(reason) } }),
            )
        }
        // Where the person stands at the end or at 1, 3 or 6 months.
        "suite" => (
            "mutation($i: ID!, $m: Milestone!, $o: OutcomeKind!, $c: Contract) {
                outcomeRecord(input: { immersionId: $i, milestone: $m, outcome: $o, contract: $c }) {
                    immersion { id } } }"
                .to_owned(),
            json!({ "i": id, "m": f.get("milestone"), "o": f.get("outcome"), "c": f.optional("contract") }),
        ),
        _ => return None,
    })
}

/// The host's assessment as its form gives it: attendance, goals, a grid
/// of skills, advice, a contract offered; entered by staff when received
/// on paper or by phone.
fn host_assessment(f: &Fields, staff: bool) -> Value {
    let skills: Vec<Value> = SKILLS
        .iter()
        .filter_map(|(skill, _)| {
            let level = f.get(&format!("skill-{skill}"));
            (!level.is_empty()).then(|| {
                json!({ "skill": skill, "level": level,
                    "comment": f.optional(&format!("comment-{skill}")) })
            })
        })
        .collect();
    json!({
        "receivedByOtherMeans": staff,
        "attendance": f.get("attendance"),
        "lastDayPresent": f.optional("last_day_present"),
        // Checked a whole number by `action` first.
        "missedHours": f.optional("missed_hours").and_then(|h| h.parse::<i32>().ok()),
        "goalsReached": f.get("goals_reached") == "oui",
        "skills": skills,
        "advice": f.optional("advice"),
        "appraisal": f.optional("appraisal"),
        "hiring": f.optional("hiring"),
    })
}

/// The mediator's own feedback as its form gives it.
fn mediator_feedback(f: &Fields) -> Value {
    json!({
        "goalsReached": f.get("goals_observed") == "oui",
        "notes": f.get("notes"),
        "nextSteps": f.optional("next_steps"),
    })
}

/// The person's own feedback as her form gives it: her words, and her
/// countersignature of the host's assessment or why she contests it.
fn person_feedback(f: &Fields) -> Value {
    json!({
        "words": f.get("words"),
        "countersigns": match f.get("countersigns") { "oui" => Some(true), "non" => Some(false), _ => None },
        "disagreement": f.optional("disagreement"),
    })
}

/// The address of one of the page's forms, opened (a refused form's page
/// reloaded, a link kept): the immersion's page.
pub(crate) async fn back(page: Page, Path((id, _)): Path<(String, String)>) -> Response {
    page.redirect(
        &format!("/immersions/{}", crate::page::encode(&id)),
        Vec::new(),
    )
}

/// Whether the hidden choices of an action's form (which party, which
/// answer, paper or online, which signatory: a button's hidden value) are
/// ones the page's forms send. Another comes from a request made by hand,
/// which has no field to be refused beside: it is neither read as one of
/// the page's nor refused in the API's names.
fn hidden_choices_offered(action: &str, fields: &Fields) -> bool {
    let named = |name: &str, values: &[&str]| values.contains(&fields.get(name));
    match action {
        "reponse" => {
            named("choix", &["accepter", "refuser"]) && named("by", &["EMPLOYER", "PERSON"])
        }
        "signature" => {
            named("paper", &["true", "false"])
                && crate::labels::offers(&SIGNATORIES, fields.get("signatory"))
        }
        _ => true,
    }
}

/// Refuses beside its field, in French, each choice of an action's form
/// shown to the user (a list, a set of radio buttons) whose value is none
/// the form offers: a form edited by hand, or a page older than its list.
/// The API would refuse it in its own codes, above the form.
fn refuse_unoffered(action: &str, fields: &Fields, form: &mut FormState) {
    // `blank`: the list's first option, which sends nothing.
    let mut listed = |name: &str, options: &[(&str, &str)], blank: bool, message: &str| {
        let value = fields.get(name);
        if !(blank && value.is_empty()) {
            form.offered(name, value, options, message);
        }
    };
    const YES_NO: [(&str, &str); 2] = [("oui", "Oui"), ("non", "Non")];
    match action {
        "bilan" | "bilan-corrige" => {
            listed(
                "attendance",
                &ATTENDANCES,
                false,
                "Choisissez l'une des présences proposées.",
            );
            listed(
                "goals_reached",
                &YES_NO,
                false,
                "Répondez par oui ou par non.",
            );
            listed(
                "hiring",
                &CONTRACTS,
                true,
                "Choisissez « Non » ou l'un des contrats de la liste.",
            );
            // The skills the form lists: another name is not read at all.
            for (skill, _) in SKILLS.iter() {
                listed(
                    &format!("skill-{skill}"),
                    &LEVELS,
                    true,
                    "Choisissez l'un des niveaux de la liste, ou « Non observée ».",
                );
            }
        }
        "observation" | "observation-corrigee" => listed(
            "goals_observed",
            &YES_NO,
            false,
            "Répondez par oui ou par non.",
        ),
        "annulation" => listed(
            "cancel_by",
            &INITIATORS,
            false,
            "Choisissez dans la liste qui est à l'initiative de l'annulation.",
        ),
        "interruption" => listed(
            "interrupt_by",
            &INITIATORS,
            false,
            "Choisissez dans la liste qui est à l'initiative de l'interruption.",
        ),
        "suite" => {
            listed(
                "milestone",
                &MILESTONES,
                false,
                "Choisissez l'une des échéances de la liste.",
            );
            listed(
                "outcome",
                &OUTCOMES,
                false,
                "Choisissez l'une des situations de la liste.",
            );
            listed(
                "contract",
                &CONTRACTS,
                true,
                "Choisissez l'un des contrats de la liste, ou aucun.",
            );
        }
        _ => {}
    }
}

/// Every button of the immersion's page: the action, then back to the page
/// (with the gateway's refusal, if any).
pub(crate) async fn action(
    page: Page,
    Path((id, action)): Path<(String, String)>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let fields = Fields(fields);
    if let Err(r) = page.checked(fields.get("csrf")) {
        return *r;
    }
    if !hidden_choices_offered(&action, &fields) {
        return crate::page::error_page(
            StatusCode::BAD_REQUEST,
            "Ce choix n'est pas l'un de ceux que la page propose : repartez de la page de l'immersion.",
        );
    }
    let today = page.api.gateway.handler.clock().today().to_string();
    let staff = page.viewer.user.is_some();
    let Some((query, variables)) = operation(&action, &id, &fields, staff, &today) else {
        return not_found();
    };
    let names = fields_of(&action);
    if names.is_empty() && action != "declaration" && action != "prevalidation" {
        return page.act(&id, &query, variables).await;
    }
    let values: Vec<(&str, &str)> = fields
        .0
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let mut form = FormState::with(&values);
    refuse_unoffered(&action, &fields, &mut form);
    // What the page reads before the API does: the hours missed, a
    // number; an accident's blanks, all named at once (the API names the
    // first it meets).
    if matches!(action.as_str(), "bilan" | "bilan-corrige")
        && fields
            .optional("missed_hours")
            .is_some_and(|h| h.parse::<u16>().is_err())
    {
        form.errors.insert(
            "missed_hours".into(),
            "Indiquez un nombre entier d'heures, 0 ou plus.".into(),
        );
    }
    // A day typed by hand that is not one, said beside its field (the
    // interruption's, the start's or the end's, an answer's), before the
    // API reads it; the last day present has no "today" to fall back on.
    for name in ["interrupt_on", "on", "answered_on"] {
        if crate::page::typed_day(fields.get(name)).is_err() {
            form.errors.insert(name.into(), crate::page::BAD_DAY.into());
        }
    }
    // A corrected day has no "today" to fall back on.
    for (corrects, name, missing) in [
        (
            "debut-corrige",
            "start_on",
            "Indiquez le premier jour de l'immersion (jour, mois, année).",
        ),
        (
            "fin-corrigee",
            "end_on",
            "Indiquez le dernier jour de l'immersion (jour, mois, année).",
        ),
    ] {
        if action == corrects && !matches!(crate::page::typed_day(fields.get(name)), Ok(Some(_))) {
            form.errors.insert(name.into(), missing.into());
        }
    }
    if crate::page::typed_day(fields.get("last_day_present")).is_err() {
        form.errors.insert(
            "last_day_present".into(),
            "Indiquez le dernier jour de présence (jour, mois, année).".into(),
        );
    }
    if action == "accident" {
        for (name, missing) in [
            ("accident_at", "Indiquez le jour et l'heure de l'accident."),
            (
                "accident_informed",
                "Indiquez le jour et l'heure où la structure a été informée.",
            ),
            ("accident_description", "Décrivez ce qui s'est passé."),
        ] {
            if fields.optional(name).is_none() {
                form.errors.insert(name.into(), missing.into());
            }
        }
    }
    let key = refusal_key(&action, &fields);
    if !form.errors.is_empty() {
        let refused = (action == "reponse")
            .then(|| said_together(None, &mut form))
            .flatten()
            .map(|m| (key.clone(), m));
        return page
            .immersion_form(
                &id,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                form,
                refused,
                Some(&key),
            )
            .await;
    }
    // The lifecycle's forms: each refusal beside its field, else beside
    // the form.
    let out = page.run(&query, variables).await;
    if out.errors.is_empty() {
        return page.redirect(&format!("/immersions/{id}"), Vec::new());
    }
    form.absorb(&out.errors, names);
    if action == "reponse" {
        // Its forms show their refusal above their fields, so a missing
        // reason says which field it is about.
        if form.errors.contains_key("reason") {
            form.errors.insert(
                "reason".into(),
                "Dites pourquoi la proposition est déclinée, en quelques mots.".into(),
            );
        }
        form.general = said_together(form.general.take(), &mut form);
    }
    let refused = form.general.take().map(|m| (key.clone(), m));
    page.immersion_form(
        &id,
        StatusCode::UNPROCESSABLE_ENTITY,
        None,
        form,
        refused,
        Some(&key),
    )
    .await
}

/// A refusal's general message and its fields' messages, in the fields'
/// order by name, as one (taken out of `form`); none when there is none.
fn said_together(general: Option<String>, form: &mut FormState) -> Option<String> {
    let fields: std::collections::BTreeMap<String, String> = form.errors.drain().collect();
    let said: Vec<String> = general.into_iter().chain(fields.into_values()).collect();
    (!said.is_empty()).then(|| said.join(" "))
}

/// The form a refusal is shown beside: whichever accident's declaration,
/// whichever party's answer and which of its two, else the action's own.
fn refusal_key(action: &str, fields: &Fields) -> String {
    match action {
        "declaration" => format!("declaration-{}", fields.get("accident")),
        "reponse" => format!("reponse-{}-{}", fields.get("by"), fields.get("choix")),
        _ => action.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{instant, keep_unshown, moment};

    /// What the form does not show stays with its party, not with another
    /// typed in its place, and goes nowhere the form sent nothing.
    #[test]
    fn a_change_keeps_what_the_form_hides_for_the_same_party_only() {
        let current = json!({
            "safety": "Gants",
            "prescriber": { "name": "Mission locale", "siret": "13002526500013",
                "signatory": { "name": "Camille Durand", "email": "camille@ml.fr", "phone": null } },
            "host": { "signatory": { "name": "Jean Martin", "phone": "+33240000000" },
                "tutor": { "name": "Lucie Bernard", "phone": "+33601020304" } },
            "person": { "legalRepresentative": { "name": "Fatou Diallo", "jobTitle": "Mère" } },
        });
        let mut sent = json!({
            "prescriber": { "name": "Mission locale", "signatory": { "name": "Camille Durand" } },
            "host": { "signatory": { "name": "Jean Martin" }, "tutor": { "name": "Marc Petit" } },
            "person": { "legalRepresentative": null },
        });
        keep_unshown(&mut sent, &current);
        assert_eq!(
            sent,
            json!({
                "safety": "Gants",
                "prescriber": { "name": "Mission locale", "siret": "13002526500013",
                    "signatory": { "name": "Camille Durand", "email": "camille@ml.fr" } },
                "host": { "signatory": { "name": "Jean Martin", "phone": "+33240000000" },
                    "tutor": { "name": "Marc Petit" } },
                "person": { "legalRepresentative": null },
            })
        );
    }

    #[test]
    fn times_are_typed_and_shown_at_paris_time() {
        // Summer (UTC+2) and winter (UTC+1).
        assert_eq!(instant("2026-05-04T09:30"), "2026-05-04T09:30:00+02:00");
        assert_eq!(instant("2026-12-04T09:30"), "2026-12-04T09:30:00+01:00");
        assert_eq!(instant("2026-12-05T10:00:00"), "2026-12-05T10:00:00+01:00");
        assert_eq!(instant("pas une date"), "pas une date");
        assert_eq!(moment("2026-05-04T07:30:00Z"), "4 mai 2026 à 9 h 30");
        assert_eq!(moment("2026-12-04T08:30:00Z"), "4 décembre 2026 à 9 h 30");
    }
}
