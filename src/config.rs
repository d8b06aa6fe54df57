//! Configuration, layered: built-in defaults < `passerelle.toml` (or the file
//! `--config` / `PASSERELLE_CONFIG` names) < `PASSERELLE_*` environment
//! variables (nested keys with `__`, e.g. `PASSERELLE_PROJECTIONS__BATCH_SIZE`)
//! < command-line flags. `DATABASE_URL` is read as `database_url`.
//!
//! Secrets may come from files instead, as container platforms mount them:
//! `<VARIABLE>_FILE` (`PASSERELLE_MASTER_KEY_FILE`, `DATABASE_URL_FILE`,
//! `PASSERELLE_MAIL__SMTP_URL_FILE`, …) names a file whose content, trailing
//! newlines removed, is the value of `<VARIABLE>`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use figment::Figment;
use figment::providers::{Env, Format as _, Serialized, Toml};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address the HTTP server listens on (`PASSERELLE_BIND`).
    pub bind: SocketAddr,
    /// Where the private PostgreSQL cluster, the master key and local files
    /// live (`PASSERELLE_DATA_DIR`).
    pub data_dir: PathBuf,
    /// PostgreSQL server to use (`DATABASE_URL`); when absent, a private
    /// cluster is created and started under `data_dir`.
    pub database_url: Option<String>,
    /// Connections the server keeps to PostgreSQL.
    pub database_max_connections: u32,
    /// Apply pending migrations when `serve` starts; when off, run
    /// `passerelle migrate` before deploying (`/ready` says when one is missing).
    pub migrate_on_start: bool,
    /// Base64 of the 32-byte key that wraps personal-data keys
    /// (`PASSERELLE_MASTER_KEY`). When absent, `data_dir/master.key` is used,
    /// created on first run. Losing it makes personal data unreadable.
    pub master_key: Option<String>,
    /// `text` or `json` (`PASSERELLE_LOG_FORMAT`, `--log-format`).
    pub log_format: LogFormat,
    /// Log filter in `tracing` syntax, e.g. `info,passerelle_store=debug`
    /// (`PASSERELLE_LOG`).
    pub log: String,
    /// Longest wait for in-flight requests and projection batches on shutdown.
    pub shutdown_timeout_secs: u64,
    pub projections: ProjectionsConfig,
    pub api: ApiConfig,
    pub dashboards: DashboardsConfig,
    pub mail: MailConfig,
    pub schedules: SchedulesConfig,
    pub retention: RetentionConfig,
    pub database: DatabaseConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// A streaming standby of `database_url` (`PASSERELLE_DATABASE__READ_URL`,
    /// or `…_FILE`) serving the reads that may lag: the dashboards, their
    /// CSV exports and the people and immersion lists. When absent, or
    /// behind, or unreachable, the primary serves them. May name a Service
    /// balancing over several standbys: each connection is checked against
    /// the bound before it serves.
    pub read_url: Option<String>,
    /// The standby serves while it is at most this far behind the primary.
    pub read_max_lag_ms: u64,
    /// After a mutation, a viewer's reads stay on the primary this long
    /// (read-your-writes, within this replica).
    pub own_writes_secs: u64,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            read_url: None,
            read_max_lag_ms: 5000,
            own_writes_secs: 10,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MailConfig {
    /// SMTP server (`PASSERELLE_MAIL__SMTP_URL`): `smtps://user:pass@host:465`
    /// (TLS), `smtp://user:pass@host:587?tls=required` (STARTTLS), or
    /// `smtp://127.0.0.1:25` (plain, loopback relay only). When absent, each
    /// mail is written as an `.eml` file under `dir`.
    pub smtp_url: Option<String>,
    /// The sender of every mail.
    pub from: String,
    /// The service's address as recipients reach it, for links in mails.
    pub public_url: String,
    /// Where mails are written without an SMTP server (default
    /// `data_dir/mail`).
    pub dir: Option<PathBuf>,
    /// Longest a mail's hand-over to the SMTP server may take, in seconds:
    /// cut off then, and tried again later.
    pub timeout_secs: u64,
    /// How long a sender holds the mails it takes, in seconds: those of a
    /// replica that dies while sending go again once it has passed. At least
    /// `timeout_secs` + 10, so no mail is still going when another replica
    /// may take it.
    pub lease_secs: u64,
    /// How long a link in a notification (to sign, to answer, to give an
    /// assessment) stays usable, in days.
    pub link_days: i64,
    /// Attempts before a mail is marked failed (retries back off from one
    /// minute to six hours).
    pub max_attempts: i32,
    /// How often the sender looks for mail due, in milliseconds.
    pub poll_interval_ms: u64,
}

