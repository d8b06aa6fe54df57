//! SIRET: the 14-digit identifier of a French establishment (SIREN of the
//! company, 9 digits, then the establishment's NIC, 5 digits).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{DomainError, Rule};

/// La Poste's SIREN: its establishments' SIRETs do not follow Luhn.
const LA_POSTE_SIREN: &str = "356000000";
/// La Poste's head office, whose SIRET does follow Luhn.
const LA_POSTE_HEAD_OFFICE: &str = "35600000000048";

/// A SIRET whose check digit holds: 14 digits, the Luhn check, except La
/// Poste's establishments (SIREN 356000000, head office aside) whose digits
/// must add up to a multiple of 5 instead.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Siret(String);

impl Siret {
    /// Reads a SIRET as people type it: spaces, dots and non-breaking spaces
    /// between groups are ignored.
    pub fn parse(input: &str) -> Result<Self, DomainError> {
        let digits: String = input
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '.' && *c != '-')
            .collect();
        if digits.len() != 14 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(DomainError::invalid(
                Rule::SiretFormat,
                "siret",
                format!(
                    "Le SIRET « {} » doit compter 14 chiffres (9 du SIREN puis 5 de l'établissement).",
                    super::text::echoed(input)
                ),
            ));
        }
        let valid = if digits.starts_with(LA_POSTE_SIREN) && digits != LA_POSTE_HEAD_OFFICE {
            digit_sum(&digits).is_multiple_of(5)
        } else {
            luhn(&digits)
        };
        if !valid {
            return Err(DomainError::invalid(
                Rule::SiretChecksum,
                "siret",
                format!(
                    "Le SIRET {} n'existe pas : un chiffre est sans doute mal recopié. Vérifiez-le sur l'avis de situation Sirene ou un bulletin de paie.",
                    group(&digits)
                ),
            ));
        }
        Ok(Self(digits))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The SIRET whose first twelve digits are `prefix`, with the first two
    /// last digits that make its check hold (there is always one for a
    /// prefix under 10^12): how generated histories draw theirs.
    pub fn completing(prefix: u64) -> Option<Self> {
        (0..100)
            .map(|d| format!("{prefix:012}{d:02}"))
            .find_map(|s| Self::parse(&s).ok())
    }

    /// The company's SIREN, the first 9 digits.
    pub fn siren(&self) -> &str {
        &self.0[..9]
    }
}

fn digit_sum(digits: &str) -> u32 {
    digits.bytes().map(|b| u32::from(b - b'0')).sum()
}

fn luhn(digits: &str) -> bool {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                let twice = d * 2;
                if twice > 9 { twice - 9 } else { twice }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// "732 829 320 00074", as printed on French documents.
fn group(digits: &str) -> String {
    format!(
        "{} {} {} {}",
        &digits[..3],
        &digits[3..6],
        &digits[6..9],
        &digits[9..]
    )
}

string_value!(Siret, DomainError, |v| Self::parse(&v));

impl fmt::Display for Siret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&group(&self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_valid_siret_is_read_as_typed() {
        let siret = Siret::parse("732 829 320 00074").unwrap();
        assert_eq!(siret.as_str(), "73282932000074");
        assert_eq!(siret.siren(), "732829320");
        assert_eq!(siret.to_string(), "732 829 320 00074");
    }

    #[test]
    fn a_wrong_check_digit_is_refused() {
        let err = Siret::parse("73282932000075").unwrap_err();
        assert_eq!(err.rule, Rule::SiretChecksum);
        assert_eq!(err.field, "siret");
        assert!(err.message.contains("732 829 320 00075"), "{}", err.message);
    }

    #[test]
    fn length_and_letters_are_refused() {
        for bad in ["7328293200007", "732829320000745", "7328293200007A", ""] {
            assert_eq!(
                Siret::parse(bad).unwrap_err().rule,
                Rule::SiretFormat,
                "{bad}"
            );
        }
    }

    #[test]
    fn la_poste_uses_a_digit_sum_divisible_by_five() {
        // Digit sum 15, Luhn fails: valid for La Poste.
        assert!(Siret::parse("35600000010000").is_ok());
        // Luhn holds but the digit sum is 18: not a La Poste SIRET.
        assert_eq!(
            Siret::parse("35600000010013").unwrap_err().rule,
            Rule::SiretChecksum
        );
        // The head office follows Luhn like everyone else.
        assert!(Siret::parse("35600000000048").is_ok());
    }

    #[test]
    fn stored_sirets_are_checked_when_read_back() {
        assert!(serde_json::from_str::<Siret>("\"73282932000074\"").is_ok());
        assert!(serde_json::from_str::<Siret>("\"73282932000075\"").is_err());
    }
}
