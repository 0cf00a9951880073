//! Rebuilds the crate when a migration is added, removed or changed: `sqlx::migrate!` embeds the
//! migrations at compile time, and cargo would not otherwise notice a new file.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
