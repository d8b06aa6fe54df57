//! Reference data embedded in the binary (`crates/domain/data/`, provenance
//! in its README): ROME job codes, NAF sector divisions, INSEE communes and
//! the municipal arrondissements of Paris, Lyon and Marseille.
//!
//! A command's values are checked against the referential when they are
//! parsed. Stored events are only checked for shape when read back: the
//! referentials change (communes merge every January, ROME codes are
//! retired) and history must still replay.

use std::collections::HashMap;
use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

use crate::error::{DomainError, Rule};

const ROME_CSV: &str = include_str!("../../data/rome_codes.csv");
const NAF_CSV: &str = include_str!("../../data/naf_divisions.csv");
const NAF_ROME_CSV: &str = include_str!("../../data/naf_division_rome.csv");
const COMMUNES_CSV: &str = include_str!("../../data/communes.csv");
const ARRONDISSEMENTS_CSV: &str = include_str!("../../data/arrondissements_municipaux.csv");
const DEPARTEMENTS_CSV: &str = include_str!("../../data/departements.csv");
const REGIONS_CSV: &str = include_str!("../../data/regions.csv");

/// Splits one CSV line of the referentials: fields may be quoted (labels
/// hold commas), quotes never appear inside a field.
fn fields(line: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = line;
    loop {
        if let Some(quoted) = rest.strip_prefix('"') {
            let end = quoted.find('"').expect("referential: unterminated quote");
            out.push(&quoted[..end]);
            rest = &quoted[end + 1..];
        } else {
            let end = rest.find(',').unwrap_or(rest.len());
            out.push(&rest[..end]);
            rest = &rest[end..];
        }
        match rest.strip_prefix(',') {
            Some(next) => rest = next,
            None => return out,
        }
    }
}

fn rows(csv: &'static str) -> impl Iterator<Item = Vec<&'static str>> {
    csv.lines().skip(1).filter(|l| !l.is_empty()).map(fields)
}

static ROME: LazyLock<HashMap<&'static str, &'static str>> =
    LazyLock::new(|| rows(ROME_CSV).map(|r| (r[0], r[1])).collect());

static NAF: LazyLock<HashMap<&'static str, &'static str>> =
    LazyLock::new(|| rows(NAF_CSV).map(|r| (r[0], r[1])).collect());

static NAF_ROME: LazyLock<HashMap<&'static str, Vec<&'static str>>> = LazyLock::new(|| {
    let mut map: HashMap<&'static str, Vec<&'static str>> = HashMap::new();
    for r in rows(NAF_ROME_CSV) {
        map.entry(r[0]).or_default().push(r[1]);
    }
    map
});

static COMMUNES: LazyLock<HashMap<&'static str, Commune>> = LazyLock::new(|| {
    rows(COMMUNES_CSV)
        .map(|r| {
            let commune = Commune {
                code: r[0],
                name: r[1],
                departement: r[2],
                region: r[3],
                postal_codes: r[4],
                population: r[5].parse().unwrap_or(0),
                part_of: None,
            };
            (r[0], commune)
        })
        .collect()
});

/// The municipal arrondissements (Paris, Lyon, Marseille): INSEE codes of
/// their own, which Sirene gives the establishments located there, each
/// part of its commune. Kept apart from [`COMMUNES`] so that listing a
/// département's communes does not count them twice.
static ARRONDISSEMENTS: LazyLock<HashMap<&'static str, Commune>> = LazyLock::new(|| {
    rows(ARRONDISSEMENTS_CSV)
        .map(|r| {
            let arrondissement = Commune {
                code: r[0],
                name: r[1],
                departement: r[3],
                region: r[4],
                postal_codes: r[5],
                population: r[6].parse().unwrap_or(0),
                part_of: Some(r[2]),
            };
            (r[0], arrondissement)
        })
        .collect()
});

/// A commune or a municipal arrondissement by its INSEE code.
fn commune_or_arrondissement(code: &str) -> Option<&'static Commune> {
    COMMUNES.get(code).or_else(|| ARRONDISSEMENTS.get(code))
}

