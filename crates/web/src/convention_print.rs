//! The PMSMP convention as it is printed, on paper or to a PDF, from the
//! browser: every mention the convention must carry (D5135-2), the uses an
//! immersion may not serve, what to do after an accident, and a signature
//! block for each party that signs, those already signed saying how and
//! when. Readable by whoever the API lets read the convention: the staff
//! who reach the immersion, its host, the person accompanied. A party whose
//! signature the convention awaits reads it here whole before signing, and
//! signs online from its foot.

use std::collections::BTreeSet;

use askama::Template;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use passerelle_domain::fr::{self, Labelled};
use passerelle_domain::immersion::{Objective, Signatory, SignatureMethodKind, SituationKind};

use crate::answer::{Code, Day, commune_name, hours, read_or_return};
use crate::page::{Nav, Page, message};

const CONVENTION: &str = "query($i: ID!) { immersion(id: $i) { awaitedSignatories
    viewerMay { signOnlineAs } convention {
    objective goals tasks evaluation safety schedule weeklyHours forbiddenUsesExcluded
    period { start end days }
    place { address commune }
    prescriber { name siret signatory { name jobTitle } }
    supportStructure { name siret signatory { name jobTitle } }
    person {
        identity { firstName lastName birthDate address email phone }
        legalRepresentative { name jobTitle }
        situation { kind description currentEmployer { name siret signatory { name jobTitle } } }
    }
    host { name siret activity collectiveAgreement signatory { name jobTitle }
        tutor { name jobTitle email phone } }
    signatures { signatory method paperSignedOn signedAt }
    renewal { period { start end days } schedule weeklyHours objective goals whyGoalsNotReached
        signatures { signatory method paperSignedOn signedAt } }
} } }";

#[derive(Deserialize)]
struct Answer {
    immersion: Option<Immersion>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Immersion {
    awaited_signatories: Vec<Code<Signatory>>,
    viewer_may: ViewerMay,
    convention: Option<Convention>,
}

/// As whom the viewer signs online, as the policy allows it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ViewerMay {
    sign_online_as: Vec<Code<Signatory>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Convention {
    objective: Code<Objective>,
    goals: String,
    tasks: String,
    evaluation: String,
    safety: Option<String>,
    schedule: String,
    weekly_hours: f64,
    forbidden_uses_excluded: bool,
    period: Period,
    place: Place,
    prescriber: Organisation,
    support_structure: Option<Organisation>,
    person: Person,
    host: Host,
    signatures: Vec<Signature>,
    renewal: Option<Renewal>,
}

/// The renewal's terms, which its parties sign in turn.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Renewal {
    period: Period,
    schedule: String,
    weekly_hours: f64,
    objective: Code<Objective>,
    goals: String,
    why_goals_not_reached: String,
    signatures: Vec<Signature>,
}

#[derive(Deserialize)]
struct Period {
    start: Day,
    end: Day,
    days: i64,
}

