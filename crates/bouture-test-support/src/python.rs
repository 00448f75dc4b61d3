//! The Python interpreter that baseline tests compare bouture with (Python's own
//! configparser).

// Test support: failing loudly is how a test learns that its setup broke.
#![allow(clippy::panic)]

use std::process::Command;

/// The Python interpreter the baselines run: `$BOUTURE_PYTHON`, else `python3`.
///
/// # Panics
///
/// With instructions when there is none: these tests compare bouture with
/// Python's own configparser and must not pass without it.
pub fn python() -> Command {
    let program = std::env::var("BOUTURE_PYTHON").unwrap_or_else(|_| "python3".to_string());
    let probe = Command::new(&program).arg("--version").output();
    match probe {
        Ok(output) if output.status.success() => Command::new(program),
        _ => panic!(
            "these tests compare bouture with Python's configparser and need Python 3: \
             `{program}` was not found or failed. Install it (`source scripts/setup.d/peers.sh \
             baselines` as root: apt-get install python3) or point BOUTURE_PYTHON at an \
             interpreter."
        ),
    }
}
