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
//! - Not in a sqlx pool: [`Connection`] holds the connection behind a lock of its own. The
//!   connection is a thread of this process, not a socket that can go stale, and sqlx's pool is
//!   made for network databases: it pings a connection each time one is given back (a task
//!   spawned, one more hop to the connection's thread and back for every statement, during
//!   which the next statement waits), and by default before each is lent too, and opens a new one
//!   after 10 idle minutes or 30 in all. Here a statement is one hop, the page cache stays warm,
//!   and the thread keeps the priority of the thread that opened it (the emulator runs its async
//!   runtime's threads at a lower one; see its `--runtime-nice`).

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use futures_util::stream::{self, BoxStream, StreamExt};
use sqlx::sqlite::{
    Sqlite, SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqliteQueryResult,
    SqliteRow, SqliteStatement, SqliteSynchronous, SqliteTypeInfo,
};
use sqlx::{ConnectOptions, Either, Execute, Executor, SqlStr};
use tokio::sync::{MappedMutexGuard, Mutex, MutexGuard};

/// How many pages the WAL holds before a writer checkpoints it itself (256 MiB of 4 KiB pages,
/// SQLite's default page size).
pub const WAL_LIMIT_PAGES: u64 = 65_536;

/// How long waiting for SQLite's write lock may take.
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

/// Opens `database_url` as [`options`] says, on one [`Connection`].
pub async fn open(database_url: &str) -> Result<Connection, sqlx::Error> {
    Connection::open(options(database_url)?).await
}

/// A process's one connection to a SQLite file, shared by its tasks: each statement waits for the
/// ones before it, then takes one hop to the connection's thread and back (see the module
/// documentation). `&Connection` is an [`Executor`], as `&SqlitePool` is; a transaction, or
/// anything else that needs the connection for several statements, takes it with
/// [`Connection::lock`].
#[derive(Clone)]
pub struct Connection {
    /// `None` once closed.
    connection: Arc<Mutex<Option<SqliteConnection>>>,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("sqlite::Connection").finish_non_exhaustive()
    }
}

impl Connection {
    /// Opens a connection with `options` (see the module documentation).
    pub async fn open(options: SqliteConnectOptions) -> Result<Self, sqlx::Error> {
        Ok(Self {
            connection: Arc::new(Mutex::new(Some(options.connect().await?))),
        })
    }

    /// The connection, for as long as the guard is held (the other tasks' statements wait);
    /// [`sqlx::Error::PoolClosed`] once it is closed.
    pub async fn lock(&self) -> Result<MappedMutexGuard<'_, SqliteConnection>, sqlx::Error> {
        MutexGuard::try_map(self.connection.lock().await, Option::as_mut)
            .map_err(|_| sqlx::Error::PoolClosed)
    }

    /// Closes the connection once the statements before have run; the statements after fail
    /// with [`sqlx::Error::PoolClosed`]. Closing again does nothing.
    pub async fn close(&self) {
        let connection = self.connection.lock().await.take();
        if let Some(connection) = connection
            && let Err(e) = sqlx::Connection::close(connection).await
        {
            tracing::warn!("could not close the SQLite connection: {e}");
        }
    }

    /// Applies `migrator`'s migrations on the connection. (Boxed as `Send` here: the same
    /// future written in an async caller, `migrator.run(&mut *guard)`, is not seen as `Send` for
    /// every lifetime, and the caller's own future stops being `Send`.)
    pub fn migrate<'a>(
        &'a self,
        migrator: &'a sqlx::migrate::Migrator,
    ) -> BoxFuture<'a, Result<(), sqlx::migrate::MigrateError>> {
        Box::pin(async move {
            let mut connection = self.lock().await?;
            migrator.run_direct(None, &mut *connection, false).await
        })
    }

    pub async fn is_closed(&self) -> bool {
        self.connection.lock().await.is_none()
    }
}

impl<'c> Executor<'c> for &'c Connection {
    type Database = Sqlite;

    /// The results are collected while the connection is held, then given as a stream (every
    /// query of this project reads a bounded number of rows).
    fn fetch_many<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxStream<'e, Result<Either<SqliteQueryResult, SqliteRow>, sqlx::Error>>
    where
        'c: 'e,
        E: 'q + Execute<'q, Sqlite>,
    {
        let results = async move {
            match self.lock().await {
                Ok(mut connection) => connection.fetch_many(query).collect::<Vec<_>>().await,
                Err(e) => vec![Err(e)],
            }
        };
        stream::once(results).flat_map(stream::iter).boxed()
    }

    fn fetch_optional<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxFuture<'e, Result<Option<SqliteRow>, sqlx::Error>>
    where
        'c: 'e,
        E: 'q + Execute<'q, Sqlite>,
    {
        Box::pin(async move { self.lock().await?.fetch_optional(query).await })
    }

    fn prepare_with<'e>(
        self,
        sql: SqlStr,
        parameters: &'e [SqliteTypeInfo],
    ) -> BoxFuture<'e, Result<SqliteStatement, sqlx::Error>>
    where
        'c: 'e,
    {
        Box::pin(async move { self.lock().await?.prepare_with(sql, parameters).await })
    }
}
