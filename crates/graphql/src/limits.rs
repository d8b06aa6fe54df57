//! What a request may ask, and how what it sends is checked, before any
//! resolver runs: over HTTP, over WebSocket and for the pages run
//! in-process alike, since all of them go through the schema's extensions.
//!
//! The document is measured as it will run, fragments expanded, but in
//! linear time: each fragment is measured once per place it can stand in
//! and its measure reused wherever it is spread, so twenty fragments that
//! each spread the next one twice (a million fields once expanded) cost
//! twenty measures, and are refused before anything walks them again.
//! async-graphql's own checks expand fragments as they go, so they only run
//! on a document this one has let through.
//!
//! Before the document is parsed at all, its brackets' nesting is counted on
//! the text: the parser recurses once per level, and values nested a few
//! thousand deep in a few kilobytes would overflow its stack.
//!
//! Introspection (`__schema`, `__type`) has bounds of its own instead of the
//! depth and complexity of the data it describes: the standard query of
//! clients (graphql-js, graphql-core, GraphiQL) nests `ofType` deeper than
//! any data query may go, but only along one type's references, which do not
//! multiply. What multiplies is listing the fields of a type reached as a
//! reference (`fields { type { fields { … } } }`), which no client needs
//! (the types are listed once, by `types`) and which is refused.
//!
//! Input values are checked against the schema's types in one place with
//! French messages and the path the client wrote (see `error.rs`), before
//! async-graphql coerces them: dates are read as the product reads them
//! ([`passerelle_domain::values::parse_date`]), NUL (which PostgreSQL cannot
//! store) is refused in every string, and unknown or missing input fields
//! are named.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextPrepareRequest, NextRequest, NextSubscribe,
};
use async_graphql::parser::types::{
    BaseType, ExecutableDocument, Field, OperationDefinition, OperationType, Selection,
    SelectionSet, Type, TypeKind, TypeSystemDefinition, VariableDefinition,
};
use async_graphql::{Pos, Positioned, Request, Response, ServerError, ServerResult, Value};
use futures::StreamExt as _;
use futures::stream::BoxStream;
use passerelle_domain::values::{PLAUSIBLE_YEARS, parse_date};
use passerelle_domain::{DomainError, Rule};

use crate::error::{self, Code};

/// async-graphql's own bound on nested selections (fields with
/// sub-selections, fragment spreads, inline fragments), kept at its
/// default: measured here first, so that a deeper document is refused in
/// French before async-graphql walks it.
const NESTING: u64 = 32;

/// Brackets (`{`, `[`, `(`) the query text may nest: selections (bounded
/// by [`NESTING`]) with their arguments' values. The parser recurses once per
/// level, so this is counted on the text, before it parses.
const BRACKETS: usize = 64;

/// `__schema` and `__type` fields an operation may select: a client asks
/// for the schema once.
const INTROSPECTION_ROOTS: u64 = 2;

/// Fields an operation may select within introspection, fragments
/// expanded: graphql-core's standard query with every option selects 226.
const INTROSPECTION_FIELDS: u64 = 600;

/// The fields of `__Type` that list other things.
const TYPE_LISTS: [&str; 5] = [
    "fields",
    "inputFields",
    "enumValues",
    "interfaces",
    "possibleTypes",
];

/// The fields of introspection objects that lead to a type as a reference.
const TYPE_REFERENCES: [&str; 4] = ["type", "ofType", "interfaces", "possibleTypes"];

/// Request limits, from configuration, checked on the document before
/// anything runs (`limits.rs`); fragments count as expanded.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Fields of data nested (introspection has bounds of its own).
    pub depth: usize,
    /// Fields of data selected, `__typename` aside.
    pub complexity: usize,
    /// Fields selected, `__typename` and aliased ones included; fragment
    /// expansions are bounded by it too.
    pub fields: usize,
    /// Longest query text, in bytes.
    pub query_bytes: usize,
    /// Fields at an operation's root.
    pub root_fields: usize,
    /// Aliases.
    pub aliases: usize,
    /// Whether `__schema` and `__type` are answered; when not, they are
    /// refused with `FORBIDDEN`.
    pub introspection: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            depth: 12,
            complexity: 1000,
            fields: 2000,
            query_bytes: 32 * 1024,
            root_fields: 30,
            aliases: 50,
            introspection: true,
        }
    }
}

/// The schema's extension: limits, input check, and codes on every error.
pub(crate) struct Guard(Arc<Checks>);

struct Checks {
    limits: Limits,
    types: Types,
}

