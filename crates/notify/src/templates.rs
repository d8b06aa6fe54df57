//! The mails, in French: each template says what happened and what to do,
//! in a shared layout rendered both as text and as HTML.

use serde::{Deserialize, Serialize};
use time::Date;

use passerelle_domain::fr;
use passerelle_domain::immersion::Milestone;

/// Which mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(
    feature = "graphql",
    derive(async_graphql::Enum),
    graphql(name = "MailTemplate")
)]
pub enum Template {
    /// A link to open one's space, asked for by its recipient.
    MagicLink,
    /// An employer described a need on the portal (to the referent mediator).
    NeedFromPortal,
    /// An immersion is proposed (to the employer).
    ProposalToEmployer,
    /// An immersion is proposed (to the person).
    ProposalToPerson,
    /// A convention awaits this signatory's signature.
    SignatureRequest,
    /// Every signature given and the convention validated (to the parties).
    ConventionValidated,
    /// A signature still missing 2 business days before the start.
    SignatureReminder,
    /// The first day, to the tutor.
    StartDay,
    /// The last day: the tutor's assessment is due.
    AssessmentRequest,
    /// The assessment still missing at D+3 or D+10 business days.
    AssessmentReminder,
    /// The last day: the person's own feedback.
    FeedbackRequest,
    /// A follow-up at 1, 3 or 6 months is due (to the mediator).
    FollowUpRequest,
    /// A mediator's inbox, weekly.
    WeeklyDigest,
    /// The employer has not answered a proposal for 7 days (to the mediator).
    ProposalUnanswered,
    /// A structure added a contact to the establishment (to its other
    /// contacts): someone else may now act for it.
    EmployerContactAdded,
    /// A person's path has had no fact for the retention period: their
    /// data is erased after the grace period unless their retention is
    /// extended (to the referent).
    RetentionWarning,
    /// A manager created the recipient's staff account: a link to choose
    /// their password.
    StaffInvitation,
    /// A staff member forgot their password: a link to choose another,
    /// asked for by them.
    PasswordReset,
}

impl Template {
    pub const ALL: [Template; 18] = [
        Template::MagicLink,
        Template::NeedFromPortal,
        Template::ProposalToEmployer,
        Template::ProposalToPerson,
        Template::SignatureRequest,
        Template::ConventionValidated,
        Template::SignatureReminder,
        Template::StartDay,
        Template::AssessmentRequest,
        Template::AssessmentReminder,
        Template::FeedbackRequest,
        Template::FollowUpRequest,
        Template::WeeklyDigest,
        Template::ProposalUnanswered,
        Template::EmployerContactAdded,
        Template::RetentionWarning,
        Template::StaffInvitation,
        Template::PasswordReset,
    ];

