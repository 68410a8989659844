//! How every SQLite file of this project is opened, by every process that writes it: the
//! emulator (which owns the file: see `durable::Db::connect_owner`) and, in process mode, the
//! function instances that share it (payment's idempotency records, save-order's orders, the
//! Azure host's handler). One place, so that a function's connection behaves as the emulator's.
//!
//! - One connection per process: SQLite lets one writer in at a time, and a second connection of
//!   the same process that wants to write waits in SQLite's busy handler, which sleeps in steps of
//!   milliseconds; queueing statements on one connection (through this crate's rounds) is both
//!   faster and fairer.
//! - WAL with `synchronous=NORMAL`: a commit is durable against a crash of the process (what the
//!   emulator needs), not against a power cut of the machine; a commit calls no `fsync` (SQLite's
//!   default for a WAL, `FULL`, calls one at every commit, in every process).
//! - 2 MiB of page cache (SQLite's default is 2,000 KiB), not more: at the commit after a page
//!   split SQLite scans the cache's whole hash table (`balance_nonroot` parks a page under the
//!   lock-byte page's number, and the commit truncates the cache above the database's size), and
//!   with 8 MiB that scan took ~4 % of the emulator's CPU under load (docs/performance-log.md).
//! - The writer checkpoints the WAL itself only when it has grown to [`WAL_LIMIT_PAGES`]: the
//!   file's owner checkpoints it in the background (`durable`'s checkpointer), so that no writer
//!   waits for the disk at a commit.
//! - No ping before each statement, and never closed and opened again: the connection is a thread
//!   of this process, not a socket that can go stale (sqlx's defaults are made for network
//!   databases: a ping, one more hop to that thread and back for every statement, and a new
//!   connection after 10 idle minutes or 30 in all). Its page cache stays warm, and its thread
//!   keeps the priority of the thread that opened it (the emulator runs its async runtime's
//!   threads at a lower one; see its `--runtime-nice`).

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

/// How many pages the WAL holds before a writer checkpoints it itself (256 MiB of 4 KiB pages,
/// SQLite's default page size).
pub const WAL_LIMIT_PAGES: u64 = 65_536;

/// How long connecting, or waiting for SQLite's write lock, may take.
const TIMEOUT: Duration = Duration::from_secs(5);

/// The options of `database_url` (`sqlite://path?mode=rwc`, `sqlite::memory:`) as this project
/// opens every SQLite file (see the module documentation), the file created if missing.
pub fn options(database_url: &str) -> Result<SqliteConnectOptions, sqlx::Error> {
    Ok(SqliteConnectOptions::from_str(database_url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(TIMEOUT)
        .pragma("cache_size", "-2048")
        .pragma("wal_autocheckpoint", WAL_LIMIT_PAGES.to_string()))
}

/// A pool of one connection with `options` (see the module documentation).
pub async fn one_connection(options: SqliteConnectOptions) -> Result<SqlitePool, sqlx::Error> {
    SqlitePoolOptions::new()
        .max_connections(1)
        .idle_timeout(None)
        .max_lifetime(None)
        .test_before_acquire(false)
        .acquire_timeout(TIMEOUT)
        .connect_with(options)
        .await
}

/// Opens `database_url` as [`options`] says, on [`one_connection`].
pub async fn open(database_url: &str) -> Result<SqlitePool, sqlx::Error> {
    one_connection(options(database_url)?).await
}
