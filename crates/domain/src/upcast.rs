//! How an event stored under an older schema version reads as the next one.
//! The store applies these steps on read (`passerelle_app::upcasters`
//! registers them), so stored history is never rewritten.

use serde_json::{Map, Value};

use crate::personal::PERSONAL_KEY;

/// Reads the data of one event type at one schema version as the next
/// version's.
pub type Step = fn(Value) -> Value;

/// Every step, as (event type, the version it reads, the step).
pub const STEPS: &[(&str, i32, Step)] = &[
    ("project_readjusted", 1, project_readjusted_v1),
    ("person_exited", 1, person_exited_v1),
    ("immersion_proposed", 1, |data| {
        sealed_from_v2(data, "message")
    }),
    ("proposal_declined", 1, |data| {
        sealed_from_v2(data, "reason")
    }),
    ("convention_rejected", 1, |data| {
        sealed_from_v2(data, "justification")
    }),
    ("convention_deprecated", 1, |data| {
        sealed_from_v2(data, "justification")
    }),
    ("convention_cancelled", 1, |data| {
        sealed_from_v2(data, "reason")
    }),
    ("immersion_interrupted", 1, |data| {
        sealed_from_v2(data, "reason")
    }),
    ("feedback_recorded", 1, feedback_recorded_v1),
    ("convention_drafted", 1, convention_v1),
    ("convention_modified", 1, convention_v1),
    ("convention_renewed", 1, |mut data| {
        if let Some(text) = data
            .get_mut("terms")
            .and_then(|terms| terms.get_mut("why_goals_not_reached"))
        {
            mark_personal(text);
        }
        data
    }),
];

/// The data of `event_type` stored at `version`, read as the current
/// version: every step from that version on, applied in turn.
pub fn upcast(event_type: &str, mut version: i32, mut data: Value) -> (i32, Value) {
    while let Some((_, _, step)) = STEPS
        .iter()
        .find(|(t, v, _)| *t == event_type && *v == version)
    {
        data = step(data);
        version += 1;
    }
    (version, data)
}

/// A text written in clear read as a personal value. It stays in clear in
/// the stored event: only what is recorded from version 2 on is sealed.
fn mark_personal(value: &mut Value) {
    if !value.is_null() {
        let clear = value.take();
        *value = Value::Object(Map::from_iter([(PERSONAL_KEY.to_owned(), clear)]));
    }
}

/// Version 1 kept `field`, a free text, in clear; version 2 seals it.
fn sealed_from_v2(mut data: Value, field: &str) -> Value {
    if let Some(text) = data.get_mut(field) {
        mark_personal(text);
    }
    data
}

/// Version 1 kept the host's and the mediator's words in clear; version 2
/// seals them (the person's own were sealed from the start).
fn feedback_recorded_v1(mut data: Value) -> Value {
    let Some(feedback) = data.get_mut("feedback") else {
        return data;
    };
    let fields: &[&str] = match feedback.get("author").and_then(Value::as_str) {
        Some("host") => {
            if let Some(skills) = feedback.get_mut("skills").and_then(Value::as_array_mut) {
                for skill in skills {
                    if let Some(comment) = skill.get_mut("comment") {
                        mark_personal(comment);
                    }
                }
            }
            &["advice", "appraisal"]
        }
        Some("mediator") => &["notes", "next_steps"],
        _ => &[],
    };
    for field in fields {
        if let Some(text) = feedback.get_mut(*field) {
            mark_personal(text);
        }
    }
    data
}

/// Version 1 kept the description of the person's other situation in
/// clear; version 2 seals it.
fn convention_v1(mut data: Value) -> Value {
    if let Some(situation) = data
        .get_mut("convention")
        .and_then(|c| c.get_mut("person"))
        .and_then(|p| p.get_mut("situation"))
        .filter(|s| s.get("kind").and_then(Value::as_str) == Some("other"))
        && let Some(text) = situation.get_mut("description")
    {
        mark_personal(text);
    }
    data
}

/// Version 1 kept `what_changed` in clear; version 2 seals it.
fn project_readjusted_v1(mut data: Value) -> Value {
    if let Some(text) = data.get_mut("what_changed") {
        mark_personal(text);
    }
    data
}

