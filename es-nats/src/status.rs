//! What a relay is doing and how far behind it is: [`RelayStatus`].

use chrono::{DateTime, Utc};
use es_core::projection::RunnerState;
use es_core::{Checkpoint, Position};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// A snapshot of a relay's progress, from [`RelayHandle::status`](crate::RelayHandle::status).
#[derive(Clone, Debug, PartialEq)]
pub struct RelayStatus {
    /// The relay's lease name.
    pub relay: String,
    /// What the relay is doing (`Standby` while another relay holds the lease).
    pub state: RunnerState,
    /// The source checkpoint of the last event in the JetStream stream.
    pub checkpoint: Checkpoint,
    /// The JetStream stream's last sequence, as the relay knows it.
    pub stream_sequence: u64,
    /// The head of the store's log when the relay last looked.
    pub head: Position,
    /// `head - checkpoint.position`: how many positions of the log are still to be published.
    pub lag: u64,
    /// Whether the last read of the log came back empty.
    pub caught_up: bool,
    /// The error the relay is retrying (NATS or the store unreachable, ...).
    pub last_error: Option<String>,
    /// Since when it has been failing.
    pub failing_since: Option<DateTime<Utc>>,
    /// Failed attempts in a row.
    pub failed_attempts: u32,
    /// Events published (and acknowledged) since the relay started.
    pub published: u64,
    /// Events published per second over the last window (about a second).
    pub events_per_sec: f64,
}

#[derive(Clone, Debug)]
pub(crate) struct StatusCell {
    inner: Arc<Mutex<Tracked>>,
}

#[derive(Debug)]
struct Tracked {
    status: RelayStatus,
    window_start: Instant,
    window_events: u64,
}

const RATE_WINDOW: Duration = Duration::from_secs(1);

impl StatusCell {
    pub(crate) fn new(relay: &str) -> Self {
        Self {
            inner: Arc::new(Mutex::new(Tracked {
                status: RelayStatus {
                    relay: relay.to_owned(),
                    state: RunnerState::Starting,
                    checkpoint: Checkpoint::START,
                    stream_sequence: 0,
                    head: Position(0),
                    lag: 0,
                    caught_up: false,
                    last_error: None,
                    failing_since: None,
                    failed_attempts: 0,
                    published: 0,
                    events_per_sec: 0.0,
                },
                window_start: Instant::now(),
                window_events: 0,
            })),
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut Tracked) -> R) -> R {
        f(&mut self.inner.lock().unwrap_or_else(PoisonError::into_inner))
    }

    pub(crate) fn get(&self) -> RelayStatus {
        self.with(|t| t.status.clone())
    }

    pub(crate) fn set_state(&self, state: RunnerState) {
        self.with(|t| {
            t.status.state = state;
            if state != RunnerState::Live {
                t.status.caught_up = false;
            }
        });
    }

    pub(crate) fn set_caught_up(&self) {
        self.with(|t| {
            t.status.state = RunnerState::Live;
            t.status.caught_up = true;
        });
    }

    pub(crate) fn set_error(&self, error: &dyn std::fmt::Display) {
        self.with(|t| {
            t.status.caught_up = false;
            t.status.last_error = Some(error.to_string());
            t.status.failing_since.get_or_insert_with(Utc::now);
            t.status.failed_attempts = t.status.failed_attempts.saturating_add(1);
        });
    }

    pub(crate) fn clear_error(&self) {
        self.with(|t| {
            t.status.last_error = None;
            t.status.failing_since = None;
            t.status.failed_attempts = 0;
        });
    }

    pub(crate) fn set_position(&self, checkpoint: Checkpoint, sequence: u64) {
        self.with(|t| {
            t.status.checkpoint = checkpoint;
            t.status.stream_sequence = sequence;
            t.status.lag = t.status.head.0.saturating_sub(checkpoint.position.0);
        });
    }

    pub(crate) fn set_head(&self, head: Position) {
        self.with(|t| {
            t.status.head = head;
            t.status.lag = head.0.saturating_sub(t.status.checkpoint.position.0);
        });
    }

    /// Records a published batch; true when a rate window closed.
    pub(crate) fn record_batch(&self, events: u64, checkpoint: Checkpoint, sequence: u64) -> bool {
        self.with(|t| {
            t.status.published += events;
            t.status.checkpoint = checkpoint;
            t.status.stream_sequence = sequence;
            t.status.caught_up = false;
            t.status.state = RunnerState::CatchingUp;
            t.status.lag = t.status.head.0.saturating_sub(checkpoint.position.0);
            t.window_events += events;
            t.close_window()
        })
    }

    pub(crate) fn tick(&self) {
        self.with(|t| {
            t.close_window();
        });
    }
}

impl Tracked {
    fn close_window(&mut self) -> bool {
        let elapsed = self.window_start.elapsed();
        if elapsed < RATE_WINDOW {
            return false;
        }
        self.status.events_per_sec = self.window_events as f64 / elapsed.as_secs_f64();
        self.window_start = Instant::now();
        self.window_events = 0;
        true
    }
}
