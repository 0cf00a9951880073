//! The PostgreSQL store passes the shared conformance suite, each test in its own schema.

mod common;

es_core::conformance_suite!(common::store, common::drop_store);
