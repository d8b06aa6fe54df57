//! Email notifications: the mails events and scheduled jobs call for, in
//! French, queued in an outbox under keys derived from their cause and
//! sent by lettre, so a crash, a retry or a second replica never sends one
//! twice and a refused mail is retried, never lost.
//!
//! - [`projection::Notifications`] queues the mails events call for
//!   (a proposal, a convention to sign, a validated convention, a need
//!   from the portal) and keeps the parties' addresses;
//! - [`schedule::Scheduler`] runs the cron-scheduled [`jobs`] (reminders,
//!   weekly digests) and the [`retention`] of people's data, once across
//!   replicas;
//! - [`sender::Sender`] resolves, renders and sends what is queued;
//! - [`preferences`]: recipients turn optional mails off.

pub mod jobs;
pub mod mailer;
pub mod outbox;
pub mod preferences;
pub mod projection;
pub mod redact;
pub mod retention;
pub mod schedule;
pub mod sender;
pub mod templates;

pub use mailer::{Mailer, MailerError, Outgoing};
pub use outbox::{Delivery, DeliveryFilter, Entry, Params, Recipient, State};
pub use projection::Notifications;
pub use schedule::{Job, JobRun, Scheduler};
pub use sender::{SendReport, Sender, SenderSettings, shortest_lease};
pub use templates::Template;
