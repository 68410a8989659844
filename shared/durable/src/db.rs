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
//! SQLite is opened as every SQLite file of this project is (`group_commit::sqlite`: one
//! connection, WAL with `synchronous=NORMAL`, no ping). Several processes may write one file: in
//! process mode the function instances open the emulator's. The process that owns the file, the
//! emulator ([`Db::connect_owner`]), also copies the WAL into the database file in the background
//! ([`Checkpointer`]), so that no writer waits for the disk at a commit; the others
//! ([`Db::connect`]) leave that to it. A checkpoint is where SQLite calls `fsync` (twice) under
//! `synchronous=NORMAL`; done by the writing connection, as SQLite does by default every 1,000
//! pages, every statement queued behind it waited for the disk: on a slow disk, a fifth of the
//! emulator's throughput. Done by every instance as well, every 50 ms, the function processes
//! spent a tenth of their CPU on it (see docs/performance-log.md).

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

pub use group_commit::Pool;
use group_commit::Rounds;

#[cfg(feature = "sqlite")]
use group_commit::sqlite;
#[cfg(feature = "postgres")]
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
#[cfg(feature = "sqlite")]
use sqlx::sqlite::SqliteConnectOptions;

/// This crate's migrations (`migrations/`).
const MIGRATIONS: &[embedded_migrations::MigrationFile] = &[
    (
        20261130000001,
        "durable",
        include_str!("../migrations/20261130000001_durable.sql"),
    ),
    (
        20261207000001,
        "execution redrives",
        include_str!("../migrations/20261207000001_execution_redrives.sql"),
    ),
    (
        20261208000001,
        "payment declines",
        include_str!("../migrations/20261208000001_payment_declines.sql"),
    ),
];

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
    /// applies this crate's migrations, as one of the processes that use it: a SQLite file's WAL
    /// is checkpointed by its owner ([`Self::connect_owner`]), or by this connection once it has
    /// grown to `group_commit::sqlite::WAL_LIMIT_PAGES`.
    pub async fn connect(database_url: &str) -> Result<Self, DbError> {
        Self::open(database_url, false).await
    }

    /// Opens `database_url` as [`Self::connect`] does, as the process that owns it (the
    /// emulator): a SQLite file's WAL is also checkpointed in the background, and copied into the
    /// database file at [`Self::close`].
    pub async fn connect_owner(database_url: &str) -> Result<Self, DbError> {
        Self::open(database_url, true).await
    }

    /// `owner` matters for SQLite only (its background checkpoints).
    #[cfg_attr(not(feature = "sqlite"), allow(unused_variables))]
    async fn open(database_url: &str, owner: bool) -> Result<Self, DbError> {
        #[cfg(feature = "sqlite")]
        let mut checkpointer = None;
        let pool = if database_url.starts_with("sqlite:") {
            #[cfg(feature = "sqlite")]
            {
                let options = sqlite::options(database_url).map_err(DbError::Connect)?;
                if owner {
                    checkpointer = Some(Arc::new(Checkpointer::start(options.clone()).await?));
                }
                let connection = sqlite::Connection::open(options)
                    .await
                    .map_err(DbError::Connect)?;
                Pool::Sqlite(connection)
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
        db.pool
            .migrate(&migrator)
            .await
            .map_err(|e| DbError::Migrate("durable", e))?;
        Ok(db)
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

    /// Closes the pool (or SQLite's connection), waiting for the statements in flight, then, for
    /// the owner of a SQLite file, checkpoints what is left in its WAL.
    pub async fn close(&self) {
        on_pool!(self, pool => pool.close().await);
        #[cfg(feature = "sqlite")]
        if let Some(checkpointer) = &self.checkpointer {
            checkpointer.close().await;
        }
    }
}

/// Checkpoints SQLite's WAL from a connection of its own, every [`Self::EVERY`], so that the
/// connection that writes seldom waits for the disk (see the module documentation).
///
/// A checkpoint copies what the WAL holds into the database file while the writer goes on
/// appending (SQLite's `PASSIVE` mode). The WAL file starts again from its beginning only when a
/// write begins with all of it copied, which under steady load a checkpoint from another
/// connection never achieves (the writer has always appended more in the meantime). So the
/// writer keeps SQLite's own checkpoint too, after `group_commit::sqlite::WAL_LIMIT_PAGES` instead of 1,000
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
    connection: sqlite::Connection,
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
    async fn start(options: SqliteConnectOptions) -> Result<Self, DbError> {
        let connection = sqlite::Connection::open(options)
            .await
            .map_err(DbError::Connect)?;
        let (stop, mut stopping) = tokio::sync::watch::channel(false);
        let checkpoints = connection.clone();
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
            connection,
            stop,
            task: tokio::sync::Mutex::new(Some(task)),
        })
    }

    /// Copies what it can of the WAL, waiting for no one.
    async fn checkpoint(connection: &sqlite::Connection) -> Result<(), sqlx::Error> {
        sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(connection)
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
        if self.connection.is_closed().await {
            return;
        }
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&self.connection)
            .await
        {
            tracing::warn!("could not checkpoint the WAL at close: {e}");
        }
        self.connection.close().await;
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
