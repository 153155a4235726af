//! Queue measures (`GetQueueMeasures`) from a scripted Madrid day across the autumn DST change
//! (25 hours, 02:00 twice), consumed through the real RabbitMQ into the real PostgreSQL: calls
//! with known waits give exactly the expected offered, answered, abandoned, service level, ASA,
//! longest wait and handle time per queue and interval; an agent's known day gives its
//! occupancy; what waits now is counted; another organization's calls never; a replay of the
//! log gives the same figures.

mod support;

use std::time::Duration;

use chrono::{DateTime, Utc};
use comms_analytics::live_figures::publish_changes;
use comms_analytics::rebuild::{rebuild, rebuild_read_models};
use comms_events::metrics::MetricsUpdated;
use comms_events::{Event, agent, call};
use comms_proto::v1::{GetQueueMeasuresRequest, QueueMeasures, QueueMeasuresReport};
use serde_json::{Value, json};
use support::{Analytics, ORG, Script, at};
use uuid::Uuid;

const ZONE: &str = "Europe/Madrid";

/// A call queued at `utc` for `skills` in `language`.
fn queued(utc: &str, skills: &[&str], language: &str) -> Script {
    Script::started("inbound", utc)
        .then(
            <call::Answered as Event>::TYPE,
            json!({ "answered_at": at(utc) }),
        )
        .then(
            <call::Queued as Event>::TYPE,
            json!({ "skills": skills, "language": language, "priority": 0, "queued_at": at(utc) }),
        )
}

/// Its agent went on it `wait` seconds after `queued`, and it ended `talk` seconds after that.
fn answered(call: Script, queued: &str, agent: Uuid, wait: i64, talk: i64) -> Script {
    let on = at(queued) + chrono::Duration::seconds(wait);
    call.then(
        <call::AgentAssigned as Event>::TYPE,
        json!({ "agent_id": agent, "assigned_at": on }),
    )
    .ended(on + chrono::Duration::seconds(talk), talk)
}

/// The caller hung up `after` seconds after `queued`, with nobody on the call.
fn abandoned(call: Script, queued: &str, after: i64) -> Script {
    call.ended(at(queued) + chrono::Duration::seconds(after), after)
}

fn transition(utc: &str) -> Value {
    json!({ "at": at(utc) })
}

fn with_call(call: Uuid, utc: &str) -> Value {
    json!({ "call_id": call, "until": at(utc), "at": at(utc) })
}

/// The day of 2026-10-25 in Madrid (00:00 CEST to 24:00 CET), by `interval`.
fn the_day(interval: &str) -> GetQueueMeasuresRequest {
    GetQueueMeasuresRequest {
        from: Some(comms_proto::time::to_timestamp(at("2026-10-24T22:00:00Z"))),
        to: Some(comms_proto::time::to_timestamp(at("2026-10-25T23:00:00Z"))),
        interval: interval.into(),
        time_zone: ZONE.into(),
        ..Default::default()
    }
}

async fn measures(
    analytics: &mut Analytics,
    request: GetQueueMeasuresRequest,
) -> Result<QueueMeasuresReport, tonic::Status> {
    let request = analytics.signed(request);
    analytics
        .client
        .get_queue_measures(request)
        .await
        .map(|r| r.into_inner())
}

/// (offered, answered, abandoned, waiting, answered within the threshold).
fn counts(m: &QueueMeasures) -> (i64, i64, i64, i64, i64) {
    (
        m.offered,
        m.answered,
        m.abandoned,
        m.waiting,
        m.answered_within_threshold,
    )
}

/// (service level, abandon rate, ASA, longest wait, AHT).
fn ratios(m: &QueueMeasures) -> (Option<f64>, Option<f64>, Option<f64>, f64, Option<f64>) {
    (
        m.service_level,
        m.abandon_rate,
        m.average_speed_of_answer_seconds,
        m.longest_wait_seconds,
        m.average_handle_seconds,
    )
}

