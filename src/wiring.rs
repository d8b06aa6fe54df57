//! Wiring: the migrations, the projections, the mail sender and scheduler,
//! and the GraphQL API, from the configuration. Used by `serve`, `demo seed`
//! and the benchmarks alike.

use std::sync::Arc;

use anyhow::Context as _;
use passerelle_store::projection::Projections;
use passerelle_store::{Keyring, MIGRATOR, Store};

use crate::config::Config;
use crate::database::{self, Database};
use crate::server;

pub(crate) async fn migrate(db: &Database) -> anyhow::Result<()> {
    MIGRATOR.run(&db.pool).await.context("migration failed")?;
    tracing::info!("database schema is up to date");
    Ok(())
}

/// The store and the registered projections, over a migrated database.
pub(crate) async fn wire(config: &Config, pool: &sqlx::PgPool) -> anyhow::Result<Projections> {
    let projections = registry(config, pool).await?;
    projections
        .setup()
        .await
        .context("cannot set up projections")?;
    Ok(projections)
}

/// As [`wire`] for a replica that may be older than the database: when it
/// is (see `passerelle_store::fence`), the projections are not set up (that
/// would build this release's older DDL again) and the reason is returned.
pub(crate) async fn wire_unless_fenced(
    config: &Config,
    pool: &sqlx::PgPool,
) -> anyhow::Result<(Projections, Option<String>)> {
    let projections = registry(config, pool).await?;
    let fenced = passerelle_store::fence::fenced(pool, Some(&projections)).await?;
    if fenced.is_none() {
        projections
            .setup()
            .await
            .context("cannot set up projections")?;
    }
    Ok((projections, fenced))
}

/// Opens the command path's connections before the API takes its first
/// command: otherwise the first commands after a start each wait for one to
/// be opened. Not opened, they open as commands need them.
pub(crate) async fn open_command_path(projections: &Projections) {
    if let Err(e) = projections.store().open_command_path().await {
        tracing::warn!(
            error = %e,
            "the command path's connections could not be opened ahead: they open as commands need them"
        );
    }
}

/// The store and the registered projections, as they are in the database.
async fn registry(config: &Config, pool: &sqlx::PgPool) -> anyhow::Result<Projections> {
    let keyring = Keyring::new(&database::master_key(config)?);
    keyring.verify(pool).await?;
    let store = Store::new(pool.clone(), keyring, passerelle_app::upcasters());
    let mut list = passerelle_projections::all();
    list.push(Arc::new(passerelle_notify::Notifications::new(Arc::new(
        passerelle_app::SystemClock,
    ))));
    Ok(Projections::new(store, list, config.projections.runner()))
}

/// The mail sender and the job scheduler, from the configuration.
pub(crate) fn notifier(
    config: &Config,
    pool: &sqlx::PgPool,
) -> anyhow::Result<(passerelle_notify::Sender, passerelle_notify::Scheduler)> {
    let timeout = std::time::Duration::from_secs(config.mail.timeout_secs);
    let mailer = match &config.mail.smtp_url {
        Some(url) => {
            // Mails that really leave with links only this machine opens.
            let host = url::Url::parse(&config.mail.public_url)
                .ok()
                .and_then(|u| u.host_str().map(str::to_owned))
                .unwrap_or_default();
            if host == "localhost"
                || host.ends_with(".localhost")
                || host
                    .trim_matches(['[', ']'])
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback() || ip.is_unspecified())
            {
                tracing::warn!(
                    public_url = %config.mail.public_url,
                    "mail.public_url is a loopback address: links in mails sent through \
                     mail.smtp_url open only on this machine; set it to the address recipients reach"
                );
            }
            passerelle_notify::Mailer::smtp(url, &config.mail.from, timeout)?
        }
        None => {
            let dir = config
                .mail
                .dir
                .clone()
                .unwrap_or_else(|| config.data_dir.join("mail"));
            tracing::warn!(
                dir = %dir.display(),
                "no SMTP server configured (mail.smtp_url): mails are written as files"
            );
            passerelle_notify::Mailer::files(dir, &config.mail.from)?
        }
    };
    let clock: Arc<dyn passerelle_app::Clock> = Arc::new(passerelle_app::SystemClock);
    let domain = config
        .mail
        .from
        .rsplit_once('@')
        .map(|(_, d)| d.trim_end_matches('>').to_owned())
        .unwrap_or_else(|| "passerelle.localhost".into());
    let sender = passerelle_notify::Sender::new(
        pool.clone(),
        mailer,
        clock.clone(),
        passerelle_notify::SenderSettings {
            public_url: config.mail.public_url.clone(),
            magic_link_ttl: time::Duration::minutes(config.api.magic_link_minutes),
            action_link_ttl: time::Duration::days(config.mail.link_days),
            max_attempts: config.mail.max_attempts,
            lease: time::Duration::seconds(
                i64::try_from(config.mail.lease_secs).unwrap_or(i64::MAX),
            ),
            poll: std::time::Duration::from_millis(config.mail.poll_interval_ms),
            message_domain: domain,
            ..Default::default()
        },
    );
    let scheduler = passerelle_notify::Scheduler::new(
        pool.clone(),
        clock,
        &[
            (
                passerelle_notify::Job::Reminders,
                config.schedules.reminders.clone(),
            ),
            (
                passerelle_notify::Job::WeeklyDigest,
                config.schedules.weekly_digest.clone(),
            ),
            (
                passerelle_notify::Job::Retention,
                // Off: as an empty schedule, the job never runs.
                if config.retention.enabled {
                    config.schedules.retention.clone()
                } else {
                    String::new()
                },
            ),
        ],
        std::time::Duration::from_secs(config.schedules.poll_interval_secs),
    )?;
    Ok((sender, scheduler))
}

