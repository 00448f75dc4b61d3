//! What each partition receives from the sources, measured before anything
//! is made: a directory is walked (links never followed), a tar archive is
//! listed, never extracted, and the listing stops as soon as an image's
//! content exceeds all its partitions together, so a compression bomb never
//! reaches the disk. A partition that cannot hold what it receives is
//! refused, naming it.

use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use super::inputs::Source;
use crate::error::Error;
use crate::plan::Plan;
use crate::tools::Tools;

/// The longest line of `tar -tv` read (a path is at most a few KiB).
const LINE_LIMIT: u64 = 64 * 1024;
/// The most `/boot` names kept from a listing.
const BOOT_NAMES: usize = 4096;

/// A partition receiving content: where, how large, how much it gets.
struct Slot {
    what: String,
    /// xfs is made empty: no content may go there.
    empty_only: bool,
    capacity: u64,
    needed: u64,
    files: u64,
    images: Vec<String>,
}

/// What an archive lists under `boot/` (regular files), for a dry run
/// that finds the kernel without extracting.
pub(super) type BootNames = Option<Vec<String>>;

/// Measure every source against its partitions; for tar archives, also the
/// names of the regular files in `boot/`.
pub(super) fn check_content(
    plan: &Plan,
    sources: &[Source],
    tools: &Tools,
) -> Result<Vec<BootNames>, Error> {
    let mut slots: BTreeMap<(usize, usize), Slot> = BTreeMap::new();
    let mut names = Vec::new();
    for (image, source) in plan.images.iter().zip(sources) {
        // The image's mount points, deepest first, with their partition.
        let mut mounts: Vec<(String, (usize, usize))> = Vec::new();
        for (d, disk) in plan.disks.iter().enumerate() {
            for (p, partition) in disk.partitions.iter().enumerate() {
                let Some(fs) = &partition.filesystem else {
                    continue;
                };
                let Some(mount) = &fs.mount else {
                    continue;
                };
                if !fs.images.contains(&image.name) {
                    continue;
                }
                mounts.push((mount.clone(), (d, p)));
                let slot = slots.entry((d, p)).or_insert_with(|| Slot {
                    what: format!("disk {} partition {} ({mount})", disk.id, partition.number),
                    empty_only: fs.fs_type == "xfs",
                    capacity: partition.size_bytes,
                    needed: 0,
                    files: 0,
                    images: Vec::new(),
                });
                slot.images.push(image.name.clone());
            }
        }
        mounts.sort_by_key(|(m, _)| std::cmp::Reverse(m.len()));
        let limit: u64 = mounts
            .iter()
            .filter_map(|(_, key)| slots.get(key).map(|s| s.capacity))
            .sum();
        let mut total = 0u64;
        let mut add = |relative: &str, bytes: u64| -> bool {
            let absolute = format!("/{}", relative.trim_matches('/'));
            let key = mounts
                .iter()
                .find(|(m, _)| {
                    m == "/"
                        || absolute == *m
                        || absolute
                            .strip_prefix(m.as_str())
                            .is_some_and(|r| r.starts_with('/'))
                })
                .map(|(_, key)| *key);
            if let Some(slot) = key.and_then(|key| slots.get_mut(&key)) {
                slot.needed += bytes;
                slot.files += 1;
            }
            total += bytes;
            total <= limit
        };
        let too_large = |what: &str| Error::Source {
            image: image.name.clone(),
            message: format!(
                "{what} holds more than {limit} bytes, more than all its partitions together; nothing was extracted"
            ),
        };
        match source {
            Source::Dir(dir) => {
                if !walk(dir, tools, &mut add)? {
                    return Err(too_large(&dir.display().to_string()));
                }
                names.push(None);
            }
            Source::Tar(archive) => match list(archive, tools, &mut add)? {
                Some(boot) => names.push(Some(boot)),
                None => return Err(too_large(&archive.display().to_string())),
            },
            // A filesystem image fills its `/` alone: its size and type
            // are checked against that partition (fsimage::prepare).
            Source::FsImage(_) => {
                super::fsimage::target_partition(plan, &image.name)?;
                names.push(None);
            }
        }
    }
    for slot in slots.values() {
        if slot.empty_only && slot.files > 0 {
            return Err(Error::Unsupported(format!(
                "{}: an xfs volume is made empty (mkfs.xfs -p drops sticky bits, extended attributes, file capabilities and hard links, and bouture never mounts), but the sources of image {} put {} file(s) there: leave the directory empty or use ext4",
                slot.what,
                slot.images.join(", "),
                slot.files
            )));
        }
        if slot.needed > slot.capacity {
            return Err(Error::Unsupported(format!(
                "{}: the sources of image {} put {} bytes in it, more than its {} bytes",
                slot.what,
                slot.images.join(", "),
                slot.needed,
                slot.capacity
            )));
        }
    }
    Ok(names)
}

/// Add the size of every regular file under `root` (hard links once;
/// symbolic links are not followed); `false` as soon as `add` says the
/// limit is passed.
fn walk(
    root: &Path,
    tools: &Tools,
    add: &mut impl FnMut(&str, u64) -> bool,
) -> Result<bool, Error> {
    let mut seen = HashSet::new();
    let mut pending: Vec<(PathBuf, String)> = vec![(root.to_path_buf(), String::new())];
    let mut visited = 0u64;
    while let Some((dir, relative)) = pending.pop() {
        visited += 1;
        if visited.is_multiple_of(1024) {
            tools.check_cancel()?;
        }
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(metadata) = entry.metadata() else {
                continue;
            };
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = format!("{relative}/{name}");
            if metadata.is_dir() {
                pending.push((entry.path(), path));
            } else if metadata.is_file()
                && (metadata.nlink() == 1 || seen.insert((metadata.dev(), metadata.ino())))
                && !add(&path, metadata.len())
            {
                return Ok(false);
            }
        }
    }
    Ok(true)
}

