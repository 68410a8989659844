//! The stores' behaviour, written once and run against both stores.
//!
//! Each scenario is an async fn taking the store under test (and the URL it was opened with, to
//! reconnect). `scenarios_on_both_stores!` turns each into two tests, `sqlite::<scenario>` on a
//! file in a temporary directory and `postgres::<scenario>` on a fresh database, so the two stores
//! cannot drift apart unnoticed.
//!
//! Each PostgreSQL test runs on its own `store_test_<uuid>` database
//! ([`order_store::testing::with_fresh_database`]: dropped afterwards, skipped without a server
//! unless CI or `REQUIRE_POSTGRES` is set).

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use order_store::testing::chain;
use order_store::{OrderStore, StoreError};

macro_rules! scenarios_on_both_stores {
    ($($scenario:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $scenario() {
                    crate::on_sqlite(crate::scenarios::$scenario).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $scenario() {
                    crate::on_postgres(crate::scenarios::$scenario).await;
                }
            )+
        }
    };
}

scenarios_on_both_stores!(
    saves_once_per_order_id,
    lists_orders_oldest_first_as_saved,
    round_trips_every_field,
    reconnecting_applies_nothing_new_and_sees_the_rows,
    concurrent_saves_of_one_order_store_one_row,
    pages_newest_first_and_counts,
);

mod scenarios {
    use std::sync::Arc;
    use std::time::Duration;

    use chrono::{DateTime, SubsecRound, Utc};
    use domain::OrderPlaced;
    use order_store::{OrderStore, Saved};
    use serde_json::{Value, json};

    /// The example order with another id, e-mail and whatever else `edit` changes.
    fn order(id: &str, email: &str, edit: impl FnOnce(&mut Value)) -> OrderPlaced {
        let mut order: Value = serde_json::from_str(include_str!(
            "../../../shared/domain/data/order-placed.example.json"
        ))
        .expect("JSON");
        order["orderId"] = json!(id);
        order["attendee"]["email"] = json!(email);
        edit(&mut order);
        OrderPlaced::from_value(order).expect("valid order")
    }

