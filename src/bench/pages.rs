//! `passerelle bench pages`: the server time of the main pages (a
//! mediator's inbox, a people search, a person's file, an employer's file,
//! the open needs, a dashboard), from the request to the last byte of the
//! page, on the store `bench dashboards` seeds, beside a raw read of the
//! same store in the same run: the view rows the page shows, read on the
//! pool with no API, HTTP or rendering around them.
//!
//! The service's router is served in this process on a loopback port and
//! asked one page at a time over a kept-alive connection, so the figure is
//! the server's time plus a loopback round trip. The bench signs in through
//! the login page as a mediator of the structure with the most open
//! immersions (the demo records mediators' ids, not accounts: the bench
//! gives that mediator one, and a manager of the structure another for the
//! dashboard), and picks its ids from the store: the person of that
//! structure with the longest path, the employer with the most visits and
//! needs, the first name most of the structure's people bear.

use std::future::Future;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use passerelle_accounts::StaffRole;
use passerelle_domain::values::{Email, EmployerId, Label, PersonId, StructureId};
use passerelle_projections::dashboards::{self, Filter};
use passerelle_projections::views::{employers, needs, people};
use serde::Serialize;
use uuid::Uuid;

use crate::config::Config;
use crate::database::Database;

/// The p95 every page must stay under, in ms.
pub const TARGET_MS: f64 = 50.0;
const PASSWORD: &str = "bench password, not a secret";
/// Rows of a list's page (the pages' 20, and one to know there is more).
const ROWS: i64 = 21;
/// Runs of each page and read before the samples: plans and caches.
const WARM_UP: usize = 3;

/// Times of a page or a read over its samples, in ms.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Times {
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub max_ms: f64,
}

#[derive(Debug, Serialize)]
pub struct PageFigure {
    pub page: &'static str,
    /// The route asked, its ids as placeholders.
    pub route: &'static str,
    pub times: Times,
    /// The page's size, in bytes.
    pub bytes: usize,
    /// The raw read it stands beside.
    pub raw: &'static str,
    pub raw_times: Times,
    /// The page's p95 over the raw read's.
    pub ratio: f64,
    /// Its p95 is at or above [`TARGET_MS`].
    pub slow: bool,
}

#[derive(Debug, Serialize)]
pub struct PagesReport {
    pub events: i64,
    pub seeded_now: bool,
    pub samples: usize,
    /// What the pages were asked about, for a run to compare with another.
    pub people_in_structure: i64,
    pub timeline_entries: i64,
    pub employer_visits_and_needs: i64,
    pub search_matches: i64,
    pub pages: Vec<PageFigure>,
    /// Every page's p95 under [`TARGET_MS`].
    pub targets_met: bool,
}

/// Runs `work` `WARM_UP` times, then `samples` times timed one after the
/// other.
async fn timed<F, Fut>(samples: usize, work: F) -> anyhow::Result<Times>
where
    F: Fn() -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    for _ in 0..WARM_UP {
        work().await?;
    }
    let mut times = Vec::with_capacity(samples);
    for _ in 0..samples {
        let started = Instant::now();
        work().await?;
        times.push(started.elapsed());
    }
    times.sort_unstable();
    Ok(Times {
        p50_ms: super::percentile(&times, 0.5),
        p95_ms: super::percentile(&times, 0.95),
        max_ms: times.last().map_or(0.0, Duration::as_secs_f64) * 1000.0,
    })
}

/// A browser of the pages: its cookies (session and form token's), sent
/// back by hand, and no redirect followed.
struct Browser {
    http: reqwest::Client,
    base: String,
    cookies: Vec<String>,
}

impl Browser {
    fn new(base: &str) -> anyhow::Result<Self> {
        Ok(Self {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()?,
            base: base.to_owned(),
            cookies: vec!["__Host-passerelle_csrf=bench-pages-nonce".to_owned()],
        })
    }

