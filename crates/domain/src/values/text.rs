//! Free text typed by users: trimmed, never empty, bounded.

use serde::{Deserialize, Serialize};

use crate::error::{DomainError, Rule};

fn parse(input: &str, max: usize, field: &'static str) -> Result<String, DomainError> {
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err(DomainError::invalid(
            Rule::Required,
            field,
            "Ce champ est obligatoire.",
        ));
    }
    let chars = trimmed.chars().count();
    if chars > max {
        return Err(DomainError::invalid(
            Rule::TextTooLong,
            field,
            format!("Ce texte fait {chars} caractères : {max} au plus."),
        ));
    }
    Ok(trimmed.to_owned())
}

macro_rules! text_type {
    ($(#[$doc:meta])* $name:ident, $max:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub const MAX_CHARS: usize = $max;

            pub fn parse(input: &str) -> Result<Self, DomainError> {
                parse(input, $max, "text").map(Self)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        string_value!($name, DomainError, |v| Self::parse(&v), display);
    };
}

text_type!(
    /// A name or a short label: a person's or a company's name, a job title.
    Label,
    200
);
text_type!(
    /// Words in a paragraph or more: observations, a situation in the
    /// person's own words, goals, advice.
    Text,
    10_000
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_trimmed_and_never_empty() {
        assert_eq!(
            Label::parse("  Boulangerie  ").unwrap().as_str(),
            "Boulangerie"
        );
        assert_eq!(Label::parse("   ").unwrap_err().rule, Rule::Required);
        let long = "a".repeat(201);
        assert_eq!(Label::parse(&long).unwrap_err().rule, Rule::TextTooLong);
        assert!(Label::parse(&"é".repeat(200)).is_ok());
    }
}
