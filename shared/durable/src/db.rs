//! The database handle: SQLite (the embedded default) or PostgreSQL, chosen by the URL, with this
//! crate's migrations applied, and the clock that every stored time is read from.
//!
//! Each database is a cargo feature (`sqlite`, `postgres`, both by default): a binary links only
//! the ones it opens, and a URL of a database left out is [`DbError::UnsupportedUrl`].
//!
//! One SQL text serves both databases: the statements use `$1`-style parameters (which SQLite
//! accepts too), portable types (`TEXT`, `BIGINT`) and `ON CONFLICT`/`RETURNING`, and [`on_pool!`]
//! runs the same query code on whichever pool is open.
//!
//! SQLite gets one connection for the statements. SQLite lets one writer in at a time, and a
//! second connection that wants to write waits in SQLite's busy handler, which sleeps in steps of
//! milliseconds; queueing statements on one connection is both faster and fairer. The journal is
//! WAL with `synchronous=NORMAL`: a commit is durable against a crash of the process (what the
//! emulator needs), not against a power cut of the machine.
//!
//! The WAL is copied into the database file (checkpointed) mostly by a second connection in the
//! background ([`Checkpointer`]), not by the connection that writes. A checkpoint is where SQLite
//! calls `fsync` (twice) under `synchronous=NORMAL`; done by the writing connection, as SQLite does
//! by default every 1,000 pages, every statement queued behind it waited for the disk: on a slow
//! disk, a fifth of the emulator's throughput (see docs/performance-log.md).

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

pub use group_commit::Pool;
use group_commit::Rounds;

#[cfg(feature = "postgres")]
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
#[cfg(feature = "sqlite")]
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

/// This crate's migrations (`migrations/`).
const MIGRATIONS: &[embedded_migrations::MigrationFile] = &[(
    20261130000001,
    "durable",
    include_str!("../migrations/20261130000001_durable.sql"),
)];

#[cfg(not(any(feature = "sqlite", feature = "postgres")))]
compile_error!("durable needs a database: enable its `sqlite` or `postgres` feature");

/// How long connecting, or waiting for a pooled connection, may take.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("unsupported DATABASE_URL: expected {}", SUPPORTED)]
    UnsupportedUrl,
    #[error("could not open the database")]
    Connect(#[source] sqlx::Error),
    #[error("could not apply the migrations of {0}")]
    Migrate(&'static str, #[source] sqlx::migrate::MigrateError),
    #[error("database query failed")]
    Query(#[from] sqlx::Error),
    #[error("a stored value does not parse: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Batch(#[from] group_commit::BatchError),
}

/// The URLs this build opens, for the error of another.
const SUPPORTED: &str = if cfg!(all(feature = "sqlite", feature = "postgres")) {
    "sqlite:… or postgres://…"
} else if cfg!(feature = "sqlite") {
    "sqlite:… (this build has no PostgreSQL)"
} else {
    "postgres://… (this build has no SQLite)"
};

/// Runs `$body` with `$pool` bound to the open pool, whichever database it is: the query code is
/// written once and compiled for each database of the build. (One definition per feature set:
/// a `cfg` inside the expansion would be read with the calling crate's features.)
#[cfg(all(feature = "sqlite", feature = "postgres"))]
#[macro_export]
macro_rules! on_pool {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db.pool() {
            $crate::Pool::Sqlite($pool) => $body,
            $crate::Pool::Postgres($pool) => $body,
        }
    };
}

/// See the definition for both databases.
#[cfg(all(feature = "sqlite", not(feature = "postgres")))]
#[macro_export]
macro_rules! on_pool {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db.pool() {
            $crate::Pool::Sqlite($pool) => $body,
        }
    };
}

/// See the definition for both databases.
#[cfg(all(feature = "postgres", not(feature = "sqlite")))]
#[macro_export]
macro_rules! on_pool {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db.pool() {
            $crate::Pool::Postgres($pool) => $body,
        }
    };
}

/// A database with this crate's tables, and its clock.
#[derive(Debug, Clone)]
pub struct Db {
    pool: Pool,
    clock: Arc<Clock>,
    /// SQLite's background checkpoints (none for PostgreSQL).
    #[cfg(feature = "sqlite")]
    checkpointer: Option<Arc<Checkpointer>>,
    /// The group commit of every batched write to this database.
    rounds: Rounds,
}