    /// Sends a GET, or a form's POST; the status and the whole body.
    async fn ask(
        &self,
        path: &str,
        form: Option<&[(&str, &str)]>,
    ) -> anyhow::Result<(reqwest::StatusCode, Vec<u8>)> {
        let url = format!("{}{path}", self.base);
        let request = match form {
            None => self.http.get(url),
            Some(fields) => self
                .http
                .post(url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(encoded(fields)),
        };
        let response = request
            .header("cookie", self.cookies.join("; "))
            .send()
            .await?;
        let status = response.status();
        Ok((status, response.bytes().await?.to_vec()))
    }

    /// The page at `path` (GET) or the answer to a form (POST), which must
    /// be 200; its size.
    async fn page(&self, path: &str, form: Option<&[(&str, &str)]>) -> anyhow::Result<usize> {
        let (status, body) = self.ask(path, form).await?;
        anyhow::ensure!(
            status == reqwest::StatusCode::OK,
            "{path} answered {status}"
        );
        Ok(body.len())
    }

    /// The page's size, and its times over `samples` requests.
    async fn timed(
        &self,
        path: &str,
        form: Option<&[(&str, &str)]>,
        samples: usize,
    ) -> anyhow::Result<(usize, Times)> {
        let bytes = self.page(path, form).await?;
        let times = timed(
            samples,
            || async move { self.page(path, form).await.map(drop) },
        )
        .await?;
        Ok((bytes, times))
    }

    /// The form token of the page at `/`.
    async fn csrf(&self) -> anyhow::Result<String> {
        let (_, body) = self.ask("/", None).await?;
        let html = String::from_utf8(body)?;
        let marker = "name=\"csrf\" value=\"";
        let at = html
            .find(marker)
            .context("no form token on the home page")?
            + marker.len();
        let end = html[at..].find('"').context("a form token")?;
        Ok(html[at..at + end].to_owned())
    }

    /// Signs in through the login form, keeping the session's cookie.
    async fn login(&mut self, email: &str) -> anyhow::Result<()> {
        let csrf = self.csrf().await?;
        let url = format!("{}/connexion", self.base);
        let response = self
            .http
            .post(url)
            .header("cookie", self.cookies.join("; "))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(encoded(&[
                ("csrf", csrf.as_str()),
                ("email", email),
                ("password", PASSWORD),
            ]))
            .send()
            .await?;
        anyhow::ensure!(
            response.status().is_redirection(),
            "the login page answered {}",
            response.status()
        );
        let session: Vec<String> = response
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|v| v.split(';').next())
            .filter(|c| c.starts_with("__Host-passerelle_session="))
            .map(str::to_owned)
            .collect();
        anyhow::ensure!(!session.is_empty(), "no session after the login");
        self.cookies.extend(session);
        Ok(())
    }
}

/// A form's fields as its body.
fn encoded(fields: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish()
}

/// A staff account of `structure`, made once for the store: the
/// structure's row (the demo's structures have none) and the account,
/// under `user`'s id when given.
async fn account(
    pool: &sqlx::PgPool,
    structure: Uuid,
    user: Option<Uuid>,
    role: StaffRole,
    email: &str,
) -> anyhow::Result<()> {
    let exists: bool = sqlx::query_scalar("select exists (select 1 from users where email = $1)")
        .bind(email)
        .fetch_one(pool)
        .await?;
    if exists {
        return Ok(());
    }
    let name: String = sqlx::query_scalar(
        "insert into structures (structure_id, name) values ($1, $2)
         on conflict (structure_id) do update set name = structures.name
         returning name",
    )
    .bind(structure)
    .bind(format!("Structure de démonstration {}", structure.simple()))
    .fetch_one(pool)
    .await?;
    passerelle_accounts::create_user(
        pool,
        &Label::parse(&name).context("a structure's name")?,
        role,
        &Email::parse(email).context("an email")?,
        &Label::parse("Banc d'essai").context("a name")?,
        PASSWORD,
    )
    .await?;
    if let Some(user) = user {
        sqlx::query("update users set user_id = $1 where email = $2")
            .bind(user)
            .bind(email)
            .execute(pool)
            .await?;
    }
    Ok(())
}

