//! Call volumes by interval (`GetCallVolumes`) from a scripted day of calls consumed through the
//! real RabbitMQ into the real PostgreSQL: exact figures per hour of a Madrid day across the
//! spring DST change (23 hours, no 02:00), per quarter hour and per day, filtered by direction,
//! campaign and agent; another organization's calls never counted; a replay of the log gives
//! the same figures.

mod support;

use std::time::Duration;

use comms_analytics::rebuild::rebuild;
use comms_events::{Event, call};
use comms_proto::v1::{CallVolume, CallVolumes, GetCallVolumesRequest};
use serde_json::json;
use support::{Analytics, ORG, Script, at};
use uuid::Uuid;

const ZONE: &str = "Europe/Madrid";

struct Ask<'a>(&'a mut Analytics);

impl Ask<'_> {
    async fn volumes(
        &mut self,
        request: GetCallVolumesRequest,
    ) -> Result<CallVolumes, tonic::Status> {
        let request = self.0.signed(request);
        self.0
            .client
            .get_call_volumes(request)
            .await
            .map(|r| r.into_inner())
    }
}

/// The day of 2026-03-29 in Madrid (00:00 CET to 24:00 CEST), by `interval`.
fn the_day(interval: &str) -> GetCallVolumesRequest {
    GetCallVolumesRequest {
        from: Some(comms_proto::time::to_timestamp(at("2026-03-28T23:00:00Z"))),
        to: Some(comms_proto::time::to_timestamp(at("2026-03-29T22:00:00Z"))),
        interval: interval.into(),
        time_zone: ZONE.into(),
        ..Default::default()
    }
}

/// (calls, answered, completed, no_answer, busy, in_progress, average talk) of a volume.
fn figures(v: &CallVolume) -> (i64, i64, i64, i64, i64, i64, f64) {
    (
        v.calls,
        v.answered,
        v.completed,
        v.no_answer,
        v.busy,
        v.in_progress,
        v.average_talk_seconds,
    )
}

fn local_start(v: &CallVolume) -> String {
    let zone: chrono_tz::Tz = ZONE.parse().unwrap();
    comms_proto::time::from_timestamp(v.start.as_ref().unwrap())
        .unwrap()
        .with_timezone(&zone)
        .format("%H:%M%:z")
        .to_string()
}

