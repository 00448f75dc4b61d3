//! The I/O floor of a merge, for `scripts/bench-merge`: one process that
//! reads every input and writes and fsyncs as many bytes as the merge's
//! output, and does nothing else.
//!
//! `io-floor OUTPUT BYTES INPUT...`
//!
//! Like `dd bs=4M conv=fsync` (what issue 21 called the floor): the inputs
//! are read one after the other into one reused 4 MiB buffer, and what is
//! read is written to OUTPUT (created, never replaced: it must not exist)
//! until BYTES are written (the inputs' bytes again from the start when the
//! output is longer than they are), then OUTPUT is fsynced. No parse, no
//! rename, no directory fsync: what any merge of these files must at least
//! do, measured with the same timer as the merge.

#![allow(
    clippy::print_stderr,
    reason = "a command-line tool: usage and errors go to stderr"
)]

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::process::ExitCode;

const BUFFER: usize = 4 << 20;

fn run(output: &str, bytes: u64, inputs: &[String]) -> std::io::Result<()> {
    let mut out = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(output)?;
    let mut buffer = vec![0u8; BUFFER];
    let mut written = 0u64;
    while written < bytes {
        let before = written;
        for input in inputs {
            let mut file = File::open(input)?;
            loop {
                let n = file.read(&mut buffer)?;
                if n == 0 {
                    break;
                }
                let left = usize::try_from(bytes - written).unwrap_or(usize::MAX);
                let chunk = buffer.get(..n.min(left)).unwrap_or_default();
                out.write_all(chunk)?;
                written += chunk.len() as u64;
                if written == bytes {
                    return out.sync_all();
                }
            }
        }
        if written == before {
            return Err(std::io::Error::other("the inputs are empty"));
        }
    }
    out.sync_all()
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(output), Some(Ok(bytes)), Some(inputs)) = (
        args.first(),
        args.get(1).map(|n| n.parse::<u64>()),
        args.get(2..).filter(|inputs| !inputs.is_empty()),
    ) else {
        eprintln!("usage: io-floor OUTPUT BYTES INPUT...");
        return ExitCode::from(2);
    };
    match run(output, bytes, inputs) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("io-floor: {error}");
            ExitCode::FAILURE
        }
    }
}
