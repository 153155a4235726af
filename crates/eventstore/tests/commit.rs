//! A commit whose answer is lost: the connection breaks after COMMIT was sent. The server may
//! have committed or not; the transaction asks it, rather than reporting a failure that may not
//! be one (a caller retrying a committed command would apply it twice, or be told it was refused).

use std::time::Duration;

use comms_eventstore::{EventStore, ExpectedVersion, NewEvent, StreamName};
use comms_testkit::{FaultProxy, Link, TestDatabase};
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

/// A store reaching the test's database through a proxy the test controls.
async fn store_behind(proxy: &FaultProxy, db: &TestDatabase) -> EventStore {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .acquire_timeout(Duration::from_secs(2))
        .connect(&proxy.url(&db.url))
        .await
        .unwrap();
    EventStore::new(pool)
}

async fn stored(pool: &PgPool, id: Uuid) -> bool {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM events WHERE event_id = $1)")
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_commit_that_happened_with_its_answer_lost_is_reported_committed() {
    let db = TestDatabase::new().await;
    let proxy = FaultProxy::to(&db.url).await;
    let store = store_behind(&proxy, &db).await;
    let event = NewEvent::new("test.happened", json!({}), json!({}));
    let id = event.event_id;
    let mut tx = store.begin().await.unwrap();
    tx.append(
        "org_a",
        &StreamName::new("test", Uuid::new_v4()),
        ExpectedVersion::NoStream,
        vec![event],
    )
    .await
    .unwrap();
    // The server hears the COMMIT; its answer is held, then the connection breaks.
    proxy.set(Link::DeafAfter(b"COMMIT"));
    let break_after_the_commit = async {
        while !stored(&db.pool, id).await {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        proxy.set(Link::Cut);
        tokio::time::sleep(Duration::from_millis(300)).await;
        proxy.set(Link::Up);
    };
    let (committed, ()) = tokio::join!(tx.commit(), break_after_the_commit);
    committed.expect("the transaction had committed");
}

#[tokio::test]
async fn a_commit_that_never_reached_the_server_is_reported_failed() {
    let db = TestDatabase::new().await;
    let proxy = FaultProxy::to(&db.url).await;
    let store = store_behind(&proxy, &db).await;
    let event = NewEvent::new("test.happened", json!({}), json!({}));
    let id = event.event_id;
    let mut tx = store.begin().await.unwrap();
    tx.append(
        "org_a",
        &StreamName::new("test", Uuid::new_v4()),
        ExpectedVersion::NoStream,
        vec![event],
    )
    .await
    .unwrap();
    // The connection breaks before the COMMIT leaves; the server rolls the transaction back.
    proxy.set(Link::Cut);
    let heal = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        proxy.set(Link::Up);
    };
    let (committed, ()) = tokio::join!(tx.commit(), heal);
    assert!(committed.is_err(), "{committed:?}");
    assert!(!stored(&db.pool, id).await);
}

/// The server ends a session it gave up on (here: idle in a transaction past its limit, as when
/// the link went silent mid-transaction) with an error of its own before closing it. That is the
/// database being unreachable for this attempt, to be retried, not an internal error: a provider's
/// report that met it used to be dropped, and its call stayed answered forever.
#[tokio::test]
async fn a_session_the_server_ended_is_reported_unavailable() {
    let db = TestDatabase::new().await;
    let mut tx = db.pool.begin().await.unwrap();
    sqlx::query("SET LOCAL idle_in_transaction_session_timeout = '100ms'")
        .execute(&mut *tx)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let error = sqlx::query("SELECT 1")
        .execute(&mut *tx)
        .await
        .expect_err("the server ended the session");
    let reported = comms_eventstore::unit_of_work::api_error(error);
    assert_eq!(
        reported.kind,
        comms_proto::ErrorKind::Unavailable,
        "{}",
        reported.message
    );
}