impl Guard {
    /// The guard of a schema whose SDL is `sdl`.
    pub(crate) fn new(limits: Limits, sdl: &str) -> Self {
        Self(Arc::new(Checks {
            limits,
            types: Types::from_sdl(sdl),
        }))
    }
}

impl ExtensionFactory for Guard {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(GuardExtension(self.0.clone()))
    }
}

struct GuardExtension(Arc<Checks>);

#[async_trait::async_trait]
impl Extension for GuardExtension {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let mut response = next.run(ctx).await;
        response.errors.iter_mut().for_each(error::typed);
        response
    }

    fn subscribe<'s>(
        &self,
        ctx: &ExtensionContext<'_>,
        stream: BoxStream<'s, Response>,
        next: NextSubscribe<'_>,
    ) -> BoxStream<'s, Response> {
        next.run(ctx, stream)
            .map(|mut response| {
                response.errors.iter_mut().for_each(error::typed);
                response
            })
            .boxed()
    }

    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        mut request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        self.0.check(&mut request)?;
        next.run(ctx, request).await
    }
}

impl Checks {
    /// Refuses the request before async-graphql parses it again (it keeps
    /// the document parsed here), validates it or runs it.
    fn check(&self, request: &mut Request) -> ServerResult<()> {
        let limits = &self.limits;
        if request.query.len() > limits.query_bytes {
            return Err(limit(
                "queryLength",
                format!(
                    "Cette requête fait {} octets : {} au plus.",
                    request.query.len(),
                    limits.query_bytes
                ),
            ));
        }
        if too_nested_to_parse(&request.query) {
            return Err(limit(
                "nesting",
                format!(
                    "Cette requête imbrique ses sélections ou ses valeurs sur plus de {BRACKETS} niveaux."
                ),
            ));
        }
        let operation_name = request.operation_name.clone();
        let variables = request.variables.clone();
        let document = request.parsed_query().map_err(|e| {
            let at = e.locations.first().copied();
            let place = at.map_or_else(String::new, |p| {
                format!(" (ligne {}, colonne {})", p.line, p.column)
            });
            error::refusal(
                Code::BadUserInput,
                format!(
                    "Cette requête GraphQL est mal écrite{place} : vérifiez ses accolades, parenthèses et guillemets."
                ),
                at,
                &[],
            )
        })?;
        self.measure(document)?;
        let operation = match (&document.operations, &operation_name) {
            (async_graphql::parser::types::DocumentOperations::Single(op), _) => Some(op),
            (async_graphql::parser::types::DocumentOperations::Multiple(ops), Some(name)) => {
                ops.get(name.as_str())
            }
            (async_graphql::parser::types::DocumentOperations::Multiple(ops), None) => {
                (ops.len() == 1).then(|| ops.values().next()).flatten()
            }
        };
        // Without an operation to run, async-graphql says why.
        if let Some(operation) = operation {
            Inputs {
                types: &self.types,
                document,
                variables: &variables,
                definitions: &operation.node.variable_definitions,
                fragments: HashSet::new(),
            }
            .operation(&operation.node)?;
        }
        Ok(())
    }

