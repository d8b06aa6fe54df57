//! The request limits, checked on the document before anything runs: a
//! fragment bomb is refused in linear time, depth and complexity hold for
//! data however the query is written, and introspection answers clients'
//! standard query within bounds of its own.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use passerelle_app::{FixedClock, Handler};
use passerelle_graphql::{Gateway, Limits, PasserelleSchema, Viewer, build, prepare};
use passerelle_store::testkit::TestDb;
use serde_json::{Value, json};
use time::macros::datetime;

/// graphql-core 3.2's `get_introspection_query` with every option
/// (descriptions, `specifiedByURL`, `isRepeatable`, the schema's
/// description, deprecated arguments): the deepest `ofType` chain clients
/// send.
const INTROSPECTION: &str = include_str!("support/introspection.graphql");

struct Api {
    _db: TestDb,
    gateway: Gateway,
}

impl Api {
    async fn new() -> Self {
        let db = TestDb::new().await;
        let handler = Handler::new(
            support::projections(&db).await,
            Arc::new(FixedClock::new(datetime!(2026-04-27 08:00 UTC))),
        );
        let (gateway, _) = support::gateway(handler, &db);
        Self { _db: db, gateway }
    }

    fn schema(&self, limits: Limits) -> PasserelleSchema {
        build(self.gateway.clone(), limits)
    }

    async fn run(&self, schema: &PasserelleSchema, query: &str) -> Value {
        let request = prepare(
            async_graphql::Request::new(query),
            &self.gateway,
            Viewer::default(),
        );
        serde_json::to_value(schema.execute(request).await).unwrap()
    }
}

/// The first error's code, `extensions.limit` and message.
fn refused(answer: &Value) -> (&str, &str, &str) {
    let e = &answer["errors"][0];
    (
        e["extensions"]["code"].as_str().unwrap_or_default(),
        e["extensions"]["limit"].as_str().unwrap_or_default(),
        e["message"].as_str().unwrap_or_default(),
    )
}

fn french(message: &str) {
    assert!(
        message.chars().next().is_some_and(char::is_uppercase) && message.ends_with('.'),
        "a whole sentence: {message}"
    );
    for english in [
        "Query is",
        "nested too deep",
        "too complex",
        "Failed",
        "Invalid",
        "Unknown",
    ] {
        assert!(!message.contains(english), "in French: {message}");
    }
}

/// `levels` fragments, each spreading the next twice, the last selecting
/// `__typename`: `2^levels` fields once expanded, in a few hundred bytes.
fn fragment_bomb(levels: usize) -> String {
    let mut query = String::from("query { ...F0 }\n");
    for i in 0..levels {
        query.push_str(&format!(
            "fragment F{i} on Query {{ ...F{n} ...F{n} }}\n",
            n = i + 1
        ));
    }
    query.push_str(&format!("fragment F{levels} on Query {{ __typename }}\n"));
    query
}

#[tokio::test]
async fn a_fragment_bomb_is_refused_before_it_is_expanded() {
    let api = Api::new().await;
    let schema = api.schema(Limits::default());
    let bomb = fragment_bomb(20);
    assert!(bomb.len() < 1100, "{} bytes", bomb.len());
    let started = Instant::now();
    let answer = api.run(&schema, &bomb).await;
    let took = started.elapsed();
    assert_eq!(answer["data"], Value::Null, "nothing ran");
    let (code, limit, message) = refused(&answer);
    assert_eq!((code, limit), ("BAD_USER_INPUT", "fields"), "{answer}");
    french(message);
    assert!(message.contains("2000"), "{message}");
    // Measured once per fragment: well under what walking a million
    // fields would take.
    assert!(took < Duration::from_millis(500), "{took:?}");

    // Sixty levels would be 2^60 fields: refused as fast, on its nesting.
    let deeper = fragment_bomb(60);
    let started = Instant::now();
    let answer = api.run(&schema, &deeper).await;
    assert!(started.elapsed() < Duration::from_millis(500));
    assert_eq!(refused(&answer).1, "nesting", "{answer}");
    french(refused(&answer).2);

    // Thirty levels stay within async-graphql's nesting: the count says no.
    let answer = api.run(&schema, &fragment_bomb(30)).await;
    assert_eq!(refused(&answer).1, "fields", "{answer}");

    // A fragment never spread is refused by validation, but walked by it
    // first: it is measured all the same.
    let unused = fragment_bomb(24).replacen("query { ...F0 }", "query { __typename }", 1);
    let answer = api.run(&schema, &unused).await;
    assert_eq!(refused(&answer).1, "fields", "{answer}");

    // The same bomb over a subscription (WebSocket clients) is refused too.
    let mut stream = schema.execute_stream(prepare(
        async_graphql::Request::new(fragment_bomb(20)),
        &api.gateway,
        Viewer::default(),
    ));
    let first = serde_json::to_value(stream.next().await.unwrap()).unwrap();
    assert_eq!(refused(&first).1, "fields", "{first}");

    // A small query with fragments is measured the same way and runs.
    let small = fragment_bomb(4);
    let answer = api.run(&schema, &small).await;
    assert_eq!(answer["data"]["__typename"], "Query", "{answer}");
    assert!(answer.get("errors").is_none(), "{answer}");
}

