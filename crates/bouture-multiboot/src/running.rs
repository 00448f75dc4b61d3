//! Which image of a multiboot disk is running: told by the kernel command
//! line GRUB passed (`bouture.image=NAME` and `root=UUID=...`, both written
//! by bouture's menu entries).

use std::path::Path;

use serde::Serialize;

use crate::bootcfg::{BootElement, BootInfo};
use crate::error::Error;

/// The kernel command line of the running system.
pub const PROC_CMDLINE: &str = "/proc/cmdline";
/// The most read from a command line file (Linux allows at most a few KiB).
const CMDLINE_LIMIT: u64 = 64 * 1024;

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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::running_image;
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
}