    /// The name stored in the outbox.
    pub fn name(self) -> &'static str {
        match self {
            Template::MagicLink => "magic_link",
            Template::NeedFromPortal => "need_from_portal",
            Template::ProposalToEmployer => "proposal_to_employer",
            Template::ProposalToPerson => "proposal_to_person",
            Template::SignatureRequest => "signature_request",
            Template::ConventionValidated => "convention_validated",
            Template::SignatureReminder => "signature_reminder",
            Template::StartDay => "start_day",
            Template::AssessmentRequest => "assessment_request",
            Template::AssessmentReminder => "assessment_reminder",
            Template::FeedbackRequest => "feedback_request",
            Template::FollowUpRequest => "follow_up_request",
            Template::WeeklyDigest => "weekly_digest",
            Template::ProposalUnanswered => "proposal_unanswered",
            Template::EmployerContactAdded => "employer_contact_added",
            Template::RetentionWarning => "retention_warning",
            Template::StaffInvitation => "staff_invitation",
            Template::PasswordReset => "password_reset",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.name() == name)
    }

    /// Mails a recipient cannot turn off: asked for (a link, a reset), an
    /// account's invitation, needed for the
    /// convention to be lawful (every party signs it and receives it), or
    /// telling that someone else may now act for the recipient's
    /// establishment, or that a person's data is about to be erased (a
    /// notice that could be turned off would not warn).
    pub fn essential(self) -> bool {
        matches!(
            self,
            Template::MagicLink
                | Template::SignatureRequest
                | Template::SignatureReminder
                | Template::ConventionValidated
                | Template::EmployerContactAdded
                | Template::RetentionWarning
                | Template::StaffInvitation
                | Template::PasswordReset
        )
    }

    /// What the mail is, for the delivery list.
    pub fn label(self) -> &'static str {
        match self {
            Template::MagicLink => "Lien de connexion",
            Template::NeedFromPortal => "Nouveau besoin déposé sur le portail",
            Template::ProposalToEmployer => "Proposition d'immersion (employeur)",
            Template::ProposalToPerson => "Proposition d'immersion (personne)",
            Template::SignatureRequest => "Demande de signature",
            Template::ConventionValidated => "Convention validée",
            Template::SignatureReminder => "Rappel de signature",
            Template::StartDay => "Premier jour (tuteur)",
            Template::AssessmentRequest => "Demande de bilan",
            Template::AssessmentReminder => "Relance du bilan",
            Template::FeedbackRequest => "Demande de retour (personne)",
            Template::FollowUpRequest => "Suivi à faire",
            Template::WeeklyDigest => "Récapitulatif de la semaine",
            Template::ProposalUnanswered => "Proposition sans réponse",
            Template::EmployerContactAdded => "Nouveau contact de l'établissement",
            Template::RetentionWarning => "Dossier inactif bientôt effacé",
            Template::StaffInvitation => "Invitation (compte du personnel)",
            Template::PasswordReset => "Réinitialisation du mot de passe",
        }
    }
}

/// What a mail says, gathered when it is sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    /// How to greet the recipient (a first name, an establishment).
    pub recipient_name: Option<String>,
    pub employer_name: Option<String>,
    /// The person's first name, for mails to others about them.
    pub person_name: Option<String>,
    pub period: Option<(Date, Date)>,
    /// Where to act: a magic link, or a page of the service.
    pub link: Option<String>,
    /// D+3 or D+10, for an assessment reminder.
    pub stage: Option<i64>,
    /// The follow-up due (1, 3 or 6 months after the immersion).
    pub milestone: Option<Milestone>,
    /// A digest's tasks: title, then when due.
    pub tasks: Vec<(String, Option<Date>)>,
    /// The day a scheduled step falls due (a retention's erasure).
    pub due_on: Option<Date>,
    /// The link to turn off optional mails (absent on essential ones).
    pub preferences_link: Option<String>,
    /// A proposal's mediator wrote a word with it, read in one's space.
    pub with_message: bool,
}

/// A mail rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// The body before layout: paragraphs, an optional list and one action.
struct Body {
    subject: String,
    paragraphs: Vec<String>,
    list: Vec<String>,
    action: Option<&'static str>,
}

pub fn render(template: Template, facts: &Facts) -> Rendered {
    let body = body(template, facts);
    layout(&body, facts)
}

fn or<'a>(value: &'a Option<String>, fallback: &'a str) -> &'a str {
    value.as_deref().unwrap_or(fallback)
}

fn period(facts: &Facts) -> String {
    match facts.period {
        Some((start, end)) => fr::range(start, end),
        None => "aux dates à convenir".to_owned(),
    }
}

/// The sentence saying a proposal came with its mediator's word, when it
/// did: where to read it, not the word itself, which a mail would carry
/// out of the service.
fn word_joined(f: &Facts, who: &str) -> Option<String> {
    f.with_message.then(|| {
        format!("{who} a joint un mot à cette proposition : vous le lirez dans votre espace.")
    })
}

