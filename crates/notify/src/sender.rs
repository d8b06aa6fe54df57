//! Sends what the outbox holds: resolves each recipient to an address when
//! the mail goes (so erasure and opt-outs apply to mail already queued),
//! renders it, hands it to the mailer and records the outcome. A mail is
//! marked sent only once the server accepted it; a refusal or a dropped
//! connection queues it again with backoff, never losing it.

use std::sync::Arc;

use passerelle_accounts::staff::{self, TokenPurpose};
use passerelle_accounts::{Principal, StaffRole};
use passerelle_app::Clock;
use passerelle_domain::fr::Labelled;
use passerelle_domain::immersion::Milestone;
use passerelle_domain::values::{EmployerId, ImmersionId, PersonId, StructureId, UserId};
use passerelle_projections::inbox;
use passerelle_projections::views::{employers, immersions, people};
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use time::Duration;
use tokio::sync::watch;
use uuid::Uuid;

use crate::mailer::{Mailer, Outgoing};
use crate::outbox::{self, Claimed, Recipient};
use crate::preferences;
use crate::projection;
use crate::templates::{self, Facts, Template};

/// How the sender behaves.
#[derive(Debug, Clone)]
pub struct SenderSettings {
    /// The service's public address, for links in mails.
    pub public_url: String,
    /// How long a magic link asked for stays usable.
    pub magic_link_ttl: Duration,
    /// How long the link in a notification (to sign, answer, assess) stays
    /// usable: its recipient may open it days later.
    pub action_link_ttl: Duration,
    /// How long a sender holds the mails it takes before another may take
    /// them: a dead sender's mails go again once it has passed. Raised to
    /// [`shortest_lease`] of the mailer's longest send if shorter.
    pub lease: Duration,
    /// Mails taken at once.
    pub batch: i64,
    /// Attempts before a mail is marked failed.
    pub max_attempts: i32,
    /// The first retry's delay, doubled at each attempt up to six hours.
    pub first_retry: Duration,
    /// How often to look for mail due.
    pub poll: std::time::Duration,
    /// The domain of message identifiers.
    pub message_domain: String,
}

impl Default for SenderSettings {
    fn default() -> Self {
        Self {
            public_url: "http://localhost:8080".into(),
            magic_link_ttl: Duration::minutes(30),
            action_link_ttl: Duration::days(7),
            lease: Duration::seconds(60),
            batch: 20,
            max_attempts: 10,
            first_retry: Duration::minutes(1),
            poll: std::time::Duration::from_secs(5),
            message_domain: "passerelle.localhost".into(),
        }
    }
}

/// Time for what goes with a send besides the hand-over itself: resolving the
/// recipient, rendering, recording the outcome.
const MARGIN: std::time::Duration = std::time::Duration::from_secs(10);

/// The shortest lease a sender can hold mails under when a send takes up to
/// `longest_send`: a mail's outcome must be recorded before its claim ends,
/// or another sender could take it while it goes.
pub fn shortest_lease(longest_send: std::time::Duration) -> std::time::Duration {
    longest_send + MARGIN
}

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SendReport {
    pub sent: usize,
    pub retried: usize,
    pub failed: usize,
    pub cancelled: usize,
}

#[derive(Debug, Clone)]
pub struct Sender {
    pool: PgPool,
    mailer: Mailer,
    clock: Arc<dyn Clock>,
    settings: SenderSettings,
}

/// Who a mail reaches, once resolved.
struct Target {
    addresses: Vec<String>,
    name: Option<String>,
    principal: Option<(Principal, Uuid)>,
}

enum Prepared {
    Mail(Box<Outgoing>),
    Cancel(String),
}

impl Sender {
    pub fn new(
        pool: PgPool,
        mailer: Mailer,
        clock: Arc<dyn Clock>,
        mut settings: SenderSettings,
    ) -> Self {
        let shortest =
            Duration::try_from(shortest_lease(mailer.longest_send())).unwrap_or(Duration::MAX);
        settings.lease = settings.lease.max(shortest);
        Self {
            pool,
            mailer,
            clock,
            settings,
        }
    }

