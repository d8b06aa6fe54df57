//! Benchmarks' databases, and `passerelle bench api`: mutations per second
//! through HTTP GraphQL with concurrent clients, their latency and the
//! process's memory, beside the raw store append rate measured in the same
//! run on the same database.
//!
//! The server runs in this process, so the memory figure covers the server
//! and its clients together: an upper bound of the server's own.

pub mod dashboards;
pub mod erasure;
pub mod pages;
pub mod round_trips;
pub mod seeding;
pub mod store;

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use passerelle_store::projection::Projections;
use passerelle_store::{Keyring, MIGRATOR, MasterKey, Store};
use serde::Serialize;
use serde_json::{Value, json};
use sqlx::Connection as _;
use sqlx::postgres::PgConnectOptions;

use crate::config::Config;
use crate::database::{self, Database};
use crate::server;

/// The connections of the API benchmark's own pool: its baseline, the
/// store's appends by as many writers as there are clients (16), needs that
/// many on the command path, which has half. The service it measures has
/// a pool of its own, as configured ([`BenchDatabase::service_store`]).
const BENCH_POOL: u32 = 40;

/// A database of its own for one benchmark run, new each time, on the same
/// server and settings as the service, migrated, with a store over it under
/// a throwaway master key.
pub struct BenchDatabase {
    pub store: Store,
    /// The round trips of every pool opened on the database here (the
    /// store's, a service's), when they go through the counting relay.
    pub round_trips: Option<round_trips::RoundTrips>,
    /// How a pool connects (through the counting relay, when it counts).
    options: PgConnectOptions,
    keyring: Keyring,
    name: &'static str,
    admin: sqlx::PgConnection,
}

impl BenchDatabase {
    /// With a pool of `max_connections` for readers, and half as many for
    /// the command path.
    pub async fn create(
        db: &Database,
        name: &'static str,
        max_connections: u32,
    ) -> anyhow::Result<Self> {
        Self::open(db, name, false, max_connections).await
    }

    /// Like [`BenchDatabase::create`] with [`BENCH_POOL`] connections, its
    /// round trips counted.
    pub async fn create_counted(db: &Database, name: &'static str) -> anyhow::Result<Self> {
        Self::open(db, name, true, BENCH_POOL).await
    }

    async fn open(
        db: &Database,
        name: &'static str,
        counted: bool,
        max_connections: u32,
    ) -> anyhow::Result<Self> {
        let mut admin =
            sqlx::PgConnection::connect_with(&db.server.clone().database("postgres")).await?;
        drop_database(&mut admin, name).await?;
        database::create_database_if_missing(&db.server, name).await?;
        let options = db.server.clone().database(name);
        let (options, round_trips) = match counted {
            true => match round_trips::relay(&options).await? {
                Some((through, count)) => (through, Some(count)),
                None => (options, None),
            },
            false => (options, None),
        };
        let keyring = Keyring::new(&MasterKey::generate());
        let store = store_over(&options, max_connections, &keyring).await?;
        MIGRATOR.run(store.pool()).await?;
        Ok(Self {
            store,
            round_trips,
            options,
            keyring,
            name,
            admin,
        })
    }

    /// A store on the same database with a pool of its own of
    /// `max_connections`, as `serve` opens it: the service measured beside
    /// the baseline has the connections it is configured with, not the
    /// baseline's. Counted like the store's pool when it counts.
    pub async fn service_store(&self, max_connections: u32) -> anyhow::Result<Store> {
        store_over(&self.options, max_connections, &self.keyring).await
    }

    pub async fn drop(mut self) -> anyhow::Result<()> {
        self.store.close().await;
        if self.round_trips.is_some() {
            round_trips::cleanup();
        }
        drop_database(&mut self.admin, self.name).await
    }
}

/// A store on a pool of `max_connections` opened with `options`.
async fn store_over(
    options: &PgConnectOptions,
    max_connections: u32,
    keyring: &Keyring,
) -> anyhow::Result<Store> {
    let pool = passerelle_store::connect(options.clone(), max_connections).await?;
    Ok(Store::new(
        pool,
        keyring.clone(),
        passerelle_app::upcasters(),
    ))
}

