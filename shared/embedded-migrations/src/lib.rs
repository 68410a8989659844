//! Migrations embedded in the binary, as `sqlx::migrate!` embeds them, without sqlx's macros:
//! with them, sqlx builds both database drivers (and SQLite's C code) a second time, for the
//! compiler, in every build. Each crate lists its files with `include_str!`, and a test of its own
//! checks the list against its `migrations` folder, so a new file cannot be forgotten.

use std::path::Path;

use sqlx::SqlSafeStr;
use sqlx::migrate::{Migration, MigrationType, Migrator};

/// One migration file: its version, its description (the file name's words, as sqlx names it)
/// and its SQL.
pub type MigrationFile = (i64, &'static str, &'static str);

/// A migrator for `files`, recording its history in `table` (each crate its own, beside the
/// others' in one database).
pub fn migrator(files: &[MigrationFile], table: &'static str) -> Migrator {
    let mut migrator = Migrator::with_migrations(
        files
            .iter()
            .map(|&(version, description, sql)| {
                Migration::new(
                    version,
                    description.into(),
                    MigrationType::Simple,
                    sql.into_sql_str(),
                    false,
                )
            })
            .collect(),
    );
    migrator.dangerous_set_table_name(table);
    migrator
}

/// Panics unless `files` are exactly the `.sql` files in `folder`, by version and description
/// (`VERSION_DESCRIPTION.sql`, as sqlx reads the names): for each crate's test of its list.
pub fn assert_every_file_listed(files: &[MigrationFile], folder: &Path) {
    let mut listed: Vec<(i64, String)> = files
        .iter()
        .map(|(version, description, _)| (*version, (*description).to_owned()))
        .collect();
    let mut found: Vec<(i64, String)> = std::fs::read_dir(folder)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            let (version, description) = name.strip_suffix(".sql")?.split_once('_')?;
            Some((version.parse().ok()?, description.replace('_', " ")))
        })
        .collect();
    listed.sort();
    found.sort();
    assert_eq!(
        listed,
        found,
        "the migrations listed in the code are not those in {}",
        folder.display()
    );
}
