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
//! SQLite gets one connection. SQLite lets one writer in at a time, and a second connection that
//! wants to write waits in SQLite's busy handler, which sleeps in steps of milliseconds; queueing
//! statements on one connection is both faster and fairer. The journal is WAL with
//! `synchronous=NORMAL`: a commit is durable against a crash of the process (what the emulator
//! needs), not against a power cut of the machine.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

#[cfg(feature = "postgres")]
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
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
    #[error("a batched write failed: {0}")]
    Batch(String),
}

/// The URLs this build opens, for the error of another.
const SUPPORTED: &str = if cfg!(all(feature = "sqlite", feature = "postgres")) {
    "sqlite:… or postgres://…"
} else if cfg!(feature = "sqlite") {
    "sqlite:… (this build has no PostgreSQL)"
} else {
    "postgres://… (this build has no SQLite)"
};

/// An open pool of either database.
#[derive(Debug, Clone)]
pub enum Pool {
    #[cfg(feature = "sqlite")]
    Sqlite(SqlitePool),
    #[cfg(feature = "postgres")]
    Postgres(PgPool),
}

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
}

impl Db {
    /// Opens `database_url` (`sqlite:…`, created if missing; `postgres://…`, which must exist) and
    /// applies this crate's migrations.
    pub async fn connect(database_url: &str) -> Result<Self, DbError> {
        let pool = if database_url.starts_with("sqlite:") {
            Self::sqlite(database_url).await?
        } else if database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://")
        {
            Self::postgres(database_url).await?
        } else {
            return Err(DbError::UnsupportedUrl);
        };
        let db = Self {
            pool,
            clock: Arc::new(Clock::new()),
        };
        // Beside other crates' migrations in the same database (the order store's, the
        // emulator's), each with its own history table.
        let migrator = embedded_migrations::migrator(MIGRATIONS, "_durable_migrations");
        on_pool!(db, pool => migrator.run(pool).await)
            .map_err(|e| DbError::Migrate("durable", e))?;
        Ok(db)
    }

    #[cfg(feature = "sqlite")]
    async fn sqlite(database_url: &str) -> Result<Pool, DbError> {
        let options = SqliteConnectOptions::from_str(database_url)
            .map_err(DbError::Connect)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            // 8 MiB of page cache (SQLite's default is 2 MiB): listings and counts of a
            // long-running emulator stay in memory.
            .pragma("cache_size", "-8192")
            .busy_timeout(ACQUIRE_TIMEOUT);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            // No ping before each statement: the connection is a thread of this process, not a
            // socket that can go stale, and sqlx's ping is one more hop to that thread and back
            // for every statement (the default, made for network databases).
            .test_before_acquire(false)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(DbError::Connect)?;
        Ok(Pool::Sqlite(pool))
    }

    #[cfg(not(feature = "sqlite"))]
    async fn sqlite(_: &str) -> Result<Pool, DbError> {
        Err(DbError::UnsupportedUrl)
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

    /// Now, in milliseconds since the Unix epoch.
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Closes the pool, waiting for the statements in flight.
    pub async fn close(&self) {
        on_pool!(self, pool => pool.close().await);
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
