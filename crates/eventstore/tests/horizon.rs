//! What readers of the global order wait for (migrations/0020): a running transaction that may
//! append holds them back, however long; one that does not append holds back no one, however
//! long; and a transaction that wrote before declaring it appends cannot append.

use comms_eventstore::{
    BEGIN_APPENDING, Checkpoint, Error, EventStore, ExpectedVersion, Filter, NewEvent, StreamName,
};
use comms_testkit::TestDatabase;
use serde_json::json;
use uuid::Uuid;

fn event() -> NewEvent {
    NewEvent::new("test.happened", json!({}), json!({}))
}

async fn readable(store: &EventStore) -> Vec<Uuid> {
    store
        .read_all(Checkpoint::START, &Filter::All, 100)
        .await
        .unwrap()
        .iter()
        .map(|e| e.event_id)
        .collect()
}

/// What a reader sees once `n` events are readable. Transactions of other tests on the same
/// server that are ending as a reader looks are waited for, so visibility may take a moment.
async fn readable_once(store: &EventStore, n: usize) -> Vec<Uuid> {
    for _ in 0..200 {
        let events = readable(store).await;
        if events.len() >= n {
            return events;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("{n} events never became readable")
}

/// Appends one event on its own and returns its id.
async fn append_alone(store: &EventStore) -> Uuid {
    let event = event();
    let id = event.event_id;
    let stream = StreamName::new("test", Uuid::new_v4());
    store
        .append("org_a", &stream, ExpectedVersion::NoStream, vec![event])
        .await
        .unwrap();
    id
}

#[tokio::test]
async fn a_long_transaction_that_does_not_append_holds_back_no_reader() {
    let db = TestDatabase::new().await;
    let store = EventStore::new(db.pool.clone());
    // A projection's transaction: it has written (so it holds a transaction id older than the
    // append below) and stays open, as one blocked on a lock would.
    let mut projection = db.pool.begin().await.unwrap();
    sqlx::query("INSERT INTO processed_messages (consumer, message_id) VALUES ('test', $1)")
        .bind(Uuid::new_v4())
        .execute(&mut *projection)
        .await
        .unwrap();
    let later = append_alone(&store).await;
    assert_eq!(readable_once(&store, 1).await, vec![later]);
    projection.rollback().await.unwrap();
}

#[tokio::test]
async fn a_running_transaction_that_may_append_holds_back_every_reader_until_it_ends() {
    let db = TestDatabase::new().await;
    let store = EventStore::new(db.pool.clone());
    let mut unit_of_work = store.begin().await.unwrap();
    sqlx::query("INSERT INTO processed_messages (consumer, message_id) VALUES ('test', $1)")
        .bind(Uuid::new_v4())
        .execute(unit_of_work.conn())
        .await
        .unwrap();
    let later = append_alone(&store).await;
    assert!(
        readable(&store).await.is_empty(),
        "a reader passed a transaction that may still append below it"
    );
    let stream = StreamName::new("test", Uuid::new_v4());
    let early = event();
    let early_id = early.event_id;
    unit_of_work
        .append("org_a", &stream, ExpectedVersion::NoStream, vec![early])
        .await
        .unwrap();
    unit_of_work.commit().await.unwrap();
    assert_eq!(readable_once(&store, 2).await, vec![early_id, later]);
}

#[tokio::test]
async fn an_append_after_undeclared_writes_is_refused_and_one_declared_first_is_not() {
    let db = TestDatabase::new().await;
    let store = EventStore::new(db.pool.clone());
    let write_then_append = |begin: Option<&'static str>| {
        let pool = db.pool.clone();
        async move {
            let mut tx = match begin {
                Some(statement) => pool.begin_with(statement).await.unwrap(),
                None => pool.begin().await.unwrap(),
            };
            sqlx::query(
                "INSERT INTO processed_messages (consumer, message_id) VALUES ('test', $1)",
            )
            .bind(Uuid::new_v4())
            .execute(&mut *tx)
            .await
            .unwrap();
            let stream = StreamName::new("test", Uuid::new_v4());
            let appended = comms_eventstore::append_in(
                &mut tx,
                "org_a",
                &stream,
                ExpectedVersion::NoStream,
                vec![event()],
            )
            .await;
            if appended.is_ok() {
                tx.commit().await.unwrap();
            }
            appended
        }
    };
    let refused = write_then_append(None).await;
    assert!(
        matches!(refused, Err(Error::UndeclaredAppend { .. })),
        "{refused:?}"
    );
    write_then_append(Some(BEGIN_APPENDING)).await.unwrap();
    // An append that is its transaction's first write declares it by itself.
    let mut tx = db.pool.begin().await.unwrap();
    let stream = StreamName::new("test", Uuid::new_v4());
    comms_eventstore::append_in(
        &mut tx,
        "org_a",
        &stream,
        ExpectedVersion::NoStream,
        vec![event()],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(readable_once(&store, 2).await.len(), 2);
}