/// Version 1 kept the explanation of an exit for another reason in clear;
/// version 2 seals it.
fn person_exited_v1(mut data: Value) -> Value {
    if let Some(text) = data
        .get_mut("reason")
        .and_then(|reason| reason.get_mut("explanation"))
    {
        mark_personal(text);
    }
    data
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::person::{ExitReason, PersonEvent};
    use crate::{EventType, Personal};
    use serde_json::json;

    #[test]
    fn an_exit_explained_in_clear_reads_as_personal() {
        let stored = json!({
            "type": "person_exited",
            "reason": {"kind": "other", "explanation": "Déménage chez sa sœur"},
            "exited_on": "2026-10-01"
        });
        let (version, data) = upcast("person_exited", 1, stored);
        let event: PersonEvent = serde_json::from_value(data).unwrap();
        assert_eq!(version, event.schema_version());
        let PersonEvent::PersonExited(exited) = event else {
            panic!("an exit")
        };
        let ExitReason::Other { explanation } = exited.reason else {
            panic!("another reason")
        };
        assert_eq!(
            explanation.known().map(|t| t.as_str()),
            Some("Déménage chez sa sœur")
        );
    }

    #[test]
    fn an_exit_without_explanation_reads_as_it_was() {
        let stored = json!({
            "type": "person_exited",
            "reason": {"kind": "training"},
            "exited_on": "2026-10-01"
        });
        let (version, data) = upcast("person_exited", 1, stored.clone());
        assert_eq!(version, 2);
        assert_eq!(data, stored);
    }

    #[test]
    fn a_readjustment_in_clear_reads_as_personal() {
        let stored: Value = serde_json::from_str(include_str!(
            "../tests/snapshots/events/project_readjusted.v1.json"
        ))
        .unwrap();
        let clear = stored["what_changed"].clone();
        assert!(clear.is_string(), "{stored}");
        let (version, data) = upcast("project_readjusted", 1, stored);
        let event: PersonEvent = serde_json::from_value(data).unwrap();
        assert_eq!(version, event.schema_version());
        let PersonEvent::ProjectReadjusted(readjusted) = event else {
            panic!("a readjustment")
        };
        assert_eq!(
            readjusted.what_changed.known().map(|t| t.as_str()),
            clear.as_str()
        );
        assert_ne!(readjusted.what_changed, Personal::Erased);
    }

    #[test]
    fn an_immersion_s_free_texts_in_clear_read_as_personal() {
        use crate::immersion::ImmersionEvent;
        let interrupted = json!({
            "type": "immersion_interrupted", "by": "person",
            "reason": "Malade depuis lundi", "interrupted_on": "2026-10-01"
        });
        let (version, data) = upcast("immersion_interrupted", 1, interrupted);
        assert_eq!(data["reason"], json!({"$personal": "Malade depuis lundi"}));
        let event: ImmersionEvent = serde_json::from_value(data).unwrap();
        assert_eq!(version, event.schema_version());

        let mediator = json!({
            "type": "feedback_recorded",
            "feedback": {"author": "mediator", "notes": "Awa a aimé", "goals_reached": true,
                         "next_steps": null},
            "recorded_on": "2026-10-01"
        });
        let (_, data) = upcast("feedback_recorded", 1, mediator);
        assert_eq!(
            data["feedback"]["notes"],
            json!({"$personal": "Awa a aimé"})
        );
        assert!(data["feedback"]["next_steps"].is_null(), "{data}");
        let _: ImmersionEvent = serde_json::from_value(data).unwrap();

        let person = json!({
            "type": "feedback_recorded",
            "feedback": {"author": "person", "words": {"$personal": "Bien"},
                         "on_assessment": {"kind": "disagreed", "comment": {"$personal": "Non"}}},
            "recorded_on": "2026-10-01"
        });
        let (version, data) = upcast("feedback_recorded", 1, person.clone());
        assert_eq!((version, &data), (2, &person), "sealed from the start");
    }

    #[test]
    fn a_convention_s_other_situation_and_a_renewal_s_why_in_clear_read_as_personal() {
        use crate::immersion::{ImmersionEvent, Situation};
        let mut drafted: Value = serde_json::from_str(include_str!(
            "../tests/snapshots/events/convention_drafted.v1.json"
        ))
        .unwrap();
        drafted["convention"]["person"]["situation"] =
            json!({"kind": "other", "description": "Sortie de détention en mars"});
        for event_type in ["convention_drafted", "convention_modified"] {
            let mut stored = drafted.clone();
            stored["type"] = json!(event_type);
            if event_type == "convention_modified" {
                stored["signatures_cleared"] = json!([]);
            }
            let (version, data) = upcast(event_type, 1, stored);
            assert_eq!(
                data["convention"]["person"]["situation"]["description"],
                json!({"$personal": "Sortie de détention en mars"})
            );
            let event: ImmersionEvent = serde_json::from_value(data).unwrap();
            assert_eq!(version, event.schema_version());
            let convention = match event {
                ImmersionEvent::ConventionDrafted(e) => e.convention,
                ImmersionEvent::ConventionModified(e) => e.convention,
                other => panic!("a convention: {other:?}"),
            };
            let Situation::Other { description } = convention.person.situation else {
                panic!("another situation")
            };
            assert_eq!(
                description.known().map(|d| d.as_str()),
                Some("Sortie de détention en mars")
            );
        }
        let seeker: Value = serde_json::from_str(include_str!(
            "../tests/snapshots/events/convention_drafted.v1.json"
        ))
        .unwrap();
        let (version, data) = upcast("convention_drafted", 1, seeker.clone());
        assert_eq!((version, data), (2, seeker), "no description to seal");

        let renewed: Value = serde_json::from_str(include_str!(
            "../tests/snapshots/events/convention_renewed.v1.json"
        ))
        .unwrap();
        let clear = renewed["terms"]["why_goals_not_reached"].clone();
        assert!(clear.is_string(), "{renewed}");
        let (version, data) = upcast("convention_renewed", 1, renewed);
        let event: ImmersionEvent = serde_json::from_value(data).unwrap();
        assert_eq!(version, event.schema_version());
        let ImmersionEvent::ConventionRenewed(renewed) = event else {
            panic!("a renewal")
        };
        assert_eq!(
            renewed
                .terms
                .why_goals_not_reached
                .known()
                .map(|t| t.as_str()),
            clear.as_str()
        );
    }

    #[test]
    fn a_current_version_is_left_alone() {
        let data = json!({"what_changed": {"$personal": "x"}});
        assert_eq!(upcast("project_readjusted", 2, data.clone()), (2, data));
        assert_eq!(upcast("person_enrolled", 1, json!({})), (1, json!({})));
    }
}