fn body(template: Template, f: &Facts) -> Body {
    let employer = or(&f.employer_name, "l'entreprise");
    let person = or(&f.person_name, "la personne accompagnée");
    let when = period(f);
    match template {
        Template::MagicLink => Body {
            subject: "Votre lien de connexion à Passerelle".into(),
            paragraphs: vec![
                "Vous avez demandé à accéder à votre espace Passerelle.".into(),
                "Ce lien ne sert qu'une fois et expire bientôt. Si vous n'êtes pas à l'origine de cette demande, ignorez ce message.".into(),
            ],
            list: vec![],
            action: Some("Ouvrir mon espace"),
        },
        Template::StaffInvitation => Body {
            subject: "Votre compte Passerelle est prêt".into(),
            paragraphs: vec![
                "Un responsable de votre structure vous a créé un compte sur Passerelle, l'outil de médiation active vers l'emploi.".into(),
                "Choisissez votre mot de passe avec le lien ci-dessous : il ne sert qu'une fois et reste valable 7 jours. Passé ce délai, utilisez « Mot de passe oublié » sur la page de connexion.".into(),
            ],
            list: vec![],
            action: Some("Choisir mon mot de passe"),
        },
        Template::PasswordReset => Body {
            subject: "Réinitialisation de votre mot de passe Passerelle".into(),
            paragraphs: vec![
                "Vous avez demandé à choisir un nouveau mot de passe pour votre compte Passerelle.".into(),
                "Ce lien ne sert qu'une fois et reste valable une heure. Si vous n'êtes pas à l'origine de cette demande, ignorez ce message : votre mot de passe ne change pas.".into(),
            ],
            list: vec![],
            action: Some("Choisir un nouveau mot de passe"),
        },
        Template::NeedFromPortal => Body {
            subject: format!("Nouveau besoin déposé par {employer}"),
            paragraphs: vec![
                format!("{employer} a décrit un besoin sur le portail employeur."),
                "Prenez contact pour le qualifier : l'employeur attend une réponse.".into(),
            ],
            list: vec![],
            action: Some("Voir le besoin"),
        },
        Template::ProposalToEmployer => Body {
            subject: format!("Une immersion vous est proposée, {employer}"),
            paragraphs: [
                "Un médiateur vous propose d'accueillir une personne en immersion professionnelle (PMSMP), pour lui faire découvrir votre métier.".into(),
            ]
            .into_iter()
            .chain(word_joined(f, "Le médiateur"))
            .chain(["Vous pouvez accepter ou décliner la proposition depuis votre espace.".into()])
            .collect(),
            list: vec![],
            action: Some("Répondre à la proposition"),
        },
        Template::ProposalToPerson => Body {
            subject: format!("Une immersion chez {employer} vous est proposée"),
            paragraphs: [
                format!("Votre médiateur vous propose une immersion chez {employer}, pour découvrir le métier sur place."),
            ]
            .into_iter()
            .chain(word_joined(f, "Votre médiateur"))
            .chain(["Dites-nous si elle vous intéresse : vous pouvez accepter ou refuser depuis votre espace.".into()])
            .collect(),
            list: vec![],
            action: Some("Voir la proposition"),
        },
        Template::SignatureRequest => Body {
            subject: format!("Convention d'immersion à signer ({employer})"),
            paragraphs: vec![
                format!("La convention d'immersion de {person} chez {employer}, {when}, attend votre signature."),
                "Relisez-la et signez-la en ligne ; sans toutes les signatures, l'immersion ne peut pas commencer.".into(),
            ],
            list: vec![],
            action: Some("Lire et signer la convention"),
        },
        Template::ConventionValidated => Body {
            subject: format!("Convention validée : immersion chez {employer}"),
            paragraphs: vec![
                format!("La convention d'immersion de {person} chez {employer} est signée par tous et validée."),
                format!("L'immersion a lieu {when}."),
            ],
            list: vec![],
            action: Some("Voir la convention"),
        },
        Template::SignatureReminder => Body {
            subject: format!("Rappel : convention à signer avant le début de l'immersion ({employer})"),
            paragraphs: vec![
                format!("L'immersion de {person} chez {employer} commence bientôt ({when}), et votre signature manque encore."),
                "Sans elle, l'immersion ne peut pas commencer.".into(),
            ],
            list: vec![],
            action: Some("Signer la convention"),
        },
        Template::StartDay => Body {
            subject: format!("{person} commence son immersion aujourd'hui"),
            paragraphs: vec![
                format!("{person} commence aujourd'hui son immersion chez {employer} ({when}), avec vous pour tuteur."),
                "En cas d'accident, prévenez le médiateur dans les 24 heures. Merci pour votre accueil !".into(),
            ],
            list: vec![],
            action: None,
        },
        Template::AssessmentRequest => Body {
            subject: format!("Bilan de l'immersion de {person} à remplir"),
            paragraphs: vec![
                format!("L'immersion de {person} chez {employer} se termine ({when})."),
                "Votre bilan (quelques critères et vos mots) aide la personne à ajuster son projet. Il prend quelques minutes.".into(),
            ],
            list: vec![],
            action: Some("Remplir le bilan"),
        },
        Template::AssessmentReminder => Body {
            subject: format!("Relance : bilan de l'immersion de {person}"),
            paragraphs: vec![
                format!(
                    "Le bilan de l'immersion de {person} chez {employer} ({when}) n'est pas encore rempli, {} jours ouvrés après la fin.",
                    f.stage.unwrap_or(3)
                ),
                "Si vous l'avez déjà transmis autrement, le médiateur l'indiquera et ces relances s'arrêteront.".into(),
            ],
            list: vec![],
            action: Some("Remplir le bilan"),
        },
        Template::FeedbackRequest => Body {
            subject: format!("Comment s'est passée votre immersion chez {employer} ?"),
            paragraphs: vec![
                format!("Votre immersion chez {employer} se termine ({when})."),
                "Racontez avec vos mots ce que vous avez aimé, moins aimé, et ce que vous voulez faire ensuite.".into(),
            ],
            list: vec![],
            action: Some("Donner mon retour"),
        },
        Template::FollowUpRequest => Body {
            subject: format!(
                "Suivi {} de l'immersion de {person}",
                f.milestone.map_or("à quelques mois", Milestone::label)
            ),
            paragraphs: vec![
                format!(
                    "L'immersion de {person} chez {employer} s'est terminée il y a {}.",
                    match f.milestone.map(Milestone::months) {
                        Some(months @ 1..) => format!("{months} mois"),
                        _ => "quelques mois".to_owned(),
                    }
                ),
                "Prenez des nouvelles et enregistrez sa situation (emploi, formation, nouvelle immersion…).".into(),
            ],
            list: vec![],
            action: Some("Enregistrer le suivi"),
        },
        Template::WeeklyDigest => Body {
            subject: match f.tasks.len() {
                1 => "Votre tâche de la semaine".to_owned(),
                n => format!("Vos {n} tâches de la semaine"),
            },
            paragraphs: vec!["Voici ce qui vous attend dans Passerelle cette semaine :".into()],
            list: f
                .tasks
                .iter()
                .map(|(title, due)| match due {
                    Some(due) => format!("{title} (pour le {})", fr::date(*due)),
                    None => title.clone(),
                })
                .collect(),
            action: Some("Ouvrir ma boîte de tâches"),
        },
        Template::ProposalUnanswered => Body {
            subject: format!("{employer} n'a pas répondu à une proposition depuis 7 jours"),
            paragraphs: vec![
                format!("{employer} n'a toujours pas répondu à l'immersion proposée pour {person}."),
                "Un appel ou une visite débloque souvent la situation.".into(),
            ],
            list: vec![],
            action: Some("Voir l'immersion"),
        },
        Template::EmployerContactAdded => Body {
            subject: format!("Un nouveau contact a été ajouté pour {employer}"),
            paragraphs: vec![
                format!("Une structure d'accompagnement vient d'ajouter un contact pour {employer} sur Passerelle. Cette personne pourra recevoir les propositions d'immersion de cette structure et y répondre au nom de l'établissement."),
                "Si vous ne connaissez pas cette personne ou si cet ajout vous surprend, prévenez le médiateur qui vous suit : il peut retirer ce contact.".into(),
                "Votre propre accès ne change pas.".into(),
            ],
            list: vec![],
            action: Some("Ouvrir mon espace"),
        },
        // No name in the subject nor the body: the link opens the file.
        Template::RetentionWarning => Body {
            subject: match f.due_on {
                Some(on) => format!("Dossier inactif : effacement prévu le {}", fr::date(on)),
                None => "Dossier inactif : effacement prévu".into(),
            },
            paragraphs: vec![
                "Aucune démarche n'a été enregistrée depuis longtemps dans le parcours d'une personne que vous suivez : la durée de conservation de ses données est atteinte.".into(),
                match f.due_on {
                    Some(on) => format!("Ses données personnelles seront effacées le {}. Les chiffres anonymes (tranche d'âge, immersions, résultats) sont conservés.", fr::date(on)),
                    None => "Ses données personnelles seront bientôt effacées. Les chiffres anonymes (tranche d'âge, immersions, résultats) sont conservés.".into(),
                },
                "Si l'accompagnement continue, ouvrez son dossier et prolongez la conservation en indiquant le motif.".into(),
            ],
            list: vec![],
            action: Some("Ouvrir le dossier"),
        },
    }
}

