#![doc = include_str!("../README.md")]

mod bootcfg;
mod grubenv;
mod json;
mod model;
mod plan;
mod size;

pub use bootcfg::{BootElement, BootFiles, BootInfo};
pub use grubenv::{GRUBENV_SIZE, GrubEnv, GrubEnvError};
pub use model::{
    Disk, Image, PartitionsPolicy, PathElement, Provision, ValidationError, ValidationErrors,
    Volume, VolumeGroup, VolumeKind,
};
pub use plan::{
    DiskPlan, FilesystemPlan, ImagePlan, MountPlan, PartitionPlan, PartitionRole, Plan,
    PlanOptions, entry_id,
};
pub use size::Size;

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
