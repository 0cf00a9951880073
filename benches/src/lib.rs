//! Shared set-up for the benchmarks and report binaries of `es`.

pub mod dispatch;
