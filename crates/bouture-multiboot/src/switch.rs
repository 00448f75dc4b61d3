//! `bouture boot`: list the images of a built disk (or a mounted multiboot
//! partition) and switch the default or the next boot, by rewriting GRUB's
//! 1,024-byte environment block in place under a lock, then reading it back.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use bouture_fs::{Access, FileLock, LockError, Wait};
use serde::Serialize;

use crate::bootcfg::{BootElement, BootInfo};
use crate::error::{Error, io};
use crate::grubenv::{GRUBENV_SIZE, GrubEnv};
use crate::plan::MULTIBOOT_NAME;
use crate::tools::{Tools, run};

/// Where the multiboot files are, inside the multiboot filesystem.
pub const GRUB_DIR: &str = "/boot/grub";
/// The boot info bouture keeps next to grub.cfg.
pub const BOOT_INFO_NAME: &str = "boot-info.json";
const BOOT_INFO_LIMIT: u64 = 1024 * 1024;

/// What `bouture boot` works on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BootTarget {
    /// A raw disk image built by `bouture deploy build` (nothing is mounted).
    Disk(PathBuf),
    /// The directory where a node's multiboot partition is mounted.
    Dir(PathBuf),
}

impl BootTarget {
    /// The disk image or directory.
    pub fn path(&self) -> &Path {
        match self {
            Self::Disk(path) | Self::Dir(path) => path,
        }
    }
}

/// Where the environment block was found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct GrubEnvLocation {
    /// The file written (the disk image, or the grubenv file).
    pub file: PathBuf,
    /// Byte offset of the block in that file.
    pub offset: u64,
    /// The multiboot partition's number on the disk (disk targets).
    pub partition: Option<u32>,
}

/// The images and which boots by default or next.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct BootStatus {
    /// The bootable images (Bareon's boot info, `current_element` = the
    /// live default from grubenv when it names an image).
    pub boot_info: BootInfo,
    /// The default image (grubenv `saved_entry`), by name.
    pub default_image: Option<String>,
    /// The image booted once at the next boot (grubenv `next_entry`).
    pub next_image: Option<String>,
    /// The environment block's variables.
    pub grubenv: GrubEnv,
    /// Where the block is.
    pub location: GrubEnvLocation,
    /// Inconsistencies found (e.g. `saved_entry` naming no image).
    pub warnings: Vec<String>,
}

/// What a switch did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
#[non_exhaustive]
pub enum SwitchOutcome {
    /// The block was rewritten (or would be, with `dry_run`).
    Changed {
        /// The image now chosen.
        image: String,
        /// The variable written (`saved_entry` or `next_entry`).
        variable: String,
        /// Its value before.
        before: String,
        /// Its value after.
        after: String,
        /// Nothing was written (`--dry-run`).
        dry_run: bool,
    },
    /// Nothing to do.
    Unchanged {
        /// The image asked for.
        image: String,
        /// Why nothing was done.
        reason: String,
    },
}

/// How [`BootTarget::switch`] and [`BootTarget::confirm`] run.
#[derive(Debug, Clone, Default)]
pub struct SwitchOptions {
    /// Check everything and say what would change; write nothing (the
    /// target is locked shared, as for reading).
    pub dry_run: bool,
}

/// Which switch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Switch {
    /// Make the image the default (`saved_entry`), permanently.
    Default,
    /// Boot the image once at the next boot (`next_entry`), then the default again.
    Next,
}

/// A target opened and locked, its grubenv and boot info read.
pub(crate) struct Opened {
    pub(crate) lock: FileLock,
    /// Byte offset of the multiboot filesystem in a disk image (0 for a directory).
    pub(crate) fs_offset: u64,
    pub(crate) location: GrubEnvLocation,
    pub(crate) info: BootInfo,
    pub(crate) env: GrubEnv,
    /// Disk targets: the partition table and the multiboot partition's offset.
    pub(crate) disk: Option<(SfdiskTable, u64)>,
}

