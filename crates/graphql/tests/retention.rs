//! The retention of people's data with the clock moving: a person with no
//! fact for 24 months is announced to their referent by mail, then erased
//! 30 days later through the erasure's path (reason `end_of_retention`, by
//! `system:retention`); a person whose retention their referent extended
//! is kept, and warned again once the extension lapses; an active person
//! is untouched; the dry run lists exactly what the run then does.

mod support;

use std::sync::Arc;

use passerelle_accounts::{StaffRole, User};
use passerelle_app::{Actor, Clock as _, CommandMeta, FixedClock, Handler, Role, Views};
use passerelle_domain::person::{Identity, LegalBasis, Person, PersonCommand};
use passerelle_domain::values::*;
use passerelle_graphql::retention::RetentionEraser;
use passerelle_graphql::{Gateway, PasserelleSchema, Viewer, prepare};
use passerelle_notify::retention::{self, Candidate, Plan, Retention, Settings};
use passerelle_notify::{Job, Scheduler};
use passerelle_store::projection::Projections;
use passerelle_store::testkit::TestDb;
use serde_json::{Value, json};
use time::macros::{date, datetime};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

const EXTEND: &str = "mutation($p: ID!, $r: String!, $m: Int!) {
    personRetentionExtend(input: { personId: $p, reason: $r, months: $m }) {
        personId retainedUntil } }";

fn structure() -> StructureId {
    StructureId(Uuid::from_u128(1))
}
fn referent() -> UserId {
    UserId(Uuid::from_u128(2))
}
fn other_mediator() -> UserId {
    UserId(Uuid::from_u128(3))
}
/// Inactive, then erased.
fn left() -> PersonId {
    PersonId(Uuid::from_u128(10))
}
/// Inactive, kept by an extension.
fn kept() -> PersonId {
    PersonId(Uuid::from_u128(11))
}
/// Active: a fact recorded a year and a half after enrolment.
fn active() -> PersonId {
    PersonId(Uuid::from_u128(12))
}

struct World {
    db: TestDb,
    projections: Arc<Projections>,
    handler: Handler,
    clock: Arc<FixedClock>,
    schema: PasserelleSchema,
    gateway: Gateway,
    scheduler: Scheduler,
}

/// 05:00 in Paris in winter, past the 03:00 run.
fn at(day: Date) -> OffsetDateTime {
    day.with_hms(4, 0, 0).unwrap().assume_utc()
}

impl World {
    async fn new() -> Self {
        let db = TestDb::new().await;
        let projections = support::projections(&db).await;
        let clock = Arc::new(FixedClock::new(datetime!(2024-01-10 09:00 UTC)));
        let handler = Handler::new(projections.clone(), clock.clone());
        let (gateway, schema) = support::gateway(handler.clone(), &db);
        let scheduler = Scheduler::new(
            db.pool.clone(),
            clock.clone(),
            &[(Job::Retention, "0 0 3 * * *".into())],
            std::time::Duration::from_secs(1),
        )
        .unwrap()
        .with_retention(Retention {
            settings: Settings::default(),
            eraser: Arc::new(RetentionEraser {
                handler: handler.clone(),
            }),
        });
        let w = Self {
            db,
            projections,
            handler,
            clock,
            schema,
            gateway,
            scheduler,
        };
        // The scheduler's first sight of its job.
        w.scheduler.tick().await.unwrap();
        w
    }

    async fn command(&self, id: PersonId, command: PersonCommand) {
        let meta = CommandMeta {
            command_id: Uuid::new_v4(),
            correlation_id: Uuid::new_v4(),
            causation_id: None,
            actor: Actor::user(referent(), Role::Mediator, structure()),
        };
        self.handler
            .execute::<Person>(id, &command, &meta, &Views)
            .await
            .unwrap();
        self.projections.catch_up().await.unwrap();
    }

