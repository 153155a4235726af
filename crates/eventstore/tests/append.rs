//! Appends against the real PostgreSQL: versions, conflicts, idempotency, tenancy.

use std::sync::Arc;

use comms_eventstore::{Error, EventStore, ExpectedVersion, NewEvent, StreamName};
use comms_testkit::TestDatabase;
use serde_json::json;
use tokio::sync::Barrier;
use uuid::Uuid;

fn event(n: u64) -> NewEvent {
    NewEvent::new("test.happened", json!({ "n": n }), json!({}))
}

async fn store() -> EventStore {
    EventStore::new(TestDatabase::new().await.pool)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_with_exact_versions_win_each_version_once() {
    let store = store().await;
    let stream = StreamName::new("test", Uuid::new_v4());
    const WRITERS: usize = 16;
    const ROUNDS: u64 = 8;
    let barrier = Arc::new(Barrier::new(WRITERS));

    let mut tasks = Vec::new();
    for writer in 0..WRITERS {
        let (store, stream, barrier) = (store.clone(), stream.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            let mut outcomes = Vec::new();
            for round in 0..ROUNDS {
                let expected = match round {
                    0 => ExpectedVersion::NoStream,
                    n => ExpectedVersion::Exact(n - 1),
                };
                barrier.wait().await;
                let result = store
                    .append("org_a", &stream, expected, vec![event(writer as u64)])
                    .await;
                outcomes.push(match result {
                    Ok(r) => {
                        assert_eq!(r.next_expected_version, round);
                        true
                    }
                    Err(Error::WrongExpectedVersion { .. }) => false,
                    Err(other) => panic!("unexpected error: {other}"),
                });
            }
            outcomes
        }));
    }
    let mut winners_per_round = vec![0; ROUNDS as usize];
    for task in tasks {
        for (round, won) in task.await.unwrap().into_iter().enumerate() {
            winners_per_round[round] += usize::from(won);
        }
    }
    assert_eq!(
        winners_per_round,
        vec![1; ROUNDS as usize],
        "each version won exactly once"
    );

    let events = store.read_stream(&stream, 0, 1000).await.unwrap();
    let positions: Vec<i64> = events.iter().map(|e| e.stream_position).collect();
    assert_eq!(
        positions,
        (0..ROUNDS as i64).collect::<Vec<_>>(),
        "no gaps, no duplicates"
    );
}

#[tokio::test]
async fn the_same_event_ids_appended_twice_are_stored_once() {
    let store = store().await;
    let stream = StreamName::new("test", Uuid::new_v4());
    let batch = vec![event(1), event(2), event(3)];

    let first = store
        .append("org_a", &stream, ExpectedVersion::NoStream, batch.clone())
        .await
        .unwrap();
    assert!(!first.already_stored);
    // A retry of the same append, with the same (now stale) expected version, succeeds quietly.
    let retry = store
        .append("org_a", &stream, ExpectedVersion::NoStream, batch.clone())
        .await
        .unwrap();
    assert!(retry.already_stored);
    assert_eq!(retry.next_expected_version, 2);
    // So does a retry that accepts any version.
    let retry = store
        .append("org_a", &stream, ExpectedVersion::Any, batch.clone())
        .await
        .unwrap();
    assert_eq!(
        (retry.already_stored, retry.next_expected_version),
        (true, 2)
    );
    assert_eq!(store.read_stream(&stream, 0, 100).await.unwrap().len(), 3);

    // Part of a stored append, or a stored id in another stream, is a conflict, not a retry.
    let partial = vec![batch[0].clone(), event(4)];
    let err = store
        .append("org_a", &stream, ExpectedVersion::Any, partial)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::EventIdConflict { .. }), "{err}");
    let elsewhere = StreamName::new("test", Uuid::new_v4());
    let err = store
        .append("org_a", &elsewhere, ExpectedVersion::Any, batch)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::EventIdConflict { .. }), "{err}");
    assert!(
        store
            .read_stream(&elsewhere, 0, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn expected_versions_any_no_stream_and_exact() {
    let store = store().await;
    let stream = StreamName::new("test", Uuid::new_v4());
    let append = |expected| store.append("org_a", &stream, expected, vec![event(0)]);

    let err = append(ExpectedVersion::Exact(0)).await.unwrap_err();
    assert!(matches!(err, Error::WrongExpectedVersion { .. }));
    assert_eq!(
        append(ExpectedVersion::NoStream)
            .await
            .unwrap()
            .next_expected_version,
        0
    );
    let err = append(ExpectedVersion::NoStream).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("wrong expected version on {stream}: expected no stream, stream is at 0")
    );
    assert_eq!(
        append(ExpectedVersion::Any)
            .await
            .unwrap()
            .next_expected_version,
        1
    );
    assert_eq!(
        append(ExpectedVersion::Exact(1))
            .await
            .unwrap()
            .next_expected_version,
        2
    );
    let err = append(ExpectedVersion::Exact(1)).await.unwrap_err();
    assert!(matches!(err, Error::WrongExpectedVersion { .. }));
    assert_eq!(store.read_stream(&stream, 1, 10).await.unwrap().len(), 2);
}

#[tokio::test]
async fn a_stream_of_one_tenant_cannot_be_appended_to_by_another() {
    let store = store().await;
    let stream = StreamName::new("test", Uuid::new_v4());
    store
        .append("org_a", &stream, ExpectedVersion::NoStream, vec![event(0)])
        .await
        .unwrap();
    let err = store
        .append("org_b", &stream, ExpectedVersion::Any, vec![event(1)])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::TenantMismatch { .. }), "{err}");
    let events = store.read_stream(&stream, 0, 10).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].tenant_id, "org_a");
}

#[tokio::test]
async fn a_failed_transaction_writes_nothing() {
    let store = store().await;
    let stream = StreamName::new("test", Uuid::new_v4());
    let mut tx = store.begin().await.unwrap();
    tx.append("org_a", &stream, ExpectedVersion::NoStream, vec![event(0)])
        .await
        .unwrap();
    drop(tx); // rolled back, as when the caller's own write in the same transaction fails
    assert!(store.read_stream(&stream, 0, 10).await.unwrap().is_empty());
    let err = store
        .append("org_a", &stream, ExpectedVersion::Any, vec![])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::EmptyAppend));
}