async fn drop_database(admin: &mut sqlx::PgConnection, name: &str) -> anyhow::Result<()> {
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "drop database if exists {name} with (force)"
    )))
    .execute(admin)
    .await?;
    Ok(())
}

#[derive(Debug, Serialize)]
pub struct ApiReport {
    pub clients: usize,
    pub mutations: u64,
    pub api_mutations_per_s: f64,
    pub store_appends_per_s: f64,
    pub ratio: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// The size of the service's pool (its command path has half), read
    /// from the pool it served on.
    pub service_connections: u32,
    /// The size of the baseline's pool (its appends have half).
    pub baseline_connections: u32,
    /// Seconds each side ran before the measured rounds, not counted.
    pub warm_up_s: f64,
    /// The mutations the clients sent, in the order each client cycles
    /// through them.
    pub mix: Vec<Kind>,
    /// Database round trips per mutation, counted on the wire during the
    /// API rounds (`None` for a server reached over the network).
    pub round_trips_per_mutation: Option<f64>,
    /// Round trips of one mutation of each kind, counted on the wire with
    /// one client before the rounds (every kind, in the mix or not), and
    /// its p50 latency then, in ms.
    pub round_trips_by_kind: Vec<KindTrips>,
    /// The same for the raw store appends, for comparison.
    pub round_trips_per_append: Option<f64>,
    /// Resident memory of the process (server and clients), at the end.
    pub rss_mb: f64,
    /// Peak resident memory of the process during the run.
    pub peak_rss_mb: f64,
    pub targets_met: bool,
}

/// One kind's round trips per mutation, counted alone.
#[derive(Debug, Serialize)]
pub struct KindTrips {
    pub kind: Kind,
    pub round_trips: Option<f64>,
    pub p50_ms: f64,
}

/// A mutation the benchmark sends: what a mediator does most, on an
/// employer of the client's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// `employerVisitLog`: a visit, the one fact written in the append's
    /// own statement from the start.
    Visit,
    /// `needSurface`: a need heard by phone.
    NeedSurface,
    /// `needQualify`: the client's last need surfaced, qualified.
    NeedQualify,
    /// `personEnroll`: a person enrolled, their identity sealed with a key
    /// of their own.
    PersonEnroll,
}

const PASSWORD: &str = "bench password, not a secret";
const VISIT: &str = "mutation($e: ID!) {
    employerVisitLog(input: { employerId: $e, purpose: FOLLOW_UP,
                              observations: \"Point sur les besoins\" }) {
        employer { visitCount }
    }
}";
const NEED_SURFACE: &str = "mutation($e: ID!) {
    needSurface(input: { employerId: $e, source: { kind: PHONE },
                         description: { activities: \"Mise en rayon\", romeCodes: [\"D1507\"],
                                        headcount: 1, horizon: WITHIN_THREE_MONTHS,
                                        hiringIntent: POSSIBLE } }) {
        need { id qualified }
    }
}";
const NEED_QUALIFY: &str = "mutation($n: ID!) {
    needQualify(input: { needId: $n,
                         description: { activities: \"Mise en rayon, réception\",
                                        romeCodes: [\"D1507\"], headcount: 2,
                                        horizon: WITHIN_THREE_MONTHS, hiringIntent: PLANNED } }) {
        need { id qualified }
    }
}";
const PERSON_ENROLL: &str = "mutation($last: String!) {
    personEnroll(input: { firstName: \"Camille\", lastName: $last,
                          birthDate: \"1990-05-14\" }) {
        person { id }
    }
}";

/// A last name of its own for each person enrolled: the same name and
/// birth date twice asks for a confirmation.
fn last_name() -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let mut n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut name = "Martin-".to_owned();
    loop {
        name.push(char::from(b'a' + (n % 26) as u8));
        n /= 26;
        if n == 0 {
            return name;
        }
    }
}

