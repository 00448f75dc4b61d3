//! `.slapos-resource`: the addresses and interface `slapos node format` gave a partition.

use std::net::IpAddr;
use std::path::Path;

use crate::error::{FileError, FileErrorKind};
use crate::json_fields::{
    element_object, field_path, parse_json_object, required_array, required_str,
};
use bouture_fs::Links;

/// The name of the file `slapos node format` writes into each partition.
pub const RESOURCE_FILE_NAME: &str = ".slapos-resource";

/// The most bytes bouture reads from a `.slapos-resource`.
pub const RESOURCE_FILE_SIZE_LIMIT: u64 = 1024 * 1024;

/// One address of a partition, with its netmask.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct PartitionAddress {
    /// The address.
    pub addr: IpAddr,
    /// Its netmask, of the same family (`255.255.255.0`, `ffff:ffff:ffff:ffff::`).
    pub netmask: IpAddr,
}

impl PartitionAddress {
    /// An address with its netmask.
    pub fn new(addr: IpAddr, netmask: IpAddr) -> Self {
        Self { addr, netmask }
    }

    /// The prefix length of the netmask, when its one bits are contiguous.
    ///
    /// ```
    /// # use bouture_core::PartitionAddress;
    /// let a = PartitionAddress { addr: "10.0.0.2".parse().unwrap(), netmask: "255.255.255.0".parse().unwrap() };
    /// assert_eq!(a.prefix_len(), Some(24));
    /// ```
    pub fn prefix_len(&self) -> Option<u32> {
        let (bits, width) = match self.netmask {
            IpAddr::V4(mask) => (u128::from(u32::from(mask)) << 96, 32),
            IpAddr::V6(mask) => (u128::from(mask), 128),
        };
        let ones = bits.leading_ones();
        (bits.checked_shl(ones).unwrap_or(0) == 0).then_some(ones.min(width))
    }
}

/// `10.0.0.2/24`, or `10.0.0.2 netmask 255.0.255.0` for a netmask whose
/// one bits are not contiguous.
impl std::fmt::Display for PartitionAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.prefix_len() {
            Some(prefix) => write!(f, "{}/{prefix}", self.addr),
            None => write!(f, "{} netmask {}", self.addr, self.netmask),
        }
    }
}

/// What bouture uses of a partition's `.slapos-resource`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct PartitionResource {
    /// `address_list`: every address of the partition.
    pub addresses: Vec<PartitionAddress>,
    /// `tap.name`: the partition's tap interface, when it has one.
    pub tap_name: Option<String>,
}

impl PartitionResource {
    /// Read and check `<partition>/.slapos-resource`, refusing links and
    /// non-regular files and reading at most [`RESOURCE_FILE_SIZE_LIMIT`] bytes.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, FileError> {
        let path = path.as_ref();
        let bytes = bouture_fs::read_bounded(path, RESOURCE_FILE_SIZE_LIMIT, Links::Refuse)?;
        Self::parse(&bytes).map_err(|kind| FileError::new(path, kind))
    }

    /// Check the bytes of a `.slapos-resource`.
    pub fn parse(bytes: &[u8]) -> Result<Self, FileErrorKind> {
        let object = parse_json_object(bytes)?;
        let addresses = required_array(&object, "", "address_list")?
            .iter()
            .enumerate()
            .map(|(index, value)| {
                let path = format!("address_list[{index}]");
                let entry = element_object(value, &path)?;
                let addr = parse_ip(required_str(entry, &path, "addr")?, &path, "addr")?;
                let netmask = parse_ip(required_str(entry, &path, "netmask")?, &path, "netmask")?;
                if addr.is_ipv4() != netmask.is_ipv4() {
                    return Err(FileErrorKind::field(
                        field_path(&path, "netmask"),
                        format!("`{netmask}` is not of the same family as the address `{addr}`"),
                    ));
                }
                Ok(PartitionAddress { addr, netmask })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let tap_name = match object.get("tap") {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::Object(tap)) => match tap.get("name") {
                None | Some(serde_json::Value::Null) => None,
                Some(serde_json::Value::String(name)) => {
                    Some(name.clone()).filter(|name| !name.is_empty())
                }
                Some(_) => return Err(FileErrorKind::field("tap.name", "must be a string")),
            },
            Some(_) => return Err(FileErrorKind::field("tap", "must be an object or null")),
        };
        Ok(Self {
            addresses,
            tap_name,
        })
    }
}

fn parse_ip(text: &str, path: &str, field: &str) -> Result<IpAddr, FileErrorKind> {
    text.parse().map_err(|_| {
        FileErrorKind::field(
            field_path(path, field),
            format!("is `{text}`, not an IPv4 or IPv6 address"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_format_example() {
        let resource =
            PartitionResource::parse(include_bytes!("../tests/fixtures/slapos-resource.example"))
                .unwrap();
        assert_eq!(resource.tap_name.as_deref(), Some("slaptap3"));
        assert_eq!(resource.addresses.len(), 2);
        assert_eq!(resource.addresses[0].prefix_len(), Some(24));
        assert_eq!(resource.addresses[1].prefix_len(), Some(64));
    }

    #[test]
    fn names_the_bad_address() {
        let err = PartitionResource::parse(
            br#"{"address_list": [{"addr": "10.0.0.1", "netmask": "ffff::"}]}"#,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "field `address_list[0].netmask` `ffff::` is not of the same family as the address `10.0.0.1`"
        );
        let err = PartitionResource::parse(
            br#"{"address_list": [{"addr": "10.0.0.300", "netmask": "255.0.0.0"}]}"#,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "field `address_list[0].addr` is `10.0.0.300`, not an IPv4 or IPv6 address"
        );
    }
}