/// `tar -tv` of the archive, each entry's size added; `None` as soon as
/// `add` says the limit is passed (tar is stopped), else the names of the
/// regular files directly in `boot/`.
fn list(
    archive: &Path,
    tools: &Tools,
    add: &mut impl FnMut(&str, u64) -> bool,
) -> Result<Option<Vec<String>>, Error> {
    let mut command = tools.command("tar");
    command
        .args(["--numeric-owner", "-tvf"])
        .arg(archive)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let failed = |status: String, stderr: String| Error::Tool {
        command: format!("tar --numeric-owner -tvf {}", archive.display()),
        status,
        stderr,
    };
    let mut child = command
        .spawn()
        .map_err(|error| failed("not started".into(), error.to_string()))?;
    let stderr = child.stderr.take();
    let errors = std::thread::spawn(move || {
        let mut kept = Vec::new();
        if let Some(mut stderr) = stderr {
            let _ = stderr.by_ref().take(8192).read_to_end(&mut kept);
            let _ = std::io::copy(&mut stderr, &mut std::io::sink());
        }
        kept
    });
    let mut boot = Vec::new();
    let mut within = true;
    let mut bad_line = false;
    if let Some(stdout) = child.stdout.take() {
        let mut reader = BufReader::new(stdout);
        let mut line = Vec::new();
        let mut count = 0u64;
        loop {
            line.clear();
            let read = reader
                .by_ref()
                .take(LINE_LIMIT)
                .read_until(b'\n', &mut line)
                .unwrap_or(0);
            if read == 0 {
                break;
            }
            count += 1;
            if count.is_multiple_of(1024) && tools.check_cancel().is_err() {
                within = false;
                break;
            }
            let text = String::from_utf8_lossy(&line);
            let Some(entry) = parse_line(text.trim_end_matches('\n')) else {
                bad_line = true;
                break;
            };
            if entry.kind == '-' {
                if let Some(name) = entry.name.strip_prefix("boot/")
                    && !name.contains('/')
                    && boot.len() < BOOT_NAMES
                {
                    boot.push(name.to_owned());
                }
                if !add(&entry.name, entry.size) {
                    within = false;
                    break;
                }
            }
        }
    }
    if !within || bad_line {
        let _ = child.kill();
    }
    let status = child
        .wait()
        .map_err(|error| failed("not waited for".into(), error.to_string()))?;
    let stderr = errors.join().unwrap_or_default();
    tools.check_cancel()?;
    if bad_line {
        return Err(failed("an unexpected listing line".into(), String::new()));
    }
    if !within {
        return Ok(None);
    }
    if !status.success() {
        return Err(failed(
            status.to_string(),
            bouture_text::truncate(String::from_utf8_lossy(&stderr).trim(), 2000),
        ));
    }
    Ok(Some(boot))
}

/// One entry of GNU tar's verbose listing.
struct Entry {
    kind: char,
    size: u64,
    name: String,
}

/// `-rw-r--r-- 0/0   1234 2024-01-01 12:00 ./path` (a link's ` -> target`
/// and a hard link's ` link to target` dropped; a device's size is 0).
fn parse_line(line: &str) -> Option<Entry> {
    let mut rest = line;
    let mut fields = Vec::new();
    for _ in 0..5 {
        rest = rest.trim_start_matches(' ');
        let end = rest.find(' ')?;
        fields.push(rest.get(..end)?);
        rest = rest.get(end..)?;
    }
    let name = rest.strip_prefix(' ')?;
    let kind = fields.first()?.chars().next()?;
    let name = match kind {
        'l' => name.split(" -> ").next().unwrap_or(name),
        'h' => name.split(" link to ").next().unwrap_or(name),
        _ => name,
    };
    let name = name.trim_start_matches("./").trim_start_matches('/');
    Some(Entry {
        kind,
        size: fields.get(2)?.parse().unwrap_or(0),
        name: name.trim_end_matches('/').to_owned(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::parse_line;

    #[test]
    fn gnu_tar_listing_lines() {
        let file =
            parse_line("-rw-r--r-- 0/0         1234 2024-01-01 12:00 ./boot/vmlinuz-6.1").unwrap();
        assert_eq!(
            (file.kind, file.size, file.name.as_str()),
            ('-', 1234, "boot/vmlinuz-6.1")
        );
        let spaced = parse_line("-rw-r--r-- 0/0 5 2024-01-01 12:00 a b/c d").unwrap();
        assert_eq!(spaced.name, "a b/c d");
        let link = parse_line("lrwxrwxrwx 0/0 0 2024-01-01 12:00 ./boot -> /outside").unwrap();
        assert_eq!((link.kind, link.name.as_str()), ('l', "boot"));
        let device = parse_line("crw-r--r-- 0/0 1,3 2024-01-01 12:00 ./dev/null").unwrap();
        assert_eq!(device.size, 0);
        let dir = parse_line("drwxr-xr-x 0/0 0 2024-01-01 12:00 ./etc/").unwrap();
        assert_eq!(dir.name, "etc");
        assert!(parse_line("garbage").is_none());
    }
}
