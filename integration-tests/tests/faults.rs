//! The fleet under the faults production sees, staged with proxies of the test's own between
//! the fleet and PostgreSQL or RabbitMQ (never by stopping the machine's shared servers): each
//! cut (connections refused) and silent (packets dropped, sockets left open) for 30 s, under a
//! steady load of REST calls and a campaign dialing to agents. Throughout, every request succeeds
//! or fails with a retriable 503 carrying `Retry-After`; after, the fleet recovers without a
//! restart and `checker` finds the log, the bus and every read model in agreement. The figures
//! go to docs/reliability.md.

#[path = "faults/checker.rs"]
mod checker;
mod support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use comms_testkit::{FaultProxy, Link};
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::{EVERY_DAY, Fleet, action, available_agent, create_campaign, import, json_of};

/// How long each broken link lasts.
const FAULT: Duration = Duration::from_secs(30);
/// How long the lagging consumer is held back.
const LAG: Duration = Duration::from_secs(120);
/// Locks analytics' tables against writes (every event it applies writes to one of them).
const LOCK_ANALYTICS: &str = "LOCK TABLE analytics_calls, analytics_call_counters, \
     analytics_agent_current, analytics_agent_names, analytics_agent_time, analytics_agent_calls, analytics_campaigns, \
     analytics_campaign_contacts IN EXCLUSIVE MODE";

/// What a test breaks.
#[derive(Clone, Copy)]
enum Fault<'a> {
    /// A link to PostgreSQL or RabbitMQ, cut or silent, for [`FAULT`].
    Link(&'a FaultProxy, Link),
    /// One consumer falling behind the fleet for [`LAG`]: analytics' tables locked by a long
    /// transaction of the test's (as a long report or a migration would hold them), so every
    /// batch it applies waits, and its queue fills while the rest of the fleet goes on.
    AnalyticsLagging,
}

impl Fault<'_> {
    /// The pause between one client's calls. A broken link is staged under as much load as the
    /// fleet takes; the lag, which lasts minutes, under a steady load the fleet keeps up with
    /// (about 10 calls a second at most), so that the one consumer held back is the one behind.
    fn pace(self) -> Duration {
        match self {
            Fault::Link(..) => Duration::ZERO,
            Fault::AnalyticsLagging => Duration::from_millis(200),
        }
    }

    /// Stages the fault, waits it out and ends it; returns how many events the fleet appended
    /// meanwhile.
    async fn stage(self, fleet: &Fleet, dialing: &Dialing) -> i64 {
        let before = fleet.event_count().await;
        match self {
            Fault::Link(link, fault) => {
                link.set(fault);
                tokio::time::sleep(FAULT).await;
                link.set(Link::Up);
            }
            Fault::AnalyticsLagging => {
                let mut lock = fleet.pool.begin().await.unwrap();
                // Held idle on purpose, past the fleet's idle-transaction limit.
                sqlx::query("SET LOCAL idle_in_transaction_session_timeout = 0")
                    .execute(&mut *lock)
                    .await
                    .unwrap();
                sqlx::query(LOCK_ANALYTICS)
                    .execute(&mut *lock)
                    .await
                    .unwrap();
                let started = Instant::now();
                // The rest of the fleet goes on: the campaign dials on as the agents service
                // hears calls end, over the same bus and the same log.
                dialing.more(fleet, DIALED_PER_PHASE).await;
                tokio::time::sleep(LAG.saturating_sub(started.elapsed())).await;
                let waiting = fleet.message_count(&fleet.analytics_queue).await;
                eprintln!("analytics' queue holds {waiting} messages as it is let go");
                lock.rollback().await.unwrap();
            }
        }
        fleet.event_count().await - before
    }
}

impl std::fmt::Display for Fault<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fault::Link(_, link) => write!(f, "{link:?} for {FAULT:?}"),
            Fault::AnalyticsLagging => write!(f, "analytics held back for {LAG:?}"),
        }
    }
}
/// Successful requests that mark a phase (before the fault, and the recovery after it).
const REQUESTS_PER_PHASE: usize = 20;
/// And calls the campaign places.
const DIALED_PER_PHASE: i64 = 5;

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

