#![doc = include_str!("../README.md")]

mod write;

use std::fmt;

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor,
};
use serde_json::{Map, Value};

pub use write::{dumps, float_repr};

/// The caller's wording of a duplicate-key refusal: it gets the key (as
/// read, unbounded) and returns the message; `serde_json` appends the line
/// and column.
pub type Duplicate = fn(&str) -> String;

/// Parse `text` as one JSON value, refusing a duplicate key in any object.
///
/// Objects keep their members in file order.
///
/// # Errors
///
/// The text is not one JSON value (trailing characters included), or an
/// object holds the same key twice: the error carries `duplicate(key)`.
pub fn to_value(text: &[u8], duplicate: Duplicate) -> Result<Value, serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_slice(text);
    let value = Strict { duplicate }.deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(value)
}

/// Check that `text` is one JSON value without a duplicate key in any object.
///
/// # Errors
///
/// As [`to_value`].
pub fn check(text: &[u8], duplicate: Duplicate) -> Result<(), serde_json::Error> {
    to_value(text, duplicate).map(drop)
}

/// Parse `text` as `T` once [`check`] has found no duplicate key, so that
/// `T`'s own errors keep their line and column.
///
/// # Errors
///
/// As [`check`], then `T`'s errors.
pub fn from_slice<T: DeserializeOwned>(
    text: &[u8],
    duplicate: Duplicate,
) -> Result<T, serde_json::Error> {
    check(text, duplicate)?;
    serde_json::from_slice(text)
}

/// Deserialises a [`Value`], refusing duplicate keys at any depth.
#[derive(Clone, Copy)]
struct Strict {
    duplicate: Duplicate,
}

impl<'de> DeserializeSeed<'de> for Strict {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict {
    type Value = Value;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        // JSON text has no non-finite number, so `None` never happens here.
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(self)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            // Refused at the key, before its value is read.
            if object.contains_key(&key) {
                return Err(de::Error::custom((self.duplicate)(&key)));
            }
            let value = map.next_value_seed(self)?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn duplicate(key: &str) -> String {
        format!("duplicate key {key:?}")
    }

    #[test]
    fn duplicate_keys_are_refused_at_any_depth() {
        for text in [
            r#"{"a": 1, "a": 2}"#,
            r#"{"a": [{"b": 1, "b": 2}]}"#,
            r#"[[{"x": {"b": null, "b": null}}]]"#,
        ] {
            let error = check(text.as_bytes(), duplicate).unwrap_err();
            assert!(error.to_string().starts_with("duplicate key "), "{error}");
            assert!(error.to_string().contains("line 1"), "{error}");
        }
        assert!(check(br#"{"a": [{"b": 1}, {"b": 2}]}"#, duplicate).is_ok());
    }

    #[test]
    fn the_message_is_the_callers_and_names_the_key() {
        let error =
            to_value(b"{\n\"k\": 1,\n\"k\": 2}", |key| format!("twice: {key}")).unwrap_err();
        assert_eq!(error.to_string(), "twice: k at line 3 column 3");
    }

    #[test]
    fn values_are_kept_in_order_and_whole() {
        let value = to_value(
            br#"{"z": 1.5, "a": [true, null, "s", -3, 18446744073709551615]}"#,
            duplicate,
        )
        .unwrap();
        let keys: Vec<&String> = value.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["z", "a"]);
        assert_eq!(
            value.to_string(),
            r#"{"z":1.5,"a":[true,null,"s",-3,18446744073709551615]}"#
        );
    }

    #[test]
    fn trailing_text_and_non_json_are_refused() {
        assert!(to_value(br#"{"a": 1} x"#, duplicate).is_err());
        assert!(to_value(b"", duplicate).is_err());
        assert!(to_value(b"{'a': 1}", duplicate).is_err());
    }

    #[test]
    fn from_slice_checks_then_parses_the_type() {
        let error = from_slice::<Vec<u8>>(b"[1, 300]", duplicate).unwrap_err();
        assert!(error.to_string().contains("line 1 column 7"), "{error}");
        let error = from_slice::<Value>(br#"{"a": {"b": 1, "b": 1}}"#, duplicate).unwrap_err();
        assert!(
            error.to_string().starts_with(r#"duplicate key "b""#),
            "{error}"
        );
    }
}