    async fn enroll(&self, id: PersonId, first_name: &str) {
        self.command(
            id,
            PersonCommand::Enroll {
                person_id: id,
                structure: structure(),
                referent: referent(),
                identity: Identity {
                    first_name: Label::parse(first_name).unwrap(),
                    last_name: Label::parse("Kerbrat").unwrap(),
                    birth_date: date!(1998 - 03 - 14),
                    email: None,
                    phone: None,
                    address: None,
                },
                commune: None,
                legal_basis: LegalBasis::PublicInterestMission,
                enrolled_on: self.clock.today(),
            },
        )
        .await;
    }

    fn on(&self, day: Date) {
        self.clock.set(at(day));
    }

    async fn plan(&self) -> Plan {
        retention::plan(&self.db.pool, self.clock.today(), Settings::default())
            .await
            .unwrap()
    }

    /// One scheduled run; its items.
    async fn run(&self) -> i32 {
        let runs = self.scheduler.tick().await.unwrap();
        assert_eq!(runs.len(), 1, "{runs:?}");
        assert_eq!(runs[0].outcome, "succeeded", "{runs:?}");
        assert_eq!(runs[0].job, "retention");
        self.projections.catch_up().await.unwrap();
        runs[0].items
    }

    fn viewer(user: UserId, role: StaffRole) -> Viewer {
        Viewer {
            user: Some(User {
                user_id: user,
                structure: structure(),
                structure_name: "Mission locale".into(),
                role,
                email: "camille@ml.example.org".into(),
                name: "Camille".into(),
            }),
            principal: None,
            token: None,
            client: None,
        }
    }

    async fn extend(
        &self,
        by: UserId,
        role: StaffRole,
        person: PersonId,
        reason: &str,
        months: i32,
    ) -> Value {
        let response = self
            .schema
            .execute(prepare(
                async_graphql::Request::new(EXTEND).variables(async_graphql::Variables::from_json(
                    json!({ "p": person.0, "r": reason, "m": months }),
                )),
                &self.gateway,
                Self::viewer(by, role),
            ))
            .await;
        serde_json::to_value(&response).unwrap()
    }

    /// `retentionWarnings` as a member reads it: the people and the days of
    /// their erasure, and the page's end.
    async fn warned(&self, user: UserId, role: StaffRole, after: Option<&str>) -> Value {
        let response = self
            .schema
            .execute(prepare(
                async_graphql::Request::new(
                    "query($after: String) { retentionWarnings(first: 1, after: $after) {
                        edges { node { person { id firstName } lastActivity warnedOn erasedOn due } }
                        pageInfo { endCursor hasNextPage } } }",
                )
                .variables(async_graphql::Variables::from_json(
                    json!({ "after": after }),
                )),
                &self.gateway,
                Self::viewer(user, role),
            ))
            .await;
        serde_json::to_value(&response).unwrap()
    }

    /// The retention warnings queued: (recipient, person, erasure day).
    async fn warnings(&self) -> Vec<(Value, Value)> {
        sqlx::query_as::<_, (Value, Value)>(
            "select recipient, params from outbox where template = 'retention_warning'
             order by id",
        )
        .fetch_all(&self.db.pool)
        .await
        .unwrap()
    }

    async fn notices(&self) -> Vec<(Uuid, Date)> {
        sqlx::query_as(
            "select person_id, warned_on from retention_notices order by warned_on, person_id",
        )
        .fetch_all(&self.db.pool)
        .await
        .unwrap()
    }
}

fn ids(list: &[Candidate]) -> Vec<Uuid> {
    list.iter().map(|c| c.person_id).collect()
}

fn code(response: &Value) -> (&str, Option<&str>) {
    let e = &response["errors"][0]["extensions"];
    (e["code"].as_str().unwrap_or_default(), e["field"].as_str())
}

