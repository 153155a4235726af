//! The fleet under the faults production sees, staged with proxies of the test's own between
//! the fleet and PostgreSQL or RabbitMQ (never by stopping the machine's shared servers): each
//! unreachable for 30 s under a steady load of REST calls. Throughout, every request succeeds or
//! fails with a retriable 503 carrying `Retry-After`; after, the fleet recovers without a restart,
//! nothing is lost (every call in the log is in the calls' read model, on the bus and counted by
//! analytics) and no message was dead-lettered. The figures go to docs/reliability.md.

mod support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use comms_testkit::{FaultProxy, Link};
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::{Fleet, json_of};

/// How long each fault lasts.
const FAULT: Duration = Duration::from_secs(30);
/// Successful requests that mark a phase (before the fault, and the recovery after it).
const REQUESTS_PER_PHASE: usize = 20;

/// What the load saw.
#[derive(Default)]
struct Tally {
    created: Mutex<Vec<String>>,
    /// 503 with `Retry-After`: the retriable answer an outage may give.
    unavailable: AtomicUsize,
    /// Anything else that was not a success.
    failures: Mutex<Vec<String>>,
}

impl Tally {
    fn ok(&self) -> usize {
        self.created.lock().unwrap().len()
    }

    /// Waits until `more` calls beyond those seen so far have been created; returns how long.
    async fn more(&self, more: usize) -> Duration {
        let (target, started) = (self.ok() + more, Instant::now());
        while self.ok() < target {
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "the fleet did not recover: {:?}",
                self.failures.lock().unwrap()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        started.elapsed()
    }
}

/// Places calls over REST, one after another, until `stop`.
async fn place_calls(
    http: reqwest::Client,
    url: String,
    token: String,
    stop: Arc<AtomicBool>,
    tally: Arc<Tally>,
) {
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let response = http
            .post(&url)
            .bearer_auth(&token)
            .json(&json!({ "to": format!("+1415555{:04}", n % 10_000) }))
            .timeout(Duration::from_secs(60))
            .send()
            .await;
        match response {
            Ok(r) if r.status() == StatusCode::CREATED => {
                let call: Value = r.json().await.unwrap();
                let id = call["id"].as_str().unwrap().to_owned();
                tally.created.lock().unwrap().push(id);
            }
            Ok(r)
                if r.status() == StatusCode::SERVICE_UNAVAILABLE
                    && r.headers().contains_key("retry-after") =>
            {
                tally.unavailable.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Ok(r) => {
                let status = r.status();
                let body = r.text().await.unwrap_or_default();
                tally
                    .failures
                    .lock()
                    .unwrap()
                    .push(format!("{status}: {body}"));
            }
            Err(error) => tally.failures.lock().unwrap().push(error.to_string()),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Runs load, cuts `link` for [`FAULT`], restores it, and checks what the issue asks of a fault.
async fn under_load_with_a_cut(fleet: &Fleet, link: &FaultProxy, what: &str) {
    let tally = Arc::new(Tally::default());
    let stop = Arc::new(AtomicBool::new(false));
    let load: Vec<_> = (0..2)
        .map(|_| {
            tokio::spawn(place_calls(
                fleet.http.clone(),
                fleet.url("/api/communications/calls"),
                fleet.admin.access_token.clone(),
                stop.clone(),
                tally.clone(),
            ))
        })
        .collect();
    tally.more(REQUESTS_PER_PHASE).await;

    link.set(Link::Cut);
    let before = (tally.ok(), tally.unavailable.load(Ordering::Relaxed));
    tokio::time::sleep(FAULT).await;
    link.set(Link::Up);
    let during = (
        tally.ok() - before.0,
        tally.unavailable.load(Ordering::Relaxed) - before.1,
    );
    let first_success = tally.more(1).await;
    tally.more(REQUESTS_PER_PHASE).await;
    stop.store(true, Ordering::Relaxed);
    for task in load {
        task.await.unwrap();
    }
    let failures = tally.failures.lock().unwrap().clone();
    assert!(
        failures.is_empty(),
        "requests failed otherwise than 503 with Retry-After: {failures:#?}"
    );
    let created = tally.created.lock().unwrap().clone();
    let caught_up = nothing_lost(fleet, &created).await;
    eprintln!(
        "fault: {what} cut for {FAULT:?}: {} calls placed and {} refused with 503 during it; \
         the first placed {first_success:?} after it ended; {} in all; the bus and analytics \
         had every call {caught_up:?} after the load stopped",
        during.0,
        during.1,
        tally.ok()
    );
}

/// Every call the load was told was created is in the log; every call in the log is in the
/// calls' read model, reached the bus, and is counted by analytics; nothing was dead-lettered.
/// Returns how long the bus and analytics took to have every call.
async fn nothing_lost(fleet: &Fleet, created: &[String]) -> Duration {
    let started_checking = Instant::now();
    let in_log: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT substr(stream_name, 6) FROM events WHERE stream_category = 'call'",
    )
    .fetch_all(&fleet.pool)
    .await
    .unwrap();
    for id in created {
        assert!(
            in_log.contains(id),
            "call {id} was answered 201 but is not in the log"
        );
    }
    let in_view: i64 = sqlx::query_scalar("SELECT count(*) FROM calls_view")
        .fetch_one(&fleet.pool)
        .await
        .unwrap();
    assert_eq!(
        in_view,
        in_log.len() as i64,
        "the calls' read model has every call"
    );

    // Every call's start reaches the bus (the relay resumes from its checkpoint).
    let mut started = std::collections::HashSet::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while started.len() < in_log.len() && Instant::now() < deadline {
        for (_, envelope) in fleet.next_types("comms.call.started", 1).await {
            started.insert(envelope["data"]["call_id"].as_str().unwrap().to_owned());
        }
    }
    assert_eq!(
        started.len(),
        in_log.len(),
        "every call's start reached the bus"
    );

    // Analytics counts every call, once.
    let mut total = Value::Null;
    for _ in 0..600 {
        total = json_of(fleet.get("/api/communications/analytics/dashboard")).await["total_calls"]
            .clone();
        if total == json!(in_log.len()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        total,
        json!(in_log.len()),
        "analytics counted every call once"
    );
    let caught_up = started_checking.elapsed();

    for queue in &fleet.queues {
        let dead = fleet
            .message_count(&comms_bus::dead_letter_queue(queue))
            .await;
        assert_eq!(dead, 0, "{queue}: a healthy message was dead-lettered");
    }
    let health = fleet.http.get(fleet.url("/health")).send().await.unwrap();
    assert_eq!(
        health.status(),
        StatusCode::OK,
        "healthy again without a restart"
    );
    caught_up
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgresql_unreachable_for_30_s_under_load_loses_nothing_and_recovers() {
    let (fleet, links) = Fleet::start_behind_proxies("600000", &[]).await;
    under_load_with_a_cut(&fleet, &links.database, "PostgreSQL").await;
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rabbitmq_unreachable_for_30_s_under_load_loses_nothing_and_recovers() {
    let (fleet, links) = Fleet::start_behind_proxies("600000", &[]).await;
    under_load_with_a_cut(&fleet, &links.broker, "RabbitMQ").await;
    fleet.stop().await;
}
