//! The failover state machine, as a pure function.
//!
//! `bouture failover` runs where `slapos node instance` runs today (cron or a
//! timer). Each run first processes the node with its original master; the
//! exit code of that inner run is the only signal (see [`InnerOutcome`]), and
//! [`decide`] turns it, with what the previous runs left ([`FailoverState`]),
//! into an [`Action`] and the reason for it:
//!
//! | previous state | inner exit | action |
//! |---|---|---|
//! | following the original master | 0 or 2 | [`Action::StayOnOriginal`] |
//! | switched to the new master | 0 or 2 | [`Action::SwitchBack`] |
//! | following the original master | 3, fewer than N offline runs in a row | [`Action::WaitForMoreOfflineRuns`] |
//! | following the original master | 3, the N-th offline run in a row | [`Action::SwitchOver`] |
//! | switched to the new master | 3 | [`Action::StayOnNewMaster`] |
//! | any | anything else | [`Action::Wait`] (change nothing) |
//!
//! ```
//! use std::num::NonZeroU32;
//! use bouture_failover::decision::{decide, Action, FailoverState, InnerOutcome};
//!
//! let state = FailoverState { switched: false, offline_runs: 0 };
//! let decision = decide(state, InnerOutcome::from_exit_code(Some(3)), NonZeroU32::MIN);
//! assert_eq!(decision.action, Action::SwitchOver { offline_runs: 1 });
//! ```

use std::fmt;
use std::num::NonZeroU32;

/// `slapos node instance` succeeded.
pub const SLAPGRID_SUCCESS: i32 = 0;
/// `slapos node instance` failed.
pub const SLAPGRID_FAIL: i32 = 1;
/// `slapos node instance` processed the partitions but some promises failed.
pub const SLAPGRID_PROMISE_FAIL: i32 = 2;
/// `slapos node instance` could not use its master and restarted the
/// partitions from their local state.
pub const SLAPGRID_OFFLINE_SUCCESS: i32 = 3;

/// How the inner `slapos node instance` run with the original master ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum InnerOutcome {
    /// Exit 0 or 2: the master answered.
    Online {
        /// Exit 2: processed, but promises failed.
        promises_failed: bool,
    },
    /// Exit 3 (`SLAPGRID_OFFLINE_SUCCESS`): the master could not be used.
    Offline,
    /// Any other exit, or killed by a signal (`None`): no conclusion.
    Ambiguous {
        /// The exit code, if the process exited.
        code: Option<i32>,
    },
}

impl InnerOutcome {
    /// Classify an exit code (`None` when the process was killed by a signal).
    pub fn from_exit_code(code: Option<i32>) -> Self {
        match code {
            Some(SLAPGRID_SUCCESS) => Self::Online {
                promises_failed: false,
            },
            Some(SLAPGRID_PROMISE_FAIL) => Self::Online {
                promises_failed: true,
            },
            Some(SLAPGRID_OFFLINE_SUCCESS) => Self::Offline,
            code => Self::Ambiguous { code },
        }
    }
}

impl fmt::Display for InnerOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Online {
                promises_failed: false,
            } => write!(f, "exit 0 (success)"),
            Self::Online {
                promises_failed: true,
            } => write!(f, "exit 2 (processed, but promises failed)"),
            Self::Offline => write!(
                f,
                "exit 3 (SLAPGRID_OFFLINE_SUCCESS: the master could not be used)"
            ),
            Self::Ambiguous {
                code: Some(SLAPGRID_FAIL),
            } => write!(f, "exit 1 (failure)"),
            Self::Ambiguous { code: Some(code) } => write!(f, "exit {code} (unexpected)"),
            Self::Ambiguous { code: None } => write!(f, "killed by a signal"),
        }
    }
}

/// What the previous runs left.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FailoverState {
    /// The switchfile exists: the node follows the new master.
    pub switched: bool,
    /// Consecutive offline runs recorded so far without switching.
    pub offline_runs: u32,
}

/// What this run does after the inner run with the original master.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Action {
    /// The original master works and the node follows it: nothing to do.
    StayOnOriginal,
    /// The original master works again: remove the switchfile (changes
    /// made on the new master are not carried back).
    SwitchBack,
    /// The original master is offline, but not for enough runs in a row yet:
    /// record the count and do not switch (nor process from the new master).
    WaitForMoreOfflineRuns {
        /// Offline runs in a row, this one included.
        offline_runs: u32,
        /// How many are required to switch.
        required: u32,
    },
    /// Switch now: configure, then graft, and only when both succeeded
    /// create the switchfile; then process the node from the new master.
    SwitchOver {
        /// Offline runs in a row, this one included.
        offline_runs: u32,
    },
    /// Already switched and still offline: process the node from the new
    /// master (no new graft).
    StayOnNewMaster,
    /// The inner run ended in an unexpected way: change nothing.
    Wait,
}

/// An [`Action`] and why it was chosen, for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Decision {
    /// What to do.
    pub action: Action,
    /// Why, in one sentence naming the exit code and the transition.
    pub reason: String,
}

