//! A mediator's inbox through the API, as an immersion goes from proposal to
//! follow-up with the clock moving: each task appears on its day (business
//! days, across Ascension), goes once done, and only its mediator sees it;
//! the `inboxChanged` subscription tells when it changes.

mod support;

use futures::StreamExt as _;
use passerelle_accounts::{StaffRole, User};
use passerelle_domain::employer::{Employer, EmployerCommand};
use passerelle_domain::immersion::*;
use passerelle_domain::values::*;
use passerelle_graphql::{Viewer, prepare};
use serde_json::Value;
use support::world::{
    World, draft, employer, immersion, mediator, person, proposed_and_drafted, structure,
};
use time::macros::date;
use uuid::Uuid;

const INBOX: &str = "{ inbox { overdue tasks { kind title dueOn overdueDays link } } }";

impl World {
    /// The tasks' kinds, in the inbox's order.
    async fn kinds(&self, user: UserId) -> Vec<String> {
        self.inbox(user).await["inbox"]["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["kind"].as_str().unwrap().to_owned())
            .collect()
    }

    async fn inbox(&self, user: UserId) -> Value {
        let response = self
            .schema
            .execute(prepare(
                async_graphql::Request::new(INBOX),
                &self.gateway,
                Self::viewer(user),
            ))
            .await;
        assert!(response.errors.is_empty(), "{:?}", response.errors);
        response.data.into_json().unwrap()
    }
}

#[tokio::test]
async fn tasks_come_on_their_day_and_go_once_done() {
    let w = World::new().await;
    let identity = proposed_and_drafted(&w).await;
    assert!(w.kinds(mediator()).await.is_empty());

    // A week without the employer's answer.
    w.on(date!(2026 - 05 - 04));
    assert_eq!(w.kinds(mediator()).await, ["PROPOSAL_UNANSWERED"]);
    for by in [Respondent::Person, Respondent::Employer] {
        w.immersion(ImmersionCommand::Accept {
            by,
            answered_on: date!(2026 - 05 - 04),
        })
        .await;
    }
    draft(&w, &identity, date!(2026 - 05 - 18), date!(2026 - 05 - 29)).await;
    w.immersion(ImmersionCommand::Sign {
        signatory: Signatory::Person,
        method: SignatureMethod::Online,
    })
    .await;
    assert!(w.kinds(mediator()).await.is_empty(), "the start is far");

    // Two business days before Monday 18 May: Friday 15, then Wednesday 13
    // (Thursday 14 is Ascension).
    w.on(date!(2026 - 05 - 12));
    assert!(w.kinds(mediator()).await.is_empty());
    w.on(date!(2026 - 05 - 13));
    let inbox = w.inbox(mediator()).await;
    let task = &inbox["inbox"]["tasks"][0];
    assert_eq!(task["kind"], "SIGNATURES_MISSING");
    assert_eq!(
        task["title"],
        "Signatures manquantes (l'employeur, le prescripteur) : l'immersion chez Boulangerie du Port commence le 18 mai 2026."
    );
    assert_eq!(task["link"], format!("/immersions/{}", immersion()));
    assert!(
        w.kinds(UserId(Uuid::from_u128(99))).await.is_empty(),
        "another mediator sees none of it"
    );

    for signatory in [Signatory::Host, Signatory::Prescriber] {
        w.immersion(ImmersionCommand::Sign {
            signatory,
            method: SignatureMethod::Online,
        })
        .await;
    }
    assert_eq!(w.kinds(mediator()).await, ["CONVENTION_TO_VALIDATE"]);
    w.immersion(ImmersionCommand::Validate { by: mediator() })
        .await;
    assert_eq!(w.kinds(mediator()).await, ["STARTING_SOON"]);

    w.on(date!(2026 - 05 - 18));
    w.immersion(ImmersionCommand::Start {
        started_on: date!(2026 - 05 - 18),
    })
    .await;
    assert!(w.kinds(mediator()).await.is_empty());
    w.on(date!(2026 - 05 - 29));
    w.immersion(ImmersionCommand::Complete {
        completed_on: date!(2026 - 05 - 29),
    })
    .await;
    assert_eq!(w.kinds(mediator()).await, ["ASSESSMENT_DUE"]);
    // Friday 29 May: Whit Monday 25 May is past; D+3 business days is
    // Wednesday 3 June, D+10 is Friday 12 June.
    w.on(date!(2026 - 06 - 03));
    let inbox = w.inbox(mediator()).await;
    assert_eq!(inbox["inbox"]["tasks"][0]["overdueDays"], 3);
    assert_eq!(inbox["inbox"]["overdue"], 1);
    w.on(date!(2026 - 06 - 12));
    assert_eq!(
        w.inbox(mediator()).await["inbox"]["tasks"][0]["overdueDays"],
        10
    );
    w.immersion(ImmersionCommand::RecordFeedback {
        feedback: Feedback::Host(HostAssessment {
            attendance: Attendance::Completed,
            goals_reached: true,
            skills: vec![],
            advice: None,
            appraisal: None,
            hiring: Hiring::No,
            received_by_other_means: true,
        }),
        recorded_on: date!(2026 - 06 - 12),
    })
    .await;
    let left = w.kinds(mediator()).await;
    assert!(left.is_empty(), "stops once recorded: {left:?}");

    w.on(date!(2026 - 06 - 29));
    assert_eq!(w.kinds(mediator()).await, ["FOLLOW_UP_DUE"]);
    w.immersion(ImmersionCommand::RecordOutcome {
        milestone: Milestone::OneMonth,
        outcome: Outcome::Training,
        recorded_on: date!(2026 - 06 - 29),
    })
    .await;
    assert!(w.kinds(mediator()).await.is_empty());
}

#[tokio::test]
async fn the_inbox_subscription_tells_when_it_changes() {
    let w = World::new().await;
    proposed_and_drafted(&w).await;
    w.on(date!(2026 - 05 - 04));
    let mut stream = w.schema.execute_stream(prepare(
        async_graphql::Request::new("subscription { inboxChanged { tasks { kind } } }"),
        &w.gateway,
        World::viewer(mediator()),
    ));
    let first = tokio::time::timeout(std::time::Duration::from_secs(5), stream.next())
        .await
        .expect("the inbox at once")
        .unwrap();
    assert!(first.errors.is_empty(), "{:?}", first.errors);
    let first = first.data.into_json().unwrap();
    assert_eq!(
        first["inboxChanged"]["tasks"][0]["kind"],
        "PROPOSAL_UNANSWERED"
    );
    w.immersion(ImmersionCommand::Accept {
        by: Respondent::Employer,
        answered_on: date!(2026 - 05 - 04),
    })
    .await;
    let next = tokio::time::timeout(std::time::Duration::from_secs(5), stream.next())
        .await
        .expect("a change after the employer answered")
        .unwrap();
    let next = next.data.into_json().unwrap();
    assert_eq!(next["inboxChanged"]["tasks"], serde_json::json!([]));
}

/// A manager opens a colleague's inbox; a mediator cannot, and another
/// structure's manager learns nothing of it.
#[tokio::test]
async fn a_manager_opens_a_colleagues_inbox_and_nobody_else_does() {
    let w = World::new().await;
    proposed_and_drafted(&w).await;
    let label = |s: &str| Label::parse(s).unwrap();
    let user = |structure: &'static str, role, email: &'static str| {
        let pool = w.gateway.pool.clone();
        async move {
            passerelle_accounts::create_user(
                &pool,
                &label(structure),
                role,
                &Email::parse(email).unwrap(),
                &label("Camille Durand"),
                "a long enough password",
            )
            .await
            .unwrap()
        }
    };
    let manager = user(
        "Mission locale",
        StaffRole::Manager,
        "direction@ml.example.org",
    )
    .await;
    let colleague = user(
        "Mission locale",
        StaffRole::Mediator,
        "karim@ml.example.org",
    )
    .await;
    let outsider = user("PLIE", StaffRole::Manager, "direction@plie.example.org").await;
    w.immersion_of(
        ImmersionId(Uuid::from_u128(7)),
        ImmersionCommand::Propose {
            immersion_id: ImmersionId(Uuid::from_u128(7)),
            person_id: person(),
            employer_id: employer(),
            need_id: None,
            objective: Objective::ConfirmProject,
            structure: structure(),
            mediator: colleague.user_id,
            message: None,
            proposed_on: date!(2026 - 04 - 27),
        },
    )
    .await;
    w.on(date!(2026 - 05 - 04));
    let ask = |viewer: &User, whose: &User| {
        let request = async_graphql::Request::new(
            "query($m: ID) { inbox(mediatorId: $m) { tasks { kind link personName } } }",
        )
        .variables(async_graphql::Variables::from_json(
            serde_json::json!({ "m": whose.user_id.to_string() }),
        ));
        let viewer = Viewer {
            user: Some(viewer.clone()),
            principal: None,
            token: None,
            client: None,
        };
        w.schema.execute(prepare(request, &w.gateway, viewer))
    };
    let seen = ask(&manager, &colleague).await;
    assert!(seen.errors.is_empty(), "{:?}", seen.errors);
    let seen = seen.data.into_json().unwrap();
    assert_eq!(
        seen["inbox"]["tasks"],
        serde_json::json!([{ "kind": "PROPOSAL_UNANSWERED",
                              "link": format!("/immersions/{}", Uuid::from_u128(7)),
                              "personName": null }]),
        // The accounts made here belong to the structure their name makes,
        // not to the person's (`structure()`): hers is no name for them.
        "the colleague's task only, its person not named outside her structure"
    );
    let code = |r: async_graphql::Response| {
        serde_json::to_value(&r.errors[0].extensions).unwrap()["code"].clone()
    };
    assert_eq!(code(ask(&colleague, &manager).await), "FORBIDDEN");
    assert_eq!(code(ask(&outsider, &colleague).await), "NOT_FOUND");
}

#[tokio::test]
async fn a_task_names_the_employer_as_corrected() {
    let w = World::new().await;
    proposed_and_drafted(&w).await;
    w.on(date!(2026 - 05 - 04));
    let title = |inbox: Value| {
        inbox["inbox"]["tasks"][0]["title"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let before = title(w.inbox(mediator()).await);
    assert!(before.contains("Boulangerie du Port"), "{before}");
    w.command::<Employer>(
        employer(),
        EmployerCommand::Correct {
            changes: passerelle_domain::employer::EmployerChanges {
                name: Some(Label::parse("Boulangerie du Quai").unwrap()),
                ..Default::default()
            },
            reason: Text::parse("Nom relevé sur l'enseigne").unwrap(),
            corrected_on: date!(2026 - 05 - 04),
        },
    )
    .await;
    let after = title(w.inbox(mediator()).await);
    assert!(after.contains("Boulangerie du Quai"), "{after}");
    assert!(!after.contains("Boulangerie du Port"), "{after}");
}

/// An immersion's task says whom it is about, by her name, to the staff of
/// her structure; a need's task names nobody.
#[tokio::test]
async fn a_task_names_its_person() {
    let w = World::new().await;
    proposed_and_drafted(&w).await;
    w.on(date!(2026 - 05 - 04));
    let response = w
        .schema
        .execute(prepare(
            async_graphql::Request::new("{ inbox { tasks { kind personId personName } } }"),
            &w.gateway,
            World::viewer(mediator()),
        ))
        .await;
    assert!(response.errors.is_empty(), "{:?}", response.errors);
    let data = response.data.into_json().unwrap();
    assert_eq!(
        data["inbox"]["tasks"],
        serde_json::json!([{ "kind": "PROPOSAL_UNANSWERED",
            "personId": person().0.to_string(), "personName": "Awa Diallo" }]),
        "{data}"
    );
}
