//! Embedding example: build the disk images of a Bareon `provision.json` with the
//! `bouture` crate (what `bouture deploy build` does): one disk per document disk, every
//! image's root filesystem filled from a directory or a tar archive, GRUB and the
//! multiboot files written, nothing mounted.
//!
//! ```text
//! cargo run --example deploy_build -- provision.json disk.img centos=centos.tar ubuntu=ubuntu/
//! ```

use std::path::{Path, PathBuf};

use bouture::multiboot::{
    BuildOptions, BuildReport, ImageSource, Plan, PlanOptions, Provision, build_disks,
};

/// Read and plan `provision`, then build its disk at `output` from `images` (each image's
/// name and content). Everything is checked before anything is written.
///
/// # Errors
///
/// The document is invalid or asks what the build cannot do, a source or the output is
/// refused, a tool is missing, or a tool failed (no output is left half-written).
pub fn run(
    provision: &Path,
    output: &Path,
    images: Vec<ImageSource>,
) -> Result<BuildReport, bouture::multiboot::Error> {
    let plan = Plan::resolve(&Provision::read(provision)?, &PlanOptions::default())?;
    let mut options = BuildOptions::new(vec![output.to_path_buf()], images);
    options.provision = Some(provision.to_path_buf());
    build_disks(&plan, &options)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args_os().skip(1).map(PathBuf::from);
    let usage = "usage: deploy_build PROVISION OUTPUT NAME=PATH...";
    let provision = args.next().ok_or(usage)?;
    let output = args.next().ok_or(usage)?;
    let images = args
        .map(|arg| {
            let arg = arg.to_string_lossy().into_owned();
            let (name, path) = arg.split_once('=').ok_or(usage)?;
            Ok(ImageSource {
                name: name.to_owned(),
                path: path.into(),
            })
        })
        .collect::<Result<Vec<_>, &str>>()?;
    let report = run(&provision, &output, images)?;
    #[allow(clippy::print_stdout)]
    {
        for disk in &report.disks {
            println!(
                "{}: {} ({} bytes)",
                disk.disk,
                disk.path.display(),
                disk.size_bytes
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use bouture_test_support::multiboot::{document, image_tree, sources};

    #[test]
    fn builds_a_two_image_disk_that_boots_centos_by_default() {
        let dir = tempfile::tempdir().unwrap();
        let provision = dir.path().join("provision.json");
        std::fs::write(&provision, document("console=ttyS0")).unwrap();
        let centos = image_tree(dir.path(), "centos", "CentOS Linux 7 (Core)", b"k", b"i");
        let ubuntu = image_tree(dir.path(), "ubuntu", "Ubuntu 14.04.3 LTS", b"k", b"i");
        let output = dir.path().join("disk.img");

        let images = sources(&[("centos", &centos), ("ubuntu", &ubuntu)]);
        let report = super::run(&provision, &output, images).unwrap();
        assert_eq!(report.disks.len(), 1);
        assert_eq!(report.disks[0].size_bytes, 256 << 20);
        assert_eq!(std::fs::metadata(&output).unwrap().len(), 256 << 20);
        let status = bouture::multiboot::BootTarget::Disk(output)
            .status()
            .unwrap();
        assert_eq!(status.default_image.as_deref(), Some("centos"));
    }
}
