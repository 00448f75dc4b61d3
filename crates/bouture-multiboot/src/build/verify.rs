//! The disk read back before it is put in place.

use std::path::Path;

use crate::error::Error;
use crate::plan::{DiskPlan, PartitionRole};
use crate::switch::{BootTarget, SfdiskTable, read_table};
use crate::tools::Tools;

/// Whether the table sfdisk read is the one the plan lays out (GPT, disk
/// GUID, and each partition's start, size, name, type and GUID).
pub(crate) fn table_matches(table: &SfdiskTable, disk: &DiskPlan) -> bool {
    table.label == "gpt"
        && table.id.eq_ignore_ascii_case(&disk.disk_uuid.to_string())
        && table.partitions.len() == disk.partitions.len()
        && table
            .partitions
            .iter()
            .zip(&disk.partitions)
            .all(|(found, planned)| {
                found.start == planned.start_sector
                    && found.size == planned.size_sectors
                    && found.name == planned.name
                    && found.type_guid.eq_ignore_ascii_case(&planned.type_guid)
                    && found
                        .uuid
                        .eq_ignore_ascii_case(&planned.partition_uuid.to_string())
            })
}

/// Read the disk back with sfdisk and compare with the plan.
pub(super) fn verify_disk(tools: &Tools, disk: &DiskPlan, raw: &Path) -> Result<(), Error> {
    let table = read_table(tools, raw)?;
    if !table_matches(&table, disk) {
        return Err(Error::ReadBack {
            path: raw.to_owned(),
            what: "the partition table".into(),
        });
    }
    if disk
        .partitions
        .iter()
        .any(|p| p.role == PartitionRole::Multiboot)
    {
        BootTarget::Disk(raw.to_owned()).status()?;
    }
    Ok(())
}
