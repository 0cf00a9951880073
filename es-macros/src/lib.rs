//! Procedural macros for `es`. Use them through `es_core::prelude`, not directly.
//!
//! The macros are being built in their own issue; until then this crate exports nothing, and
//! the examples implement the `es_core` traits by hand.
