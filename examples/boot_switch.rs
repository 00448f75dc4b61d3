//! Embedding example: choose which image of a multiboot disk boots, with the `bouture`
//! crate (what `bouture boot set-default` and `bouture boot next` do): GRUB's environment
//! block rewritten in place under a lock and read back.
//!
//! ```text
//! cargo run --example boot_switch -- /dev/sda ubuntu
//! ```

use std::path::Path;

use bouture::multiboot::{BootTarget, Switch, SwitchOptions, SwitchOutcome};

/// Make `image` the default of `disk` (a disk image or device; a mounted multiboot
/// partition would be `BootTarget::Dir`), or only its next boot when `once`.
///
/// # Errors
///
/// The disk cannot be read or locked, is not a multiboot disk, or has no such image.
pub fn run(
    disk: &Path,
    image: &str,
    once: bool,
) -> Result<SwitchOutcome, bouture::multiboot::Error> {
    let switch = if once { Switch::Next } else { Switch::Default };
    BootTarget::Disk(disk.to_path_buf()).switch(image, switch, &SwitchOptions::default())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args_os().skip(1);
    let usage = "usage: boot_switch DISK IMAGE [--once]";
    let disk = args.next().ok_or(usage)?;
    let image = args.next().ok_or(usage)?;
    let once = args.next().is_some_and(|arg| arg == "--once");
    let outcome = run(Path::new(&disk), &image.to_string_lossy(), once)?;
    #[allow(clippy::print_stdout)]
    {
        println!("{outcome:?}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use bouture::multiboot::{BootTarget, SwitchOutcome};
    use bouture_test_support::multiboot::two_image_disk;

    #[test]
    fn switches_the_default_and_the_next_boot_of_a_built_disk() {
        let dir = tempfile::tempdir().unwrap();
        let disk = two_image_disk(dir.path()).disk;

        let outcome = super::run(&disk, "ubuntu", true).unwrap();
        assert!(
            matches!(outcome, SwitchOutcome::Changed { .. }),
            "{outcome:?}"
        );
        let outcome = super::run(&disk, "ubuntu", false).unwrap();
        assert!(
            matches!(outcome, SwitchOutcome::Changed { .. }),
            "{outcome:?}"
        );
        let status = BootTarget::Disk(disk.clone()).status().unwrap();
        assert_eq!(status.default_image.as_deref(), Some("ubuntu"));
        let outcome = super::run(&disk, "ubuntu", false).unwrap();
        assert!(
            matches!(outcome, SwitchOutcome::Unchanged { .. }),
            "{outcome:?}"
        );
        assert!(super::run(&disk, "debian", false).is_err());
    }
}