static DEPARTEMENTS: LazyLock<HashMap<&'static str, &'static str>> =
    LazyLock::new(|| rows(DEPARTEMENTS_CSV).map(|r| (r[0], r[1])).collect());

static REGIONS: LazyLock<HashMap<&'static str, &'static str>> =
    LazyLock::new(|| rows(REGIONS_CSV).map(|r| (r[0], r[1])).collect());

macro_rules! code_type {
    ($(#[$doc:meta])* $name:ident, shape: $shape:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        string_value!(
            $name,
            String,
            |value| {
                let shape: fn(&str) -> bool = $shape;
                if shape(&value) {
                    Ok(Self(value))
                } else {
                    Err(format!("« {value} » is not shaped as a {}", stringify!($name)))
                }
            },
            display
        );
    };
}

fn rome_shape(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 5 && b[0].is_ascii_uppercase() && b[1..].iter().all(u8::is_ascii_digit)
}

fn naf_shape(s: &str) -> bool {
    s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit())
}

fn commune_shape(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 5
        && (b[..2].iter().all(u8::is_ascii_digit) || &b[..2] == b"2A" || &b[..2] == b"2B")
        && b[2..].iter().all(u8::is_ascii_digit)
}

code_type!(
    /// A job in France Travail's ROME 4 referential (Répertoire opérationnel
    /// des métiers et des emplois), such as `G1602` (cuisine).
    RomeCode,
    shape: rome_shape
);

code_type!(
    /// A sector: a division (2 digits) of INSEE's NAF rev. 2 (Nomenclature
    /// d'activités française), such as `56` (restauration).
    NafDivision,
    shape: naf_shape
);

code_type!(
    /// A commune by its INSEE code (not its postal code), such as `44109`
    /// (Nantes), or a municipal arrondissement of Paris, Lyon or Marseille
    /// by its own, such as `75115` (Paris 15e).
    CommuneCode,
    shape: commune_shape
);

impl RomeCode {
    /// How many jobs one search of employers or needs takes at most: the
    /// API's bound on `romeCodes`, and the page's on the jobs a typed text
    /// names.
    pub const MAX_SEARCHED: usize = 20;

    pub fn parse(input: &str) -> Result<Self, DomainError> {
        let code = input.trim().to_ascii_uppercase();
        if ROME.contains_key(code.as_str()) {
            Ok(Self(code))
        } else {
            Err(DomainError::invalid(
                Rule::RomeCodeUnknown,
                "romeCode",
                format!(
                    "Le code ROME « {} » n'existe pas : une lettre puis 4 chiffres, par exemple G1602 pour la cuisine.",
                    super::text::echoed(input)
                ),
            ))
        }
    }

    /// The job's French label, when the code is still in the referential.
    pub fn label(&self) -> Option<&'static str> {
        ROME.get(self.0.as_str()).copied()
    }

    /// `codes` and every job of the referential in the same domain (the
    /// first three characters) as one of them, sorted: "the same domain"
    /// as a list of codes, which an index on codes can look up where a
    /// comparison of prefixes would read every row.
    pub fn same_domain(codes: &[String]) -> Vec<String> {
        let domains: Vec<&str> = codes.iter().filter_map(|c| c.get(..3)).collect();
        let mut found: Vec<String> = ROME
            .keys()
            .filter(|c| c.get(..3).is_some_and(|d| domains.contains(&d)))
            .map(|c| (*c).to_owned())
            .chain(codes.iter().cloned())
            .collect();
        found.sort_unstable();
        found.dedup();
        found
    }

    /// The jobs a searched text names: its code's start, or words of its
    /// label whatever their case and accents; in code order, `limit` at
    /// most. A search by job finds needs, which hold codes, not words.
    pub fn matching(text: &str, limit: usize) -> Vec<RomeCode> {
        let key = super::text::search_key(text);
        if key.is_empty() {
            return Vec::new();
        }
        let code = key.to_ascii_uppercase();
        let mut found: Vec<&'static str> = ROME
            .iter()
            .filter(|(c, label)| {
                c.starts_with(&code) || super::text::search_key(label).contains(&key)
            })
            .map(|(c, _)| *c)
            .collect();
        found.sort_unstable();
        found
            .into_iter()
            .take(limit)
            .map(|c| RomeCode(c.to_owned()))
            .collect()
    }
}