    /// Every operation and every fragment of the document, fragments
    /// expanded, against the limits.
    fn measure(&self, document: &ExecutableDocument) -> ServerResult<()> {
        let limits = &self.limits;
        let mut measure = Measure {
            document,
            known: HashMap::new(),
            open: HashSet::new(),
        };
        for (_, operation) in document.operations.iter() {
            let tally = measure.selections(&operation.node.selection_set, Place::Root, 0)?;
            self.bounds(&tally)?;
            if tally.introspection_roots > 0 && !limits.introspection {
                return Err(error::refusal(
                    Code::Forbidden,
                    "L'introspection du schéma est désactivée sur ce serveur : le schéma est publié avec sa documentation.",
                    None,
                    &[],
                ));
            }
            if tally.introspection_roots > INTROSPECTION_ROOTS {
                return Err(limit(
                    "introspection",
                    format!(
                        "Cette requête demande {} fois __schema ou __type : {INTROSPECTION_ROOTS} au plus.",
                        tally.introspection_roots
                    ),
                ));
            }
            if tally.introspection_fields > INTROSPECTION_FIELDS {
                return Err(limit(
                    "introspection",
                    format!(
                        "Cette requête sélectionne plus de {INTROSPECTION_FIELDS} champs d'introspection une fois ses fragments développés."
                    ),
                ));
            }
            if let Some(at) = tally.listed_reference {
                return Err(error::refusal(
                    Code::BadUserInput,
                    "L'introspection ne liste pas le contenu d'un type atteint par référence (type, ofType, interfaces, possibleTypes) : chaque type se lit une fois, dans __schema { types } ou par __type(name: …).",
                    Some(at),
                    &[("limit", "introspection")],
                ));
            }
            if tally.depth > limits.depth as u64 {
                return Err(limit(
                    "depth",
                    format!(
                        "Cette requête imbrique ses champs sur {} niveaux : {} au plus.",
                        tally.depth, limits.depth
                    ),
                ));
            }
            if tally.complexity > limits.complexity as u64 {
                return Err(limit(
                    "complexity",
                    format!(
                        "Cette requête est trop complexe : elle demande plus de {} champs de données, fragments développés.",
                        limits.complexity
                    ),
                ));
            }
            if tally.root_fields > limits.root_fields as u64 {
                return Err(limit(
                    "rootFields",
                    format!(
                        "Cette requête demande {} champs à sa racine : {} au plus.",
                        tally.root_fields, limits.root_fields
                    ),
                ));
            }
            if tally.aliases > limits.aliases as u64 {
                return Err(limit(
                    "aliases",
                    format!(
                        "Cette requête donne plus de {} alias une fois ses fragments développés.",
                        limits.aliases
                    ),
                ));
            }
        }
        // async-graphql walks every fragment on its own as well. They are
        // measured in the order they are written, so that the same document
        // always meets the same limit first (the map's order is random).
        let mut written: Vec<_> = document.fragments.iter().collect();
        written.sort_by_key(|(_, fragment)| (fragment.pos.line, fragment.pos.column));
        for (name, _) in written {
            let tally = measure.fragment(name, Place::Data, 0)?;
            self.bounds(&tally)?;
        }
        Ok(())
    }

    /// What bounds the work of walking a selection: its nesting, its fields
    /// and its fragments, expanded.
    fn bounds(&self, tally: &Tally) -> ServerResult<()> {
        let max = self.limits.fields as u64;
        if tally.nesting > NESTING {
            return Err(too_nested());
        }
        if tally.fields > max {
            return Err(limit(
                "fields",
                format!(
                    "Cette requête sélectionne plus de {max} champs une fois ses fragments développés : allégez-la ou découpez-la."
                ),
            ));
        }
        if tally.fragments > max {
            return Err(limit(
                "fragments",
                format!(
                    "Cette requête développe ses fragments plus de {max} fois : allégez-la ou découpez-la."
                ),
            ));
        }
        Ok(())
    }
}

/// Whether `query` nests brackets (`{`, `[`, `(`) deeper than `bound`,
/// strings and comments aside. async-graphql's parser recurses once per
/// level of a value or a selection: a few kilobytes of `[[[…]]]` in an
/// argument, a directive or a variable's default would overflow its stack,
/// and abort the process, before any bound on the parsed document could be
/// checked. One pass over the bytes, whatever the text.
///
/// Strings and comments are read as async-graphql-parser's grammar reads
/// them (`graphql.pest`), so that no bracket it takes for structure is taken
/// here for text: a block string runs to the first `"""` not escaped as
/// `\"""`, and one never closed is read as `""` (the grammar's other
/// choice) followed by what comes next; a string ends at its `"` or at the
/// first character it may not hold (the parse fails there).
pub(crate) fn deeper_than(query: &str, bound: usize) -> bool {
    let text = query.as_bytes();
    let (mut depth, mut i) = (0usize, 0usize);
    while i < text.len() {
        match text[i] {
            b'#' => {
                while i < text.len() && !matches!(text[i], b'\n' | b'\r') {
                    i += 1;
                }
            }
            b'"' if text[i..].starts_with(b"\"\"\"") => match block_string_end(text, i + 3) {
                // On the closing quotes' last: the step below passes it.
                Some(end) => i = end - 1,
                // Never closed: an empty string, then a quote that opens
                // the next one.
                None => i += 1,
            },
            b'"' => {
                i += 1;
                while i < text.len() {
                    match text[i] {
                        b'"' | b'\n' | b'\r' => break,
                        b'\\' if text.get(i + 1) == Some(&b'u') => i += 6,
                        b'\\'
                            if matches!(
                                text.get(i + 1),
                                Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't')
                            ) =>
                        {
                            i += 2;
                        }
                        // An escape the grammar does not know: the parse
                        // stops here, read what follows as structure.
                        b'\\' => break,
                        _ => i += 1,
                    }
                }
                // On the closing quote, or on what ended the string: the
                // latter is read again as structure.
                if i < text.len() && text[i] != b'"' {
                    continue;
                }
            }
            b'{' | b'[' | b'(' => {
                depth += 1;
                if depth > bound {
                    return true;
                }
            }
            b'}' | b']' | b')' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    false
}

/// Where the block string whose content starts at `from` ends (just past
/// its closing `"""`), if it is closed.
fn block_string_end(text: &[u8], mut from: usize) -> Option<usize> {
    while from < text.len() {
        if text[from..].starts_with(b"\\\"\"\"") {
            from += 4;
        } else if text[from..].starts_with(b"\"\"\"") {
            return Some(from + 3);
        } else {
            from += 1;
        }
    }
    None
}

/// Whether the query text is refused on its nesting ([`BRACKETS`]) before
/// anything parses it: what reads a request before the schema does checks
/// it first.
pub(crate) fn too_nested_to_parse(query: &str) -> bool {
    deeper_than(query, BRACKETS)
}

fn limit(name: &str, message: String) -> ServerError {
    error::refusal(Code::BadUserInput, message, None, &[("limit", name)])
}

fn too_nested() -> ServerError {
    limit(
        "nesting",
        format!(
            "Cette requête imbrique ses sélections et ses fragments sur plus de {NESTING} niveaux."
        ),
    )
}

/// Where a selection stands, which decides what it counts towards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Place {
    /// The operation's own selection.
    Root,
    /// Below a field of data.
    Data,
    /// Below `__schema` or `__type`.
    Introspection,
    /// Below a type reached as a reference (`type`, `ofType`…).
    Reference,
}

