//! An immersion's first day corrected through the API once it started, and
//! its last day once it ended, with the clock moving: the day read back,
//! each correction with the day it replaced and why, the inbox following
//! it, and refusals typed and said in French.

mod support;

use passerelle_domain::immersion::*;
use serde_json::{Value, json};
use support::world::{World, draft, immersion, mediator, proposed_and_drafted};
use time::macros::date;

const CORRECT: &str = "mutation($i: ID!, $on: Date!, $r: String!) {
    immersionStartCorrect(input: { immersionId: $i, on: $on, reason: $r }) {
        immersion { startedOn } } }";

const READ: &str = "query($i: ID!) { immersion(id: $i) { startedOn
    startCorrections { previous startedOn reason correctedOn recorded { role } } } }";

/// Started on Monday 18 May 2026, for 18 to 29 May.
async fn started(w: &World) {
    let identity = proposed_and_drafted(w).await;
    for by in [Respondent::Person, Respondent::Employer] {
        w.immersion(ImmersionCommand::Accept {
            by,
            answered_on: date!(2026 - 04 - 27),
        })
        .await;
    }
    draft(w, &identity, date!(2026 - 05 - 18), date!(2026 - 05 - 29)).await;
    for signatory in [Signatory::Person, Signatory::Host, Signatory::Prescriber] {
        w.immersion(ImmersionCommand::Sign {
            signatory,
            method: SignatureMethod::Online,
        })
        .await;
    }
    w.immersion(ImmersionCommand::Validate { by: mediator() })
        .await;
    w.on(date!(2026 - 05 - 18));
    w.immersion(ImmersionCommand::Start {
        started_on: date!(2026 - 05 - 18),
    })
    .await;
}

/// The refusal's code and field, its message a French sentence.
fn refusal(response: &async_graphql::Response) -> (Value, Value) {
    let e = response.errors.first().expect("refused");
    assert!(e.message.ends_with('.'), "{}", e.message);
    let extensions = serde_json::to_value(&e.extensions).unwrap();
    (extensions["code"].clone(), extensions["field"].clone())
}

#[tokio::test]
async fn the_first_day_is_corrected_once_started_and_reads_back_with_the_day_it_replaced() {
    let w = World::new().await;
    started(&w).await;
    let i = immersion().to_string();
    w.on(date!(2026 - 05 - 20));
    let correct = |on: &str, reason: &str| {
        w.run(
            mediator(),
            CORRECT,
            json!({ "i": i, "on": on, "r": reason }),
        )
    };

    // A day to come, one out of the convention's period, the same day, no
    // reason: each refused beside its field.
    for (on, reason, code, field) in [
        ("2026-05-21", "Erreur", "RULE_VIOLATED", "on"),
        ("2026-05-15", "Erreur", "RULE_VIOLATED", "on"),
        ("2026-05-18", "Erreur", "RULE_VIOLATED", "on"),
        ("2026-05-19", " ", "BAD_USER_INPUT", "reason"),
    ] {
        let response = correct(on, reason).await;
        assert_eq!(refusal(&response), (json!(code), json!(field)), "{on}");
    }

    let response = correct("2026-05-19", "Début noté le lundi par erreur").await;
    assert!(response.errors.is_empty(), "{:?}", response.errors);
    let read = w.run(mediator(), READ, json!({ "i": i })).await;
    assert_eq!(
        read.data.into_json().unwrap()["immersion"],
        json!({ "startedOn": "2026-05-19", "startCorrections": [{
            "previous": "2026-05-18", "startedOn": "2026-05-19",
            "reason": "Début noté le lundi par erreur", "correctedOn": "2026-05-20",
            "recorded": { "role": "mediator" } }] })
    );

    // Ended, it is corrected still, never after its last day.
    w.on(date!(2026 - 05 - 22));
    w.immersion(ImmersionCommand::Interrupt {
        by: Initiator::Person,
        reason: passerelle_domain::values::Text::parse("Horaires incompatibles").unwrap(),
        interrupted_on: date!(2026 - 05 - 21),
    })
    .await;
    let response = correct("2026-05-22", "Erreur").await;
    assert_eq!(refusal(&response), (json!("RULE_VIOLATED"), json!("on")));
    let response = correct("2026-05-18", "Début bien le lundi").await;
    assert!(response.errors.is_empty(), "{:?}", response.errors);
    let read = w.run(mediator(), READ, json!({ "i": i })).await;
    let read = read.data.into_json().unwrap();
    assert_eq!(read["immersion"]["startedOn"], "2026-05-18");
    assert_eq!(
        read["immersion"]["startCorrections"][1]["previous"],
        "2026-05-19"
    );

    // Its interruption, moved a day back, reads on the day corrected.
    let response = w
        .run(
            mediator(),
            CORRECT_END,
            json!({ "i": i, "on": "2026-05-20", "r": "Arrêt le mercredi" }),
        )
        .await;
    assert!(response.errors.is_empty(), "{:?}", response.errors);
    let read = w
        .run(
            mediator(),
            "query($i: ID!) { immersion(id: $i) { endedOn interruption { interruptedOn } } }",
            json!({ "i": i }),
        )
        .await;
    assert_eq!(
        read.data.into_json().unwrap()["immersion"],
        json!({ "endedOn": "2026-05-20", "interruption": { "interruptedOn": "2026-05-20" } })
    );
}

