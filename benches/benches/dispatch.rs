//! Zero-cost check of the generated apply dispatch: folds 1,000,000 events into an aggregate
//! through `#[derive(Aggregate)]` + `#[event_handler]`, and into an identical struct through a
//! hand-written `match` (`es_bench::dispatch`). Same event types, same events, same bodies.
//!
//! ```sh
//! cargo bench -p es-bench --bench dispatch
//! ```
// `criterion_group!` generates an undocumented `pub fn`.
#![allow(missing_docs)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use es_bench::dispatch::{Generated, HandWritten, events};
use std::hint::black_box;

const EVENTS: usize = 1_000_000;

fn dispatch(c: &mut Criterion) {
    let events = events(EVENTS);
    assert_eq!(
        Generated::fold(&events).fields(),
        HandWritten::fold(&events).fields(),
        "both paths compute the same state"
    );
    let mut group = c.benchmark_group("apply_1m_events");
    group.throughput(Throughput::Elements(EVENTS as u64));
    group.sample_size(50);
    group.bench_function("generated_dispatch", |b| {
        b.iter(|| Generated::fold(black_box(&events)).fields())
    });
    group.bench_function("hand_written_match", |b| {
        b.iter(|| HandWritten::fold(black_box(&events)).fields())
    });
    group.finish();
}

criterion_group!(benches, dispatch);
criterion_main!(benches);