fn local_start(m: &QueueMeasures) -> String {
    let zone: chrono_tz::Tz = ZONE.parse().unwrap();
    comms_proto::time::from_timestamp(m.start.as_ref().unwrap())
        .unwrap()
        .with_timezone(&zone)
        .format("%H:%M%:z")
        .to_string()
}

/// Everything but what depends on when it was asked (the waits now, the time of generation).
fn without_now(mut report: QueueMeasuresReport) -> QueueMeasuresReport {
    report.generated_at = None;
    for series in report.queues.iter_mut().chain(report.organization.as_mut()) {
        series.now = None;
    }
    report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_madrid_day_across_the_autumn_change_gives_exact_queue_measures_and_a_replay_the_same() {
    let mut analytics = Analytics::start().await;
    let (ada, bo) = (Uuid::new_v4(), Uuid::new_v4());
    // Billing in Spanish, from 00:10 CEST: answered in 15 s (talk 60 s, wrap-up 30 s), in 40 s
    // (talk 120 s, no wrap-up), and abandoned after 25 s.
    let (one, two, three) = (
        "2026-10-24T22:10:00Z",
        "2026-10-24T22:20:00Z",
        "2026-10-24T22:30:00Z",
    );
    let first = queued(one, &["billing"], "es");
    let second = queued(two, &["billing"], "es");
    let (first_id, second_id) = (first.id, second.id);
    // English with no skill: answered in 5 s in the first 02:00 (CEST, talk 100 s) and
    // abandoned after 50 s in the second (CET).
    let (four, five) = ("2026-10-25T00:30:00Z", "2026-10-25T01:30:00Z");
    // Billing again at 21:00 CET, still waiting.
    let six = "2026-10-25T20:00:00Z";
    let script = [
        answered(first, one, ada, 15, 60),
        answered(second, two, ada, 40, 120),
        abandoned(queued(three, &["billing"], "es"), three, 25),
        answered(queued(four, &[], "en"), four, bo, 5, 100),
        abandoned(queued(five, &[], "en"), five, 50),
        queued(six, &["billing"], "es"),
        // Before the day, and a call that never waited: not counted.
        answered(
            queued("2026-10-24T21:59:00Z", &["billing"], "es"),
            "2026-10-24T21:59:00Z",
            bo,
            1,
            1,
        ),
        Script::started("outbound", "2026-10-24T22:15:00Z").talked("2026-10-24T22:15:05Z", 9),
    ];
    for call in script {
        analytics.append(ORG, call).await;
    }
    // Ada's first 40 minutes: available, on the two calls and her wrap-up, then logged off:
    // 210 s handling and 2,190 s available.
    let ada_day = Script::agent(ada)
        .then(
            <agent::Created as Event>::TYPE,
            json!({ "name": "Ada", "email": "ada@acme.test", "phone": "", "extension": "",
                    "languages": ["es"], "skills": [], "team_id": null,
                    "created_at": at("2026-10-24T21:00:00Z") }),
        )
        .then(
            <agent::Available as Event>::TYPE,
            transition("2026-10-24T22:00:00Z"),
        )
        .then(
            <agent::OnCall as Event>::TYPE,
            with_call(first_id, "2026-10-24T22:10:15Z"),
        )
        .then(
            <agent::WrapUp as Event>::TYPE,
            with_call(first_id, "2026-10-24T22:11:15Z"),
        )
        .then(
            <agent::Available as Event>::TYPE,
            transition("2026-10-24T22:11:45Z"),
        )
        .then(
            <agent::OnCall as Event>::TYPE,
            with_call(second_id, "2026-10-24T22:20:40Z"),
        )
        .then(
            <agent::WrapUp as Event>::TYPE,
            with_call(second_id, "2026-10-24T22:22:40Z"),
        )
        .then(
            <agent::Available as Event>::TYPE,
            transition("2026-10-24T22:22:40Z"),
        )
        .then(
            <agent::Offline as Event>::TYPE,
            transition("2026-10-24T22:40:00Z"),
        );
    analytics.append(ORG, ada_day).await;
    // Another organization's call in the same queue and hour is never counted.
    analytics
        .append(
            "org_other",
            abandoned(queued(one, &["billing"], "es"), one, 5),
        )
        .await;

    let asked_at = Utc::now();
    let mut hours = measures(&mut analytics, the_day("hour")).await.unwrap();
    // Every call's and Ada's last events applied (each stream's events may come in several
    // batches): the day's counts, every call an agent went on ended (its handle time whole),
    // and Ada's occupancy once she is logged off.
    let ada_occupancy = Some(210.0 / (210.0 + 2190.0));
    for _ in 0..1500 {
        let organization = hours.organization.as_ref().unwrap();
        let occupancy = organization.intervals[0].occupancy;
        let still_talking: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM analytics_calls
             WHERE organization_id = $1 AND assigned_at IS NOT NULL AND ended_at IS NULL",
        )
        .bind(ORG)
        .fetch_one(&analytics.db.pool)
        .await
        .unwrap();
        if counts(organization.total.as_ref().unwrap()) == (6, 3, 2, 1, 2)
            && still_talking == 0
            && occupancy == ada_occupancy
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        hours = measures(&mut analytics, the_day("hour")).await.unwrap();
    }
    let answered_at = Utc::now();
    assert_eq!(
        (
            hours.time_zone.as_str(),
            hours.interval.as_str(),
            hours.service_level_seconds
        ),
        (ZONE, "hour", 20)
    );
    let organization = hours.organization.as_ref().unwrap();
    assert_eq!(organization.intervals.len(), 25, "a 25-hour day");
    let starts: Vec<String> = organization.intervals[..5]
        .iter()
        .map(local_start)
        .collect();
    assert_eq!(
        starts,
        [
            "00:00+02:00",
            "01:00+02:00",
            "02:00+02:00",
            "02:00+01:00",
            "03:00+01:00"
        ]
    );
    // Queues by language, then skills.
    let queues: Vec<(String, Vec<String>)> = hours
        .queues
        .iter()
        .map(|q| (q.language.clone(), q.skills.clone()))
        .collect();
    assert_eq!(
        queues,
        [
            ("en".to_owned(), vec![]),
            ("es".to_owned(), vec!["billing".to_owned()])
        ]
    );
    let (english, billing) = (&hours.queues[0], &hours.queues[1]);

    // 00:00 CEST, billing: one of two answered within 20 s, one abandoned; waits 15, 40, 25;
    // handled 60 + 30 and 120.
    let midnight = &billing.intervals[0];
    assert_eq!(counts(midnight), (3, 2, 1, 0, 1));
    assert_eq!(
        ratios(midnight),
        (
            Some(1.0 / 3.0),
            Some(1.0 / 3.0),
            Some(27.5),
            40.0,
            Some(105.0)
        )
    );
    // The first 02:00 (CEST): English answered in 5 s; the second (CET): abandoned after 50 s.
    assert_eq!(counts(&english.intervals[2]), (1, 1, 0, 0, 1));
    assert_eq!(
        ratios(&english.intervals[2]),
        (Some(1.0), Some(0.0), Some(5.0), 5.0, Some(100.0))
    );
    assert_eq!(counts(&english.intervals[3]), (1, 0, 1, 0, 0));
    assert_eq!(
        ratios(&english.intervals[3]),
        (Some(0.0), Some(1.0), None, 50.0, None)
    );
    // 21:00 CET: billing's call still waits; nothing has finished waiting there.
    assert_eq!(local_start(&billing.intervals[22]), "21:00+01:00");
    assert_eq!(counts(&billing.intervals[22]), (1, 0, 0, 1, 0));
    assert_eq!(
        ratios(&billing.intervals[22]),
        (None, None, None, 0.0, None)
    );
    let quiet = [1, 4, 10, 23, 24]
        .iter()
        .all(|&i| counts(&organization.intervals[i]) == (0, 0, 0, 0, 0));
    assert!(quiet, "{organization:?}");

    // The day, together: 6 offered, 3 answered (2 within 20 s), 2 abandoned, 1 waiting.
    let total = organization.total.as_ref().unwrap();
    assert_eq!(counts(total), (6, 3, 2, 1, 2));
    assert_eq!(
        ratios(total),
        (Some(0.4), Some(0.4), Some(20.0), 50.0, Some(310.0 / 3.0))
    );
    // Ada's occupancy in her hour; nobody else's time was recorded.
    assert_eq!(organization.intervals[0].occupancy, ada_occupancy);
    assert_eq!(organization.intervals[1].occupancy, None);
    assert!(billing.intervals[0].occupancy.is_none(), "a queue's own");

    // Now: billing's 21:00 call waits, for as long as it has been since then.
    let now = billing.now.unwrap();
    let waited = |until: DateTime<Utc>| (until - at(six)).num_seconds() as f64;
    assert_eq!(now.calls, 1);
    assert!(
        (waited(asked_at)..=waited(answered_at) + 1.0).contains(&now.longest_wait_seconds),
        "{now:?}"
    );
    assert_eq!(english.now.unwrap().calls, 0);
    assert_eq!(organization.now.unwrap().calls, 1);
    assert!(
        hours.agents_now.is_empty(),
        "Ada is offline: {:?}",
        hours.agents_now
    );

    // The day as one interval, and a threshold of a minute: every answer was in time.
    let day = measures(&mut analytics, the_day("day")).await.unwrap();
    let day_total = day.organization.unwrap().intervals[0];
    assert_eq!(counts(&day_total), counts(total));
    let minute = GetQueueMeasuresRequest {
        service_level_seconds: 60,
        ..the_day("day")
    };
    let minute = measures(&mut analytics, minute).await.unwrap();
    let minute_total = minute.organization.unwrap().total.unwrap();
    assert_eq!(minute_total.answered_within_threshold, 3);
    assert_eq!(minute_total.service_level, Some(0.6));

    // Filters: a language, a skill.
    for (language, skill, offered) in [("en", "", 2), ("es", "", 4), ("", "billing", 4)] {
        let request = GetQueueMeasuresRequest {
            language: language.into(),
            skill: skill.into(),
            ..the_day("day")
        };
        let filtered = measures(&mut analytics, request).await.unwrap();
        let total = filtered.organization.unwrap().total.unwrap();
        assert_eq!(total.offered, offered, "{language:?} {skill:?}");
        assert_eq!(filtered.queues.len(), 1, "{language:?} {skill:?}");
    }

    // Bad requests name their field.
    for (request, field) in [
        (
            GetQueueMeasuresRequest {
                time_zone: "Mars/Olympus".into(),
                ..the_day("hour")
            },
            "time_zone",
        ),
        (
            GetQueueMeasuresRequest {
                interval: "week".into(),
                ..the_day("hour")
            },
            "interval",
        ),
        (
            GetQueueMeasuresRequest {
                service_level_seconds: 3601,
                ..the_day("hour")
            },
            "service_level_seconds",
        ),
        (
            GetQueueMeasuresRequest {
                language: "klingon".into(),
                ..the_day("hour")
            },
            "language",
        ),
        (
            GetQueueMeasuresRequest {
                to: the_day("hour").from,
                ..the_day("hour")
            },
            "to",
        ),
    ] {
        let refused = measures(&mut analytics, request).await.unwrap_err();
        assert_eq!(refused.code(), tonic::Code::InvalidArgument, "{field}");
        let details = format!("{refused:?}");
        assert!(details.contains(field), "{field}: {details}");
    }

    // A replay of the log gives the same figures.
    let mut live = Vec::new();
    for interval in ["15m", "hour", "day"] {
        let report = measures(&mut analytics, the_day(interval)).await.unwrap();
        live.push(without_now(report));
    }
    rebuild(&analytics.store, |_| {}).await.unwrap();
    rebuild_read_models(&analytics.store, "analytics.calls", |_| {})
        .await
        .unwrap();
    let mut replayed = Vec::new();
    for interval in ["15m", "hour", "day"] {
        let report = measures(&mut analytics, the_day(interval)).await.unwrap();
        replayed.push(without_now(report));
    }
    assert_eq!(replayed, live);
    analytics.stop().await;
}

