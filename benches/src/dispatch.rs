//! The apply-dispatch comparison: the same events folded through the macros' generated dispatch
//! ([`Generated`]) and through a hand-written `match` ([`HandWritten`]). Used by
//! `benches/dispatch.rs` (criterion) and the `dispatch_report` binary.

use es_core::prelude::*;
use serde::{Deserialize, Serialize};

/// Opened with a limit.
#[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
#[event(name = "bench.opened")]
pub struct Opened {
    limit: i64,
}

/// Money in.
#[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
#[event(name = "bench.deposited")]
pub struct Deposited {
    amount: i64,
}

/// Money out.
#[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
#[event(name = "bench.withdrawn")]
pub struct Withdrawn {
    amount: i64,
}

/// Frozen or thawed.
#[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
#[event(name = "bench.frozen")]
pub struct Frozen {
    frozen: bool,
}

/// The event set both states fold.
#[derive(Debug, Clone, DomainEvent)]
pub enum AccountEvent {
    /// See [`Opened`].
    Opened(Opened),
    /// See [`Deposited`].
    Deposited(Deposited),
    /// See [`Withdrawn`].
    Withdrawn(Withdrawn),
    /// See [`Frozen`].
    Frozen(Frozen),
}

/// The state, through `#[derive(Aggregate)]` and `#[event_handler]`.
#[derive(Debug, Default, Aggregate)]
#[aggregate(name = "account", events = AccountEvent)]
pub struct Generated {
    limit: i64,
    balance: i64,
    operations: u64,
    frozen: bool,
}

#[event_handler]
impl Generated {
    fn opened(&mut self, e: &Opened) {
        self.limit = e.limit;
    }
    fn deposited(&mut self, e: &Deposited) {
        self.balance += e.amount;
        self.operations += 1;
    }
    fn withdrawn(&mut self, e: &Withdrawn) {
        self.balance -= e.amount;
        self.operations += 1;
    }
    fn frozen(&mut self, e: &Frozen) {
        self.frozen = e.frozen;
    }
}

impl Generated {
    /// Folds `events` through the generated dispatch.
    #[inline(never)]
    pub fn fold(events: &[AccountEvent]) -> Self {
        let mut state = Self::default();
        for e in events {
            Aggregate::apply(&mut state, e);
        }
        state
    }

    /// The state's fields, to compare both paths.
    pub fn fields(&self) -> (i64, i64, u64, bool) {
        (self.limit, self.balance, self.operations, self.frozen)
    }
}

/// The same state and handler bodies, in one hand-written `match`.
#[derive(Debug, Default)]
pub struct HandWritten {
    limit: i64,
    balance: i64,
    operations: u64,
    frozen: bool,
}

impl HandWritten {
    /// Folds one event.
    #[inline]
    pub fn apply(&mut self, event: &AccountEvent) {
        match event {
            AccountEvent::Opened(e) => self.limit = e.limit,
            AccountEvent::Deposited(e) => {
                self.balance += e.amount;
                self.operations += 1;
            }
            AccountEvent::Withdrawn(e) => {
                self.balance -= e.amount;
                self.operations += 1;
            }
            AccountEvent::Frozen(e) => self.frozen = e.frozen,
        }
    }

    /// Folds `events` through the hand-written `match`.
    #[inline(never)]
    pub fn fold(events: &[AccountEvent]) -> Self {
        let mut state = Self::default();
        for e in events {
            state.apply(e);
        }
        state
    }

    /// The state's fields, to compare both paths.
    pub fn fields(&self) -> (i64, i64, u64, bool) {
        (self.limit, self.balance, self.operations, self.frozen)
    }
}

/// `n` events: a deterministic, branch-unfriendly mix of all four types.
pub fn events(n: usize) -> Vec<AccountEvent> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..n)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let amount = i64::try_from(x % 1000).unwrap_or(0);
            match x % 4 {
                0 => AccountEvent::Opened(Opened { limit: amount }),
                1 => AccountEvent::Deposited(Deposited { amount }),
                2 => AccountEvent::Withdrawn(Withdrawn { amount }),
                _ => AccountEvent::Frozen(Frozen { frozen: i % 2 == 0 }),
            }
        })
        .collect()
}