impl Place {
    fn introspection(self) -> bool {
        matches!(self, Place::Introspection | Place::Reference)
    }

    /// Where the selection of a field named `name` stands.
    fn below(self, name: &str) -> Place {
        match self {
            Place::Root if matches!(name, "__schema" | "__type") => Place::Introspection,
            Place::Root | Place::Data => Place::Data,
            Place::Introspection | Place::Reference if TYPE_REFERENCES.contains(&name) => {
                Place::Reference
            }
            Place::Introspection | Place::Reference => Place::Introspection,
        }
    }
}

/// A selection's measure, fragments expanded. Counts saturate: a count
/// past `u64::MAX` is over any limit all the same.
#[derive(Debug, Clone, Copy, Default)]
struct Tally {
    /// Every field, `__typename` and aliased ones included.
    fields: u64,
    /// Fragment spreads and inline fragments.
    fragments: u64,
    aliases: u64,
    /// Fields at the operation's root.
    root_fields: u64,
    /// async-graphql's complexity: a point per field of data (neither
    /// `__typename` nor introspection).
    complexity: u64,
    /// async-graphql's depth: fields of data nested.
    depth: u64,
    /// Selections nested (fields with a selection, spreads, inline
    /// fragments), as async-graphql bounds them.
    nesting: u64,
    introspection_roots: u64,
    introspection_fields: u64,
    /// Where a type reached as a reference lists its content.
    listed_reference: Option<Pos>,
}

impl Tally {
    /// Two selections side by side.
    fn add(&mut self, other: &Tally) {
        self.fields = self.fields.saturating_add(other.fields);
        self.fragments = self.fragments.saturating_add(other.fragments);
        self.aliases = self.aliases.saturating_add(other.aliases);
        self.root_fields = self.root_fields.saturating_add(other.root_fields);
        self.complexity = self.complexity.saturating_add(other.complexity);
        self.depth = self.depth.max(other.depth);
        self.nesting = self.nesting.max(other.nesting);
        self.introspection_roots = self
            .introspection_roots
            .saturating_add(other.introspection_roots);
        self.introspection_fields = self
            .introspection_fields
            .saturating_add(other.introspection_fields);
        self.listed_reference = self.listed_reference.or(other.listed_reference);
    }
}

