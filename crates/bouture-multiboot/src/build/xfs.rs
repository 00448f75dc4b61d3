//! xfs filesystems (Bareon's default) for data volumes: made empty with
//! `mkfs.xfs` in a file of the partition's size, with the mount points of
//! the volumes below it (a protofile of directories only), then copied into
//! the disk. A tree is never copied into xfs: `mkfs.xfs -p` (xfsprogs 6.1)
//! drops sticky bits, extended attributes, file capabilities and hard
//! links, and bouture never mounts, so content for an xfs volume is refused
//! before anything is written.

use std::fmt::Write as _;
use std::fs::File;
use std::path::Path;

use super::disk::copy_sparse;
use super::ext::Region;
use crate::error::{Error, io};
use crate::plan::FilesystemPlan;
use crate::tools::Tools;

/// mkfs.xfs makes no smaller filesystem (xfsprogs 5.19 and later).
pub(crate) const XFS_MIN_BYTES: u64 = 300 * 1024 * 1024;

/// Make an empty xfs with the `nested` mount points in the region.
pub(super) fn make_xfs(
    tools: &Tools,
    fs: &FilesystemPlan,
    nested: &[String],
    region: &Region<'_>,
    work: &Path,
    name: &str,
) -> Result<(), Error> {
    let image = work.join(format!("xfs-{name}.img"));
    File::create(&image)
        .and_then(|f| f.set_len(region.size))
        .map_err(io(&image, "cannot create"))?;
    let proto = work.join(format!("xfs-{name}.proto"));
    bouture_fs::write_atomic(&proto, protofile(nested)?.as_bytes(), 0o600, None)?;
    let label: String = fs.label.chars().take(12).collect();
    let mut command = tools.command("mkfs.xfs");
    command
        .args(["-q", "-f", "-L", &label])
        .arg("-m")
        .arg(format!("uuid={}", fs.uuid))
        .arg("-p")
        .arg(&proto)
        .arg(&image);
    tools.run(command, None)?;
    let disk = File::options()
        .read(true)
        .write(true)
        .open(region.disk)
        .map_err(io(region.disk, "cannot open"))?;
    copy_sparse(&image, &disk, region.disk, region.offset, region.size)?;
    std::fs::remove_file(&image).map_err(io(&image, "cannot remove"))?;
    Ok(())
}

/// A directory of the protofile and those below it.
#[derive(Default)]
struct Dir(std::collections::BTreeMap<String, Dir>);

fn write_dir(out: &mut String, dir: &Dir) {
    for (name, child) in &dir.0 {
        let _ = writeln!(out, "{name} d--755 0 0");
        write_dir(out, child);
        out.push_str("$\n");
    }
}

/// A protofile of directories only (root 0755, owned by root).
fn protofile(nested: &[String]) -> Result<String, Error> {
    let mut root = Dir::default();
    for path in nested {
        let mut here = &mut root;
        for part in path.split('/').filter(|p| !p.is_empty()) {
            if part.contains([':', '$']) || part.chars().any(char::is_whitespace) {
                return Err(Error::Unsupported(format!(
                    "mount point component {part:?} cannot be written in an xfs protofile"
                )));
            }
            here = here.0.entry(part.to_owned()).or_default();
        }
    }
    let mut out = String::from("bouture\n0 0\nd--755 0 0\n");
    write_dir(&mut out, &root);
    out.push_str("$\n");
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::protofile;

    #[test]
    fn a_protofile_of_nested_mount_points() {
        let proto = protofile(&["log".into(), "lib/a".into(), "lib/b".into()]).unwrap();
        assert_eq!(
            proto,
            "bouture\n0 0\nd--755 0 0\nlib d--755 0 0\na d--755 0 0\n$\nb d--755 0 0\n$\n$\nlog d--755 0 0\n$\n$\n"
        );
        assert!(protofile(&["a b".into()]).is_err());
    }
}