/// Places calls over REST, one after another with `pause` between them, until `stop`.
async fn place_calls(
    http: reqwest::Client,
    url: String,
    token: String,
    pause: Duration,
    stop: Arc<AtomicBool>,
    tally: Arc<Tally>,
) {
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        if !pause.is_zero() {
            tokio::time::sleep(pause).await;
        }
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

/// A fleet whose calls move along quickly: rung, answered or not, and over within a second.
async fn fleet_behind_proxies() -> (Fleet, support::Links) {
    Fleet::start_behind_proxies(
        "30",
        &[
            ("SIM_OUTCOMES", "answered=60,no_answer=25,busy=15"),
            ("SIM_TALK_MS", "500"),
            ("WRAP_UP_SECONDS", "1"),
            ("MIN_RETRY_DELAY_SECONDS", "1"),
            ("DIALER_TICK_MS", "100"),
        ],
    )
    .await
}

/// A campaign dialing through the fault: its id and its agents.
struct Dialing {
    campaign: String,
    agents: Vec<String>,
}

impl Dialing {
    /// Waits until the campaign has placed `more` calls beyond those placed so far; returns how
    /// long that took.
    async fn more(&self, fleet: &Fleet, more: i64) -> Duration {
        let placed = || async {
            sqlx::query_scalar::<_, i64>(
                "SELECT count(*) FROM calls_view WHERE campaign_id = $1::uuid",
            )
            .bind(&self.campaign)
            .fetch_one(&fleet.pool)
            .await
            .unwrap()
        };
        let (target, started) = (placed().await + more, Instant::now());
        while placed().await < target {
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "the campaign stopped dialing"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        started.elapsed()
    }
}

/// Three agents and a predictive campaign over more contacts than the test has time to call.
async fn start_dialing(fleet: &Fleet) -> Dialing {
    let mut agents = Vec::new();
    for name in ["Ada", "Grace", "Hedy"] {
        agents.push(available_agent(fleet, name).await);
    }
    let retry = json!({ "max_attempts": 2, "delay_seconds": 1 });
    let campaign = create_campaign(
        fleet,
        json!({
            "name": "Through the fault", "dialing_mode": "predictive",
            "window": { "start": "00:00", "end": "23:59", "days": EVERY_DAY },
            "retry": { "no_answer": retry, "busy": retry, "failed": retry, "voicemail": retry }
        }),
    )
    .await;
    let csv: String = std::iter::once("name,phone,time_zone".to_owned())
        .chain((0..1000).map(|i| format!("Contact {i},+1212555{i:04},Etc/UTC")))
        .collect::<Vec<_>>()
        .join("\n");
    let report = import(fleet, &campaign, csv).await;
    assert_eq!(report["added_to_campaign"], 1000, "{report}");
    assert_eq!(
        action(fleet, &campaign, "start").await.status(),
        StatusCode::OK
    );
    Dialing { campaign, agents }
}

/// Runs load, stages `fault`, ends it, and checks what the issue asks of a fault.
async fn under_load(fleet: &Fleet, fault: Fault<'_>, what: &str) {
    let dialing = start_dialing(fleet).await;
    let tally = Arc::new(Tally::default());
    let stop = Arc::new(AtomicBool::new(false));
    let load: Vec<_> = (0..2)
        .map(|_| {
            tokio::spawn(place_calls(
                fleet.http.clone(),
                fleet.url("/api/communications/calls"),
                fleet.admin.access_token.clone(),
                fault.pace(),
                stop.clone(),
                tally.clone(),
            ))
        })
        .collect();
    tally.more(REQUESTS_PER_PHASE).await;
    dialing.more(fleet, DIALED_PER_PHASE).await;

    let before = (tally.ok(), tally.unavailable.load(Ordering::Relaxed));
    let appended = fault.stage(fleet, &dialing).await;
    let during = (
        tally.ok() - before.0,
        tally.unavailable.load(Ordering::Relaxed) - before.1,
    );
    let first_success = tally.more(1).await;
    tally.more(REQUESTS_PER_PHASE).await;
    let dialing_again = dialing.more(fleet, 1).await;
    dialing.more(fleet, DIALED_PER_PHASE).await;
    stop.store(true, Ordering::Relaxed);
    for task in load {
        task.await.unwrap();
    }
    let failures = tally.failures.lock().unwrap().clone();
    assert!(
        failures.is_empty(),
        "requests failed otherwise than 503 with Retry-After: {failures:#?}"
    );
    let paused = action(fleet, &dialing.campaign, "pause").await;
    assert_eq!(paused.status(), StatusCode::OK);
    let created = tally.created.lock().unwrap().clone();
    let caught_up = nothing_lost(fleet, &created).await;
    checker::no_agent_stuck(fleet, &dialing.agents).await;
    checker::no_contact_called_twice_at_once(fleet, &dialing.campaign).await;
    let published = checker::bus_has_the_log_in_order(fleet).await;
    checker::calls_view_equals_the_log(fleet).await;
    checker::analytics_equal_a_rebuild(fleet).await;
    checker::nothing_dead_lettered_and_healthy(fleet).await;
    let dialed: i64 =
        sqlx::query_scalar("SELECT count(*) FROM calls_view WHERE campaign_id IS NOT NULL")
            .fetch_one(&fleet.pool)
            .await
            .unwrap();
    eprintln!(
        "fault: {what} {fault}: {appended} events appended, {} calls placed and {} refused with 503 during it; \
         the first placed {first_success:?} after it ended; {} in all; analytics counted \
         every call {caught_up:?} after the load stopped; the campaign placed {dialed} calls \
         in all, the first {dialing_again:?} after the fault; {published} events on the bus, \
         each stream in order",
        during.0,
        during.1,
        tally.ok()
    );
}

/// Every call the load was told was created is in the log, and analytics counts every call in
/// the log once. Returns how long analytics took to.
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
    started_checking.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgresql_unreachable_for_30_s_under_load_loses_nothing_and_recovers() {
    let (fleet, links) = fleet_behind_proxies().await;
    under_load(
        &fleet,
        Fault::Link(&links.database, Link::Cut),
        "PostgreSQL",
    )
    .await;
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rabbitmq_unreachable_for_30_s_under_load_loses_nothing_and_recovers() {
    let (fleet, links) = fleet_behind_proxies().await;
    under_load(&fleet, Fault::Link(&links.broker, Link::Cut), "RabbitMQ").await;
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgresql_silent_for_30_s_under_load_loses_nothing_and_recovers() {
    let (fleet, links) = fleet_behind_proxies().await;
    under_load(
        &fleet,
        Fault::Link(&links.database, Link::Silent),
        "PostgreSQL",
    )
    .await;
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rabbitmq_silent_for_30_s_under_load_loses_nothing_and_recovers() {
    let (fleet, links) = fleet_behind_proxies().await;
    under_load(&fleet, Fault::Link(&links.broker, Link::Silent), "RabbitMQ").await;
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_consumer_lagging_minutes_behind_catches_up_applying_everything_once() {
    let (fleet, _links) = fleet_behind_proxies().await;
    under_load(&fleet, Fault::AnalyticsLagging, "analytics").await;
    fleet.stop().await;
}
