//! The `bouture` binary: everything lives in the `bouture_cli` library.

fn main() -> std::process::ExitCode {
    let (code, leftovers) = bouture_cli::main_impl();
    // The process exits next: freeing the merge's parsed inputs would be
    // wasted work (tens of ms at 10k instances). Only here, never in the
    // library, whose `run` frees everything for in-process callers.
    std::mem::forget(leftovers);
    code
}