/// What a client keeps between its mutations: its employer, and its last
/// need surfaced (which `NeedQualify` qualifies).
struct Client {
    employer: String,
    need: Option<String>,
}

impl Client {
    /// Sends one mutation of `kind`.
    async fn send(
        &mut self,
        http: &reqwest::Client,
        url: &str,
        token: &str,
        kind: Kind,
    ) -> anyhow::Result<()> {
        match kind {
            Kind::Visit => {
                post(http, url, token, VISIT, json!({ "e": self.employer })).await?;
            }
            Kind::NeedSurface | Kind::NeedQualify
                if kind == Kind::NeedSurface || self.need.is_none() =>
            {
                let answer = post(
                    http,
                    url,
                    token,
                    NEED_SURFACE,
                    json!({ "e": self.employer }),
                )
                .await?;
                self.need = answer["data"]["needSurface"]["need"]["id"]
                    .as_str()
                    .map(str::to_owned);
                anyhow::ensure!(self.need.is_some(), "no need surfaced: {answer}");
            }
            Kind::NeedSurface | Kind::NeedQualify => {
                post(http, url, token, NEED_QUALIFY, json!({ "n": self.need })).await?;
            }
            Kind::PersonEnroll => {
                post(
                    http,
                    url,
                    token,
                    PERSON_ENROLL,
                    json!({ "last": last_name() }),
                )
                .await?;
            }
        }
        Ok(())
    }
}

fn memory_mb(field: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index].as_secs_f64() * 1000.0
}

async fn post(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    query: &str,
    variables: Value,
) -> anyhow::Result<Value> {
    let response = client
        .post(url)
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {token}"))
        .body(json!({ "query": query, "variables": variables }).to_string())
        .send()
        .await?;
    let answer: Value = serde_json::from_str(&response.text().await?)?;
    anyhow::ensure!(answer["errors"].is_null(), "the API refused: {answer}");
    Ok(answer)
}

/// Each client sends the mix's mutations in turn on an employer of its own
/// for `run_time`; returns the latencies.
async fn api_round(
    url: &str,
    token: &str,
    employers: &[String],
    mix: &[Kind],
    run_time: Duration,
) -> anyhow::Result<(Vec<Duration>, Duration)> {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (n, employer) in employers.iter().enumerate() {
        let (url, token, mix) = (url.to_owned(), token.to_owned(), mix.to_vec());
        let mut client = Client {
            employer: employer.clone(),
            need: None,
        };
        tasks.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut latencies = Vec::new();
            // Clients start at different places in the mix.
            let mut next = n % mix.len();
            while started.elapsed() < run_time {
                let sent = Instant::now();
                client.send(&http, &url, &token, mix[next]).await?;
                latencies.push(sent.elapsed());
                next = (next + 1) % mix.len();
            }
            Ok::<_, anyhow::Error>(latencies)
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await??);
    }
    Ok((all, started.elapsed()))
}

/// The round trips of one mutation of each kind, sent `times` times in a
/// row by one client, and the p50 latency.
async fn round_trips_by_kind(
    url: &str,
    token: &str,
    employer: &str,
    counted: impl Fn() -> Option<u64>,
    times: usize,
) -> anyhow::Result<Vec<KindTrips>> {
    let http = reqwest::Client::new();
    let mut client = Client {
        employer: employer.to_owned(),
        need: None,
    };
    // A need to qualify, and warm connections, before counting.
    client.send(&http, url, token, Kind::NeedSurface).await?;
    let mut all = Vec::new();
    for kind in [
        Kind::Visit,
        Kind::NeedSurface,
        Kind::NeedQualify,
        Kind::PersonEnroll,
    ] {
        client.send(&http, url, token, kind).await?;
        let before = counted();
        let mut latencies = Vec::with_capacity(times);
        for _ in 0..times {
            let sent = Instant::now();
            client.send(&http, url, token, kind).await?;
            latencies.push(sent.elapsed());
        }
        latencies.sort_unstable();
        let round_trips = match (before, counted()) {
            (Some(before), Some(after)) => Some((after - before) as f64 / times as f64),
            _ => None,
        };
        all.push(KindTrips {
            kind,
            round_trips,
            p50_ms: percentile(&latencies, 0.5),
        });
    }
    Ok(all)
}