    /// How long this sender holds the mails it takes.
    pub fn lease(&self) -> Duration {
        self.settings.lease
    }

    /// Sends every mail due now, batch after batch.
    pub async fn send_due(&self) -> Result<SendReport, sqlx::Error> {
        self.send_due_until(None).await
    }

    /// As [`Sender::send_due`], until `stop` turns true: the mail being sent
    /// then is finished, and the others of the claim are given back at once
    /// (another replica sends them without waiting for the claim to lapse).
    pub async fn send_due_until(
        &self,
        stop: Option<&watch::Receiver<bool>>,
    ) -> Result<SendReport, sqlx::Error> {
        let stopping = || stop.is_some_and(|s| *s.borrow());
        let mut report = SendReport::default();
        let lease = self.settings.lease.unsigned_abs();
        let one_mail = shortest_lease(self.mailer.longest_send());
        loop {
            let now = self.clock.now();
            let until = now + self.settings.lease;
            let taken = std::time::Instant::now();
            if stopping() {
                return Ok(report);
            }
            let claimed = outbox::claim(&self.pool, now, until, self.settings.batch).await?;
            if claimed.is_empty() {
                return Ok(report);
            }
            for (i, mail) in claimed.iter().enumerate() {
                if stopping() {
                    let rest: Vec<i64> = claimed[i..].iter().map(|m| m.id).collect();
                    outbox::release(&self.pool, &rest, until).await?;
                    tracing::info!(
                        released = rest.len(),
                        "mail sender stopping: claimed mails given back"
                    );
                    return Ok(report);
                }
                // A mail that might still be going when the claim ends is
                // given back (and taken again at once, under a new claim):
                // another sender could take it while it goes.
                if i > 0 && taken.elapsed() + one_mail > lease {
                    let rest: Vec<i64> = claimed[i..].iter().map(|m| m.id).collect();
                    outbox::release(&self.pool, &rest, until).await?;
                    break;
                }
                self.send_one(mail, &mut report).await?;
            }
        }
    }

    async fn send_one(&self, mail: &Claimed, report: &mut SendReport) -> Result<(), sqlx::Error> {
        let prepared = match self.prepare(mail).await {
            Ok(p) => p,
            Err(e) => {
                // The database failed us: the claim lapses and the mail goes later.
                tracing::warn!(mail = mail.id, "cannot prepare a mail: {e}");
                return Err(e);
            }
        };
        let outgoing = match prepared {
            Prepared::Mail(m) => m,
            Prepared::Cancel(why) => {
                outbox::mark_cancelled(&self.pool, mail.id, &why).await?;
                metrics::counter!("passerelle_mails_total", "outcome" => "cancelled").increment(1);
                report.cancelled += 1;
                return Ok(());
            }
        };
        match self.mailer.send(&outgoing).await {
            Ok(()) => {
                outbox::mark_sent(&self.pool, mail.id, &outgoing.message_id, self.clock.now())
                    .await?;
                metrics::counter!("passerelle_mails_total", "outcome" => "sent").increment(1);
                report.sent += 1;
            }
            Err(failure) => {
                let next = (mail.attempts < self.settings.max_attempts)
                    .then(|| self.clock.now() + self.backoff(mail.attempts));
                // The answer stays in the outbox for the staff: a server may
                // quote the address it refused.
                tracing::warn!(
                    mail = mail.id,
                    template = %mail.template,
                    structure = ?mail.structure_id,
                    attempts = mail.attempts,
                    failure = %failure.kind,
                    "mail not sent"
                );
                outbox::mark_not_sent(&self.pool, mail.id, &failure.answer, next).await?;
                if next.is_some() {
                    metrics::counter!("passerelle_mails_total", "outcome" => "retried")
                        .increment(1);
                    report.retried += 1;
                } else {
                    metrics::counter!("passerelle_mails_total", "outcome" => "failed").increment(1);
                    report.failed += 1;
                }
            }
        }
        Ok(())
    }

