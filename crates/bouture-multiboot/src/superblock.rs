//! Filesystem superblocks read from the first 4 KiB of a file or device:
//! which filesystem (ext2/3/4 told apart by their feature flags, as blkid
//! does; xfs, vfat, swap by their signatures), an ext filesystem's size and
//! UUID.

use std::path::Path;

use crate::error::Error;

/// The bytes read: ext's superblock is at 1024, swap's signature ends at
/// 4096.
const HEAD: usize = 4096;
const EXT_SUPERBLOCK: usize = 1024;
const EXT_MAGIC: u16 = 0xEF53;

/// The first 4 KiB of a regular file or block device (never blocking on
/// anything else).
pub(crate) fn read_head(path: &Path) -> Result<Vec<u8>, Error> {
    Ok(bouture_fs::read_head(path, HEAD as u64)?)
}

fn le16(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(bytes.get(at..at + 2)?.try_into().ok()?))
}

fn le32(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

/// The ext superblock, when `head` starts an ext filesystem.
fn ext(head: &[u8]) -> Option<&[u8]> {
    let sb = head.get(EXT_SUPERBLOCK..)?;
    (le16(sb, 56)? == EXT_MAGIC).then_some(sb)
}

/// The filesystem `head` (a file's first 4 KiB) starts.
pub(crate) fn filesystem_type(head: &[u8]) -> Option<&'static str> {
    if head.starts_with(b"XFSB") {
        return Some("xfs");
    }
    if head.get(4086..4096) == Some(b"SWAPSPACE2") {
        return Some("swap");
    }
    if head.get(510..512) == Some(&[0x55, 0xAA])
        && (head.get(54..57) == Some(b"FAT") || head.get(82..87) == Some(b"FAT32"))
    {
        return Some("vfat");
    }
    let sb = ext(head)?;
    let compat = le32(sb, 92)?;
    let incompat = le32(sb, 96)?;
    let ro_compat = le32(sb, 100)?;
    // What ext3 knows: filetype, recover, meta_bg; sparse_super,
    // large_file, btree_dir. Anything else is ext4's.
    if incompat & !(0x0002 | 0x0004 | 0x0010) != 0 || ro_compat & !(0x0001 | 0x0002 | 0x0004) != 0 {
        Some("ext4")
    } else if compat & 0x0004 != 0 {
        Some("ext3")
    } else {
        Some("ext2")
    }
}

/// The size of the ext filesystem `head` starts, in bytes.
pub(crate) fn ext_size(head: &[u8]) -> Option<u64> {
    let sb = ext(head)?;
    let log = le32(sb, 24)?;
    if log > 6 {
        return None;
    }
    let block = 1024u64 << log;
    let mut blocks = u64::from(le32(sb, 4)?);
    if le32(sb, 96)? & 0x0080 != 0 {
        blocks |= u64::from(le32(sb, 0x150)?) << 32;
    }
    blocks.checked_mul(block)
}

/// The UUID of the ext filesystem `head` starts.
pub(crate) fn ext_uuid(head: &[u8]) -> Option<uuid::Uuid> {
    let bytes: [u8; 16] = ext(head)?.get(104..120)?.try_into().ok()?;
    Some(uuid::Uuid::from_bytes(bytes))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::indexing_slicing)]
    use super::{ext_uuid, filesystem_type};

    #[test]
    fn ext_generations_by_features() {
        let mut head = vec![0u8; 4096];
        head[1024 + 56] = 0x53;
        head[1024 + 57] = 0xEF;
        assert_eq!(filesystem_type(&head), Some("ext2"));
        head[1024 + 92] = 0x04; // has_journal
        assert_eq!(filesystem_type(&head), Some("ext3"));
        head[1024 + 96] = 0x40; // extents
        assert_eq!(filesystem_type(&head), Some("ext4"));
        head[1024 + 96] = 0x02; // filetype only
        head[1024 + 100] = 0x08; // huge_file
        assert_eq!(filesystem_type(&head), Some("ext4"));
        head[1024 + 104] = 0x12;
        assert_eq!(
            ext_uuid(&head).map(|u| u.to_string()),
            Some("12000000-0000-0000-0000-000000000000".into())
        );
        assert_eq!(filesystem_type(&[0u8; 4096]), None);
        assert_eq!(ext_uuid(&[0u8; 4096]), None);
        assert_eq!(filesystem_type(b"XFSB"), Some("xfs"));
    }
}
