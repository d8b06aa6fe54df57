//! Every domain command has its way in: each variant of the domain's
//! `…Command` enums, read from their source, is issued by a mutation of the
//! committed SDL. A command added to the domain without a mutation fails
//! here, and so does a mutation named here that the schema lost.

use std::collections::BTreeSet;
use std::path::Path;

/// Each command variant (`Enum::Variant`) and the mutation that issues it.
/// Several variants may share a mutation (accepting and declining a
/// proposal for either party, a host's or a person's feedback).
const WAYS_IN: &[(&str, &str)] = &[
    ("EmployerCommand::Register", "employerRegister"),
    ("EmployerCommand::AddContact", "employerContactAdd"),
    ("EmployerCommand::RemoveContact", "employerContactRemove"),
    ("EmployerCommand::LogVisit", "employerVisitLog"),
    (
        "EmployerCommand::SetHostingCapacity",
        "employerHostingCapacitySet",
    ),
    ("NeedCommand::Surface", "needSurface"),
    ("NeedCommand::Qualify", "needQualify"),
    ("NeedCommand::FormaliseAsOffer", "needFormalise"),
    ("NeedCommand::Close", "needClose"),
    ("PersonCommand::Enroll", "personEnroll"),
    ("PersonCommand::ChangeReferent", "personReferentChange"),
    ("PersonCommand::StateSituation", "situationState"),
    ("PersonCommand::StateProject", "projectState"),
    ("PersonCommand::ReadjustProject", "projectReadjust"),
    ("PersonCommand::LogJobInquiry", "jobInquiryLog"),
    ("PersonCommand::LogPeerMeeting", "peerMeetingLog"),
    ("PersonCommand::StartMentorship", "mentorshipStart"),
    ("PersonCommand::EndMentorship", "mentorshipEnd"),
    ("PersonCommand::GiveConsent", "consentGive"),
    ("PersonCommand::WithdrawConsent", "consentWithdraw"),
    (
        "PersonCommand::RecordDisabilityRecognition",
        "disabilityRecognitionRecord",
    ),
    ("PersonCommand::Exit", "personExit"),
    ("TestimonyCommand::Record", "testimonyRecord"),
    (
        "TestimonyCommand::ChangeAudience",
        "testimonyAudienceChange",
    ),
    ("TestimonyCommand::Withdraw", "testimonyWithdraw"),
    ("ImmersionCommand::Propose", "immersionPropose"),
    ("ImmersionCommand::Accept", "immersionAccept"),
    ("ImmersionCommand::Decline", "immersionDecline"),
    ("ImmersionCommand::DraftConvention", "conventionDraft"),
    ("ImmersionCommand::Sign", "conventionSign"),
    ("ImmersionCommand::Prevalidate", "conventionPrevalidate"),
    ("ImmersionCommand::Validate", "conventionValidate"),
    ("ImmersionCommand::Reject", "conventionReject"),
    ("ImmersionCommand::Deprecate", "conventionDeprecate"),
    ("ImmersionCommand::Cancel", "conventionCancel"),
    ("ImmersionCommand::Renew", "conventionRenew"),
    ("ImmersionCommand::Start", "immersionStart"),
    ("ImmersionCommand::Interrupt", "immersionInterrupt"),
    ("ImmersionCommand::Complete", "immersionComplete"),
    ("ImmersionCommand::ReportAccident", "accidentReport"),
    (
        "ImmersionCommand::RecordAccidentDeclaration",
        "accidentDeclarationRecord",
    ),
    ("ImmersionCommand::RecordFeedback", "feedbackRecord"),
    ("ImmersionCommand::RecordOutcome", "outcomeRecord"),
];

/// The source without comments, strings and character literals, so that a
/// brace or a capitalised word in them is not read as code.
fn code_of(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut last = ' ';
                for c in chars.by_ref() {
                    if last == '*' && c == '/' {
                        break;
                    }
                    last = c;
                }
                out.push(' ');
            }
            '"' => {
                let mut escaped = false;
                for c in chars.by_ref() {
                    if escaped {
                        escaped = false;
                    } else if c == '\\' {
                        escaped = true;
                    } else if c == '"' {
                        break;
                    }
                }
                out.push_str("\"\"");
            }
            _ => out.push(c),
        }
    }
    out
}