/// The ids the pages are asked about.
struct Picked {
    mediator: Uuid,
    structure: Uuid,
    person: Uuid,
    employer: Uuid,
    term: String,
    people_in_structure: i64,
    timeline_entries: i64,
    employer_visits_and_needs: i64,
}

async fn pick(pool: &sqlx::PgPool) -> anyhow::Result<Picked> {
    let (mediator, structure): (Uuid, Uuid) = sqlx::query_as(
        "select mediator, structure from inbox.immersions
         group by mediator, structure order by count(*) desc, mediator limit 1",
    )
    .fetch_optional(pool)
    .await?
    .context("no open immersion in the store: seed more --events")?;
    let people_in_structure: i64 = sqlx::query_scalar(
        "select count(*) from people.people where structure = $1 and not erased",
    )
    .bind(structure)
    .fetch_one(pool)
    .await?;
    let (person, timeline_entries): (Uuid, i64) = sqlx::query_as(
        "select t.person_id, count(*) from people.timeline t
         join people.people p using (person_id)
         where p.structure = $1 and not p.erased
         group by t.person_id order by count(*) desc, t.person_id limit 1",
    )
    .bind(structure)
    .fetch_optional(pool)
    .await?
    .context("no person's path in the structure")?;
    let (employer, employer_visits_and_needs): (Uuid, i64) = sqlx::query_as(
        "select e.employer_id, e.visits + coalesce(n.needs, 0)
         from employers.employers e
         left join (select employer_id, count(*) as needs from needs.needs group by employer_id) n
           using (employer_id)
         order by 2 desc, e.employer_id limit 1",
    )
    .fetch_optional(pool)
    .await?
    .context("no employer in the store")?;
    let term: String = sqlx::query_scalar(
        "select split_part(search_name, ' ', 1) from people.people
         where structure = $1 and not erased and search_name is not null
         group by 1 order by count(*) desc, 1 limit 1",
    )
    .bind(structure)
    .fetch_optional(pool)
    .await?
    .context("no name to search in the structure")?;
    Ok(Picked {
        mediator,
        structure,
        person,
        employer,
        term,
        people_in_structure,
        timeline_entries,
        employer_visits_and_needs,
    })
}