/// Values nested a few thousand levels deep, in a few kilobytes, overflowed
/// the parser's stack and aborted the whole process: they are refused on
/// the text, before it is parsed, wherever they stand.
#[tokio::test]
async fn values_nested_past_the_bound_are_refused_before_they_are_parsed() {
    let api = Api::new().await;
    let schema = api.schema(Limits::default());
    let lists = |n: usize| format!("{}\"a\"{}", "[".repeat(n), "]".repeat(n));
    let objects = |n: usize| format!("{}\"a\"{}", "{name: ".repeat(n), "}".repeat(n));
    for query in [
        format!(
            "{{ people(filter: {{name: {}}}) {{ edges {{ node {{ id }} }} }} }}",
            lists(2_000)
        ),
        format!(
            "{{ people(filter: {}) {{ edges {{ node {{ id }} }} }} }}",
            objects(1_500)
        ),
        format!(
            "{{ __typename @include(if: {}true{}) }}",
            "[".repeat(3_000),
            "]".repeat(3_000)
        ),
        format!("query($x: [String] = {}) {{ __typename }}", lists(3_000)),
    ] {
        assert!(query.len() < 32 * 1024, "{} bytes", query.len());
        let answer = api.run(&schema, &query).await;
        assert_eq!(answer["data"], Value::Null, "nothing ran");
        let (code, limit, message) = refused(&answer);
        assert_eq!((code, limit), ("BAD_USER_INPUT", "nesting"), "{answer}");
        french(message);
    }
    // Brackets in a comment are text, however many.
    let answer = api
        .run(
            &schema,
            &format!(
                "{{ __typename @include(if: true) # {} \n}}",
                "[".repeat(3_000)
            ),
        )
        .await;
    assert_eq!(answer["data"]["__typename"], "Query", "{answer}");
}