struct Measure<'a> {
    document: &'a ExecutableDocument,
    /// Each fragment's measure, by the place it was spread in.
    known: HashMap<(&'a str, Place), Tally>,
    /// The fragments being measured, to stop at a cycle.
    open: HashSet<(&'a str, Place)>,
}

impl<'a> Measure<'a> {
    /// `level` is how deep the walk is, whose own stack stays bounded
    /// whatever the fragments' measures say.
    fn selections(
        &mut self,
        set: &'a Positioned<SelectionSet>,
        place: Place,
        level: u64,
    ) -> ServerResult<Tally> {
        if level > NESTING {
            return Err(too_nested());
        }
        let mut tally = Tally::default();
        for item in &set.node.items {
            let one = match &item.node {
                Selection::Field(field) => self.field(field, place, level)?,
                Selection::FragmentSpread(spread) => {
                    let mut t = self.fragment(&spread.node.fragment_name.node, place, level + 1)?;
                    t.fragments = t.fragments.saturating_add(1);
                    t.nesting += 1;
                    t
                }
                Selection::InlineFragment(inline) => {
                    let mut t = self.selections(&inline.node.selection_set, place, level + 1)?;
                    t.fragments = t.fragments.saturating_add(1);
                    t.nesting += 1;
                    t
                }
            };
            tally.add(&one);
        }
        Ok(tally)
    }

    fn field(
        &mut self,
        field: &'a Positioned<Field>,
        place: Place,
        level: u64,
    ) -> ServerResult<Tally> {
        let name = field.node.name.node.as_str();
        let below = place.below(name);
        let mut tally = if field.node.selection_set.node.items.is_empty() {
            Tally::default()
        } else {
            let mut t = self.selections(&field.node.selection_set, below, level + 1)?;
            t.nesting += 1;
            t
        };
        tally.fields = tally.fields.saturating_add(1);
        if field.node.alias.is_some() {
            tally.aliases = tally.aliases.saturating_add(1);
        }
        if place == Place::Root {
            tally.root_fields = 1;
        }
        if place.introspection() || below == Place::Introspection {
            tally.introspection_fields = tally.introspection_fields.saturating_add(1);
            if place == Place::Root {
                tally.introspection_roots = tally.introspection_roots.saturating_add(1);
            }
            if place == Place::Reference && TYPE_LISTS.contains(&name) {
                tally.listed_reference = tally.listed_reference.or(Some(field.pos));
            }
        } else if name != "__typename" {
            tally.complexity = tally.complexity.saturating_add(1);
            tally.depth += 1;
        }
        Ok(tally)
    }

    fn fragment(&mut self, name: &'a str, place: Place, level: u64) -> ServerResult<Tally> {
        if let Some(known) = self.known.get(&(name, place)) {
            return Ok(*known);
        }
        // An unknown fragment is refused by validation.
        let Some(fragment) = self.document.fragments.get(name) else {
            return Ok(Tally::default());
        };
        if !self.open.insert((name, place)) {
            return Err(error::refusal(
                Code::BadUserInput,
                format!("Le fragment « {name} » s'inclut lui-même : une requête ne boucle pas."),
                Some(fragment.pos),
                &[("limit", "fragments")],
            ));
        }
        let tally = self.selections(&fragment.node.selection_set, place, level)?;
        self.open.remove(&(name, place));
        self.known.insert((name, place), tally);
        Ok(tally)
    }
}

/// The input side of the schema's types, read from its SDL.
#[derive(Debug, Default)]
struct Types {
    /// The root types of queries, mutations and subscriptions.
    roots: [Option<String>; 3],
    /// Fields of objects and interfaces: the named type they return and
    /// their arguments.
    outputs: HashMap<String, HashMap<String, (String, Vec<InputField>)>>,
    inputs: HashMap<String, Vec<InputField>>,
    enums: HashMap<String, Vec<String>>,
}

#[derive(Debug)]
struct InputField {
    name: String,
    ty: Type,
    /// Non-null without a default: it must be given.
    required: bool,
}

impl Types {
    fn from_sdl(sdl: &str) -> Self {
        let document =
            async_graphql::parser::parse_schema(sdl).expect("the schema's own SDL parses");
        let mut types = Types::default();
        let fields = |list: &[Positioned<async_graphql::parser::types::InputValueDefinition>]| {
            list.iter()
                .map(|f| InputField {
                    name: f.node.name.node.to_string(),
                    ty: f.node.ty.node.clone(),
                    required: !f.node.ty.node.nullable && f.node.default_value.is_none(),
                })
                .collect::<Vec<_>>()
        };
        for definition in document.definitions {
            match definition {
                TypeSystemDefinition::Schema(schema) => {
                    let schema = schema.node;
                    for (ty, name) in [
                        (OperationType::Query, schema.query),
                        (OperationType::Mutation, schema.mutation),
                        (OperationType::Subscription, schema.subscription),
                    ] {
                        if let Some(name) = name {
                            types.roots[root(ty)] = Some(name.node.to_string());
                        }
                    }
                }
                TypeSystemDefinition::Type(ty) => {
                    let name = ty.node.name.node.to_string();
                    let outputs = match &ty.node.kind {
                        TypeKind::Object(o) => Some(&o.fields),
                        TypeKind::Interface(i) => Some(&i.fields),
                        TypeKind::InputObject(i) => {
                            types.inputs.insert(name.clone(), fields(&i.fields));
                            None
                        }
                        TypeKind::Enum(e) => {
                            let values = e.values.iter().map(|v| v.node.value.node.to_string());
                            types.enums.insert(name.clone(), values.collect());
                            None
                        }
                        TypeKind::Scalar | TypeKind::Union(_) => None,
                    };
                    if let Some(outputs) = outputs {
                        let map = outputs
                            .iter()
                            .map(|f| {
                                (
                                    f.node.name.node.to_string(),
                                    (named(&f.node.ty.node).to_owned(), fields(&f.node.arguments)),
                                )
                            })
                            .collect();
                        types.outputs.insert(name, map);
                    }
                }
                TypeSystemDefinition::Directive(_) => {}
            }
        }
        for (ty, name) in [
            (OperationType::Query, "Query"),
            (OperationType::Mutation, "Mutation"),
            (OperationType::Subscription, "Subscription"),
        ] {
            if types.outputs.contains_key(name) {
                types.roots[root(ty)].get_or_insert_with(|| name.to_owned());
            }
        }
        types
    }
}

fn root(ty: OperationType) -> usize {
    match ty {
        OperationType::Query => 0,
        OperationType::Mutation => 1,
        OperationType::Subscription => 2,
    }
}

fn named(ty: &Type) -> &str {
    match &ty.base {
        BaseType::Named(name) => name.as_str(),
        BaseType::List(inner) => named(inner),
    }
}

/// The input values of the operation to run, against the schema's types.
struct Inputs<'a> {
    types: &'a Types,
    document: &'a ExecutableDocument,
    variables: &'a async_graphql::Variables,
    definitions: &'a [Positioned<VariableDefinition>],
    /// The fragments already checked: a fragment's arguments are the same
    /// wherever it is spread.
    fragments: HashSet<&'a str>,
}