impl NafDivision {
    /// Reads a division, or the division of a full NAF code (`56.10A`).
    pub fn parse(input: &str) -> Result<Self, DomainError> {
        let trimmed = input.trim();
        let division = trimmed.get(..2).unwrap_or(trimmed);
        if NAF.contains_key(division) {
            Ok(Self(division.to_owned()))
        } else {
            Err(DomainError::invalid(
                Rule::NafDivisionUnknown,
                "naf",
                format!(
                    "Le code NAF « {} » n'existe pas : indiquez le code APE de l'établissement (par exemple 56.10A) ou sa division (56).",
                    super::text::echoed(trimmed)
                ),
            ))
        }
    }

    pub fn label(&self) -> Option<&'static str> {
        NAF.get(self.0.as_str()).copied()
    }

    /// Every division that has jobs listed, in code order.
    pub fn with_jobs() -> Vec<NafDivision> {
        let mut all: Vec<NafDivision> = NAF_ROME
            .keys()
            .map(|code| NafDivision((*code).to_owned()))
            .collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }

    /// The jobs found in this sector, to suggest ROME codes for a need.
    pub fn rome_codes(&self) -> Vec<RomeCode> {
        NAF_ROME
            .get(self.0.as_str())
            .map(|codes| codes.iter().map(|c| RomeCode((*c).to_owned())).collect())
            .unwrap_or_default()
    }
}

impl CommuneCode {
    pub fn parse(input: &str) -> Result<Self, DomainError> {
        let code = input.trim().to_ascii_uppercase();
        if commune_or_arrondissement(&code).is_some() {
            return Ok(Self(code));
        }
        let input = input.trim();
        // A postal code is what people know best: name the INSEE codes it
        // stands for rather than only refusing it.
        let served = Commune::by_postal_code(input);
        let message = if served.is_empty() {
            format!(
                "Le code commune « {} » ne figure pas au Code officiel géographique de l'INSEE : indiquez le code INSEE de la commune (5 caractères, par exemple 44109 pour Nantes, 75115 pour Paris 15e).",
                super::text::echoed(input)
            )
        } else {
            let codes: Vec<String> = served
                .iter()
                .take(3)
                .map(|c| format!("{} ({})", c.code, c.name))
                .collect();
            format!(
                "« {input} » est un code postal : indiquez le code INSEE de la commune, ici {}.",
                codes.join(" ou ")
            )
        };
        Err(DomainError::invalid(
            Rule::CommuneUnknown,
            "commune",
            message,
        ))
    }

    /// The commune or municipal arrondissement, when the code is still
    /// current.
    pub fn commune(&self) -> Option<&'static Commune> {
        commune_or_arrondissement(self.0.as_str())
    }

    /// The commune this code counts under in figures and searches by
    /// commune: an arrondissement's commune (75115 → 75056, Paris), else
    /// the code itself (also when no longer current).
    pub fn municipality(&self) -> &str {
        self.commune()
            .and_then(|c| c.part_of)
            .unwrap_or(self.0.as_str())
    }
}

/// The name of a département by its INSEE code (`44`, `2A`, `974`), when
/// it is one.
pub fn departement_name(code: &str) -> Option<&'static str> {
    DEPARTEMENTS.get(code).copied()
}

/// The name of the region of this INSEE code (`52`), if there is one.
pub fn region_name(code: &str) -> Option<&'static str> {
    REGIONS.get(code).copied()
}

/// A current commune of INSEE's official geography, or a municipal
/// arrondissement of Paris, Lyon or Marseille.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commune {
    pub code: &'static str,
    pub name: &'static str,
    pub departement: &'static str,
    pub region: &'static str,
    /// Space-separated; a commune may have several, and a few none.
    pub postal_codes: &'static str,
    pub population: u32,
    /// For a municipal arrondissement, the INSEE code of its commune
    /// (75056 Paris, 69123 Lyon, 13055 Marseille).
    pub part_of: Option<&'static str>,
}

