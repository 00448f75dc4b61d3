//! JSON parsing that refuses duplicate keys anywhere in the document
//! (serde keeps the first of two equal keys, Python the last: a file with
//! both would mean two different things).

use std::collections::HashSet;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// The longest excerpt of a parse error or key echoed in a message.
const EXCERPT: usize = 200;

/// Parse `bytes` as `T`, refusing duplicate keys in any object.
pub(crate) fn from_slice<T: de::DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    serde_json::from_slice::<NoDuplicates>(bytes).map_err(|e| bounded(&e.to_string()))?;
    serde_json::from_slice::<T>(bytes).map_err(|e| bounded(&e.to_string()))
}

/// At most [`EXCERPT`] characters of `text`.
pub(crate) fn bounded(text: &str) -> String {
    if text.chars().count() <= EXCERPT {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(EXCERPT).collect();
    cut.push('…');
    cut
}

/// A JSON value that only checks the absence of duplicate keys.
struct NoDuplicates;

impl<'de> Deserialize<'de> for NoDuplicates {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NoDuplicatesVisitor)
    }
}

struct NoDuplicatesVisitor;

impl<'de> Visitor<'de> for NoDuplicatesVisitor {
    type Value = NoDuplicates;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<NoDuplicates, E> {
        Ok(NoDuplicates)
    }
    fn visit_i64<E>(self, _: i64) -> Result<NoDuplicates, E> {
        Ok(NoDuplicates)
    }
    fn visit_u64<E>(self, _: u64) -> Result<NoDuplicates, E> {
        Ok(NoDuplicates)
    }
    fn visit_f64<E>(self, _: f64) -> Result<NoDuplicates, E> {
        Ok(NoDuplicates)
    }
    fn visit_str<E>(self, _: &str) -> Result<NoDuplicates, E> {
        Ok(NoDuplicates)
    }
    fn visit_unit<E>(self) -> Result<NoDuplicates, E> {
        Ok(NoDuplicates)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<NoDuplicates, A::Error> {
        while seq.next_element::<NoDuplicates>()?.is_some() {}
        Ok(NoDuplicates)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<NoDuplicates, A::Error> {
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                return Err(de::Error::custom(format!(
                    "duplicate key {:?}",
                    bounded(&key)
                )));
            }
            map.next_value::<NoDuplicates>()?;
        }
        Ok(NoDuplicates)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn duplicate_keys_are_refused_at_any_depth() {
        let ok: serde_json::Value = from_slice(br#"{"a": [{"b": 1}, {"b": 2}]}"#).unwrap();
        assert_eq!(ok["a"][1]["b"], 2);
        let error = from_slice::<serde_json::Value>(br#"{"a": [{"b": 1, "b": 2}]}"#).unwrap_err();
        assert!(error.contains("duplicate key \"b\""), "{error}");
        let error = from_slice::<serde_json::Value>(br#"{"a": 1, "a": 1}"#).unwrap_err();
        assert!(error.contains("duplicate key \"a\""), "{error}");
    }

    #[test]
    fn excerpts_are_bounded() {
        let long = "x".repeat(10_000);
        assert_eq!(bounded(&long).chars().count(), EXCERPT + 1);
        assert_eq!(bounded("short"), "short");
    }
}