impl BootTarget {
    /// The images and which boots by default and next (a shared lock is held
    /// while reading).
    pub fn status(&self) -> Result<BootStatus, Error> {
        let opened = self.open(false)?;
        Ok(status_of(opened))
    }

    /// Make `image` (its name, `image_name` or `image_uuid`) the default or
    /// the next boot. Switching to what is already chosen is a no-op that
    /// says so; an unknown image is refused with the list of valid ones.
    pub fn switch(
        &self,
        image: &str,
        switch: Switch,
        options: &SwitchOptions,
    ) -> Result<SwitchOutcome, Error> {
        let dry_run = options.dry_run;
        let opened = self.open(!dry_run)?;
        let element = find_element(&opened.info, image)?.clone();
        apply(self, opened, element, switch, dry_run)
    }

    /// Mark the running image good (`bouture boot confirm`): make the image
    /// the kernel command line `cmdline` booted the default. A no-op that
    /// says so when it already is; refused when the command line names none
    /// of the disk's images (run it on the booted system).
    pub fn confirm(&self, cmdline: &str, options: &SwitchOptions) -> Result<SwitchOutcome, Error> {
        let dry_run = options.dry_run;
        let opened = self.open(!dry_run)?;
        let running = crate::running::running_image(&opened.info, cmdline)?;
        let Some(name) = running.image else {
            return Err(Error::Unsupported(format!(
                "cannot confirm: {}; confirm on the system that was booted from this disk",
                running.evidence
            )));
        };
        let element = find_element(&opened.info, &name)?.clone();
        apply(self, opened, element, Switch::Default, dry_run)
    }

    /// Replace the boot info next to grub.cfg (atomically in a directory;
    /// with debugfs in a disk image), then read it back.
    fn write_boot_info(&self, info: &BootInfo, offset: u64) -> Result<(), Error> {
        let mut text = serde_json::to_vec_pretty(info).unwrap_or_default();
        text.push(b'\n');
        match self {
            Self::Dir(dir) => {
                let path = dir
                    .join(GRUB_DIR.trim_start_matches('/'))
                    .join(BOOT_INFO_NAME);
                bouture_fs::write_atomic(&path, &text, 0o644, None)?;
                Ok(())
            }
            Self::Disk(disk) => {
                let tools = Tools::require(&[("sfdisk", "fdisk"), ("debugfs", "e2fsprogs")])?;
                let local = tempfile::NamedTempFile::new()
                    .map_err(io(disk, "cannot stage the boot info"))?;
                std::fs::write(local.path(), &text).map_err(io(local.path(), "cannot write"))?;
                let local_text = debugfs_word(local.path(), "temporary")?;
                let script = format!(
                    "cd {GRUB_DIR}\nrm {BOOT_INFO_NAME}\nwrite {local_text} {BOOT_INFO_NAME}\n"
                );
                let mut command = tools.command("debugfs");
                command
                    .args(["-w", "-f", "-"])
                    .arg(device_spec(disk, offset)?);
                tools.run(command, Some(script.as_bytes()))?;
                let back = debugfs(
                    &tools,
                    disk,
                    offset,
                    &format!("cat {GRUB_DIR}/{BOOT_INFO_NAME}"),
                )?;
                if back.as_bytes() == text.as_slice() {
                    Ok(())
                } else {
                    Err(Error::ReadBack {
                        path: disk.clone(),
                        what: BOOT_INFO_NAME.into(),
                    })
                }
            }
        }
    }

    fn open(&self, write: bool) -> Result<Opened, Error> {
        match self {
            Self::Disk(path) => open_disk(path, write),
            Self::Dir(path) => open_dir(path, write),
        }
    }
}

