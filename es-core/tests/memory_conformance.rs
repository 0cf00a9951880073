//! The in-memory store passes the shared conformance suite.

es_core::conformance_suite!(|| async { es_core::MemoryStore::new() });
