//! The platform's notifications: task and project events, published with pika as the tasks and
//! planning modules would, reach the fake Twilio as one text each in the recipient's language
//! (or as a call that says it, for who asked for calls);
//! a redelivered event sends nothing twice; one in the recipient's quiet hours waits for their
//! end; a malformed one, or one naming someone unknown in its organization, is dead-lettered
//! with the reason.

use chrono::{Duration, TimeZone, Utc};
use comms_events::Event;
use comms_events::platform;
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::fake_twilio::FakeTwilio;
use super::support::{Fleet, ORG, fields, json_of, next_dead_letter_reason, problem, until};
use super::{PATIENCE, fleet_on};

const ASSIGNED: &str = <platform::TaskAssigned as Event>::TYPE;
const OVERDUE: &str = <platform::TaskOverdue as Event>::TYPE;
const MILESTONE: &str = <platform::MilestoneReached as Event>::TYPE;

const MARIA: &str = "+34600000009";
const KEN: &str = "+81312345678";
const LUCA: &str = "+390612345678";

/// An envelope of another module's event for `org`.
fn envelope(event_type: &str, source: &str, org: &str, data: Value) -> Value {
    json!({
        "id": uuid::Uuid::new_v4(),
        "type": event_type,
        "source": source,
        "timestamp": Utc::now(),
        "organizationId": org,
        "userId": "user-planner",
        "data": data,
        "metadata": { "version": "1.0.0", "module": source },
    })
}

/// Publishes `envelope` with pika, as the module named in its `source` would.
async fn publish(fleet: &Fleet, envelope: &Value) {
    let (url, exchange, body) = (
        comms_testkit::amqp_url(),
        fleet.exchange.clone(),
        envelope.to_string(),
    );
    tokio::task::spawn_blocking(move || {
        super::support::python("publish_event.py", &[&url, &exchange, &body])
    })
    .await
    .unwrap();
}

