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

/// What is needed of an ext superblock to write its filesystem onto a
/// partition: its size, UUID, label, and whether `tune2fs` and `resize2fs`
/// take it as it is (clean, checked since its last mount, no journal to
/// replay) or `e2fsck -fp` must run first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Superblock {
    /// The filesystem's size in bytes.
    pub(crate) size: u64,
    /// Its block size in bytes.
    pub(crate) block_size: u64,
    /// Its UUID.
    pub(crate) uuid: uuid::Uuid,
    /// Its label (up to 16 bytes, as written).
    pub(crate) label: Vec<u8>,
    /// Marked valid, no error recorded, no journal to replay.
    pub(crate) clean: bool,
    /// Mounted after its last check (`tune2fs` then asks for `e2fsck -f`).
    pub(crate) mounted_since_check: bool,
}

impl Superblock {
    /// The ext superblock `head` (a file's first 4 KiB) starts.
    pub(crate) fn read(head: &[u8]) -> Option<Self> {
        let sb = ext(head)?;
        let state = le16(sb, 58)?;
        let incompat = le32(sb, 96)?;
        let time = |low: usize, high: usize| {
            u64::from(le32(sb, low).unwrap_or(0)) | (u64::from(*sb.get(high).unwrap_or(&0)) << 32)
        };
        let label = sb.get(120..136)?;
        let label = label
            .iter()
            .position(|&b| b == 0)
            .map_or(label, |end| label.get(..end).unwrap_or_default());
        Some(Self {
            size: ext_size(head)?,
            block_size: 1024 << le32(sb, 24)?.min(6),
            uuid: ext_uuid(head)?,
            label: label.to_vec(),
            // EXT2_VALID_FS set, EXT2_ERROR_FS clear, no needs_recovery.
            clean: state & 0x0001 != 0 && state & 0x0002 == 0 && incompat & 0x0004 == 0,
            mounted_since_check: time(64, 0x277) < time(44, 0x274),
        })
    }
}

/// The UUID of the ext filesystem `head` starts.
pub(crate) fn ext_uuid(head: &[u8]) -> Option<uuid::Uuid> {
    let bytes: [u8; 16] = ext(head)?.get(104..120)?.try_into().ok()?;
    Some(uuid::Uuid::from_bytes(bytes))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::indexing_slicing, clippy::unwrap_used)]
    use super::{Superblock, ext_uuid, filesystem_type};

    #[test]
    fn what_tune2fs_and_resize2fs_need_is_read_from_the_superblock() {
        let mut head = vec![0u8; 4096];
        head[1024 + 56] = 0x53;
        head[1024 + 57] = 0xEF;
        head[1024 + 4] = 0x10; // 16 blocks of 1 KiB
        head[1024 + 58] = 0x01; // valid
        head[1024 + 104] = 0xab;
        head[1024 + 120..1024 + 124].copy_from_slice(b"root");
        head[1024 + 64] = 5; // last check
        head[1024 + 44] = 4; // last mount, before it
        let sb = Superblock::read(&head).unwrap();
        assert_eq!(sb.size, 16 * 1024);
        assert_eq!(sb.block_size, 1024);
        assert_eq!(sb.label, b"root");
        assert!(sb.clean && !sb.mounted_since_check);
        assert!(sb.uuid.to_string().starts_with("ab"));
        head[1024 + 0x274] = 1; // mounted in 2106 and later
        assert!(Superblock::read(&head).unwrap().mounted_since_check);
        head[1024 + 58] = 0x03; // errors recorded
        assert!(!Superblock::read(&head).unwrap().clean);
        head[1024 + 58] = 0x01;
        head[1024 + 96] = 0x04; // journal to replay
        assert!(!Superblock::read(&head).unwrap().clean);
        assert_eq!(Superblock::read(&[0u8; 4096]), None);
    }

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
