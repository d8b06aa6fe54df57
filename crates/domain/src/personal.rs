//! Personal data, typed as such so the store can seal it.

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};

/// A value about a person (name, address, birth date, their own words…).
///
/// In an event's JSON it is written `{"$personal": value}`: the event store
/// seals every such value with the person's own key, and reads it back as
/// [`Personal::Erased`] once that key has been deleted (right to erasure),
/// while the rest of the event still replays.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Personal<T> {
    Known(T),
    /// The person's data was erased: the value is gone for good.
    Erased,
}

/// The JSON key marking a personal value.
pub const PERSONAL_KEY: &str = "$personal";
/// The JSON key replacing a personal value after erasure.
pub const ERASED_KEY: &str = "$erased";

impl<T> Personal<T> {
    pub fn known(&self) -> Option<&T> {
        match self {
            Personal::Known(v) => Some(v),
            Personal::Erased => None,
        }
    }
}

impl<T> From<T> for Personal<T> {
    fn from(value: T) -> Self {
        Personal::Known(value)
    }
}

impl<T: Serialize> Serialize for Personal<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(1))?;
        match self {
            Personal::Known(v) => map.serialize_entry(PERSONAL_KEY, v)?,
            Personal::Erased => map.serialize_entry(ERASED_KEY, &true)?,
        }
        map.end()
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Personal<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PersonalVisitor<T>(std::marker::PhantomData<T>);

        impl<'de, T: Deserialize<'de>> Visitor<'de> for PersonalVisitor<T> {
            type Value = Personal<T>;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(
                    f,
                    "{{\"{PERSONAL_KEY}\": value}} or {{\"{ERASED_KEY}\": true}}"
                )
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let key: String = map
                    .next_key()?
                    .ok_or_else(|| de::Error::invalid_length(0, &self))?;
                let value = match key.as_str() {
                    PERSONAL_KEY => Personal::Known(map.next_value()?),
                    ERASED_KEY => {
                        map.next_value::<de::IgnoredAny>()?;
                        Personal::Erased
                    }
                    other => {
                        return Err(de::Error::unknown_field(other, &[PERSONAL_KEY, ERASED_KEY]));
                    }
                };
                if map.next_key::<String>()?.is_some() {
                    return Err(de::Error::invalid_length(2, &self));
                }
                Ok(value)
            }
        }

        deserializer.deserialize_map(PersonalVisitor(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_known_value_is_marked_for_sealing() {
        let name: Personal<String> = "Awa".to_owned().into();
        assert_eq!(
            serde_json::to_value(&name).unwrap(),
            json!({"$personal": "Awa"})
        );
        let back: Personal<String> = serde_json::from_value(json!({"$personal": "Awa"})).unwrap();
        assert_eq!(back, name);
    }

    #[test]
    fn an_erased_value_reads_as_erased() {
        let back: Personal<String> = serde_json::from_value(json!({"$erased": true})).unwrap();
        assert_eq!(back, Personal::Erased);
        assert_eq!(back.known(), None);
        assert_eq!(
            serde_json::to_value(&back).unwrap(),
            json!({"$erased": true})
        );
    }

    #[test]
    fn anything_else_is_refused() {
        assert!(serde_json::from_value::<Personal<String>>(json!("Awa")).is_err());
        assert!(serde_json::from_value::<Personal<String>>(json!({"name": "Awa"})).is_err());
        assert!(
            serde_json::from_value::<Personal<String>>(json!({"$personal": "a", "x": 1})).is_err()
        );
    }
}