impl Default for MailConfig {
    fn default() -> Self {
        Self {
            smtp_url: None,
            from: "Passerelle <ne-pas-repondre@passerelle.localhost>".into(),
            public_url: "http://localhost:8080".into(),
            dir: None,
            timeout_secs: 30,
            lease_secs: 60,
            link_days: 7,
            max_attempts: 10,
            poll_interval_ms: 5000,
        }
    }
}

/// Cron expressions (6 fields, seconds first), in Europe/Paris time; an
/// empty one disables its job.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SchedulesConfig {
    /// Signature, start-day, assessment, feedback and follow-up reminders,
    /// and proposals left unanswered.
    pub reminders: String,
    /// Each mediator's inbox by mail.
    pub weekly_digest: String,
    /// The retention of people's data (see `[retention]`): warnings to
    /// referents, then erasures.
    pub retention: String,
    /// How often the scheduler looks for a job due, in seconds.
    pub poll_interval_secs: u64,
}

impl Default for SchedulesConfig {
    fn default() -> Self {
        Self {
            reminders: "0 0 8 * * *".into(),
            weekly_digest: "0 0 7 * * Mon".into(),
            retention: "0 0 3 * * *".into(),
            poll_interval_secs: 30,
        }
    }
}

/// The retention of people's data: a person with no fact recorded on their
/// path for `inactive_months` is announced to their referent, then erased
/// (reason `end_of_retention`) `grace_days` later unless their referent or
/// a manager extended it. Run by the `retention` schedule.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// Off: nobody is warned nor erased for inactivity
    /// (`PASSERELLE_RETENTION__ENABLED`).
    pub enabled: bool,
    /// Months without a recorded fact after which a person is inactive.
    pub inactive_months: u32,
    /// Days between the referent's warning and the erasure.
    pub grace_days: i64,
    /// Months a signed convention is kept from its validation: its person
    /// is not erased for inactivity before.
    pub signed_convention_months: u32,
    /// Months a mail is kept in the outbox once sent, failed or cancelled.
    pub mail_months: u32,
    /// Days an ended session or a used or expired magic link is kept.
    pub session_days: u32,
    /// Months a read of health data stays in the access log.
    pub health_log_months: u32,
    /// Months a job's run stays in `jobRuns`.
    pub job_run_months: u32,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        let d = passerelle_notify::retention::Settings::default();
        Self {
            enabled: true,
            inactive_months: d.inactive_months,
            grace_days: d.grace_days,
            signed_convention_months: d.signed_convention_months,
            mail_months: d.mail_months,
            session_days: d.session_days,
            health_log_months: d.health_log_months,
            job_run_months: d.job_run_months,
        }
    }
}