/// A variable the request leaves out, and with no default: as if the value
/// were not written. A request's values never hold binary data (neither
/// JSON variables nor the query's literals can), so it marks them.
fn absent() -> Value {
    Value::Binary(Default::default())
}

fn is_absent(value: &Value) -> bool {
    matches!(value, Value::Binary(_))
}

impl<'a> Inputs<'a> {
    fn operation(&mut self, operation: &'a OperationDefinition) -> ServerResult<()> {
        let root = self.types.roots[root(operation.ty)].as_deref();
        self.selections(&operation.selection_set, root)
    }

    fn selections(
        &mut self,
        set: &'a Positioned<SelectionSet>,
        parent: Option<&'a str>,
    ) -> ServerResult<()> {
        for item in &set.node.items {
            match &item.node {
                Selection::Field(field) => {
                    // A field the schema does not have is refused by
                    // validation; introspection's fields are its own.
                    let Some((ty, arguments)) = parent
                        .and_then(|p| self.types.outputs.get(p))
                        .and_then(|fields| fields.get(field.node.name.node.as_str()))
                    else {
                        continue;
                    };
                    self.arguments(&field.node, arguments)?;
                    self.selections(&field.node.selection_set, Some(ty.as_str()))?;
                }
                Selection::FragmentSpread(spread) => {
                    let name = spread.node.fragment_name.node.as_str();
                    if let Some(fragment) = self.document.fragments.get(name)
                        && self.fragments.insert(name)
                    {
                        let on = fragment.node.type_condition.node.on.node.as_str();
                        self.selections(&fragment.node.selection_set, Some(on))?;
                    }
                }
                Selection::InlineFragment(inline) => {
                    let on = inline
                        .node
                        .type_condition
                        .as_ref()
                        .map(|c| c.node.on.node.as_str())
                        .or(parent);
                    self.selections(&inline.node.selection_set, on)?;
                }
            }
        }
        Ok(())
    }

    fn arguments(&self, field: &'a Field, arguments: &'a [InputField]) -> ServerResult<()> {
        for (name, _) in &field.arguments {
            if !arguments.iter().any(|a| a.name == name.node.as_str()) {
                return Err(bad(
                    name.node.as_str(),
                    format!(
                        "L'argument « {} » n'existe pas pour le champ « {} ».",
                        name.node, field.name.node
                    ),
                    name.pos,
                ));
            }
        }
        for argument in arguments {
            // The fields of a mutation's `input` are named from the input.
            let path = if argument.name == "input" {
                String::new()
            } else {
                argument.name.clone()
            };
            let given = field
                .arguments
                .iter()
                .find(|(name, _)| name.node.as_str() == argument.name);
            let (value, at) = match given {
                Some((_, value)) => {
                    let resolved = value.node.clone().into_const_with(|name| {
                        Ok::<_, std::convert::Infallible>(self.variable(name.as_str()))
                    });
                    (resolved.unwrap_or_else(|never| match never {}), value.pos)
                }
                None => (absent(), field.name.pos),
            };
            if is_absent(&value) {
                if argument.required {
                    return Err(required(&argument.name, at));
                }
                continue;
            }
            self.value(&argument.ty, &value, &path, at)?;
        }
        Ok(())
    }

