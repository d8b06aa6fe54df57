//! `passerelle`: the service binary. Parses the command line and the
//! configuration, wires the store, the projections and the HTTP server.

mod bench;
mod cli;
mod config;
mod database;
mod demo;
mod fence;
mod graphiql;
mod listen;
mod server;
mod stall;
mod standby;
mod telemetry;
mod wiring;
mod ws_limits;

use std::process::ExitCode;
use std::sync::{Arc, OnceLock};

use anyhow::Context as _;
use clap::Parser;

use crate::cli::{
    BenchCommand, Cli, Command, DemoCommand, ErasureReasonArg, PeopleCommand, ProjectionsCommand,
    RetentionCommand, UsersCommand,
};
use crate::config::{Config, Overrides};
use crate::database::Database;
use crate::wiring::{
    api_over, migrate, notifier, open_command_path, wire, wire_unless_fenced, wire_when_migrated,
    with_retention,
};

// With the system's allocator, allocating took a sixth of the process's
// time in the API benchmark (server and its clients); mimalloc gives more
// mutations a second with less resident memory. Its `no_thp` build does
// not ask the kernel for transparent huge pages, which raised the peak
// (docs/performance.md, "Where a mutation's time goes").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let overrides = Overrides {
        bind: match &cli.command {
            Command::Serve { bind } => *bind,
            _ => None,
        },
        data_dir: cli.data_dir.clone(),
        log_format: cli.log_format,
    };
    let config = match Config::load(cli.config.as_deref(), &overrides) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    telemetry::init_logs(config.log_format, &config.log);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command, config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, config: Config) -> anyhow::Result<()> {
    if let Command::Schema = command {
        print!("{}", passerelle_graphql::sdl());
        return Ok(());
    }
    let db = Database::open(&config).await?;
    let result = match command {
        Command::Serve { .. } => serve(&config, &db).await,
        Command::Migrate => migrate(&db).await,
        Command::Projections { command } => projections(&config, &db, command).await,
        Command::Users { command } => users(&config, &db, command).await,
        Command::People { command } => people(&config, &db, command).await,
        Command::Retention { command } => retention(&config, &db, command).await,
        Command::Schema => unreachable!("printed before opening the database"),
        Command::Bench { command } => bench(&config, &db, command).await,
        Command::Demo {
            command:
                DemoCommand::Seed {
                    seed,
                    people,
                    employers,
                    months,
                },
        } => {
            let args = demo::SeedArgs {
                seed,
                people,
                employers,
                months,
            };
            demo::seed(&config, &db, args).await
        }
    };
    db.close().await;
    result
}

async fn users(config: &Config, db: &Database, command: UsersCommand) -> anyhow::Result<()> {
    let UsersCommand::Create {
        structure,
        role,
        email,
        name,
        password_stdin: _,
    } = command;
    if config.migrate_on_start {
        migrate(db).await?;
    }
    let mut password = String::new();
    std::io::stdin()
        .read_line(&mut password)
        .context("cannot read the password from standard input")?;
    let password = password.trim_end_matches(['\r', '\n']);
    let field = |what: &str, e: passerelle_domain::DomainError| anyhow::anyhow!("{what}: {e}");
    let user = passerelle_accounts::create_user(
        &db.pool,
        &passerelle_domain::values::Label::parse(&structure)
            .map_err(|e| field("--structure", e))?,
        passerelle_accounts::StaffRole::parse(&role).context("unknown role")?,
        &passerelle_domain::values::Email::parse(&email).map_err(|e| field("--email", e))?,
        &passerelle_domain::values::Label::parse(&name).map_err(|e| field("--name", e))?,
        password,
    )
    .await?;
    println!(
        "created {} ({}) in {} [{}]",
        user.email,
        user.role.as_str(),
        user.structure_name,
        user.user_id
    );
    Ok(())
}

