//! Write a generated, Ganeti-valid 3.0 `config.data` to stdout (for benchmarks).
//!
//! `cargo run --release --example gen-cluster -- INDEX NODES INSTANCES [DRBD_EVERY [CONSOLE_EVERY]]`
//!
//! INDEX (1-250) makes every identifier unique; every DRBD_EVERY-th instance
//! has a DRBD disk (default 2, 0 = none), every CONSOLE_EVERY-th a kvm
//! console port (default 3, 0 = none). Ports start at 11000 in every cluster.

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a command-line tool: the file goes to stdout, usage to stderr"
)]

#[path = "../tests/common/generator.rs"]
mod generator;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let number = |i: usize, default: Option<usize>| -> Option<usize> {
        match args.get(i) {
            Some(text) => text.parse().ok(),
            None => default,
        }
    };
    let (Some(index), Some(nodes), Some(instances), Some(drbd_every), Some(console_every)) = (
        number(0, None),
        number(1, None),
        number(2, None),
        number(3, Some(2)),
        number(4, Some(3)),
    ) else {
        eprintln!("usage: gen-cluster INDEX NODES INSTANCES [DRBD_EVERY [CONSOLE_EVERY]]");
        return ExitCode::from(2);
    };
    let Ok(index) = u32::try_from(index) else {
        return ExitCode::from(2);
    };
    let spec = generator::Spec {
        drbd_every,
        console_every,
        network: true,
        ..generator::Spec::new(index, nodes, instances)
    };
    print!("{}", generator::generate(&spec));
    ExitCode::SUCCESS
}
