//! The errors of building and switching.

use std::fmt;
use std::path::PathBuf;

use crate::grubenv::GrubEnvError;
use crate::model::ValidationErrors;

/// What a message names that its caller words: the library names its
/// options' fields ([`fmt::Display`]), a command line its flags
/// ([`Error::message`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Input {
    /// Where an image's content is given ([`crate::BuildOptions::sources`]).
    Sources,
    /// How an image's content is given (an [`crate::ImageSource`]).
    SourceForms,
    /// The disk images written ([`crate::BuildOptions::outputs`]).
    Outputs,
    /// How to rewrite the default image anyway ([`crate::DeployOptions::force`]).
    Force,
    /// How to build a raw disk image ([`crate::DiskFormat::Raw`]).
    RawFormat,
    /// The disks a deploy writes ([`crate::DeployOptions::disk`] and
    /// [`crate::DeployOptions::more_disks`]).
    Disks,
}

impl fmt::Display for Input {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Sources => "BuildOptions::sources",
            Self::SourceForms => "an ImageSource: a directory, a tar archive, a filesystem image (raw or qcow2) or an http(s) URL; or BuildOptions::pull for the image's image_pull_url",
            Self::Outputs => "BuildOptions::outputs",
            Self::Force => "set DeployOptions::force",
            Self::RawFormat => "DiskFormat::Raw",
            Self::Disks => "DeployOptions::disk and more_disks",
        })
    }
}

/// The library's wording of an [`Input`].
fn own_name(input: Input) -> String {
    input.to_string()
}

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
    /// An image source given twice.
    #[error("{}", self.message(&own_name))]
    SourceGivenTwice {
        /// The image.
        image: String,
    },
    /// An image without a source.
    #[error("{}", self.message(&own_name))]
    SourceMissing {
        /// The image.
        image: String,
    },
    /// Neither one output nor one per disk.
    #[error("{}", self.message(&own_name))]
    OutputCount {
        /// The document's disks.
        disks: usize,
        /// The outputs given.
        given: usize,
    },
    /// The image to deploy is the default and the deploy was not forced.
    #[error("{}", self.message(&own_name))]
    DefaultImage {
        /// The image.
        image: String,
        /// Which images are safe to update.
        safe: String,
    },
    /// A qcow2 disk image, which is switched only raw.
    #[error("{}", self.message(&own_name))]
    Qcow2 {
        /// The disk image.
        path: PathBuf,
    },
    /// An image source problem.
    #[error("image {image}: {message}")]
    Source {
        /// The image.
        image: String,
        /// What is wrong.
        message: String,
    },
    /// An image's `image_pull_url` is not an http(s) URL, and no content
    /// was given for it.
    #[error("{}", self.message(&own_name))]
    NotDownloadable {
        /// The image.
        image: String,
        /// Its `image_pull_url`, as shown (no credentials, query or fragment).
        url: String,
    },
    /// The disks given for a deploy are not the layout's: their number,
    /// their order, or one disk given twice. Nothing was written.
    #[error("{}", self.message(&own_name))]
    Disks {
        /// The disk at fault, when one is.
        path: Option<PathBuf>,
        /// What is wrong.
        problem: String,
        /// The document's disk ids, in its order (empty when not known yet).
        order: Vec<String>,
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

impl Error {
    /// This error's own message (without its sources), what the operator
    /// acts on named by `name` (its [`fmt::Display`] uses the library's
    /// wording; the command line passes its flags).
    pub fn message(&self, name: &dyn Fn(Input) -> String) -> String {
        match self {
            Self::SourceGivenTwice { image } => {
                format!("image {image}: given twice with {}", name(Input::Sources))
            }
            Self::SourceMissing { image } => format!(
                "image {image}: no content given ({})",
                name(Input::SourceForms)
            ),
            Self::OutputCount { disks, given } => format!(
                "the document has {disks} disks: give {} once (names are derived) or once per \
                 disk, not {given} times",
                name(Input::Outputs)
            ),
            Self::DefaultImage { image, safe } => format!(
                "image {image} is the default: a failed update would leave nothing to fall \
                 back to; {safe}, or {}",
                name(Input::Force)
            ),
            Self::Qcow2 { path } => format!(
                "{}: is a qcow2 image; switch the raw image ({}) or convert it with qemu-img",
                path.display(),
                name(Input::RawFormat)
            ),
            Self::NotDownloadable { image, url } => format!(
                "image {image}: its image_pull_url '{url}' is not an http or https URL, the only \
                 kind that is downloaded: give its content with {}",
                name(Input::Sources)
            ),
            Self::Disks {
                path,
                problem,
                order,
            } => {
                let path = path
                    .as_ref()
                    .map(|p| format!("{}: ", p.display()))
                    .unwrap_or_default();
                let order = if order.is_empty() {
                    String::new()
                } else {
                    format!(", in its order ({})", order.join(", "))
                };
                format!(
                    "{path}{problem}: give {} once per disk of the document{order}",
                    name(Input::Disks)
                )
            }
            other => other.to_string(),
        }
    }
}