/// `people erase`: the erasure a manager requested, run by an operator
/// through the same path as the mutation.
async fn people(config: &Config, db: &Database, command: PeopleCommand) -> anyhow::Result<()> {
    use passerelle_domain::person::ErasureReason;
    let PeopleCommand::Erase {
        id,
        reason,
        explanation,
        by,
        yes,
    } = command;
    anyhow::ensure!(yes, "the erasure cannot be undone: add --yes to confirm it");
    let pending = passerelle_store::pending_migrations(&db.pool).await?;
    anyhow::ensure!(
        pending.is_empty(),
        "migrations {pending:?} are not applied: run `passerelle migrate`"
    );
    let reason = match reason {
        ErasureReasonArg::PersonRequest => ErasureReason::PersonRequest,
        ErasureReasonArg::EndOfRetention => ErasureReason::EndOfRetention,
        ErasureReasonArg::Other => ErasureReason::Other,
    };
    let explanation = explanation
        .as_deref()
        .filter(|e| !e.trim().is_empty())
        .map(passerelle_domain::values::Text::parse)
        .transpose()
        .map_err(|e| anyhow::anyhow!("--explanation: {e}"))?;
    anyhow::ensure!(
        reason != ErasureReason::Other || explanation.is_some(),
        "--reason other needs --explanation"
    );
    let person = passerelle_domain::values::PersonId(id);
    let Some(row) = passerelle_projections::views::people::get(&db.pool, person).await? else {
        anyhow::bail!("no person {id}");
    };
    let requester = passerelle_accounts::staff_members(&db.pool)
        .await?
        .into_iter()
        .find(|u| u.email.eq_ignore_ascii_case(by.trim()))
        .filter(|u| {
            let asking = passerelle_graphql::staff_actor(u);
            passerelle_app::policy::reaches_person_row(&asking, &row)
                && passerelle_app::policy::erases_people(&asking)
        })
        .with_context(|| {
            format!("--by: no manager or admin of the person's structure has the address {by}")
        })?;
    let projections = std::sync::Arc::new(wire(config, &db.pool).await?);
    let handler = passerelle_app::Handler::new(
        projections,
        std::sync::Arc::new(passerelle_app::SystemClock),
    );
    let meta = passerelle_app::CommandMeta {
        command_id: uuid::Uuid::now_v7(),
        correlation_id: uuid::Uuid::now_v7(),
        causation_id: None,
        actor: passerelle_app::Actor::system("cli", requester.structure),
    };
    let started = std::time::Instant::now();
    match passerelle_graphql::erasure::erase_person(
        &handler,
        person,
        requester.user_id,
        reason,
        explanation,
        &meta,
    )
    .await
    {
        Ok(on) => println!("erased {id} on {on} in {:.0?}", started.elapsed()),
        // Already erased: the second step was finished again all the same.
        Err(passerelle_app::AppError::Domain(e))
            if e.rule == passerelle_domain::Rule::PersonErased =>
        {
            println!("{id} was already erased; its key, sessions and mails are gone");
        }
        Err(e) => return Err(e.into()),
    }
    Ok(())
}