    /// What the request gives for a variable, or its default.
    fn variable(&self, name: &str) -> Value {
        if let Some(given) = self.variables.get(name) {
            return given.clone();
        }
        self.definitions
            .iter()
            .find(|d| d.node.name.node.as_str() == name)
            .and_then(|d| d.node.default_value.as_ref())
            .map_or_else(absent, |d| d.node.clone())
    }

    fn value(&self, ty: &Type, value: &Value, path: &str, at: Pos) -> ServerResult<()> {
        if matches!(value, Value::Null) || is_absent(value) {
            return if ty.nullable {
                Ok(())
            } else {
                Err(required(shown(path), at))
            };
        }
        // A choice or a date left blank (a form's radio buttons none of
        // which was picked, an empty date field) is a missing answer, not an
        // unknown or malformed one.
        if let (BaseType::Named(name), Value::String(s)) = (&ty.base, value)
            && s.trim().is_empty()
            && (self.types.enums.contains_key(name.as_str())
                || matches!(name.as_str(), "Date" | "DateTime"))
        {
            return Err(if ty.nullable {
                bad(
                    shown(path),
                    "Ce champ est vide : indiquez une valeur, ou ne l'envoyez pas.".to_owned(),
                    at,
                )
            } else {
                required(shown(path), at)
            });
        }
        match &ty.base {
            BaseType::List(item) => match value {
                Value::List(items) => items.iter().try_for_each(|v| self.value(item, v, path, at)),
                // One value stands for a list of one.
                v => self.value(item, v, path, at),
            },
            BaseType::Named(name) => self.named(name.as_str(), value, path, at),
        }
    }

    fn named(&self, ty: &str, value: &Value, path: &str, at: Pos) -> ServerResult<()> {
        if let Some(fields) = self.types.inputs.get(ty) {
            let Value::Object(given) = value else {
                return Err(expected(path, "un objet { … }", at));
            };
            for key in given.keys() {
                if !fields.iter().any(|f| f.name == key.as_str()) {
                    return Err(bad(
                        &join(path, key),
                        format!("Le champ « {key} » n'existe pas dans {ty}."),
                        at,
                    ));
                }
            }
            for field in fields {
                let inner = join(path, &field.name);
                match given.get(field.name.as_str()).filter(|v| !is_absent(v)) {
                    None if field.required => return Err(required(&inner, at)),
                    None => {}
                    Some(v) => self.value(&field.ty, v, &inner, at)?,
                }
            }
            return Ok(());
        }
        if let Some(values) = self.types.enums.get(ty) {
            let given = match value {
                Value::Enum(name) => Some(name.as_str()),
                Value::String(name) => Some(name.as_str()),
                _ => None,
            };
            return match given {
                Some(v) if values.iter().any(|known| known == v) => Ok(()),
                _ => Err(bad(
                    shown(path),
                    format!("Cette valeur n'est pas admise ici : {}.", one_of(values)),
                    at,
                )),
            };
        }
        match (ty, value) {
            ("String" | "ID", Value::String(s)) if s.contains('\0') => Err(error::on_input(
                shown(path),
                &DomainError::invalid(
                    Rule::TextControlCharacter,
                    "text",
                    "Ce texte contient un caractère nul (U+0000), qui ne peut pas être enregistré : retirez-le.",
                ),
                at,
            )),
            ("String", Value::String(_)) => Ok(()),
            ("String", _) => Err(expected(path, "un texte", at)),
            ("ID", Value::String(_)) => Ok(()),
            ("ID", Value::Number(n)) if n.is_i64() || n.is_u64() => Ok(()),
            ("ID", _) => Err(expected(path, "un identifiant", at)),
            ("Int", Value::Number(n)) => match n.as_i64() {
                Some(i) if i32::try_from(i).is_ok() => Ok(()),
                Some(_) => Err(bad(
                    shown(path),
                    "Ce nombre sort des bornes d'un entier (plus ou moins 2 147 483 647)."
                        .to_owned(),
                    at,
                )),
                None if n.is_u64() => Err(bad(
                    shown(path),
                    "Ce nombre sort des bornes d'un entier (plus ou moins 2 147 483 647)."
                        .to_owned(),
                    at,
                )),
                None => Err(expected(path, "un nombre entier", at)),
            },
            ("Int", _) => Err(expected(path, "un nombre entier", at)),
            ("Float", Value::Number(_)) => Ok(()),
            ("Float", _) => Err(expected(path, "un nombre", at)),
            ("Boolean", Value::Boolean(_)) => Ok(()),
            ("Boolean", _) => Err(expected(path, "true ou false", at)),
            ("Date", Value::String(s)) => parse_date(s)
                .map(|_| ())
                .map_err(|e| error::on_input(shown(path), &e, at)),
            ("Date", _) => Err(expected(path, "une date AAAA-MM-JJ", at)),
            ("DateTime", Value::String(s)) => date_time(s).map_err(|e| error::on_input(shown(path), &e, at)),
            ("DateTime", _) => Err(expected(
                path,
                "une date et une heure avec son décalage horaire (2026-04-01T09:30:00+02:00)",
                at,
            )),
            ("UUID", Value::String(s)) if uuid::Uuid::parse_str(s).is_ok() => Ok(()),
            ("UUID", _) => Err(bad(
                shown(path),
                "Cet identifiant n'est pas un UUID : 32 chiffres hexadécimaux, par exemple 0192f0c1-7d4e-7a8b-9c3d-2e1f0a9b8c7d."
                    .to_owned(),
                at,
            )),
            // A scalar this check does not know is coerced by async-graphql.
            _ => Ok(()),
        }
    }
}

