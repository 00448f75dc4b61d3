//! The errors of `bouture-core`: each names the file (and the field) involved
//! and says what to do.

use std::io;
use std::path::PathBuf;

use serde::ser::SerializeStruct;

use bouture_ini::Error as IniError;

/// A problem with one file of a partition (`bouture.json`, `.slapos-resource`)
/// or of the node (`computer_json`).
#[derive(Debug, thiserror::Error)]
#[error("{}: {kind}", path.display())]
#[non_exhaustive]
pub struct FileError {
    /// The file.
    pub path: PathBuf,
    /// What is wrong with it.
    #[source]
    pub kind: FileErrorKind,
}

impl FileError {
    /// A file error for `path`.
    pub fn new(path: impl Into<PathBuf>, kind: FileErrorKind) -> Self {
        Self {
            path: path.into(),
            kind,
        }
    }
}

impl Clone for FileError {
    fn clone(&self) -> Self {
        Self::new(&self.path, self.kind.clone())
    }
}

/// Serialised as `{"path": ..., "problem": <code>, "reason": <message>}`.
impl serde::Serialize for FileError {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut state = serializer.serialize_struct("FileError", 3)?;
        state.serialize_field("path", &self.path)?;
        state.serialize_field("problem", self.kind.code())?;
        state.serialize_field("reason", &self.kind.to_string())?;
        state.end()
    }
}

/// What is wrong with a file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FileErrorKind {
    /// The file is a symbolic link, which bouture does not follow there.
    #[error(
        "is a symbolic link; bouture does not follow links in partitions, replace it with a regular file"
    )]
    Symlink,
    /// The file is a directory, FIFO, socket or device.
    #[error("is {file_type}, not a regular file")]
    NotRegular {
        /// What it is instead.
        file_type: &'static str,
    },
    /// A partition entry is not a directory (a symbolic link, a file, ...).
    #[error("is {file_type}, not a partition directory")]
    NotADirectory {
        /// What it is instead.
        file_type: &'static str,
    },
    /// The file is larger than bouture reads.
    #[error("is larger than {limit} bytes, the most bouture reads from such a file")]
    TooLarge {
        /// The limit, in bytes.
        limit: u64,
    },
    /// The file could not be read.
    #[error("cannot be read ({source}); check that it exists and its permissions")]
    Io {
        /// The operating system's error.
        source: io::Error,
    },
    /// The file is not UTF-8 text.
    #[error("is not valid UTF-8 (invalid byte at offset {offset}); write it as UTF-8")]
    NotUtf8 {
        /// Offset of the first invalid byte.
        offset: usize,
    },
    /// The file is not valid JSON.
    #[error("is not valid JSON: {message} at line {line}, column {column}")]
    InvalidJson {
        /// The JSON parser's description.
        message: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
    },
    /// A field is missing or has the wrong type or value.
    #[error("field `{field}` {problem}")]
    Field {
        /// The field's path, e.g. `shared-list[1].slave-title`.
        field: String,
        /// What is wrong, e.g. "is missing".
        problem: String,
    },
}

/// `io::Error` is not `Clone`: a clone keeps the OS error code, or else the
/// kind and message.
impl Clone for FileErrorKind {
    fn clone(&self) -> Self {
        match self {
            Self::Symlink => Self::Symlink,
            Self::NotRegular { file_type } => Self::NotRegular { file_type },
            Self::NotADirectory { file_type } => Self::NotADirectory { file_type },
            Self::TooLarge { limit } => Self::TooLarge { limit: *limit },
            Self::Io { source } => Self::Io {
                source: match source.raw_os_error() {
                    Some(code) => io::Error::from_raw_os_error(code),
                    None => io::Error::new(source.kind(), source.to_string()),
                },
            },
            Self::NotUtf8 { offset } => Self::NotUtf8 { offset: *offset },
            Self::InvalidJson {
                message,
                line,
                column,
            } => Self::InvalidJson {
                message: message.clone(),
                line: *line,
                column: *column,
            },
            Self::Field { field, problem } => Self::field(field, problem),
        }
    }
}

/// The file `bouture_fs` could not read, with bouture-core's kind of
/// problem (its code and advice for the inventory report).
impl From<bouture_fs::ReadError> for FileError {
    fn from(error: bouture_fs::ReadError) -> Self {
        use bouture_fs::ReadError;
        match error {
            ReadError::Symlink { path } => Self::new(path, FileErrorKind::Symlink),
            ReadError::NotRegular { path, file_type } => {
                Self::new(path, FileErrorKind::NotRegular { file_type })
            }
            ReadError::TooLarge { path, limit } => {
                Self::new(path, FileErrorKind::TooLarge { limit })
            }
            ReadError::Io { path, source } => Self::new(path, FileErrorKind::Io { source }),
            // `ReadError` is non-exhaustive: a future kind keeps its message.
            other => Self::new(
                other.path().to_owned(),
                FileErrorKind::Io {
                    source: io::Error::other(other.to_string()),
                },
            ),
        }
    }
}

impl FileErrorKind {
    /// A stable, machine-readable code for the kind of problem.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Symlink => "symlink",
            Self::NotRegular { .. } => "not-regular-file",
            Self::NotADirectory { .. } => "not-a-directory",
            Self::TooLarge { .. } => "too-large",
            Self::Io { .. } => "unreadable",
            Self::NotUtf8 { .. } => "not-utf8",
            Self::InvalidJson { .. } => "invalid-json",
            Self::Field { .. } => "invalid-field",
        }
    }

    /// A [`FileErrorKind::Field`] error.
    pub fn field(field: impl Into<String>, problem: impl Into<String>) -> Self {
        Self::Field {
            field: field.into(),
            problem: problem.into(),
        }
    }
}

/// The node configuration (`slapos.cfg`) cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NodeConfigError {
    /// The file cannot be read (missing, unreadable, not a regular file, too
    /// large, not UTF-8); the [`FileError`] names it.
    #[error("node configuration {0}")]
    Read(#[source] FileError),
    /// The file is not valid INI as Python's configparser reads it.
    #[error("node configuration {}: {source}", path.display())]
    Syntax {
        /// The configuration file.
        path: PathBuf,
        /// The parse error, with its line.
        #[source]
        source: IniError,
    },
    /// A required section is missing.
    #[error("node configuration {}: there is no [{section}] section; add it", path.display())]
    MissingSection {
        /// The configuration file.
        path: PathBuf,
        /// The section's name.
        section: &'static str,
    },
    /// A required option is missing or empty.
    #[error(
        "node configuration {}: option `{option}` is missing or empty in [slapos]; set it (e.g. `{option} = {example}`)",
        path.display()
    )]
    MissingOption {
        /// The configuration file.
        path: PathBuf,
        /// The option's name.
        option: &'static str,
        /// An example value.
        example: &'static str,
    },
    /// An option has a value bouture cannot use.
    #[error("node configuration {}: option `{option}` = `{value}` {problem}", path.display())]
    InvalidOption {
        /// The configuration file.
        path: PathBuf,
        /// The option's name.
        option: &'static str,
        /// Its value.
        value: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The computer description named by `[slapformat] computer_json` is invalid.
    #[error("computer description (`computer_json` of the node configuration): {0}")]
    ComputerJson(#[source] FileError),
}

/// The node's partitions cannot be listed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScanError {
    /// The instance root cannot be read.
    #[error(
        "cannot list the partitions in instance_root {} ({source}); check `instance_root` in the node configuration",
        path.display()
    )]
    InstanceRoot {
        /// The instance root directory.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
}
