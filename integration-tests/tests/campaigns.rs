//! Outbound campaigns end to end, through REST and the bus, against the whole fleet: a campaign
//! over fifty contacts runs to completion and analytics agrees with it; calling windows and
//! do-not-call lists hold and say why; pausing stops new calls at once; the CRM's contacts sync
//! idempotently; a planning task triggers a campaign once; bad input is refused field by field;
//! and `comms replay` rebuilds the agent and campaign analytics the fifty-contact campaign left.

#[path = "campaigns/analytics_rebuild.rs"]
mod analytics_rebuild;
mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{Timelike, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::{
    EVERY_DAY, Fleet, ORG, action, assert_valid, available_agent, create_campaign, envelope,
    fields, import, json_of, next_dead_letter_reason, problem, schema, until,
};

async fn campaign_contacts(fleet: &Fleet, campaign: &str) -> Vec<Value> {
    let page = json_of(fleet.get(&format!(
        "/api/communications/campaigns/{campaign}/contacts?page_size=200"
    )))
    .await;
    page["data"].as_array().unwrap().clone()
}

async fn campaign_calls(fleet: &Fleet, campaign: &str) -> Vec<Value> {
    let page = json_of(fleet.get(&format!(
        "/api/communications/calls?campaign_id={campaign}&page_size=200"
    )))
    .await;
    page["data"].as_array().unwrap().clone()
}

/// Every campaign event on the bus so far, in order, each checked against its schema.
async fn campaign_events(fleet: &Fleet, at_least: usize) -> Vec<Value> {
    let seen = fleet.next_types("comms.campaign.", at_least).await;
    seen.into_iter()
        .map(|(event_type, envelope)| {
            assert_valid(&schema("envelope"), &envelope);
            assert_valid(&schema(&event_type), &envelope["data"]);
            envelope
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_campaign_over_fifty_contacts_runs_to_completed_and_analytics_agrees() {
    let fleet = Fleet::start_with(
        "30",
        &[
            ("SIM_OUTCOMES", "answered=45,no_answer=35,busy=20"),
            ("SIM_TALK_MS", "150"),
            ("WRAP_UP_SECONDS", "1"),
            ("MIN_RETRY_DELAY_SECONDS", "1"),
            ("DIALER_TICK_MS", "100"),
        ],
    )
    .await;
    for name in ["Ada", "Grace", "Hedy", "Radia"] {
        available_agent(&fleet, name).await;
    }
    let retry = json!({ "max_attempts": 2, "delay_seconds": 1 });
    let campaign = create_campaign(
        &fleet,
        json!({
            "name": "Fifty", "dialing_mode": "predictive",
            "window": { "start": "00:00", "end": "23:59", "days": EVERY_DAY },
            "retry": { "no_answer": retry, "busy": retry, "failed": retry, "voicemail": retry }
        }),
    )
    .await;
    let csv: String = std::iter::once("name,phone,time_zone".to_owned())
        .chain((0..50).map(|i| format!("Contact {i},+1415555{i:04},Etc/UTC")))
        .collect::<Vec<_>>()
        .join("\n");
    let report = import(&fleet, &campaign, csv).await;
    assert_eq!(report["created"], 50, "{report}");
    assert_eq!(report["added_to_campaign"], 50, "{report}");

    assert_eq!(
        action(&fleet, &campaign, "start").await.status(),
        StatusCode::OK
    );
    let done = until(
        Duration::from_secs(120),
        || json_of(fleet.get(&format!("/api/communications/campaigns/{campaign}"))),
        |c| c["status"] == "completed",
    )
    .await;
    assert_eq!(done["progress"]["open"], 0, "{done}");

    // Every contact is final, and the attempts match the calls the calls service placed.
    let contacts = campaign_contacts(&fleet, &campaign).await;
    assert_eq!(contacts.len(), 50);
    let mut finals: BTreeMap<String, i64> = BTreeMap::new();
    let mut attempts = 0;
    for contact in &contacts {
        let disposition = match contact["status"].as_str().unwrap() {
            "reached" => "reached".to_owned(),
            // Out of attempts: named by the last outcome, after exactly the maximum.
            "exhausted" => {
                assert_eq!(contact["attempts"], 2, "{contact}");
                contact["last_outcome"].as_str().unwrap().to_owned()
            }
            other => panic!("contact not final: {other} in {contact}"),
        };
        *finals.entry(disposition).or_default() += 1;
        attempts += contact["attempts"].as_i64().unwrap();
    }
    assert!(
        finals.contains_key("reached") && finals.len() > 1,
        "{finals:?}"
    );
    let calls = campaign_calls(&fleet, &campaign).await;
    assert_eq!(calls.len() as i64, attempts, "one call per attempt");

    // The bus carried the campaign's life, every event as its schema says.
    let events = campaign_events(&fleet, 3).await;
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert!(types.contains(&"comms.campaign.started"), "{types:?}");
    let completed = fleet.next_message("comms.campaign.completed").await;
    let completed: Value = serde_json::from_slice(&completed.data).unwrap();
    assert_eq!(completed["data"]["campaign_id"], campaign.as_str());

    // Analytics agrees with the contacts' final states exactly.
    let results = until(
        Duration::from_secs(20),
        || {
            json_of(fleet.get(&format!(
                "/api/communications/analytics/campaigns?campaign_id={campaign}"
            )))
        },
        |r| r["data"][0]["status"] == "completed" && r["data"][0]["contacts_final"] == 50,
    )
    .await;
    let row = &results["data"][0];
    let by_disposition: BTreeMap<String, i64> =
        serde_json::from_value(row["contacts_by_disposition"].clone()).unwrap();
    assert_eq!(by_disposition, finals);
    assert_eq!(row["contacts"], 50);
    assert_eq!(row["attempts"], attempts);
    let reached = finals["reached"] as f64;
    assert!(
        (row["success_rate"].as_f64().unwrap() - reached / 50.0).abs() < 1e-9,
        "{row}"
    );
    // Answers and abandons as the campaign itself counted them. (Whether predictive dialing
    // keeps abandons under the cap is the simulator's proof: fifty contacts are too few.)
    assert_eq!(
        row["answered"], done["progress"]["answered"],
        "{row} vs {done}"
    );
    assert_eq!(
        row["abandoned"], done["progress"]["abandoned"],
        "{row} vs {done}"
    );
    // The dialer's pacing: every placed call says its calls in flight per free agent, and
    // analytics shows the last one's.
    let pacing: Vec<Option<f64>> = sqlx::query_scalar(
        "SELECT (data ->> 'lines_per_agent')::float8 FROM events
         WHERE event_type = $1 AND data ->> 'campaign_id' = $2 ORDER BY global_position",
    )
    .bind(<comms_events::campaign::CallPlaced as comms_events::Event>::TYPE)
    .bind(&campaign)
    .fetch_all(&fleet.pool)
    .await
    .unwrap();
    assert_eq!(pacing.len() as i64, attempts);
    assert!(
        pacing.iter().all(|p| p.is_some_and(|p| p > 0.0)),
        "{pacing:?}"
    );
    assert_eq!(
        row["lines_per_agent"].as_f64(),
        *pacing.last().unwrap(),
        "{row}"
    );
    // Each connected call's wrap-up, once the agent left it, joins its talk time in the
    // pacer's handle time.
    let campaign_sum = |sql: &'static str| {
        let (pool, campaign) = (fleet.pool.clone(), campaign.clone());
        async move {
            sqlx::query_as::<_, (i64, f64)>(sql)
                .bind(campaign)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    let (connected, talk) = campaign_sum(
        "SELECT count(*), coalesce(sum((data ->> 'talk_seconds')::float8), 0) FROM events
         WHERE event_type = 'comms.campaign.call_finished' AND data ->> 'campaign_id' = $1
           AND data ->> 'outcome' = 'connected'",
    )
    .await;
    let wrap_ups = "SELECT count(*), coalesce(sum((data ->> 'seconds')::float8), 0) FROM events
         WHERE event_type = 'comms.campaign.wrap_up_recorded' AND data ->> 'campaign_id' = $1";
    let mut wrapped = campaign_sum(wrap_ups).await;
    for _ in 0..300 {
        if wrapped.0 == connected {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        wrapped = campaign_sum(wrap_ups).await;
    }
    assert_eq!(wrapped.0, connected, "one wrap-up per connected call");
    let (wrap_count, wrap_seconds) = wrapped;
    // WRAP_UP_SECONDS is 1: each took about that long.
    let average_wrap_up = wrap_seconds / wrap_count as f64;
    assert!((0.8..5.0).contains(&average_wrap_up), "{average_wrap_up}");
    let measured: Value =
        sqlx::query_scalar("SELECT measured FROM campaigns_view WHERE campaign_id = $1::uuid")
            .bind(&campaign)
            .fetch_one(&fleet.pool)
            .await
            .unwrap();
    let handle_seconds = measured["handle_seconds"].as_f64().unwrap();
    assert!(
        (handle_seconds - (talk + wrap_seconds)).abs() < 1e-6,
        "{measured} vs talk {talk} + wrap-up {wrap_seconds}"
    );
    // The operator sees those measures on the campaign.
    let shown = json_of(fleet.get(&format!("/api/communications/campaigns/{campaign}"))).await;
    let progress = &shown["progress"];
    let per = |sum: f64, count: &str| sum / measured[count].as_f64().unwrap();
    let close = |field: &str, expected: f64| {
        let got = progress[field].as_f64().unwrap();
        assert!(
            (got - expected).abs() < 1e-9,
            "{field}: {got} vs {expected}"
        );
    };
    close("average_handle_seconds", per(handle_seconds, "handled"));
    close(
        "answer_rate",
        per(measured["answered"].as_f64().unwrap(), "resolved"),
    );

    let metrics = fleet
        .http
        .get(fleet.admin_url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("comms_campaign_success_rate") && l.contains(&campaign)),
        "no success-rate gauge for the campaign"
    );
    analytics_rebuild::equals_the_live_read_models(&fleet).await;
    fleet.stop().await;
}

/// An `Etc/GMT±N` zone where the local hour is `hour` now (the sign of those names is reversed:
/// Etc/GMT-3 is three hours ahead of UTC).
fn zone_at_local_hour(hour: i64) -> String {
    let ahead = (hour - i64::from(Utc::now().hour())).rem_euclid(24);
    let ahead = if ahead > 14 { ahead - 24 } else { ahead };
    match ahead {
        0 => "Etc/GMT".to_owned(),
        n if n > 0 => format!("Etc/GMT-{n}"),
        n => format!("Etc/GMT+{}", -n),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_window_and_do_not_call_lists_hold_and_say_why() {
    let fleet = Fleet::start_with("30", &[("DIALER_TICK_MS", "100")]).await;
    available_agent(&fleet, "Ada").await;
    let night = zone_at_local_hour(22);
    let day = zone_at_local_hour(12);
    let added = json_of(
        fleet
            .post("/api/communications/do-not-call/internal")
            .json(&json!({ "numbers": ["+14155550102"] })),
    )
    .await;
    assert_eq!(added["changed"], 1);
    // The list reads back, paged in number order.
    fleet
        .post("/api/communications/do-not-call/internal")
        .json(&json!({ "numbers": ["+14155550100", "+14155550109"] }))
        .send()
        .await
        .unwrap();
    let first = json_of(fleet.get("/api/communications/do-not-call/internal?page_size=2")).await;
    let phones = |page: &Value| -> Vec<String> {
        page["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["phone"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(phones(&first), ["+14155550100", "+14155550102"]);
    let token = first["next_page_token"].as_str().unwrap();
    let second = json_of(fleet.get(&format!(
        "/api/communications/do-not-call/internal?page_size=2&page_token={token}"
    )))
    .await;
    assert_eq!(phones(&second), ["+14155550109"]);
    assert!(second["next_page_token"].is_null(), "{second}");
    fleet
        .post("/api/communications/do-not-call/internal/remove")
        .json(&json!({ "numbers": ["+14155550100", "+14155550109"] }))
        .send()
        .await
        .unwrap();
    let campaign = create_campaign(
        &fleet,
        json!({
            "name": "Careful", "do_not_call_lists": ["internal"],
            "window": { "start": "09:00", "end": "20:00", "days": EVERY_DAY }
        }),
    )
    .await;
    let csv = format!(
        "name,phone,time_zone\nNight Owl,+14155550101,{night}\nListed,+14155550102,{day}\nDay,+14155550103,{day}\n"
    );
    assert_eq!(import(&fleet, &campaign, csv).await["added_to_campaign"], 3);
    assert_eq!(
        action(&fleet, &campaign, "start").await.status(),
        StatusCode::OK
    );

    // The one inside its window and on no list is called; the listed one is excluded for good.
    until(
        Duration::from_secs(20),
        || async { json!(campaign_contacts(&fleet, &campaign).await) },
        |contacts| {
            contacts
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["status"] == "do_not_call")
                && contacts
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|c| c["attempts"] == 1)
        },
    )
    .await;
    let contacts = campaign_contacts(&fleet, &campaign).await;
    let by_name = |name: &str| contacts.iter().find(|c| c["name"] == name).unwrap().clone();
    let owl = by_name("Night Owl");
    assert_eq!(owl["status"], "waiting");
    assert_eq!(owl["attempts"], 0);
    let reason = owl["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("outside window: ")
            && reason.contains(" 22:")
            && reason.ends_with(&format!("local in {night}")),
        "{reason}"
    );
    let listed = by_name("Listed");
    assert_eq!(listed["status"], "do_not_call");
    assert_eq!(
        listed["reason"],
        "do not call: +14155550102 is on the do-not-call list \"internal\""
    );
    assert_eq!(by_name("Day")["attempts"], 1);
    let called: Vec<String> = campaign_calls(&fleet, &campaign)
        .await
        .iter()
        .map(|c| c["to"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        called,
        ["+14155550103"],
        "never the listed or the sleeping contact"
    );
    let excluded = fleet.next_message("comms.campaign.contact_excluded").await;
    let excluded: Value = serde_json::from_slice(&excluded.data).unwrap();
    assert_valid(
        &schema("comms.campaign.contact_excluded"),
        &excluded["data"],
    );
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thousands_outside_their_window_do_not_hide_a_dialable_contact_behind_them() {
    let fleet = Fleet::start_with("30", &[("DIALER_TICK_MS", "100")]).await;
    available_agent(&fleet, "Ada").await;
    let (night, day) = (zone_at_local_hour(22), zone_at_local_hour(12));
    let campaign = create_campaign(
        &fleet,
        json!({ "name": "Deep", "window": { "start": "09:00", "end": "20:00", "days": EVERY_DAY } }),
    )
    .await;
    // More contacts outside their window, ahead in the dialing order, than one tick scans.
    let asleep: String = std::iter::once("name,phone,time_zone".to_owned())
        .chain((0..2_100).map(|i| format!("N{i},+1415559{i:04},{night}")))
        .collect::<Vec<_>>()
        .join("\n");
    assert_eq!(
        import(&fleet, &campaign, asleep).await["added_to_campaign"],
        2_100
    );
    let awake = format!("name,phone,time_zone\nDay,+14155550199,{day}\n");
    assert_eq!(
        import(&fleet, &campaign, awake).await["added_to_campaign"],
        1
    );
    assert_eq!(
        action(&fleet, &campaign, "start").await.status(),
        StatusCode::OK
    );
    let calls = until(
        Duration::from_secs(20),
        || async { json!(campaign_calls(&fleet, &campaign).await) },
        |calls| !calls.as_array().unwrap().is_empty(),
    )
    .await;
    let called: Vec<&str> = calls
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["to"].as_str().unwrap())
        .collect();
    assert_eq!(
        called,
        ["+14155550199"],
        "only the contact inside their window"
    );
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn campaigns_of_one_language_share_the_free_agents_without_over_dialing() {
    // Calls ring for a minute, so each keeps its agent spoken for while the dialer ticks.
    let fleet = Fleet::start_with(
        "20",
        &[("SIM_ANSWER_MS", "60000"), ("DIALER_TICK_MS", "100")],
    )
    .await;
    for name in ["Ada", "Grace"] {
        available_agent(&fleet, name).await;
    }
    let mut campaigns = Vec::new();
    for (n, name) in ["North", "South"].into_iter().enumerate() {
        let campaign = create_campaign(
            &fleet,
            json!({ "name": name, "window": { "start": "00:00", "end": "23:59", "days": EVERY_DAY } }),
        )
        .await;
        let csv: String = std::iter::once("name,phone,time_zone".to_owned())
            .chain((0..5).map(|i| format!("{name}{i},+1415557{n}{i:03},Etc/UTC")))
            .collect::<Vec<_>>()
            .join("\n");
        import(&fleet, &campaign, csv).await;
        campaigns.push(campaign);
    }
    for campaign in &campaigns {
        assert_eq!(
            action(&fleet, campaign, "start").await.status(),
            StatusCode::OK
        );
    }
    let placed = || async {
        let mut total = 0;
        for campaign in &campaigns {
            total += campaign_calls(&fleet, campaign).await.len();
        }
        json!(total)
    };
    until(Duration::from_secs(20), placed, |n| {
        n.as_u64().unwrap() >= 2
    })
    .await;
    // Twenty ticks later still one progressive call per free agent, across both campaigns.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(placed().await, 2, "two free agents, two calls in all");
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_call_answered_longer_ago_than_the_hold_is_abandoned_though_an_agent_is_free() {
    // A hold of one millisecond: every answered call reaches the dialer (through the calls
    // service, the bus and the feed) after it, as a call does behind a lagging consumer.
    let fleet = Fleet::start_with(
        "20",
        &[
            ("ABANDON_HOLD_MS", "1"),
            ("SIM_OUTCOMES", "answered=1"),
            ("SIM_TALK_MS", "60000"),
            ("DIALER_TICK_MS", "100"),
        ],
    )
    .await;
    let agent = available_agent(&fleet, "Ada").await;
    let once = json!({ "max_attempts": 1, "delay_seconds": 60 });
    let campaign = create_campaign(
        &fleet,
        json!({
            "name": "Late", "window": { "start": "00:00", "end": "23:59", "days": EVERY_DAY },
            "retry": { "no_answer": once }
        }),
    )
    .await;
    let csv: String = std::iter::once("name,phone,time_zone".to_owned())
        .chain((0..3).map(|i| format!("L{i},+1415558{i:04},Etc/UTC")))
        .collect::<Vec<_>>()
        .join("\n");
    import(&fleet, &campaign, csv).await;
    assert_eq!(
        action(&fleet, &campaign, "start").await.status(),
        StatusCode::OK
    );
    let done = until(
        Duration::from_secs(30),
        || json_of(fleet.get(&format!("/api/communications/campaigns/{campaign}"))),
        |c| c["progress"]["abandoned"] == 3,
    )
    .await;
    assert_eq!(done["progress"]["answered"], 3);
    let outcomes: Vec<Value> = campaign_contacts(&fleet, &campaign)
        .await
        .iter()
        .map(|c| c["last_outcome"].clone())
        .collect();
    assert_eq!(
        outcomes,
        vec![json!("abandoned"); 3],
        "none counted as connected"
    );
    let ada = json_of(fleet.get(&format!("/api/communications/agents/{agent}"))).await;
    assert_eq!(
        ada["status"], "available",
        "the free agent was never put on a late call"
    );
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pausing_stops_new_calls_at_once_and_lets_calls_in_progress_finish() {
    let fleet = Fleet::start_with(
        "30",
        &[
            ("SIM_TALK_MS", "1500"),
            ("WRAP_UP_SECONDS", "1"),
            ("DIALER_TICK_MS", "100"),
        ],
    )
    .await;
    for name in ["Ada", "Grace", "Hedy"] {
        available_agent(&fleet, name).await;
    }
    let campaign = create_campaign(
        &fleet,
        json!({ "name": "Pausable", "window": { "start": "00:00", "end": "23:59", "days": EVERY_DAY } }),
    )
    .await;
    let csv: String = std::iter::once("name,phone,time_zone".to_owned())
        .chain((0..30).map(|i| format!("P{i},+1415556{i:04},Etc/UTC")))
        .collect::<Vec<_>>()
        .join("\n");
    import(&fleet, &campaign, csv).await;
    assert_eq!(
        action(&fleet, &campaign, "start").await.status(),
        StatusCode::OK
    );
    until(
        Duration::from_secs(20),
        || async { json!(campaign_calls(&fleet, &campaign).await.len()) },
        |n| n.as_u64().unwrap() >= 3,
    )
    .await;
    let paused = action(&fleet, &campaign, "pause").await;
    assert_eq!(paused.status(), StatusCode::OK);
    let placed = campaign_calls(&fleet, &campaign).await.len();

    // Calls in progress finish (1.5 s of talk); nothing new is placed meanwhile or after.
    let settled = until(
        Duration::from_secs(20),
        || json_of(fleet.get(&format!("/api/communications/campaigns/{campaign}"))),
        |c| c["progress"]["calls_in_progress"] == 0,
    )
    .await;
    assert_eq!(settled["status"], "paused");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let calls = campaign_calls(&fleet, &campaign).await;
    assert_eq!(calls.len(), placed, "no call placed after the pause");
    assert!(
        calls
            .iter()
            .all(|c| ["ended", "failed", "no_answer", "busy", "canceled"]
                .contains(&c["status"].as_str().unwrap())),
        "calls in progress finished: {calls:?}"
    );
    let resumed = action(&fleet, &campaign, "resume").await;
    assert_eq!(resumed.status(), StatusCode::OK);
    until(
        Duration::from_secs(20),
        || async { json!(campaign_calls(&fleet, &campaign).await.len()) },
        |n| n.as_u64().unwrap() as usize > placed,
    )
    .await;
    fleet.stop().await;
}

/// The reason on the next message to arrive on `dead_letters` (taken off the queue).
fn crm_event(event_type: &str, data: Value, at: &str) -> comms_bus::Envelope {
    envelope(event_type, "crm", data, at.parse().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_crms_contacts_sync_idempotently_and_malformed_ones_are_dead_lettered() {
    let fleet = Fleet::start("30").await;
    let ada = json!({ "id": "crm-1", "name": "Ada", "phone": "+14155550111", "language": "en" });
    fleet
        .publish(&crm_event(
            "crm.contact.created",
            ada.clone(),
            "2026-11-20T10:00:00Z",
        ))
        .await;
    // The same contact again (a replay with a new message id), and an older update arriving late.
    fleet
        .publish(&crm_event(
            "crm.contact.created",
            ada.clone(),
            "2026-11-20T10:00:00Z",
        ))
        .await;
    let mut stale = ada.clone();
    stale["name"] = json!("Ada (stale)");
    fleet
        .publish(&crm_event(
            "crm.contact.updated",
            stale,
            "2026-11-20T09:00:00Z",
        ))
        .await;
    let mut renamed = ada.clone();
    renamed["name"] = json!("Ada Lovelace");
    // Fields the CRM adds that we do not read are ignored, not refused.
    renamed["lifecycle_stage"] = json!("customer");
    fleet
        .publish(&crm_event(
            "crm.contact.updated",
            renamed,
            "2026-11-20T11:00:00Z",
        ))
        .await;
    let malformed = json!({ "id": "crm-2", "name": "Bob", "phone": "555-0100" });
    fleet
        .publish(&crm_event(
            "crm.contact.created",
            malformed,
            "2026-11-20T10:00:00Z",
        ))
        .await;

    let contacts = until(
        Duration::from_secs(20),
        || json_of(fleet.get("/api/communications/contacts")),
        |page| {
            page["data"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["name"] == "Ada Lovelace")
        },
    )
    .await;
    let data = contacts["data"].as_array().unwrap();
    assert_eq!(
        data.len(),
        1,
        "one contact for crm-1, none for the malformed one: {contacts}"
    );
    assert_eq!(data[0]["external_id"], "crm-1");
    assert_eq!(
        data[0]["effective_time_zones"],
        json!(["America/Los_Angeles"])
    );

    let dead_letters = comms_bus::dead_letter_queue(&fleet.campaigns_queue);
    let message = next_dead_letter_reason(&fleet, &dead_letters).await;
    assert!(
        message
            .as_str()
            .unwrap()
            .contains("data.phones: \"555-0100\" is not an E.164 number"),
        "{message}"
    );
    let changes: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events WHERE stream_category = 'contact' AND tenant_id = $1",
    )
    .bind(ORG)
    .fetch_one(&fleet.pool)
    .await
    .unwrap();
    assert_eq!(changes, 2, "created once, renamed once");

    // Another module (a broker user not allowed to speak for the CRM) cannot change a contact,
    // say to clear a do-not-call flag: it is dead-lettered, with the reason.
    let outsider = comms_testkit::outsider_amqp_connection().await;
    let outsider = outsider.create_channel().await.unwrap();
    let mut forged = ada.clone();
    forged["name"] = json!("Ada (forged)");
    let forged = crm_event("crm.contact.updated", forged, "2026-11-20T12:00:00Z");
    let properties =
        comms_bus::amqp_properties(&forged, None).with_user_id("comms-test-outsider".into());
    outsider
        .basic_publish(
            fleet.exchange.as_str().into(),
            "crm.contact.updated".into(),
            Default::default(),
            &forged.to_json(),
            properties,
        )
        .await
        .unwrap();
    let refused = next_dead_letter_reason(&fleet, &dead_letters).await;
    assert!(
        refused
            .as_str()
            .unwrap()
            .starts_with("crm.contact.updated from comms-test-outsider: only"),
        "{refused}"
    );
    let contacts = json_of(fleet.get("/api/communications/contacts")).await;
    assert_eq!(contacts["data"][0]["name"], "Ada Lovelace");
    fleet.stop().await;
}

fn task_completed(task: &str, data: Value) -> comms_bus::Envelope {
    let mut body = data;
    body["task_id"] = json!(task);
    envelope("planning.task.completed", "planning", body, Utc::now())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_completed_task_triggers_a_campaign_once() {
    let fleet = Fleet::start("30").await;
    let starts = create_campaign(
        &fleet,
        json!({ "name": "On completion",
                "trigger": { "event": "planning.task.completed", "matching": { "project_id": "p-1" }, "action": "start" } }),
    )
    .await;
    let adds = create_campaign(
        &fleet,
        json!({ "name": "Follow-ups",
                "trigger": { "event": "planning.task.completed", "action": "add_contact" } }),
    )
    .await;
    json_of(fleet.post("/api/communications/contacts").json(&json!({
        "name": "Grace", "phones": ["+14155550122"], "external_id": "crm-7"
    })))
    .await;

    // Another project's task starts nothing; ours starts the campaign once, however often it
    // arrives, and adds the task's contact to the other campaign once.
    fleet
        .publish(&task_completed(
            "t-0",
            json!({ "project_id": "p-2", "contact_id": "crm-7" }),
        ))
        .await;
    for _ in 0..3 {
        fleet
            .publish(&task_completed(
                "t-1",
                json!({ "project_id": "p-1", "contact_id": "crm-7" }),
            ))
            .await;
    }
    let started = until(
        Duration::from_secs(20),
        || json_of(fleet.get(&format!("/api/communications/campaigns/{starts}"))),
        |c| c["status"] == "running",
    )
    .await;
    assert_eq!(started["status"], "running");
    assert_eq!(
        action(&fleet, &starts, "pause").await.status(),
        StatusCode::OK
    );
    // A replay of the task after the pause changes nothing.
    fleet
        .publish(&task_completed(
            "t-1",
            json!({ "project_id": "p-1", "contact_id": "crm-7" }),
        ))
        .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let still = json_of(fleet.get(&format!("/api/communications/campaigns/{starts}"))).await;
    assert_eq!(still["status"], "paused");
    let events: Vec<(String,)> = sqlx::query_as(
        "SELECT event_type FROM events WHERE stream_name = $1 ORDER BY stream_position",
    )
    .bind(format!("campaign-{starts}"))
    .fetch_all(&fleet.pool)
    .await
    .unwrap();
    let started_count = events
        .iter()
        .filter(|(t,)| t == "comms.campaign.started")
        .count();
    assert_eq!(started_count, 1, "{events:?}");
    let followers = campaign_contacts(&fleet, &adds).await;
    assert_eq!(followers.len(), 1);
    assert_eq!(followers[0]["name"], "Grace");
    let added: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events WHERE stream_name = $1 AND event_type = 'comms.campaign.contacts_added'",
    )
    .bind(format!("campaign-{adds}"))
    .fetch_one(&fleet.pool)
    .await
    .unwrap();
    assert_eq!(
        added, 1,
        "t-0 adds the contact; t-1 finds them on the list already"
    );
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_campaign_and_contact_input_is_refused_field_by_field_and_nothing_half_imported() {
    let fleet = Fleet::start("30").await;
    // A window that ends before it starts, an unknown mode, a cap above the law.
    let (status, body) = problem(fleet.post("/api/communications/campaigns").json(&json!({
        "name": "Backwards", "dialing_mode": "telepathic", "abandon_cap": 0.1,
        "window": { "start": "20:00", "end": "09:00", "days": ["mon"] }
    })))
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let named = fields(&body);
    for field in ["window.end", "dialing_mode", "abandon_cap"] {
        assert!(named.contains(&field), "{field} in {body}");
    }
    // A contact with an invalid number and an unknown time zone.
    let (status, body) = problem(fleet.post("/api/communications/contacts").json(&json!({
        "name": "Bad", "phones": ["555-0100"], "time_zone": "Mars/Olympus"
    })))
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(fields(&body).contains(&"phones[0]"), "{body}");

    // A CSV with a malformed row, an invalid number, an unknown zone and one good row.
    let campaign = create_campaign(&fleet, json!({ "name": "Imports" })).await;
    let csv = "name,phone,time_zone,consent\n\
               Short row,+14155550131\n\
               Bad number,555-0100,,yes\n\
               Bad zone,+14155550133,Atlantis/Capital,\n\
               Good,+14155550134,America/Chicago,no\n";
    let report = import(&fleet, &campaign, csv.to_owned()).await;
    assert_eq!(report["rows"], 4, "{report}");
    assert_eq!(report["created"], 1, "{report}");
    assert_eq!(report["added_to_campaign"], 1, "{report}");
    // Each rejected row names its data row and the line of the file (the header is line 1),
    // whether the file's reader or the campaigns service refused it.
    let rejected: Vec<(i64, i64, String)> = report["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["row"].as_i64().unwrap(),
                r["line"].as_i64().unwrap(),
                r["errors"][0]["field"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        rejected,
        [
            (1, 2, "row".to_owned()),
            (2, 3, "phones[0]".to_owned()),
            (3, 4, "time_zone".to_owned())
        ]
    );
    // The same file again creates nothing twice.
    let again = import(&fleet, &campaign, csv.to_owned()).await;
    assert_eq!(
        (again["created"].clone(), again["unchanged"].clone()),
        (json!(0), json!(1)),
        "{again}"
    );
    assert_eq!(again["added_to_campaign"], 0);
    let contacts = json_of(fleet.get("/api/communications/contacts")).await;
    assert_eq!(contacts["data"].as_array().unwrap().len(), 1);
    // A file without the required columns, or not CSV, imports nothing.
    let (status, body) = problem(
        fleet
            .post(&format!(
                "/api/communications/campaigns/{campaign}/contacts/import"
            ))
            .header("content-type", "text/csv")
            .body("full_name,number\nAda,+14155550100\n"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(fields(&body), ["file"]);
    let not_csv = fleet
        .post(&format!(
            "/api/communications/campaigns/{campaign}/contacts/import"
        ))
        .json(&json!({ "name": "Ada" }))
        .send()
        .await
        .unwrap();
    assert_eq!(not_csv.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    // A campaign whose only contact asked not to be called completes as soon as it starts (the
    // contact is excluded, so every contact is final); starting it again is a conflict that
    // says why.
    let empty = create_campaign(&fleet, json!({ "name": "Nobody to call" })).await;
    let csv = "name,phone,do_not_call\nQuiet,+14155550140,yes\n".to_owned();
    assert_eq!(import(&fleet, &empty, csv).await["added_to_campaign"], 1);
    assert_eq!(
        action(&fleet, &empty, "start").await.status(),
        StatusCode::OK
    );
    until(
        Duration::from_secs(20),
        || json_of(fleet.get(&format!("/api/communications/campaigns/{empty}"))),
        |c| c["status"] == "completed",
    )
    .await;
    let (status, body) =
        problem(fleet.post(&format!("/api/communications/campaigns/{empty}/start"))).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["detail"], "cannot start a campaign that is completed");
    // Settings of a completed campaign cannot change either.
    let (status, _) = problem(
        fleet
            .put(&format!("/api/communications/campaigns/{empty}"))
            .json(&json!({ "name": "Renamed" })),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_preview_campaign_shows_each_contact_to_an_agent_before_any_call() {
    let fleet = Fleet::start_with(
        "30",
        &[
            ("DIALER_TICK_MS", "100"),
            ("SIM_TALK_MS", "200"),
            ("WRAP_UP_SECONDS", "1"),
            // Long enough that the test's own skip and accept come first on a busy machine;
            // the timeout itself is waited for below, not slept through.
            ("PREVIEW_TIMEOUT_SECONDS", "8"),
        ],
    )
    .await;
    let agent = available_agent(&fleet, "Ada").await;
    let campaign = create_campaign(
        &fleet,
        json!({ "name": "Previewed", "dialing_mode": "preview",
                "window": { "start": "00:00", "end": "23:59", "days": EVERY_DAY } }),
    )
    .await;
    let csv = "name,phone,time_zone\nFirst,+14155550151,Etc/UTC\nSecond,+14155550152,Etc/UTC\nThird,+14155550153,Etc/UTC\n";
    import(&fleet, &campaign, csv.to_owned()).await;
    assert_eq!(
        action(&fleet, &campaign, "start").await.status(),
        StatusCode::OK
    );
    let shown_to_ada =
        || json_of(fleet.get(&format!("/api/communications/previews?agent_id={agent}")));
    let shown = |name: &'static str| move |v: &Value| v["preview"]["contact"]["name"] == name;

    // The first contact is shown; nothing is dialed until the agent decides.
    let first = until(Duration::from_secs(20), shown_to_ada, shown("First")).await;
    assert_eq!(first["preview"]["campaign_name"], "Previewed");
    assert!(campaign_calls(&fleet, &campaign).await.is_empty());

    // Skipped: the agent is free again and sees the next contact.
    let call = first["preview"]["call_id"].as_str().unwrap().to_owned();
    json_of(fleet.post(&format!("/api/communications/previews/{call}/skip"))).await;
    let second = until(Duration::from_secs(20), shown_to_ada, shown("Second")).await;
    assert!(campaign_calls(&fleet, &campaign).await.is_empty());

    // Accepted: the call is placed with the agent on it.
    let call = second["preview"]["call_id"].as_str().unwrap().to_owned();
    json_of(fleet.post(&format!("/api/communications/previews/{call}/accept"))).await;
    let calls = campaign_calls(&fleet, &campaign).await;
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0]["id"], call.as_str());
    assert_eq!(calls[0]["agent_id"], agent.as_str());
    assert_eq!(calls[0]["to"], "+14155550152");
    // Accepting it again is a 404: it is no longer shown.
    let (status, _) =
        problem(fleet.post(&format!("/api/communications/previews/{call}/accept"))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // After the call and wrap-up, the third is shown; left unanswered past the preview timeout,
    // it is withdrawn and shown again.
    let third = until(Duration::from_secs(20), shown_to_ada, shown("Third")).await;
    let first_offer = third["preview"]["call_id"].clone();
    let withdrawn_type = <comms_events::campaign::PreviewWithdrawn as comms_events::Event>::TYPE;
    let withdrawals = || async {
        let count: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM events WHERE stream_name = $1 AND event_type = $2",
        )
        .bind(format!("campaign-{campaign}"))
        .bind(withdrawn_type)
        .fetch_one(&fleet.pool)
        .await
        .unwrap();
        json!(count)
    };
    until(Duration::from_secs(30), withdrawals, |n| *n == json!(2)).await;
    until(Duration::from_secs(20), shown_to_ada, shown("Third")).await;
    let withdrawn: Vec<(serde_json::Value,)> = sqlx::query_as(
        "SELECT data FROM events WHERE stream_name = $1 AND event_type = $2
         ORDER BY stream_position",
    )
    .bind(format!("campaign-{campaign}"))
    .bind(withdrawn_type)
    .fetch_all(&fleet.pool)
    .await
    .unwrap();
    let reasons: Vec<&str> = withdrawn
        .iter()
        .map(|(d,)| d["reason"].as_str().unwrap())
        .collect();
    assert_eq!(
        reasons,
        ["skipped by the agent", "not accepted in time"],
        "{withdrawn:?}"
    );
    assert_eq!(withdrawn[1].0["call_id"], first_offer);
    for (data,) in &withdrawn {
        assert_valid(&schema("comms.campaign.preview_withdrawn"), data);
    }
    fleet.stop().await;
}
