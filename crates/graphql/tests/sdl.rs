//! The committed SDL follows the code: a change of the schema shows up in
//! review as a change of `graphql-schema/schema.graphql`.

#[test]
fn the_committed_schema_matches_the_code() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../graphql-schema/schema.graphql"
    );
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    let current = passerelle_graphql::sdl();
    assert!(
        committed == current,
        "graphql-schema/schema.graphql differs from the schema in the code; regenerate it with \
         `cargo run -- schema > graphql-schema/schema.graphql` and review the diff"
    );
}
