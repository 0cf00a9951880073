//! Example applications live in `examples/`.
