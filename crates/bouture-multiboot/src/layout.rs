//! The layout record kept beside grub.cfg: the plan a disk was built from
//! and each image's boot files, so `bouture deploy image` can rewrite one
//! image's partitions, its menu entry and fstab without the provision
//! document, and check the disk is the one bouture wrote.

use serde::{Deserialize, Serialize};

use crate::bootcfg::BootFiles;
use crate::plan::Plan;

/// The record's file name, in the multiboot partition's `/boot/grub`.
pub const LAYOUT_NAME: &str = "bouture-layout.json";
/// The record's format tag; another one is refused.
pub const LAYOUT_FORMAT: &str = "bouture-multiboot-layout/1";
/// The most read of a record.
pub(crate) const LAYOUT_LIMIT: u64 = 4 * 1024 * 1024;

/// The record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Layout {
    /// [`LAYOUT_FORMAT`].
    pub(crate) format: String,
    /// The plan the disk was built from.
    pub(crate) plan: Plan,
    /// Each image's kernel, initrd and title, in the order of `plan.images`.
    pub(crate) boot_files: Vec<BootFiles>,
}

impl Layout {
    pub(crate) fn new(plan: &Plan, files: &[BootFiles]) -> Self {
        Self {
            format: LAYOUT_FORMAT.to_owned(),
            plan: plan.clone(),
            boot_files: files.to_vec(),
        }
    }

    /// Pretty JSON with a final newline.
    pub(crate) fn to_json(&self) -> Vec<u8> {
        let mut text = serde_json::to_vec_pretty(self).unwrap_or_default();
        text.push(b'\n');
        text
    }
}
