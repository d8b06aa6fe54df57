//! Ways to reach someone: an email address and a French phone number.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{DomainError, Rule};

/// An email address, lower-cased, with one `@`, a local part and a domain
/// with a dot. Deliverability is proved by the magic link, not here.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    pub fn parse(input: &str) -> Result<Self, DomainError> {
        let email = input.trim().to_lowercase();
        let valid = email.len() <= 254
            && !email.chars().any(|c| c.is_whitespace() || c.is_control())
            && match email.split_once('@') {
                Some((local, domain)) => {
                    !local.is_empty()
                        && local.len() <= 64
                        && !domain.contains('@')
                        && domain.contains('.')
                        && !domain.starts_with('.')
                        && !domain.ends_with('.')
                        && !domain.contains("..")
                }
                None => false,
            };
        if valid {
            Ok(Self(email))
        } else {
            // Repeated back only when it could be an address: a long or
            // garbled input is not echoed into the answer.
            let shown = input.trim();
            let message = if shown.len() <= 254 && !shown.chars().any(char::is_control) {
                format!(
                    "L'adresse « {shown} » n'est pas une adresse e-mail : elle s'écrit nom@domaine.fr."
                )
            } else {
                "Ce n'est pas une adresse e-mail : elle s'écrit nom@domaine.fr.".to_owned()
            };
            Err(DomainError::invalid(Rule::EmailFormat, "email", message))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

string_value!(Email, DomainError, |v| Self::parse(&v), display);

/// A French phone number (metropolitan or overseas), kept in international
/// form `+33612345678` and shown as `06 12 34 56 78`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PhoneNumber(String);

impl PhoneNumber {
    /// Reads `06 12 34 56 78`, `06.12.34.56.78`, `+33 6 12 34 56 78` or
    /// `0033612345678`.
    pub fn parse(input: &str) -> Result<Self, DomainError> {
        let compact: String = input
            .chars()
            .filter(|c| !c.is_whitespace() && !matches!(c, '.' | '-' | '(' | ')'))
            .collect();
        let national = if let Some(rest) = compact.strip_prefix("+33") {
            Some(rest.strip_prefix('0').unwrap_or(rest).to_owned())
        } else if let Some(rest) = compact.strip_prefix("0033") {
            Some(rest.to_owned())
        } else {
            compact.strip_prefix('0').map(str::to_owned)
        };
        match national {
            Some(n)
                if n.len() == 9
                    && n.bytes().all(|b| b.is_ascii_digit())
                    && n.as_bytes()[0] != b'0' =>
            {
                Ok(Self(format!("+33{n}")))
            }
            _ => Err(DomainError::invalid(
                Rule::PhoneFormat,
                "phone",
                format!(
                    "Le numéro « {} » n'est pas un numéro français : 10 chiffres commençant par 0 (06 12 34 56 78) ou +33.",
                    super::text::echoed(input)
                ),
            )),
        }
    }

    /// `+33612345678`.
    pub fn international(&self) -> &str {
        &self.0
    }
}

string_value!(PhoneNumber, DomainError, |v| Self::parse(&v));

impl fmt::Display for PhoneNumber {
    /// `06 12 34 56 78`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let national = format!("0{}", &self.0[3..]);
        let pairs: Vec<&str> = (0..5).map(|i| &national[i * 2..i * 2 + 2]).collect();
        f.write_str(&pairs.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert_eq!(
            Email::parse(" Awa.Diallo@Exemple.FR ").unwrap().as_str(),
            "awa.diallo@exemple.fr"
        );
        for bad in [
            "awa",
            "awa@",
            "@exemple.fr",
            "awa@exemple",
            "a b@exemple.fr",
            "a@@b.fr",
            "a@b..fr",
        ] {
            assert_eq!(
                Email::parse(bad).unwrap_err().rule,
                Rule::EmailFormat,
                "{bad}"
            );
        }
    }

    #[test]
    fn phone_numbers_in_every_usual_form() {
        for typed in [
            "06 12 34 56 78",
            "06.12.34.56.78",
            "+33 6 12 34 56 78",
            "+33 (0)6 12 34 56 78",
            "0033612345678",
        ] {
            let phone = PhoneNumber::parse(typed).unwrap();
            assert_eq!(phone.international(), "+33612345678", "{typed}");
            assert_eq!(phone.to_string(), "06 12 34 56 78");
        }
        // Réunion, dialled nationally.
        assert_eq!(
            PhoneNumber::parse("0262 12 34 56").unwrap().international(),
            "+33262123456"
        );
        for bad in [
            "612345678",
            "06 12 34 56",
            "06 12 34 56 789",
            "00 12 34 56 78",
            "+44 20 7946 0958",
            "06 12 AB 56 78",
        ] {
            assert_eq!(
                PhoneNumber::parse(bad).unwrap_err().rule,
                Rule::PhoneFormat,
                "{bad}"
            );
        }
    }
}
