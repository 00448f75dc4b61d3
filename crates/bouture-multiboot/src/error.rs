//! The errors of building and switching.

use std::path::PathBuf;

use crate::grubenv::GrubEnvError;
use crate::model::ValidationErrors;

/// A tool that is not installed, and the Debian package that provides it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct MissingTool {
    /// The program or file looked for.
    pub tool: String,
    /// The Debian package to install.
    pub package: String,
}

/// Why a build or a switch failed. Nothing is left half-written: outputs
/// appear only once complete, and a switch is one verified in-place write.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The document or its layout is invalid.
    #[error("{0}")]
    Invalid(#[from] ValidationErrors),
    /// External tools are missing.
    #[error("missing tools: {}", .0.iter().map(|m| format!("{} (apt-get install {})", m.tool, m.package)).collect::<Vec<_>>().join(", "))]
    MissingTools(Vec<MissingTool>),
    /// A file could not be read (the error names it).
    #[error(transparent)]
    Read(#[from] bouture_fs::ReadError),
    /// A file could not be written (the error names it).
    #[error(transparent)]
    Write(#[from] bouture_fs::WriteError),
    /// An I/O operation on a file failed.
    #[error("{}: {what}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What was being done.
        what: &'static str,
        /// Why.
        source: std::io::Error,
    },
    /// An external tool failed.
    #[error("`{command}` failed ({status}): {stderr}")]
    Tool {
        /// The command line (program and arguments).
        command: String,
        /// Its exit status.
        status: String,
        /// The start of its error output.
        stderr: String,
    },
    /// An `--image NAME=SOURCE` problem.
    #[error("image {image}: {message}")]
    Source {
        /// The image.
        image: String,
        /// What is wrong.
        message: String,
    },
    /// An image source could not be downloaded (nothing of it is kept).
    #[error("image {image}: {url}: {message}")]
    Pull {
        /// The image.
        image: String,
        /// The URL, without user, password, query or fragment.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// An image name that is not in the boot list.
    #[error("unknown image '{image}': the images are {}", .valid.join(", "))]
    UnknownImage {
        /// The name asked for.
        image: String,
        /// The valid names.
        valid: Vec<String>,
    },
    /// Something bouture deploy does not do.
    #[error("{0}")]
    Unsupported(String),
    /// A safety rule refuses the change (nothing was written).
    #[error("{0}")]
    Refused(String),
    /// A disk or multiboot directory that is not what bouture built.
    #[error("{}: {message}", path.display())]
    Target {
        /// The disk image or directory.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The GRUB environment block is not valid.
    #[error("{}: grubenv {source}", path.display())]
    GrubEnv {
        /// The disk image or grubenv file.
        path: PathBuf,
        /// Why.
        source: GrubEnvError,
    },
    /// Stopped by a signal (SIGTERM, SIGINT, SIGHUP): the running tool was
    /// killed, the work directory and the unfinished outputs removed.
    #[error("interrupted by a signal: stopped, nothing written (the work files were removed)")]
    Interrupted,
    /// What was read back after writing is not what was written.
    #[error("{}: {what} read back after writing differs from what was written", path.display())]
    ReadBack {
        /// The file.
        path: PathBuf,
        /// What was checked.
        what: String,
    },
}

pub(crate) fn io(
    path: impl Into<PathBuf>,
    what: &'static str,
) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.into();
    move |source| Error::Io { path, what, source }
}
