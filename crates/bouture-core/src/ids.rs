//! Typed identifiers: a computer id and a partition id cannot be mixed up,
//! and an invalid one cannot be built.

use std::cmp::Ordering;
use std::fmt;

/// An identifier was empty or malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not a valid {what}: {problem}")]
#[non_exhaustive]
pub struct InvalidId {
    /// What kind of identifier.
    pub what: &'static str,
    /// The rejected value.
    pub value: String,
    /// Why it was rejected.
    pub problem: &'static str,
}

/// A SlapOS computer (compute node) reference, e.g. `COMP-1234`.
///
/// ```
/// use bouture_core::ComputerId;
/// let id: ComputerId = "COMP-1234".parse()?;
/// assert_eq!(id.as_str(), "COMP-1234");
/// assert!("".parse::<ComputerId>().is_err());
/// # Ok::<(), bouture_core::InvalidId>(())
/// ```
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct ComputerId(String);

impl ComputerId {
    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ComputerId {
    type Error = InvalidId;
    fn try_from(value: String) -> Result<Self, InvalidId> {
        if value.trim().is_empty() {
            return Err(InvalidId {
                what: "computer id",
                value,
                problem: "it is empty",
            });
        }
        Ok(Self(value))
    }
}

impl std::str::FromStr for ComputerId {
    type Err = InvalidId;
    fn from_str(s: &str) -> Result<Self, InvalidId> {
        Self::try_from(s.to_string())
    }
}

impl From<ComputerId> for String {
    fn from(id: ComputerId) -> String {
        id.0
    }
}

impl fmt::Display for ComputerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A partition id such as `slappart3`: a base name followed by a number.
///
/// Partition ids order by their number, so `slappart2` comes before
/// `slappart10`.
///
/// ```
/// use bouture_core::PartitionId;
/// let two = PartitionId::with_base("slappart2", "slappart").unwrap();
/// let ten = PartitionId::with_base("slappart10", "slappart").unwrap();
/// assert!(two < ten);
/// assert_eq!(ten.number(), 10);
/// assert!(PartitionId::with_base("slappart", "slappart").is_none());
/// assert!(PartitionId::with_base("other3", "slappart").is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PartitionId {
    name: String,
    number: u64,
}

impl PartitionId {
    /// The id if `name` is `base` followed by one or more ASCII digits (a
    /// number that fits in 64 bits), else `None`.
    pub fn with_base(name: &str, base: &str) -> Option<Self> {
        let digits = name.strip_prefix(base)?;
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let number = digits.parse().ok()?;
        Some(Self {
            name: name.to_string(),
            number,
        })
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.name
    }

    /// The partition's number (`3` for `slappart3`).
    pub fn number(&self) -> u64 {
        self.number
    }
}

impl Ord for PartitionId {
    fn cmp(&self, other: &Self) -> Ordering {
        self.number
            .cmp(&other.number)
            .then_with(|| self.name.cmp(&other.name))
    }
}

impl PartialOrd for PartitionId {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl TryFrom<String> for PartitionId {
    type Error = InvalidId;
    fn try_from(value: String) -> Result<Self, InvalidId> {
        let base_len = value.trim_end_matches(|c: char| c.is_ascii_digit()).len();
        let base = value.get(..base_len).unwrap_or_default().to_string();
        if base.is_empty() || base.contains('/') {
            return Err(InvalidId {
                what: "partition id",
                value,
                problem: "it must be a base name without `/` followed by a number",
            });
        }
        Self::with_base(&value, &base).ok_or(InvalidId {
            what: "partition id",
            value,
            problem: "it must end with a number",
        })
    }
}

impl std::str::FromStr for PartitionId {
    type Err = InvalidId;
    fn from_str(s: &str) -> Result<Self, InvalidId> {
        Self::try_from(s.to_string())
    }
}

impl From<PartitionId> for String {
    fn from(id: PartitionId) -> String {
        id.name
    }
}

impl fmt::Display for PartitionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}
