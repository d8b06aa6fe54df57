//! Errors as the API gives them: `extensions.code` always, `extensions.field`
//! for input and rule errors, and a French message a mediator can read.
//! Internal errors are logged with a correlation id and say nothing more.
//!
//! Extensions besides `code`:
//! - `field`: the input to fix, as the client wrote its path: from the
//!   `input` argument's fields (`birthDate`, `convention.period.end`), or
//!   from the argument's name for any other argument (`asOf`,
//!   `filter.to`); a list's items are named by the list.
//! - `rule`: the stable code of the rule or value check that refused it
//!   (`date.out_of_range`, `pmsmp.max_one_month`).
//! - `limit`: which bound of the request a `BAD_USER_INPUT` broke, the
//!   document being refused before anything runs: `queryLength`,
//!   `nesting`, `fields`, `fragments`, `depth`, `complexity`,
//!   `rootFields`, `aliases` or `introspection` (configured in `api.*`).
//! - `reference`: for `INTERNAL`, what to quote to the operators.
//!
//! Introspection turned off (`api.introspection = false`) answers
//! `FORBIDDEN`.

use async_graphql::{Error, ErrorExtensionValues, ErrorExtensions, Pos, ServerError};
use passerelle_app::AppError;
use passerelle_domain::{DomainError, ErrorKind};
use uuid::Uuid;

/// The codes of `extensions.code`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// Anything the client sent that cannot be used as sent: a value, a
    /// missing or unknown input field, a document that does not fit the
    /// schema or the request limits.
    BadUserInput,
    RuleViolated,
    Conflict,
    NotFound,
    Unauthenticated,
    Forbidden,
    RateLimited,
    /// The command looks like a duplicate of what exists: sent again with
    /// its input's `confirmDuplicate: true`, it goes through.
    ConfirmationRequired,
    Internal,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        match self {
            Code::BadUserInput => "BAD_USER_INPUT",
            Code::RuleViolated => "RULE_VIOLATED",
            Code::Conflict => "CONFLICT",
            Code::NotFound => "NOT_FOUND",
            Code::Unauthenticated => "UNAUTHENTICATED",
            Code::Forbidden => "FORBIDDEN",
            Code::RateLimited => "RATE_LIMITED",
            Code::ConfirmationRequired => "CONFIRMATION_REQUIRED",
            Code::Internal => "INTERNAL",
        }
    }
}

pub(crate) fn error(code: Code, message: impl Into<String>) -> Error {
    Error::new(message).extend_with(|_, e| e.set("code", code.as_str()))
}

/// A warning the client confirms past: what looks duplicated, in French,
/// on `field` (the input's confirmation), with the ids of the existing
/// objects the viewer may read in `extensions.duplicates`.
pub(crate) fn confirmation_required(
    field: &'static str,
    message: impl Into<String>,
    duplicates: Vec<String>,
) -> Error {
    Error::new(message).extend_with(move |_, ext| {
        ext.set("code", Code::ConfirmationRequired.as_str());
        ext.set("field", field);
        ext.set(
            "duplicates",
            async_graphql::Value::List(
                duplicates
                    .iter()
                    .map(|d| async_graphql::Value::String(d.clone()))
                    .collect(),
            ),
        );
    })
}

/// A domain refusal, on the input field named by the rule.
pub(crate) fn domain(e: &DomainError) -> Error {
    let code = match e.kind {
        ErrorKind::InvalidInput => Code::BadUserInput,
        ErrorKind::RuleViolated => Code::RuleViolated,
        ErrorKind::Conflict => Code::Conflict,
        ErrorKind::NotFound => Code::NotFound,
    };
    let (field, rule) = (e.field, e.rule.code());
    Error::new(e.message.clone()).extend_with(|_, ext| {
        ext.set("code", code.as_str());
        ext.set("field", field);
        ext.set("rule", rule);
    })
}

/// A value parsed at the edge, reported on the input field it came from.
pub(crate) fn on_field(field: &'static str, e: DomainError) -> Error {
    domain(&e.at(field))
}

