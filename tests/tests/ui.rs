//! The compile-time guarantees of the macros: `ui/pass/*.rs` must compile (under
//! `#![deny(warnings)]`), every `ui/fail/*.rs` must fail with exactly the message in its `.stderr`.
//!
//! Regenerate the expected output after an intended change with
//! `TRYBUILD=overwrite cargo test -p tests --test ui`, then review every `.stderr` like code.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("ui/pass/*.rs");
    cases.compile_fail("ui/fail/*.rs");
}