/// The scheduler with the retention job's periods and its erasures, done
/// through the erasure's command path over `projections`.
pub(crate) fn with_retention(
    config: &Config,
    scheduler: passerelle_notify::Scheduler,
    projections: &Projections,
) -> passerelle_notify::Scheduler {
    scheduler.with_retention(passerelle_notify::retention::Retention {
        settings: config.retention.settings(),
        eraser: Arc::new(passerelle_graphql::retention::RetentionEraser {
            handler: passerelle_app::Handler::new(
                Arc::new(projections.clone()),
                Arc::new(passerelle_app::SystemClock),
            ),
        }),
    })
}

/// The GraphQL API over the command path and the views.
pub(crate) fn api_over(
    config: &Config,
    pool: &sqlx::PgPool,
    reads: &passerelle_graphql::Reads,
    projections: &Projections,
) -> server::Api {
    let gateway = passerelle_graphql::Gateway {
        handler: passerelle_app::Handler::new(
            Arc::new(projections.clone()),
            Arc::new(passerelle_app::SystemClock),
        ),
        pool: pool.clone(),
        session_ttl: time::Duration::hours(config.api.session_hours),
        magic_link_ttl: time::Duration::minutes(config.api.magic_link_minutes),
        magic_links_in_log: config.api.magic_links_in_log,
        small_cell_threshold: config.dashboards.small_cell_threshold,
        throttle: Arc::new(passerelle_graphql::Throttle::new(config.api.throttle())),
        sessions: passerelle_graphql::Sessions::default(),
        retention: (config.retention.enabled && !config.schedules.retention.trim().is_empty())
            .then(|| config.retention.settings()),
    };
    if config.api.magic_links_in_log {
        tracing::warn!(
            "magic links are written to the log (api.magic_links_in_log): turn this off in production"
        );
    }
    server::Api {
        // Checked when the configuration is loaded.
        client_ip_header: config
            .api
            .client_ip_header
            .as_deref()
            .and_then(|h| axum::http::HeaderName::try_from(h).ok()),
        schema: passerelle_graphql::build_reading(
            gateway.clone(),
            passerelle_graphql::Limits {
                depth: config.api.max_depth,
                complexity: config.api.max_complexity,
                fields: config.api.max_fields,
                query_bytes: config.api.max_query_bytes,
                root_fields: config.api.max_root_fields,
                aliases: config.api.max_aliases,
                introspection: config.api.introspection,
            },
            reads.clone(),
        ),
        gateway,
    }
}

pub(crate) async fn wire_when_migrated(
    config: &Config,
    pool: &sqlx::PgPool,
) -> anyhow::Result<(Projections, Option<String>)> {
    tracing::warn!("migrations not applied: waiting for `passerelle migrate`");
    while !passerelle_store::pending_migrations(pool).await?.is_empty() {
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
    tracing::info!("migrations applied: starting projections");
    wire_unless_fenced(config, pool).await
}
