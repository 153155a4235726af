//! Idempotent consumers against the real PostgreSQL and RabbitMQ: the envelope on the wire,
//! dead letters with their reasons, bounded retries, and messages held while the database is
//! down.

mod common;

use std::time::Duration;

use common::{CountApplications, Fixture, get, never, ready};
use comms_bus::{RetryPolicy, dead_letter_queue};
use comms_testkit::{FaultProxy, Link, amqp_connection, unique_name};
use lapin::types::AMQPValue;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn messages_carry_the_envelope_and_poison_goes_to_the_dead_letter_queue_with_its_reason() {
    let fx = Fixture::new().await;
    let consumer = fx.start_consumer();
    // A raw queue of our own, to look at the relay's messages as any platform module would.
    let amqp = amqp_connection().await;
    let channel = amqp.create_channel().await.unwrap();
    let raw = unique_name("test.raw");
    comms_bus::declare_events_exchange(&channel, &fx.exchange)
        .await
        .unwrap();
    comms_bus::declare_queue(
        &channel,
        &fx.exchange,
        &raw,
        &["test.#".to_string()],
        Default::default(),
    )
    .await
    .unwrap();

    let relay = tokio::spawn(fx.relay().run(never()));
    let good = fx.append(1, json!({ "ok": true })).await[0];
    let poison = fx.append(1, json!({ "poison": true })).await[0];
    fx.wait_until_applied(1).await;

    let message = get(&channel, &raw).await;
    let envelope: serde_json::Value = serde_json::from_slice(&message.data).unwrap();
    assert_eq!(envelope["id"], good.to_string());
    assert_eq!(envelope["type"], "test.happened");
    assert_eq!(envelope["organizationId"], "org_a");
    assert_eq!(
        message.properties.message_id().as_ref().unwrap().as_str(),
        good.to_string()
    );
    assert_eq!(
        message.properties.kind().as_ref().unwrap().as_str(),
        "test.happened"
    );
    assert_eq!(*message.properties.delivery_mode(), Some(2));

    // The handler's rejection, and a body that is not an envelope at all, are dead-lettered.
    channel
        .basic_publish(
            fx.exchange.as_str().into(),
            "test.garbage".into(),
            Default::default(),
            b"{not json",
            Default::default(),
        )
        .await
        .unwrap();
    let dlq = comms_bus::dead_letter_queue(&fx.queue);
    let mut reasons = Vec::new();
    for _ in 0..2 {
        let dead = get(&channel, &dlq).await;
        let headers = dead.properties.headers().clone().unwrap();
        let Some(AMQPValue::LongString(reason)) = headers.inner().get("x-comms-dead-letter-reason")
        else {
            panic!("dead letter without a reason");
        };
        reasons.push((
            dead.properties
                .message_id()
                .as_ref()
                .map(|id| id.to_string()),
            String::from_utf8_lossy(reason.as_bytes()).into_owned(),
        ));
    }
    reasons.sort();
    assert_eq!(reasons[0].0, None);
    assert!(
        reasons[0]
            .1
            .starts_with("body is not a valid event envelope"),
        "{}",
        reasons[0].1
    );
    assert_eq!(
        reasons[1],
        (
            Some(poison.to_string()),
            "data.poison: this event cannot be applied".into()
        )
    );
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM applied")
        .fetch_one(&fx.pool)
        .await
        .unwrap();
    assert_eq!(applied, 1, "the poison message changed nothing");
    relay.abort();
    consumer.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_poison_message_inside_a_batch_is_dead_lettered_alone() {
    let fx = Fixture::new().await;
    // Everything is on the queue before the consumer starts, so it arrives in batches.
    let relay = tokio::spawn(fx.relay().run(never()));
    let mut ids = fx.append(60, json!({ "ok": true })).await;
    let poison = fx.append(1, json!({ "poison": true })).await[0];
    ids.extend(fx.append(60, json!({ "ok": true })).await);
    let amqp = amqp_connection().await;
    let channel = amqp.create_channel().await.unwrap();
    for _ in 0..1200 {
        if ready(&channel, &fx.queue).await == 121 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let consumer = fx.start_consumer();
    fx.wait_until_applied(120).await;
    let dead = get(&channel, &comms_bus::dead_letter_queue(&fx.queue)).await;
    assert_eq!(
        dead.properties.message_id().as_ref().unwrap().to_string(),
        poison.to_string()
    );
    let times = fx.times_applied().await;
    assert_eq!(times.len(), ids.len());
    assert!(
        times.iter().all(|t| *t == 1),
        "each event of the batch applied once"
    );
    relay.abort();
    consumer.abort();
}

/// Three tries, a few milliseconds apart: enough to see a bound without slowing the test.
fn three_quick_tries() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        first_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(40),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_message_that_keeps_failing_is_dead_lettered_after_its_tries_and_the_rest_flow_on() {
    let fx = Fixture::new().await;
    let mut config = fx.consumer_config();
    config.retry = three_quick_tries();
    let handler = CountApplications::default();
    let consumer = fx.start_consumer_with(fx.pool.clone(), config, handler.clone());
    let relay = tokio::spawn(fx.relay().run(never()));
    let stubborn = fx.append(1, json!({ "fail_times": 1000 })).await[0];
    let flaky = fx.append(1, json!({ "fail_times": 2 })).await[0];
    fx.append(20, json!({ "ok": true })).await;
    fx.wait_until_applied(21).await;

    let amqp = amqp_connection().await;
    let channel = amqp.create_channel().await.unwrap();
    let dead = get(&channel, &dead_letter_queue(&fx.queue)).await;
    assert_eq!(
        dead.properties.message_id().as_ref().unwrap().to_string(),
        stubborn.to_string()
    );
    let headers = dead.properties.headers().clone().unwrap();
    let Some(AMQPValue::LongString(reason)) = headers.inner().get("x-comms-dead-letter-reason")
    else {
        panic!("dead letter without a reason");
    };
    // Three tries of its own, after a first in a batch if it arrived in one.
    let tried = handler.attempts(stubborn);
    assert!(tried == 3 || tried == 4, "tried {tried} times");
    assert_eq!(
        String::from_utf8_lossy(reason.as_bytes()),
        format!("gave up after 3 attempts: attempt {tried} failed on purpose")
    );
    let times: i32 = sqlx::query_scalar("SELECT times FROM applied WHERE event_id = $1")
        .bind(flaky)
        .fetch_one(&fx.pool)
        .await
        .unwrap();
    assert_eq!(
        times, 1,
        "the message that failed twice was then applied, once"
    );
    relay.abort();
    consumer.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn while_the_database_is_down_messages_are_held_and_none_is_dead_lettered() {
    let fx = Fixture::new().await;
    // The consumer reaches the database through a link the test cuts; the relay does not.
    let proxy = FaultProxy::to(&fx.db.url).await;
    let mut config = fx.consumer_config();
    // Were an outage counted against each message, three quick tries would dead-letter them all.
    config.retry = three_quick_tries();
    let pool = fx.db.pool_through(&proxy).await;
    proxy.set(Link::Cut);
    let consumer = fx.start_consumer_with(pool, config, CountApplications::default());
    let relay = tokio::spawn(fx.relay().run(never()));
    let ids = fx.append(30, json!({ "ok": true })).await;

    // The consumer has every message in hand and cannot apply any.
    let amqp = amqp_connection().await;
    let channel = amqp.create_channel().await.unwrap();
    fx.wait_until_taken(&channel).await;
    // Many tries at the database fail meanwhile (it refuses every connection).
    tokio::time::sleep(Duration::from_secs(1)).await;

    proxy.set(Link::Up);
    fx.wait_until_applied(ids.len() as i64).await;
    assert_eq!(
        ready(&channel, &dead_letter_queue(&fx.queue)).await,
        0,
        "no message was dead-lettered"
    );
    let times = fx.times_applied().await;
    assert!(times.iter().all(|t| *t == 1), "each applied once");
    relay.abort();
    consumer.abort();
}

/// Publishes an envelope of `event_type` to `exchange` over `channel` (with confirms), with
/// `user_id` if given; returns its id, or the broker's refusal.
async fn publish_as(
    channel: &lapin::Channel,
    exchange: &str,
    event_type: &str,
    user_id: Option<&str>,
) -> Result<uuid::Uuid, lapin::Error> {
    let envelope: comms_bus::Envelope = serde_json::from_value(json!({
        "id": uuid::Uuid::new_v4(), "type": event_type, "source": "somebody",
        "timestamp": "2026-12-02T10:00:00Z", "organizationId": "org_a", "data": {}
    }))
    .unwrap();
    let mut properties = comms_bus::amqp_properties(&envelope, None);
    if let Some(user) = user_id {
        properties = properties.with_user_id(user.into());
    }
    channel
        .basic_publish(
            exchange.into(),
            "test.published".into(),
            Default::default(),
            &envelope.to_json(),
            properties,
        )
        .await?
        .await?;
    Ok(envelope.id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn events_are_believed_only_from_publishers_allowed_to_send_them() {
    let fx = Fixture::new().await;
    let mut config = fx.consumer_config();
    // The fleet (and this test) connect as `me`; another module as `comms-test-outsider`.
    let me = comms_bus::user_of(&comms_testkit::amqp_url());
    let outsider = "comms-test-outsider";
    config.publishers =
        comms_bus::Publishers::parse(&me, &format!("test.*={me},crm.*=crm")).unwrap();
    let consumer = fx.start_consumer_with(fx.pool.clone(), config, CountApplications::default());
    let (ours, theirs) = (
        amqp_connection().await,
        comms_testkit::outsider_amqp_connection().await,
    );
    let (ours, theirs) = (
        ours.create_channel().await.unwrap(),
        theirs.create_channel().await.unwrap(),
    );
    for channel in [&ours, &theirs] {
        channel.confirm_select(Default::default()).await.unwrap();
    }
    let exchange = fx.exchange.as_str();
    let allowed = publish_as(&ours, exchange, "test.happened", Some(&me))
        .await
        .unwrap();
    let anonymous = publish_as(&ours, exchange, "test.happened", None)
        .await
        .unwrap();
    let forged_call_end = publish_as(&theirs, exchange, "comms.call.ended", Some(outsider))
        .await
        .unwrap();
    let crm_impostor = publish_as(&theirs, exchange, "crm.contact.updated", Some(outsider))
        .await
        .unwrap();
    fx.wait_until_applied(1).await;

    let mut reasons = std::collections::HashMap::new();
    for _ in 0..3 {
        let dead = get(&ours, &dead_letter_queue(&fx.queue)).await;
        let id = dead.properties.message_id().as_ref().unwrap().to_string();
        let headers = dead.properties.headers().clone().unwrap();
        let Some(AMQPValue::LongString(reason)) = headers.inner().get("x-comms-dead-letter-reason")
        else {
            panic!("dead letter without a reason");
        };
        reasons.insert(id, String::from_utf8_lossy(reason.as_bytes()).into_owned());
    }
    assert_eq!(
        reasons[&forged_call_end.to_string()],
        format!("comms.call.ended from {outsider}: only {me} may publish it")
    );
    assert_eq!(
        reasons[&crm_impostor.to_string()],
        format!("crm.contact.updated from {outsider}: only crm may publish it")
    );
    assert!(reasons[&anonymous.to_string()].contains("without user_id"));
    let applied: Vec<uuid::Uuid> = sqlx::query_scalar("SELECT event_id FROM applied")
        .fetch_all(&fx.pool)
        .await
        .unwrap();
    assert_eq!(applied, [allowed]);

    // And user_id cannot be forged: the broker refuses a publish claiming another user.
    let claimed = publish_as(&theirs, exchange, "comms.call.ended", Some(&me)).await;
    assert!(claimed.is_err(), "the broker accepted a forged user_id");
    consumer.abort();
}

#[tokio::test]
async fn records_of_applied_messages_are_pruned_after_the_dedup_window_only() {
    let fx = Fixture::new().await;
    let record = |consumer: &'static str, age_days: i32| {
        let pool = fx.pool.clone();
        async move {
            let id = uuid::Uuid::new_v4();
            sqlx::query(
                "INSERT INTO processed_messages (consumer, message_id, processed_at)
                 VALUES ($1, $2, now() - make_interval(days => $3))",
            )
            .bind(consumer)
            .bind(id)
            .bind(age_days)
            .execute(&pool)
            .await
            .unwrap();
            id
        }
    };
    let old = record("counting", 8).await;
    let recent = record("counting", 6).await;
    let someone_elses = record("other", 30).await;
    let pruned =
        comms_bus::dedup::prune_processed(&fx.pool, "counting", comms_bus::dedup::DEDUP_WINDOW)
            .await
            .unwrap();
    assert_eq!(pruned, 1);
    let left: Vec<uuid::Uuid> =
        sqlx::query_scalar("SELECT message_id FROM processed_messages ORDER BY processed_at")
            .fetch_all(&fx.pool)
            .await
            .unwrap();
    assert!(!left.contains(&old));
    assert!(left.contains(&recent) && left.contains(&someone_elses));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_consumer_whose_database_went_silent_gives_its_messages_back_to_the_others() {
    let fx = Fixture::new().await;
    // Consumer A's database link goes silent (its node is cut off from the database, not from
    // the broker); consumer B, on the same queue, reaches the database directly.
    let proxy = FaultProxy::to(&fx.db.url).await;
    let pool = fx.db.pool_through(&proxy).await;
    let a = fx.start_consumer_with(pool, fx.consumer_config(), CountApplications::default());
    proxy.set(Link::Silent);
    let relay = tokio::spawn(fx.relay().run(never()));
    let ids = fx.append(20, json!({ "ok": true })).await;
    // A has every message in hand (none ready on the queue), and applies none.
    let amqp = amqp_connection().await;
    let channel = amqp.create_channel().await.unwrap();
    fx.wait_until_taken(&channel).await;
    let b = fx.start_consumer();
    // A gives them back once the database has not answered for its hold; B applies them.
    fx.wait_until_applied(ids.len() as i64).await;
    let times = fx.times_applied().await;
    assert!(times.iter().all(|t| *t == 1), "each applied once");
    relay.abort();
    a.abort();
    b.abort();
}

/// Records the order messages are applied in, with each one's stream and position.
struct RecordOrder;

impl comms_bus::Handler for RecordOrder {
    async fn handle(
        &self,
        conn: &mut sqlx::PgConnection,
        envelope: &comms_bus::Envelope,
    ) -> Result<(), comms_bus::HandleError> {
        sqlx::query("INSERT INTO applied_order (stream, position) VALUES ($1, $2)")
            .bind(&envelope.metadata.stream)
            .bind(envelope.metadata.stream_position)
            .execute(conn)
            .await?;
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_consumer_far_behind_catches_up_applying_each_event_once_in_stream_order() {
    const EVENTS: usize = 3_000;
    let fx = Fixture::new().await;
    sqlx::query(
        "CREATE TABLE applied_order (seq bigserial PRIMARY KEY, stream text NOT NULL, position bigint NOT NULL)",
    )
    .execute(&fx.pool)
    .await
    .unwrap();
    // The log grows and the relay publishes while the consumer is down: a backlog on its queue.
    let relay = tokio::spawn(fx.relay().run(never()));
    fx.append(EVENTS, json!({ "ok": true })).await;
    while fx.relay_position().await < EVENTS as i64 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let consumer = tokio::spawn(comms_bus::run_consumer(
        fx.pool.clone(),
        fx.consumer_config(),
        RecordOrder,
        never(),
    ));
    let mut applied = 0_i64;
    for _ in 0..1200 {
        applied = sqlx::query_scalar("SELECT count(*) FROM applied_order")
            .fetch_one(&fx.pool)
            .await
            .unwrap();
        if applied >= EVENTS as i64 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(applied, EVENTS as i64, "every event applied, once");
    // Within each stream, positions were applied in order, with none skipped.
    let out_of_order: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (
           SELECT position, lag(position) OVER (PARTITION BY stream ORDER BY seq) AS previous
           FROM applied_order) o
         WHERE position <> coalesce(previous + 1, 0)",
    )
    .fetch_one(&fx.pool)
    .await
    .unwrap();
    assert_eq!(
        out_of_order, 0,
        "each stream's events applied in their order"
    );
    relay.abort();
    consumer.abort();
}
