//! The relay against the real PostgreSQL and RabbitMQ: at-least-once publication across a kill,
//! one active relay at a time, and leadership that moves when the active relay's node vanishes.

mod common;

use std::time::Duration;

use common::{Fixture, never};
use comms_eventstore::EventStore;
use comms_testkit::{FaultProxy, Link};
use serde_json::json;
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_relay_killed_mid_stream_loses_nothing_and_consumers_apply_each_event_once() {
    let fx = Fixture::new().await;
    let consumer = fx.start_consumer();
    let ids = fx.append(300, json!({ "ok": true })).await;

    // Kill the first relay part-way through.
    let first = tokio::spawn(fx.relay().run(never()));
    while fx.relay_position().await == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    first.abort();
    let _ = first.await;
    // Worst case for at-least-once: the relay published but died before saving its checkpoint.
    sqlx::query("DELETE FROM checkpoints")
        .execute(&fx.pool)
        .await
        .unwrap();

    let second = tokio::spawn(fx.relay().run(never()));
    fx.wait_until_applied(300).await;
    // Give redelivered duplicates time to arrive and be discarded.
    tokio::time::sleep(Duration::from_millis(500)).await;
    second.abort();
    consumer.abort();

    let rows: Vec<(Uuid, i32)> = sqlx::query_as("SELECT event_id, times FROM applied")
        .fetch_all(&fx.pool)
        .await
        .unwrap();
    assert_eq!(rows.len(), ids.len(), "every event reached the consumer");
    assert!(
        rows.iter().all(|(_, times)| *times == 1),
        "no event applied twice"
    );
    let mut applied: Vec<Uuid> = rows.into_iter().map(|(id, _)| id).collect();
    let mut expected = ids;
    applied.sort();
    expected.sort();
    assert_eq!(applied, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_relay_is_active_and_a_standby_takes_over_when_it_dies() {
    let fx = Fixture::new().await;
    let consumer = fx.start_consumer();
    let (a, b) = (fx.relay(), fx.relay());
    let (mut a_active, mut b_active) = (a.active(), b.active());
    let a_task = tokio::spawn(a.run(never()));
    a_active.wait_for(|active| *active).await.unwrap();
    let b_task = tokio::spawn(b.run(never()));

    fx.append(50, json!({})).await;
    fx.wait_until_applied(50).await;
    assert!(
        !*b_active.borrow(),
        "the standby does not publish while the active relay lives"
    );

    a_task.abort(); // the process dies: its session, and so its lock, goes with it
    tokio::time::timeout(Duration::from_secs(10), b_active.wait_for(|active| *active))
        .await
        .expect("the standby took over")
        .unwrap();
    fx.append(50, json!({})).await;
    fx.wait_until_applied(100).await;
    b_task.abort();
    consumer.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn when_the_active_relay_goes_silent_it_steps_down_before_a_standby_takes_over() {
    let fx = Fixture::new().await;
    let consumer = fx.start_consumer();
    // Relay A reaches the database through a link the test controls; B directly.
    let proxy = FaultProxy::to(&fx.db.url).await;
    let a = fx.relay_on(EventStore::new(fx.db.pool_through(&proxy).await));
    let b = fx.relay();
    let (mut a_active, mut b_active) = (a.active(), b.active());
    let a_task = tokio::spawn(a.run(never()));
    a_active.wait_for(|active| *active).await.unwrap();
    let b_task = tokio::spawn(b.run(never()));
    fx.append(20, json!({})).await;
    fx.wait_until_applied(20).await;

    // A's node vanishes: its sockets stay open and nothing answers, the case that would leave
    // PostgreSQL holding A's lock until the operating system's keepalive (two hours).
    proxy.set(Link::Silent);
    let silent = std::time::Instant::now();
    let mut a_gave_up = None;
    let takeover = async {
        loop {
            tokio::select! {
                _ = a_active.wait_for(|active| !*active), if a_gave_up.is_none() => {
                    a_gave_up = Some(silent.elapsed());
                }
                _ = b_active.wait_for(|active| *active) => return silent.elapsed(),
            }
        }
    };
    let b_took_over = tokio::time::timeout(Duration::from_secs(30), takeover)
        .await
        .expect("the standby took over");
    let a_gave_up = a_gave_up.expect("the silent relay stepped down before the standby started");
    assert!(a_gave_up < b_took_over);
    assert!(
        b_took_over < Duration::from_secs(15),
        "leadership moved within 15 s of the network vanishing, not {b_took_over:?}"
    );
    fx.append(20, json!({})).await;
    fx.wait_until_applied(40).await;

    // The network comes back: A finds the lock taken and stands by.
    proxy.set(Link::Up);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(!*a_active.borrow() && *b_active.borrow());
    a_task.abort();
    b_task.abort();
    consumer.abort();
}