    fn backoff(&self, attempts: i32) -> Duration {
        let factor = 1i64 << (attempts.clamp(1, 16) - 1);
        (self.settings.first_retry * factor as i32).min(Duration::hours(6))
    }

    /// Polls for mail due until `shutdown`.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        loop {
            if let Err(e) = self.send_due_until(Some(&shutdown)).await {
                tracing::error!("mail sender: {e}");
            }
            match outbox::backlog(&self.pool).await {
                Ok((waiting, failed)) => {
                    metrics::gauge!("passerelle_mails_waiting").set(waiting as f64);
                    metrics::gauge!("passerelle_mails_failed").set(failed as f64);
                }
                Err(e) => tracing::warn!("mail backlog: {e}"),
            }
            tokio::select! {
                _ = tokio::time::sleep(self.settings.poll) => {}
                _ = shutdown.changed() => return,
            }
        }
    }

    fn message_id(&self, key: &str) -> String {
        let digest = Sha256::digest(key.as_bytes());
        let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
        format!("{hex}@{}", self.settings.message_domain)
    }

    async fn prepare(&self, mail: &Claimed) -> Result<Prepared, sqlx::Error> {
        let Some(template) = Template::parse(&mail.template) else {
            return Ok(Prepared::Cancel(format!(
                "modèle inconnu : {}",
                mail.template
            )));
        };
        let params = &mail.params.0;
        let now = self.clock.now();
        let immersion = match params.immersion_id {
            Some(id) => immersions::get(&self.pool, ImmersionId(id)).await?,
            None => None,
        };
        if let Some(why) = moot(template, &mail.recipient.0, immersion.as_ref()) {
            return Ok(Prepared::Cancel(why.to_owned()));
        }
        let Some(target) = self.target(&mail.recipient.0, mail.structure_id).await? else {
            return Ok(Prepared::Cancel("destinataire inconnu ou effacé".into()));
        };
        let mut addresses = Vec::new();
        for address in target.addresses {
            if template.essential() || !preferences::muted(&self.pool, &address).await? {
                addresses.push(address);
            }
        }
        if addresses.is_empty() {
            return Ok(Prepared::Cancel(
                "pas d'adresse, ou messages facultatifs désactivés par le destinataire".into(),
            ));
        }
        let employer_id = params
            .employer_id
            .or(immersion.as_ref().map(|i| i.employer_id));
        let employer_name = match employer_id {
            Some(id) => employers::get(&self.pool, EmployerId(id))
                .await?
                .map(|e| e.name),
            None => None,
        };
        let person_name = match &immersion {
            Some(i) => people::contact(&self.pool, PersonId(i.person_id))
                .await?
                .and_then(|c| c.first_name),
            None => None,
        };
        let mut facts = Facts {
            recipient_name: target.name,
            employer_name,
            person_name,
            period: immersion.as_ref().and_then(|i| {
                // A request to sign a renewal gives the renewal's dates.
                if matches!(
                    template,
                    Template::SignatureRequest | Template::SignatureReminder
                ) && i.renewal.as_deref() == Some("pending")
                {
                    Some((i.renewal_start?, i.renewal_end?))
                } else {
                    Some((i.period_start?, i.period_end?))
                }
            }),
            stage: params.stage,
            due_on: params.due_on,
            milestone: params
                .milestone
                .as_deref()
                .and_then(|m| Milestone::ALL.iter().copied().find(|x| x.code() == m)),
            with_message: params.with_message,
            ..Facts::default()
        };
        let base = self.settings.public_url.trim_end_matches('/');
        facts.link = match (&target.principal, template, &mail.recipient.0) {
            (_, Template::StartDay, _) => None,
            // A link to set a password, made as the mail goes (the outbox
            // holds no token): none once the account was deactivated.
            (
                _,
                Template::StaffInvitation | Template::PasswordReset,
                Recipient::Staff { user_id },
            ) => {
                let purpose = if template == Template::StaffInvitation {
                    TokenPurpose::Invitation
                } else {
                    TokenPurpose::Reset
                };
                let Some(token) =
                    staff::issue_password_token(&self.pool, UserId(*user_id), purpose, now)
                        .await
                        .map_err(crate::outbox::account_error)?
                else {
                    return Ok(Prepared::Cancel("compte désactivé".into()));
                };
                Some(format!("{base}/mot-de-passe/{}", token.0))
            }
            (Some((principal, structure)), _, _) => {
                let ttl = if template == Template::MagicLink {
                    self.settings.magic_link_ttl
                } else {
                    self.settings.action_link_ttl
                };
                let token = passerelle_accounts::issue_magic_link(
                    &self.pool,
                    *principal,
                    StructureId(*structure),
                    now,
                    ttl,
                )
                .await
                .map_err(crate::outbox::account_error)?;
                Some(format!("{base}/acces/{}", token.0))
            }
            (None, _, _) => Some(
                match (params.immersion_id, params.need_id, params.person_id) {
                    (Some(i), _, _) => format!("{base}/immersions/{i}"),
                    (None, Some(n), _) => format!("{base}/needs/{n}"),
                    (None, None, Some(p)) => format!("{base}/people/{p}"),
                    (None, None, None) => format!("{base}/"),
                },
            ),
        };
        if template == Template::WeeklyDigest {
            let Recipient::Staff { user_id } = mail.recipient.0 else {
                return Ok(Prepared::Cancel("récapitulatif hors personnel".into()));
            };
            let structure = mail.structure_id.unwrap_or_default();
            let facts_now = inbox::facts(&self.pool, user_id, structure).await?;
            let today = self.clock.today();
            facts.tasks = inbox::tasks(&facts_now, today, now)
                .iter()
                .map(|t| (t.title(), Some(t.due)))
                .collect();
            if facts.tasks.is_empty() {
                return Ok(Prepared::Cancel("plus aucune tâche".into()));
            }
        }
        if !template.essential() {
            let token = preferences::issue_link(&self.pool, &addresses[0], now).await?;
            facts.preferences_link = Some(format!("{base}/preferences/{token}"));
        }
        let rendered = templates::render(template, &facts);
        Ok(Prepared::Mail(Box::new(Outgoing {
            to: addresses,
            subject: rendered.subject,
            text: rendered.text,
            html: rendered.html,
            message_id: self.message_id(&mail.key),
        })))
    }

    async fn target(
        &self,
        recipient: &Recipient,
        structure: Option<Uuid>,
    ) -> Result<Option<Target>, sqlx::Error> {
        Ok(match recipient {
            Recipient::Staff { user_id } => self.staff(&[*user_id]).await?,
            Recipient::Person { person_id } => {
                let Some(people::Contact {
                    first_name,
                    email: Some(email),
                    structure,
                }) = people::contact(&self.pool, PersonId(*person_id)).await?
                else {
                    return Ok(None);
                };
                Some(Target {
                    addresses: vec![email],
                    name: first_name,
                    principal: Some((Principal::Person(PersonId(*person_id)), structure)),
                })
            }
            Recipient::Employer { employer_id } => {
                let employer = EmployerId(*employer_id);
                // Mails queued before contacts were scoped to a structure: the link
                // in them opens that structure's immersions, so only its contacts get it.
                let addresses = employers::contact_emails(&self.pool, employer, structure).await?;
                let name = employers::get(&self.pool, employer).await?.map(|e| e.name);
                Some(Target {
                    addresses,
                    name,
                    principal: structure.map(|s| (Principal::Employer(employer), s)),
                })
            }
            Recipient::Contact {
                employer_id,
                contact_id,
            } => {
                let employer = EmployerId(*employer_id);
                let Some(address) = employers::contact_email(&self.pool, *contact_id).await? else {
                    return Ok(None);
                };
                let name = employers::get(&self.pool, employer).await?.map(|e| e.name);
                Some(Target {
                    addresses: vec![address],
                    name,
                    principal: structure.map(|s| (Principal::Employer(employer), s)),
                })
            }
            Recipient::Party { immersion_id, role } => {
                let Some(parties) = projection::parties(&self.pool, *immersion_id).await? else {
                    return Ok(None);
                };
                let Some(contact) = parties.contacts.0.get(role) else {
                    return Ok(None);
                };
                let principal = match role.as_str() {
                    "person" => Some(Principal::Person(PersonId(parties.person_id))),
                    "host" | "tutor" => Some(Principal::Employer(EmployerId(parties.employer_id))),
                    _ => None,
                };
                Some(Target {
                    addresses: contact.email.iter().cloned().collect(),
                    name: Some(contact.name.clone()),
                    principal: principal.map(|p| (p, parties.structure)),
                })
            }
            Recipient::Referent { employer_id } => {
                let Some(structure) = structure else {
                    return Ok(None);
                };
                match employers::last_visitor(&self.pool, EmployerId(*employer_id), structure)
                    .await?
                {
                    Some(mediator) => self.staff(&[mediator]).await?,
                    None => {
                        let managers: Vec<Uuid> = passerelle_accounts::staff_members(&self.pool)
                            .await
                            .map_err(crate::outbox::account_error)?
                            .into_iter()
                            .filter(|u| u.structure.0 == structure && u.role == StaffRole::Manager)
                            .map(|u| u.user_id.0)
                            .collect();
                        self.staff(&managers).await?
                    }
                }
            }
        })
    }

    async fn staff(&self, users: &[Uuid]) -> Result<Option<Target>, sqlx::Error> {
        let mut addresses = Vec::new();
        let mut name = None;
        for user in users {
            if let Some(u) = passerelle_accounts::staff_member(&self.pool, UserId(*user))
                .await
                .map_err(crate::outbox::account_error)?
            {
                addresses.push(u.email);
                if users.len() == 1 {
                    name = Some(u.name);
                }
            }
        }
        Ok((!addresses.is_empty()).then_some(Target {
            addresses,
            name,
            principal: None,
        }))
    }
}