async fn texts_to(twilio: &FakeTwilio, number: &str, n: usize) -> Vec<String> {
    let sent = twilio.wait_for("/Messages.json", n).await;
    sent.iter()
        .filter(|r| r.one("To") == number)
        .map(|r| r.one("Body").to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn task_and_project_events_become_texts_in_each_recipients_language_and_hours() {
    let twilio = FakeTwilio::start().await;
    let fleet = fleet_on(&twilio, &[]).await;
    let set = |user: &str, body: Value| {
        fleet
            .put(&format!(
                "/api/communications/notification-preferences/{user}"
            ))
            .json(&body)
    };

    // Preferences are checked field by field.
    let (status, body) = problem(set(
        "user-maria",
        json!({ "channel": "sms", "phone": "0600", "time_zone": "Mars/Olympus_Mons", "quiet_hours": { "from": "22:00", "to": "24:00" } }),
    ))
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        fields(&body),
        ["phone", "time_zone", "quiet_hours.to"],
        "{body}"
    );
    let maria = json_of(set(
        "user-maria",
        json!({ "channel": "sms", "phone": MARIA, "language": "es", "time_zone": "Europe/Madrid" }),
    ))
    .await;
    assert_eq!(maria["language"], "es", "{maria}");
    assert_eq!(
        json_of(fleet.get("/api/communications/notification-preferences/user-maria")).await,
        maria
    );

    // A task assigned to María: one text, in Spanish. The same event again sends nothing; the
    // next event's text shows the repeat was consumed before it.
    let assigned = envelope(
        ASSIGNED,
        "tasks",
        ORG,
        json!({ "task_id": "task-1", "title": "Revisar el contrato", "assignee_id": "user-maria" }),
    );
    publish(&fleet, &assigned).await;
    assert_eq!(
        texts_to(&twilio, MARIA, 1).await,
        ["Se le ha asignado una tarea nueva: Revisar el contrato"]
    );
    publish(&fleet, &assigned).await;
    let overdue = envelope(
        OVERDUE,
        "tasks",
        ORG,
        json!({ "task_id": "task-1", "title": "Revisar el contrato", "assignee_id": "user-maria",
                "due_at": "2026-12-05T17:00:00Z" }),
    );
    publish(&fleet, &overdue).await;
    assert_eq!(
        texts_to(&twilio, MARIA, 2).await,
        [
            "Se le ha asignado una tarea nueva: Revisar el contrato",
            "Recordatorio: la tarea «Revisar el contrato» está vencida."
        ]
    );
    let kept: i64 =
        sqlx::query_scalar("SELECT count(*) FROM notifications WHERE user_id = 'user-maria'")
            .fetch_one(&fleet.pool)
            .await
            .unwrap();
    assert_eq!(
        kept, 2,
        "one notification per event, however often delivered"
    );

    // Ken's quiet hours in Tokyo cover now: the milestone waits for their end, then goes out in
    // Japanese. (The test moves the notification's time on rather than waiting for it.)
    let tokyo: chrono_tz::Tz = "Asia/Tokyo".parse().unwrap();
    let local = Utc::now().with_timezone(&tokyo);
    let (from, to) = (local - Duration::hours(1), local + Duration::hours(2));
    json_of(set(
        "user-ken",
        json!({ "channel": "sms", "phone": KEN, "language": "ja", "time_zone": "Asia/Tokyo",
                "quiet_hours": { "from": from.format("%H:%M").to_string(), "to": to.format("%H:%M").to_string() } }),
    ))
    .await;
    let milestone = envelope(
        MILESTONE,
        "planning",
        ORG,
        json!({ "project_id": "p-7", "project_name": "Ocelot", "milestone": "Beta",
                "member_ids": ["user-ken"] }),
    );
    publish(&fleet, &milestone).await;
    let send_at = until(
        PATIENCE,
        || async {
            let at: Option<chrono::DateTime<Utc>> = sqlx::query_scalar(
                "SELECT send_at FROM notifications WHERE user_id = 'user-ken' AND sent_at IS NULL",
            )
            .fetch_optional(&fleet.pool)
            .await
            .unwrap();
            json!(at)
        },
        |at| !at.is_null(),
    )
    .await;
    let end = tokyo
        .from_local_datetime(&to.date_naive().and_time(
            chrono::NaiveTime::parse_from_str(&to.format("%H:%M").to_string(), "%H:%M").unwrap(),
        ))
        .unwrap()
        .with_timezone(&Utc);
    assert_eq!(
        send_at,
        json!(end),
        "sent when the quiet hours end in Tokyo"
    );
    sqlx::query("UPDATE notifications SET send_at = now() WHERE user_id = 'user-ken'")
        .execute(&fleet.pool)
        .await
        .unwrap();
    assert_eq!(
        texts_to(&twilio, KEN, 3).await,
        ["Ocelot：マイルストーン達成：Beta"]
    );

    // Luca asked for a call: the call says the notification in Italian, then hangs up.
    json_of(set(
        "user-luca",
        json!({ "channel": "call", "phone": LUCA, "language": "it", "time_zone": "Europe/Rome" }),
    ))
    .await;
    let for_luca = envelope(
        ASSIGNED,
        "tasks",
        ORG,
        json!({ "task_id": "task-9", "title": "Chiamare il cliente", "assignee_id": "user-luca" }),
    );
    publish(&fleet, &for_luca).await;
    let (sid, placed) = twilio.placed(LUCA).await;
    let answer = twilio
        .send(
            &fleet.fleet.edge.to_string(),
            placed.one("Url"),
            &[
                ("AccountSid", super::fake_twilio::ACCOUNT_SID),
                ("CallSid", sid.as_str()),
                ("CallStatus", "in-progress"),
            ],
        )
        .await;
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(
        answer.text().await.unwrap(),
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Say language=\"it-IT\">Ti è stata \
         assegnata una nuova attività: Chiamare il cliente</Say><Hangup/></Response>"
    );

    // Malformed, unknown in the organization (María's preferences are ORG's, not beta's), or
    // unknown anywhere: dead-lettered, each with its reason.
    let dead_letters = comms_bus::dead_letter_queue(&fleet.notifications_queue);
    let cases = [
        (
            envelope(
                ASSIGNED,
                "tasks",
                ORG,
                json!({ "task_id": "t-2", "title": "x" }),
            ),
            "assignee_id",
        ),
        (
            envelope(
                ASSIGNED,
                "tasks",
                "org_beta",
                json!({ "task_id": "t-3", "title": "x", "assignee_id": "user-maria" }),
            ),
            "unknown recipient \"user-maria\"",
        ),
        (
            envelope(
                MILESTONE,
                "planning",
                ORG,
                json!({ "project_id": "p", "project_name": "P", "milestone": "M",
                        "member_ids": ["user-ken", "user-nobody"] }),
            ),
            "unknown recipient \"user-nobody\"",
        ),
    ];
    for (event, reason) in cases {
        publish(&fleet, &event).await;
        let refused = next_dead_letter_reason(&fleet, &dead_letters).await;
        assert!(refused.as_str().unwrap().contains(reason), "{refused}");
    }
    let sent = twilio.wait_for("/Messages.json", 3).await;
    assert_eq!(sent.len(), 3, "nothing went out for what was dead-lettered");
}
