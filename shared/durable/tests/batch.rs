//! Group commit (the `group-commit` crate) on a `Db`'s rounds, each scenario on SQLite and on PostgreSQL: rows of several
//! kinds that arrive together are written in one round (one transaction), each writer learns
//! whether its own row was written, and a statement that fails fails its own rows only.
//!
//! The writes of a scenario are started together with `tokio::join!` on the test's one-thread
//! runtime, so that they are all queued before the writer runs: one round.

// Only `on_both_databases!` of the support module is used here.
#[allow(dead_code)]
mod support;

use durable::{Db, on_pool};
use group_commit::{Arg, BatchedWrite};

support::on_both_databases!(
    rows_of_several_kinds_arriving_together_are_all_written,
    a_failing_statement_fails_only_its_own_rows,
);

/// Two tables (`batch_a`, `batch_b`) and a writer of each.
async fn two_kinds(db: &Db) -> (BatchedWrite, BatchedWrite) {
    for table in ["batch_a", "batch_b"] {
        let create = format!("CREATE TABLE {table} (id TEXT PRIMARY KEY, n BIGINT NOT NULL)");
        on_pool!(db, pool => sqlx::query(sqlx::AssertSqlSafe(create)).execute(pool).await.map(drop))
            .expect("creates a table");
    }
    (
        BatchedWrite::new(
            db.rounds(),
            "INSERT INTO batch_a (id, n) VALUES",
            "ON CONFLICT (id) DO NOTHING RETURNING id",
        ),
        BatchedWrite::new(
            db.rounds(),
            "INSERT INTO batch_b (id, n) VALUES",
            "ON CONFLICT (id) DO NOTHING RETURNING id",
        ),
    )
}

fn row(id: &str, n: Option<i64>) -> Vec<Arg> {
    vec![Arg::Text(Some(id.to_owned())), Arg::Int(n)]
}

async fn ids(db: &Db, table: &str) -> Vec<String> {
    let select = format!("SELECT id FROM {table} ORDER BY id");
    on_pool!(db, pool => sqlx::query_scalar(sqlx::AssertSqlSafe(select)).fetch_all(pool).await)
        .expect("reads")
}

mod scenarios {
    use super::*;

    pub async fn rows_of_several_kinds_arriving_together_are_all_written(db: Db, _url: String) {
        let (a, b) = two_kinds(&db).await;
        let (first, again, other, of_b) = tokio::join!(
            a.write("x".into(), row("x", Some(1))),
            a.write("x".into(), row("x", Some(2))),
            a.write("y".into(), row("y", Some(3))),
            b.write("x".into(), row("x", Some(4))),
        );
        assert!(
            first.expect("written"),
            "the first writer of a key writes it"
        );
        assert!(
            !again.expect("answered"),
            "the second writer of that key does not"
        );
        assert!(other.expect("written"));
        assert!(
            of_b.expect("written"),
            "the same key in another table is another row"
        );
        assert_eq!(ids(&db, "batch_a").await, ["x", "y"]);
        assert_eq!(ids(&db, "batch_b").await, ["x"]);
    }

    pub async fn a_failing_statement_fails_only_its_own_rows(db: Db, _url: String) {
        let (a, b) = two_kinds(&db).await;
        let (refused, written) = tokio::join!(
            a.write("x".into(), row("x", None)),
            b.write("y".into(), row("y", Some(1))),
        );
        refused.expect_err("NULL in a NOT NULL column is refused");
        assert!(
            written.expect("the other statement of the round is written"),
            "written"
        );
        assert!(ids(&db, "batch_a").await.is_empty());
        assert_eq!(ids(&db, "batch_b").await, ["y"]);
    }
}
