//! Prints the cost of the generated apply dispatch next to a hand-written `match`, folding
//! 1,000,000 events per run. Runs alternate between the two paths (so both see the same machine
//! load) and the report uses the fastest and the median run of each.
//!
//! ```sh
//! cargo run --release -p es-bench --bin dispatch_report [-- RUNS]
//! ```

use es_bench::dispatch::{Generated, HandWritten, events};
use std::hint::black_box;
use std::time::{Duration, Instant};

const EVENTS: usize = 1_000_000;

fn time(f: impl FnOnce()) -> Duration {
    let start = Instant::now();
    f();
    start.elapsed()
}

fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200)
        .max(1);
    let events = events(EVENTS);
    assert_eq!(
        Generated::fold(&events).fields(),
        HandWritten::fold(&events).fields()
    );
    let (mut generated, mut by_hand) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        generated.push(time(|| {
            black_box(Generated::fold(black_box(&events)).fields());
        }));
        by_hand.push(time(|| {
            black_box(HandWritten::fold(black_box(&events)).fields());
        }));
    }
    generated.sort();
    by_hand.sort();
    let report = |name: &str, t: &[Duration]| {
        let (min, median) = (t[0], t[t.len() / 2]);
        println!(
            "{name:<22} min {:>8.3} ms   median {:>8.3} ms   {:>6.1} M events/s (min)",
            min.as_secs_f64() * 1e3,
            median.as_secs_f64() * 1e3,
            EVENTS as f64 / min.as_secs_f64() / 1e6
        );
    };
    println!("apply dispatch, {EVENTS} events per run, {runs} alternating runs");
    report("generated dispatch", &generated);
    report("hand-written match", &by_hand);
    let ratio = |a: Duration, b: Duration| (a.as_secs_f64() / b.as_secs_f64() - 1.0) * 100.0;
    println!(
        "generated vs hand-written: {:+.2}% (min), {:+.2}% (median)",
        ratio(generated[0], by_hand[0]),
        ratio(generated[runs / 2], by_hand[runs / 2])
    );
}
