//! What a runner is doing and how far behind it is: [`ProjectionStatus`].

use crate::id::{Checkpoint, Position};
use chrono::{DateTime, Utc};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// The phase a projection runner is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunnerState {
    /// Not started yet.
    Starting,
    /// Waiting for the projection's lease (another runner holds it).
    Standby,
    /// Reading and handling stored events in batches.
    CatchingUp,
    /// Caught up, waiting for new events.
    Live,
    /// Stopped (shutdown, or an error).
    Stopped,
}

/// A snapshot of a runner's progress, from [`ProjectionHandle::status`](crate::ProjectionHandle::status).
#[derive(Clone, Debug, PartialEq)]
pub struct ProjectionStatus {
    /// The projection's name.
    pub projection: String,
    /// What the runner is doing.
    pub state: RunnerState,
    /// The last committed checkpoint.
    pub checkpoint: Checkpoint,
    /// The head of the log when the runner last looked.
    pub head: Position,
    /// `head - checkpoint.position`: how many positions of the log the projection still has to
    /// read. It is 0 once the projection has read everything up to the head, handled or filtered
    /// out (a caught-up runner moves its checkpoint past events of types it does not handle).
    /// In [`RunnerState::Standby`] it is the lag of the stored checkpoint, which the runner that
    /// holds the lease moves.
    pub lag: u64,
    /// Whether the runner has read everything up to `head` (it is [`RunnerState::Live`] and its
    /// last read came back empty). False in standby, while catching up and while failing.
    pub caught_up: bool,
    /// The store error the runner is retrying (the connection was lost, ...), if its last
    /// attempt failed; `None` once an attempt succeeds.
    pub last_error: Option<String>,
    /// Since when the runner has been failing with `last_error`.
    pub failing_since: Option<DateTime<Utc>>,
    /// How many attempts in a row have failed (0 once one succeeds).
    pub failed_attempts: u32,
    /// Events handled since the runner started.
    pub processed: u64,
    /// Events handled per second, over the last measuring window (about a second of work).
    pub events_per_sec: f64,
}

/// The status shared between a runner and its handles.
#[derive(Clone, Debug)]
pub(crate) struct StatusCell {
    inner: Arc<Mutex<Tracked>>,
}

#[derive(Debug)]
struct Tracked {
    status: ProjectionStatus,
    window_start: Instant,
    window_events: u64,
}

/// How long events are counted before events/s is updated and logged.
const RATE_WINDOW: Duration = Duration::from_secs(1);

impl StatusCell {
    pub(crate) fn new(projection: &str) -> Self {
        Self {
            inner: Arc::new(Mutex::new(Tracked {
                status: ProjectionStatus {
                    projection: projection.to_owned(),
                    state: RunnerState::Starting,
                    checkpoint: Checkpoint::START,
                    head: Position(0),
                    lag: 0,
                    caught_up: false,
                    last_error: None,
                    failing_since: None,
                    failed_attempts: 0,
                    processed: 0,
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

    pub(crate) fn get(&self) -> ProjectionStatus {
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

    /// The runner read everything up to the head (an empty read).
    pub(crate) fn set_caught_up(&self) {
        self.with(|t| {
            t.status.state = RunnerState::Live;
            t.status.caught_up = true;
            t.status.last_error = None;
            t.status.failing_since = None;
            t.status.failed_attempts = 0;
        });
    }

    /// An attempt failed with `error` (kept until an attempt succeeds).
    pub(crate) fn set_error(&self, error: &dyn std::fmt::Display) {
        self.with(|t| {
            t.status.caught_up = false;
            t.status.last_error = Some(error.to_string());
            t.status.failing_since.get_or_insert_with(Utc::now);
            t.status.failed_attempts = t.status.failed_attempts.saturating_add(1);
        });
    }

    /// An attempt succeeded.
    pub(crate) fn clear_error(&self) {
        self.with(|t| {
            t.status.last_error = None;
            t.status.failing_since = None;
            t.status.failed_attempts = 0;
        });
    }

    pub(crate) fn set_checkpoint(&self, checkpoint: Checkpoint) {
        self.with(|t| {
            t.status.checkpoint = checkpoint;
            t.status.lag = t.status.head.0.saturating_sub(checkpoint.position.0);
        });
    }

    pub(crate) fn set_head(&self, head: Position) {
        self.with(|t| {
            t.status.head = head;
            t.status.lag = head.0.saturating_sub(t.status.checkpoint.position.0);
        });
    }

    /// Records a committed batch; returns the new events/s figure when a window closed.
    pub(crate) fn record_batch(&self, events: u64, checkpoint: Checkpoint) -> Option<f64> {
        self.with(|t| {
            t.status.processed += events;
            t.status.checkpoint = checkpoint;
            t.status.lag = t.status.head.0.saturating_sub(checkpoint.position.0);
            t.window_events += events;
            t.close_window()
        })
    }

    /// Closes the measuring window if it is due (called when idle, so the rate falls to 0).
    pub(crate) fn tick(&self) -> Option<f64> {
        self.with(Tracked::close_window)
    }
}

impl Tracked {
    fn close_window(&mut self) -> Option<f64> {
        let elapsed = self.window_start.elapsed();
        if elapsed < RATE_WINDOW {
            return None;
        }
        let rate = self.window_events as f64 / elapsed.as_secs_f64();
        self.status.events_per_sec = rate;
        self.window_start = Instant::now();
        self.window_events = 0;
        Some(rate)
    }
}

/// How far a projection is behind the head of the log (`head - checkpoint.position`), read from
/// the stores: works from any process, with or without a running runner.
///
/// ```
/// use es_core::{CheckpointStore, Checkpoint, EventStore, ExpectedVersion, MemoryStore, NewEvent, Position, StreamId};
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let store = MemoryStore::new();
/// let events = (0..3).map(|_| NewEvent::raw("x.happened", 1, serde_json::json!({}))).collect();
/// store.append(&StreamId::new("x-1").unwrap(), ExpectedVersion::Any, events).await.unwrap();
/// store.save_checkpoint("report", Checkpoint::new(0, Position(1))).await.unwrap();
/// assert_eq!(es_core::projection::lag(&store, &store, "report").await.unwrap(), 2);
/// # });
/// ```
pub async fn lag(
    events: &(impl crate::EventStore + ?Sized),
    checkpoints: &(impl crate::CheckpointStore + ?Sized),
    projection: &str,
) -> Result<u64, crate::StoreError> {
    let checkpoint = checkpoints
        .load_checkpoint(projection)
        .await?
        .unwrap_or_default();
    let head = events.head_position().await?;
    Ok(head.0.saturating_sub(checkpoint.position.0))
}