    pub async fn saves_once_per_order_id(store: Arc<dyn OrderStore>, _url: String) {
        let ada = order(
            "0b6e5b2c-9a55-4cde-8b27-3b4a8e3f9c10",
            "ada@example.org",
            |_| {},
        );
        assert_eq!(store.save(&ada).await.expect("saves"), Saved::Inserted);
        assert_eq!(store.save(&ada).await.expect("saves"), Saved::AlreadyStored);
        let stored = store.orders().await.expect("lists");
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0].order, ada);
    }

    pub async fn pages_newest_first_and_counts(store: Arc<dyn OrderStore>, _url: String) {
        let ids = [
            "fb6e5b2c-9a55-4cde-8b27-3b4a8e3f9c10",
            "0b6e5b2c-9a55-4cde-8b27-3b4a8e3f9c10",
            "7b6e5b2c-9a55-4cde-8b27-3b4a8e3f9c10",
        ];
        for id in ids {
            store
                .save(&order(id, "ada@example.org", |_| {}))
                .await
                .expect("saves");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        assert_eq!(store.count().await.expect("counts"), 3);
        let first = store.recent(2, None).await.expect("lists");
        let id = |stored: &order_store::StoredOrder| stored.order.order_id.to_string();
        assert_eq!(first.iter().map(id).collect::<Vec<_>>(), [ids[2], ids[1]]);
        let last = &first[1];
        let rest = store
            .recent(2, Some((last.stored_at, id(last))))
            .await
            .expect("lists");
        assert_eq!(rest.iter().map(id).collect::<Vec<_>>(), [ids[0]]);
    }

    pub async fn lists_orders_oldest_first_as_saved(store: Arc<dyn OrderStore>, _url: String) {
        // The first order saved has the greater id, so listing by id would get them backwards.
        let first = order(
            "fb6e5b2c-9a55-4cde-8b27-3b4a8e3f9c10",
            "ada@example.org",
            |_| {},
        );
        let second = order(
            "0b6e5b2c-9a55-4cde-8b27-3b4a8e3f9c10",
            "bob@example.org",
            |_| {},
        );
        let before = Utc::now().trunc_subsecs(6);
        assert_eq!(store.save(&first).await.expect("saves"), Saved::Inserted);
        tokio::time::sleep(Duration::from_millis(2)).await;
        assert_eq!(store.save(&second).await.expect("saves"), Saved::Inserted);
        let after = Utc::now();

        let stored = store.orders().await.expect("lists");
        let orders: Vec<_> = stored.iter().map(|s| s.order.clone()).collect();
        assert_eq!(orders, [first, second]);
        assert!(stored[0].stored_at < stored[1].stored_at, "{stored:?}");
        assert!(
            stored[0].stored_at >= before && stored[1].stored_at <= after,
            "stored between {before} and {after}: {stored:?}"
        );
    }

    pub async fn round_trips_every_field(store: Arc<dyn OrderStore>, _url: String) {
        let placed_at: DateTime<Utc> = "2026-11-26T10:00:00.123456789Z".parse().expect("time");
        let yen = order(
            "2b6e5b2c-9a55-4cde-8b27-3b4a8e3f9c10",
            "kenji@example.jp",
            |o| {
                o["placedAt"] = json!(placed_at);
                o["amount"] = json!({"value": "25000", "currency": "JPY"});
                o["attendee"]["firstName"] = json!("Kenji");
                o["attendee"]["lastName"] = json!("Miyazawa");
                o["attendee"]
                    .as_object_mut()
                    .expect("object")
                    .remove("organization");
                o["newsletter"] = json!(false);
            },
        );
        let cents = order(
            "3b6e5b2c-9a55-4cde-8b27-3b4a8e3f9c10",
            "zoe@example.org",
            |o| {
                o["amount"] = json!({"value": "0.05", "currency": "EUR"});
                o["ticket"] = json!({"id": "workshop", "name": "Workshop — Rust & SQL"});
                o["attendee"]["organization"] = json!("Société O'Brien");
            },
        );
        for order in [&yen, &cents] {
            assert_eq!(store.save(order).await.expect("saves"), Saved::Inserted);
        }

        let stored = store.orders().await.expect("lists");
        let orders: Vec<_> = stored.into_iter().map(|s| s.order).collect();
        // Times are kept to the microsecond; everything else exactly.
        let mut yen_to_the_microsecond = yen;
        yen_to_the_microsecond.placed_at = placed_at.trunc_subsecs(6);
        assert_eq!(orders, [yen_to_the_microsecond, cents]);
    }

    pub async fn reconnecting_applies_nothing_new_and_sees_the_rows(
        store: Arc<dyn OrderStore>,
        url: String,
    ) {
        for (id, email) in [
            ("0b6e5b2c-9a55-4cde-8b27-3b4a8e3f9c10", "ada@example.org"),
            ("1b6e5b2c-9a55-4cde-8b27-3b4a8e3f9c10", "bob@example.org"),
        ] {
            let saved = store.save(&order(id, email, |_| {})).await.expect("saves");
            assert_eq!(saved, Saved::Inserted);
        }
        // Re-applying the first migration would fail (its table exists), so connecting again at
        // all shows that the migrator found nothing new to apply.
        let again = order_store::connect(&url).await.expect("reconnects");
        assert_eq!(
            again.orders().await.expect("lists"),
            store.orders().await.expect("lists")
        );
        assert_eq!(again.orders().await.expect("lists").len(), 2);
    }

    pub async fn concurrent_saves_of_one_order_store_one_row(
        store: Arc<dyn OrderStore>,
        _url: String,
    ) {
        let ada = order(
            "0b6e5b2c-9a55-4cde-8b27-3b4a8e3f9c10",
            "ada@example.org",
            |_| {},
        );
        let saves: Vec<_> = (0..8)
            .map(|_| {
                let (store, ada) = (store.clone(), ada.clone());
                tokio::spawn(async move { store.save(&ada).await })
            })
            .collect();
        let mut inserted = 0;
        for save in saves {
            match save.await.expect("task").expect("saves") {
                Saved::Inserted => inserted += 1,
                Saved::AlreadyStored => {}
            }
        }
        assert_eq!(inserted, 1, "exactly one save inserts");
        let stored = store.orders().await.expect("lists");
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0].order, ada);
    }
}

