//! Agent analytics against the real PostgreSQL: time is split at UTC midnight, calls are
//! counted on wrap-up, and repeated or late events change nothing.

use chrono::{DateTime, TimeZone, Utc};
use comms_analytics::agents::{apply, report};
use comms_bus::{Envelope, HandleError};
use comms_testkit::TestDatabase;
use serde_json::json;
use uuid::Uuid;

fn at(hour: u32, minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, hour, minute, 0).unwrap()
}

fn event(agent: Uuid, event_type: &str, position: i64, when: DateTime<Utc>) -> Envelope {
    let call = Uuid::from_u128(7);
    let data = match event_type {
        "comms.agent.created" => json!({
            "agent_id": agent, "name": "Ada", "email": "ada@acme.test", "phone": "",
            "extension": "", "languages": ["en"], "skills": [], "team_id": null,
            "created_at": when
        }),
        "comms.agent.reserved" | "comms.agent.wrap_up" => {
            json!({ "agent_id": agent, "call_id": call, "until": when, "at": when })
        }
        "comms.agent.busy" => json!({ "agent_id": agent, "call_id": call, "at": when }),
        _ => json!({ "agent_id": agent, "at": when }),
    };
    let mut envelope: Envelope = serde_json::from_value(json!({
        "id": Uuid::now_v7(), "type": event_type, "source": "comms", "timestamp": when,
        "organizationId": "org_a", "data": data,
    }))
    .unwrap();
    envelope.metadata.stream_position = Some(position);
    envelope
}

#[tokio::test]
async fn time_in_each_state_is_split_at_midnight_and_late_events_change_nothing() {
    let db = TestDatabase::new().await;
    let agent = Uuid::now_v7();
    let history = [
        ("comms.agent.created", at(20, 0)),
        ("comms.agent.available", at(22, 0)),
        ("comms.agent.reserved", at(23, 50)),
        ("comms.agent.busy", at(23, 51)),
    ];
    let mut conn = db.pool.acquire().await.unwrap();
    for (position, (event_type, when)) in history.iter().enumerate() {
        apply(&mut conn, &event(agent, event_type, position as i64, *when))
            .await
            .unwrap();
    }
    // The call crosses midnight; wrap-up starts at 00:30 and the agent is free at 00:35.
    let next_day = |h, m| Utc.with_ymd_and_hms(2026, 11, 21, h, m, 0).unwrap();
    apply(
        &mut conn,
        &event(agent, "comms.agent.wrap_up", 4, next_day(0, 30)),
    )
    .await
    .unwrap();
    apply(
        &mut conn,
        &event(agent, "comms.agent.available", 5, next_day(0, 35)),
    )
    .await
    .unwrap();
    // A redelivery and a stale event: nothing changes.
    apply(
        &mut conn,
        &event(agent, "comms.agent.wrap_up", 4, next_day(0, 30)),
    )
    .await
    .unwrap();
    apply(
        &mut conn,
        &event(agent, "comms.agent.break", 3, next_day(0, 40)),
    )
    .await
    .unwrap();

    let first = report(&db.pool, "org_a", at(0, 0).date_naive(), next_day(1, 0))
        .await
        .unwrap();
    let seconds = |day: &comms_analytics::agents::AgentDay, state: &str| {
        day.seconds_by_state.get(state).copied().unwrap_or(0.0)
    };
    assert_eq!(seconds(&first[0], "offline"), 2.0 * 3600.0);
    assert_eq!(seconds(&first[0], "available"), 110.0 * 60.0);
    assert_eq!(
        seconds(&first[0], "busy"),
        9.0 * 60.0,
        "busy until midnight"
    );
    assert_eq!(first[0].calls_handled, 0);

    let second = report(
        &db.pool,
        "org_a",
        next_day(0, 0).date_naive(),
        next_day(1, 0),
    )
    .await
    .unwrap();
    assert_eq!(
        seconds(&second[0], "busy"),
        30.0 * 60.0,
        "busy from midnight"
    );
    assert_eq!(seconds(&second[0], "wrap_up"), 5.0 * 60.0);
    assert_eq!(
        seconds(&second[0], "available"),
        25.0 * 60.0,
        "available now, counted up to the report"
    );
    assert_eq!(
        second[0].calls_handled, 1,
        "counted once despite the redelivery"
    );
    assert_eq!(second[0].average_handle_seconds(), 35.0 * 60.0);
    assert!(
        !second[0].seconds_by_state.contains_key("break"),
        "the stale event was ignored"
    );
}

#[tokio::test]
async fn malformed_or_foreign_agent_events_are_rejected() {
    let db = TestDatabase::new().await;
    let mut conn = db.pool.acquire().await.unwrap();
    let agent = Uuid::now_v7();
    apply(&mut conn, &event(agent, "comms.agent.created", 0, at(9, 0)))
        .await
        .unwrap();
    let mut foreign = event(agent, "comms.agent.available", 1, at(9, 5));
    foreign.organization_id = "org_b".into();
    assert!(matches!(
        apply(&mut conn, &foreign).await,
        Err(HandleError::Reject(_))
    ));
    let mut broken = event(agent, "comms.agent.available", 2, at(9, 5));
    broken.data = json!({ "agent_id": "not-a-uuid" });
    assert!(matches!(
        apply(&mut conn, &broken).await,
        Err(HandleError::Reject(_))
    ));
    let mut unplaced = event(agent, "comms.agent.available", 3, at(9, 5));
    unplaced.metadata.stream_position = None;
    assert!(matches!(
        apply(&mut conn, &unplaced).await,
        Err(HandleError::Reject(_))
    ));
}