/// Everything but when it was generated.
fn without_time(mut volumes: CallVolumes) -> CallVolumes {
    volumes.generated_at = None;
    volumes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_madrid_day_across_the_dst_change_gives_exact_volumes_and_a_replay_the_same() {
    let mut analytics = Analytics::start().await;

    let (campaign, agent) = (Uuid::new_v4(), Uuid::new_v4());
    let script = [
        // 00:10 CET: in, talked 60 s.
        Script::started("inbound", "2026-03-28T23:10:00Z").talked("2026-03-28T23:10:05Z", 60),
        // 01:20 CET: a campaign's, unanswered.
        Script::started("outbound", "2026-03-29T00:20:00Z")
            .with("campaign_id", json!(campaign))
            .failed("no_answer", "2026-03-29T00:20:30Z"),
        // 01:50 CET: the agent's own, talked 120 s.
        Script::started("outbound", "2026-03-29T00:50:00Z")
            .with("agent_id", json!(agent))
            .talked("2026-03-29T00:50:10Z", 120),
        // 03:05 CEST, the hour after 01:00 CET: in, routed to the agent, talked 30 s.
        Script::started("inbound", "2026-03-29T01:05:00Z")
            .then(
                <call::AgentAssigned as Event>::TYPE,
                json!({ "agent_id": agent, "assigned_at": at("2026-03-29T01:05:03Z") }),
            )
            .talked("2026-03-29T01:05:04Z", 30),
        // 03:59 CEST: in, busy.
        Script::started("inbound", "2026-03-29T01:59:00Z").failed("busy", "2026-03-29T01:59:02Z"),
        // 23:30 CEST: still ringing.
        Script::started("outbound", "2026-03-29T21:30:00Z"),
        // 23:59 CET the day before, and 00:00 CEST the day after: outside.
        Script::started("inbound", "2026-03-28T22:59:00Z"),
        Script::started("inbound", "2026-03-29T22:00:00Z"),
    ];
    for call in script {
        analytics.append(ORG, call).await;
    }
    // Another organization's call in the same hour is never counted.
    analytics
        .append(
            "org_other",
            Script::started("inbound", "2026-03-28T23:20:00Z"),
        )
        .await;

    let store = analytics.store.clone();
    let mut ask = Ask(&mut analytics);
    let mut hours = ask.volumes(the_day("hour")).await.unwrap();
    for _ in 0..1500 {
        let total = hours.total.as_ref().unwrap();
        if (total.calls, total.in_progress) == (6, 1) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        hours = ask.volumes(the_day("hour")).await.unwrap();
    }
    assert_eq!(
        (hours.time_zone.as_str(), hours.interval.as_str()),
        (ZONE, "hour")
    );
    assert_eq!(hours.intervals.len(), 23, "a 23-hour day");
    let starts: Vec<String> = hours.intervals[..4].iter().map(local_start).collect();
    assert_eq!(
        starts,
        ["00:00+01:00", "01:00+01:00", "03:00+02:00", "04:00+02:00"]
    );
    assert_eq!(local_start(&hours.intervals[22]), "23:00+02:00");
    assert_eq!(figures(&hours.intervals[0]), (1, 1, 1, 0, 0, 0, 60.0));
    assert_eq!(figures(&hours.intervals[1]), (2, 1, 1, 1, 0, 0, 120.0));
    assert_eq!(figures(&hours.intervals[2]), (2, 1, 1, 0, 1, 0, 30.0));
    assert_eq!(figures(&hours.intervals[22]), (1, 0, 0, 0, 0, 1, 0.0));
    let quiet = hours.intervals[3..22].iter().all(|v| v.calls == 0);
    assert!(quiet, "{hours:?}");
    assert_eq!(
        figures(hours.total.as_ref().unwrap()),
        (6, 3, 3, 1, 1, 1, 70.0)
    );

    // The day as one interval of 23 hours; quarter hours put 01:50 in 01:45.
    let day = ask.volumes(the_day("day")).await.unwrap();
    assert_eq!(day.intervals.len(), 1);
    assert_eq!(
        figures(&day.intervals[0]),
        figures(hours.total.as_ref().unwrap())
    );
    let quarters = ask.volumes(the_day("15m")).await.unwrap();
    assert_eq!(quarters.intervals.len(), 23 * 4);
    let busy: Vec<String> = quarters
        .intervals
        .iter()
        .filter(|v| v.calls > 0)
        .map(local_start)
        .collect();
    assert_eq!(
        busy,
        [
            "00:00+01:00",
            "01:15+01:00",
            "01:45+01:00",
            "03:00+02:00",
            "03:45+02:00",
            "23:30+02:00"
        ]
    );

    // Filters.
    let filtered = |field: &str, value: String| {
        let mut request = the_day("day");
        match field {
            "direction" => request.direction = value,
            "campaign_id" => request.campaign_id = value,
            _ => request.agent_id = value,
        }
        request
    };
    for (field, value, calls) in [
        ("direction", "inbound".to_owned(), 3),
        ("direction", "outbound".to_owned(), 3),
        ("campaign_id", campaign.to_string(), 1),
        ("agent_id", agent.to_string(), 2),
    ] {
        let volumes = ask.volumes(filtered(field, value.clone())).await.unwrap();
        assert_eq!(volumes.total.unwrap().calls, calls, "{field}={value}");
    }

    // Bad requests name their field.
    for (request, field) in [
        (
            GetCallVolumesRequest {
                time_zone: "Mars/Olympus".into(),
                ..the_day("hour")
            },
            "time_zone",
        ),
        (
            GetCallVolumesRequest {
                interval: "week".into(),
                ..the_day("hour")
            },
            "interval",
        ),
        (
            GetCallVolumesRequest {
                direction: "sideways".into(),
                ..the_day("hour")
            },
            "direction",
        ),
        (
            GetCallVolumesRequest {
                agent_id: "ada".into(),
                ..the_day("hour")
            },
            "agent_id",
        ),
        (
            GetCallVolumesRequest {
                to: the_day("hour").from,
                ..the_day("hour")
            },
            "to",
        ),
    ] {
        let refused = ask.volumes(request).await.unwrap_err();
        assert_eq!(refused.code(), tonic::Code::InvalidArgument, "{field}");
        let details = format!("{refused:?}");
        assert!(details.contains(field), "{field}: {details}");
    }

    // A long span is answered 1000 intervals at a time, saying where the rest start.
    let long = GetCallVolumesRequest {
        from: Some(comms_proto::time::to_timestamp(at("2026-01-01T00:00:00Z"))),
        ..the_day("15m")
    };
    let page = ask.volumes(long).await.unwrap();
    assert_eq!(page.intervals.len(), 1000);
    assert_eq!(page.next_from, page.intervals[999].end);

    // A replay of the log gives the same figures.
    let live: Vec<CallVolumes> = [
        ask.volumes(the_day("hour")).await.unwrap(),
        ask.volumes(the_day("15m")).await.unwrap(),
        ask.volumes(the_day("day")).await.unwrap(),
    ]
    .into_iter()
    .map(without_time)
    .collect();
    rebuild(&store, |_| {}).await.unwrap();
    let replayed: Vec<CallVolumes> = [
        ask.volumes(the_day("hour")).await.unwrap(),
        ask.volumes(the_day("15m")).await.unwrap(),
        ask.volumes(the_day("day")).await.unwrap(),
    ]
    .into_iter()
    .map(without_time)
    .collect();
    assert_eq!(replayed, live);
    analytics.stop().await;
}