/// Escapes text for HTML.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

fn layout(body: &Body, facts: &Facts) -> Rendered {
    let greeting = match &facts.recipient_name {
        Some(name) => format!("Bonjour {name},"),
        None => "Bonjour,".to_owned(),
    };
    let mut text = format!("{greeting}\n\n");
    let mut html = format!(
        "<!doctype html><html lang=\"fr\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\"><title>{}</title></head>\
         <body style=\"font-family:sans-serif;color:#1e1e1e;max-width:36em;margin:auto;padding:1em\">\
         <p>{}</p>",
        escape(&body.subject),
        escape(&greeting)
    );
    for p in &body.paragraphs {
        text.push_str(p);
        text.push_str("\n\n");
        html.push_str(&format!("<p>{}</p>", escape(p)));
    }
    if !body.list.is_empty() {
        html.push_str("<ul>");
        for item in &body.list {
            text.push_str(&format!("- {item}\n"));
            html.push_str(&format!("<li>{}</li>", escape(item)));
        }
        html.push_str("</ul>");
        text.push('\n');
    }
    if let (Some(label), Some(link)) = (body.action, &facts.link) {
        text.push_str(&format!("{label} : {link}\n\n"));
        html.push_str(&format!(
            "<p><a href=\"{}\" style=\"display:inline-block;background:#000091;color:#fff;\
             padding:.75em 1.25em;text-decoration:none;border-radius:4px\">{}</a></p>",
            escape(link),
            escape(label)
        ));
    }
    text.push_str("-- \nPasserelle, médiation active vers l'emploi\n");
    html.push_str(
        "<hr><p style=\"font-size:.875em;color:#555\">Passerelle, médiation active vers l'emploi",
    );
    if let Some(link) = &facts.preferences_link {
        text.push_str(&format!(
            "Ne plus recevoir ces messages facultatifs : {link}\n"
        ));
        html.push_str(&format!(
            "<br><a href=\"{}\">Ne plus recevoir ces messages facultatifs</a>",
            escape(link)
        ));
    }
    html.push_str("</p></body></html>");
    Rendered {
        subject: body.subject.clone(),
        text,
        html,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn names_round_trip_and_essential_mails_are_the_legal_ones_and_the_access_notice() {
        for t in Template::ALL {
            assert_eq!(Template::parse(t.name()), Some(t));
        }
        let essential: Vec<_> = Template::ALL
            .into_iter()
            .filter(|t| t.essential())
            .collect();
        assert_eq!(
            essential,
            [
                Template::MagicLink,
                Template::SignatureRequest,
                Template::ConventionValidated,
                Template::SignatureReminder,
                Template::EmployerContactAdded,
                Template::RetentionWarning,
                Template::StaffInvitation,
                Template::PasswordReset
            ]
        );
    }

    #[test]
    fn the_retention_warning_names_no_one_and_says_when_and_where_to_act() {
        let facts = Facts {
            recipient_name: Some("Camille".into()),
            // Never gathered for this mail; not shown even if it were.
            person_name: Some("Maëlys".into()),
            due_on: Some(date!(2026 - 02 - 09)),
            link: Some("https://passerelle.example/people/0190".into()),
            ..Facts::default()
        };
        let mail = render(Template::RetentionWarning, &facts);
        assert_eq!(
            mail.subject,
            format!(
                "Dossier inactif : effacement prévu le {}",
                fr::date(date!(2026 - 02 - 09))
            )
        );
        assert!(!mail.subject.contains("Maëlys") && !mail.text.contains("Maëlys"));
        assert!(mail.text.contains("prolongez la conservation"));
        assert!(
            mail.text
                .contains("Ouvrir le dossier : https://passerelle.example/people/0190"),
            "{}",
            mail.text
        );
    }

    #[test]
    fn a_proposal_with_the_mediators_word_says_where_to_read_it_never_what_it_says() {
        let facts = Facts {
            employer_name: Some("Boulangerie du Port".into()),
            with_message: true,
            ..Facts::default()
        };
        for (template, who) in [
            (Template::ProposalToPerson, "Votre médiateur a joint un mot"),
            (Template::ProposalToEmployer, "Le médiateur a joint un mot"),
        ] {
            let mail = render(template, &facts);
            assert!(mail.text.contains(who), "{}", mail.text);
            assert!(mail.text.contains("vous le lirez dans votre espace"));
            let without = render(
                template,
                &Facts {
                    with_message: false,
                    ..facts.clone()
                },
            );
            assert!(!without.text.contains("a joint un mot"), "{}", without.text);
        }
    }

    #[test]
    fn the_access_notice_names_the_establishment_and_whom_to_warn() {
        let facts = Facts {
            recipient_name: Some("Boulangerie du Port".into()),
            employer_name: Some("Boulangerie du Port".into()),
            link: Some("https://passerelle.example/acces/abc".into()),
            ..Facts::default()
        };
        let mail = render(Template::EmployerContactAdded, &facts);
        assert_eq!(
            mail.subject,
            "Un nouveau contact a été ajouté pour Boulangerie du Port"
        );
        assert!(mail.text.starts_with("Bonjour Boulangerie du Port,"));
        assert!(mail.text.contains("prévenez le médiateur qui vous suit"));
        assert!(
            mail.text
                .contains("Ouvrir mon espace : https://passerelle.example/acces/abc")
        );
    }

    #[test]
    fn html_escapes_what_it_is_given_and_text_keeps_it() {
        let facts = Facts {
            employer_name: Some("<b>Dupont & fils</b>".into()),
            person_name: Some("Léa".into()),
            period: Some((date!(2026 - 05 - 04), date!(2026 - 05 - 08))),
            link: Some("https://passerelle.example/acces/abc".into()),
            preferences_link: Some("https://passerelle.example/preferences/x".into()),
            ..Facts::default()
        };
        let mail = render(Template::AssessmentRequest, &facts);
        assert!(mail.html.contains("&lt;b&gt;Dupont &amp; fils&lt;/b&gt;"));
        assert!(!mail.html.contains("<b>Dupont"));
        assert!(mail.text.contains("<b>Dupont & fils</b>"));
        assert!(mail.text.contains("du 4 au 8 mai 2026"), "{}", mail.text);
        assert!(
            mail.text
                .contains("Remplir le bilan : https://passerelle.example/acces/abc")
        );
        assert!(mail.html.contains("Ne plus recevoir"));
    }
}