/// Write the switch into the opened block (unless `dry_run`).
fn apply(
    target: &BootTarget,
    mut opened: Opened,
    element: BootElement,
    switch: Switch,
    dry_run: bool,
) -> Result<SwitchOutcome, Error> {
    let id = element.grub_entry_id.clone();
    let saved = opened.env.get("saved_entry").unwrap_or_default().to_owned();
    let next = opened.env.get("next_entry").unwrap_or_default().to_owned();
    let (variable, value, unchanged) = match switch {
        Switch::Default if saved == id => (
            "saved_entry",
            id.clone(),
            Some(format!("{} is already the default", element.os_id)),
        ),
        Switch::Default => ("saved_entry", id.clone(), None),
        Switch::Next if next == id => (
            "next_entry",
            id.clone(),
            Some(format!("{} is already the next boot", element.os_id)),
        ),
        Switch::Next if saved == id && next.is_empty() => (
            "next_entry",
            String::new(),
            Some(format!(
                "{} is the default: it boots next anyway",
                element.os_id
            )),
        ),
        // Asking for the default while another one-shot is pending cancels it.
        Switch::Next if saved == id => ("next_entry", String::new(), None),
        Switch::Next => ("next_entry", id.clone(), None),
    };
    if let Some(reason) = unchanged {
        return Ok(SwitchOutcome::Unchanged {
            image: element.os_id,
            reason,
        });
    }
    let before = opened.env.get(variable).unwrap_or_default().to_owned();
    opened.env.set(variable, &value);
    let block = opened.env.encode().map_err(|source| Error::GrubEnv {
        path: opened.location.file.clone(),
        source,
    })?;
    if !dry_run {
        write_verified(opened.lock.file(), &opened.location, &block)?;
        if variable == "saved_entry" && opened.info.current_element != element.grub_id {
            // The boot info that Bareon-style tools read follows the default.
            let mut info = opened.info.clone();
            info.current_element = element.grub_id;
            target.write_boot_info(&info, opened.fs_offset)?;
        }
    }
    Ok(SwitchOutcome::Changed {
        image: element.os_id,
        variable: variable.to_owned(),
        before,
        after: value,
        dry_run,
    })
}

pub(crate) fn find_element<'a>(info: &'a BootInfo, image: &str) -> Result<&'a BootElement, Error> {
    info.elements
        .iter()
        .find(|e| e.os_id == image)
        .or_else(|| {
            info.elements
                .iter()
                .find(|e| !image.is_empty() && (e.image_name == image || e.image_uuid == image))
        })
        .ok_or_else(|| Error::UnknownImage {
            image: bouture_text::truncate(image, 80),
            valid: info.elements.iter().map(|e| e.os_id.clone()).collect(),
        })
}

fn status_of(opened: Opened) -> BootStatus {
    let mut warnings = Vec::new();
    let mut info = opened.info;
    let by_id = |id: &str| {
        info.elements
            .iter()
            .find(|e| e.grub_entry_id == id)
            .cloned()
    };
    let saved = opened.env.get("saved_entry").unwrap_or_default();
    let next = opened.env.get("next_entry").unwrap_or_default();
    let default = by_id(saved);
    if default.is_none() {
        warnings.push(if saved.is_empty() {
            "grubenv has no saved_entry: GRUB boots grub.cfg's `set default=N`".to_owned()
        } else {
            format!(
                "grubenv's saved_entry '{}' names no image: GRUB boots grub.cfg's `set default=N`",
                bouture_text::truncate(saved, 80)
            )
        });
    }
    let next_image = by_id(next);
    if !next.is_empty() && next_image.is_none() {
        warnings.push(format!(
            "grubenv's next_entry '{}' names no image",
            bouture_text::truncate(next, 80)
        ));
    }
    if let Some(default) = &default {
        info.current_element = default.grub_id;
    }
    BootStatus {
        boot_info: info,
        default_image: default.map(|e| e.os_id),
        next_image: next_image.map(|e| e.os_id),
        grubenv: opened.env,
        location: opened.location,
        warnings,
    }
}

/// Open without following a last-component link or blocking on a FIFO,
/// refuse anything but a regular file, and lock it: exclusive to write,
/// shared to read, waiting for another `bouture boot` to finish its switch.
fn open_regular(path: &Path, write: bool) -> Result<FileLock, Error> {
    lock(path, write, false)
}

