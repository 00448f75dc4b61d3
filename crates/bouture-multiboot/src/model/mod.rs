//! provision.json: Bareon's Ironic data-driver document, checked the way
//! Bareon's schema does (same paths and messages) plus the rules Bareon
//! leaves implicit, every error reported at once.

use std::fmt;
use std::path::Path;

use serde::Serialize;
use serde_json::Value;

use crate::error::Error;
use crate::size::Size;

mod schema;
mod semantics;

use schema::Checker;

/// One step of the path to an element of the document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
#[non_exhaustive]
pub enum PathElement {
    /// An object key.
    Key(String),
    /// An array index.
    Index(usize),
}

impl fmt::Display for PathElement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Key(key) => f.write_str(key),
            Self::Index(index) => write!(f, "{index}"),
        }
    }
}

/// One finding: where in the document, and what is wrong there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ValidationError {
    /// Keys and indexes from the document's root to the offending element.
    pub path: Vec<PathElement>,
    /// Bareon's message (schema errors) or bouture's (the implicit rules).
    pub message: String,
}

impl fmt::Display for ValidationError {
    /// Bareon's `path:joined:by:colons:message`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for element in &self.path {
            write!(f, "{element}:")?;
        }
        f.write_str(&self.message)
    }
}

/// Every error found in a document, in Bareon's order (schema errors in
/// schema-property order, then the other rules).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[non_exhaustive]
pub struct ValidationErrors {
    /// The findings, at least one.
    pub errors: Vec<ValidationError>,
}

impl fmt::Display for ValidationErrors {
    /// Bareon's `InputDataSchemaValidationError` text: a header, then one
    /// `    [ERROR n] path:message` line per error, no trailing newline.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Invalid input data:")?;
        for (number, error) in self.errors.iter().enumerate() {
            write!(f, "\n    [ERROR {}] {error}", number + 1)?;
        }
        Ok(())
    }
}

/// `partitions_policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum PartitionsPolicy {
    /// Check the existing partitions (Bareon then installs no image).
    #[default]
    Verify,
    /// Wipe and repartition.
    Clean,
    /// Fuel's legacy behaviour.
    NailgunLegacy,
}

/// One entry of `images[]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Image {
    /// `name`: the image's id (Bareon's `os_id`).
    pub name: String,
    /// `image_pull_url`.
    pub image_pull_url: String,
    /// `target`: where the image is deployed (`/` for an OS image).
    pub target: String,
    /// `image_name` (empty when absent, as in Bareon).
    pub image_name: String,
    /// `image_uuid` (empty when absent).
    pub image_uuid: String,
    /// `boot`: the image booted by default.
    pub boot: bool,
}

/// The kind of a volume.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum VolumeKind {
    /// A GPT partition with a filesystem.
    Partition,
    /// A software RAID member.
    Raid,
    /// Bareon's `/boot` partition.
    Boot,
    /// An LVM physical volume.
    Pv,
    /// LVM metadata pool (accepted and ignored by Bareon).
    LvmMetaPool,
    /// An LVM logical volume (in a `vg`).
    Lv,
}

/// One volume of a disk or volume group.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Volume {
    /// Its index in `volumes[]`.
    pub index: usize,
    /// `type`.
    pub kind: VolumeKind,
    /// `size`, parsed.
    pub size: Size,
    /// `mount`; `None` for `none` or no mount.
    pub mount: Option<String>,
    /// `file_system`, lower-cased (Bareon's default: `xfs`).
    pub file_system: String,
    /// `images` as written; `None` means the first image.
    pub images: Option<Vec<String>>,
    /// `fstab_options` (default `defaults`).
    pub fstab_options: String,
    /// `fstab_enabled` (default true).
    pub fstab_enabled: bool,
    /// `name` (raid, lv) or `disk_label` (partition): the partition name.
    pub name: Option<String>,
    /// `vg` of a physical volume.
    pub vg: Option<String>,
    /// `keep_data`: `bouture deploy image` keeps this volume byte for byte
    /// (a new disk, from `deploy build`, has nothing to keep).
    pub keep_data: bool,
}

/// A `disk` entry of `partitions[]`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Disk {
    /// Its index in `partitions[]`.
    pub index: usize,
    /// `id.type`: `scsi`, `path` or `name`.
    pub id_type: String,
    /// `id.value`.
    pub id: String,
    /// `size` in bytes.
    pub size: Size,
    /// `volumes`.
    pub volumes: Vec<Volume>,
}

/// A `vg` entry of `partitions[]`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct VolumeGroup {
    /// Its index in `partitions[]`.
    pub index: usize,
    /// `id`.
    pub id: String,
    /// Its logical volumes.
    pub volumes: Vec<Volume>,
}

/// A valid provision.json.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Provision {
    /// `images`.
    pub images: Vec<Image>,
    /// `partitions_policy`; `None` when absent (Bareon then reads `verify`).
    pub partitions_policy: Option<PartitionsPolicy>,
    /// `image_deploy_flags` (Bareon's rsync flags), when given.
    pub image_deploy_flags: Option<serde_json::Map<String, Value>>,
    /// The `disk` entries of `partitions`, in order.
    pub disks: Vec<Disk>,
    /// The `vg` entries of `partitions`, in order.
    pub volume_groups: Vec<VolumeGroup>,
    /// `deploy_data.kernel_params` (empty when absent).
    pub kernel_params: String,
}

/// The largest provision.json [`Provision::read`] reads.
pub const PROVISION_LIMIT: u64 = 16 * 1024 * 1024;

impl Provision {
    /// Read (at most [`PROVISION_LIMIT`] bytes, a regular file; the path
    /// given by the caller may be a symbolic link), parse and validate a
    /// provision.json file.
    ///
    /// # Errors
    ///
    /// [`Error::Read`] when the file cannot be read,
    /// [`Error::Invalid`] with every finding when it is not valid.
    pub fn read(path: &Path) -> Result<Self, Error> {
        let text = bouture_fs::read_bounded(path, PROVISION_LIMIT, bouture_fs::Links::Follow)?;
        Ok(Self::from_json(&text)?)
    }

    /// Parse and validate a provision.json document (duplicate keys refused).
    pub fn from_json(text: &[u8]) -> Result<Self, ValidationErrors> {
        let value = crate::parse_strict(text).map_err(|error| ValidationErrors {
            errors: vec![ValidationError {
                path: Vec::new(),
                message: format!("not valid JSON: {error}"),
            }],
        })?;
        Self::from_value(&value)
    }

    /// Validate an already parsed document.
    pub fn from_value(value: &Value) -> Result<Self, ValidationErrors> {
        let mut checker = Checker::default();
        let parsed = checker.document(value);
        let schema_clean = checker.errors.is_empty();
        checker.references(value);
        if let (Some(provision), true) = (&parsed, schema_clean) {
            checker.semantics(provision);
        }
        match parsed {
            Some(provision) if checker.errors.is_empty() => Ok(provision),
            _ => Err(ValidationErrors {
                errors: checker.errors,
            }),
        }
    }

    /// The images owning each volume (explicit `images`, else the first image).
    pub(crate) fn owners<'a>(&'a self, volume: &'a Volume) -> Vec<&'a str> {
        match &volume.images {
            Some(images) => images.iter().map(String::as_str).collect(),
            None => self
                .images
                .first()
                .map(|i| i.name.as_str())
                .into_iter()
                .collect(),
        }
    }
}
