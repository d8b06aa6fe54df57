//! An immersion's first day corrected through the API while it runs, with
//! the clock moving: the day read back, each correction with the day it
//! replaced and why, and refusals typed and said in French.

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
async fn the_first_day_is_corrected_while_it_runs_and_reads_back_with_the_day_it_replaced() {
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

    // Ended, it is corrected no more.
    w.on(date!(2026 - 05 - 29));
    w.immersion(ImmersionCommand::Complete {
        completed_on: date!(2026 - 05 - 29),
    })
    .await;
    let response = correct("2026-05-18", "Erreur").await;
    assert_eq!(refusal(&response), (json!("RULE_VIOLATED"), json!("on")));
}
