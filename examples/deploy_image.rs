//! Embedding example: put a new version of one image onto a multiboot disk with the
//! `bouture` crate (what `bouture deploy image` does): the image's own partitions remade
//! from the source, everything else kept byte for byte; the running image and (unless
//! forced) the default one are refused.
//!
//! ```text
//! cargo run --example deploy_image -- /dev/sda ubuntu ubuntu-2.tar
//! ```

use std::path::Path;

use bouture::multiboot::{DeployOptions, DeployReport, deploy_image, read_cmdline};

/// Deploy `source` (a directory or a tar archive) as the new `image` of `disk`;
/// `cmdline` is the running system's kernel command line (which image runs).
///
/// # Errors
///
/// The image is unknown, running or the default, the source does not fit, a tool is
/// missing or failed.
pub fn run(
    disk: &Path,
    image: &str,
    source: &Path,
    cmdline: &str,
) -> Result<DeployReport, bouture::multiboot::Error> {
    deploy_image(&DeployOptions::new(image, disk, source, cmdline))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args_os().skip(1);
    let usage = "usage: deploy_image DISK IMAGE SOURCE";
    let disk = args.next().ok_or(usage)?;
    let image = args.next().ok_or(usage)?;
    let source = args.next().ok_or(usage)?;
    let cmdline = read_cmdline(Path::new(bouture::multiboot::PROC_CMDLINE))?;
    let report = run(
        Path::new(&disk),
        &image.to_string_lossy(),
        Path::new(&source),
        &cmdline,
    )?;
    #[allow(clippy::print_stdout)]
    {
        println!(
            "{}: {} partition(s) written, kernel {}",
            report.image,
            report.written.len(),
            report.boot_files.kernel
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use bouture_test_support::multiboot::{TwoImageDisk, debugfs_cat, partition, two_image_disk};

    #[test]
    fn deploys_a_new_version_of_the_image_that_neither_runs_nor_boots_by_default() {
        let dir = tempfile::tempdir().unwrap();
        let TwoImageDisk { plan, disk, .. } = two_image_disk(dir.path());
        let new = dir.path().join("ubuntu-2");
        std::fs::create_dir_all(new.join("boot")).unwrap();
        std::fs::create_dir_all(new.join("etc")).unwrap();
        std::fs::write(new.join("boot/vmlinuz-6.2.0-2"), b"kernel 2").unwrap();
        std::fs::write(new.join("etc/version"), "2\n").unwrap();
        // Centos runs.
        let cmdline = format!("root=UUID={} ro", plan.images[0].root_uuid);

        let report = super::run(&disk, "ubuntu", &new, &cmdline).unwrap();
        assert_eq!(report.boot_files.kernel, "/boot/vmlinuz-6.2.0-2");
        assert_eq!(report.default_image.as_deref(), Some("centos"));
        let root = partition(&plan, "root-ubuntu");
        assert_eq!(debugfs_cat(&disk, root, "/etc/version"), "2\n");
        // The running image is never rewritten.
        assert!(super::run(&disk, "centos", &new, &cmdline).is_err());
    }
}
