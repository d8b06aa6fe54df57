//! A person's project, version after version, as the API reads it back
//! (`Person.projectVersions`) and the pages show it: her file for staff,
//! her own space for her.

use passerelle_domain::fr::{self, Labelled as _};
use passerelle_domain::person::{CauseKind, ReadjustmentCause};
use passerelle_domain::values::ContractType;
use serde::Deserialize;

use crate::answer::{Code, Day};
use crate::page::FormState;

/// The fields a project version is read with, as a fragment a query
/// appends and spreads (`projectVersions { ...Version }`).
pub(crate) const VERSION_FRAGMENT: &str = "
    fragment Version on ProjectVersion { version changedOn targetRomeCodes contractWishes
        mobilityRadiusKm constraints whatChanged cause }";

/// What led to a readjustment, as the end of a sentence.
fn cause_phrase(kind: CauseKind) -> &'static str {
    match kind {
        CauseKind::ImmersionFeedback => "après les retours d'une immersion",
        CauseKind::JobInquiry => "après une enquête métier",
        CauseKind::PeerMeeting => "après une rencontre avec un pair",
        CauseKind::Mentorship => "au fil d'un parrainage",
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ProjectVersion {
    version: i64,
    changed_on: Day,
    target_rome_codes: Vec<String>,
    contract_wishes: Vec<Code<ContractType>>,
    mobility_radius_km: i64,
    constraints: Option<String>,
    what_changed: Option<String>,
    cause: Option<Code<ReadjustmentCause>>,
}

impl ProjectVersion {
    /// Its contracts, mobility and constraints, each said when given.
    fn details(&self) -> Vec<String> {
        let mut details = Vec::new();
        if !self.contract_wishes.is_empty() {
            let wishes: Vec<&str> = self.contract_wishes.iter().map(|c| c.0.french()).collect();
            details.push(format!("Contrats souhaités : {}", wishes.join(", ")));
        }
        if self.mobility_said() {
            details.push(format!("Mobilité : jusqu'à {} km", self.mobility_radius_km));
        }
        if let Some(words) = &self.constraints {
            details.push(format!("Contraintes : {words}"));
        }
        details
    }

    /// Whether the distance was said: above the API's bound, a value
    /// recorded before it was checked (a negative one then read as 65535)
    /// is shown and offered again as not said.
    fn mobility_said(&self) -> bool {
        (1..=1000).contains(&self.mobility_radius_km)
    }

    /// The readjustment form's fields, filled as this version stands.
    pub(crate) fn as_form(&self) -> FormState {
        let rome = self.target_rome_codes.join(" ");
        let km = if self.mobility_said() {
            self.mobility_radius_km.to_string()
        } else {
            String::new()
        };
        let mut form = FormState::with(&[
            ("rome", &rome),
            ("mobilite", &km),
            (
                "contraintes",
                self.constraints.as_deref().unwrap_or_default(),
            ),
        ]);
        for wish in &self.contract_wishes {
            form.tick("contrat", &wish.0.code().to_ascii_uppercase());
        }
        form
    }

    /// Its line in a list of versions: when, its jobs in French, what
    /// changed and why, its contracts, mobility and constraints.
    pub(crate) fn shown(self) -> (String, String, String, Vec<String>) {
        let details = self.details();
        let codes: Vec<String> = self.target_rome_codes.iter().map(|c| fr::rome(c)).collect();
        let why = match (self.what_changed, self.cause) {
            (Some(what), Some(cause)) => format!("{what} ({})", cause_phrase(cause.0.kind())),
            (Some(what), None) => what,
            _ => String::new(),
        };
        (
            format!("Version {}, le {}", self.version, self.changed_on.french()),
            codes.join(" ; "),
            why,
            details,
        )
    }
}
