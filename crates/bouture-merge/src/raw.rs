//! A JSON object kept as raw text, one level deep.
//!
//! bouture changes a handful of fields in a few objects and must keep
//! everything else byte for byte (including fields a newer Ganeti added).
//! [`RawObject`] holds the object's members in file order, each value as
//! unparsed JSON text ([`RawValue`]), so untouched members are written back
//! exactly as they were read and are never parsed into a tree.

use std::borrow::Cow;
use std::fmt;

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

/// A JSON object whose members are kept in order, with their values as raw JSON text.
#[derive(Debug, Clone, Default)]
pub struct RawObject {
    entries: Vec<(String, Box<RawValue>)>,
}

impl RawObject {
    /// Parse one JSON object from `text`.
    ///
    /// # Errors
    ///
    /// The text is not a JSON object.
    pub fn parse(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// The raw value of member `key`, if present.
    pub fn get(&self, key: &str) -> Option<&RawValue> {
        self.entries
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| &**value)
    }

    /// Member `key` parsed as `T`; `None` when the member is absent.
    ///
    /// # Errors
    ///
    /// The member exists but does not have the shape of `T`.
    pub fn get_as<'a, T: Deserialize<'a>>(
        &'a self,
        key: &str,
    ) -> Result<Option<T>, serde_json::Error> {
        self.get(key)
            .map(|raw| serde_json::from_str(raw.get()))
            .transpose()
    }

    /// Remove member `key`, returning its value.
    pub fn remove(&mut self, key: &str) -> Option<Box<RawValue>> {
        let index = self.entries.iter().position(|(name, _)| name == key)?;
        Some(self.entries.remove(index).1)
    }

    /// The members, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &RawValue)> {
        self.entries
            .iter()
            .map(|(name, value)| (name.as_str(), &**value))
    }

    /// Consume the object, giving its members in order.
    pub fn into_entries(self) -> Vec<(String, Box<RawValue>)> {
        self.entries
    }

    /// Build an object from members (in the given order).
    pub fn from_entries(entries: Vec<(String, Box<RawValue>)>) -> Self {
        Self { entries }
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the object has no member.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The object as compact JSON text (members' raw text kept verbatim).
    ///
    /// # Errors
    ///
    /// Only if serialisation fails, which raw members cannot cause.
    pub fn to_raw_value(&self) -> Result<Box<RawValue>, serde_json::Error> {
        serde_json::value::to_raw_value(self)
    }
}

impl<'de> Deserialize<'de> for RawObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor;

        impl<'de> Visitor<'de> for ObjectVisitor {
            type Value = RawObject;

            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawObject, A::Error> {
                let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(16));
                while let Some((key, value)) = map.next_entry::<String, Box<RawValue>>()? {
                    entries.push((key, value));
                }
                Ok(RawObject { entries })
            }
        }

        deserializer.deserialize_map(ObjectVisitor)
    }
}

impl Serialize for RawObject {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.entries.len()))?;
        for (key, value) in &self.entries {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

/// A member name, borrowed from the input when it has no escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;

        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;

            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("a member name")
            }

            fn visit_borrowed_str<E: serde::de::Error>(
                self,
                value: &'de str,
            ) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(value)))
            }

            fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(value.to_owned())))
            }
        }

        deserializer.deserialize_str(KeyVisitor)
    }
}

/// A member value: the input's text, or a replacement.
#[derive(Debug)]
pub(crate) enum Member<'a> {
    /// Unchanged, borrowed from the input.
    Borrowed(&'a RawValue),
    /// Replaced.
    Owned(Box<RawValue>),
}

impl Serialize for Member<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Borrowed(raw) => raw.serialize(serializer),
            Self::Owned(raw) => raw.serialize(serializer),
        }
    }
}

/// An object whose members can be replaced: [`RawObject`], and the
/// borrowing object the merge writes out. `set` is written once here and
/// monomorphised for each, so it costs what the inherent methods did.
pub trait SetMember {
    /// Replace member `key` (keeping its position) or append it.
    fn set_raw(&mut self, key: &str, value: Box<RawValue>);