/// The variants of every `pub enum …Command` in this source, as
/// `Enum::Variant`: the capitalised names at the enum's own brace depth
/// that open a variant (followed by `{`, `(`, `,` or the enum's end).
fn command_variants(source: &str) -> Vec<String> {
    let code = code_of(source);
    let mut found = Vec::new();
    let mut rest = code.as_str();
    while let Some(at) = rest.find("pub enum ") {
        rest = &rest[at + "pub enum ".len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let Some(open) = rest.find('{') else { break };
        if !name.ends_with("Command") {
            continue;
        }
        let body = &rest[open + 1..];
        let mut depth = 0usize;
        let mut word = String::new();
        let mut expecting = true;
        for c in body.chars() {
            if depth == 0 && expecting && (c.is_alphanumeric() || c == '_') {
                word.push(c);
                continue;
            }
            if !word.is_empty() {
                if word.starts_with(|c: char| c.is_ascii_uppercase()) {
                    found.push(format!("{name}::{word}"));
                }
                word.clear();
                expecting = false;
            }
            match c {
                '{' | '(' | '[' => depth += 1,
                '}' | ')' | ']' if depth > 0 => depth -= 1,
                '}' => break,
                ',' if depth == 0 => expecting = true,
                // Attributes (`#[…]`) sit before a variant at depth 0.
                '#' if depth == 0 => expecting = true,
                _ => {}
            }
            if depth == 0 && matches!(c, ']' | '}' | ')') {
                expecting = true;
            }
        }
    }
    found
}

fn rust_files(dir: &Path, into: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, into);
        } else if path.extension().is_some_and(|e| e == "rs") {
            into.push(path);
        }
    }
}

/// Every command variant of the domain, read from its source.
fn domain_commands() -> BTreeSet<String> {
    let mut files = Vec::new();
    rust_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/domain/src"),
        &mut files,
    );
    files
        .iter()
        .flat_map(|f| command_variants(&std::fs::read_to_string(f).unwrap()))
        .collect()
}

/// The fields of the committed SDL's `type Mutation`.
fn mutations() -> BTreeSet<String> {
    let sdl = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("graphql-schema/schema.graphql"),
    )
    .unwrap();
    let start = sdl
        .find("type Mutation {")
        .expect("a Mutation type in the SDL");
    let body = &sdl[start + "type Mutation {".len()..];
    let body = &body[..body.find("\n}").unwrap()];
    let mut fields = BTreeSet::new();
    let mut depth = 0usize;
    for line in body.lines() {
        let line = line.trim();
        // Fields sit at depth 0; arguments and descriptions inside them.
        if depth == 0 && !line.starts_with('"') && !line.starts_with('@') {
            let name: String = line
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                fields.insert(name);
            }
        }
        depth += line.matches('(').count();
        depth -= line.matches(')').count().min(depth);
    }
    fields
}

#[test]
fn every_domain_command_is_issued_by_a_mutation() {
    let commands = domain_commands();
    assert!(
        commands.len() > 30 && commands.contains("ImmersionCommand::Propose"),
        "the domain's commands read from its source: {commands:?}"
    );
    let mutations = mutations();
    assert!(mutations.contains("employerRegister"), "{mutations:?}");
    let mapped: BTreeSet<String> = WAYS_IN.iter().map(|(c, _)| (*c).to_owned()).collect();
    let unmapped: Vec<&String> = commands.difference(&mapped).collect();
    let stale: Vec<&String> = mapped.difference(&commands).collect();
    let missing: Vec<String> = WAYS_IN
        .iter()
        .filter(|(_, m)| !mutations.contains(*m))
        .map(|(c, m)| format!("{c} → {m}"))
        .collect();
    assert!(
        unmapped.is_empty() && stale.is_empty() && missing.is_empty(),
        "commands with no mutation named here: {unmapped:?}\n\
         commands named here that the domain no longer has: {stale:?}\n\
         mutations named here that the schema lacks: {missing:#?}"
    );
}

#[test]
fn the_reading_of_commands_sees_every_variant_shape() {
    let source = "/// Doc { with braces }\n\
        #[derive(Debug)]\n\
        pub enum ThingCommand {\n\
            Unit,\n\
            /// A \"quoted } brace\".\n\
            Named { a: Vec<Option<u8>>, b: (u8, u8) },\n\
            #[allow(dead_code)]\n\
            Tuple(Box<u8>),\n\
            Last\n\
        }\n\
        pub enum NotACommandKind { Other }\n";
    assert_eq!(
        command_variants(source),
        [
            "ThingCommand::Unit",
            "ThingCommand::Named",
            "ThingCommand::Tuple",
            "ThingCommand::Last"
        ]
    );
}