/// `retention plan`: the retention job's next run, listed without running
/// it. Ids and dates only: a terminal's output may be kept in logs.
async fn retention(
    config: &Config,
    db: &Database,
    command: RetentionCommand,
) -> anyhow::Result<()> {
    use passerelle_app::Clock as _;
    let RetentionCommand::Plan = command;
    let pending = passerelle_store::pending_migrations(&db.pool).await?;
    anyhow::ensure!(
        pending.is_empty(),
        "migrations {pending:?} are not applied: run `passerelle migrate`"
    );
    let settings = config.retention.settings();
    let today = passerelle_app::SystemClock.today();
    let plan = passerelle_notify::retention::plan(&db.pool, today, settings).await?;
    if !config.retention.enabled || config.schedules.retention.trim().is_empty() {
        println!("retention is off (retention.enabled, schedules.retention): no run is scheduled");
    }
    println!(
        "on {today}, after {} months without a fact and {} days of grace: {} to warn, {} to erase",
        settings.inactive_months,
        settings.grace_days,
        plan.warn.len(),
        plan.erase.len()
    );
    let mut conn = db.pool.acquire().await?;
    let pruned = passerelle_notify::retention::prunable(
        &mut conn,
        passerelle_app::SystemClock.now(),
        settings,
    )
    .await?;
    println!(
        "past their period, to delete: {} mails (kept {} months once sent, failed or cancelled), \
         {} sessions and {} magic links (ended more than {} days ago), \
         {} health data reads ({} months), {} job runs ({} months)",
        pruned.mails,
        settings.mail_months,
        pruned.sessions,
        pruned.links,
        settings.session_days,
        pruned.health_reads,
        settings.health_log_months,
        pruned.job_runs,
        settings.job_run_months
    );
    println!("action\tperson\tstructure\tlast_activity\twarned_on");
    for (action, list) in [("warn", &plan.warn), ("erase", &plan.erase)] {
        for c in list {
            println!(
                "{action}\t{}\t{}\t{}\t{}",
                c.person_id,
                c.structure,
                c.last_activity,
                c.warned_on
                    .map_or_else(|| "-".to_owned(), |d| d.to_string())
            );
        }
    }
    Ok(())
}

async fn serve(config: &Config, db: &Database) -> anyhow::Result<()> {
    let metrics = telemetry::init_metrics()?;
    // A replica older than the database (a rolling upgrade under way)
    // migrates nothing: the newer release has.
    let unknown = passerelle_store::fence::unknown_migrations(&db.pool).await?;
    if config.migrate_on_start && unknown.is_empty() {
        migrate(db).await?;
    }
    // With the schema in place, a wrong master key or a broken projection
    // stops the start here; without it, serving starts at once, `/ready`
    // says what is missing and the projections wait for `passerelle migrate`.
    let ready_now = passerelle_store::pending_migrations(&db.pool)
        .await?
        .is_empty();
    let wired = if ready_now {
        Some(wire_unless_fenced(config, &db.pool).await?)
    } else {
        None
    };
    // Made before the first login, which would otherwise pay for it on an
    // unknown address only and so tell unknown addresses from known ones.
    passerelle_accounts::decoy_hash().await?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let (fence, fenced) = tokio::sync::watch::channel(None);
    let api = Arc::new(OnceLock::new());
    if let Some((p, _)) = &wired {
        open_command_path(p).await;
        serve_api(&api, api_over(config, &db.pool, &db.reads, p), &stopped);
    }
    tokio::spawn(standby::watch(
        db.pool.clone(),
        db.reads.clone(),
        std::time::Duration::from_millis(config.database.read_max_lag_ms),
        stopped.clone(),
    ));
    let runner = {
        let (config, pool, reads, api, stopped) = (
            config.clone(),
            db.pool.clone(),
            db.reads.clone(),
            api.clone(),
            stopped.clone(),
        );
        let notifier = notifier(&config, &pool)?;
        tokio::spawn(async move {
            let (projections, reason) = match wired {
                Some(wired) => wired,
                None => match wire_when_migrated(&config, &pool).await {
                    Ok(wired) => {
                        open_command_path(&wired.0).await;
                        serve_api(&api, api_over(&config, &pool, &reads, &wired.0), &stopped);
                        wired
                    }
                    Err(e) => {
                        tracing::error!("projections cannot start: {e:#}");
                        return;
                    }
                },
            };
            let (sender, scheduler) = notifier;
            let notifier = (sender, with_retention(&config, scheduler, &projections));
            // Mail needs the migrated schema, as the projections do.
            fence::run(pool, projections, reason, fence, notifier, stopped).await;
        })
    };

    let listener = tokio::net::TcpListener::bind(config.bind)
        .await
        .with_context(|| format!("cannot listen on {}", config.bind))?;
    let address = listener.local_addr()?;
    tracing::info!(%address, "listening on http://{address}");
    let lifecycle = server::Lifecycle {
        stopping: stopped,
        sockets: Arc::new(tokio::sync::watch::channel(0).0),
        fenced,
    };
    let app = server::router(server::AppState {
        pool: db.pool.clone(),
        metrics,
        api,
        http: server::HttpSettings::of(config),
        lifecycle: lifecycle.clone(),
    });
    // On SIGTERM: no new connection is accepted, requests under way finish,
    // subscriptions close with a reconnect hint, the mail sender gives back
    // what it holds, and the runner ends its batch.
    let signalled = async move {
        server::shutdown_signal().await;
        let _ = stop.send(true);
    };
    // Descriptors kept for the pools (the readers' and the command path's,
    // half as many), the mail sender, the log and files.
    let reserved = config.database_max_connections as usize * 2 + 64;
    let limits = listen::Limits {
        head_within: config.api.request_read_within(),
        write_within: config.api.answer_write_within(),
        drain_within: config.shutdown_timeout(),
        most_connections: listen::most_connections(config.api.max_connections, reserved),
    };
    listen::serve(listener, app, limits, signalled).await;

    let deadline = tokio::time::Instant::now() + config.shutdown_timeout();
    if tokio::time::timeout_at(deadline, lifecycle.sockets_closed())
        .await
        .is_err()
    {
        tracing::warn!("subscriptions did not close in time");
    }
    if tokio::time::timeout_at(deadline, runner).await.is_err() {
        tracing::warn!("projection runner did not stop in time");
    }
    tracing::info!("stopped");
    Ok(())
}

