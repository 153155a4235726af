//! Callers' sentiment in the analytics, from transcript streams consumed through the real
//! RabbitMQ into the real PostgreSQL: per interval, campaign and agent (`GetCallVolumes`) and per
//! agent and day (`GetAgentReport`): the whole call's judgement counts, a window's does not,
//! alerts are counted, another organization's event naming our call changes nothing, and a
//! rebuild from the log gives the same figures.

mod support;

use std::time::Duration;

use comms_analytics::rebuild::rebuild_read_models;
use comms_events::{Event, call};
use comms_eventstore::{ExpectedVersion, NewEvent, StreamName};
use comms_proto::v1::{CallVolume, GetAgentReportRequest, GetCallVolumesRequest};
use serde_json::{Value, json};
use support::{Analytics, ORG, Script, at};
use uuid::Uuid;

fn sentiment(scope: &str, label: &str, score: f64) -> Value {
    json!({ "scope": scope, "label": label, "score": score, "reason": "scripted",
            "scorer": "lexicon", "utterances": 4, "language": "es", "at": at("2026-03-29T10:05:00Z") })
}

fn alert(score: f64) -> Value {
    json!({ "score": score, "reason": "scripted", "scorer": "lexicon", "utterances": 2,
            "at": at("2026-03-29T10:02:00Z") })
}

/// The day of 2026-03-29 (UTC), as one interval, filtered by `filter`.
fn the_day(filter: impl FnOnce(&mut GetCallVolumesRequest)) -> GetCallVolumesRequest {
    let mut request = GetCallVolumesRequest {
        from: Some(comms_proto::time::to_timestamp(at("2026-03-29T00:00:00Z"))),
        to: Some(comms_proto::time::to_timestamp(at("2026-03-30T00:00:00Z"))),
        interval: "day".into(),
        time_zone: "UTC".into(),
        ..Default::default()
    };
    filter(&mut request);
    request
}