#[tokio::test]
async fn inactive_people_are_warned_then_erased_unless_extended_and_the_plan_says_so() {
    let w = World::new().await;
    w.enroll(left(), "Maëlys").await;
    w.enroll(kept(), "Gwenaël").await;
    w.enroll(active(), "Soizic").await;
    // A year and a half later, something happens on one path.
    w.clock.set(datetime!(2025-07-01 09:00 UTC));
    w.command(
        active(),
        PersonCommand::StateSituation {
            words: Text::parse("Reprend une formation").unwrap(),
            stated_on: date!(2025 - 07 - 01),
        },
    )
    .await;

    // 24 months less a day: nobody is inactive yet.
    w.on(date!(2026 - 01 - 09));
    assert_eq!(w.plan().await, Plan::default());
    assert_eq!(w.run().await, 0);

    // 24 months: the two silent paths are announced, once, to their referent.
    w.on(date!(2026 - 01 - 10));
    let plan = w.plan().await;
    assert_eq!(ids(&plan.warn), [left().0, kept().0]);
    assert!(plan.erase.is_empty());
    assert_eq!(plan.warn[0].last_activity, date!(2024 - 01 - 10));
    assert_eq!(plan.warn[0].structure, structure().0);
    assert_eq!(w.run().await, 2);
    let warnings = w.warnings().await;
    assert_eq!(warnings.len(), 2);
    for ((recipient, params), person) in warnings.iter().zip([left(), kept()]) {
        assert_eq!(
            recipient,
            &json!({ "kind": "staff", "user_id": referent().0 })
        );
        assert_eq!(
            params,
            &json!({ "person_id": person.0, "due_on": "2026-02-09" })
        );
    }
    assert_eq!(
        w.notices().await,
        [
            (left().0, date!(2026 - 01 - 10)),
            (kept().0, date!(2026 - 01 - 10))
        ]
    );
    // The next day: warned already, not erased yet.
    w.on(date!(2026 - 01 - 11));
    assert_eq!(w.plan().await, Plan::default());
    assert_eq!(w.run().await, 0);
    assert_eq!(w.warnings().await.len(), 2);
    // Both are listed as erasures to come, a page at a time, to their
    // referent and to a manager; to another mediator, none.
    for (user, role) in [
        (referent(), StaffRole::Mediator),
        (other_mediator(), StaffRole::Manager),
    ] {
        let first = w.warned(user, role, None).await;
        let list = &first["data"]["retentionWarnings"];
        assert_eq!(
            list["edges"],
            json!([{ "node": { "person": { "id": left().0.to_string(), "firstName": "Maëlys" },
                "lastActivity": "2024-01-10", "warnedOn": "2026-01-10",
                "erasedOn": "2026-02-09", "due": false } }]),
            "{first}"
        );
        assert_eq!(list["pageInfo"]["hasNextPage"], true);
        let cursor = list["pageInfo"]["endCursor"].as_str().unwrap();
        let next = w.warned(user, role, Some(cursor)).await;
        let list = &next["data"]["retentionWarnings"];
        assert_eq!(
            list["edges"][0]["node"]["person"]["firstName"], "Gwenaël",
            "{next}"
        );
        assert_eq!(list["pageInfo"]["hasNextPage"], false);
    }
    let none = w.warned(other_mediator(), StaffRole::Mediator, None).await;
    assert_eq!(
        none["data"]["retentionWarnings"]["edges"],
        json!([]),
        "{none}"
    );
    let forged = w
        .warned(referent(), StaffRole::Mediator, Some("pas-un-curseur"))
        .await;
    assert_eq!(code(&forged).0, "BAD_USER_INPUT", "{forged}");

    // The referent keeps one of them; refusals first.
    let bad = w
        .extend(referent(), StaffRole::Mediator, kept(), "Suivi en cours", 0)
        .await;
    assert_eq!(code(&bad), ("BAD_USER_INPUT", Some("months")), "{bad}");
    let bad = w
        .extend(referent(), StaffRole::Mediator, kept(), "  ", 6)
        .await;
    assert_eq!(code(&bad), ("BAD_USER_INPUT", Some("reason")), "{bad}");
    let bad = w
        .extend(other_mediator(), StaffRole::Mediator, kept(), "Suivi", 6)
        .await;
    assert_eq!(code(&bad).0, "FORBIDDEN", "{bad}");
    let done = w
        .extend(
            referent(),
            StaffRole::Mediator,
            kept(),
            "Accompagnement renforcé en cours",
            6,
        )
        .await;
    assert_eq!(
        done["data"]["personRetentionExtend"],
        json!({ "personId": kept().0.to_string(), "retainedUntil": "2026-07-11" }),
        "{done}"
    );

    // The day before the grace period ends: nothing to erase. The one kept
    // is no longer listed.
    w.on(date!(2026 - 02 - 08));
    assert_eq!(w.plan().await, Plan::default());
    assert_eq!(w.run().await, 0);
    let listed = w.warned(referent(), StaffRole::Mediator, None).await;
    let list = &listed["data"]["retentionWarnings"];
    assert_eq!(list["edges"].as_array().map(Vec::len), Some(1), "{listed}");
    assert_eq!(list["edges"][0]["node"]["person"]["firstName"], "Maëlys");
    assert_eq!(list["pageInfo"]["hasNextPage"], false);

    // 30 days after the warning: the plan names the one to erase, the run
    // erases exactly them.
    w.on(date!(2026 - 02 - 09));
    let plan = w.plan().await;
    assert!(plan.warn.is_empty());
    assert_eq!(ids(&plan.erase), [left().0]);
    assert_eq!(plan.erase[0].warned_on, Some(date!(2026 - 01 - 10)));
    assert_eq!(w.run().await, 1);

    let people: Vec<(Uuid, bool, Option<String>, Option<String>)> = sqlx::query_as(
        "select person_id, erased, first_name, search_name from people.people order by person_id",
    )
    .fetch_all(&w.db.pool)
    .await
    .unwrap();
    assert_eq!(people.len(), 3);
    assert_eq!(people[0], (left().0, true, None, None));
    assert!(!people[1].1 && people[1].2.as_deref() == Some("Gwenaël"));
    assert!(!people[2].1 && people[2].2.as_deref() == Some("Soizic"));
    let named: i64 = sqlx::query_scalar(
        "select count(*) from people.people where first_name = 'Maëlys' or search_name like '%maelys%'",
    )
    .fetch_one(&w.db.pool)
    .await
    .unwrap();
    assert_eq!(named, 0);
    let recorded: Vec<(String, String, String)> = sqlx::query_as(
        "select stream_id, data::jsonb ->> 'reason', actor from events
         where event_type = 'person_erased'",
    )
    .fetch_all(&w.db.pool)
    .await
    .unwrap();
    assert_eq!(recorded.len(), 1);
    assert!(
        recorded[0].0.ends_with(&left().0.to_string()),
        "{recorded:?}"
    );
    assert_eq!(
        (recorded[0].1.as_str(), recorded[0].2.as_str()),
        ("end_of_retention", "system:retention")
    );
    // Their warning and its record went with them, and the list is empty.
    assert_eq!(w.notices().await, [(kept().0, date!(2026 - 01 - 10))]);
    let listed = w.warned(referent(), StaffRole::Mediator, None).await;
    assert_eq!(
        listed["data"]["retentionWarnings"]["edges"],
        json!([]),
        "{listed}"
    );
    let theirs: i64 =
        sqlx::query_scalar("select count(*) from outbox where params ->> 'person_id' = $1::text")
            .bind(left().0)
            .fetch_one(&w.db.pool)
            .await
            .unwrap();
    assert_eq!(theirs, 1, "the mail to the referent names no one");

    // Once the extension lapses, the referent is warned again, not the
    // person erased at once.
    w.on(date!(2026 - 07 - 12));
    let plan = w.plan().await;
    assert_eq!(ids(&plan.warn), [kept().0]);
    assert!(plan.erase.is_empty());
    assert_eq!(w.run().await, 1);
    assert_eq!(w.warnings().await.len(), 3);
    // The active path reaches 24 months of silence a year later only.
    assert!(!ids(&w.plan().await.warn).contains(&active().0));

    // Each run is visible to managers, with what it did (mails and
    // erasures), newest first.
    let response = w
        .schema
        .execute(prepare(
            async_graphql::Request::new(
                "{ jobRuns(job: \"retention\", first: 3) { job items succeeded } }",
            ),
            &w.gateway,
            World::viewer(other_mediator(), StaffRole::Manager),
        ))
        .await;
    assert!(response.errors.is_empty(), "{:?}", response.errors);
    assert_eq!(
        response.data.into_json().unwrap()["jobRuns"],
        json!([
            { "job": "retention", "items": 1, "succeeded": true },
            { "job": "retention", "items": 1, "succeeded": true },
            { "job": "retention", "items": 0, "succeeded": true },
        ])
    );
}

