//! The command line: its commands, their arguments and flags, as `clap`
//! parses them. What each command does is in `main.rs` and the modules it
//! calls.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::config::LogFormat;

#[derive(Debug, Parser)]
#[command(
    name = "passerelle",
    version,
    about = "Médiation active vers l'emploi : service Passerelle"
)]
pub(crate) struct Cli {
    /// Configuration file (default: ./passerelle.toml when present).
    #[arg(long, global = true, env = "PASSERELLE_CONFIG")]
    pub(crate) config: Option<PathBuf>,
    /// Data directory: private PostgreSQL cluster, master key.
    #[arg(long, global = true)]
    pub(crate) data_dir: Option<PathBuf>,
    /// Log format.
    #[arg(long, global = true, value_enum)]
    pub(crate) log_format: Option<LogFormat>,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Serve HTTP (health, readiness, metrics) and run the projections.
    Serve {
        /// Listen address, e.g. 0.0.0.0:8080.
        #[arg(long)]
        bind: Option<std::net::SocketAddr>,
    },
    /// Apply pending database migrations.
    Migrate,
    /// Inspect or rebuild read models.
    Projections {
        #[command(subcommand)]
        command: ProjectionsCommand,
    },
    /// Print the GraphQL schema (SDL, sorted), as committed in graphql-schema/.
    Schema,
    /// Manage staff accounts.
    Users {
        #[command(subcommand)]
        command: UsersCommand,
    },
    /// The people accompanied, for operators.
    People {
        #[command(subcommand)]
        command: PeopleCommand,
    },
    /// The retention of people's data (warnings, then erasures).
    Retention {
        #[command(subcommand)]
        command: RetentionCommand,
    },
    /// Demonstration data.
    Demo {
        #[command(subcommand)]
        command: DemoCommand,
    },
    /// Measure performance beside raw PostgreSQL baselines.
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum ProjectionsCommand {
    /// Each projection's version, state, position and lag.
    Status,
    /// Build a new version from the whole log while the live one serves, then swap.
    /// Several projections (or `--all`) are built together in one pass over the log.
    #[command(arg_required_else_help = true)]
    Rebuild {
        /// The projections to rebuild.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        names: Vec<String>,
        /// Every projection, in one pass over the log.
        #[arg(long)]
        all: bool,
    },
    /// Let a projection paused by repeated failures run again.
    Resume { name: String },
}

#[derive(Debug, Subcommand)]
pub(crate) enum UsersCommand {
    /// Create a staff account (and its structure when no structure has that name).
    Create {
        /// The structure's name, e.g. "Mission locale de Nantes".
        #[arg(long)]
        structure: String,
        #[arg(long, value_parser = ["admin", "manager", "mediator"])]
        role: String,
        #[arg(long)]
        email: String,
        /// The person's full name.
        #[arg(long)]
        name: String,
        /// Read the password from the first line of standard input (it never
        /// appears in the process list or the shell history).
        #[arg(long, required = true)]
        password_stdin: bool,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum PeopleCommand {
    /// Erase a person's data for good (their key destroyed, their sessions,
    /// links and mails forgotten), the figures kept; at a manager's request.
    Erase {
        /// The person's id.
        id: uuid::Uuid,
        #[arg(long, value_enum)]
        reason: ErasureReasonArg,
        /// Why, in a few words (required with `--reason other`); erased
        /// with the person.
        #[arg(long)]
        explanation: Option<String>,
        /// The email of the manager or admin of the person's structure who
        /// requests the erasure, recorded as its author.
        #[arg(long)]
        by: String,
        /// Confirms: the erasure cannot be undone.
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum RetentionCommand {
    /// List, changing nothing, whom the next run of the retention job would
    /// warn about and erase today: ids and dates only.
    Plan,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum ErasureReasonArg {
    PersonRequest,
    EndOfRetention,
    Other,
}

#[derive(Debug, Subcommand)]
pub(crate) enum DemoCommand {
    /// Generate a realistic multi-year history on an empty database, with
    /// staff accounts for three structures (the same seed gives the same history).
    Seed {
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// People accompanied.
        #[arg(long, default_value_t = 300)]
        people: usize,
        /// Employers of the territory.
        #[arg(long, default_value_t = 120)]
        employers: usize,
        /// Months of history, up to today.
        #[arg(long, default_value_t = 24)]
        months: u32,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum BenchCommand {
    /// GraphQL mutations over HTTP with concurrent clients, beside raw store appends.
    Api {
        /// Concurrent clients, each on an employer of its own.
        #[arg(long, default_value_t = 16)]
        clients: usize,
        /// Seconds per measured run.
        #[arg(long, default_value_t = 3.0, value_parser = run_seconds)]
        seconds: f64,
        /// Runs per side, API and store alternating.
        #[arg(long, default_value_t = 3, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
        rounds: usize,
        /// Seconds each side runs first, not counted: a service's first
        /// commands prepare each connection's statements.
        #[arg(long, default_value_t = 2.0, value_parser = warm_up_seconds)]
        warm_up: f64,
        /// The mutations each client sends in turn (every kind's round
        /// trips are counted apart before the rounds either way).
        #[arg(
            long,
            value_delimiter = ',',
            default_value = "visit,need-surface,need-qualify"
        )]
        mix: Vec<crate::bench::Kind>,
    },
    /// Each dashboard query's p50/p95 and every projection's rebuild rate on a
    /// seeded store, beside a raw sequential read of the same events.
    Dashboards {
        /// Events the seeded store holds at least.
        #[arg(long, default_value_t = 1_000_000)]
        events: i64,
        /// Keep the store an earlier run seeded (and its key) instead of
        /// seeding anew, grown to `--events` by further copies of its template.
        #[arg(long)]
        reuse: bool,
        /// Runs of each query.
        #[arg(long, default_value_t = 40)]
        samples: usize,
        /// Events seeded through the command path at most; a larger store
        /// is copies of them under fresh identities.
        #[arg(long, default_value_t = crate::bench::seeding::TEMPLATE_EVENTS,
              value_parser = clap::value_parser!(i64).range(1..))]
        template_events: i64,
        /// Skip rebuilding each projection alone after the one-pass
        /// rebuild: at ten million events they take the better part of an
        /// hour, and the cost curve needs the one pass only.
        #[arg(long)]
        no_rebuild_each: bool,
    },
    /// Erases people of a seeded store through `personErase`'s path, timed,
    /// and checks every dashboard reads the same figures afterwards.
    Erasure {
        /// People erased.
        #[arg(long, default_value_t = 1_000)]
        people: usize,
        /// Events the seeded store holds at least.
        #[arg(long, default_value_t = 1_000_000)]
        events: i64,
        /// Keep the store an earlier run seeded (and its key) instead of
        /// seeding anew; people erased before are not picked again.
        #[arg(long)]
        reuse: bool,
    },
    /// The server time of the main pages (inbox, people search, a person's
    /// file, an employer's file, the open needs, a dashboard) on the store
    /// `bench dashboards` seeds, each beside a raw read of the same store.
    Pages {
        /// Events the seeded store holds at least.
        #[arg(long, default_value_t = 1_000_000)]
        events: i64,
        /// Keep the store an earlier run of `bench pages` or `bench
        /// dashboards` seeded (and its key) instead of seeding anew.
        #[arg(long)]
        reuse: bool,
        /// Timed requests of each page, and runs of each raw read, after
        /// three to warm up.
        #[arg(long, default_value_t = 100)]
        samples: usize,
    },
    /// Appends with 1, 8 and 32 writers and read-all, beside raw inserts and reads.
    Store {
        /// Events in the log for the read-all measure.
        #[arg(long, default_value_t = 1_000_000)]
        events: i64,
        /// Seconds per measured run.
        #[arg(long, default_value_t = 1.5, value_parser = run_seconds)]
        seconds: f64,
        /// Runs per side and case, store and raw alternating.
        #[arg(long, default_value_t = 4, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
        rounds: usize,
    },
}

/// A benchmark's measured run: more than zero seconds, at most a day.
fn run_seconds(text: &str) -> Result<f64, String> {
    let seconds = warm_up_seconds(text)?;
    if seconds > 0.0 {
        Ok(seconds)
    } else {
        Err("a run lasts more than zero seconds".into())
    }
}

/// Seconds a benchmark runs before it measures: zero or more, at most a
/// day (a duration the clock can hold).
fn warm_up_seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(seconds) if (0.0..=86_400.0).contains(&seconds) => Ok(seconds),
        _ => Err("a number of seconds from 0 to 86400".into()),
    }
}
