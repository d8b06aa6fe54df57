//! Where mail goes: an SMTP server (TLS, STARTTLS or, on loopback, plain),
//! or, with no server configured, `.eml` files under the data directory.

use std::path::PathBuf;
use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::PoolConfig;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

/// The longest a mail takes to be written as a file.
const FILE_TIMEOUT: Duration = Duration::from_secs(10);

/// A mail ready to go, in French, as text and HTML.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub to: Vec<String>,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// Stable per outbox entry, so a mail sent again after a crash carries
    /// the same identifier and receiving clients can fold the two.
    pub message_id: String,
}

/// Why a mail did not go.
#[derive(Debug, thiserror::Error)]
#[error("{kind}")]
pub struct SendFailure {
    /// The server's answer, or what went wrong on the way: kept with the
    /// mail for the staff. Never logged: a server may quote the address it
    /// refused.
    pub answer: String,
    /// What kind of failure, with nothing of the mail: for the logs.
    pub kind: String,
}

impl SendFailure {
    fn new(kind: &str, answer: String) -> Self {
        Self {
            answer,
            kind: kind.to_owned(),
        }
    }
}

#[derive(Clone)]
pub enum Mailer {
    Smtp {
        transport: AsyncSmtpTransport<Tokio1Executor>,
        from: Mailbox,
        /// The longest a mail's hand-over may take, all exchanges included.
        timeout: Duration,
    },
    Files {
        dir: PathBuf,
        from: Mailbox,
    },
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mailer::Smtp { from, .. } => write!(f, "Mailer::Smtp(from {from})"),
            Mailer::Files { dir, .. } => write!(f, "Mailer::Files({})", dir.display()),
        }
    }
}

/// A configuration the mailer cannot start with.
#[derive(Debug, thiserror::Error)]
pub enum MailerError {
    #[error("invalid sender address {0:?}: {1}")]
    From(String, String),
    #[error("invalid SMTP URL: {0}")]
    Url(String),
    #[error("cannot create the mail directory {0}: {1}")]
    Dir(PathBuf, std::io::Error),
}

impl Mailer {
    /// SMTP from a URL: `smtps://user:pass@host:465` (TLS),
    /// `smtp://user:pass@host:587?tls=required` (STARTTLS), or
    /// `smtp://127.0.0.1:2525` (plain, for a relay on loopback). A mail's
    /// whole hand-over is cut off after `timeout` (lettre's own timeout
    /// only bounds connecting).
    pub fn smtp(url: &str, from: &str, timeout: Duration) -> Result<Self, MailerError> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| MailerError::Url(e.to_string()))?
            .timeout(Some(timeout))
            // No connection is kept for the next mail: one whose send was cut
            // off mid-exchange would hand the next mail the server's late
            // answers to the last.
            .pool_config(PoolConfig::new().max_size(0))
            .build();
        Ok(Mailer::Smtp {
            transport,
            from: parse_from(from)?,
            timeout,
        })
    }

    /// Each mail written as `<message id>.eml` under `dir`.
    pub fn files(dir: PathBuf, from: &str) -> Result<Self, MailerError> {
        std::fs::create_dir_all(&dir).map_err(|e| MailerError::Dir(dir.clone(), e))?;
        // The mails carry links that open sessions: for the service's user
        // only.
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| MailerError::Dir(dir.clone(), e))?;
        }
        Ok(Mailer::Files {
            dir,
            from: parse_from(from)?,
        })
    }

    fn from(&self) -> &Mailbox {
        match self {
            Mailer::Smtp { from, .. } | Mailer::Files { from, .. } => from,
        }
    }

    /// The longest [`Mailer::send`] takes: a sender must hold a mail longer.
    pub fn longest_send(&self) -> Duration {
        match self {
            Mailer::Smtp { timeout, .. } => *timeout,
            Mailer::Files { .. } => FILE_TIMEOUT,
        }
    }

    /// Hands the mail over: `Ok` once the server accepted it (or the file
    /// is written), so it is never marked sent before that; a failure
    /// after [`Mailer::longest_send`] at the latest.
    pub async fn send(&self, mail: &Outgoing) -> Result<(), SendFailure> {
        let message = self.build(mail)?;
        let limit = self.longest_send();
        let too_long = || {
            SendFailure::new(
                "timeout",
                format!("pas de réponse en {} s", limit.as_secs()),
            )
        };
        match self {
            Mailer::Smtp { transport, .. } => {
                tokio::time::timeout(limit, transport.send(message))
                    .await
                    .map_err(|_| too_long())?
                    .map_err(|e| SendFailure::new(&smtp_kind(&e), smtp_answer(&e)))?;
            }
            Mailer::Files { dir, .. } => {
                let name = mail
                    .message_id
                    .chars()
                    .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '.')
                    .collect::<String>();
                let path = dir.join(format!("{name}.eml"));
                let bytes = message.formatted();
                let write = async {
                    use tokio::io::AsyncWriteExt as _;
                    let mut file = tokio::fs::OpenOptions::new()
                        .write(true)
                        .create(true)
                        .truncate(true)
                        .mode(0o600)
                        .open(&path)
                        .await?;
                    file.write_all(&bytes).await?;
                    file.flush().await
                };
                tokio::time::timeout(limit, write)
                    .await
                    .map_err(|_| too_long())?
                    .map_err(|e| {
                        SendFailure::new("file", format!("cannot write {}: {e}", path.display()))
                    })?;
                // The file is named after the message id: nothing of the
                // mail's recipient or content.
                tracing::info!(path = %path.display(), "mail written");
            }
        }
        Ok(())
    }

    fn build(&self, mail: &Outgoing) -> Result<Message, SendFailure> {
        let mut builder = Message::builder()
            .from(self.from().clone())
            .subject(mail.subject.clone())
            .message_id(Some(format!("<{}>", mail.message_id)));
        for to in &mail.to {
            let mailbox: Mailbox = to.parse().map_err(|e| {
                SendFailure::new("invalid address", format!("adresse invalide : {e}"))
            })?;
            builder = builder.to(mailbox);
        }
        // Text and HTML parts each carry `charset=utf-8`, so accents arrive
        // intact.
        builder
            .multipart(MultiPart::alternative_plain_html(
                mail.text.clone(),
                mail.html.clone(),
            ))
            .map_err(|e| SendFailure::new("invalid message", format!("message invalide : {e}")))
    }
}

fn parse_from(from: &str) -> Result<Mailbox, MailerError> {
    from.parse().map_err(|e: lettre::address::AddressError| {
        MailerError::From(from.to_owned(), e.to_string())
    })
}

/// The failure's kind and the server's code, never its words.
fn smtp_kind(error: &lettre::transport::smtp::Error) -> String {
    match error.status() {
        Some(code) => format!("smtp {code}"),
        None if error.is_timeout() => "timeout".into(),
        None if error.is_tls() => "tls".into(),
        None => "connection".into(),
    }
}

/// The server's own words when it answered, else what broke.
fn smtp_answer(error: &lettre::transport::smtp::Error) -> String {
    let text = error.to_string();
    match error.status() {
        Some(code) if !text.contains(&code.to_string()) => format!("{code} {text}"),
        _ => text,
    }
}