impl Db {
    /// Opens `database_url` (`sqlite:…`, created if missing; `postgres://…`, which must exist) and
    /// applies this crate's migrations.
    pub async fn connect(database_url: &str) -> Result<Self, DbError> {
        #[cfg(feature = "sqlite")]
        let mut checkpointer = None;
        let pool = if database_url.starts_with("sqlite:") {
            #[cfg(feature = "sqlite")]
            {
                let (pool, background) = Self::sqlite(database_url).await?;
                checkpointer = Some(Arc::new(background));
                pool
            }
            #[cfg(not(feature = "sqlite"))]
            return Err(DbError::UnsupportedUrl);
        } else if database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://")
        {
            Self::postgres(database_url).await?
        } else {
            return Err(DbError::UnsupportedUrl);
        };
        let db = Self {
            rounds: Rounds::start(pool.clone()),
            pool,
            clock: Arc::new(Clock::new()),
            #[cfg(feature = "sqlite")]
            checkpointer,
        };
        // Beside other crates' migrations in the same database (the order store's, the
        // emulator's), each with its own history table.
        let migrator = embedded_migrations::migrator(MIGRATIONS, "_durable_migrations");
        on_pool!(db, pool => migrator.run(pool).await)
            .map_err(|e| DbError::Migrate("durable", e))?;
        Ok(db)
    }

    #[cfg(feature = "sqlite")]
    async fn sqlite(database_url: &str) -> Result<(Pool, Checkpointer), DbError> {
        let options = SqliteConnectOptions::from_str(database_url)
            .map_err(DbError::Connect)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(ACQUIRE_TIMEOUT);
        let checkpointer = Checkpointer::start(options.clone()).await?;
        let options = options
            // 2 MiB of page cache (SQLite's default is 2,000 KiB), not more: at the commit after
            // a page split SQLite scans the cache's whole hash table (`balance_nonroot` parks a
            // page under the lock-byte page's number, and the commit truncates the cache above
            // the database's size), and with 8 MiB that scan took ~4 % of the emulator's CPU
            // under load. With 8 MiB: 0.78-0.82 ms of CPU per registration and 61-62 MiB after
            // 10,000 registrations; with 2 MiB: 0.76-0.78 ms and 55-58 MiB (docs/performance-log.md).
            .pragma("cache_size", "-2048")
            // The writer checkpoints only when the WAL has grown this far (see `Checkpointer`).
            .pragma(
                "wal_autocheckpoint",
                Checkpointer::WAL_LIMIT_PAGES.to_string(),
            );
        let pool = one_sqlite_connection(options).await?;
        Ok((Pool::Sqlite(pool), checkpointer))
    }

    #[cfg(feature = "postgres")]
    async fn postgres(database_url: &str) -> Result<Pool, DbError> {
        let options = PgConnectOptions::from_str(database_url).map_err(DbError::Connect)?;
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(DbError::Connect)?;
        Ok(Pool::Postgres(pool))
    }

    #[cfg(not(feature = "postgres"))]
    async fn postgres(_: &str) -> Result<Pool, DbError> {
        Err(DbError::UnsupportedUrl)
    }

    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// The group commit of this database's batched writes, for every writer of it (see the
    /// `group-commit` crate).
    pub fn rounds(&self) -> &Rounds {
        &self.rounds
    }

    /// Now, in milliseconds since the Unix epoch.
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Closes the pool, waiting for the statements in flight, then checkpoints what is left in
    /// SQLite's WAL.
    pub async fn close(&self) {
        on_pool!(self, pool => pool.close().await);
        #[cfg(feature = "sqlite")]
        if let Some(checkpointer) = &self.checkpointer {
            checkpointer.close().await;
        }
    }
}

/// A pool of one SQLite connection (see the module documentation), without sqlx's ping before
/// each statement: the connection is a thread of this process, not a socket that can go stale,
/// and the ping is one more hop to that thread and back for every statement (sqlx's default,
/// made for network databases). For the same reason it is never closed and opened again (sqlx
/// closes a connection idle for 10 minutes, and any after 30): its page cache stays warm, and its
/// thread keeps the priority of the thread that opened it (the emulator runs its async runtime's
/// threads at a lower one; see its `--runtime-nice`).
#[cfg(feature = "sqlite")]
async fn one_sqlite_connection(options: SqliteConnectOptions) -> Result<SqlitePool, DbError> {
    SqlitePoolOptions::new()
        .max_connections(1)
        .idle_timeout(None)
        .max_lifetime(None)
        .test_before_acquire(false)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_with(options)
        .await
        .map_err(DbError::Connect)
}

