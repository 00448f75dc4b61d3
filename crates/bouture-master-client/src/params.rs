//! Mapping between JSON-typed parameters and `xml_marshaller` values.
//!
//! | JSON | marshaller |
//! |---|---|
//! | string | `<string>` |
//! | integer (fits `i64`/`u64`) | `<int>` |
//! | other number | `<float>` |
//! | bool | `<bool>` |
//! | null | `<none/>` |
//! | array | `<list>` |
//! | object | `<dictionary>` (keys sorted on the wire, as Python does) |
//!
//! Back from the marshaller, tuples and sets become arrays, non-string dictionary keys become
//! their Python `str()`, and non-finite floats become the strings `inf`, `-inf`, `nan`.

use serde_json::Value as Json;

use crate::marshal::{Value, python_float_repr};
use crate::types::Parameters;

/// The marshaller value of a JSON value.
///
/// ```
/// use bouture_master_client::{marshal::Value, params::json_to_marshal};
///
/// assert_eq!(json_to_marshal(&serde_json::json!(3)), Value::Int(3));
/// assert_eq!(json_to_marshal(&serde_json::json!(null)), Value::None);
/// ```
pub fn json_to_marshal(json: &Json) -> Value {
    match json {
        Json::Null => Value::None,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::Int(i128::from(i))
            } else if let Some(u) = n.as_u64() {
                Value::Int(i128::from(u))
            } else {
                Value::Float(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        Json::String(s) => Value::String(s.clone()),
        Json::Array(items) => Value::List(items.iter().map(json_to_marshal).collect()),
        Json::Object(map) => Value::Dict(
            map.iter()
                .map(|(k, v)| (Value::String(k.clone()), json_to_marshal(v)))
                .collect(),
        ),
    }
}

/// The `<dictionary>` of a parameter map.
pub fn parameters_to_marshal(parameters: &Parameters) -> Value {
    Value::Dict(
        parameters
            .iter()
            .map(|(k, v)| (Value::String(k.clone()), json_to_marshal(v)))
            .collect(),
    )
}

/// The JSON value of a marshaller value.
///
/// # Errors
///
/// A description of the problem when the value holds an object or an integer JSON cannot
/// represent.
pub fn marshal_to_json(value: &Value) -> Result<Json, String> {
    Ok(match value {
        Value::None => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Int(i) => {
            if let Ok(i) = i64::try_from(*i) {
                Json::from(i)
            } else if let Ok(u) = u64::try_from(*i) {
                Json::from(u)
            } else {
                return Err(format!("integer {i} does not fit in 64 bits"));
            }
        }
        Value::Float(f) => serde_json::Number::from_f64(*f)
            .map_or_else(|| Json::String(python_float_repr(*f)), Json::Number),
        Value::String(s) => Json::String(s.clone()),
        Value::List(items) | Value::Tuple(items) | Value::Set(items) => Json::Array(
            items
                .iter()
                .map(marshal_to_json)
                .collect::<Result<_, _>>()?,
        ),
        Value::Dict(pairs) => Json::Object(pairs_to_parameters(pairs)?),
        Value::Object(o) => {
            return Err(format!(
                "a {}.{} object where parameters were expected",
                o.module, o.class
            ));
        }
    })
}

/// A parameter map from dictionary pairs.
///
/// # Errors
///
/// As [`marshal_to_json`].
pub fn pairs_to_parameters(pairs: &[(Value, Value)]) -> Result<Parameters, String> {
    let mut map = Parameters::new();
    for (k, v) in pairs {
        let key = match k {
            Value::String(s) => s.clone(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => python_float_repr(*f),
            Value::Bool(true) => "True".to_owned(),
            Value::Bool(false) => "False".to_owned(),
            Value::None => "None".to_owned(),
            other => return Err(format!("a dictionary key of type {}", other.type_name())),
        };
        map.insert(key, marshal_to_json(v)?);
    }
    Ok(map)
}
