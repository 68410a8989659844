//! The SQL declined-payments ledger (`durable::SqlDeclineLedger`, the port of
//! `clients::declines`), each scenario on SQLite and on PostgreSQL.
//!
//! Covered, because the payment function's card-testing defence stands on it: declines count per
//! subject, from every process sharing the database; a subject at its limit waits until its
//! oldest counted decline leaves the window, and is free after; other subjects are never held
//! back; declines older than the window are deleted as new ones are recorded.

mod support;

use std::time::Duration;

use clients::declines::{DeclineLedger, Limit};
use durable::{Db, SqlDeclineLedger};

const WINDOW: Duration = Duration::from_secs(3600);

support::on_both_databases!(
    a_subject_at_its_limit_waits_for_its_oldest_decline_to_leave_the_window,
    old_declines_are_forgotten_as_new_ones_come,
);

fn limit(subject: &str, max_declines: u32) -> Limit {
    Limit {
        subject: subject.to_owned(),
        max_declines,
    }
}

async fn count(db: &Db, subject: &str) -> i64 {
    durable::on_pool!(db, pool => sqlx::query_scalar(
        "SELECT COUNT(*) FROM payment_declines WHERE subject = $1",
    )
    .bind(subject)
    .fetch_one(pool)
    .await)
    .expect("counts")
}

mod scenarios {
    use super::*;
    use crate::support::{connect, skip};

    pub async fn a_subject_at_its_limit_waits_for_its_oldest_decline_to_leave_the_window(
        db: Db,
        url: String,
    ) {
        let other_db = connect(&url).await;
        let (one, other) = (
            SqlDeclineLedger::new(db.clone()),
            SqlDeclineLedger::new(other_db.clone()),
        );
        let card = || limit("card:a", 3);
        let subjects = ["card:a".to_owned(), "address:b".to_owned()];
        one.record(&subjects, WINDOW).await.expect("records");
        skip(Duration::from_secs(600)).await;
        // The second process's declines count with the first's.
        other.record(&subjects[..1], WINDOW).await.expect("records");
        assert_eq!(
            one.blocked_for(&[card()], WINDOW).await.expect("reads"),
            None
        );
        other.record(&subjects[..1], WINDOW).await.expect("records");
        let wait = one
            .blocked_for(&[card(), limit("address:b", 5)], WINDOW)
            .await
            .expect("reads")
            .expect("at the card's limit");
        // The first decline, ten minutes old, leaves the window in fifty.
        assert!(
            wait <= Duration::from_secs(3000) && wait > Duration::from_secs(2990),
            "{wait:?}"
        );
        // Another card, email or address is not held back by these.
        assert_eq!(
            other
                .blocked_for(&[limit("card:c", 1), limit("address:b", 2)], WINDOW)
                .await
                .expect("reads"),
            None
        );
        skip(wait).await;
        assert_eq!(
            one.blocked_for(&[card()], WINDOW).await.expect("reads"),
            None,
            "free once the oldest decline has left the window"
        );
        other_db.close().await;
    }

    pub async fn old_declines_are_forgotten_as_new_ones_come(db: Db, _url: String) {
        let ledger = SqlDeclineLedger::new(db.clone());
        let subjects = ["email:a".to_owned()];
        ledger.record(&subjects, WINDOW).await.expect("records");
        ledger.record(&subjects, WINDOW).await.expect("records");
        skip(WINDOW + Duration::from_secs(1)).await;
        assert_eq!(
            ledger
                .blocked_for(&[limit("email:a", 1)], WINDOW)
                .await
                .expect("reads"),
            None
        );
        ledger.record(&subjects, WINDOW).await.expect("records");
        assert_eq!(count(&db, "email:a").await, 1, "the two old rows are gone");
    }
}
