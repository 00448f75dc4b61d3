//! Which image of a multiboot disk is running: told by the mounted root
//! (its device in `/proc/self/mountinfo`, that device's superblock's
//! filesystem UUID) and by the kernel command line GRUB passed
//! (`bouture.image=NAME` and `root=UUID=...`, both written by bouture's
//! menu entries). When they disagree, nothing is guessed.

use std::path::Path;

use serde::Serialize;

use crate::bootcfg::{BootElement, BootInfo};
use crate::error::Error;

/// The kernel command line of the running system.
pub const PROC_CMDLINE: &str = "/proc/cmdline";
/// The most read from a command line file (Linux allows at most a few KiB).
const CMDLINE_LIMIT: u64 = 64 * 1024;
/// The mounts of the running system, as this process sees them.
pub const PROC_MOUNTINFO: &str = "/proc/self/mountinfo";
/// The most read from a mountinfo file.
const MOUNTINFO_LIMIT: u64 = 4 * 1024 * 1024;

/// What the running system's command line says about a disk's images.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Running {
    /// The running image (its name), when it is one of the disk's images.
    pub image: Option<String>,
    /// How it was told (`bouture.image=`, `root=UUID=`), or why none is.
    pub evidence: String,
}

/// Read a kernel command line (normally [`PROC_CMDLINE`]): a regular file,
/// never through a link, bounded.
pub fn read_cmdline(path: &Path) -> Result<String, Error> {
    let bytes = bouture_fs::read_bounded(path, CMDLINE_LIMIT, bouture_fs::Links::Refuse)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// The value of `key=` on a command line (the last one, as the kernel and
/// init read it).
fn argument<'a>(cmdline: &'a str, key: &str) -> Option<&'a str> {
    cmdline
        .split_whitespace()
        .filter_map(|word| word.strip_prefix(key)?.strip_prefix('='))
        .next_back()
}

/// Which of `info`'s images the command line booted. `bouture.image=` and
/// `root=UUID=` must agree when both name one of the images; a command line
/// naming none (another system runs) is `image: None`.
pub fn running_image(info: &BootInfo, cmdline: &str) -> Result<Running, Error> {
    let by_name = argument(cmdline, "bouture.image")
        .and_then(|name| info.elements.iter().find(|e| e.os_id == name));
    let by_root = argument(cmdline, "root")
        .and_then(|root| root.strip_prefix("UUID="))
        .and_then(|uuid| {
            info.elements
                .iter()
                .find(|e| e.root_uuid.eq_ignore_ascii_case(uuid))
        });
    let named = |e: &BootElement| e.os_id.clone();
    match (by_name, by_root) {
        (Some(a), Some(b)) if a.os_id != b.os_id => Err(Error::Unsupported(format!(
            "the kernel command line says bouture.image={} but its root=UUID= is image {}'s: refusing to guess which image runs",
            a.os_id, b.os_id
        ))),
        (Some(element), _) => Ok(Running {
            image: Some(named(element)),
            evidence: format!("bouture.image={} on the kernel command line", element.os_id),
        }),
        (None, Some(element)) => Ok(Running {
            image: Some(named(element)),
            evidence: format!("root=UUID={} on the kernel command line", element.root_uuid),
        }),
        (None, None) => Ok(Running {
            image: None,
            evidence: format!(
                "the kernel command line names none of this disk's images (no bouture.image= or root=UUID= of {})",
                info.elements
                    .iter()
                    .map(|e| e.os_id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }),
    }
}

/// The mounted root: its device (the mount source) and, when that
/// device's superblock can be read, its ext filesystem UUID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MountedRoot {
    source: String,
    uuid: Option<uuid::Uuid>,
    why_not: String,
}

/// A mountinfo path field, its `\ooo` escapes (space, tab, newline,
/// backslash) decoded.
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| b == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)))
            .and_then(|d| u8::from_str_radix(std::str::from_utf8(d).ok()?, 8).ok());
        if let Some(value) = octal {
            out.push(value);
            i += 4;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The root's mount source in mountinfo text: the last mount on `/` (the
/// one visible, mounts stack).
fn root_source(text: &str) -> Option<String> {
    text.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            let mount_point = fields.get(4)?;
            let dash = fields.iter().position(|f| *f == "-")?;
            let source = fields.get(dash + 2)?;
            (*mount_point == "/").then(|| unescape(source))
        })
        .next_back()
}

/// Read the mounted root from a mountinfo file (normally
/// [`PROC_MOUNTINFO`]) and its device's superblock. A mountinfo that
/// cannot be read is an error; a device that cannot be (`/dev/root`, an
/// overlay, no permission) leaves the UUID unknown, saying why.
pub(crate) fn mounted_root(mountinfo: &Path) -> Result<Option<MountedRoot>, Error> {
    let bytes = bouture_fs::read_bounded(mountinfo, MOUNTINFO_LIMIT, bouture_fs::Links::Follow)?;
    let Some(source) = root_source(&String::from_utf8_lossy(&bytes)) else {
        return Ok(None);
    };
    let (uuid, why_not) = if source.starts_with('/') {
        match crate::superblock::read_head(Path::new(&source)) {
            Ok(head) => match crate::superblock::ext_uuid(&head) {
                Some(uuid) => (Some(uuid), String::new()),
                None => (None, format!("{source} holds no ext filesystem")),
            },
            Err(error) => (None, bouture_text::truncate(&error.to_string(), 200)),
        }
    } else {
        (
            None,
            format!(
                "the root's source '{}' is not a device",
                bouture_text::truncate(&source, 80)
            ),
        )
    };
    Ok(Some(MountedRoot {
        source,
        uuid,
        why_not,
    }))
}