/// Makes the API available to requests, and relays live updates between
/// this replica and the others until `stopped`.
fn serve_api(
    slot: &OnceLock<server::Api>,
    api: server::Api,
    stopped: &tokio::sync::watch::Receiver<bool>,
) {
    tokio::spawn(passerelle_app::fan_out(
        api.gateway.handler.clone(),
        stopped.clone(),
    ));
    let _ = slot.set(api);
}

async fn projections(
    config: &Config,
    db: &Database,
    command: ProjectionsCommand,
) -> anyhow::Result<()> {
    let pending = passerelle_store::pending_migrations(&db.pool).await?;
    anyhow::ensure!(
        pending.is_empty(),
        "migrations {pending:?} are not applied: run `passerelle migrate`"
    );
    let projections = wire(config, &db.pool).await?;
    match command {
        ProjectionsCommand::Status => {
            println!(
                "{:<24} {:>7} {:<16} {:<6} {:>22} {:>12} {:>10} {:>8}  last error",
                "projection",
                "version",
                "status",
                "mode",
                "position (tx, pos)",
                "applied",
                "lag",
                "failures"
            );
            for s in projections.status().await? {
                let mode = match s.mode {
                    Some(passerelle_store::projection::Mode::Inline) => "inline",
                    Some(passerelle_store::projection::Mode::Async) => "async",
                    None => "gone",
                };
                // A stale version (made with another DDL) is replaced once
                // the version being built catches up.
                let status = match (s.paused, s.current) {
                    (true, _) => "paused".to_owned(),
                    (false, true) => s.status.clone(),
                    (false, false) => format!("{} (stale)", s.status),
                };
                println!(
                    "{:<24} {:>7} {:<16} {:<6} {:>22} {:>12} {:>10} {:>8}  {}",
                    s.projection,
                    s.version,
                    status,
                    mode,
                    format!(
                        "({}, {})",
                        s.position.transaction_id, s.position.global_position
                    ),
                    s.events_applied,
                    s.lag,
                    s.failures,
                    s.last_error.unwrap_or_default()
                );
            }
        }
        ProjectionsCommand::Rebuild { names, all } => {
            if let [name] = names.as_slice() {
                let report = projections.rebuild(name, true).await?;
                println!(
                    "{name}: version {} is live ({} events in {:.1} s)",
                    report.version,
                    report.events,
                    report.elapsed.as_secs_f64()
                );
            } else {
                // Every projection when `--all` (the names are empty then).
                let names: Vec<&str> = names.iter().map(String::as_str).collect();
                debug_assert!(all || names.len() > 1);
                let report = projections.rebuild_all(&names, true).await?;
                let pass = report.pass.as_secs_f64();
                println!(
                    "{} events read once in {pass:.1} s ({:.0} events/s), swaps done at {:.1} s",
                    report.events,
                    report.events as f64 / pass,
                    report.elapsed.as_secs_f64()
                );
                for s in &report.projections {
                    println!(
                        "{}: version {} is live ({} events, {} handled; applying {:.1} s, slowest of {} batches; swap {:.1} s)",
                        s.projection,
                        s.version,
                        s.events,
                        s.handled,
                        s.apply.as_secs_f64(),
                        s.slowest_batches,
                        s.swap.as_secs_f64()
                    );
                }
            }
        }
        ProjectionsCommand::Resume { name } => {
            projections.resume(&name).await?;
            println!("{name}: resumed");
        }
    }
    Ok(())
}

