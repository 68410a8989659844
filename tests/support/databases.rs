//! The test databases: the same tests run on SQLite (the default) or PostgreSQL
//! (`E2E_DATABASE=postgres`), each test on a database of its own that is removed when it ends,
//! and everything stored there can be read back as text, for the card-data scan.

use std::collections::BTreeMap;

use sqlx::{AssertSqlSafe, Connection};

use crate::logs::warn;

/// Where a test's emulator keeps everything it stores (the orders, and its own queues and
/// executions): `E2E_DATABASE` chooses the kind, and each test has one of its own, so that tests
/// running side by side never see each other's data.
pub(crate) enum TestDatabase {
    /// A SQLite file in a temporary directory, removed with the directory.
    Sqlite(tempfile::TempDir),
    /// A database created for the test on a PostgreSQL server, until [`TestDatabase::remove`].
    Postgres {
        server_url: String,
        name: String,
        url: String,
    },
}

impl TestDatabase {
    /// Creates the database `E2E_DATABASE` asks for: `sqlite` (the default) or `postgres`.
    pub(crate) async fn create() -> Self {
        match std::env::var("E2E_DATABASE").as_deref() {
            Err(std::env::VarError::NotPresent) | Ok("sqlite") => {
                Self::Sqlite(tempfile::tempdir().expect("temp dir"))
            }
            Ok("postgres") => {
                let server_url = order_store::testing::postgres_server();
                let name = format!("e2e_{}", uuid::Uuid::new_v4().simple());
                let url = order_store::create_database(&server_url, &name)
                    .await
                    .unwrap_or_else(|e| {
                        panic!(
                            "could not create the test database {name} on the PostgreSQL server \
                             at TEST_POSTGRES_URL (default {}): {}",
                            order_store::testing::DEFAULT_POSTGRES_URL,
                            order_store::testing::chain(&e)
                        )
                    });
                Self::Postgres {
                    server_url,
                    name,
                    url,
                }
            }
            Ok(other) => panic!(
                "E2E_DATABASE={other:?}: the end-to-end tests run on `sqlite` (the default) or \
                 `postgres`"
            ),
            Err(e) => panic!("E2E_DATABASE: {e}"),
        }
    }

    /// The URL the emulator is given.
    pub(crate) fn url(&self) -> String {
        match self {
            Self::Sqlite(dir) => {
                format!("sqlite://{}", dir.path().join("registrations.db").display())
            }
            Self::Postgres { url, .. } => url.clone(),
        }
    }

    /// Everything the database holds, as text, each piece with where it was read: the SQLite
    /// files (the database and its journal) byte for byte, or every table on PostgreSQL.
    pub(crate) async fn contents(&self) -> Vec<(String, String)> {
        match self {
            Self::Sqlite(dir) => std::fs::read_dir(dir.path())
                .expect("database dir listing")
                .map(|entry| {
                    let path = entry.expect("entry").path();
                    let bytes = std::fs::read(&path).expect("database file");
                    (
                        path.display().to_string(),
                        String::from_utf8_lossy(&bytes).into_owned(),
                    )
                })
                .collect(),
            Self::Postgres { url, .. } => postgres_tables(url).await,
        }
    }

    /// Drops a PostgreSQL database, closing whatever connections it still has; a failure is a
    /// warning, not a failed test. (A SQLite directory goes when the value is dropped.)
    pub(crate) async fn remove(&self) {
        if let Self::Postgres {
            server_url, name, ..
        } = self
            && let Err(e) = order_store::drop_database(server_url, name).await
        {
            warn(format_args!(
                "could not drop the test database {name}: {}",
                order_store::testing::chain(&e)
            ));
        }
    }
}

/// The rows of every table of the PostgreSQL database at `url`, one line each, named by table.
/// Each column is read as text, as the database would show it; a `bytea` column as escaped text
/// (`encode(…, 'escape')`), not as hex, so that the words in it can be read.
async fn postgres_tables(url: &str) -> Vec<(String, String)> {
    let mut connection = sqlx::PgConnection::connect(url)
        .await
        .expect("the test database accepts a connection");
    let columns: Vec<(String, String, String, String)> = sqlx::query_as(
        "SELECT table_schema::text, table_name::text, column_name::text, data_type::text \
         FROM information_schema.columns \
         WHERE table_schema <> 'information_schema' AND table_schema NOT LIKE 'pg\\_%' \
         ORDER BY table_schema, table_name, ordinal_position",
    )
    .fetch_all(&mut connection)
    .await
    .expect("the database's columns");
    let mut tables: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (schema, table, column, data_type) in columns {
        let column = quoted(&column);
        tables
            .entry(format!("{}.{}", quoted(&schema), quoted(&table)))
            .or_default()
            .push(if data_type == "bytea" {
                format!("encode({column}, 'escape')")
            } else {
                format!("{column}::text")
            });
    }
    let mut contents = Vec::new();
    for (table, columns) in tables {
        let rows: Vec<String> = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT concat_ws(' | ', {}) FROM {table}",
            columns.join(", ")
        )))
        .fetch_all(&mut connection)
        .await
        .unwrap_or_else(|e| panic!("could not read table {table}: {e}"));
        contents.push((format!("table {table}"), rows.join("\n")));
    }
    connection
        .close()
        .await
        .expect("the connection to the test database closes");
    contents
}

/// `identifier` quoted for SQL.
fn quoted(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}
