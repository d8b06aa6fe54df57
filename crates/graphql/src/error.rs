//! Errors as the API gives them: `extensions.code` always, `extensions.field`
//! for input and rule errors, and a French message a mediator can read.
//! Internal errors are logged with a correlation id and say nothing more.

use async_graphql::{Error, ErrorExtensions};
use passerelle_app::AppError;
use passerelle_domain::{DomainError, ErrorKind};
use uuid::Uuid;

/// The codes of `extensions.code`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    BadUserInput,
    RuleViolated,
    Conflict,
    NotFound,
    Unauthenticated,
    Forbidden,
    RateLimited,
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
            Code::Internal => "INTERNAL",
        }
    }
}

pub(crate) fn error(code: Code, message: impl Into<String>) -> Error {
    Error::new(message).extend_with(|_, e| e.set("code", code.as_str()))
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
        _ => internal(&e),
    }
}

pub(crate) fn db(e: sqlx::Error) -> Error {
    internal(&e)
}
