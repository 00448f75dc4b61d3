//! Write a generated, Ganeti-valid 3.0 `config.data` to stdout (for benchmarks).
//!
//! `cargo run --release --example gen-cluster -- INDEX NODES INSTANCES [DRBD_EVERY|DRBD% [CONSOLE_EVERY|CONSOLE%]]`
//!
//! INDEX (1-250) makes every identifier unique; every DRBD_EVERY-th instance
//! has a DRBD disk (default 2, 0 = none), every CONSOLE_EVERY-th a kvm
//! console port (default 3, 0 = none); `80%` instead of a number gives that
//! share of the instances, spread evenly. Ports start at 11000 in every
//! cluster.

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a command-line tool: the file goes to stdout, usage to stderr"
)]

use bouture_test_support::ganeti_config::generator;

use std::process::ExitCode;

/// `N` (every N-th instance) or `P%` (P percent of the instances).
fn share(text: Option<&String>, default: usize) -> Option<(usize, Option<usize>)> {
    match text {
        None => Some((default, None)),
        Some(text) => match text.strip_suffix('%') {
            Some(percent) => percent
                .parse()
                .ok()
                .filter(|p| *p <= 100)
                .map(|p| (0, Some(p))),
            None => text.parse().ok().map(|every| (every, None)),
        },
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let number = |i: usize| -> Option<usize> { args.get(i).and_then(|text| text.parse().ok()) };
    let (
        Some(index),
        Some(nodes),
        Some(instances),
        Some((drbd_every, drbd_percent)),
        Some((console_every, console_percent)),
    ) = (
        number(0),
        number(1),
        number(2),
        share(args.get(3), 2),
        share(args.get(4), 3),
    )
    else {
        eprintln!(
            "usage: gen-cluster INDEX NODES INSTANCES [DRBD_EVERY|DRBD% [CONSOLE_EVERY|CONSOLE%]]"
        );
        return ExitCode::from(2);
    };
    let Ok(index) = u32::try_from(index) else {
        return ExitCode::from(2);
    };
    let spec = generator::Spec {
        drbd_every,
        console_every,
        drbd_percent,
        console_percent,
        network: true,
        ..generator::Spec::new(index, nodes, instances)
    };
    print!("{}", generator::generate(&spec));
    ExitCode::SUCCESS
}