impl Commune {
    pub fn departement_name(&self) -> Option<&'static str> {
        DEPARTEMENTS.get(self.departement).copied()
    }

    pub fn region_name(&self) -> Option<&'static str> {
        REGIONS.get(self.region).copied()
    }

    /// The communes of a département, most populated first (Paris, not its
    /// arrondissements).
    pub fn of_departement(departement: &str) -> Vec<&'static Commune> {
        let mut found: Vec<_> = COMMUNES
            .values()
            .filter(|c| c.departement == departement)
            .collect();
        found.sort_by(|a, b| b.population.cmp(&a.population).then(a.code.cmp(b.code)));
        found
    }

    /// The communes and municipal arrondissements served by a postal code,
    /// to turn what people type into an INSEE code: an arrondissement
    /// first, being the more precise.
    pub fn by_postal_code(postal_code: &str) -> Vec<&'static Commune> {
        let postal_code = postal_code.trim();
        let mut found: Vec<_> = COMMUNES
            .values()
            .chain(ARRONDISSEMENTS.values())
            .filter(|c| c.postal_codes.split(' ').any(|p| p == postal_code))
            .collect();
        found.sort_by_key(|c| (c.part_of.is_none(), c.code));
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn referentials_are_complete() {
        assert_eq!(ROME.len(), 1584);
        assert_eq!(NAF.len(), 88);
        assert_eq!(COMMUNES.len(), 34_969);
        assert_eq!(ARRONDISSEMENTS.len(), 20 + 9 + 16);
        assert_eq!(DEPARTEMENTS.len(), 109);
        assert_eq!(REGIONS.len(), 26);
    }

    #[test]
    fn the_same_domain_lists_every_job_sharing_the_first_three_characters() {
        let fit = RomeCode::same_domain(&["G1602".to_owned(), "Z9999".to_owned()]);
        let expected: Vec<&str> = {
            let mut all: Vec<&str> = ROME
                .keys()
                .copied()
                .filter(|c| c.starts_with("G16"))
                .collect();
            all.push("Z9999");
            all.sort_unstable();
            all
        };
        assert!(expected.len() > 3, "{expected:?}");
        assert_eq!(fit, expected);
        assert!(RomeCode::same_domain(&[]).is_empty());
    }

    #[test]
    fn rome_codes_are_checked_against_the_referential() {
        let code = RomeCode::parse(" g1602 ").unwrap();
        assert_eq!(code.as_str(), "G1602");
        assert!(code.label().unwrap().contains("cuisine"));
        assert!(
            RomeCode::parse("D1227")
                .unwrap()
                .label()
                .unwrap()
                .contains("or, de métaux")
        );
        assert_eq!(
            RomeCode::parse("Z9999").unwrap_err().rule,
            Rule::RomeCodeUnknown
        );
    }

    #[test]
    fn naf_reads_a_full_code_or_a_division() {
        assert_eq!(NafDivision::parse("56.10A").unwrap().as_str(), "56");
        assert_eq!(NafDivision::parse("56").unwrap().as_str(), "56");
        assert!(!NafDivision::parse("56").unwrap().rome_codes().is_empty());
        assert_eq!(
            NafDivision::parse("04").unwrap_err().rule,
            Rule::NafDivisionUnknown
        );
    }

    /// The labels are shown as they are: written with their accents.
    #[test]
    fn naf_labels_are_written_in_french() {
        let label = |code: &str| NafDivision::parse(code).unwrap().label().unwrap();
        assert_eq!(label("75"), "Activités vétérinaires");
        assert_eq!(label("80"), "Enquêtes et sécurité");
        assert_eq!(label("58"), "Édition");
        for (division, label) in NAF.iter() {
            let words: Vec<String> = label
                .split(|c: char| !c.is_alphabetic())
                .map(str::to_lowercase)
                .collect();
            for unaccented in [
                "activites",
                "reparation",
                "hebergement",
                "securite",
                "equipements",
                "batiments",
            ] {
                assert!(
                    !words.iter().any(|w| w == unaccented),
                    "{division}: {label}"
                );
            }
        }
    }

    #[test]
    fn communes_give_their_territory() {
        let nantes = CommuneCode::parse("44109").unwrap();
        let commune = nantes.commune().unwrap();
        assert_eq!(commune.name, "Nantes");
        assert_eq!(commune.departement_name(), Some("Loire-Atlantique"));
        assert_eq!(commune.region_name(), Some("Pays de la Loire"));
        assert!(CommuneCode::parse("2A004").is_ok(), "Ajaccio");
        let err = CommuneCode::parse("44000").unwrap_err();
        assert_eq!(err.rule, Rule::CommuneUnknown);
        assert!(
            err.message.contains("est un code postal") && err.message.contains("44109 (Nantes)"),
            "{}",
            err.message
        );
        let err = CommuneCode::parse("44999").unwrap_err();
        assert_eq!(err.rule, Rule::CommuneUnknown);
        assert!(
            !err.message.contains("est un code postal"),
            "{}",
            err.message
        );
        assert!(err.message.contains("code INSEE"), "{}", err.message);
        assert!(
            Commune::by_postal_code("44000")
                .iter()
                .any(|c| c.code == "44109")
        );
    }

    #[test]
    fn municipal_arrondissements_are_communes_of_their_city() {
        for (code, name, city, departement, region) in [
            ("75101", "Paris 1er Arrondissement", "75056", "75", "11"),
            ("75115", "Paris 15e Arrondissement", "75056", "75", "11"),
            ("75120", "Paris 20e Arrondissement", "75056", "75", "11"),
            ("69381", "Lyon 1er Arrondissement", "69123", "69", "84"),
            ("69389", "Lyon 9e Arrondissement", "69123", "69", "84"),
            ("13201", "Marseille 1er Arrondissement", "13055", "13", "93"),
            ("13216", "Marseille 16e Arrondissement", "13055", "13", "93"),
        ] {
            let parsed = CommuneCode::parse(code).unwrap();
            let commune = parsed.commune().unwrap();
            assert_eq!(commune.name, name);
            assert_eq!(commune.part_of, Some(city));
            assert_eq!(parsed.municipality(), city);
            assert_eq!(commune.departement, departement);
            assert_eq!(commune.region, region);
        }
        assert_eq!(departement_name("2A"), Some("Corse-du-Sud"));
        assert_eq!(departement_name("20"), None);
        let paris = CommuneCode::parse("75115").unwrap();
        let commune = paris.commune().unwrap();
        assert_eq!(commune.departement_name(), Some("Paris"));
        assert_eq!(commune.region_name(), Some("Île-de-France"));
        // The cities themselves stay communes of their own, counted once in
        // their département.
        assert_eq!(CommuneCode::parse("75056").unwrap().municipality(), "75056");
        assert_eq!(CommuneCode::parse("44109").unwrap().municipality(), "44109");
        assert!(
            Commune::of_departement("75")
                .iter()
                .all(|c| c.part_of.is_none())
        );
        // Codes around the ranges are not arrondissements.
        for code in ["75100", "75121", "69380", "69390", "13200", "13217"] {
            assert!(CommuneCode::parse(code).is_err(), "{code}");
        }
        // A postal code of Paris names its arrondissement first.
        let err = CommuneCode::parse("75015").unwrap_err();
        assert!(
            err.message
                .contains("75115 (Paris 15e Arrondissement) ou 75056 (Paris)"),
            "{}",
            err.message
        );
    }

    #[test]
    fn stored_codes_are_checked_for_shape_only() {
        // A code since retired from the referential still reads back.
        assert!(serde_json::from_str::<RomeCode>("\"Z9999\"").is_ok());
        assert!(serde_json::from_str::<RomeCode>("\"cuisine\"").is_err());
        assert!(serde_json::from_str::<CommuneCode>("\"2B033\"").is_ok());
        assert!(serde_json::from_str::<NafDivision>("\"5\"").is_err());
    }
}
