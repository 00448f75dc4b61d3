//! The pins of `scripts/peers`, the one list of the test peers.
//!
//! `scripts/setup.d/peers.sh` installs from that list; the harness reads the same file (built
//! into this crate) to say which versions the venvs must hold and to refuse a venv made with
//! other pins. There is no second copy of a version to keep in sync.

/// The text of `scripts/peers`.
pub const LIST: &str = include_str!("../../../scripts/peers");

/// The venv of the pinned slapos.core (`BOUTURE_SLAPOS_BIN`).
pub const SLAPOS_VENV: &str = "slapos-venv";
/// The venv of the oldest slapos.core bouture supports (`BOUTURE_SLAPOS_OLDEST_BIN`).
pub const SLAPOS_VENV_OLDEST: &str = "slapos-venv-oldest";

/// One peer of the list: its columns, trimmed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer {
    /// `deb`, `venv`, `check`, `crate` or `unpack`.
    pub kind: &'static str,
    /// The package, venv or crate.
    pub name: &'static str,
    /// The version column (for a venv: the Python constraint, then the pip pins).
    pub version: &'static str,
    /// The `NAME=VALUE` exports, space-separated.
    pub exports: &'static str,
    /// The tags, space-separated.
    pub tags: &'static str,
    /// What needs it.
    pub needed_by: &'static str,
}

/// Every peer of the list, in order (comments and blank lines skipped; a line with fewer
/// columns has empty ones).
pub fn all() -> impl Iterator<Item = Peer> {
    LIST.lines()
        .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
        .map(|line| {
            let mut columns = line.splitn(6, '|').map(str::trim);
            let mut next = || columns.next().unwrap_or("");
            Peer {
                kind: next(),
                name: next(),
                version: next(),
                exports: next(),
                tags: next(),
                needed_by: next(),
            }
        })
}

/// The pip pins of the venv `name` (its version column without the Python constraint), in
/// the order of the list, which is the content of its ready marker, one a line. Empty when the
/// list has no such venv.
pub fn venv_pins(name: &str) -> Vec<&'static str> {
    all()
        .filter(|peer| peer.kind == "venv" && peer.name == name)
        .flat_map(|peer| peer.version.split_whitespace())
        .filter(|item| !item.starts_with("python"))
        .collect()
}

/// The pin of `package` in the venv `venv` (e.g. `slapos.core==1.26.1`), if the list has one.
pub fn pin(venv: &str, package: &str) -> Option<&'static str> {
    venv_pins(venv).into_iter().find(|pin| {
        pin.split(['=', '<', '>', '!', '~'])
            .next()
            .is_some_and(|name| name == package)
    })
}

/// The pinned `slapos.core` of the slapproxy tests, as pip reads it (`slapos.core==1.26.1`).
pub fn slapos_core() -> &'static str {
    pin(SLAPOS_VENV, "slapos.core").unwrap_or("slapos.core (no pin in scripts/peers)")
}

/// The oldest `slapos.core` bouture is tested against (docs/master-client.md, "Supported
/// slapos.core versions"), as pip reads it (`slapos.core==1.4.28`).
pub fn oldest_slapos_core() -> &'static str {
    pin(SLAPOS_VENV_OLDEST, "slapos.core").unwrap_or("slapos.core (no pin in scripts/peers)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_has_a_known_kind_and_says_what_needs_it() {
        let peers: Vec<Peer> = all().collect();
        assert!(peers.len() > 20, "{peers:#?}");
        for peer in peers {
            assert!(
                ["deb", "venv", "check", "crate", "unpack"].contains(&peer.kind),
                "{peer:?}"
            );
            assert!(!peer.name.is_empty(), "{peer:?}");
            assert!(!peer.tags.is_empty(), "{peer:?}");
            assert!(!peer.needed_by.is_empty(), "{peer:?}");
        }
    }

    // The versions themselves live in scripts/peers only: this checks the parsing, not them.
    #[test]
    fn slapos_pins_come_from_the_list() {
        for venv in [SLAPOS_VENV, SLAPOS_VENV_OLDEST] {
            let pins = venv_pins(venv);
            assert!(
                pins.iter().all(|pin| !pin.starts_with("python")),
                "{pins:?}"
            );
            assert!(
                pins.iter()
                    .any(|pin| pin.starts_with("slapos.libnetworkcache==")),
                "{pins:?}"
            );
        }
        assert!(
            slapos_core().starts_with("slapos.core=="),
            "{}",
            slapos_core()
        );
        assert!(oldest_slapos_core().starts_with("slapos.core=="));
        assert_ne!(slapos_core(), oldest_slapos_core());
        assert_eq!(pin(SLAPOS_VENV, "slapos.core"), Some(slapos_core()));
        assert_eq!(pin(SLAPOS_VENV, "nothing"), None);
        assert!(venv_pins("no-such-venv").is_empty());
    }
}