/// Which of `info`'s images runs, from the mounted root (when its UUID is
/// one of the images' roots) and the kernel command line
/// ([`running_image`]); an error when they name different images.
pub(crate) fn detect(info: &BootInfo, cmdline: &str, mountinfo: &Path) -> Result<Running, Error> {
    let by_cmdline = running_image(info, cmdline)?;
    let Some(root) = mounted_root(mountinfo)? else {
        return Ok(by_cmdline);
    };
    let by_root = root.uuid.and_then(|uuid| {
        info.elements
            .iter()
            .find(|e| e.root_uuid.eq_ignore_ascii_case(&uuid.to_string()))
    });
    match (by_root, &by_cmdline.image) {
        (Some(element), Some(named)) if *named != element.os_id => {
            Err(Error::Unsupported(format!(
                "the mounted root {} is image {}'s filesystem but the kernel command line says image {named} ({}): refusing to guess which image runs",
                root.source, element.os_id, by_cmdline.evidence
            )))
        }
        (Some(element), _) => Ok(Running {
            image: Some(element.os_id.clone()),
            evidence: format!(
                "the mounted root {} has filesystem UUID {}, image {}'s{}",
                root.source,
                element.root_uuid,
                element.os_id,
                if by_cmdline.image.is_some() {
                    format!("; {}", by_cmdline.evidence)
                } else {
                    String::new()
                }
            ),
        }),
        (None, _) => {
            let root_said = match root.uuid {
                Some(uuid) => format!(
                    "the mounted root {} (UUID {uuid}) is none of this disk's images",
                    root.source
                ),
                None => format!("the mounted root's UUID is unknown: {}", root.why_not),
            };
            Ok(Running {
                image: by_cmdline.image,
                evidence: format!("{}; {root_said}", by_cmdline.evidence),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::{root_source, running_image, unescape};
    use crate::bootcfg::{BootElement, BootInfo};

    fn info() -> BootInfo {
        let element = |n: usize, name: &str, uuid: &str| BootElement {
            grub_id: n,
            image_name: String::new(),
            os_id: name.into(),
            image_uuid: String::new(),
            boot_name: name.into(),
            root_uuid: uuid.into(),
            grub_entry_id: format!("image-{name}"),
        };
        BootInfo {
            elements: vec![
                element(0, "a", "11111111-1111-1111-1111-111111111111"),
                element(1, "b", "22222222-2222-2222-2222-222222222222"),
            ],
            current_element: 0,
            multiboot_partition: String::new(),
        }
    }

    #[test]
    fn the_command_line_names_the_running_image() {
        let info = info();
        let run = |cmdline: &str| running_image(&info, cmdline).map(|r| r.image);
        assert_eq!(
            run("BOOT_IMAGE=/boot/vmlinuz root=UUID=22222222-2222-2222-2222-222222222222 ro bouture.image=b\n").unwrap(),
            Some("b".into())
        );
        assert_eq!(
            run("root=UUID=11111111-1111-1111-1111-111111111111 ro").unwrap(),
            Some("a".into())
        );
        assert_eq!(
            run("root=/dev/sda1 bouture.image=b").unwrap(),
            Some("b".into())
        );
        // The last of a repeated argument counts, as for the kernel.
        assert_eq!(
            run("bouture.image=a bouture.image=b").unwrap(),
            Some("b".into())
        );
        assert_eq!(run("root=UUID=33 quiet").unwrap(), None);
        assert_eq!(run("bouture.image=zz").unwrap(), None);
        let error =
            run("root=UUID=11111111-1111-1111-1111-111111111111 bouture.image=b").unwrap_err();
        assert!(error.to_string().contains("refusing to guess"), "{error}");
    }

    #[test]
    fn the_root_of_mountinfo_is_the_last_mount_on_slash() {
        let text = "\
22 1 8:2 / / rw,relatime shared:1 - ext4 /dev/sda2 rw
25 22 0:5 / /dev rw - devtmpfs udev rw
30 22 8:3 / /srv\\040data rw - ext4 /dev/sda3 rw
40 22 0:40 / / rw - overlay over\\040lay rw
";
        assert_eq!(root_source(text).as_deref(), Some("over lay"));
        assert_eq!(
            root_source(text.lines().next().unwrap()).as_deref(),
            Some("/dev/sda2")
        );
        assert_eq!(root_source("25 22 0:5 / /dev rw - devtmpfs udev rw"), None);
        assert_eq!(unescape("a\\134b\\011"), "a\\b\t");
    }
}
