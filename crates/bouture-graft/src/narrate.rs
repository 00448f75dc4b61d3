//! The detail of a graft as log lines (`bouture graft -v`, `bouture failover -v`): the
//! requests sent to the master, the decisions taken and the time of each phase.

use std::time::{Duration, Instant};

use bouture_master_client::RequestTrace;

use crate::apply::GraftEvent;

/// Turns a graft's [`GraftEvent`]s and its client's [`RequestTrace`] into detail lines, in the
/// order things happened. The caller writes them to its log (at its debug level); the library
/// prints nothing.
///
/// ```
/// use std::sync::Arc;
/// use bouture_graft::{GraftEvent, GraftNarration};
/// use bouture_master_client::{MasterClient, RequestTrace};
///
/// let trace = RequestTrace::default();
/// let client = MasterClient::new("http://127.0.0.1:1")?.observed_by(Arc::new(trace.clone()));
/// let mut narration = GraftNarration::new(trace);
/// narration.lines(GraftEvent::Step { name: "the health check (getRunId)" });
/// let _ = client.run_id(); // nothing listens on port 1
/// let lines = narration.lines(GraftEvent::Finished);
/// assert!(lines[0].starts_with("request GET /getRunId: no answer after "), "{lines:?}");
/// assert!(lines[1].starts_with("phase the health check (getRunId): "), "{lines:?}");
/// # Ok::<(), bouture_master_client::Error>(())
/// ```
#[derive(Debug)]
pub struct GraftNarration {
    trace: RequestTrace,
    phase: Option<(String, Instant)>,
}

impl GraftNarration {
    /// A narration of the requests `trace` records (attach it to the graft's client with
    /// [`bouture_master_client::MasterClient::observed_by`]).
    pub fn new(trace: RequestTrace) -> Self {
        Self { trace, phase: None }
    }

    /// The lines up to `event`: the requests sent since the last call, then the end of the
    /// phase `event` closes (with its duration), then the decision it reports.
    pub fn lines(&mut self, event: GraftEvent<'_>) -> Vec<String> {
        let mut lines = self.requests();
        let next_phase = match event {
            GraftEvent::Step { name } => Some(Some(name.to_owned())),
            GraftEvent::Registered { partitions } => Some(Some(format!(
                "the requests of the partitions ({partitions})"
            ))),
            GraftEvent::ReadingBack => Some(Some("reading the master's state back".to_owned())),
            GraftEvent::Finished => Some(None),
            GraftEvent::Decision { what } => {
                lines.push(format!("decision: {what}"));
                None
            }
            // Partitions and the other events are reported for themselves
            // (`GraftEvent::message`), or are detail already.
            _ => None,
        };
        if let Some(next) = next_phase {
            lines.extend(self.end_phase());
            self.phase = next.map(|name| (name, Instant::now()));
        }
        lines
    }

    /// The requests sent since the last call, and the end of the phase under way (after a
    /// graft that stopped with an error, to log what it sent last).
    pub fn rest(&mut self) -> Vec<String> {
        let mut lines = self.requests();
        lines.extend(self.end_phase());
        lines
    }

    fn requests(&self) -> Vec<String> {
        self.trace
            .take()
            .iter()
            .map(|record| format!("request {record}"))
            .collect()
    }

    fn end_phase(&mut self) -> Option<String> {
        self.phase
            .take()
            .map(|(name, started)| format!("phase {name}: {}", millis(started.elapsed())))
    }
}

/// `12 ms`.
fn millis(duration: Duration) -> String {
    format!("{} ms", duration.as_millis())
}