impl RetentionConfig {
    pub fn settings(&self) -> passerelle_notify::retention::Settings {
        passerelle_notify::retention::Settings {
            inactive_months: self.inactive_months,
            grace_days: self.grace_days,
            signed_convention_months: self.signed_convention_months,
            mail_months: self.mail_months,
            session_days: self.session_days,
            health_log_months: self.health_log_months,
            job_run_months: self.job_run_months,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DashboardsConfig {
    /// Counts below this are masked for viewers outside the structure, so
    /// nobody can be recognised in a small group.
    pub small_cell_threshold: i64,
}

impl Default for DashboardsConfig {
    fn default() -> Self {
        Self {
            small_cell_threshold: 5,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiConfig {
    /// Deepest query accepted: fields of data nested, fragments expanded
    /// (introspection has bounds of its own).
    pub max_depth: usize,
    /// Most complex query accepted: one point per field of data, fragments
    /// expanded.
    pub max_complexity: usize,
    /// Most fields a query selects once its fragments are expanded,
    /// `__typename` and aliased fields included: a document of a few
    /// hundred bytes can otherwise expand to millions.
    pub max_fields: usize,
    /// Longest query text, in bytes.
    pub max_query_bytes: usize,
    /// Most fields at an operation's root.
    pub max_root_fields: usize,
    /// Most aliases in a query, fragments expanded.
    pub max_aliases: usize,
    /// Answer introspection (`__schema`, `__type`), for GraphiQL and
    /// clients that generate code; when off, it is refused (`FORBIDDEN`)
    /// and clients use the published SDL.
    pub introspection: bool,
    /// Largest request body, in bytes.
    pub max_body_bytes: usize,
    /// Seconds a client has to send a request's head, then as many for its
    /// body: past them the connection is closed (the head) or the request
    /// refused with 408 (the body). A client sending a byte now and then
    /// would otherwise hold a connection for as long as it liked. A
    /// connection idle between two requests is closed after as long.
    pub request_read_seconds: u64,
    /// Seconds a client may leave its answer untaken (writing to it makes
    /// no progress) before its connection, or the WebSocket it became, is
    /// closed: a client that asks and never reads would otherwise hold its
    /// connection for as long as it liked. A slow client that keeps
    /// reading is served.
    pub answer_write_seconds: u64,
    /// Most HTTP connections open at once: past it, new ones wait in the
    /// system's queue until one closes, rather than taking the last file
    /// descriptors the database's connections and the log need. Lowered at
    /// start to what the process's descriptor limit leaves (`ulimit -n`).
    pub max_connections: usize,
    /// How long a login session lasts, in hours.
    pub session_hours: i64,
    /// How long a magic link stays usable, in minutes.
    pub magic_link_minutes: i64,
    /// Development only: also write magic links to the log. Off by default:
    /// a log reader could open an employer's or a person's session.
    pub magic_links_in_log: bool,
    /// Login and magic-link attempts allowed per email address before a
    /// lockout…
    pub max_attempts: usize,
    /// …and per client address (several people may share one).
    pub max_attempts_per_client: usize,
    /// The first lockout, in seconds; it doubles with each further attempt…
    pub lockout_seconds: u64,
    /// …up to this many minutes.
    pub max_lockout_minutes: u64,
    /// Attempts are forgotten after this many minutes without one.
    pub attempts_window_minutes: u64,
    /// Serve GraphiQL at `GET /graphql` (from embedded files, no CDN).
    pub graphiql: bool,
    /// The header a trusted reverse proxy puts the client's address in
    /// (`x-forwarded-for`, `x-real-ip`): its last value is the client
    /// counted by the login limits. Unset, the peer's address is used;
    /// never set it when clients reach the service directly, or they could
    /// choose their own address.
    pub client_ip_header: Option<String>,
    /// Origins besides the service's own (`mail.public_url`, and the
    /// request's `Host`) allowed to open `/graphql/ws` from a browser.
    pub allowed_origins: Vec<String>,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            max_depth: 12,
            max_complexity: 1000,
            max_fields: 2000,
            max_query_bytes: 32 * 1024,
            max_root_fields: 30,
            max_aliases: 50,
            introspection: true,
            max_body_bytes: 256 * 1024,
            request_read_seconds: 10,
            answer_write_seconds: 30,
            max_connections: 1024,
            session_hours: 12,
            magic_link_minutes: 30,
            magic_links_in_log: false,
            max_attempts: 5,
            max_attempts_per_client: 30,
            lockout_seconds: 60,
            max_lockout_minutes: 60,
            attempts_window_minutes: 15,
            graphiql: false,
            client_ip_header: None,
            allowed_origins: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProjectionsConfig {
    /// Events applied per transaction while serving.
    pub batch_size: i64,
    /// Events applied per transaction while rebuilding.
    pub rebuild_batch_size: i64,
    /// How often the runner looks for events when nothing woke it.
    pub poll_interval_ms: u64,
    /// Consecutive failures after which a projection pauses.
    pub max_failures: i32,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("passerelle-data"),
            database_url: None,
            database_max_connections: 20,
            migrate_on_start: true,
            master_key: None,
            log_format: LogFormat::Text,
            log: "info,sqlx::postgres::notice=warn".into(),
            shutdown_timeout_secs: 20,
            projections: ProjectionsConfig::default(),
            api: ApiConfig::default(),
            dashboards: DashboardsConfig::default(),
            mail: MailConfig::default(),
            schedules: SchedulesConfig::default(),
            retention: RetentionConfig::default(),
            database: DatabaseConfig::default(),
        }
    }
}

impl Default for ProjectionsConfig {
    fn default() -> Self {
        let runner = passerelle_store::projection::RunnerConfig::default();
        Self {
            batch_size: runner.batch_size,
            rebuild_batch_size: runner.rebuild_batch_size,
            poll_interval_ms: u64::try_from(runner.poll_interval.as_millis()).unwrap_or(250),
            max_failures: runner.max_failures,
        }
    }
}

impl ApiConfig {
    /// How long a request's head, then its body, may take to arrive.
    pub fn request_read_within(&self) -> Duration {
        Duration::from_secs(self.request_read_seconds)
    }

    /// How long an answer may wait for its client to take any of it.
    pub fn answer_write_within(&self) -> Duration {
        Duration::from_secs(self.answer_write_seconds)
    }

    /// The login and magic-link limits.
    pub fn throttle(&self) -> passerelle_graphql::ThrottleSettings {
        passerelle_graphql::ThrottleSettings {
            per_address: u32::try_from(self.max_attempts.max(1)).unwrap_or(u32::MAX),
            per_client: u32::try_from(self.max_attempts_per_client.max(1)).unwrap_or(u32::MAX),
            base_delay: Duration::from_secs(self.lockout_seconds.max(1)),
            max_delay: Duration::from_secs(self.max_lockout_minutes.max(1) * 60),
            forget_after: Duration::from_secs(self.attempts_window_minutes.max(1) * 60),
            ..passerelle_graphql::ThrottleSettings::default()
        }
    }
}

impl ProjectionsConfig {
    pub fn runner(&self) -> passerelle_store::projection::RunnerConfig {
        passerelle_store::projection::RunnerConfig {
            batch_size: self.batch_size,
            rebuild_batch_size: self.rebuild_batch_size,
            poll_interval: Duration::from_millis(self.poll_interval_ms),
            max_failures: self.max_failures,
            ..Default::default()
        }
    }
}

/// Values given on the command line, applied last.
#[derive(Debug, Default, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bind: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_format: Option<LogFormat>,
}

impl Config {
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> anyhow::Result<Self> {
        let (file, required) = match file {
            Some(f) => (f.to_owned(), true),
            None => (PathBuf::from("passerelle.toml"), false),
        };
        anyhow::ensure!(
            !required || file.exists(),
            "configuration file {} does not exist",
            file.display()
        );
        let config: Self = Self::figment(&file, overrides).extract().with_context(|| {
            format!(
                "invalid configuration (defaults < {} < PASSERELLE_* < flags)",
                file.display()
            )
        })?;
        let shortest =
            passerelle_notify::shortest_lease(Duration::from_secs(config.mail.timeout_secs));
        anyhow::ensure!(
            Duration::from_secs(config.mail.lease_secs) >= shortest,
            "mail.lease_secs is {} s: it must be at least {} s (mail.timeout_secs + 10), \
             or a mail still being sent could be taken and sent again by another replica",
            config.mail.lease_secs,
            shortest.as_secs()
        );
        anyhow::ensure!(
            (1..=3600).contains(&config.api.request_read_seconds),
            "api.request_read_seconds goes from 1 to 3600 (a request's head, then its body, \
             must arrive within it)"
        );
        anyhow::ensure!(
            (1..=3600).contains(&config.api.answer_write_seconds),
            "api.answer_write_seconds goes from 1 to 3600 (how long an answer may wait for its \
             client to take any of it)"
        );
        anyhow::ensure!(
            (1..=1_000_000).contains(&config.api.max_connections),
            "api.max_connections goes from 1 to 1000000 (HTTP connections open at once)"
        );
        // Bounded above too: a date moved by a period out of range would
        // stop the scheduler, not the one run.
        anyhow::ensure!(
            (1..=120).contains(&config.retention.inactive_months)
                && (1..=3650).contains(&config.retention.grace_days),
            "retention.inactive_months goes from 1 to 120 and retention.grace_days from 1 to 3650 \
             (turn the job off with retention.enabled = false)"
        );
        let r = &config.retention;
        anyhow::ensure!(
            [r.mail_months, r.health_log_months, r.job_run_months]
                .iter()
                .all(|m| (1..=120).contains(m))
                && (1..=3650).contains(&r.session_days)
                && (1..=240).contains(&r.signed_convention_months),
            "retention.mail_months, retention.health_log_months and retention.job_run_months go \
             from 1 to 120, retention.session_days from 1 to 3650, \
             retention.signed_convention_months from 1 to 240"
        );
        // Links are made by appending a path: a query, a fragment or
        // credentials would break them or go out in every mail.
        let public = url::Url::parse(&config.mail.public_url).ok().filter(|u| {
            matches!(u.scheme(), "http" | "https")
                && u.host_str().is_some_and(|h| !h.is_empty())
                && u.username().is_empty()
                && u.password().is_none()
                && u.query().is_none()
                && u.fragment().is_none()
        });
        anyhow::ensure!(
            public.is_some(),
            "mail.public_url « {} » is not an http(s) address without credentials, query or \
             fragment: links in mails start with it",
            config.mail.public_url
        );
        if let Some(header) = &config.api.client_ip_header {
            // Ignored, every client would count as the proxy: one guesser
            // would lock everybody out.
            anyhow::ensure!(
                axum::http::HeaderName::try_from(header.as_str()).is_ok(),
                "api.client_ip_header « {header} » is not an HTTP header name"
            );
        }
        Ok(config)
    }

    fn figment(file: &Path, overrides: &Overrides) -> Figment {
        Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::file(file))
            .merge(
                Env::prefixed("PASSERELLE_")
                    .ignore(&["config"])
                    // `…_FILE` variables name files, read by `SecretFiles`.
                    .filter(|key| !key.as_str().to_ascii_lowercase().ends_with(FILE_SUFFIX))
                    .split("__"),
            )
            .merge(Env::raw().only(&["database_url"]))
            .merge(SecretFiles)
            .merge(Serialized::defaults(overrides))
    }

    pub fn shutdown_timeout(&self) -> Duration {
        Duration::from_secs(self.shutdown_timeout_secs)
    }
}

const FILE_SUFFIX: &str = "_file";

/// The settings that may come from a `…_FILE` variable: the secrets.
const SECRET_KEYS: [&str; 4] = [
    "database_url",
    "database.read_url",
    "master_key",
    "mail.smtp_url",
];

/// The values of `<VARIABLE>_FILE` variables, read from the files they name:
/// `DATABASE_URL_FILE` for `database_url`, `PASSERELLE_<KEY>_FILE` for
/// `<key>` (nested with `__`, as the variables themselves), for the
/// [`SECRET_KEYS`] only. Errors name the
/// variable and the file, never what the file holds.
struct SecretFiles;

impl figment::Provider for SecretFiles {
    fn metadata(&self) -> figment::Metadata {
        figment::Metadata::named("*_FILE environment variables")
    }

    fn data(
        &self,
    ) -> Result<figment::value::Map<figment::Profile, figment::value::Dict>, figment::Error> {
        let mut dict = figment::value::Dict::new();
        for (variable, path) in std::env::vars_os() {
            let Some(variable) = variable.to_str() else {
                continue;
            };
            let Some(key) = secret_file_key(variable) else {
                continue;
            };
            // Only the secrets: a file given for any other key would have its
            // content quoted by the type error of a misplaced value.
            if !SECRET_KEYS.contains(&key.join(".").as_str()) {
                return Err(figment::Error::from(format!(
                    "{variable}: only secrets are read from files ({}); set this one by its variable or in the configuration file",
                    SECRET_KEYS.join(", ")
                )));
            }
            let base = &variable[..variable.len() - FILE_SUFFIX.len()];
            if std::env::var_os(base).is_some() {
                return Err(figment::Error::from(format!(
                    "{base} and {variable} are both set: keep one"
                )));
            }
            let path = PathBuf::from(path);
            let value = read_secret_file(&path).map_err(|e| {
                figment::Error::from(format!(
                    "{variable}: cannot read the file {}: {e}",
                    path.display()
                ))
            })?;
            insert_nested(&mut dict, &key, value);
        }
        Ok(figment::Profile::Default.collect(dict))
    }
}

/// The configuration key a `…_FILE` variable sets, split on `__`.
fn secret_file_key(variable: &str) -> Option<Vec<String>> {
    let upper_suffix = FILE_SUFFIX.to_ascii_uppercase();
    let base = variable.strip_suffix(&upper_suffix)?;
    if base == "DATABASE_URL" {
        return Some(vec!["database_url".into()]);
    }
    let key = base.strip_prefix("PASSERELLE_")?;
    if key.is_empty() || key.eq_ignore_ascii_case("config") {
        return None;
    }
    Some(key.split("__").map(str::to_ascii_lowercase).collect())
}

/// A secret file's content without its trailing newline (`echo` and most
/// editors add one); an empty file is an error rather than an empty secret.
fn read_secret_file(path: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.kind().to_string())?;
    let value = text.trim_end_matches(['\n', '\r']);
    if value.is_empty() {
        return Err("the file is empty".into());
    }
    Ok(value.to_owned())
}

fn insert_nested(dict: &mut figment::value::Dict, key: &[String], value: String) {
    match key {
        [] => {}
        [last] => {
            dict.insert(last.clone(), value.into());
        }
        [first, rest @ ..] => {
            let entry = dict
                .entry(first.clone())
                .or_insert_with(|| figment::value::Dict::new().into());
            if let figment::value::Value::Dict(_, inner) = entry {
                insert_nested(inner, rest, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[expect(
        clippy::result_large_err,
        reason = "figment::Jail fixes the closure's error type"
    )]
    fn layers_apply_in_order_defaults_file_env_flags() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "passerelle.toml",
                "bind = \"127.0.0.1:9000\"\nlog = \"debug\"\n[projections]\nbatch_size = 42\n",
            )?;
            jail.set_env("PASSERELLE_LOG", "warn");
            jail.set_env("PASSERELLE_PROJECTIONS__POLL_INTERVAL_MS", "75");
            jail.set_env("DATABASE_URL", "postgres://db.example/passerelle");
            let config = Config::load(
                None,
                &Overrides {
                    data_dir: Some("/srv/passerelle".into()),
                    ..Default::default()
                },
            )
            .map_err(|e| e.to_string())?;
            assert_eq!(config.bind, "127.0.0.1:9000".parse().unwrap());
            assert_eq!(config.log, "warn");
            assert_eq!(config.projections.batch_size, 42);
            assert_eq!(config.projections.poll_interval_ms, 75);
            assert_eq!(
                config.database_url.as_deref(),
                Some("postgres://db.example/passerelle")
            );
            assert_eq!(config.data_dir, PathBuf::from("/srv/passerelle"));
            assert!(config.migrate_on_start, "defaults fill the rest");
            Ok(())
        });
    }

    #[test]
    #[expect(
        clippy::result_large_err,
        reason = "figment::Jail fixes the closure's error type"
    )]
    fn an_unknown_key_is_an_error_that_names_it() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("passerelle.toml", "bnid = \"127.0.0.1:9000\"\n")?;
            let err = Config::load(None, &Overrides::default()).unwrap_err();
            assert!(format!("{err:#}").contains("bnid"), "{err:#}");
            Ok(())
        });
    }

    #[test]
    #[expect(
        clippy::result_large_err,
        reason = "figment::Jail fixes the closure's error type"
    )]
    fn a_mail_lease_a_send_could_outlast_is_refused() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "passerelle.toml",
                "[mail]\ntimeout_secs = 30\nlease_secs = 39\n",
            )?;
            let err = Config::load(None, &Overrides::default()).unwrap_err();
            assert!(format!("{err:#}").contains("lease_secs"), "{err:#}");
            jail.create_file(
                "passerelle.toml",
                "[mail]\ntimeout_secs = 30\nlease_secs = 40\n",
            )?;
            let config = Config::load(None, &Overrides::default()).map_err(|e| e.to_string())?;
            assert_eq!(config.mail.lease_secs, 40);
            Ok(())
        });
    }

    #[test]
    #[expect(
        clippy::result_large_err,
        reason = "figment::Jail fixes the closure's error type"
    )]
    fn a_bound_of_no_connection_is_refused() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("PASSERELLE_API__MAX_CONNECTIONS", "0");
            let err = Config::load(None, &Overrides::default()).unwrap_err();
            assert!(
                format!("{err:#}").contains("api.max_connections"),
                "{err:#}"
            );
            jail.set_env("PASSERELLE_API__MAX_CONNECTIONS", "64");
            let config = Config::load(None, &Overrides::default()).map_err(|e| e.to_string())?;
            assert_eq!(config.api.max_connections, 64);
            Ok(())
        });
    }

    #[test]
    #[expect(
        clippy::result_large_err,
        reason = "figment::Jail fixes the closure's error type"
    )]
    fn a_public_address_that_is_not_a_web_address_is_refused() {
        figment::Jail::expect_with(|jail| {
            for url in [
                "passerelle.example.org",
                "ftp://passerelle.example.org",
                "https://",
                "",
            ] {
                jail.create_file(
                    "passerelle.toml",
                    &format!("[mail]\npublic_url = \"{url}\"\n"),
                )?;
                let err = Config::load(None, &Overrides::default()).unwrap_err();
                assert!(
                    format!("{err:#}").contains("mail.public_url"),
                    "{url}: {err:#}"
                );
            }
            jail.create_file(
                "passerelle.toml",
                "[mail]\npublic_url = \"https://passerelle.example.org/\"\n",
            )?;
            Config::load(None, &Overrides::default()).map_err(|e| e.to_string())?;
            Ok(())
        });
    }

    #[test]
    #[expect(
        clippy::result_large_err,
        reason = "figment::Jail fixes the closure's error type"
    )]
    fn secrets_are_read_from_the_files_their_file_variables_name() {
        figment::Jail::expect_with(|jail| {
            jail.clear_env();
            jail.create_file("master-key", "a2V5\n")?;
            jail.create_file("database-url", "postgres://u:p@db/passerelle\r\n")?;
            jail.create_file("smtp-url", "smtps://u:p@smtp.example:465")?;
            jail.set_env("PASSERELLE_MASTER_KEY_FILE", "master-key");
            jail.set_env("DATABASE_URL_FILE", "database-url");
            jail.set_env("PASSERELLE_MAIL__SMTP_URL_FILE", "smtp-url");
            jail.set_env("PASSERELLE_MAIL__FROM", "Passerelle <x@example.org>");
            let config = Config::load(None, &Overrides::default()).map_err(|e| format!("{e:#}"))?;
            assert_eq!(
                config.master_key.as_deref(),
                Some("a2V5"),
                "newline removed"
            );
            assert_eq!(
                config.database_url.as_deref(),
                Some("postgres://u:p@db/passerelle")
            );
            assert_eq!(
                config.mail.smtp_url.as_deref(),
                Some("smtps://u:p@smtp.example:465"),
                "nested keys as for the variables"
            );
            assert_eq!(config.mail.from, "Passerelle <x@example.org>");
            Ok(())
        });
    }

    #[test]
    #[expect(
        clippy::result_large_err,
        reason = "figment::Jail fixes the closure's error type"
    )]
    fn a_secret_file_error_names_the_variable_never_the_content() {
        figment::Jail::expect_with(|jail| {
            jail.clear_env();
            jail.set_env("PASSERELLE_MASTER_KEY_FILE", "absent/master-key");
            let err = format!(
                "{:#}",
                Config::load(None, &Overrides::default()).unwrap_err()
            );
            assert!(err.contains("PASSERELLE_MASTER_KEY_FILE"), "{err}");
            assert!(err.contains("absent/master-key"), "{err}");

            jail.create_file("empty", "\n")?;
            jail.set_env("PASSERELLE_MASTER_KEY_FILE", "empty");
            let err = format!(
                "{:#}",
                Config::load(None, &Overrides::default()).unwrap_err()
            );
            assert!(
                err.contains("PASSERELLE_MASTER_KEY_FILE") && err.contains("empty"),
                "{err}"
            );

            // Set twice: which one wins would be a guess.
            jail.create_file("key", "s3cr3t-value\n")?;
            jail.set_env("PASSERELLE_MASTER_KEY_FILE", "key");
            jail.set_env("PASSERELLE_MASTER_KEY", "other");
            let err = format!(
                "{:#}",
                Config::load(None, &Overrides::default()).unwrap_err()
            );
            assert!(
                err.contains("PASSERELLE_MASTER_KEY and PASSERELLE_MASTER_KEY_FILE"),
                "{err}"
            );
            assert!(!err.contains("s3cr3t") && !err.contains("other"), "{err}");

            // A misspelt key is refused by its name, its value unsaid.
            jail.clear_env();
            jail.set_env("PASSERELLE_MASTR_KEY_FILE", "key");
            let err = format!(
                "{:#}",
                Config::load(None, &Overrides::default()).unwrap_err()
            );
            assert!(err.contains("PASSERELLE_MASTR_KEY_FILE"), "{err}");
            assert!(!err.contains("s3cr3t"), "{err}");

            // A file for a setting that is no secret, here a whole section
            // where a table is expected: refused by name, the content unsaid
            // (a type error would quote it).
            jail.clear_env();
            jail.set_env("PASSERELLE_MAIL_FILE", "key");
            let err = format!(
                "{:#}",
                Config::load(None, &Overrides::default()).unwrap_err()
            );
            assert!(err.contains("PASSERELLE_MAIL_FILE"), "{err}");
            assert!(!err.contains("s3cr3t"), "{err}");
            Ok(())
        });
    }

    #[test]
    #[expect(
        clippy::result_large_err,
        reason = "figment::Jail fixes the closure's error type"
    )]
    fn the_standby_is_read_from_its_variables_and_files() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "read-url",
                "postgres://u:p@db-ro/passerelle?sslmode=verify-full\n",
            )?;
            jail.set_env("PASSERELLE_DATABASE__READ_URL_FILE", "read-url");
            jail.set_env("PASSERELLE_DATABASE__READ_MAX_LAG_MS", "1500");
            jail.set_env("PASSERELLE_DATABASE_MAX_CONNECTIONS", "7");
            let config = Config::load(None, &Overrides::default()).unwrap();
            assert_eq!(
                config.database.read_url.as_deref(),
                Some("postgres://u:p@db-ro/passerelle?sslmode=verify-full")
            );
            assert_eq!(config.database.read_max_lag_ms, 1500);
            assert_eq!(config.database.own_writes_secs, 10);
            assert_eq!(config.database_max_connections, 7);
            Ok(())
        });
    }

    #[test]
    #[expect(
        clippy::result_large_err,
        reason = "figment::Jail fixes the closure's error type"
    )]
    fn retention_periods_come_from_the_file_and_the_environment() {
        figment::Jail::expect_with(|jail| {
            let config = Config::load(None, &Overrides::default()).map_err(|e| e.to_string())?;
            assert!(config.retention.enabled);
            assert_eq!(
                (
                    config.retention.inactive_months,
                    config.retention.grace_days
                ),
                (24, 30)
            );
            jail.create_file(
                "passerelle.toml",
                "[retention]\ninactive_months = 12\n[schedules]\nretention = \"\"\n",
            )?;
            jail.set_env("PASSERELLE_RETENTION__GRACE_DAYS", "7");
            jail.set_env("PASSERELLE_RETENTION__ENABLED", "false");
            let config = Config::load(None, &Overrides::default()).map_err(|e| e.to_string())?;
            assert_eq!(
                (
                    config.retention.inactive_months,
                    config.retention.grace_days
                ),
                (12, 7)
            );
            assert!(!config.retention.enabled);
            assert_eq!(config.schedules.retention, "");
            jail.set_env("PASSERELLE_RETENTION__GRACE_DAYS", "0");
            let err = Config::load(None, &Overrides::default()).unwrap_err();
            assert!(
                format!("{err:#}").contains("retention.grace_days"),
                "{err:#}"
            );
            Ok(())
        });
    }

    #[test]
    fn the_example_file_lists_every_key_with_its_default() {
        let example: Config = Figment::from(Toml::file(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/passerelle.example.toml"
        )))
        .extract()
        .expect("passerelle.example.toml parses");
        let defaults = Config::default();
        assert_eq!(
            toml_keys(&example),
            toml_keys(&defaults),
            "passerelle.example.toml and Config differ"
        );
    }

    fn toml_keys(config: &Config) -> String {
        serde_json::to_string(config).unwrap()
    }
}
