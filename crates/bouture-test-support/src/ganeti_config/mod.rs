//! Ganeti `config.data` texts for tests and benchmarks: the generator of valid 3.0 clusters
//! ([`generator`]), renamed copies that merge with their original, JSON edits.

// Test support: a bad input is a bug in the calling test.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::missing_panics_doc,
    reason = "test helpers: failing loudly is their job"
)]

pub mod generator;

use serde_json::Value;

/// The upstream Ganeti 3.0 `config.data` fixture of bouture-merge's tests
/// (`crates/bouture-merge/tests/fixtures/cluster_config_3.0.json`).
pub const FIXTURE_30: &str =
    include_str!("../../../bouture-merge/tests/fixtures/cluster_config_3.0.json");

fn is_uuid_at(bytes: &[u8], start: usize) -> bool {
    let Some(candidate) = bytes.get(start..start + 36) else {
        return false;
    };
    candidate.iter().enumerate().all(|(i, b)| match i {
        8 | 13 | 18 | 23 => *b == b'-',
        _ => b.is_ascii_hexdigit(),
    }) && (start == 0 || !bytes[start - 1].is_ascii_hexdigit())
}

/// A copy of a config whose every UUID has its first four digits replaced
/// by `prefix`, whose names, node IPs and MACs are changed, so it can be
/// merged with the original.
pub fn renamed_copy(text: &str, prefix: &str) -> String {
    assert_eq!(prefix.len(), 4);
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        if is_uuid_at(bytes, i) {
            out.push_str(prefix);
            out.push_str(&text[i + 4..i + 36]);
            i += 36;
        } else {
            let ch = text[i..].chars().next().unwrap();
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out.replace(".example.com", ".copy.example.com")
        .replace("\"192.0.2.", "\"192.0.3.")
        .replace("\"198.51.100.", "\"198.51.101.")
        .replace("aa:bb:cc:", "aa:bb:cd:")
        .replace("\"a network\"", "\"copied network\"")
}

/// Apply `change` to the JSON of a config text.
pub fn mutate(text: &str, change: impl FnOnce(&mut Value)) -> String {
    let mut value: Value = serde_json::from_str(text).unwrap();
    change(&mut value);
    serde_json::to_string(&value).unwrap()
}

/// The first object of a section.
pub fn first<'a>(value: &'a mut Value, section: &str) -> &'a mut Value {
    value[section]
        .as_object_mut()
        .unwrap()
        .values_mut()
        .next()
        .unwrap()
}