/// The data of each `comms.metrics.updated` in `org`'s metrics stream, in order.
async fn published(analytics: &Analytics, org: &str) -> Vec<Value> {
    let stream =
        comms_eventstore::StreamName::new("metrics", comms_events::metrics::stream_id(org));
    analytics
        .store
        .read_stream(&stream, 0, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|e| {
            assert_eq!(e.event_type, <MetricsUpdated as Event>::TYPE);
            assert_eq!(e.tenant_id, org);
            e.data
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn live_figures_are_appended_when_they_change_and_only_then() {
    let mut analytics = Analytics::start().await;
    // The rounds are run as of a minute into this quarter hour, the call queued 30 s before.
    let quarter =
        comms_analytics::intervals::Interval::QuarterHour.start_of(Utc::now(), chrono_tz::Tz::UTC);
    let now = quarter + chrono::Duration::minutes(1);
    let queued_at = (now - chrono::Duration::seconds(30)).to_rfc3339();
    let ada = Uuid::new_v4();
    let waiting = queued(&queued_at, &["billing"], "es");
    let call = waiting.id;
    analytics.append(ORG, waiting).await;
    let ada_day = Script::agent(ada)
        .then(
            <agent::Created as Event>::TYPE,
            json!({ "name": "Ada", "email": "ada@acme.test", "phone": "", "extension": "",
                    "languages": ["es"], "skills": [], "team_id": null,
                    "created_at": now - chrono::Duration::hours(1) }),
        )
        .then(
            <agent::Available as Event>::TYPE,
            json!({ "at": now - chrono::Duration::minutes(1) }),
        );
    analytics.append(ORG, ada_day).await;
    let today = || GetQueueMeasuresRequest {
        interval: "day".into(),
        ..Default::default()
    };
    let applied = |report: &QueueMeasuresReport| {
        report.organization.as_ref().unwrap().now.unwrap().calls == 1
            && report.agents_now.iter().any(|s| s.status == "available")
    };
    let mut report = measures(&mut analytics, today()).await.unwrap();
    for _ in 0..1500 {
        if applied(&report) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        report = measures(&mut analytics, today()).await.unwrap();
    }
    assert!(applied(&report), "{report:?}");

    // A round appends the figures once; the same figures again append nothing.
    let store = analytics.store.clone();
    assert_eq!(publish_changes(&store, now).await.unwrap(), 1);
    assert_eq!(publish_changes(&store, now).await.unwrap(), 0);
    let figures = published(&analytics, ORG).await;
    assert_eq!(figures.len(), 1);
    let first = &figures[0];
    assert_eq!(first["organization"]["waiting"], 1);
    assert_eq!(first["organization"]["longest_wait_seconds"], 30.0);
    assert_eq!(first["agents"], json!({ "available": 1 }));
    assert_eq!(
        (
            &first["queues"][0]["skills"],
            &first["queues"][0]["language"]
        ),
        (&json!(["billing"]), &json!("es"))
    );
    assert_eq!(first["service_level_seconds"], 20);

    // The caller hangs up: the next round says so, and nothing is waiting.
    let hung_up = now + chrono::Duration::seconds(5);
    analytics
        .append(ORG, Script::call(call).ended(hung_up, 35))
        .await;
    // Rounds until the figures say so (a round may see the consumer part-way).
    let mut rounds = 0;
    loop {
        publish_changes(&store, now).await.unwrap();
        let figures = published(&analytics, ORG).await;
        let last = figures.last().unwrap();
        let said = (
            &last["organization"]["waiting"],
            &last["organization"]["abandoned"],
        );
        if said == (&json!(0), &json!(1)) {
            break;
        }
        rounds += 1;
        assert!(
            rounds < 1500,
            "the hang-up never reached the figures: {last}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(published(&analytics, "org_other").await.is_empty());
    analytics.stop().await;
}
