//! JSON parsing that refuses duplicate keys anywhere in the document
//! (serde keeps the first of two equal keys, Python the last: a file with
//! both would mean two different things), through `bouture-json`.

use serde::de::DeserializeOwned;

/// The longest excerpt of a parse error or key echoed in a message.
const EXCERPT: usize = 200;

/// Parse `bytes` as `T`, refusing duplicate keys in any object.
pub(crate) fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    bouture_json::from_slice(bytes, |key| format!("duplicate key {:?}", bounded(key)))
        .map_err(|e| bounded(&e.to_string()))
}

/// At most [`EXCERPT`] characters of `text`.
pub(crate) fn bounded(text: &str) -> String {
    bouture_text::truncate(text, EXCERPT)
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
