//! SQLite's WAL under the `Db` handle: checkpointed by the file's owner (the emulator) on a
//! connection in the background, so that the writing connection seldom does it itself (and waits
//! for the disk), and checkpointed in full at close; the other processes that write the file (the
//! function instances) leave that to the owner.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use durable::{Db, Queue, QueueConfig};

fn size(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

/// The writer itself would checkpoint only past 65,536 pages of WAL (256 MiB), and SQLite's
/// default is 1,000 pages; this test writes about half that: the database file grows only if the
/// background checkpoints copy the WAL into it. At close, the WAL is copied in full and emptied.
#[tokio::test]
async fn the_wal_is_checkpointed_in_the_background_and_emptied_at_close() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let file = dir.path().join("t.db");
    let wal = dir.path().join("t.db-wal");
    let db = Db::connect_owner(&format!("sqlite://{}", file.display()))
        .await
        .expect("connects and migrates");
    // Let the migrations reach the database file first.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = size(&file);

    // The WAL file is never cut back while the emulator runs (only emptied at close): SQLite's
    // `journal_size_limit` would truncate it on the writer's thread each time it starts again.
    let limit: i64 = match db.pool() {
        durable::Pool::Sqlite(connection) => sqlx::query_scalar("PRAGMA journal_size_limit")
            .fetch_one(connection)
            .await
            .expect("reads the limit"),
        _ => unreachable!("a SQLite URL"),
    };
    assert_eq!(
        limit, -1,
        "the WAL file is not cut back when it starts again"
    );

    send_100_messages(&db, &wal).await;
    grows_within_10_s(&file, before + 200_000).await;

    db.close().await;
    assert_eq!(size(&wal), 0, "the WAL is emptied at close");
    db.close().await;
    let reopened = Db::connect(&format!("sqlite://{}", file.display()))
        .await
        .expect("opens again");
    let stats = Queue::new(reopened.clone(), QueueConfig::new("wal"))
        .stats()
        .await
        .expect("stats");
    assert_eq!(stats.visible, 100, "every message is in the database file");
    reopened.close().await;
}

/// A function instance's connection (`Db::connect`) runs no checkpoints of its own: 100 messages
/// stay in the WAL until the owner opens the file and copies them in the background.
#[tokio::test]
async fn a_process_that_does_not_own_the_file_leaves_the_wal_to_its_owner() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let file = dir.path().join("t.db");
    let wal = dir.path().join("t.db-wal");
    let url = format!("sqlite://{}", file.display());
    let instance = Db::connect(&url).await.expect("connects and migrates");
    let before = size(&file);
    send_100_messages(&instance, &wal).await;
    // Ten of the owner's checkpoint periods.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        size(&file),
        before,
        "the instance copied its WAL into the database file"
    );

    let owner = Db::connect_owner(&url).await.expect("the owner opens it");
    grows_within_10_s(&file, before + 200_000).await;
    instance.close().await;
    owner.close().await;
    assert_eq!(size(&wal), 0, "the owner empties the WAL at close");
}

/// Sends 100 messages of 2 kB through `db`, and checks that they are in the WAL `wal`.
async fn send_100_messages(db: &Db, wal: &Path) {
    let queue = Queue::new(db.clone(), QueueConfig::new("wal"));
    let body = "x".repeat(2_000);
    for _ in 0..100 {
        queue
            .send(body.clone(), BTreeMap::new(), None)
            .await
            .expect("sent");
    }
    let wal_pages = size(wal) / 4096;
    assert!(
        (50..1_000).contains(&wal_pages),
        "the messages are in the WAL, in fewer pages than SQLite's own checkpoint waits for: \
         {wal_pages}"
    );
}

/// Waits for the database file `file` to reach `bytes`: for the background checkpoints.
async fn grows_within_10_s(file: &Path, bytes: u64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while size(file) < bytes {
        assert!(
            Instant::now() < deadline,
            "the database file did not grow to {bytes} bytes within 10 s ({} bytes): nothing \
             checkpoints the WAL in the background",
            size(file),
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Every statement of a process runs on its one SQLite connection, kept for the life of the
/// `Db` (sqlx's pool would close one idle for 10 minutes, and any after 30): its page cache stays
/// warm, and its thread keeps the priority of the thread that opened it (the emulator's
/// `--runtime-nice`). A temporary table lives on the connection that made it, so a second
/// statement sees it only on the same connection.
#[tokio::test]
async fn every_statement_runs_on_the_one_sqlite_connection() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let db = Db::connect(&format!("sqlite://{}", dir.path().join("t.db").display()))
        .await
        .expect("connects and migrates");
    let durable::Pool::Sqlite(connection) = db.pool() else {
        unreachable!("a SQLite URL")
    };
    sqlx::query("CREATE TEMP TABLE this_connection (x INTEGER)")
        .execute(connection)
        .await
        .expect("creates a temporary table");
    let mut tasks = tokio::task::JoinSet::new();
    for x in 0..8 {
        let connection = connection.clone();
        tasks.spawn(async move {
            sqlx::query("INSERT INTO this_connection (x) VALUES ($1)")
                .bind(x)
                .execute(&connection)
                .await
        });
    }
    for inserted in tasks.join_all().await {
        inserted.expect("the temporary table is there");
    }
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM this_connection")
        .fetch_one(connection)
        .await
        .expect("counts");
    assert_eq!(rows, 8);
    db.close().await;
    assert!(
        sqlx::query("SELECT 1").execute(connection).await.is_err(),
        "closed"
    );
}