#[tokio::test]
async fn a_retention_run_without_its_eraser_fails_and_is_recorded() {
    let w = World::new().await;
    let bare = Scheduler::new(
        w.db.pool.clone(),
        w.clock.clone(),
        &[(Job::Retention, "0 0 3 * * *".into())],
        std::time::Duration::from_secs(1),
    )
    .unwrap();
    w.on(date!(2024 - 01 - 11));
    let runs = bare.tick().await.unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].outcome, "failed");
}

/// An erasure whose fact was recorded but whose key was not destroyed (a
/// crash between the two steps) is finished by the next run of the job,
/// without being asked again.
#[tokio::test]
async fn the_retention_run_finishes_an_interrupted_erasure() {
    let w = World::new().await;
    w.enroll(left(), "Awa").await;
    w.enroll(kept(), "Yanis").await;
    // The first step alone: the fact, as the command path records it.
    w.command(
        left(),
        PersonCommand::Erase {
            by: referent(),
            reason: passerelle_domain::person::ErasureReason::PersonRequest,
            explanation: None,
            erased_on: w.clock.today(),
        },
    )
    .await;
    let keys = |id: PersonId| {
        let pool = w.db.pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>("select count(*) from subject_keys where subject_id = $1")
                .bind(id.0)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    assert_eq!(keys(left()).await, 1, "the key survived the interruption");
    assert_eq!(
        retention::interrupted_erasures(&w.db.pool).await.unwrap(),
        vec![(left().0, structure().0)]
    );

    w.on(date!(2024 - 01 - 11));
    assert_eq!(w.run().await, 1, "one erasure finished");
    assert_eq!(keys(left()).await, 0, "her key is destroyed");
    assert_eq!(keys(kept()).await, 1, "nobody else's");
    let erased: bool =
        sqlx::query_scalar("select exists (select 1 from erased_subjects where subject_id = $1)")
            .bind(left().0)
            .fetch_one(&w.db.pool)
            .await
            .unwrap();
    assert!(erased);
    let names: Option<String> =
        sqlx::query_scalar("select first_name from people.people where person_id = $1")
            .bind(left().0)
            .fetch_one(&w.db.pool)
            .await
            .unwrap();
    assert_eq!(names, None, "the view is purged");
    assert!(
        retention::interrupted_erasures(&w.db.pool)
            .await
            .unwrap()
            .is_empty()
    );
    // Nothing left to finish: the next run does nothing more.
    w.on(date!(2024 - 01 - 12));
    assert_eq!(w.run().await, 0);
}

/// Past their periods, the job prunes mails done with (6 months), ended
/// sessions and used or expired links (30 days), health data reads (12
/// months) and job runs (12 months); what is within them stays, and a
/// mail not yet sent stays whatever its age.
#[tokio::test]
async fn the_retention_run_prunes_what_is_past_its_period() {
    let w = World::new().await;
    let now = at(date!(2024 - 09 - 01));
    let ago = |days: i64| now - time::Duration::days(days);
    for (key, state, created) in [
        ("old-sent", "sent", ago(200)),
        ("old-failed", "failed", ago(190)),
        ("recent-sent", "sent", ago(150)),
        ("old-queued", "queued", ago(200)),
    ] {
        sqlx::query(
            "insert into outbox (key, template, recipient, essential, state,
                 next_attempt_at, created_at)
             values ($1, 'proposal_to_person', '{\"kind\": \"person\"}', false, $2, $3, $3)",
        )
        .bind(key)
        .bind(state)
        .bind(created)
        .execute(&w.db.pool)
        .await
        .unwrap();
    }
    for (i, (expires, used)) in [(ago(40), None), (ago(10), None), (ago(60), Some(ago(35)))]
        .into_iter()
        .enumerate()
    {
        for table in ["principal_sessions", "magic_links"] {
            let used = if table == "magic_links" { used } else { None };
            let sql = if table == "magic_links" {
                "insert into magic_links (token_hash, principal_kind, principal_id,
                     structure_id, expires_at, used_at) values ($1, 'person', $2, $2, $3, $4)"
            } else {
                "insert into principal_sessions (token_hash, principal_kind, principal_id,
                     structure_id, expires_at, revoked_at) values ($1, 'person', $2, $2, $3, $4)"
            };
            sqlx::query(sql)
                .bind(vec![u8::try_from(i).unwrap(); 32])
                .bind(Uuid::from_u128(99))
                .bind(expires)
                .bind(used)
                .execute(&w.db.pool)
                .await
                .unwrap();
        }
    }
    for read_at in [ago(400), ago(300)] {
        sqlx::query(
            "insert into health_data_reads (structure_id, person_id, reader, reader_role,
                 through, read_at) values ($1, $1, 'user:x', 'manager', 'person_file', $2)",
        )
        .bind(structure().0)
        .bind(read_at)
        .execute(&w.db.pool)
        .await
        .unwrap();
    }
    sqlx::query(
        "insert into job_runs (job, tick, started_at, finished_at, outcome)
         values ('retention', $1, $1, $1, 'succeeded')",
    )
    .bind(ago(400))
    .execute(&w.db.pool)
    .await
    .unwrap();

    let mut conn = w.db.pool.acquire().await.unwrap();
    let expected = retention::Pruned {
        mails: 2,
        sessions: 2,
        links: 2,
        health_reads: 1,
        job_runs: 1,
    };
    assert_eq!(
        retention::prunable(&mut conn, now, Settings::default())
            .await
            .unwrap(),
        expected,
        "the dry run's counts"
    );
    drop(conn);
    w.clock.set(now);
    assert_eq!(w.run().await, 8);
    let keys: Vec<String> = sqlx::query_scalar("select key from outbox order by key")
        .fetch_all(&w.db.pool)
        .await
        .unwrap();
    assert_eq!(keys, ["old-queued", "recent-sent"]);
    for (table, left) in [
        ("principal_sessions", 1),
        ("magic_links", 1),
        ("health_data_reads", 1),
    ] {
        let n: i64 =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("select count(*) from {table}")))
                .fetch_one(&w.db.pool)
                .await
                .unwrap();
        assert_eq!(n, left, "{table}");
    }
    let old_runs: i64 = sqlx::query_scalar("select count(*) from job_runs where finished_at < $1")
        .bind(ago(300))
        .fetch_one(&w.db.pool)
        .await
        .unwrap();
    assert_eq!(old_runs, 0);
}