/// Checkpoints SQLite's WAL from a connection of its own, every [`Self::EVERY`], so that the
/// connection that writes seldom waits for the disk (see the module documentation).
///
/// A checkpoint copies what the WAL holds into the database file while the writer goes on
/// appending (SQLite's `PASSIVE` mode). The WAL file starts again from its beginning only when a
/// write begins with all of it copied, which under steady load a checkpoint from another
/// connection never achieves (the writer has always appended more in the meantime). So the
/// writer keeps SQLite's own checkpoint too, after [`Self::WAL_LIMIT_PAGES`] instead of 1,000
/// pages: by then the checkpointer has copied nearly all of the WAL, the writer copies the rest
/// and waits for the two `fsync`s, and its next write starts the WAL again from the beginning of
/// the file. The file keeps its size (at most about 270 MB, under sustained load) until the
/// clean stop truncates it: cutting it back on that restart, as SQLite's `journal_size_limit`
/// does, held the writer, and every statement queued behind it, for about 180 ms more each time
/// (`ftruncate` of 192 MiB; see docs/performance-log.md). Without a checkpointer (a
/// process that died), the WAL is replayed at the next open; nothing is lost.
#[cfg(feature = "sqlite")]
#[derive(Debug)]
struct Checkpointer {
    pool: SqlitePool,
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

#[cfg(feature = "sqlite")]
impl Checkpointer {
    /// How often the WAL is checkpointed. Each checkpoint begins with an `fsync` of the WAL, and
    /// while the kernel writes the WAL's pages out, the writer's next frame (which shares a page
    /// with the last one written: a frame is 24 bytes longer than a page) waits for that write
    /// (`ext4_block_write_begin`, sampled from `/proc/<tid>/stack`). Every 250 ms, a quarter of a
    /// second of WAL went out each time and held every POST for 25 to 60 ms (they ended, 16 at a
    /// time, as each checkpoint did); every 50 ms the writes are small enough that POST p99 went
    /// from 37 to 47 ms down to 21 to 30 ms (see docs/performance-log.md).
    const EVERY: Duration = Duration::from_millis(50);
    /// How many pages the WAL holds before the writer checkpoints it itself (256 MiB of 4 KiB
    /// pages, SQLite's default page size).
    const WAL_LIMIT_PAGES: u64 = 65_536;

    async fn start(options: SqliteConnectOptions) -> Result<Self, DbError> {
        let pool = one_sqlite_connection(options).await?;
        let (stop, mut stopping) = tokio::sync::watch::channel(false);
        let checkpoints = pool.clone();
        let task = tokio::spawn(async move {
            let mut every = tokio::time::interval(Self::EVERY);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = every.tick() => {}
                    _ = stopping.changed() => return,
                }
                if let Err(e) = Self::checkpoint(&checkpoints).await {
                    tracing::warn!("could not checkpoint the WAL: {e}");
                }
            }
        });
        Ok(Self {
            pool,
            stop,
            task: tokio::sync::Mutex::new(Some(task)),
        })
    }

    /// Copies what it can of the WAL, waiting for no one.
    async fn checkpoint(pool: &SqlitePool) -> Result<(), sqlx::Error> {
        sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(pool)
            .await
            .map(drop)
    }

    /// Stops the checkpoints and copies the rest of the WAL (call once the writers are closed).
    /// Closing again does nothing.
    async fn close(&self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.lock().await.take() {
            let _ = task.await;
        }
        if self.pool.is_closed() {
            return;
        }
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&self.pool)
            .await
        {
            tracing::warn!("could not checkpoint the WAL at close: {e}");
        }
        self.pool.close().await;
    }
}

/// Wall-clock milliseconds that advance with tokio's clock: real time in a running system, and
/// time that a test moves on with `tokio::time::advance` under a paused clock.
#[derive(Debug)]
struct Clock {
    anchor: tokio::time::Instant,
    anchor_ms: i64,
}

impl Clock {
    fn new() -> Self {
        Self {
            anchor: tokio::time::Instant::now(),
            anchor_ms: chrono::Utc::now().timestamp_millis(),
        }
    }

    fn now_ms(&self) -> i64 {
        let elapsed = tokio::time::Instant::now().saturating_duration_since(self.anchor);
        self.anchor_ms
            .saturating_add(i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX))
    }
}

/// Milliseconds of a duration, saturating.
pub(crate) fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_migration_file_is_embedded() {
        let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        embedded_migrations::assert_every_file_listed(super::MIGRATIONS, &folder);
    }
}
