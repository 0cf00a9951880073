//! A store whose disk filled up works again once space is freed, on the same `SqliteStore`: no
//! pooled connection stays stuck in the transaction SQLite rolled back when its COMMIT failed.
//!
//! Runs on a 3 MiB tmpfs mounted by the test (needs root; skipped with a message otherwise).

use es_core::{EventStore, ExpectedVersion, NewEvent, ProjectionStore, StreamId, Version};
use es_sqlite::SqliteStore;
use futures::TryStreamExt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A tmpfs mounted on a fresh directory; unmounted and removed on drop (also on a panic).
struct Tmpfs {
    dir: PathBuf,
}

impl Tmpfs {
    fn mount(size: &str) -> Option<Self> {
        let dir = std::env::temp_dir().join(format!("es-full-disk-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).expect("create the mount point");
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir)
            .status();
        match mounted {
            Ok(status) if status.success() => Some(Self { dir }),
            outcome => {
                println!(
                    "skipped: cannot mount a tmpfs on {} ({outcome:?})",
                    dir.display()
                );
                let _ = std::fs::remove_dir(&dir);
                None
            }
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let status = Command::new("umount").arg("-l").arg(&self.dir).status();
        if !matches!(status, Ok(s) if s.success()) {
            eprintln!("unmounting {} failed: {status:?}", self.dir.display());
            return;
        }
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// Writes `path` until the file system is full; returns the bytes written.
fn fill(path: &Path) -> u64 {
    let mut file = std::fs::File::create(path).expect("create the filler file");
    let chunk = vec![0x5a_u8; 16 * 1024];
    let mut written = 0u64;
    loop {
        match file.write(&chunk) {
            Ok(0) => break,
            Ok(n) => written += n as u64,
            Err(error) if error.raw_os_error() == Some(28) => break, // ENOSPC
            Err(error) => panic!("filling the tmpfs failed: {error}"),
        }
    }
    // What did not fit in the last chunk may still be in a buffer: the file system is full.
    let _ = file.sync_all();
    written
}

fn is_disk_full(error: &impl std::fmt::Display) -> bool {
    error.to_string().contains("database or disk is full")
}

fn event(n: usize, size: usize) -> NewEvent {
    NewEvent::raw(
        "disk.filled",
        1,
        serde_json::json!({ "n": n, "padding": "x".repeat(size) }),
    )
}

/// One projection unit of work that writes `size` bytes into a read model and commits.
async fn projection_commit(store: &SqliteStore, size: usize) -> Result<(), es_core::StoreError> {
    let mut tx = store.begin().await?;
    sqlx::query("INSERT INTO read_model (data) VALUES (zeroblob(?1))")
        .bind(size as i64)
        .execute(&mut *tx)
        .await
        .map_err(es_core::StoreError::database)?;
    store
        .save_checkpoint_in(
            &mut tx,
            "model",
            es_core::Checkpoint::new(0, es_core::Position(1)),
        )
        .await?;
    store.commit(tx).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appends_and_projection_commits_work_again_after_the_disk_was_full() {
    let Some(tmpfs) = Tmpfs::mount("3m") else {
        return;
    };
    let store = SqliteStore::open(tmpfs.dir.join("events.db"))
        .await
        .expect("open the store");
    sqlx::query("CREATE TABLE read_model (data BLOB)")
        .execute(store.pool())
        .await
        .expect("create the read model");
    let stream = StreamId::new("disk-1").expect("a valid stream id");
    // Every event that was appended, by version: they must all read back at the end.
    let mut appended = Vec::new();

    for n in 0..20 {
        let e = event(n, 1000);
        let result = store
            .append(&stream, ExpectedVersion::Any, vec![e.clone()])
            .await
            .expect("append before the disk is full");
        appended.push(e.event_id);
        assert_eq!(result.events[0].version, Version(appended.len() as u64));
    }

    let filler = tmpfs.dir.join("filler");
    let filled = fill(&filler);
    println!("filler: {filled} bytes");

    // Append until SQLite reports the full disk (the WAL may still have room for a few).
    let mut full_errors = 0;
    let mut other_errors = Vec::new();
    for n in 0..2000 {
        let e = event(n, 4000);
        match store
            .append(&stream, ExpectedVersion::Any, vec![e.clone()])
            .await
        {
            Ok(_) => appended.push(e.event_id),
            Err(error) if is_disk_full(&error) => full_errors += 1,
            Err(error) => other_errors.push(error.to_string()),
        }
        if full_errors + other_errors.len() >= 12 {
            break;
        }
    }
    assert!(
        full_errors > 0,
        "expected appends to fail with a full disk; other errors: {other_errors:?}"
    );
    let mut projection_full_errors = 0;
    for size in [4_000, 16_000, 64_000, 256_000] {
        match projection_commit(&store, size).await {
            Ok(()) => {}
            Err(error) if is_disk_full(&error) => projection_full_errors += 1,
            Err(error) => other_errors.push(error.to_string()),
        }
    }
    println!(
        "while full: {full_errors} appends and {projection_full_errors} projection commits \
         failed with a full disk; other errors: {other_errors:?}"
    );

    std::fs::remove_file(&filler).expect("free the space");

    // More appends than the pool has connections: every pooled connection is used again.
    let mut failures = Vec::new();
    for n in 0..40 {
        let e = event(n, 1000);
        match store
            .append(&stream, ExpectedVersion::Any, vec![e.clone()])
            .await
        {
            Ok(result) => {
                appended.push(e.event_id);
                assert_eq!(result.events[0].version, Version(appended.len() as u64));
            }
            Err(error) => failures.push(error.to_string()),
        }
        if n % 2 == 0
            && let Err(error) = projection_commit(&store, 1000).await
        {
            failures.push(format!("projection commit: {error}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} operations failed after space was freed: {failures:?}",
        failures.len()
    );

    let read: Vec<_> = store
        .read_stream(&stream, Version(0))
        .map_ok(|e| e.meta.event_id)
        .try_collect()
        .await
        .expect("read the stream back");
    assert_eq!(read, appended, "every appended event reads back, in order");
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM read_model")
        .fetch_one(store.pool())
        .await
        .expect("count the read model");
    assert!(
        rows >= 20,
        "the projection commits after freeing space are stored"
    );
    assert!(
        projection_full_errors > 0,
        "a projection commit should have failed on the full disk"
    );
    assert!(
        other_errors.is_empty(),
        "while the disk was full, every failure should name it: {other_errors:?}"
    );

    store.close().await;
    drop(tmpfs);
}
