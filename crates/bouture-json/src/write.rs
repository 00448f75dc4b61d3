//! JSON text exactly as Python's `json.dumps(value)` writes it with its
//! defaults: separators `", "` and `": "`, non-ASCII escaped as `\uXXXX`,
//! floats as Python's `repr` (`3500.0`, `1e-05`, `1e+16`), keys in order.
//!
//! This is the SlapOS master's wire format for instance parameters: the
//! reference bouture re-serialises an instance's parameters this way when
//! it adds `monitor-interface-url`, and bouture does the same so that the
//! master receives the very same text; [`float_repr`] is also how
//! bouture-master-client's `xml_marshaller` codec writes floats.
//!
//! ```
//! use bouture_json::dumps;
//! let value: serde_json::Value = serde_json::from_str(r#"{"a": [1, 2.0, "é"], "b": null}"#).unwrap();
//! assert_eq!(dumps(&value), r#"{"a": [1, 2.0, "\u00e9"], "b": null}"#);
//! ```

use std::fmt::Write as _;

use serde_json::Value;

/// Serialise `value` as Python's `json.dumps(value)` does.
pub fn dumps(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value);
    out
}

fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(number) => {
            if let Some(int) = number.as_i64() {
                let _ = write!(out, "{int}");
            } else if let Some(int) = number.as_u64() {
                let _ = write!(out, "{int}");
            } else if let Some(float) = number.as_f64() {
                out.push_str(&float_repr(float));
            }
        }
        Value::String(text) => write_string(out, text),
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push_str(", ");
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Object(object) => {
            out.push('{');
            for (index, (key, item)) in object.iter().enumerate() {
                if index > 0 {
                    out.push_str(", ");
                }
                write_string(out, key);
                out.push_str(": ");
                write_value(out, item);
            }
            out.push('}');
        }
    }
}

/// A JSON string with `ensure_ascii`: everything outside space..`~` escaped.
fn write_string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            _ => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
        }
    }
    out.push('"');
}

/// Python's `repr(float)`: the shortest text that reads back as the same
/// number, in positional notation when the decimal exponent is from -4 to
/// 15, else in scientific notation with a signed, two-digit exponent;
/// `nan`, `inf` and `-inf` for the non-finite values (JSON has none).
///
/// ```
/// use bouture_json::float_repr;
/// assert_eq!(float_repr(3500.0), "3500.0");
/// assert_eq!(float_repr(0.0001), "0.0001");
/// assert_eq!(float_repr(1e-5), "1e-05");
/// assert_eq!(float_repr(1e16), "1e+16");
/// assert_eq!(float_repr(1.5e300), "1.5e+300");
/// assert_eq!(float_repr(-0.0), "-0.0");
/// assert_eq!(float_repr(f64::NEG_INFINITY), "-inf");
/// ```
pub fn float_repr(value: f64) -> String {
    if value.is_nan() {
        return "nan".to_string();
    }
    if value.is_infinite() {
        return if value > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    // Rust's `{:e}` gives the shortest round-trip digits: "3.5e3", "1e-5".
    let scientific = format!("{value:e}");
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    if (-4..16).contains(&exponent) {
        let point = exponent + 1; // digits before the decimal point
        let digit_count = i32::try_from(digits.len()).unwrap_or(i32::MAX);
        let text = if point <= 0 {
            let zeros = "0".repeat(usize::try_from(-point).unwrap_or(0));
            format!("0.{zeros}{digits}")
        } else if point >= digit_count {
            let zeros = "0".repeat(usize::try_from(point - digit_count).unwrap_or(0));
            format!("{digits}{zeros}.0")
        } else {
            let split = usize::try_from(point).unwrap_or(0);
            let (whole, fraction) = digits.split_at_checked(split).unwrap_or((&digits, ""));
            format!("{whole}.{fraction}")
        };
        format!("{sign}{text}")
    } else {
        let exponent_sign = if exponent < 0 { '-' } else { '+' };
        format!("{sign}{mantissa}e{exponent_sign}{:02}", exponent.abs())
    }
}
