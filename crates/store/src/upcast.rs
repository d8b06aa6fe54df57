//! Upcasters turn an event stored under an old schema version into the
//! current one on read, so stored history never has to be rewritten.

use std::collections::HashMap;

use serde_json::Value;

/// Upgrades the data of one event type from one schema version to the next.
pub type Upcaster = fn(Value) -> Value;

/// Upcasters by event type, then by the schema version they read.
#[derive(Debug, Default, Clone)]
pub struct Upcasters {
    steps: HashMap<String, HashMap<i32, Upcaster>>,
}

impl Upcasters {
    /// Registers the step that reads `from_version` data of `event_type` and
    /// returns `from_version + 1` data.
    #[must_use]
    pub fn with(mut self, event_type: &str, from_version: i32, step: Upcaster) -> Self {
        self.steps
            .entry(event_type.to_owned())
            .or_default()
            .insert(from_version, step);
        self
    }

    /// Whether data of this type and version needs a step.
    pub fn applies(&self, event_type: &str, version: i32) -> bool {
        self.steps
            .get(event_type)
            .is_some_and(|s| s.contains_key(&version))
    }

    /// Applies every step from the stored version onwards.
    pub fn upcast(&self, event_type: &str, mut version: i32, mut data: Value) -> (i32, Value) {
        let Some(steps) = self.steps.get(event_type) else {
            return (version, data);
        };
        while let Some(step) = steps.get(&version) {
            data = step(data);
            version += 1;
        }
        (version, data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn split_name(mut v: Value) -> Value {
        let full = v["name"].as_str().unwrap_or_default().to_owned();
        let (first, last) = full.split_once(' ').unwrap_or((&full, ""));
        v["first_name"] = json!(first);
        v["last_name"] = json!(last);
        v.as_object_mut().unwrap().remove("name");
        v
    }

    fn add_country(mut v: Value) -> Value {
        v["country"] = json!("FR");
        v
    }

    #[test]
    fn chains_steps_up_to_the_current_version() {
        let up = Upcasters::default()
            .with("PersonEnrolled", 1, split_name)
            .with("PersonEnrolled", 2, add_country);
        let (v, data) = up.upcast("PersonEnrolled", 1, json!({"name": "Awa Diallo"}));
        assert_eq!(v, 3);
        assert_eq!(
            data,
            json!({"first_name": "Awa", "last_name": "Diallo", "country": "FR"})
        );
        let (v, data) = up.upcast("PersonEnrolled", 3, json!({"x": 1}));
        assert_eq!((v, data), (3, json!({"x": 1})));
        let (v, _) = up.upcast("Other", 1, json!({}));
        assert_eq!(v, 1);
    }
}
