//! The TCP/UDP port allocator of a Ganeti cluster (DRBD and console ports).
//!
//! It behaves like `WConfd`'s `allocatePort`: the head of
//! `cluster.tcpudp_port_pool` first; when the pool is empty,
//! `highest_used_port + 1`, which then becomes the highest used port. Unlike
//! Ganeti, the usable range is configurable (Ganeti's is fixed to
//! 11000-14999), and the allocator can say beforehand how many ports it can
//! hand out.

use std::collections::VecDeque;
use std::fmt;
use std::str::FromStr;

use serde::Serialize;

/// Ganeti's first DRBD/console port (`FIRST_DRBD_PORT`).
pub const GANETI_FIRST_PORT: u16 = 11_000;
/// Ganeti's last DRBD/console port (`LAST_DRBD_PORT`).
pub const GANETI_LAST_PORT: u16 = 14_999;

/// An inclusive range of ports, `FIRST-LAST`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PortRange {
    /// The first usable port.
    pub first: u16,
    /// The last usable port.
    pub last: u16,
}

impl PortRange {
    /// A range; `None` unless `1 <= first <= last`.
    pub fn new(first: u16, last: u16) -> Option<Self> {
        (first >= 1 && first <= last).then_some(Self { first, last })
    }
}

impl Default for PortRange {
    /// Ganeti's range, 11000-14999.
    fn default() -> Self {
        Self {
            first: GANETI_FIRST_PORT,
            last: GANETI_LAST_PORT,
        }
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.first, self.last)
    }
}

/// A port range that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid port range {text:?}: expected FIRST-LAST with 1 <= FIRST <= LAST <= 65535")]
#[non_exhaustive]
pub struct PortRangeError {
    /// The text given.
    pub text: String,
}

impl FromStr for PortRange {
    type Err = PortRangeError;

    fn from_str(text: &str) -> Result<Self, PortRangeError> {
        let invalid = || PortRangeError {
            text: text.to_owned(),
        };
        let (first, last) = text.trim().split_once('-').ok_or_else(invalid)?;
        let first: u16 = first.trim().parse().map_err(|_| invalid())?;
        let last: u16 = last.trim().parse().map_err(|_| invalid())?;
        Self::new(first, last).ok_or_else(invalid)
    }
}

/// Hands out ports like Ganeti's `allocatePort`, within a [`PortRange`].
#[derive(Debug, Clone)]
pub struct PortAllocator {
    pool: VecDeque<u64>,
    highest_used_port: u64,
    range: PortRange,
}

impl PortAllocator {
    /// An allocator over a cluster's free-port pool (in file order) and its
    /// `highest_used_port`.
    pub fn new(pool: Vec<u64>, highest_used_port: u64, range: PortRange) -> Self {
        Self {
            pool: pool.into(),
            highest_used_port,
            range,
        }
    }

    /// How many ports [`allocate`](Self::allocate) can still hand out.
    pub fn available(&self) -> usize {
        let next = self.next_fresh();
        let fresh = u64::from(self.range.last)
            .checked_sub(next)
            .map_or(0, |span| span + 1);
        self.pool
            .len()
            .saturating_add(usize::try_from(fresh).unwrap_or(usize::MAX))
    }

    /// The next port: the pool's head, else the next one above the highest
    /// used port (never below the range's first port). `None` when the pool
    /// is empty and the highest used port has reached the range's last port.
    pub fn allocate(&mut self) -> Option<u64> {
        if let Some(port) = self.pool.pop_front() {
            return Some(port);
        }
        let next = self.next_fresh();
        if next > u64::from(self.range.last) {
            return None;
        }
        self.highest_used_port = next;
        Some(next)
    }

    fn next_fresh(&self) -> u64 {
        (self.highest_used_port + 1).max(u64::from(self.range.first))
    }

    /// The highest port in use: what `cluster.highest_used_port` must become.
    pub fn highest_used_port(&self) -> u64 {
        self.highest_used_port
    }

    /// The ports left in the free pool, in order: what `cluster.tcpudp_port_pool` must become.
    pub fn pool(&self) -> Vec<u64> {
        self.pool.iter().copied().collect()
    }

    /// The range the allocator draws fresh ports from.
    pub fn range(&self) -> PortRange {
        self.range
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_first_then_above_highest() {
        let mut allocator = PortAllocator::new(vec![11005, 11002], 11010, PortRange::default());
        assert_eq!(allocator.available(), 2 + (14_999 - 11_010) as usize);
        assert_eq!(allocator.allocate(), Some(11005));
        assert_eq!(allocator.allocate(), Some(11002));
        assert_eq!(allocator.allocate(), Some(11011));
        assert_eq!(allocator.highest_used_port(), 11011);
        assert!(allocator.pool().is_empty());
    }

    #[test]
    fn new_cluster_starts_at_first_port() {
        let mut allocator = PortAllocator::new(vec![], 10_999, PortRange::default());
        assert_eq!(allocator.available(), 4000);
        assert_eq!(allocator.allocate(), Some(11_000));
    }

    #[test]
    fn custom_range_above_highest_starts_at_its_first_port() {
        let range = PortRange::new(20_000, 20_001).unwrap();
        let mut allocator = PortAllocator::new(vec![], 10_999, range);
        assert_eq!(allocator.available(), 2);
        assert_eq!(allocator.allocate(), Some(20_000));
        assert_eq!(allocator.allocate(), Some(20_001));
        assert_eq!(allocator.allocate(), None);
        assert_eq!(allocator.available(), 0);
        assert_eq!(allocator.highest_used_port(), 20_001);
    }

    #[test]
    fn exhausted_when_highest_is_past_the_range() {
        // The upstream fixture: highest_used_port 32105, five ports in the pool.
        let mut allocator = PortAllocator::new(
            vec![32104, 32105, 32101, 32102, 32103],
            32105,
            PortRange::default(),
        );
        assert_eq!(allocator.available(), 5);
        for expected in [32104, 32105, 32101, 32102, 32103] {
            assert_eq!(allocator.allocate(), Some(expected));
        }
        assert_eq!(allocator.allocate(), None);
        assert_eq!(allocator.highest_used_port(), 32105);
    }

    #[test]
    fn last_port_of_the_range_is_usable() {
        let mut allocator = PortAllocator::new(vec![], 14_998, PortRange::default());
        assert_eq!(allocator.available(), 1);
        assert_eq!(allocator.allocate(), Some(14_999));
        assert_eq!(allocator.allocate(), None);
    }

    #[test]
    fn parses_ranges() {
        assert_eq!(
            "11000-65535".parse::<PortRange>().unwrap(),
            PortRange::new(11_000, 65_535).unwrap()
        );
        for bad in ["", "11000", "5-4", "0-10", "1-70000", "a-b"] {
            assert!(bad.parse::<PortRange>().is_err(), "{bad}");
        }
        assert_eq!(PortRange::default().to_string(), "11000-14999");
    }
}