/// [`open_regular`], also accepting a block device when `disk`.
pub(crate) fn lock(path: &Path, write: bool, disk: bool) -> Result<FileLock, Error> {
    let access = if write {
        Access::Exclusive
    } else {
        Access::Shared
    };
    let locked = if disk {
        FileLock::disk(path, access, Wait::Forever)
    } else {
        FileLock::existing(path, access, Wait::Forever)
    };
    locked.map_err(|error| match error {
        LockError::NotRegular { kind, .. } => Error::Target {
            path: path.to_owned(),
            message: if disk {
                format!("is {kind}, not a disk image or a block device")
            } else {
                format!("is {kind}, not a regular file")
            },
        },
        LockError::Io { source, .. } => io(path, "cannot open or lock")(source),
        other => io(path, "cannot lock")(std::io::Error::other(other.to_string())),
    })
}

fn read_block(file: &File, path: &Path, offset: u64) -> Result<[u8; GRUBENV_SIZE], Error> {
    let mut block = [0u8; GRUBENV_SIZE];
    file.read_exact_at(&mut block, offset)
        .map_err(io(path, "cannot read the grubenv block"))?;
    Ok(block)
}

fn decode(path: &Path, block: &[u8]) -> Result<GrubEnv, Error> {
    GrubEnv::decode(block).map_err(|source| Error::GrubEnv {
        path: path.to_owned(),
        source,
    })
}

fn parse_info(path: &Path, text: &[u8]) -> Result<BootInfo, Error> {
    let value = crate::parse_strict(text).map_err(|error| Error::Target {
        path: path.to_owned(),
        message: format!("{BOOT_INFO_NAME}: {error}"),
    })?;
    serde_json::from_value(value).map_err(|error| Error::Target {
        path: path.to_owned(),
        message: format!("{BOOT_INFO_NAME}: {error}"),
    })
}

pub(crate) fn write_verified(
    file: &File,
    location: &GrubEnvLocation,
    block: &[u8; GRUBENV_SIZE],
) -> Result<(), Error> {
    let path = &location.file;
    bouture_fs::write_at_verified(file, path, location.offset, block).map_err(|error| match error {
        bouture_fs::WriteError::Replaced { .. } => Error::ReadBack {
            path: path.clone(),
            what: "the grubenv block".into(),
        },
        other => Error::Write(other),
    })
}

fn open_dir(dir: &Path, write: bool) -> Result<Opened, Error> {
    // `boot` and `boot/grub` must be real directories: a link there would
    // send the switch to another directory's grubenv.
    let mut grub = dir.to_path_buf();
    for part in GRUB_DIR.split('/').filter(|p| !p.is_empty()) {
        grub.push(part);
        match std::fs::symlink_metadata(&grub) {
            Ok(m) if m.is_dir() => {}
            Ok(m) => {
                return Err(Error::Target {
                    path: grub,
                    message: format!(
                        "is {}, not a directory of the multiboot partition: it is never followed",
                        bouture_fs::describe(m.file_type())
                    ),
                });
            }
            // Missing: opening the grubenv below says so.
            Err(_) => break,
        }
    }
    let grub = dir.join(GRUB_DIR.trim_start_matches('/'));
    let env_path = grub.join("grubenv");
    let lock = open_regular(&env_path, write)?;
    let file = lock.file();
    let len = file.metadata().map_err(io(&env_path, "cannot stat"))?.len();
    if len != GRUBENV_SIZE as u64 {
        return Err(Error::Target {
            path: env_path,
            message: format!("is {len} bytes, not a 1024-byte GRUB environment block"),
        });
    }
    let env = decode(&env_path, &read_block(file, &env_path, 0)?)?;
    let info_path = grub.join(BOOT_INFO_NAME);
    let text = bouture_fs::read_bounded(&info_path, BOOT_INFO_LIMIT, bouture_fs::Links::Refuse)?;
    let info = parse_info(&info_path, &text)?;
    Ok(Opened {
        lock,
        fs_offset: 0,
        location: GrubEnvLocation {
            file: env_path,
            offset: 0,
            partition: None,
        },
        info,
        env,
        disk: None,
    })
}