async fn bench(config: &Config, db: &Database, command: BenchCommand) -> anyhow::Result<()> {
    let (events, seconds, rounds) = match command {
        BenchCommand::Store {
            events,
            seconds,
            rounds,
        } => (events, seconds, rounds),
        BenchCommand::Dashboards {
            events,
            reuse,
            samples,
            template_events,
            no_rebuild_each,
        } => {
            let r = bench::dashboards::run(
                config,
                db,
                events,
                template_events,
                reuse,
                samples,
                !no_rebuild_each,
            )
            .await?;
            println!(
                "targets met (every query p95 < {} ms, < {} ms as of a date; one-pass rebuild ≥ {} log events/s): {}",
                bench::dashboards::QUERY_TARGET_MS,
                bench::dashboards::AS_OF_TARGET_MS,
                bench::dashboards::REBUILD_TARGET,
                r.targets_met
            );
            println!("{}", serde_json::to_string(&r)?);
            return Ok(());
        }
        BenchCommand::Pages {
            events,
            reuse,
            samples,
        } => {
            let r = bench::pages::run(config, db, events, reuse, samples).await?;
            println!();
            println!(
                "{} events; {} samples a page; the person's path {} entries, the employer's visits and needs {}, the search {} people of {} in the structure",
                r.events,
                r.samples,
                r.timeline_entries,
                r.employer_visits_and_needs,
                r.search_matches,
                r.people_in_structure
            );
            println!();
            println!(
                "| page | route | p50 ms | p95 ms | max ms | raw read (same store) | raw p50 ms | raw p95 ms | p95 ratio | p95 < {} ms |",
                bench::pages::TARGET_MS
            );
            println!(
                "|------|-------|-------:|-------:|-------:|-----------------------|-----------:|-----------:|----------:|:--:|"
            );
            for f in &r.pages {
                println!(
                    "| {} | `{}` | {:.1} | {:.1} | {:.1} | `{}` | {:.2} | {:.2} | {:.1} | {} |",
                    f.page,
                    f.route,
                    f.times.p50_ms,
                    f.times.p95_ms,
                    f.times.max_ms,
                    f.raw,
                    f.raw_times.p50_ms,
                    f.raw_times.p95_ms,
                    f.ratio,
                    if f.slow { "**no**" } else { "yes" }
                );
            }
            println!(
                "targets met (every page's p95 < {} ms): {}",
                bench::pages::TARGET_MS,
                r.targets_met
            );
            println!("{}", serde_json::to_string(&r)?);
            return Ok(());
        }
        BenchCommand::Erasure {
            people,
            events,
            reuse,
        } => {
            let r = bench::erasure::run(config, db, people, events, reuse).await?;
            println!(
                "{} erasures ({} at a time) in {:.1} s: {:.1} erasures/s, p50 {:.0} ms, p99 {:.0} ms; projections caught up in {:.1} s; {} events in the store",
                r.people,
                r.concurrent,
                r.erasures_s,
                r.erasures_per_s,
                r.p50_ms,
                r.p99_ms,
                r.catch_up_s,
                r.events
            );
            for d in &r.differing {
                println!("differs: {d}");
            }
            println!(
                "{} dashboard figures compared, {} differ",
                r.figures_compared,
                r.differing.len()
            );
            println!(
                "targets met (erasures < 30 s, every dashboard equal): {}",
                r.targets_met
            );
            println!("{}", serde_json::to_string(&r)?);
            anyhow::ensure!(
                r.differing.is_empty(),
                "the erasures changed {} dashboard figures",
                r.differing.len()
            );
            return Ok(());
        }
        BenchCommand::Api {
            clients,
            seconds,
            rounds,
            warm_up,
            mix,
        } => {
            let r = bench::run(config, db, clients, seconds, rounds, warm_up, &mix).await?;
            println!();
            println!("| mutation | round trips | p50 ms (one client) |");
            println!("|----------|------------:|--------------------:|");
            for k in &r.round_trips_by_kind {
                let trips = k
                    .round_trips
                    .map_or("not counted".to_owned(), |t| format!("{t:.2}"));
                println!("| {:?} | {trips} | {:.1} |", k.kind, k.p50_ms);
            }
            println!();
            println!(
                "| clients | API mutations/s | store appends/s | ratio | p50 ms | p99 ms | RSS MB (peak) |"
            );
            println!(
                "|--------:|----------------:|----------------:|------:|-------:|-------:|--------------:|"
            );
            println!(
                "| {} | {:.0} | {:.0} | {:.2} | {:.1} | {:.1} | {:.0} ({:.0}) |",
                r.clients,
                r.api_mutations_per_s,
                r.store_appends_per_s,
                r.ratio,
                r.p50_ms,
                r.p99_ms,
                r.rss_mb,
                r.peak_rss_mb
            );
            println!(
                "connections: the service's pool {} (half of them for commands), the baseline's {} (half of them for its appends)",
                r.service_connections, r.baseline_connections
            );
            println!("each side ran {} s first, not counted", r.warm_up_s);
            match (r.round_trips_per_mutation, r.round_trips_per_append) {
                (Some(mutation), Some(append)) => println!(
                    "database round trips, counted on the wire: {mutation:.2} per mutation of the mix {:?}, {append:.2} per raw append",
                    r.mix
                ),
                _ => {
                    println!("database round trips: not counted (server reached over the network)")
                }
            }
            println!(
                "targets met (ratio ≥ 0.5, p99 < 20 ms, peak RSS < 100 MB): {}",
                r.targets_met
            );
            println!("{}", serde_json::to_string(&r)?);
            return Ok(());
        }
    };
    let config = bench::store::BenchConfig {
        run_time: std::time::Duration::from_secs_f64(seconds),
        read_events: events,
        rounds,
        ..Default::default()
    };
    let bench = bench::BenchDatabase::create(db, "passerelle_bench", config.pool_size()).await?;
    let report = bench::store::run(&bench.store, &config, |line| println!("{line}")).await?;
    println!();
    println!("| writers | events/append | store events/s | raw events/s | ratio |");
    println!("|--------:|--------------:|---------------:|-------------:|------:|");
    for a in &report.appends {
        println!(
            "| {} | {} | {:.0} | {:.0} | {:.2} |",
            a.writers, a.events_per_append, a.store_events_per_s, a.raw_events_per_s, a.ratio
        );
    }
    let r = &report.read_all;
    println!(
        "| read-all | {} events | {:.0} | {:.0} | {:.2} |",
        r.events, r.store_events_per_s, r.raw_events_per_s, r.ratio
    );
    println!("targets met: {}", report.targets_met);
    println!("{}", serde_json::to_string(&report)?);
    bench.drop().await
}
