//! Zero-cost check of the generated apply dispatch: folds 1,000,000 events into an aggregate
//! through `#[derive(Aggregate)]` + `#[event_handler]`, and into an identical struct through a
//! hand-written `match`. Same event types, same event vector, same handler bodies.
//!
//! ```sh
//! cargo bench -p es-bench --bench dispatch
//! ```
// `criterion_group!` generates an undocumented `pub fn`.
#![allow(missing_docs)]

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use es_core::prelude::*;
use serde::{Deserialize, Serialize};
use std::hint::black_box;

const EVENTS: usize = 1_000_000;

#[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
#[event(name = "bench.opened")]
struct Opened {
    limit: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
#[event(name = "bench.deposited")]
struct Deposited {
    amount: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
#[event(name = "bench.withdrawn")]
struct Withdrawn {
    amount: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
#[event(name = "bench.frozen")]
struct Frozen {
    frozen: bool,
}

#[derive(Debug, Clone, DomainEvent)]
enum AccountEvent {
    Opened(Opened),
    Deposited(Deposited),
    Withdrawn(Withdrawn),
    Frozen(Frozen),
}

/// Through the macros.
#[derive(Debug, Default, Aggregate)]
#[aggregate(name = "account", events = AccountEvent)]
struct Generated {
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

/// By hand: the same state and bodies in one `match`.
#[derive(Debug, Default)]
struct HandWritten {
    limit: i64,
    balance: i64,
    operations: u64,
    frozen: bool,
}

impl HandWritten {
    #[inline]
    fn apply(&mut self, event: &AccountEvent) {
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
}

/// A deterministic, branch-unfriendly mix of all four event types.
fn events() -> Vec<AccountEvent> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..EVENTS)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let amount = (x % 1000) as i64;
            match x % 4 {
                0 => AccountEvent::Opened(Opened { limit: amount }),
                1 => AccountEvent::Deposited(Deposited { amount }),
                2 => AccountEvent::Withdrawn(Withdrawn { amount }),
                _ => AccountEvent::Frozen(Frozen { frozen: i % 2 == 0 }),
            }
        })
        .collect()
}

fn dispatch(c: &mut Criterion) {
    let events = events();
    // Both paths compute the same state.
    let mut generated = Generated::default();
    let mut by_hand = HandWritten::default();
    for e in &events {
        Aggregate::apply(&mut generated, e);
        by_hand.apply(e);
    }
    assert_eq!(
        (
            generated.limit,
            generated.balance,
            generated.operations,
            generated.frozen
        ),
        (
            by_hand.limit,
            by_hand.balance,
            by_hand.operations,
            by_hand.frozen
        )
    );

    let mut group = c.benchmark_group("apply_1m_events");
    group.throughput(Throughput::Elements(EVENTS as u64));
    group.sample_size(50);
    group.bench_function("generated_dispatch", |b| {
        b.iter_batched_ref(
            Generated::default,
            |state| {
                for e in black_box(&events) {
                    Aggregate::apply(state, e);
                }
                black_box(state.balance)
            },
            BatchSize::SmallInput,
        )
    });
    group.bench_function("hand_written_match", |b| {
        b.iter_batched_ref(
            HandWritten::default,
            |state| {
                for e in black_box(&events) {
                    state.apply(e);
                }
                black_box(state.balance)
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, dispatch);
criterion_main!(benches);