/// A partition as `sfdisk --json` lists it.
#[derive(Debug, Clone, serde::Deserialize)]
pub(crate) struct SfdiskPartition {
    pub(crate) start: u64,
    pub(crate) size: u64,
    #[serde(rename = "type")]
    pub(crate) type_guid: String,
    #[serde(default)]
    pub(crate) uuid: String,
    #[serde(default)]
    pub(crate) name: String,
}

/// `sfdisk --json`'s table.
#[derive(Debug, Clone, serde::Deserialize)]
pub(crate) struct SfdiskTable {
    pub(crate) label: String,
    #[serde(default)]
    pub(crate) id: String,
    #[serde(default = "default_sector")]
    pub(crate) sectorsize: u64,
    #[serde(default)]
    pub(crate) partitions: Vec<SfdiskPartition>,
}

const fn default_sector() -> u64 {
    512
}

#[derive(serde::Deserialize)]
struct SfdiskJson {
    partitiontable: SfdiskTable,
}

pub(crate) fn read_table(tools: &Tools, disk: &Path) -> Result<SfdiskTable, Error> {
    let mut command = tools.command("sfdisk");
    command.arg("--json").arg(disk);
    let out = run(command, None)?;
    serde_json::from_slice::<SfdiskJson>(&out)
        .map(|json| json.partitiontable)
        .map_err(|error| Error::Target {
            path: disk.to_owned(),
            message: format!("sfdisk --json: {error}"),
        })
}

/// `debugfs -R REQUEST` on the filesystem at `offset` of `disk`.
pub(crate) fn debugfs(
    tools: &Tools,
    disk: &Path,
    offset: u64,
    request: &str,
) -> Result<String, Error> {
    let spec = device_spec(disk, offset)?;
    let mut command = tools.command("debugfs");
    command.arg("-R").arg(request).arg(spec);
    Ok(String::from_utf8_lossy(&tools.run(command, None)?).into_owned())
}

/// Several read-only debugfs requests on the filesystem at `offset` of
/// `disk`, in one run: each request's output, in order. debugfs echoes each
/// request (`debugfs: REQUEST`) before its output, which is split there.
/// A file's text (`cat`) could hold such an echo line itself and move the
/// split: an answer in which any request's echo line is not found exactly
/// once is refused, never guessed at.
pub(crate) fn debugfs_many(
    tools: &Tools,
    disk: &Path,
    offset: u64,
    requests: &[&str],
) -> Result<Vec<String>, Error> {
    let script = requests.join("\n") + "\n";
    let mut command = tools.command("debugfs");
    command.args(["-f", "-"]).arg(device_spec(disk, offset)?);
    let out = String::from_utf8_lossy(&tools.run(command, Some(script.as_bytes()))?).into_owned();
    let mut sections = Vec::with_capacity(requests.len());
    let mut rest = out.as_str();
    for (n, request) in requests.iter().enumerate() {
        let echo = format!("debugfs: {request}\n");
        match out.matches(&echo).count() {
            1 => {}
            0 => {
                return Err(Error::Target {
                    path: disk.to_owned(),
                    message: format!("debugfs did not answer '{request}'"),
                });
            }
            _ => {
                return Err(Error::Target {
                    path: disk.to_owned(),
                    message: format!(
                        "debugfs's answer is ambiguous: a file on the filesystem holds the line \
                         'debugfs: {request}' that marks where an answer starts"
                    ),
                });
            }
        }
        let at = rest.find(&echo).ok_or_else(|| Error::Target {
            path: disk.to_owned(),
            message: format!("debugfs did not answer '{request}'"),
        })?;
        if n > 0 {
            sections.push(rest.get(..at).unwrap_or_default().to_owned());
        }
        rest = rest.get(at + echo.len()..).unwrap_or_default();
    }
    if !requests.is_empty() {
        sections.push(rest.to_owned());
    }
    Ok(sections)
}

