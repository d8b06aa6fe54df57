//! The retention's dry run from the command line and its extension over
//! HTTP: `passerelle retention plan` lists by id whom the next run would
//! warn about and erase, changing nothing; `personRetentionExtend` by the
//! referent takes a person off the list. (The runs themselves, with the
//! clock moving, are in crates/graphql/tests/retention.rs.)

mod common;
#[path = "support/pages.rs"]
mod pages;

use common::*;
use pages::{get_with, signed_in};
use passerelle_store::testkit::TestDb;
use serde_json::json;
use uuid::Uuid;

const EXTEND: &str = "mutation($p: ID!) { personRetentionExtend(input: { personId: $p,
    reason: \"Accompagnement en cours\", months: 6 }) { personId retainedUntil } }";

/// The plan's lines: (action, person id, warned on).
fn plan(db: &TestDb, dir: &tempdir::Dir) -> (String, Vec<(String, Uuid, String)>) {
    let out = passerelle(db, dir, &["retention", "plan"]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = stdout
        .lines()
        .filter(|l| l.starts_with("warn\t") || l.starts_with("erase\t"))
        .map(|l| {
            let cells: Vec<&str> = l.split('\t').collect();
            (
                cells[0].to_owned(),
                cells[1].parse().unwrap(),
                cells[4].to_owned(),
            )
        })
        .collect();
    (stdout, lines)
}

#[tokio::test]
async fn the_plan_lists_by_id_whom_the_next_run_warns_and_erases_and_changes_nothing() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let (server, mediator) = started(&db, &dir).await;
    let to_warn: Uuid = enroll(&server, &mediator, None)
        .await
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let to_erase: Uuid = enroll(&server, &mediator, None)
        .await
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let active: Uuid = enroll(&server, &mediator, None)
        .await
        .as_str()
        .unwrap()
        .parse()
        .unwrap();

    // Nobody is inactive on the day of their enrolment.
    let (_, lines) = plan(&db, &dir);
    assert!(lines.is_empty(), "{lines:?}");

    // Two paths silent for 25 months, one of them announced 31 days ago.
    for person in [to_warn, to_erase] {
        sqlx::query(
            "update people.timeline set recorded_at = recorded_at - interval '25 months'
             where person_id = $1",
        )
        .bind(person)
        .execute(&db.pool)
        .await
        .unwrap();
    }
    sqlx::query(
        "insert into retention_notices (person_id, structure_id, last_activity, warned_on, referent)
         select p.person_id, p.structure, max(t.recorded_at), current_date - 31, p.referent
         from people.people p join people.timeline t using (person_id)
         where p.person_id = $1 group by p.person_id, p.structure, p.referent",
    )
    .bind(to_erase)
    .execute(&db.pool)
    .await
    .unwrap();

    let (stdout, lines) = plan(&db, &dir);
    assert_eq!(lines.len(), 2, "{stdout}");
    assert_eq!((lines[0].0.as_str(), lines[0].1), ("warn", to_warn));
    assert_eq!(lines[0].2, "-");
    assert_eq!((lines[1].0.as_str(), lines[1].1), ("erase", to_erase));
    assert_ne!(lines[1].2, "-");
    assert!(!stdout.contains(&active.to_string()));
    assert!(
        !stdout.contains("Awa") && !stdout.contains("Diallo"),
        "{stdout}"
    );
    assert!(stdout.contains("1 to warn, 1 to erase"), "{stdout}");

    // Nothing changed: no mail, no new warning, nobody erased.
    let mails: i64 =
        sqlx::query_scalar("select count(*) from outbox where template = 'retention_warning'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(mails, 0);
    let notices: i64 = sqlx::query_scalar("select count(*) from retention_notices")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(notices, 1);
    let erased: i64 = sqlx::query_scalar("select count(*) from people.people where erased")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(erased, 0);

    // The person announced is listed among the erasures to come, with the
    // day of her erasure (past: the next run's), and leads to her retention.
    let cookies = signed_in(&server, "camille@ml-nantes.fr").await;
    let coming = "/people/effacements-a-venir";
    let html = get_with(&server, coming, &cookies)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains(&format!("href=\"/people/{to_erase}/conservation\"")),
        "{html}"
    );
    let warned_on: time::Date =
        sqlx::query_scalar("select warned_on from retention_notices where person_id = $1")
            .bind(to_erase)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    let erased_on = warned_on + time::Duration::days(30);
    assert!(
        html.contains(&format!(
            "effacement au prochain passage de la conservation des données (prévu le {})",
            passerelle_domain::fr::date(erased_on)
        )),
        "{html}"
    );
    assert!(
        html.contains(&format!(
            "référent prévenu le {}",
            passerelle_domain::fr::date(warned_on)
        )),
        "{html}"
    );
    assert!(!html.contains(&to_warn.to_string()), "{html}");
    assert!(!html.contains(&active.to_string()), "{html}");
    // A page's link made by hand: the list from its start, saying so.
    let html = get_with(&server, &format!("{coming}?apres=pas-un-curseur"), &cookies)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("Ce lien de page n&#39;est plus valable"),
        "{html}"
    );
    assert!(
        html.contains(&format!("href=\"/people/{to_erase}/conservation\"")),
        "{html}"
    );
    let people = get_with(&server, "/people", &cookies)
        .await
        .text()
        .await
        .unwrap();
    assert!(people.contains(&format!("href=\"{coming}\"")), "{people}");

    // The referent keeps both: the plan is empty again.
    for person in [to_warn, to_erase] {
        let answer = gql(&server, Some(&mediator), EXTEND, json!({ "p": person })).await;
        assert_eq!(
            answer["data"]["personRetentionExtend"]["personId"],
            json!(person.to_string()),
            "{answer}"
        );
    }
    let (stdout, lines) = plan(&db, &dir);
    assert!(lines.is_empty(), "{stdout}");
    let html = get_with(&server, coming, &cookies)
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("Aucun effacement à venir."), "{html}");
}
