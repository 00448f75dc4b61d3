//! The `bouture` binary: everything lives in the `bouture_cli` library.

fn main() -> std::process::ExitCode {
    bouture_cli::main_impl()
}