/// `path` as one word of a debugfs script (no space, quote or newline), or
/// a refusal naming it (`what`: "work" or "temporary").
pub(crate) fn debugfs_word<'p>(path: &'p Path, what: &str) -> Result<&'p str, Error> {
    path.to_str()
        .filter(|t| !t.contains([' ', '"', '\n']))
        .ok_or_else(|| Error::Target {
            path: path.to_owned(),
            message: format!("{what} path unusable by debugfs"),
        })
}

/// `FILE?offset=N`, the e2fsprogs I/O option syntax.
pub(crate) fn device_spec(disk: &Path, offset: u64) -> Result<String, Error> {
    let text = disk
        .to_str()
        .filter(|t| !t.contains('?'))
        .ok_or_else(|| Error::Target {
            path: disk.to_owned(),
            message:
                "e2fsprogs needs a UTF-8 path without '?' to reach a filesystem inside a disk image"
                    .into(),
        })?;
    Ok(if offset == 0 {
        text.to_owned()
    } else {
        format!("{text}?offset={offset}")
    })
}

fn field<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    text.lines()
        .find_map(|line| line.trim_start().strip_prefix(name))
        .map(str::trim)
}

/// Lock a disk (exclusive to write, shared to read) and read it.
pub(crate) fn open_disk(path: &Path, write: bool) -> Result<Opened, Error> {
    read_disk(lock(path, write, true)?, path)
}

/// Read a disk whose lock is held: its table, multiboot partition,
/// grubenv and boot info.
pub(crate) fn read_disk(lock: FileLock, path: &Path) -> Result<Opened, Error> {
    let tools = Tools::require(&[("sfdisk", "fdisk"), ("debugfs", "e2fsprogs")])?;
    let file = lock.file();
    let mut magic = [0u8; 4];
    if file.read_exact_at(&mut magic, 0).is_ok() && &magic == b"QFI\xfb" {
        return Err(Error::Qcow2 {
            path: path.to_owned(),
        });
    }
    let table = read_table(&tools, path)?;
    let target = |message: String| Error::Target {
        path: path.to_owned(),
        message,
    };
    let found: Vec<(usize, &SfdiskPartition)> = table
        .partitions
        .iter()
        .enumerate()
        .filter(|(_, p)| p.name == MULTIBOOT_NAME)
        .collect();
    let [(index, partition)] = found.as_slice() else {
        return Err(target(format!(
            "has {} GPT partitions named '{MULTIBOOT_NAME}', not exactly one",
            found.len()
        )));
    };
    let offset = partition.start * table.sectorsize;
    let env_file = format!("{GRUB_DIR}/grubenv");
    let info_file = format!("{GRUB_DIR}/{BOOT_INFO_NAME}");
    // One debugfs run: the superblock, the grubenv's inode and block, the
    // boot info (free text, last).
    let answers = debugfs_many(
        &tools,
        path,
        offset,
        &[
            "stats -h",
            &format!("stat {env_file}"),
            &format!("blocks {env_file}"),
            &format!("cat {info_file}"),
        ],
    )?;
    let [stats, stat, blocks, info_text] = answers.as_slice() else {
        return Err(target("debugfs's answer is incomplete".into()));
    };
    let partition_end = offset + partition.size * table.sectorsize;
    let env_offset = env_block(path, stats, stat, blocks, offset, partition_end)?;
    let env = decode(path, &read_block(file, path, env_offset)?)?;
    if info_text.len() as u64 > BOOT_INFO_LIMIT {
        return Err(target(format!(
            "{BOOT_INFO_NAME} is larger than {BOOT_INFO_LIMIT} bytes"
        )));
    }
    let info = parse_info(path, info_text.as_bytes())?;
    let uuid = field(stats, "Filesystem UUID:").unwrap_or_default();
    if !uuid.eq_ignore_ascii_case(&info.multiboot_partition) {
        return Err(target(format!(
            "the multiboot filesystem is {uuid}, but {BOOT_INFO_NAME} names {}",
            info.multiboot_partition
        )));
    }
    let number = u32::try_from(index + 1).unwrap_or(u32::MAX);
    Ok(Opened {
        lock,
        fs_offset: offset,
        location: GrubEnvLocation {
            file: path.to_owned(),
            offset: env_offset,
            partition: Some(number),
        },
        info,
        env,
        disk: Some((table, offset)),
    })
}