pub async fn run(
    config: &Config,
    db: &Database,
    events: i64,
    reuse: bool,
    samples: usize,
) -> anyhow::Result<PagesReport> {
    use super::dashboards::{KEY_FILE, NAME};
    use super::seeding::{Seeded, seeded};
    let Seeded {
        pool,
        projections,
        events,
        seeded_now,
    } = seeded(
        config,
        db,
        NAME,
        KEY_FILE,
        events,
        super::seeding::TEMPLATE_EVENTS,
        reuse,
    )
    .await?;
    let p = pick(&pool).await?;
    let mediator_email = format!("banc-pages-{}@passerelle.invalid", p.mediator.simple());
    let manager_email = format!(
        "banc-pages-resp-{}@passerelle.invalid",
        p.structure.simple()
    );
    account(
        &pool,
        p.structure,
        Some(p.mediator),
        StaffRole::Mediator,
        &mediator_email,
    )
    .await?;
    account(&pool, p.structure, None, StaffRole::Manager, &manager_email).await?;

    let (base, serving) = super::serve(config, &pool, &projections).await?;
    let mut mediator = Browser::new(&base)?;
    mediator.login(&mediator_email).await?;
    let mut manager = Browser::new(&base)?;
    manager.login(&manager_email).await?;
    let csrf = mediator.csrf().await?;

    let filter = people::PeopleFilter {
        name_words: vec![p.term.clone()],
        ..people::PeopleFilter::default()
    };
    let search_matches = people::page(&pool, StructureId(p.structure), &filter, None, 1_000_000)
        .await?
        .len() as i64;
    let (person, employer) = (PersonId(p.person), EmployerId(p.employer));
    let person_path = format!("/people/{}", p.person);
    let employer_path = format!("/employers/{}", p.employer);
    let search_form = [("csrf", csrf.as_str()), ("nom", p.term.as_str())];
    let (pool, filter) = (&pool, &filter);

    let mut pages = Vec::new();
    let mut figure = |page, route, (bytes, times): (usize, Times), raw, raw_times: Times| {
        let f = PageFigure {
            page,
            route,
            times,
            bytes,
            raw,
            raw_times,
            ratio: times.p95_ms / raw_times.p95_ms.max(0.001),
            slow: times.p95_ms >= TARGET_MS,
        };
        println!(
            "{:<16} p50 {:>7.2} ms  p95 {:>7.2} ms  max {:>7.2} ms  {:>7} bytes | raw p95 {:>6.2} ms  ×{:.1}{}",
            f.page,
            f.times.p50_ms,
            f.times.p95_ms,
            f.times.max_ms,
            f.bytes,
            f.raw_times.p95_ms,
            f.ratio,
            if f.slow { "  SLOW" } else { "" }
        );
        pages.push(f);
    };

    let browser = &mediator;
    let page = browser.timed("/", None, samples).await?;
    let (m, s) = (p.mediator, p.structure);
    let raw = timed(samples, || async move {
        passerelle_projections::inbox::facts(pool, m, s).await?;
        Ok(())
    })
    .await?;
    figure("inbox", "GET /", page, "inbox::facts", raw);

    let form = Some(&search_form[..]);
    let page = browser.timed("/people/recherche", form, samples).await?;
    let raw = timed(samples, || async move {
        people::page(pool, StructureId(s), filter, None, ROWS).await?;
        Ok(())
    })
    .await?;
    let route = "POST /people/recherche";
    figure("people search", route, page, "people::page", raw);

    let page = browser.timed(&person_path, None, samples).await?;
    let raw = timed(samples, || async move {
        people::get(pool, person).await?;
        people::timeline_page(pool, person, None, ROWS, true).await?;
        Ok(())
    })
    .await?;
    let raw_read = "people::get, timeline_page";
    figure("person's file", "GET /people/<id>", page, raw_read, raw);

    let page = browser.timed(&employer_path, None, samples).await?;
    let raw = timed(samples, || async move {
        let ids = [employer.0];
        employers::get(pool, employer).await?;
        needs::pages_of_employers(pool, &ids, None, ROWS).await?;
        employers::visit_pages(pool, &ids, None, ROWS).await?;
        Ok(())
    })
    .await?;
    let raw_read = "employers::get, needs and visits pages";
    figure(
        "employer's file",
        "GET /employers/<id>",
        page,
        raw_read,
        raw,
    );

    let page = browser.timed("/besoins", None, samples).await?;
    let search = &needs::NeedSearch::default();
    let raw = timed(samples, || async move {
        needs::open_page(pool, None, search, ROWS).await?;
        Ok(())
    })
    .await?;
    figure("needs list", "GET /besoins", page, "needs::open_page", raw);

    let page = manager.timed("/tableaux/entonnoir", None, samples).await?;
    let raw = timed(samples, || async move {
        dashboards::funnel(pool, &Filter::default(), None).await?;
        Ok(())
    })
    .await?;
    let route = "GET /tableaux/entonnoir";
    figure("dashboard", route, page, "dashboards::funnel", raw);

    serving.abort();
    pool.close().await;
    let targets_met = pages.iter().all(|f| !f.slow);
    Ok(PagesReport {
        events,
        seeded_now,
        samples,
        people_in_structure: p.people_in_structure,
        timeline_entries: p.timeline_entries,
        employer_visits_and_needs: p.employer_visits_and_needs,
        search_matches,
        pages,
        targets_met,
    })
}