#[derive(Deserialize)]
struct Place {
    address: String,
    commune: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Signer {
    name: String,
    job_title: Option<String>,
}

impl Signer {
    /// "Jean Martin, gérant".
    fn described(&self) -> String {
        match &self.job_title {
            Some(title) => format!("{}, {title}", self.name),
            None => self.name.clone(),
        }
    }
}

#[derive(Deserialize)]
struct Organisation {
    name: String,
    siret: Option<String>,
    signatory: Signer,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Person {
    identity: Option<Identity>,
    legal_representative: Option<Signer>,
    situation: Situation,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Identity {
    first_name: String,
    last_name: String,
    birth_date: Day,
    address: String,
    email: Option<String>,
    phone: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Situation {
    kind: Code<SituationKind>,
    description: Option<String>,
    current_employer: Option<Organisation>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Host {
    name: String,
    siret: String,
    activity: String,
    collective_agreement: String,
    signatory: Signer,
    tutor: Option<Tutor>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Tutor {
    name: String,
    job_title: String,
    email: Option<String>,
    phone: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Signature {
    signatory: Code<Signatory>,
    method: Code<SignatureMethodKind>,
    paper_signed_on: Option<Day>,
    signed_at: Day,
}

/// A party of the convention as the page lists it: a heading and its
/// mentions, each a label and a value.
struct Party {
    title: &'static str,
    lines: Vec<(&'static str, String)>,
}

/// The renewal as the page shows it, with its own signature blocks.
struct RenewalShown {
    period: String,
    hours: String,
    schedule: String,
    objective: &'static str,
    goals: String,
    why: String,
    blocks: Vec<Block>,
}

/// One signature block: for whom, who signs, and how and when when given.
struct Block {
    role: &'static str,
    signer: String,
    given: Option<String>,
}

#[derive(Template)]
#[template(path = "convention_print.html")]
struct PrintTemplate {
    nav: Nav,
    id: String,
    parties: Vec<Party>,
    period: String,
    hours: String,
    schedule: String,
    place: String,
    objective: &'static str,
    goals: String,
    tasks: String,
    evaluation: String,
    safety: Option<String>,
    attested: bool,
    blocks: Vec<Block>,
    renewal: Option<RenewalShown>,
    /// The viewer's own signature the convention awaits (`PERSON`,
    /// `HOST`), to give online at the page's foot.
    sign: Option<String>,
}

/// "du 4 au 8 mai 2026 (5 jours)".
fn period(p: &Period) -> String {
    format!("{} ({})", fr::range(p.start.0, p.end.0), fr::days(p.days))
}

fn organisation(title: &'static str, o: &Organisation) -> Party {
    let mut lines = vec![("Dénomination", o.name.clone())];
    if let Some(siret) = &o.siret {
        lines.push(("SIRET", siret.clone()));
    }
    lines.push(("Signataire", o.signatory.described()));
    Party { title, lines }
}

fn not_found() -> Response {
    message(
        StatusCode::NOT_FOUND,
        "Introuvable",
        "Cette convention n'existe pas ou ne vous est pas accessible.",
    )
}

pub(crate) async fn page(page: Page, Path(id): Path<String>) -> Response {
    if page.viewer.user.is_none() && page.viewer.principal.is_none() {
        return page.sign_in_first();
    }
    let out = page.run(CONVENTION, json!({ "i": id })).await;
    let answer: Answer = read_or_return!(out);
    let Some(immersion) = answer.immersion else {
        return not_found();
    };
    let Some(c) = immersion.convention else {
        return not_found();
    };
    // The party who views signs for itself online, as the policy allows
    // it (the person as the person while her accompaniment runs, an
    // employer's contact as the host); staff sign from the immersion's
    // page.
    let sign = page
        .viewer
        .principal
        .and_then(|_| {
            immersion
                .awaited_signatories
                .iter()
                .find(|s| immersion.viewer_may.sign_online_as.contains(s))
        })
        .map(|s| s.name());

    let mut parties = vec![organisation("Le prescripteur", &c.prescriber)];
    if let Some(support) = &c.support_structure {
        parties.push(organisation("La structure d'accompagnement", support));
    }
    let mut person = match &c.person.identity {
        Some(i) => {
            let mut lines = vec![
                ("Nom", i.last_name.clone()),
                ("Prénom", i.first_name.clone()),
                ("Date de naissance", i.birth_date.french()),
                ("Adresse", i.address.clone()),
            ];
            if let Some(email) = &i.email {
                lines.push(("Courriel", email.clone()));
            }
            if let Some(phone) = &i.phone {
                lines.push(("Téléphone", crate::answer::phone(phone)));
            }
            lines
        }
        None => vec![("Identité", "(effacée)".to_owned())],
    };
    let situation = &c.person.situation;
    person.push((
        "Situation",
        match &situation.description {
            Some(words) => format!("{} : {words}", situation.kind.french()),
            None => situation.kind.french().to_owned(),
        },
    ));
    parties.push(Party {
        title: "La personne en immersion",
        lines: person,
    });
    if let Some(representative) = &c.person.legal_representative {
        parties.push(Party {
            title: "Son représentant légal",
            lines: vec![("Nom", representative.described())],
        });
    }
    if let Some(employer) = &situation.current_employer {
        parties.push(organisation("Son employeur actuel", employer));
    }
    let mut host = vec![
        ("Dénomination", c.host.name.clone()),
        ("SIRET", c.host.siret.clone()),
        ("Activité", c.host.activity.clone()),
        ("Convention collective", c.host.collective_agreement.clone()),
        ("Signataire", c.host.signatory.described()),
    ];
    match &c.host.tutor {
        Some(t) => {
            host.push(("Tuteur ou tutrice", format!("{}, {}", t.name, t.job_title)));
            if let Some(email) = &t.email {
                host.push(("Courriel du tuteur", email.clone()));
            }
            if let Some(phone) = &t.phone {
                host.push(("Téléphone du tuteur", crate::answer::phone(phone)));
            }
        }
        None => host.push(("Tuteur ou tutrice", "(effacé)".to_owned())),
    }
    parties.push(Party {
        title: "La structure d'accueil",
        lines: host,
    });

    // Who signs (L5135-4): the three parties always, the others when the
    // convention names them; any signature already given shows too.
    let mut signatories =
        BTreeSet::from([Signatory::Person, Signatory::Host, Signatory::Prescriber]);
    if c.support_structure.is_some() {
        signatories.insert(Signatory::SupportStructure);
    }
    if situation.current_employer.is_some() || situation.kind.0 == SituationKind::Employed {
        signatories.insert(Signatory::CurrentEmployer);
    }
    if c.person.legal_representative.is_some() {
        signatories.insert(Signatory::LegalRepresentative);
    }
    signatories.extend(c.signatures.iter().map(|s| s.signatory.0));
    let person_name = c.person.identity.as_ref().map_or_else(
        || "(effacé)".to_owned(),
        |i| format!("{} {}", i.first_name, i.last_name),
    );
    let blocks_of = |given: &[Signature]| -> Vec<Block> {
        Signatory::ALL
            .iter()
            .filter(|s| signatories.contains(s))
            .map(|&s| {
                let signer = match s {
                    Signatory::Person => person_name.clone(),
                    Signatory::LegalRepresentative => c
                        .person
                        .legal_representative
                        .as_ref()
                        .map(Signer::described)
                        .unwrap_or_default(),
                    Signatory::Host => {
                        format!("{} pour {}", c.host.signatory.described(), c.host.name)
                    }
                    Signatory::Prescriber => format!(
                        "{} pour {}",
                        c.prescriber.signatory.described(),
                        c.prescriber.name
                    ),
                    Signatory::SupportStructure => c
                        .support_structure
                        .as_ref()
                        .map(|o| format!("{} pour {}", o.signatory.described(), o.name))
                        .unwrap_or_default(),
                    Signatory::CurrentEmployer => situation
                        .current_employer
                        .as_ref()
                        .map(|o| format!("{} pour {}", o.signatory.described(), o.name))
                        .unwrap_or_default(),
                };
                let given = given.iter().find(|g| g.signatory.0 == s).map(|g| {
                    let on = g.paper_signed_on.unwrap_or(g.signed_at);
                    format!("{} le {}", g.method.french(), on.french())
                });
                Block {
                    role: s.french(),
                    signer,
                    given,
                }
            })
            .collect()
    };
    let blocks = blocks_of(&c.signatures);
    let renewal = c.renewal.as_ref().map(|r| RenewalShown {
        period: period(&r.period),
        hours: hours(r.weekly_hours),
        schedule: r.schedule.clone(),
        objective: r.objective.french(),
        goals: r.goals.clone(),
        why: r.why_goals_not_reached.clone(),
        blocks: blocks_of(&r.signatures),
    });

    let body = PrintTemplate {
        nav: page.nav(None),
        id,
        parties,
        period: period(&c.period),
        hours: hours(c.weekly_hours),
        schedule: c.schedule,
        place: format!("{}, {}", c.place.address, commune_name(&c.place.commune)),
        objective: c.objective.french(),
        goals: c.goals,
        tasks: c.tasks,
        evaluation: c.evaluation,
        safety: c.safety,
        attested: c.forbidden_uses_excluded,
        blocks,
        renewal,
        sign,
    }
    .render();
    page.render(StatusCode::OK, body)
}