const CORRECT_END: &str = "mutation($i: ID!, $on: Date!, $r: String!) {
    immersionEndCorrect(input: { immersionId: $i, on: $on, reason: $r }) {
        immersion { endedOn } } }";

const READ_END: &str = "query($i: ID!) { immersion(id: $i) { endedOn
    endCorrections { previous endedOn reason correctedOn recorded { role } } } }";

/// The day the inbox gives its assessment's task.
async fn assessment_due(w: &World) -> Value {
    let inbox = w
        .run(mediator(), "{ inbox { tasks { kind dueOn } } }", json!({}))
        .await;
    assert!(inbox.errors.is_empty(), "{:?}", inbox.errors);
    let tasks = inbox.data.into_json().unwrap()["inbox"]["tasks"].clone();
    tasks
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["kind"] == "ASSESSMENT_DUE")
        .map(|t| t["dueOn"].clone())
        .expect("the assessment's task")
}

#[tokio::test]
async fn the_last_day_is_corrected_once_ended_and_the_inbox_follows_it() {
    let w = World::new().await;
    started(&w).await;
    let i = immersion().to_string();
    let correct = |on: &str, reason: &str| {
        w.run(
            mediator(),
            CORRECT_END,
            json!({ "i": i, "on": on, "r": reason }),
        )
    };
    // Running, it has no last day to correct.
    w.on(date!(2026 - 05 - 25));
    let response = correct("2026-05-25", "Erreur").await;
    assert_eq!(refusal(&response), (json!("RULE_VIOLATED"), json!("on")));

    // Completed on Monday 1 June, the Friday before meant.
    w.on(date!(2026 - 06 - 01));
    w.immersion(ImmersionCommand::Complete {
        completed_on: date!(2026 - 06 - 01),
    })
    .await;
    assert_eq!(assessment_due(&w).await, json!("2026-06-01"));
    w.on(date!(2026 - 06 - 02));
    // Before its last planned day, a day to come, the same day, no reason.
    for (on, reason, code, field) in [
        ("2026-05-28", "Erreur", "RULE_VIOLATED", "on"),
        ("2026-06-03", "Erreur", "RULE_VIOLATED", "on"),
        ("2026-06-01", "Erreur", "RULE_VIOLATED", "on"),
        ("2026-05-29", " ", "BAD_USER_INPUT", "reason"),
    ] {
        let response = correct(on, reason).await;
        assert_eq!(refusal(&response), (json!(code), json!(field)), "{on}");
    }

    let response = correct("2026-05-29", "Fin notée le lundi").await;
    assert!(response.errors.is_empty(), "{:?}", response.errors);
    let read = w.run(mediator(), READ_END, json!({ "i": i })).await;
    assert_eq!(
        read.data.into_json().unwrap()["immersion"],
        json!({ "endedOn": "2026-05-29", "endCorrections": [{
            "previous": "2026-06-01", "endedOn": "2026-05-29",
            "reason": "Fin notée le lundi", "correctedOn": "2026-06-02",
            "recorded": { "role": "mediator" } }] })
    );
    assert_eq!(assessment_due(&w).await, json!("2026-05-29"));
}