/// Runs `scenario` on a SQLite store in a fresh temporary directory.
async fn on_sqlite<F, Fut>(scenario: F)
where
    F: FnOnce(Arc<dyn OrderStore>, String) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}/orders.db", dir.path().display());
    let store = order_store::connect(&url)
        .await
        .expect("connects and migrates");
    scenario(store, url).await;
}

/// Runs `scenario` on a PostgreSQL store in a fresh database.
async fn on_postgres<F, Fut>(scenario: F)
where
    F: FnOnce(Arc<dyn OrderStore>, String) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    order_store::testing::with_fresh_database("store_test", |url| async move {
        let store = order_store::connect(&url)
            .await
            .unwrap_or_else(|e| panic!("connects and migrates: {}", chain(&e)));
        scenario(store, url).await;
    })
    .await;
}

#[tokio::test]
async fn connect_rejects_other_schemes_without_echoing_the_url() {
    for url in [
        "mysql://user:secret@localhost/x",
        "postgres:/secret",
        "secret",
    ] {
        let err = order_store::connect(url).await.err().expect("rejected");
        assert!(matches!(err, StoreError::UnsupportedUrl(_)), "{url}: {err}");
        assert!(!err.to_string().contains("secret"), "{err}");
        assert!(err.to_string().contains("postgres://"), "{err}");
    }
}

#[tokio::test]
async fn a_postgres_server_that_is_down_fails_fast_as_connect() {
    let started = Instant::now();
    let err = order_store::connect("postgres://postgres@127.0.0.1:1/orders")
        .await
        .err()
        .expect("nothing listens on port 1");
    assert!(matches!(err, StoreError::Connect(_)), "{}", chain(&err));
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
}

/// Managed PostgreSQL (RDS, Azure's Flexible Server) refuses connections without TLS: a URL with
/// `sslmode=require` connects, and over TLS. (The local server has TLS on, as Debian's package
/// sets it up.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_url_that_requires_tls_connects_over_tls() {
    order_store::testing::with_fresh_database("store_test", |url| async move {
        let url = format!("{url}?sslmode=require");
        order_store::connect(&url)
            .await
            .unwrap_or_else(|e| panic!("connects over TLS: {}", chain(&e)));
        let pool = sqlx::PgPool::connect(&url).await.expect("connects");
        let encrypted: bool =
            sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
                .fetch_one(&pool)
                .await
                .expect("pg_stat_ssl");
        assert!(encrypted, "the connection is not encrypted");
        pool.close().await;
    })
    .await;
}

#[tokio::test]
async fn create_database_checks_the_name_before_connecting() {
    let err = order_store::create_database("postgres://postgres@127.0.0.1:1", "Robert'); DROP")
        .await
        .expect_err("rejected");
    assert!(matches!(err, StoreError::InvalidDatabaseName(_)), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_and_drop_database_on_postgres() {
    order_store::testing::with_fresh_database("store_test", |url| async move {
        let server = url.rsplit_once('/').expect("a path").0.to_owned();
        let name = url.rsplit_once('/').expect("a path").1.to_owned();
        // The database exists: creating it again fails, connecting works.
        let err = order_store::create_database(&server, &name)
            .await
            .expect_err("already exists");
        assert!(matches!(err, StoreError::Query(_)), "{}", chain(&err));
        let store = order_store::connect(&url).await.expect("connects");
        // Dropping closes the store's connections; dropping again is fine.
        order_store::drop_database(&server, &name)
            .await
            .expect("drops");
        order_store::drop_database(&server, &name)
            .await
            .expect("drops nothing");
        assert!(store.orders().await.is_err(), "the database is gone");
        let err = order_store::connect(&url).await.err().expect("gone");
        assert!(matches!(err, StoreError::Connect(_)), "{}", chain(&err));
    })
    .await;
}