/// Why a mail queued earlier no longer needs to go: what it asked for was
/// done in the meantime (a reminder stops once the assessment is in).
fn moot(
    template: Template,
    recipient: &Recipient,
    immersion: Option<&immersions::ImmersionRow>,
) -> Option<&'static str> {
    let i = immersion?;
    let closed = matches!(
        i.stage.as_str(),
        "declined" | "rejected" | "deprecated" | "cancelled" | "interrupted"
    );
    let role = match recipient {
        Recipient::Party { role, .. } => Some(role.as_str()),
        _ => None,
    };
    match template {
        Template::SignatureRequest | Template::SignatureReminder => {
            // While a renewal awaits signatures, the requests are for it:
            // a signature of the first convention does not count.
            let signed = if i.renewal.as_deref() == Some("pending") {
                &i.renewal_signatures
            } else {
                &i.signatures
            };
            if closed {
                Some("immersion close")
            } else if role.is_some_and(|r| signed.iter().any(|s| s == r)) {
                Some("déjà signée")
            } else {
                None
            }
        }
        Template::AssessmentRequest | Template::AssessmentReminder
            if i.feedback_authors.iter().any(|a| a == "host") =>
        {
            Some("bilan déjà reçu")
        }
        Template::FeedbackRequest if i.feedback_authors.iter().any(|a| a == "person") => {
            Some("retour déjà donné")
        }
        Template::ProposalUnanswered if i.accepted_by_employer || i.declined_by.is_some() => {
            Some("l'employeur a répondu")
        }
        Template::StartDay | Template::ProposalToEmployer | Template::ProposalToPerson
            if closed =>
        {
            Some("immersion close")
        }
        _ => None,
    }
}
