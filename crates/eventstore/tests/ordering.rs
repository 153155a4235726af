//! Global order: readers of `$all` never skip an event whose transaction commits late, and each
//! stream's events keep their order in it.

use std::collections::HashSet;
use std::time::Duration;

use comms_eventstore::{
    Checkpoint, Error, EventStore, ExpectedVersion, Filter, NewEvent, RecordedEvent, StreamName,
};
use comms_testkit::TestDatabase;
use serde_json::json;
use uuid::Uuid;

const WRITERS: usize = 16;
const APPENDS_PER_WRITER: usize = 12;

/// A pseudo-random delay in 0..400 ms, from a fresh uuid (no rand dependency for one number).
fn random_delay() -> Duration {
    Duration::from_millis(u64::from(Uuid::new_v4().as_bytes()[0]) * 400 / 256)
}

async fn follow(store: EventStore, name: &str, expected: usize) -> Vec<RecordedEvent> {
    let mut subscription = store.subscribe(name, Checkpoint::START, Filter::All);
    let mut seen = Vec::new();
    while seen.len() < expected {
        let batch = tokio::time::timeout(Duration::from_secs(30), subscription.next_batch())
            .await
            .expect("subscriber kept up")
            .unwrap();
        seen.extend(batch);
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn subscribers_see_every_committed_event_exactly_once_in_one_order() {
    let store = EventStore::new(TestDatabase::new().await.pool);
    let total = WRITERS * APPENDS_PER_WRITER;
    let first = tokio::spawn(follow(store.clone(), "first", total));

    let mut writers = Vec::new();
    for writer in 0..WRITERS {
        let store = store.clone();
        writers.push(tokio::spawn(async move {
            let stream = StreamName::new("test", Uuid::new_v4());
            let mut ids = Vec::new();
            for n in 0..APPENDS_PER_WRITER {
                let event =
                    NewEvent::new("test.happened", json!({ "w": writer, "n": n }), json!({}));
                ids.push(event.event_id);
                let mut tx = store.begin().await.unwrap();
                tx.append("org_a", &stream, ExpectedVersion::Any, vec![event])
                    .await
                    .unwrap();
                // Every other writer holds its transaction open after writing, so later
                // global positions commit first: a reader by position alone would skip these.
                if writer % 2 == 0 {
                    tokio::time::sleep(random_delay()).await;
                }
                tx.commit().await.unwrap();
            }
            ids
        }));
    }
    let mut committed = HashSet::new();
    for writer in writers {
        committed.extend(writer.await.unwrap());
    }

    let first = first.await.unwrap();
    let second = follow(store.clone(), "second", total).await;

    let seen: Vec<Uuid> = first.iter().map(|e| e.event_id).collect();
    let unique: HashSet<Uuid> = seen.iter().copied().collect();
    assert_eq!(seen.len(), total, "no event seen twice");
    assert_eq!(unique, committed, "every committed event seen");
    let second: Vec<Uuid> = second.iter().map(|e| e.event_id).collect();
    assert_eq!(seen, second, "two subscribers see the same order");
    // Within each stream the global order keeps the stream order.
    let mut last_position = std::collections::HashMap::new();
    for event in &first {
        let previous = last_position.insert(event.stream_name.clone(), event.stream_position);
        assert_eq!(event.stream_position, previous.map_or(0, |p| p + 1));
    }
}

/// A transaction that writes something else first (as a consumer records the message it
/// applies) gets its id before it takes the stream's lock.
async fn begin_with_a_write(store: &EventStore) -> comms_eventstore::Transaction<'_> {
    let mut tx = store.begin().await.unwrap();
    sqlx::query("INSERT INTO scratch (note) VALUES ('written before the append')")
        .execute(tx.conn())
        .await
        .unwrap();
    tx
}

async fn store_with_scratch_table() -> EventStore {
    let db = TestDatabase::new().await;
    sqlx::query("CREATE TABLE scratch (note text NOT NULL)")
        .execute(&db.pool)
        .await
        .unwrap();
    EventStore::new(db.pool)
}

fn event(n: usize) -> NewEvent {
    NewEvent::new("test.happened", json!({ "n": n }), json!({}))
}

#[tokio::test]
async fn an_append_behind_a_newer_transactions_append_is_refused_as_a_conflict() {
    let store = store_with_scratch_table().await;
    let stream = StreamName::new("test", Uuid::new_v4());
    // The older transaction has its id; a newer one appends the stream's first event and commits.
    let mut older = begin_with_a_write(&store).await;
    let mut newer = begin_with_a_write(&store).await;
    newer
        .append("org_a", &stream, ExpectedVersion::Any, vec![event(0)])
        .await
        .unwrap();
    newer.commit().await.unwrap();

    // Were the older one to append position 1 now, readers (by transaction) would see it first.
    let refused = older
        .append("org_a", &stream, ExpectedVersion::Any, vec![event(1)])
        .await
        .unwrap_err();
    assert!(
        matches!(refused, Error::OlderTransaction { .. }),
        "{refused}"
    );
    assert!(comms_eventstore::unit_of_work::is_conflict(&refused));
    drop(older);
    // The retry, in a new transaction, appends in order.
    let mut retry = begin_with_a_write(&store).await;
    retry
        .append("org_a", &stream, ExpectedVersion::Exact(0), vec![event(1)])
        .await
        .unwrap();
    retry.commit().await.unwrap();
    let all = follow(store, "reader", 2).await;
    let positions: Vec<i64> = all.iter().map(|e| e.stream_position).collect();
    assert_eq!(positions, [0, 1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn writers_that_write_before_appending_keep_each_streams_order_in_global_order() {
    const SHARED_STREAMS: usize = 3;
    let store = store_with_scratch_table().await;
    let streams: Vec<StreamName> = (0..SHARED_STREAMS)
        .map(|_| StreamName::new("test", Uuid::new_v4()))
        .collect();
    let total = WRITERS * APPENDS_PER_WRITER;
    let reader = tokio::spawn(follow(store.clone(), "reader", total));
    let mut writers = Vec::new();
    for writer in 0..WRITERS {
        let (store, streams) = (store.clone(), streams.clone());
        writers.push(tokio::spawn(async move {
            let mut refusals = 0;
            for n in 0..APPENDS_PER_WRITER {
                let stream = &streams[(writer + n) % SHARED_STREAMS];
                loop {
                    let mut tx = begin_with_a_write(&store).await;
                    // Hold the early id a while, so other writers append the stream meanwhile.
                    tokio::time::sleep(random_delay() / 8).await;
                    let appended = tx
                        .append("org_a", stream, ExpectedVersion::Any, vec![event(n)])
                        .await;
                    match appended {
                        Ok(_) => break tx.commit().await.unwrap(),
                        Err(Error::OlderTransaction { .. }) => refusals += 1,
                        Err(other) => panic!("{other}"),
                    }
                }
            }
            refusals
        }));
    }
    let mut refusals = 0;
    for writer in writers {
        refusals += writer.await.unwrap();
    }
    let seen = reader.await.unwrap();
    assert_eq!(seen.len(), total);
    let mut last_position = std::collections::HashMap::new();
    for event in &seen {
        let previous = last_position.insert(event.stream_name.clone(), event.stream_position);
        assert_eq!(
            event.stream_position,
            previous.map_or(0, |p| p + 1),
            "{} out of order in global order",
            event.stream_name
        );
    }
    // The staged race happened (else this test proved nothing).
    assert!(
        refusals > 0,
        "no append was ever behind a newer transaction's"
    );
}

/// `read_all` returns only what is below every running transaction — of any test sharing the
/// server — so wait until `count` events are visible. Tests that stage a silent database link
/// leave a transaction open until the server ends it (`idle_in_transaction_session_timeout`,
/// 10 s): the wait allows for that.
async fn read_visible(
    store: &EventStore,
    after: Checkpoint,
    filter: &Filter,
    count: usize,
) -> Vec<RecordedEvent> {
    for _ in 0..1500 {
        let events = store.read_all(after, filter, 100).await.unwrap();
        if events.len() >= count {
            return events;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{count} events did not become visible");
}

#[tokio::test]
async fn category_reads_and_checkpoints_saved_with_the_effect() {
    let store = EventStore::new(TestDatabase::new().await.pool);
    for category in ["call", "agent", "call"] {
        let stream = StreamName::new(category, Uuid::new_v4());
        let event = NewEvent::new(format!("comms.{category}.x"), json!({}), json!({}));
        store
            .append("org_a", &stream, ExpectedVersion::NoStream, vec![event])
            .await
            .unwrap();
    }
    let calls = read_visible(
        &store,
        Checkpoint::START,
        &Filter::Category("call".into()),
        2,
    )
    .await;
    assert_eq!(calls.len(), 2);
    assert!(calls.iter().all(|e| e.stream_name.starts_with("call-")));

    // Reading on from a checkpoint returns only what follows it.
    let all = read_visible(&store, Checkpoint::START, &Filter::All, 3).await;
    assert_eq!(all.len(), 3);
    let rest = read_visible(&store, all[0].checkpoint(), &Filter::All, 2).await;
    assert_eq!(rest, all[1..]);

    // A checkpoint saved in a rolled-back transaction is not saved.
    let mut tx = store.begin().await.unwrap();
    all[2]
        .checkpoint()
        .save(tx.conn(), "projection")
        .await
        .unwrap();
    drop(tx);
    let mut conn = store.pool().acquire().await.unwrap();
    assert_eq!(
        Checkpoint::load(&mut conn, "projection").await.unwrap(),
        Checkpoint::START
    );
    let mut tx = store.begin().await.unwrap();
    all[2]
        .checkpoint()
        .save(tx.conn(), "projection")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        Checkpoint::load(&mut conn, "projection").await.unwrap(),
        all[2].checkpoint()
    );
}