/// A command refused, its field renamed where the input is laid out
/// differently from the command (`PersonEnrollInput` has `birthDate` where
/// the command has `identity.birthDate`).
pub(crate) fn app_renamed(e: AppError, input_path: fn(&'static str) -> &'static str) -> Error {
    match e {
        AppError::Domain(d) => {
            let field = input_path(d.field);
            domain(&d.at(field))
        }
        e => app(e),
    }
}

fn extensions(code: Code, more: &[(&str, &str)]) -> ErrorExtensionValues {
    let mut ext = ErrorExtensionValues::default();
    ext.set("code", code.as_str());
    for (key, value) in more {
        ext.set(*key, *value);
    }
    ext
}

/// An error raised before the operation runs (its document or its inputs),
/// with its extensions.
pub(crate) fn refusal(
    code: Code,
    message: impl Into<String>,
    at: Option<Pos>,
    more: &[(&str, &str)],
) -> ServerError {
    let mut e = ServerError::new(message, at);
    e.extensions = Some(extensions(code, more));
    e
}

/// A value refused by its value object, on the input path the client wrote.
pub(crate) fn on_input(path: &str, e: &DomainError, at: Pos) -> ServerError {
    refusal(
        Code::BadUserInput,
        e.message.clone(),
        Some(at),
        &[("field", path), ("rule", e.rule.code())],
    )
}

/// Gives a code and a French message to an error async-graphql raised on
/// its own: the document's syntax and validation, which the request
/// limits and the input check did not already refuse in French. What
/// async-graphql said is kept in `extensions.detail` for the developer
/// writing the document when no French message says as much; an error from
/// a resolver without a code is a fault of ours, answered `INTERNAL`.
pub(crate) fn typed(e: &mut ServerError) {
    if e.extensions.as_ref().and_then(|x| x.get("code")).is_some() {
        return;
    }
    let original = std::mem::take(&mut e.message);
    let names = quoted(&original);
    let name = |i: usize| names.get(i).copied().unwrap_or("?");
    let input_error = original.starts_with("Invalid value for argument")
        || original.starts_with("Failed to parse")
        || original.starts_with("Expected input type")
        || original.contains("occurred while parsing");
    if !e.path.is_empty() && !input_error {
        let reference = Uuid::new_v4();
        tracing::error!(%reference, error = %original, "GraphQL error without a code");
        e.message = format!("Erreur interne : réessayez dans un instant. Référence {reference}.");
        e.extensions = Some(extensions(
            Code::Internal,
            &[("reference", &reference.to_string())],
        ));
        return;
    }
    let mut more: Vec<(&str, String)> = Vec::new();
    e.message = if input_error {
        if let Some(path) = names
            .first()
            .filter(|_| original.starts_with("Invalid value"))
        {
            let path = path.strip_prefix("input.").unwrap_or(path);
            more.push(("field", path.to_owned()));
        }
        "Une valeur saisie n'a pas la forme attendue : vérifiez-la avec le schéma.".to_owned()
    } else if original.starts_with("Unknown field") {
        format!(
            "Le champ « {} » n'existe pas sur le type « {} ».",
            name(0),
            name(1)
        )
    } else if original.starts_with("Unknown argument") {
        format!(
            "L'argument « {} » n'existe pas pour le champ « {} ».",
            name(0),
            name(1)
        )
    } else if original.starts_with("Unknown fragment") {
        format!("Le fragment « {} » n'est défini nulle part.", name(0))
    } else if original.starts_with("Unknown type") {
        format!("Le type « {} » n'existe pas.", name(0))
    } else if original.starts_with("Unknown operation named") {
        format!("Ce document ne contient pas d'opération « {} ».", name(0))
    } else if original.starts_with("Operation name required") {
        "Ce document contient plusieurs opérations : nommez celle à exécuter (operationName)."
            .to_owned()
    } else if original.contains("is not defined") && original.starts_with("Variable") {
        format!(
            "La variable « {} » n'est pas déclarée par l'opération.",
            name(0)
        )
    } else if original.starts_with("There can only be one argument named") {
        format!("L'argument « {} » est donné plusieurs fois.", name(0))
    } else if original.starts_with("Unknown directive") {
        format!("La directive « @{} » n'existe pas.", name(0))
    } else if original.starts_with("Duplicate directive") {
        format!("La directive « @{} » est répétée.", name(0))
    } else if original.starts_with("Directive") && original.contains("is required but not provided")
    {
        format!(
            "La directive « {} » demande l'argument « {} ».",
            name(0),
            name(1)
        )
    } else if original.starts_with("Fragment cannot be spread here") {
        format!(
            "Un fragment sur « {} » ne s'applique pas ici, à « {} ».",
            name(1),
            name(0)
        )
    } else if original.starts_with("Fragment \"") && original.contains("cannot be spread here") {
        format!(
            "Le fragment « {} », sur « {} », ne s'applique pas ici, à « {} ».",
            name(0),
            name(2),
            name(1)
        )
    } else if original.starts_with("Field") && original.contains("is required but not provided") {
        format!(
            "Le champ « {} » demande l'argument « {} ».",
            name(0),
            name(1)
        )
    } else if original.starts_with("Fields") && original.contains("conflict because") {
        format!(
            "« {} » désigne deux sélections différentes : donnez-leur des alias distincts.",
            name(0)
        )
    } else if original.starts_with("Invalid default value for argument")
        && original.contains("expected type")
    {
        format!(
            "La valeur par défaut de « {} » n'est pas du type « {} ».",
            name(0),
            name(1)
        )
    } else if original.starts_with("Invalid default value for argument") {
        format!(
            "La valeur par défaut de « {} » ne convient pas à son type.",
            name(0)
        )
    } else if original.contains("is never used") || original.contains("is not used") {
        format!("« {} » est déclaré mais ne sert nulle part.", name(0))
    } else if original.contains("must have a selection of subfields") {
        format!(
            "Le champ « {} » demande une sélection de sous-champs.",
            name(0)
        )
    } else if original.contains("must not have a selection") {
        format!(
            "Le champ « {} » n'a pas de sous-champs à sélectionner.",
            name(0)
        )
    } else {
        more.push(("detail", original.clone()));
        "Cette requête ne respecte pas le schéma GraphQL de Passerelle.".to_owned()
    };
    let more: Vec<(&str, &str)> = more.iter().map(|(k, v)| (*k, v.as_str())).collect();
    e.extensions = Some(extensions(Code::BadUserInput, &more));
}

/// The names a message of async-graphql quotes, in order.
fn quoted(message: &str) -> Vec<&str> {
    message.split('"').skip(1).step_by(2).collect()
}

pub(crate) fn unauthenticated() -> Error {
    error(Code::Unauthenticated, "Connectez-vous pour continuer.")
}

pub(crate) fn forbidden() -> Error {
    error(
        Code::Forbidden,
        "Cette opération n'est pas ouverte à votre accès.",
    )
}

pub(crate) fn not_found(what: &str) -> Error {
    error(Code::NotFound, format!("{what} introuvable."))
}

/// Anything the user cannot act on: logged in full, shown as a reference.
pub(crate) fn internal(e: &(dyn std::error::Error + 'static)) -> Error {
    let reference = Uuid::new_v4();
    let mut chain = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        chain.push_str(": ");
        chain.push_str(&s.to_string());
        source = s.source();
    }
    tracing::error!(%reference, error = %chain, "internal error in a GraphQL resolver");
    Error::new(format!(
        "Erreur interne : réessayez dans un instant. Référence {reference}."
    ))
    .extend_with(|_, ext| {
        ext.set("code", Code::Internal.as_str());
        ext.set("reference", reference.to_string());
    })
}

pub(crate) fn app(e: AppError) -> Error {
    match &e {
        AppError::Domain(d) => domain(d),
        AppError::Busy { .. } => error(
            Code::Conflict,
            "Cette fiche vient d'être modifiée par quelqu'un d'autre : réessayez.",
        ),
        AppError::CommandReused { .. } => error(
            Code::Conflict,
            "Cet identifiant de commande (commandId) a déjà servi pour une autre opération.",
        ),
        // The session the request came with no longer stands (see
        // `context::viewer_of_request`).
        AppError::CheckFailed => unauthenticated(),
        // A fact about a person whose key is destroyed cannot be sealed:
        // the request names an erased person, which the client can send.
        _ if e.names_erased_subject() => error(
            Code::RuleViolated,
            "Les données de cette personne ont été effacées : cette opération n'est plus possible.",
        ),
        _ => internal(&e),
    }
}

pub(crate) fn db(e: sqlx::Error) -> Error {
    internal(&e)
}

#[cfg(test)]
mod tests {
    use async_graphql::ServerError;

    use super::typed;

    /// async-graphql's own validation messages, as it words them, each
    /// answered in French with no English beside it.
    #[test]
    fn validation_errors_are_told_in_french() {
        for (original, french) in [
            (
                r#"Variable "$x" is not used"#,
                "« $x » est déclaré mais ne sert nulle part.",
            ),
            (
                r#"There can only be one argument named "first""#,
                "L'argument « first » est donné plusieurs fois.",
            ),
            (
                r#"Unknown directive "foo""#,
                "La directive « @foo » n'existe pas.",
            ),
            (
                r#"Duplicate directive "skip""#,
                "La directive « @skip » est répétée.",
            ),
            (
                r#"Directive "@skip" argument "if" of type "Boolean!" is required but not provided"#,
                "La directive « @skip » demande l'argument « if ».",
            ),
            (
                r#"Fragment cannot be spread here as objects of type "Me" can never be of type "Person""#,
                "Un fragment sur « Person » ne s'applique pas ici, à « Me ».",
            ),
            (
                r#"Fields "a" conflict because "me" and "structure" are different fields. Use different aliases on the fields to fetch both if this was intentional."#,
                "« a » désigne deux sélections différentes : donnez-leur des alias distincts.",
            ),
            (
                r#"Invalid default value for argument: "x", expected type "Int""#,
                "La valeur par défaut de « x » n'est pas du type « Int ».",
            ),
            (
                r#"Invalid default value for argument: "f", unknown field "g" of type "Filter""#,
                "La valeur par défaut de « f » ne convient pas à son type.",
            ),
            (
                r#"Fragment "F" cannot be spread here as objects of type "Me" can never be of type "Person""#,
                "Le fragment « F », sur « Person », ne s'applique pas ici, à « Me ».",
            ),
            (
                r#"Field "people" argument "first" of type "Query" is required but not provided"#,
                "Le champ « people » demande l'argument « first ».",
            ),
        ] {
            let mut e = ServerError::new(original, None);
            typed(&mut e);
            assert_eq!(e.message, french);
            let extensions = serde_json::to_value(&e.extensions).unwrap();
            assert_eq!(extensions["code"], "BAD_USER_INPUT", "{extensions}");
            assert!(extensions.get("detail").is_none(), "{extensions}");
        }
    }
}
