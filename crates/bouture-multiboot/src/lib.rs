#![doc = include_str!("../README.md")]

mod bootcfg;
mod build;
mod error;
mod grubenv;
mod json;
mod model;
mod plan;
mod size;
mod switch;
mod tools;

pub use bootcfg::{BootElement, BootFiles, BootInfo};
pub use build::{BuildOptions, BuildReport, BuiltDisk, DiskFormat, ImageSource, build_disks};
pub use error::{MissingTool, MultibootError};
pub use grubenv::{GRUBENV_SIZE, GrubEnv, GrubEnvError};
pub use model::{
    Disk, Image, PROVISION_LIMIT, PartitionsPolicy, PathElement, Provision, ValidationError,
    ValidationErrors, Volume, VolumeGroup, VolumeKind,
};
pub use plan::{
    DiskPlan, FilesystemPlan, ImagePlan, MountPlan, PartitionPlan, PartitionRole, Plan,
    PlanOptions, entry_id,
};
pub use size::Size;
pub use switch::{
    BOOT_INFO_NAME, BootStatus, BootTarget, GRUB_DIR, GrubEnvLocation, Switch, SwitchOutcome,
};
pub use tools::GRUB_I386_PC;

/// At most `max` characters of `text`, with `…` when cut (for messages).
pub(crate) fn excerpt(text: &str, max: usize) -> String {
    let mut chars = text.chars();
    let head: String = chars.by_ref().take(max).collect();
    if chars.next().is_some() {
        format!("{head}…")
    } else {
        head
    }
}
