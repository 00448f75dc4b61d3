//! Bareon's sizes: JSON strings, MiB by default, `remaining`, `%`, sectors and
//! decimal or binary units.

use serde::Serialize;

/// A size as written in provision.json.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "value")]
#[non_exhaustive]
pub enum Size {
    /// A fixed number of bytes (already converted from the unit).
    Bytes(u64),
    /// A percentage of the disk (`"25%"`).
    Percent(f64),
    /// Whatever the other volumes leave (`"remaining"`, at most one per disk).
    Remaining,
}

const MIB: u64 = 1024 * 1024;

/// Parse one of Bareon's size strings; `None` when it is not one.
pub(crate) fn parse_size(text: &str) -> Option<Size> {
    let text = text.trim();
    if text == "remaining" {
        return Some(Size::Remaining);
    }
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    if number.is_empty() || number.starts_with('.') || number.ends_with('.') {
        return None;
    }
    let value: f64 = number.parse().ok()?;
    let unit = unit.trim();
    if unit == "%" {
        return (value > 0.0 && value <= 100.0).then_some(Size::Percent(value));
    }
    let factor: u64 = match unit {
        "" | "MiB" => MIB,
        "s" => 512,
        "B" => 1,
        "KB" => 1000,
        "MB" => 1000u64.pow(2),
        "GB" => 1000u64.pow(3),
        "TB" => 1000u64.pow(4),
        "PB" => 1000u64.pow(5),
        "KiB" => 1024,
        "GiB" => 1024u64.pow(3),
        "TiB" => 1024u64.pow(4),
        "PiB" => 1024u64.pow(5),
        _ => return None,
    };
    #[allow(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss
    )]
    let bytes = (value * factor as f64).ceil();
    #[allow(clippy::cast_precision_loss)]
    if !bytes.is_finite() || bytes < 0.0 || bytes > (u64::MAX / 2) as f64 {
        return None;
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Some(Size::Bytes(bytes as u64))
}

#[cfg(test)]
mod tests {
    use super::{MIB, Size, parse_size};

    #[test]
    fn bareon_units() {
        assert_eq!(parse_size("4000"), Some(Size::Bytes(4000 * MIB)));
        assert_eq!(parse_size("1.5 GiB"), Some(Size::Bytes(1536 * MIB)));
        assert_eq!(parse_size("2048s"), Some(Size::Bytes(MIB)));
        assert_eq!(parse_size("1KB"), Some(Size::Bytes(1000)));
        assert_eq!(parse_size("10%"), Some(Size::Percent(10.0)));
        assert_eq!(parse_size("remaining"), Some(Size::Remaining));
        for bad in ["", "abc", "12 parsecs", "-1", "0%", "101%", ".5", "1."] {
            assert_eq!(parse_size(bad), None, "{bad}");
        }
    }
}