/// A person named by a convention signed less than five years ago is not
/// warned about nor erased for inactivity: the convention is kept for its
/// period, and its person with it; once the period is over, the usual
/// warning comes.
#[tokio::test]
async fn a_signed_convention_keeps_its_person_for_five_years() {
    let w = World::new().await;
    w.enroll(left(), "Awa").await;
    // Her convention, validated on her enrolment's day (as the view holds
    // it; the convention's own path is tested elsewhere).
    sqlx::query(
        "insert into immersions.immersions (immersion_id, person_id, employer_id, structure,
             mediator, objective, stage, proposed_on, validated_on)
         values ($1, $2, $1, $3, $4, 'confirm_project', 'completed', $5, $5)",
    )
    .bind(Uuid::from_u128(77))
    .bind(left().0)
    .bind(structure().0)
    .bind(referent().0)
    .bind(date!(2024 - 01 - 10))
    .execute(&w.db.pool)
    .await
    .unwrap();
    // Three years on: inactive, but her convention is under five.
    w.on(date!(2027 - 01 - 11));
    assert!(w.plan().await.warn.is_empty(), "kept with her convention");
    // Five years and a day after the signature: warned.
    w.on(date!(2029 - 01 - 11));
    assert_eq!(ids(&w.plan().await.warn), vec![left().0]);
}
