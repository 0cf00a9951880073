//! What a projection does when its handler keeps failing: [`ErrorPolicy`].

use std::time::Duration;

/// What to do with an event whose handler still fails after every retry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OnFailure {
    /// Stop the runner with the error; the checkpoint stays before the failing batch (default).
    #[default]
    Stop,
    /// Park the event in the dead-letter table with its error, and go on with the next one.
    Park,
}

/// A projection's error policy: retry a failing batch with exponential backoff a bounded number
/// of times, then [stop or park](OnFailure).
///
/// ```
/// use es_core::{ErrorPolicy, OnFailure};
/// use std::time::Duration;
/// let policy = ErrorPolicy::default().retries(5).backoff(Duration::from_millis(10), Duration::from_secs(1)).park();
/// assert_eq!(policy.on_failure, OnFailure::Park);
/// assert_eq!(policy.delay(1), Duration::from_millis(10));
/// assert_eq!(policy.delay(3), Duration::from_millis(40));
/// assert_eq!(policy.delay(30), Duration::from_secs(1));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ErrorPolicy {
    /// How many times a failing batch is retried before `on_failure` applies.
    pub max_retries: u32,
    /// The delay before the first retry; it doubles with each further retry.
    pub initial_backoff: Duration,
    /// The longest delay between retries.
    pub max_backoff: Duration,
    /// What happens when the retries are used up.
    pub on_failure: OnFailure,
}

impl Default for ErrorPolicy {
    /// 3 retries, backoff 100 ms doubling up to 5 s, then stop.
    fn default() -> Self {
        Self {
            max_retries: 3,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            on_failure: OnFailure::Stop,
        }
    }
}

impl ErrorPolicy {
    /// Sets the number of retries.
    pub fn retries(mut self, max_retries: u32) -> Self {
        self.max_retries = max_retries;
        self
    }

    /// Sets the first and the longest backoff delay.
    pub fn backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.initial_backoff = initial;
        self.max_backoff = max.max(initial);
        self
    }

    /// Parks events that still fail, and goes on.
    pub fn park(mut self) -> Self {
        self.on_failure = OnFailure::Park;
        self
    }

    /// Stops the runner on events that still fail (the default).
    pub fn stop(mut self) -> Self {
        self.on_failure = OnFailure::Stop;
        self
    }

    /// The delay before retry number `attempt` (1-based).
    pub fn delay(&self, attempt: u32) -> Duration {
        let factor = 1u32
            .checked_shl(attempt.saturating_sub(1))
            .unwrap_or(u32::MAX);
        self.initial_backoff
            .checked_mul(factor)
            .unwrap_or(self.max_backoff)
            .min(self.max_backoff)
    }
}