/// A choice or a date left blank, as a form sends radio buttons none of
/// which was picked or an empty date field, is a missing answer; an unknown
/// choice names the values admitted.
#[tokio::test]
async fn a_blank_choice_or_date_is_missing_and_an_unknown_choice_is_named() {
    let api = Api::new().await;
    let schema = api.schema(Limits::default());
    let blank = api
        .run(
            &schema,
            r#"{ immersionFunnel(filter: { objective: " " }) { masked } }"#,
        )
        .await;
    let e = &blank["errors"][0];
    assert_eq!(e["extensions"]["code"], "BAD_USER_INPUT", "{blank}");
    assert_eq!(e["extensions"]["field"], "filter.objective", "{blank}");
    // Optional: empty, not missing.
    assert_eq!(
        e["message"], "Ce champ est vide : indiquez une valeur, ou ne l'envoyez pas.",
        "{blank}"
    );
    // A date left blank likewise.
    let blank_day = api
        .run(
            &schema,
            r#"{ immersionFunnel(filter: { from: "" }) { masked } }"#,
        )
        .await;
    let e = &blank_day["errors"][0];
    assert_eq!(e["extensions"]["field"], "filter.from", "{blank_day}");
    assert_eq!(
        e["message"], "Ce champ est vide : indiquez une valeur, ou ne l'envoyez pas.",
        "{blank_day}"
    );
    // A choice the operation requires, left blank: missing.
    let required = api
        .run(
            &schema,
            r#"mutation { immersionInterrupt(input: { immersionId: "00000000-0000-0000-0000-000000000000", by: "", reason: "x" }) { immersion { id } } }"#,
        )
        .await;
    let e = &required["errors"][0];
    assert_eq!(e["extensions"]["field"], "by", "{required}");
    assert_eq!(e["message"], "Ce champ est obligatoire.", "{required}");
    let unknown = api
        .run(
            &schema,
            r#"{ immersionFunnel(filter: { objective: "NOPE" }) { masked } }"#,
        )
        .await;
    let message = unknown["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("INITIATE_RECRUITMENT"), "{unknown}");
}

#[tokio::test]
async fn fields_aliases_root_fields_and_length_are_bounded() {
    let api = Api::new().await;
    let schema = api.schema(Limits {
        fields: 100,
        root_fields: 10,
        aliases: 20,
        query_bytes: 4096,
        ..Limits::default()
    });
    let aliased = |n: usize| {
        format!(
            "{{ {} }}",
            (0..n)
                .map(|i| format!("a{i}: __typename "))
                .collect::<String>()
        )
    };
    let answer = api.run(&schema, &aliased(10)).await;
    assert!(answer.get("errors").is_none(), "{answer}");
    let answer = api.run(&schema, &aliased(11)).await;
    assert_eq!(refused(&answer).1, "rootFields", "{answer}");
    french(refused(&answer).2);

    // Aliases counted through fragments, at any level.
    let fragment: String = (0..7).map(|i| format!("t{i}: __typename ")).collect();
    let query = format!(
        "{{ __type(name: \"Query\") {{ ...A ...A ...A }} }} fragment A on __Type {{ {fragment} }}"
    );
    let answer = api.run(&schema, &query).await;
    assert_eq!(refused(&answer).1, "aliases", "{answer}");
    french(refused(&answer).2);

    let fragment: String = (0..101).map(|_| "__typename ".to_owned()).collect();
    let query = format!("{{ ...A }} fragment A on Query {{ {fragment} }}");
    let answer = api.run(&schema, &query).await;
    assert_eq!(refused(&answer).1, "fields", "{answer}");

    let long = format!("{{ __typename }} #{}", "x".repeat(4096));
    let answer = api.run(&schema, &long).await;
    assert_eq!(
        refused(&answer),
        ("BAD_USER_INPUT", "queryLength", refused(&answer).2)
    );
    french(refused(&answer).2);
}

#[tokio::test]
async fn depth_and_complexity_hold_for_data_through_fragments() {
    let api = Api::new().await;
    let schema = api.schema(Limits {
        depth: 4,
        complexity: 60,
        ..Limits::default()
    });
    for query in [
        "{ employers { edges { node { visits { id } } } } }",
        "{ employers { ...E } } fragment E on EmployerConnection { edges { ... on EmployerEdge { node { visits { id } } } } }",
    ] {
        let answer = api.run(&schema, query).await;
        assert_eq!(refused(&answer).0, "BAD_USER_INPUT", "{answer}");
        assert_eq!(refused(&answer).1, "depth", "{answer}");
        french(refused(&answer).2);
    }
    // Four levels pass the limits (and then need a session).
    let answer = api
        .run(&schema, "{ employers { edges { node { id } } } }")
        .await;
    assert_eq!(refused(&answer).0, "UNAUTHENTICATED", "{answer}");

    let wide = format!(
        "{{ ...M ...M }} fragment M on Query {{ {} }}",
        (0..16)
            .map(|i| format!("m{i}: me {{ email }} "))
            .collect::<String>()
    );
    let answer = api.run(&schema, &wide).await;
    assert_eq!(refused(&answer).1, "complexity", "{answer}");
    french(refused(&answer).2);
}

#[tokio::test]
async fn a_fragment_cycle_is_refused_without_looping() {
    let api = Api::new().await;
    let schema = api.schema(Limits::default());
    let answer = api
        .run(
            &schema,
            "{ ...A } fragment A on Query { ...B } fragment B on Query { __typename ...A }",
        )
        .await;
    assert_eq!(refused(&answer).0, "BAD_USER_INPUT", "{answer}");
    french(refused(&answer).2);
}

#[tokio::test]
async fn the_standard_introspection_query_passes_within_its_own_bounds() {
    let api = Api::new().await;
    // The defaults, and depth 12, which the query's `ofType` chain exceeds.
    let schema = api.schema(Limits::default());
    let answer = api.run(&schema, INTROSPECTION).await;
    assert!(answer.get("errors").is_none(), "{answer}");
    let types = answer["data"]["__schema"]["types"].as_array().unwrap();
    assert!(
        types.iter().any(|t| t["name"] == "PersonEnrollInput"),
        "the whole schema"
    );
    assert_eq!(answer["data"]["__schema"]["queryType"]["name"], "Query");

    // Beside data, the data's own limits still hold.
    let mixed =
        "{ __schema { queryType { name } } employers { edges { node { visits { id } } } } }";
    let tight = api.schema(Limits {
        depth: 4,
        ..Limits::default()
    });
    assert_eq!(refused(&api.run(&tight, mixed).await).1, "depth");

    // Asked many times over, it is refused: once or twice is enough.
    let many: String = (0..10_000)
        .map(|i| format!("s{i}: __schema {{ description }} "))
        .collect();
    let roomy = api.schema(Limits {
        query_bytes: 1 << 20,
        fields: 100_000,
        aliases: 100_000,
        root_fields: 100_000,
        ..Limits::default()
    });
    let answer = api.run(&roomy, &format!("{{ {many} }}")).await;
    assert_eq!(
        refused(&answer),
        ("BAD_USER_INPUT", "introspection", refused(&answer).2),
        "{answer}"
    );
    french(refused(&answer).2);
    // With the default limits the text alone is too long.
    let answer = api.run(&schema, &format!("{{ {many} }}")).await;
    assert_eq!(refused(&answer).1, "queryLength", "{answer}");
    let three = "{ a: __schema { description } b: __type(name: \"Query\") { name } c: __schema { description } }";
    assert_eq!(refused(&api.run(&schema, three).await).1, "introspection");
    let two = "{ a: __schema { description } b: __type(name: \"Query\") { name } }";
    assert!(api.run(&schema, two).await.get("errors").is_none());

    // Listing the fields of a type reached as a reference multiplies the
    // answer by the schema at each level: refused.
    for query in [
        "{ __schema { types { fields { type { fields { name } } } } } }",
        "{ __type(name: \"Query\") { fields { type { ofType { fields { type { name } } } } } } }",
        "{ __schema { types { ...T } } } fragment T on __Type { fields { type { ...U } } } fragment U on __Type { inputFields { name } }",
    ] {
        let answer = api.run(&schema, query).await;
        assert_eq!(refused(&answer).1, "introspection", "{query}: {answer}");
        french(refused(&answer).2);
    }
    // Too many introspection fields, fragments expanded.
    let wide: String = (0..700).map(|i| format!("n{i}: name ")).collect();
    let answer = api
        .run(
            &roomy,
            &format!("{{ __type(name: \"Query\") {{ {wide} }} }}"),
        )
        .await;
    assert_eq!(refused(&answer).1, "introspection", "{answer}");
}

#[tokio::test]
async fn introspection_turned_off_is_refused_in_french() {
    let api = Api::new().await;
    let schema = api.schema(Limits {
        introspection: false,
        ..Limits::default()
    });
    for query in [
        INTROSPECTION,
        "{ __type(name: \"Query\") { name } }",
        "{ ...I } fragment I on Query { __schema { description } }",
    ] {
        let answer = api.run(&schema, query).await;
        let (code, _, message) = refused(&answer);
        assert_eq!(code, "FORBIDDEN", "{answer}");
        french(message);
        assert_eq!(answer["data"], Value::Null);
    }
    // `__typename` is not introspection.
    let answer = api.run(&schema, "{ __typename }").await;
    assert_eq!(answer["data"], json!({ "__typename": "Query" }));
}

#[tokio::test]
async fn documents_that_do_not_fit_the_schema_are_refused_in_french() {
    let api = Api::new().await;
    let schema = api.schema(Limits::default());
    for (query, words) in [
        ("{ me { nope } }", "« nope »"),
        ("{ me { email", "ligne 1"),
        ("{ people(fisrt: 3) { edges { cursor } } }", "« fisrt »"),
        (
            "query A { __typename } query B { __typename }",
            "operationName",
        ),
        ("{ ...Nowhere }", "« Nowhere »"),
    ] {
        let answer = api.run(&schema, query).await;
        let (code, _, message) = refused(&answer);
        assert_eq!(code, "BAD_USER_INPUT", "{query}: {answer}");
        french(message);
        assert!(message.contains(words), "{query}: {message}");
    }
}
