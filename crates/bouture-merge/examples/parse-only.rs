//! Read and parse `config.data` files and do nothing else, so that the
//! parser's own cost can be counted (`valgrind --tool=callgrind`, `perf
//! stat`) apart from the rest of a merge (issue 21).
//!
//! `cargo run --release -p bouture-merge --example parse-only -- FILE...`

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a command-line tool: counts to stdout, errors to stderr"
)]

use std::process::ExitCode;

use bouture_merge::{ConfigFile, DEFAULT_MAX_INPUT_SIZE};

fn main() -> ExitCode {
    let mut status = ExitCode::SUCCESS;
    for path in std::env::args().skip(1) {
        match ConfigFile::read(&path, DEFAULT_MAX_INPUT_SIZE) {
            Ok(config) => println!(
                "{path}: {} nodes, {} instances, {} disks",
                config.nodes.len(),
                config.instances.len(),
                config.disks.len()
            ),
            Err(error) => {
                eprintln!("{path}: {error}");
                status = ExitCode::FAILURE;
            }
        }
    }
    status
}