/// The service's router (API and pages) over `pool`, wired as `serve`
/// wires it, served in this process on a loopback port of its own: its
/// base URL (`http://127.0.0.1:<port>`) and the task serving it.
pub(crate) async fn serve(
    config: &Config,
    pool: &sqlx::PgPool,
    projections: &Projections,
) -> anyhow::Result<(String, tokio::task::JoinHandle<()>)> {
    crate::wiring::open_command_path(projections).await;
    let api = Arc::new(OnceLock::new());
    let _ = api.set(crate::wiring::api_over(
        config,
        pool,
        &passerelle_graphql::Reads::primary_only(),
        projections,
    ));
    let app = server::router(server::AppState {
        pool: pool.clone(),
        metrics: crate::telemetry::init_metrics()?,
        api,
        http: server::HttpSettings::of(config),
        lifecycle: server::Lifecycle::running(),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let limits = crate::listen::Limits {
        head_within: config.api.request_read_within(),
        write_within: config.api.answer_write_within(),
        drain_within: Duration::ZERO,
        most_connections: config.api.max_connections,
    };
    let serving = tokio::spawn(crate::listen::serve(
        listener,
        app,
        limits,
        std::future::pending(),
    ));
    Ok((base, serving))
}

pub async fn run(
    config: &Config,
    db: &Database,
    clients: usize,
    seconds: f64,
    rounds: usize,
    warm_up: f64,
    mix: &[Kind],
) -> anyhow::Result<ApiReport> {
    anyhow::ensure!(!mix.is_empty(), "the mix names no mutation");
    let bench = BenchDatabase::create_counted(db, "passerelle_bench_api").await?;
    let counted = || bench.round_trips.as_ref().map(round_trips::RoundTrips::get);
    // The service on its configured pool (`database_max_connections`, and
    // half as many for its command path), the baseline's writers on the
    // benchmark's: with the baseline's pool, the service ran twice the
    // concurrent commands it runs deployed.
    let service = bench.service_store(config.database_max_connections).await?;
    let (pool, store) = (service.pool().clone(), bench.store.clone());
    let projections = Projections::new(
        service.clone(),
        passerelle_projections::all(),
        config.projections.runner(),
    );
    projections.setup().await?;
    let (base, serving) = serve(config, &pool, &projections).await?;
    let url = format!("{base}/graphql");

    passerelle_accounts::create_user(
        &pool,
        &passerelle_domain::values::Label::parse("Banc d'essai").expect("a label"),
        passerelle_accounts::StaffRole::Mediator,
        &passerelle_domain::values::Email::parse("bench@passerelle.invalid").expect("an email"),
        &passerelle_domain::values::Label::parse("Banc d'essai").expect("a label"),
        PASSWORD,
    )
    .await?;
    let client = reqwest::Client::new();
    let login = client
        .post(&url)
        .header("content-type", "application/json")
        .body(
            json!({ "query": "mutation($p: String!) { login(input: { email: \"bench@passerelle.invalid\", password: $p }) { token } }",
                    "variables": { "p": PASSWORD } })
                .to_string(),
        )
        .send()
        .await?
        .text()
        .await?;
    let login: Value = serde_json::from_str(&login)?;
    let token = login["data"]["login"]["token"]
        .as_str()
        .context("login failed")?
        .to_owned();
    let mut employers = Vec::new();
    for n in 0..clients {
        employers.push(register(&client, &url, &token, n).await?);
    }

    // Its own employer, so that its needs do not mix with the clients'.
    let calibration = register(&client, &url, &token, clients).await?;
    let round_trips_by_kind = round_trips_by_kind(&url, &token, &calibration, &counted, 50).await?;

    // Not counted. A connection's first run of each statement parses and
    // plans it, and a command path just opened does so for every statement
    // on every connection at once: in the first second of a 30 s run, 24
    // to 470 mutations took over 20 ms, up to 124 ms (docs/performance.md).
    // The baseline runs as long first, on streams of its own: those of a
    // round numbered after the measured ones.
    if warm_up > 0.0 {
        let warm = Duration::from_secs_f64(warm_up);
        api_round(&url, &token, &employers, mix, warm).await?;
        self::store::store_appends(&store, clients, 1, warm, rounds).await?;
    }
    let run_time = Duration::from_secs_f64(seconds);
    let (mut latencies, mut api_time) = (Vec::new(), Duration::ZERO);
    let (mut appended, mut store_time) = (0u64, Duration::ZERO);
    let (mut api_trips, mut store_trips) = (0u64, 0u64);
    for round in 0..rounds {
        let before = counted();
        let (l, t) = api_round(&url, &token, &employers, mix, run_time).await?;
        let between = counted();
        latencies.extend(l);
        api_time += t;
        let (n, t) = self::store::store_appends(&store, clients, 1, run_time, round).await?;
        // Both sides' pools count on one relay. A warm connection idle
        // 200 ms goes back to its pool, which pings it when it is taken
        // again: a few pings of one side (one a connection at most) can
        // fall in the other's phase, the baseline's warm-up's in the first
        // round's API phase.
        if let (Some(before), Some(between), Some(after)) = (before, between, counted()) {
            api_trips += between - before;
            store_trips += after - between;
        }
        appended += n;
        store_time += t;
        println!(
            "round {}: api {} mutations, store {} appends",
            round + 1,
            latencies.len(),
            appended
        );
    }
    latencies.sort_unstable();
    let mutations = latencies.len() as u64;
    let api_rate = mutations as f64 / api_time.as_secs_f64();
    let store_rate = appended as f64 / store_time.as_secs_f64();
    let (p50, p99) = (percentile(&latencies, 0.5), percentile(&latencies, 0.99));
    let (rss, peak) = (memory_mb("VmRSS:"), memory_mb("VmHWM:"));
    let ratio = api_rate / store_rate;
    let per = |trips: u64, n: u64| {
        (bench.round_trips.is_some() && n > 0).then(|| trips as f64 / n as f64)
    };
    let (round_trips_per_mutation, round_trips_per_append) =
        (per(api_trips, mutations), per(store_trips, appended));
    let service_connections = pool.options().get_max_connections();
    let baseline_connections = store.pool().options().get_max_connections();
    serving.abort();
    service.close().await;
    bench.drop().await?;
    Ok(ApiReport {
        clients,
        mutations,
        api_mutations_per_s: api_rate,
        store_appends_per_s: store_rate,
        ratio,
        p50_ms: p50,
        p99_ms: p99,
        service_connections,
        baseline_connections,
        warm_up_s: warm_up,
        mix: mix.to_vec(),
        round_trips_per_mutation,
        round_trips_by_kind,
        round_trips_per_append,
        rss_mb: rss,
        peak_rss_mb: peak,
        targets_met: ratio >= 0.5 && p99 < 20.0 && peak < 100.0,
    })
}

/// Registers the `n`th benchmark employer; its id.
async fn register(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    n: usize,
) -> anyhow::Result<String> {
    let siret = (0..10)
        .map(|d| format!("{:013}{d}", 4_100_000_000_000u64 + n as u64 * 7))
        .find(|s| passerelle_domain::values::Siret::parse(s).is_ok())
        .context("a SIRET")?;
    let answer = post(
        client,
        url,
        token,
        "mutation($s: String!, $n: String!) { employerRegister(input: { siret: $s, name: $n,
            naf: \"56\", commune: \"44109\" }) { employer { id } } }",
        json!({ "s": siret, "n": format!("Employeur {n}") }),
    )
    .await?;
    Ok(answer["data"]["employerRegister"]["employer"]["id"]
        .as_str()
        .context("an employer id")?
        .to_owned())
}
