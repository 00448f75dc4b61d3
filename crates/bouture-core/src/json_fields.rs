//! Checked access to the fields of JSON files that users write, with errors
//! that name the field (`shared-list[1].slave-title`).

use serde_json::Value;

use crate::error::FileErrorKind;

/// A JSON object, keys in file order.
pub(crate) type JsonObject = serde_json::Map<String, Value>;

/// The most characters of a duplicate key a message repeats.
const KEY_SHOWN: usize = 64;

/// Parse bytes as a UTF-8 JSON document whose top level is an object,
/// through `bouture-json`: a key twice in one object is refused (serde keeps
/// the first, Python's `json` the last: the file would mean two things).
pub(crate) fn parse_json_object(bytes: &[u8]) -> Result<JsonObject, FileErrorKind> {
    let text = std::str::from_utf8(bytes).map_err(|error| FileErrorKind::NotUtf8 {
        offset: error.valid_up_to(),
    })?;
    let value = bouture_json::to_value(text.as_bytes(), duplicate_key).map_err(|error| {
        FileErrorKind::InvalidJson {
            message: strip_position(&error.to_string()),
            line: error.line(),
            column: error.column(),
        }
    })?;
    match value {
        Value::Object(object) => Ok(object),
        other => Err(FileErrorKind::field(
            "(top level)",
            format!("must be a JSON object, found {}", kind_of(&other)),
        )),
    }
}

/// The message of a key found twice (at most [`KEY_SHOWN`] characters of it).
fn duplicate_key(key: &str) -> String {
    format!("duplicate key {:?}", bouture_text::truncate(key, KEY_SHOWN))
}

/// `serde_json` appends " at line L column C"; the error carries those separately.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_string(),
        None => message.to_string(),
    }
}

/// "a string", "an array", ... for messages.
pub(crate) fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The joined path of a field inside `prefix` (`prefix.field` or `field`).
pub(crate) fn field_path(prefix: &str, field: &str) -> String {
    if prefix.is_empty() {
        field.to_string()
    } else {
        format!("{prefix}.{field}")
    }
}

/// A required field of an object.
pub(crate) fn required<'a>(
    object: &'a JsonObject,
    prefix: &str,
    field: &str,
) -> Result<&'a Value, FileErrorKind> {
    object
        .get(field)
        .ok_or_else(|| FileErrorKind::field(field_path(prefix, field), "is missing"))
}

/// A required string field.
pub(crate) fn required_str<'a>(
    object: &'a JsonObject,
    prefix: &str,
    field: &str,
) -> Result<&'a str, FileErrorKind> {
    match required(object, prefix, field)? {
        Value::String(text) => Ok(text),
        other => Err(wrong_type(prefix, field, "a string", other)),
    }
}

/// A required, non-empty string field.
pub(crate) fn required_non_empty_str<'a>(
    object: &'a JsonObject,
    prefix: &str,
    field: &str,
) -> Result<&'a str, FileErrorKind> {
    let text = required_str(object, prefix, field)?;
    if text.trim().is_empty() {
        return Err(FileErrorKind::field(field_path(prefix, field), "is empty"));
    }
    Ok(text)
}

/// A required object field.
pub(crate) fn required_object<'a>(
    object: &'a JsonObject,
    prefix: &str,
    field: &str,
) -> Result<&'a JsonObject, FileErrorKind> {
    match required(object, prefix, field)? {
        Value::Object(inner) => Ok(inner),
        other => Err(wrong_type(prefix, field, "an object", other)),
    }
}

/// A required array field.
pub(crate) fn required_array<'a>(
    object: &'a JsonObject,
    prefix: &str,
    field: &str,
) -> Result<&'a [Value], FileErrorKind> {
    match required(object, prefix, field)? {
        Value::Array(items) => Ok(items),
        other => Err(wrong_type(prefix, field, "an array", other)),
    }
}

/// An element of an array that must be an object.
pub(crate) fn element_object<'a>(
    value: &'a Value,
    path: &str,
) -> Result<&'a JsonObject, FileErrorKind> {
    match value {
        Value::Object(object) => Ok(object),
        other => Err(FileErrorKind::field(
            path,
            format!("must be an object, found {}", kind_of(other)),
        )),
    }
}

fn wrong_type(prefix: &str, field: &str, expected: &str, found: &Value) -> FileErrorKind {
    FileErrorKind::field(
        field_path(prefix, field),
        format!("must be {expected}, found {}", kind_of(found)),
    )
}