/// An instant written in RFC 3339 (`2026-04-01T09:30:00+02:00`), within the
/// plausible years.
fn date_time(input: &str) -> Result<(), DomainError> {
    let parsed = time::OffsetDateTime::parse(input, &time::format_description::well_known::Rfc3339)
        .map_err(|_| {
            DomainError::invalid(
                Rule::DateFormat,
                "date",
                "Cette date et heure s'écrit jour et heure avec le décalage horaire, par exemple 2026-04-01T09:30:00+02:00 (le 1er avril 2026 à 9 h 30, heure de Paris).",
            )
        })?;
    if PLAUSIBLE_YEARS.contains(&parsed.year()) {
        Ok(())
    } else {
        passerelle_domain::values::plausible_date(parsed.date()).map(|_| ())
    }
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_owned()
    } else {
        format!("{path}.{name}")
    }
}

/// The path an error names: the `input` argument itself when its own value
/// is at fault.
fn shown(path: &str) -> &str {
    if path.is_empty() { "input" } else { path }
}

fn bad(path: &str, message: String, at: Pos) -> ServerError {
    error::refusal(Code::BadUserInput, message, Some(at), &[("field", path)])
}

fn required(path: &str, at: Pos) -> ServerError {
    error::refusal(
        Code::BadUserInput,
        "Ce champ est obligatoire.",
        Some(at),
        &[("field", path), ("rule", Rule::Required.code())],
    )
}

fn expected(path: &str, what: &str, at: Pos) -> ServerError {
    bad(shown(path), format!("Ce champ attend {what}."), at)
}

/// `A, B ou C`.
fn one_of(values: &[String]) -> String {
    match values {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} ou {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::deeper_than;

    #[test]
    fn brackets_are_counted_outside_strings_and_comments() {
        assert!(!deeper_than("{ a { b(x: [[1]]) } }", 5));
        assert!(deeper_than("{ a { b(x: [[1]]) } }", 4));
        // Closed brackets do not add up.
        assert!(!deeper_than(&"{ a }".repeat(1_000), 1));
        // Inside a string, an escaped quote, a block string or a comment,
        // brackets are text.
        assert!(!deeper_than(r#"{ a(x: "[[[\"[[[") }"#, 2));
        assert!(!deeper_than("{ a(x: \"\"\"[[[ \\\"\"\" [[[\"\"\") }", 2));
        assert!(!deeper_than("{ a # [[[[[\n }", 1));
        // An unterminated string ends at its line.
        assert!(deeper_than("{ a(x: \"[[\n [[[ ) }", 3));
        // A block string never closed is read as the grammar reads it, an
        // empty string then a quote: what follows is structure.
        let open = format!("{{ a(b: [\"\"\"\" {}", "[".repeat(100));
        assert!(deeper_than(&open, 64), "{open}");
        // Three quotes never closed: `""`, then a string never closed, where
        // the parse fails.
        assert!(!deeper_than(&format!("\"\"\" {}", "[".repeat(10)), 5));
        // An escape the grammar does not know ends the parse there.
        assert!(deeper_than(&format!("{{ a(x: \"\\q{}", "[".repeat(10)), 5));
        // A block string's escaped quotes do not close it.
        assert!(!deeper_than("{ a(x: \"\"\" \\\"\"\" [[[[[[ \"\"\") }", 3));
    }
}
