#![doc = include_str!("../README.md")]

mod bootcfg;
mod build;
mod error;
mod grubenv;
mod layout;
mod model;
mod plan;
mod pull;
mod running;
mod size;
mod superblock;
mod switch;
mod tools;

pub use bootcfg::{BootElement, BootFiles, BootInfo, PANIC_REBOOT_SECONDS, REBOOT_ENTRY_ID};
pub use build::{
    BuildOptions, BuildReport, BuiltDisk, DeployOptions, DeployReport, DeployedPartition,
    DiskFormat, ImageSource, build_disks, buildable, deploy_image,
};
pub use error::{Error, Input, MissingTool};
pub use grubenv::{GRUBENV_SIZE, GrubEnv, GrubEnvError};
pub use layout::{LAYOUT_FORMAT, LAYOUT_NAME};
pub use model::{
    Disk, Image, PROVISION_LIMIT, PartitionsPolicy, PathElement, Provision, ValidationError,
    ValidationErrors, Volume, VolumeGroup, VolumeKind,
};
pub use plan::{
    DiskPlan, FilesystemPlan, ImagePlan, MountPlan, PartitionPlan, PartitionRole, Plan,
    PlanOptions, entry_id,
};
pub use pull::PULL_DEADLINE;
pub use running::{PROC_CMDLINE, PROC_MOUNTINFO, Running, read_cmdline, running_image};
pub use size::Size;
pub use switch::{
    BOOT_INFO_NAME, BootStatus, BootTarget, GRUB_DIR, GrubEnvLocation, Switch, SwitchOptions,
    SwitchOutcome,
};
pub use tools::{GRUB_I386_PC, GRUB_X86_64_EFI, TOOL_DEADLINE};

/// Parse JSON text, refusing duplicate keys in any object: serde keeps the
/// first of two equal keys and Python's `json` the last, so a document with
/// duplicates means different things to Bareon and to bouture.
pub(crate) fn parse_strict(text: &[u8]) -> Result<serde_json::Value, serde_json::Error> {
    bouture_json::to_value(text, |key| {
        format!(
            "duplicate key {:?} (Bareon would keep the last one, serde the first)",
            bouture_text::truncate(key, 80)
        )
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::parse_strict;

    #[test]
    fn duplicate_keys_are_refused_naming_bareon() {
        let error = parse_strict(br#"{"a": [{"b": 1, "b": 2}]}"#).unwrap_err();
        assert!(
            error.to_string().starts_with(
                r#"duplicate key "b" (Bareon would keep the last one, serde the first) at line 1"#
            ),
            "{error}"
        );
        let long = format!(r#"{{"{0}": 1, "{0}": 2}}"#, "k".repeat(100));
        let error = parse_strict(long.as_bytes()).unwrap_err();
        assert!(
            error
                .to_string()
                .contains(&format!("\"{}…\"", "k".repeat(80))),
            "{error}"
        );
    }
}