/// Decide what to do from the previous state and the inner run's outcome.
///
/// `required_offline_runs` is how many offline runs in a row are needed to
/// switch (1: switch at the first one, as the reference tool does).
pub fn decide(
    state: FailoverState,
    outcome: InnerOutcome,
    required_offline_runs: NonZeroU32,
) -> Decision {
    let required = required_offline_runs.get();
    let (action, reason) = match (outcome, state.switched) {
        (InnerOutcome::Online { .. }, false) => (
            Action::StayOnOriginal,
            format!("the original master is reachable ({outcome}); the node keeps following it"),
        ),
        (InnerOutcome::Online { .. }, true) => (
            Action::SwitchBack,
            format!(
                "the original master is reachable again ({outcome}); switching back to it: \
                 the switchfile is removed (changes made on the new master are not carried back)"
            ),
        ),
        (InnerOutcome::Offline, true) => (
            Action::StayOnNewMaster,
            format!(
                "the original master is still offline ({outcome}); the node already follows \
                 the new master: processing it from there, without grafting again"
            ),
        ),
        (InnerOutcome::Offline, false) => {
            let offline_runs = state.offline_runs.saturating_add(1);
            if offline_runs >= required {
                (
                    Action::SwitchOver { offline_runs },
                    format!(
                        "the original master is offline ({outcome}), {offline_runs} run(s) in \
                         a row ({required} required): switching to the new master"
                    ),
                )
            } else {
                (
                    Action::WaitForMoreOfflineRuns {
                        offline_runs,
                        required,
                    },
                    format!(
                        "the original master is offline ({outcome}), {offline_runs} run(s) in \
                         a row of the {required} required to switch: not switching yet"
                    ),
                )
            }
        }
        (InnerOutcome::Ambiguous { .. }, switched) => (
            Action::Wait,
            format!(
                "ambiguous: `slapos node instance` with the original master ended with \
                 {outcome}, neither online (0, 2) nor offline (3); changing nothing \
                 (the node still follows the {} master) until it stabilises",
                if switched { "new" } else { "original" }
            ),
        ),
    };
    Decision { action, reason }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(value: u32) -> NonZeroU32 {
        NonZeroU32::new(value).unwrap()
    }

    #[test]
    fn exit_codes_are_classified_like_the_reference() {
        assert_eq!(
            InnerOutcome::from_exit_code(Some(0)),
            InnerOutcome::Online {
                promises_failed: false
            }
        );
        assert_eq!(
            InnerOutcome::from_exit_code(Some(2)),
            InnerOutcome::Online {
                promises_failed: true
            }
        );
        assert_eq!(InnerOutcome::from_exit_code(Some(3)), InnerOutcome::Offline);
        for code in [
            Some(1),
            Some(4),
            Some(5),
            Some(10),
            Some(-1),
            Some(255),
            None,
        ] {
            assert_eq!(
                InnerOutcome::from_exit_code(code),
                InnerOutcome::Ambiguous { code }
            );
        }
    }

    /// Every state, every exit code class, several thresholds.
    #[test]
    fn every_transition() {
        for required in [1, 2, 3, 10] {
            for switched in [false, true] {
                for offline_runs in [0, 1, 2, 9, u32::MAX] {
                    let state = FailoverState {
                        switched,
                        offline_runs,
                    };
                    for code in [Some(0), Some(1), Some(2), Some(3), Some(10), None] {
                        let outcome = InnerOutcome::from_exit_code(code);
                        let decision = decide(state, outcome, n(required));
                        let expected = match (code, switched) {
                            (Some(0 | 2), false) => Action::StayOnOriginal,
                            (Some(0 | 2), true) => Action::SwitchBack,
                            (Some(3), true) => Action::StayOnNewMaster,
                            (Some(3), false) => {
                                let runs = offline_runs.saturating_add(1);
                                if runs >= required {
                                    Action::SwitchOver { offline_runs: runs }
                                } else {
                                    Action::WaitForMoreOfflineRuns {
                                        offline_runs: runs,
                                        required,
                                    }
                                }
                            }
                            _ => Action::Wait,
                        };
                        assert_eq!(decision.action, expected, "{state:?} {code:?} {required}");
                        assert!(!decision.reason.is_empty());
                    }
                }
            }
        }
    }

    #[test]
    fn reasons_name_the_exit_code_and_the_transition() {
        let state = FailoverState::default();
        let decision = decide(state, InnerOutcome::from_exit_code(Some(3)), n(3));
        assert_eq!(
            decision.reason,
            "the original master is offline (exit 3 (SLAPGRID_OFFLINE_SUCCESS: the master could \
             not be used)), 1 run(s) in a row of the 3 required to switch: not switching yet"
        );
        let decision = decide(state, InnerOutcome::from_exit_code(Some(7)), n(1));
        assert!(
            decision.reason.contains("exit 7 (unexpected)"),
            "{}",
            decision.reason
        );
        assert!(decision.reason.contains("changing nothing"));
    }

    #[test]
    fn a_flapping_master_never_switches_below_the_threshold() {
        let mut state = FailoverState::default();
        for code in [3, 0, 3, 0, 3, 3, 0] {
            let decision = decide(state, InnerOutcome::from_exit_code(Some(code)), n(3));
            assert!(
                !matches!(decision.action, Action::SwitchOver { .. }),
                "{decision:?}"
            );
            state.offline_runs = match decision.action {
                Action::WaitForMoreOfflineRuns { offline_runs, .. } => offline_runs,
                _ => 0,
            };
        }
    }
}