/// Where the grubenv's 1,024 bytes are on the disk, from debugfs's
/// `stats -h`, `stat` and `blocks` answers: one block of at least 1,024
/// bytes, inside the multiboot partition.
fn env_block(
    path: &Path,
    stats: &str,
    stat: &str,
    blocks: &str,
    offset: u64,
    partition_end: u64,
) -> Result<u64, Error> {
    let target = |message: String| Error::Target {
        path: path.to_owned(),
        message,
    };
    let env_file = format!("{GRUB_DIR}/grubenv");
    let block_size: u64 = field(stats, "Block size:")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| target("the multiboot partition holds no ext2/3/4 filesystem".into()))?;
    let size: Option<u64> = stat
        .lines()
        .find_map(|l| l.split("Size: ").nth(1))
        .and_then(|v| v.split_whitespace().next()?.parse().ok());
    if size != Some(GRUBENV_SIZE as u64) {
        return Err(target(format!(
            "{env_file} on the multiboot partition is missing or not 1024 bytes"
        )));
    }
    let blocks: Vec<u64> = blocks
        .split_whitespace()
        .filter_map(|b| b.parse().ok())
        .collect();
    let [block] = blocks.as_slice() else {
        return Err(target(format!(
            "{env_file} spans {} blocks, not one: it cannot be rewritten in place",
            blocks.len()
        )));
    };
    if block_size < GRUBENV_SIZE as u64 || *block == 0 {
        return Err(target(format!(
            "{env_file}: block size {block_size} cannot hold the environment block in one block"
        )));
    }
    let env_offset = offset + block * block_size;
    if env_offset + GRUBENV_SIZE as u64 > partition_end {
        return Err(target(format!(
            "{env_file}: block {block} lies outside the multiboot partition"
        )));
    }
    Ok(env_offset)
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::panic,
        reason = "tests: failing loudly is their job"
    )]

    use super::debugfs_many;
    use crate::tools::Tools;

    /// A filesystem image made by the real mke2fs from a tree holding
    /// `os_release` as its /etc/os-release.
    fn image(dir: &std::path::Path, os_release: &str) -> std::path::PathBuf {
        let tree = dir.join("tree");
        std::fs::create_dir_all(tree.join("etc")).unwrap();
        std::fs::write(tree.join("etc/os-release"), os_release).unwrap();
        std::fs::write(tree.join("etc/hostname"), "node\n").unwrap();
        let image = dir.join("fs.img");
        let status = std::process::Command::new("mke2fs")
            .args(["-q", "-F", "-t", "ext4", "-d"])
            .arg(&tree)
            .arg(&image)
            .arg("8M")
            .status()
            .unwrap_or_else(|e| panic!("mke2fs (apt-get install e2fsprogs): {e}"));
        assert!(status.success());
        image
    }

    #[test]
    fn answers_are_split_per_request_and_a_planted_echo_line_is_refused() {
        let tools = Tools::require(&[("debugfs", "e2fsprogs")]).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let requests = ["cat /etc/os-release", "cat /etc/hostname"];

        let plain = image(dir.path(), "PRETTY_NAME=\"Plain\"\n");
        let answers = debugfs_many(&tools, &plain, 0, &requests).unwrap();
        assert_eq!(answers, ["PRETTY_NAME=\"Plain\"\n", "node\n"]);

        // A file's text holding the next request's echo line would move
        // the split (the hostname read as os-release's end): refused.
        std::fs::remove_dir_all(dir.path().join("tree")).unwrap();
        let planted = image(
            dir.path(),
            "PRETTY_NAME=\"Planted\"\ndebugfs: cat /etc/hostname\nPRETTY_NAME=\"Other\"\n",
        );
        let error = debugfs_many(&tools, &planted, 0, &requests).unwrap_err();
        assert!(error.to_string().contains("ambiguous"), "{error}");
    }
}
