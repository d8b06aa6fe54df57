//! Changes told between replicas through PostgreSQL: heard on a dedicated
//! connection, and a resync after that connection is lost.

use std::time::Duration;

use passerelle_store::changes::{self, CHANNEL};
use passerelle_store::listener::{Heard, listen};
use passerelle_store::testkit::TestDb;
use tokio::sync::mpsc;
use uuid::Uuid;

async fn next(heard: &mut mpsc::UnboundedReceiver<Heard>) -> Heard {
    tokio::time::timeout(Duration::from_secs(10), heard.recv())
        .await
        .expect("heard within 10 s")
        .expect("the listener runs")
}

/// Waits until the listener's connection listens on the channel.
async fn listening(db: &TestDb) -> i32 {
    for _ in 0..200 {
        let pid: Option<i32> = sqlx::query_scalar(
            "select pid from pg_stat_activity
             where datname = current_database() and query ilike 'listen%'",
        )
        .fetch_optional(&db.pool)
        .await
        .unwrap();
        if let Some(pid) = pid {
            return pid;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the listener never listened");
}

#[tokio::test]
async fn changes_are_heard_and_a_lost_connection_is_followed_by_a_resync() {
    let db = TestDb::new().await;
    let (tx, mut heard) = mpsc::unbounded_channel();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let listener = tokio::spawn(listen(
        db.pool.clone(),
        move |h| {
            let _ = tx.send(h);
        },
        stopped,
    ));
    let pid = listening(&db).await;

    let origin = Uuid::new_v4();
    changes::publish(
        &db.pool,
        origin,
        &["employer-1".into(), "immersion-2".into()],
    )
    .await
    .unwrap();
    let mut got = vec![next(&mut heard).await, next(&mut heard).await];
    got.sort_by_key(|h| format!("{h:?}"));
    assert_eq!(
        got,
        [
            Heard::Change {
                origin,
                stream: "employer-1".into()
            },
            Heard::Change {
                origin,
                stream: "immersion-2".into()
            },
        ]
    );

    // Inside a transaction, nothing goes before the commit.
    let mut tx = db.pool.begin().await.unwrap();
    changes::publish(&mut *tx, origin, &["person-3".into()])
        .await
        .unwrap();
    assert!(
        tokio::time::timeout(Duration::from_millis(300), heard.recv())
            .await
            .is_err()
    );
    tx.commit().await.unwrap();
    assert_eq!(
        next(&mut heard).await,
        Heard::Change {
            origin,
            stream: "person-3".into()
        }
    );

    // The connection dies: what was sent meanwhile is lost, so the
    // listener says to read everything again once it is back, then hears
    // the next changes.
    sqlx::query("select pg_terminate_backend($1)")
        .bind(pid)
        .execute(&db.pool)
        .await
        .unwrap();
    assert_eq!(next(&mut heard).await, Heard::Resync);
    let again = listening(&db).await;
    assert_ne!(again, pid);
    changes::publish(&db.pool, origin, &["person-4".into()])
        .await
        .unwrap();
    assert_eq!(
        next(&mut heard).await,
        Heard::Change {
            origin,
            stream: "person-4".into()
        }
    );

    // A publisher that could not keep up asks for a resync too.
    sqlx::query("select pg_notify($1, $2)")
        .bind(CHANNEL)
        .bind(changes::payload(origin, changes::EVERYTHING))
        .execute(&db.pool)
        .await
        .unwrap();
    assert_eq!(next(&mut heard).await, Heard::Resync);

    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(5), listener)
        .await
        .expect("the listener stops")
        .unwrap();
}