    /// Replace or append member `key` with `value` serialised as JSON.
    ///
    /// # Errors
    ///
    /// `value` cannot be serialised (a non-finite float, for example).
    fn set<T: Serialize + ?Sized>(
        &mut self,
        key: &str,
        value: &T,
    ) -> Result<(), serde_json::Error> {
        let raw = serde_json::value::to_raw_value(value)?;
        self.set_raw(key, raw);
        Ok(())
    }
}

impl SetMember for RawObject {
    fn set_raw(&mut self, key: &str, value: Box<RawValue>) {
        if let Some(slot) = self.entries.iter_mut().find(|(name, _)| name == key) {
            slot.1 = value;
        } else {
            self.entries.push((key.to_owned(), value));
        }
    }
}

impl SetMember for PatchObject<'_> {
    fn set_raw(&mut self, key: &str, value: Box<RawValue>) {
        if let Some(slot) = self.entries.iter_mut().find(|(name, _)| name == key) {
            slot.1 = Member::Owned(value);
        } else {
            self.entries
                .push((Cow::Owned(key.to_owned()), Member::Owned(value)));
        }
    }
}

/// Like [`RawObject`], but borrowing the members' text from the input: the
/// cheap way to change a few members of many objects and write them out.
#[derive(Debug)]
pub(crate) struct PatchObject<'a> {
    entries: Vec<(Cow<'a, str>, Member<'a>)>,
}

impl<'a> PatchObject<'a> {
    /// Split one JSON object into its members.
    pub(crate) fn parse(text: &'a str) -> Result<Self, serde_json::Error> {
        struct PatchVisitor;

        impl<'de> Visitor<'de> for PatchVisitor {
            type Value = PatchObject<'de>;

            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<PatchObject<'de>, A::Error> {
                let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(24));
                while let Some((Key(key), value)) = map.next_entry::<Key<'de>, &'de RawValue>()? {
                    entries.push((key, Member::Borrowed(value)));
                }
                Ok(PatchObject { entries })
            }
        }

        let mut deserializer = serde_json::Deserializer::from_str(text);
        let object = serde::Deserializer::deserialize_map(&mut deserializer, PatchVisitor)?;
        deserializer.end()?;
        Ok(object)
    }

    /// The current text of member `key`.
    pub(crate) fn get(&self, key: &str) -> Option<&RawValue> {
        self.entries
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, member)| match member {
                Member::Borrowed(raw) => *raw,
                Member::Owned(raw) => &**raw,
            })
    }
}

impl Serialize for PatchObject<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.entries.len()))?;
        for (key, value) in &self.entries {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn untouched_members_keep_their_text() {
        let text = r#"{"b": [1,  2], "a": {"x" : 1.50}, "z": null}"#;
        let mut object = RawObject::parse(text).unwrap();
        object.set("a", &7).unwrap();
        object.set("new", "v").unwrap();
        let out = serde_json::to_string(&object).unwrap();
        assert_eq!(out, r#"{"b":[1,  2],"a":7,"z":null,"new":"v"}"#);
        assert_eq!(object.get_as::<Vec<u32>>("b").unwrap(), Some(vec![1, 2]));
        assert!(object.remove("z").is_some());
        assert_eq!(object.len(), 3);
    }

    #[test]
    fn patch_object_borrows_and_replaces() {
        let text = r#"{"a\u0041": 1, "b": [ 2 ], "c": "x"}"#;
        let mut object = PatchObject::parse(text).unwrap();
        object.set("c", "y").unwrap();
        object.set("d", &4).unwrap();
        assert_eq!(object.get("b").unwrap().get(), "[ 2 ]");
        let out = serde_json::to_string(&object).unwrap();
        assert_eq!(out, r#"{"aA":1,"b":[ 2 ],"c":"y","d":4}"#);
        assert!(PatchObject::parse("[1]").is_err());
        assert!(PatchObject::parse("{} x").is_err());
    }
}
