//! `cargo xtask`: build-time tasks of the bouture workspace.
//!
//! `cargo xtask dist-assets DIR` writes the files of the Debian package that
//! are generated rather than built: the man pages and the completion scripts,
//! from [`bouture_cli::assets`] (so from the clap definitions). It runs on the
//! build host, whatever target the package's binary is built for.

// A command-line tool reports on stdout and stderr.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use bouture_cli::assets;
use clap::Parser;

/// Build-time tasks of the bouture workspace.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", bin_name = "cargo xtask")]
enum Task {
    /// Write the generated files of the Debian package into DIR:
    /// `DIR/man1/*.1` (one page per command) and `DIR/completions/`
    /// (`bouture.bash`, `_bouture`, `bouture.fish`).
    DistAssets {
        /// The directory to write into (created if missing; files replaced).
        dir: PathBuf,
    },
}

fn main() -> ExitCode {
    match Task::parse() {
        Task::DistAssets { dir } => match dist_assets(&dir) {
            Ok(written) => {
                for path in written {
                    println!("{}", path.display());
                }
                ExitCode::SUCCESS
            }
            Err(message) => {
                eprintln!("error: {message}");
                ExitCode::FAILURE
            }
        },
    }
}

/// Write every man page and completion script under `dir`; the paths written.
fn dist_assets(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    let pages =
        assets::man_pages().map_err(|error| format!("cannot render the man pages: {error}"))?;
    for page in pages {
        files.push((dir.join("man1").join(&page.file_name), page.roff));
    }
    for shell in assets::SHELLS {
        let name = clap_complete::Generator::file_name(&shell, assets::BIN_NAME);
        files.push((
            dir.join("completions").join(name),
            assets::completion_script(shell),
        ));
    }
    let mut written = Vec::new();
    for (path, contents) in files {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|error| format!("cannot create {}: {error}", parent.display()))?;
        }
        bouture_fs::write_atomic(&path, &contents, 0o644, None)
            .map_err(|error| format!("{}: {error}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly")]

    use super::dist_assets;

    #[test]
    fn writes_every_page_and_every_completion_script() {
        let dir = tempfile::tempdir().unwrap();
        let written = dist_assets(dir.path()).unwrap();
        let mut names: Vec<_> = written
            .iter()
            .map(|path| path.strip_prefix(dir.path()).unwrap().display().to_string())
            .collect();
        names.sort();
        let mut expected = vec![
            "completions/_bouture".to_string(),
            "completions/bouture.bash".to_string(),
            "completions/bouture.fish".to_string(),
            "man1/bouture.1".to_string(),
        ];
        for sub in bouture_cli::assets::subcommands() {
            expected.push(format!("man1/bouture-{}.1", sub.replace(' ', "-")));
        }
        expected.sort();
        assert_eq!(names, expected);
        for path in &written {
            let bytes = std::fs::read(path).unwrap();
            assert!(!bytes.is_empty(), "{}", path.display());
        }
        // Run again: files are replaced, not refused.
        assert_eq!(dist_assets(dir.path()).unwrap().len(), written.len());
    }
}