/// (calls, judged, negative, alerts) and the mean to 1e-9.
fn figures(v: &CallVolume) -> (i64, i64, i64, i64, Option<i64>) {
    (
        v.calls,
        v.sentiment_calls,
        v.negative_calls,
        v.sentiment_alerts,
        v.average_sentiment.map(|a| (a * 1e9).round() as i64),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn callers_sentiment_per_interval_campaign_and_agent_and_a_rebuild_the_same() {
    let mut analytics = Analytics::start().await;
    let (agent, campaign) = (Uuid::new_v4(), Uuid::new_v4());
    let assigned = <call::AgentAssigned as Event>::TYPE;
    // The agent's two calls: one turned negative (an alert, a negative window, a negative
    // call), one positive; a campaign's call with no agent, neutral; one never transcribed.
    let angry = Script::started("inbound", "2026-03-29T10:00:00Z")
        .then(
            assigned,
            json!({ "agent_id": agent, "assigned_at": at("2026-03-29T10:00:05Z") }),
        )
        .talked("2026-03-29T10:00:05Z", 300);
    let pleased = Script::started("inbound", "2026-03-29T11:00:00Z")
        .then(
            assigned,
            json!({ "agent_id": agent, "assigned_at": at("2026-03-29T11:00:05Z") }),
        )
        .talked("2026-03-29T11:00:05Z", 200);
    let neutral = Script::started("outbound", "2026-03-29T12:00:00Z")
        .with("campaign_id", json!(campaign))
        .talked("2026-03-29T12:00:10Z", 100);
    let silent =
        Script::started("inbound", "2026-03-29T13:00:00Z").talked("2026-03-29T13:00:05Z", 50);
    let ids = [angry.id, pleased.id, neutral.id];
    for call in [angry, pleased, neutral, silent] {
        analytics.append(ORG, call).await;
    }
    let sentiment_type = <call::Sentiment as Event>::TYPE;
    let alert_type = <call::SentimentAlert as Event>::TYPE;
    analytics
        .append(
            ORG,
            Script::transcript(ids[0])
                .then(sentiment_type, sentiment("window", "negative", -0.9))
                .then(alert_type, alert(-0.9))
                .then(sentiment_type, sentiment("call", "negative", -0.6)),
        )
        .await;
    analytics
        .append(
            ORG,
            Script::transcript(ids[1]).then(sentiment_type, sentiment("call", "positive", 0.8)),
        )
        .await;
    // Another organization's events naming our call, from a stream of its own (the store keeps
    // each stream to one organization): refused, never counted.
    let foreign = |event_type: &str, mut data: Value| {
        data["call_id"] = json!(ids[1]);
        NewEvent::new(event_type, data, json!({}))
    };
    analytics
        .store
        .append(
            "org_other",
            &StreamName::new("transcript", Uuid::new_v4()),
            ExpectedVersion::Any,
            vec![
                foreign(alert_type, alert(-1.0)),
                foreign(sentiment_type, sentiment("call", "negative", -1.0)),
            ],
        )
        .await
        .unwrap();

    // The campaign's call last: once it is counted, the other organization's were consumed.
    analytics
        .append(
            ORG,
            Script::transcript(ids[2]).then(sentiment_type, sentiment("call", "neutral", 0.1)),
        )
        .await;

    let mean = |scores: &[f64]| {
        Some((scores.iter().sum::<f64>() / scores.len() as f64 * 1e9).round() as i64)
    };
    let expected_day = (4, 3, 1, 1, mean(&[-0.6, 0.8, 0.1]));
    let mut asked = 0;
    let day = loop {
        let request = analytics.signed(the_day(|_| {}));
        let volumes = analytics
            .client
            .get_call_volumes(request)
            .await
            .unwrap()
            .into_inner();
        let total = volumes.total.unwrap();
        if figures(&total) == expected_day || asked == 1500 {
            break total;
        }
        asked += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(figures(&day), expected_day);

    let ask = |analytics: &mut Analytics, filter: Box<dyn FnOnce(&mut GetCallVolumesRequest)>| {
        let request = analytics.signed(the_day(filter));
        let mut client = analytics.client.clone();
        async move {
            client
                .get_call_volumes(request)
                .await
                .unwrap()
                .into_inner()
                .total
                .unwrap()
        }
    };
    let agents = ask(
        &mut analytics,
        Box::new(move |r| r.agent_id = agent.to_string()),
    )
    .await;
    assert_eq!(figures(&agents), (2, 2, 1, 1, mean(&[-0.6, 0.8])));
    let campaigns = ask(
        &mut analytics,
        Box::new(move |r| r.campaign_id = campaign.to_string()),
    )
    .await;
    assert_eq!(figures(&campaigns), (1, 1, 0, 0, mean(&[0.1])));
    let outbound = ask(
        &mut analytics,
        Box::new(|r| r.direction = "outbound".into()),
    )
    .await;
    assert_eq!(figures(&outbound), (1, 1, 0, 0, mean(&[0.1])));

    // Per agent and day.
    let agent_day = |analytics: &mut Analytics| {
        let request = analytics.signed(GetAgentReportRequest {
            date: "2026-03-29".into(),
        });
        let mut client = analytics.client.clone();
        async move {
            let report = client.get_agent_report(request).await.unwrap().into_inner();
            let row = report
                .agents
                .into_iter()
                .find(|a| a.agent_id == agent.to_string())
                .expect("the agent's row");
            (
                row.sentiment_calls,
                row.negative_calls,
                row.average_sentiment.map(|a| (a * 1e9).round() as i64),
            )
        }
    };
    assert_eq!(agent_day(&mut analytics).await, (2, 1, mean(&[-0.6, 0.8])));

    // Rebuilt from the log: the same, the alert counted once.
    rebuild_read_models(&analytics.store, "analytics.calls", |_| {})
        .await
        .unwrap();
    let rebuilt = ask(&mut analytics, Box::new(|_| {})).await;
    assert_eq!(figures(&rebuilt), expected_day);
    assert_eq!(agent_day(&mut analytics).await, (2, 1, mean(&[-0.6, 0.8])));
    analytics.stop().await;
}
