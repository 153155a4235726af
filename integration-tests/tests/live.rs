//! The live feed (`GET /api/communications/live`), as a browser or a wallboard uses it: real
//! WebSockets against the whole fleet, every message checked against the event log itself.

mod support;

use std::time::Duration;

use comms_events::Event as _;
use comms_events::agent::{Break, TeamCreated};
use comms_events::call::{Answered, Started, Updated};
use comms_events::metrics::MetricsUpdated;
use futures::StreamExt as _;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::{self, Message};

use support::*;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A position as the feed writes it, comparable.
fn position(text: &str) -> (i64, i64) {
    let (tx, global) = text.split_once('-').unwrap();
    (tx.parse().unwrap(), global.parse().unwrap())
}

/// How a client proves who it is.
enum Credential<'a> {
    Header(&'a Session),
    Subprotocol(&'a Session),
    Ticket(&'a Session),
}

fn live_url(fleet: &Fleet, query: &str) -> String {
    format!("ws://{}/api/communications/live{query}", fleet.fleet.edge)
}

async fn ticket(fleet: &Fleet, session: &Session) -> String {
    let response = fleet
        .request(
            reqwest::Method::POST,
            "/api/communications/live/ticket",
            session,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    body["ticket"].as_str().unwrap().to_owned()
}

/// The upgrade request for `credential`, resuming `after` when given.
async fn request(
    fleet: &Fleet,
    credential: Credential<'_>,
    after: Option<&str>,
) -> tungstenite::handshake::client::Request {
    let mut query = after.map(|a| format!("?after={a}")).unwrap_or_default();
    let mut protocols = "comms.live.v1".to_owned();
    let mut authorization = None;
    match credential {
        Credential::Header(session) => {
            authorization = Some(format!("Bearer {}", session.access_token));
        }
        Credential::Subprotocol(session) => {
            protocols = format!("comms.live.v1, bearer.{}", session.access_token);
        }
        Credential::Ticket(session) => {
            let ticket = ticket(fleet, session).await;
            query = if query.is_empty() {
                format!("?ticket={ticket}")
            } else {
                format!("{query}&ticket={ticket}")
            };
        }
    }
    let mut request = live_url(fleet, &query).into_client_request().unwrap();
    let headers = request.headers_mut();
    headers.insert("sec-websocket-protocol", protocols.parse().unwrap());
    if let Some(authorization) = authorization {
        headers.insert("authorization", authorization.parse().unwrap());
    }
    request
}

/// A connected reader of the feed and what it has been sent.
struct Client {
    socket: Socket,
    /// Where its feed started (`hello`).
    start: (i64, i64),
    /// The envelopes of the events received, with their positions.
    events: Vec<((i64, i64), Value)>,
    /// The last position the feed said it had passed.
    at: (i64, i64),
}

impl Client {
    async fn open(fleet: &Fleet, credential: Credential<'_>, after: Option<&str>) -> Self {
        let request = request(fleet, credential, after).await;
        let (mut socket, response) = tokio_tungstenite::connect_async(request).await.unwrap();
        assert_eq!(
            response.headers()["sec-websocket-protocol"],
            "comms.live.v1"
        );
        let hello = next_json(&mut socket).await.expect("a hello");
        assert_eq!(hello["type"], "hello", "{hello}");
        let start = position(hello["position"].as_str().unwrap());
        Self {
            socket,
            start,
            events: Vec::new(),
            at: start,
        }
    }

    /// Reads until the feed has passed `until` (an event there, or a position message).
    async fn read_past(&mut self, until: (i64, i64)) {
        while self.at < until {
            let message = next_json(&mut self.socket)
                .await
                .expect("the socket stays open");
            let at = position(message["position"].as_str().unwrap());
            match message["type"].as_str().unwrap() {
                "event" => self.events.push((at, message["event"].clone())),
                "position" => {}
                other => panic!("unexpected {other}: {message}"),
            }
            assert!(at > self.at, "positions only grow: {message}");
            self.at = at;
        }
    }

    /// Reads until an event of `event_type` arrives; its position.
    async fn read_until_type(&mut self, event_type: &str) -> (i64, i64) {
        loop {
            let message = next_json(&mut self.socket)
                .await
                .expect("the socket stays open");
            let at = position(message["position"].as_str().unwrap());
            self.at = at;
            if message["type"] == "event" {
                self.events.push((at, message["event"].clone()));
                if message["event"]["type"] == event_type {
                    return at;
                }
            }
        }
    }

    /// The ids of the events received after `from`, up to `until`.
    fn ids(&self, from: (i64, i64), until: (i64, i64)) -> Vec<String> {
        self.events
            .iter()
            .filter(|(at, _)| *at > from && *at <= until)
            .map(|(_, event)| event["id"].as_str().unwrap().to_owned())
            .collect()
    }
}

/// The next text message as JSON; none once the socket is closed. Gives up after a minute, so a
/// broken feed fails the test rather than hanging it.
async fn next_json(socket: &mut Socket) -> Option<Value> {
    let next = async {
        loop {
            match socket.next().await {
                Some(Ok(Message::Text(text))) => {
                    return Some(serde_json::from_str(&text).unwrap());
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                _ => return None,
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(60), next)
        .await
        .expect("a message within a minute")
}

/// The organization's events in the log after `from` up to `until`, in the log's order, whose
/// stream matches `wanted`: their ids.
async fn logged(
    fleet: &Fleet,
    org: &str,
    from: (i64, i64),
    until: (i64, i64),
    wanted: impl Fn(&str) -> bool,
) -> Vec<String> {
    let rows: Vec<(uuid::Uuid, String)> = sqlx::query_as(
        "SELECT event_id, stream_name FROM events
         WHERE tenant_id = $1
           AND (tx_id::text::bigint, global_position) > ($2, $3)
           AND (tx_id::text::bigint, global_position) <= ($4, $5)
         ORDER BY tx_id, global_position",
    )
    .bind(org)
    .bind(from.0)
    .bind(from.1)
    .bind(until.0)
    .bind(until.1)
    .fetch_all(&fleet.pool)
    .await
    .unwrap();
    rows.into_iter()
        .filter(|(_, stream)| wanted(stream))
        .map(|(id, _)| id.to_string())
        .collect()
}

/// What an administrator's feed carries: every category but accounts and secrets.
fn on_the_feed(stream: &str) -> bool {
    let category = stream.split('-').next().unwrap();
    [
        "call",
        "transcript",
        "agent",
        "team",
        "campaign",
        "contact",
        "donotcall",
        "number",
        "ivr_flow",
        "sms",
        "conversation",
    ]
    .contains(&category)
}

/// An agent who logs in as a new user, in `team`, available: their id and session.
async fn agent_user(fleet: &Fleet, name: &str, team: &str) -> (String, Session) {
    let (id, session) = fleet.user_with_id("agent").await;
    json_of(fleet.post("/api/communications/agents").json(&json!({
        "name": name, "email": format!("{}@acme.test", uuid::Uuid::new_v4().simple()),
        "languages": ["en"], "user_id": id, "team_id": team,
    })))
    .await;
    set_status(fleet, &id, "available").await;
    (id, session)
}

async fn set_status(fleet: &Fleet, agent: &str, status: &str) {
    let response = fleet
        .put(&format!("/api/communications/agents/{agent}/status"))
        .json(&match status {
            "break" | "away" => json!({ "status": status, "reason": "lunch" }),
            _ => json!({ "status": status }),
        })
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{status}");
}

async fn team(fleet: &Fleet, name: &str, supervisor: Option<&str>) -> String {
    let team = json_of(
        fleet
            .post("/api/communications/teams")
            .json(&json!({ "name": name, "supervisor_id": supervisor })),
    )
    .await;
    team["id"].as_str().unwrap().to_owned()
}

async fn call(fleet: &Fleet, session: &Session, agent: Option<&str>) -> String {
    let mut body = json!({ "to": "+14155550100" });
    if let Some(agent) = agent {
        body["agent_id"] = json!(agent);
    }
    let created = json_of(
        fleet
            .request(reqwest::Method::POST, "/api/communications/calls", session)
            .json(&body),
    )
    .await;
    created["id"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_reader_sees_their_reach_of_their_organization_in_the_logs_order() {
    let fleet = Fleet::start_with("100", &[("LIVE_PING_SECONDS", "1")]).await;
    let (supervisor_id, supervisor) = fleet.user_with_id("supervisor").await;
    let floor = team(&fleet, "Floor", Some(&supervisor_id)).await;
    let elsewhere = team(&fleet, "Elsewhere", None).await;
    let (ada, ada_session) = agent_user(&fleet, "Ada", &floor).await;
    let (bob, _) = agent_user(&fleet, "Bob", &floor).await;
    let (cy, _) = agent_user(&fleet, "Cy", &elsewhere).await;
    let other_admin = fleet.user("org_other", comms_auth::Role::Admin).await;

    // Each way of proving who one is, once.
    let mut admin = Client::open(&fleet, Credential::Header(&fleet.admin), None).await;
    let mut lead = Client::open(&fleet, Credential::Subprotocol(&supervisor), None).await;
    let mut agent = Client::open(&fleet, Credential::Ticket(&ada_session), None).await;
    let mut outsider = Client::open(&fleet, Credential::Ticket(&other_admin), None).await;
    let from = [admin.start, lead.start, agent.start]
        .into_iter()
        .max()
        .unwrap();

    // A's floor at work, and B's call, all while the sockets are open.
    let adas_call = call(&fleet, &fleet.admin, Some(&ada)).await;
    let bobs_call = call(&fleet, &fleet.admin, Some(&bob)).await;
    let others_call = call(&fleet, &other_admin, None).await;
    admin.read_until_type(Answered::TYPE).await;
    admin.read_until_type(Answered::TYPE).await;
    set_status(&fleet, &cy, "break").await;
    let marker = admin.read_until_type(Break::TYPE).await;

    admin.read_past(marker).await;
    lead.read_past(marker).await;
    agent.read_past(marker).await;

    // The administrator: every event of the organization on the feed, in the log's order.
    let everything = logged(&fleet, ORG, from, marker, on_the_feed).await;
    assert!(everything.len() >= 7, "{everything:?}");
    assert_eq!(admin.ids(from, marker), everything);
    // The supervisor: every call, their team's agents and the team; not Cy, who is not theirs.
    let theirs = [
        format!("agent-{ada}"),
        format!("agent-{bob}"),
        format!("team-{floor}"),
    ];
    let expected = logged(&fleet, ORG, from, marker, |stream| {
        stream.starts_with("call-") || theirs.iter().any(|s| s == stream)
    })
    .await;
    assert_eq!(lead.ids(from, marker), expected);
    // Ada: her own state and her own call, nothing of Bob's.
    let hers = [format!("agent-{ada}"), format!("call-{adas_call}")];
    let expected = logged(&fleet, ORG, from, marker, |s| hers.iter().any(|h| h == s)).await;
    assert!(!expected.is_empty());
    assert_eq!(agent.ids(from, marker), expected);
    for (_, event) in &agent.events {
        assert_ne!(event["data"]["call_id"], bobs_call.as_str(), "{event}");
        assert_ne!(event["data"]["agent_id"], bob.as_str(), "{event}");
    }
    // Nothing of B's on A's sockets; B sees its own call and nothing of A's.
    for client in [&admin, &lead, &agent] {
        for (_, event) in &client.events {
            assert_eq!(event["organizationId"], ORG, "{event}");
        }
    }
    outsider.read_until_type(Started::TYPE).await;
    for (_, event) in &outsider.events {
        assert_eq!(event["organizationId"], "org_other", "{event}");
        assert_eq!(event["data"]["call_id"], others_call.as_str(), "{event}");
    }
    // The envelope is the bus's: the same type, id and data as the log's event.
    let (_, first) = &admin.events[0];
    let (event_type, data): (String, Value) =
        sqlx::query_as("SELECT event_type, data FROM events WHERE event_id = $1::text::uuid")
            .bind(first["id"].as_str().unwrap())
            .fetch_one(&fleet.pool)
            .await
            .unwrap();
    assert_eq!(
        (first["type"].as_str().unwrap(), &first["data"]),
        (event_type.as_str(), &data)
    );
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reader_that_resumes_misses_nothing_and_receives_nothing_twice() {
    let fleet = Fleet::start_with(
        "100",
        &[
            ("LIVE_PING_SECONDS", "1"),
            ("LIVE_CONNECTIONS_PER_ORGANIZATION", "2"),
        ],
    )
    .await;
    let floor = team(&fleet, "Floor", None).await;
    let mut first = Client::open(&fleet, Credential::Header(&fleet.admin), None).await;
    let from = first.start;
    let (ada, _) = agent_user(&fleet, "Ada", &floor).await;
    call(&fleet, &fleet.admin, Some(&ada)).await;
    // Gone mid-call: whatever it had last is where it resumes.
    let left_at = first.read_until_type(Started::TYPE).await;
    let mut seen = first.ids(from, left_at);
    drop(first);
    let (bob, _) = agent_user(&fleet, "Bob", &floor).await;
    call(&fleet, &fleet.admin, Some(&bob)).await;
    // The last thing done while it was away.
    team(&fleet, "Late shift", None).await;

    let after = format!("{}-{}", left_at.0, left_at.1);
    let mut resumed = Client::open(&fleet, Credential::Ticket(&fleet.admin), Some(&after)).await;
    assert_eq!(resumed.start, left_at, "the hello says where it resumes");
    let marker = resumed.read_until_type(TeamCreated::TYPE).await;
    seen.extend(resumed.ids(left_at, marker));
    assert_eq!(seen, logged(&fleet, ORG, from, marker, on_the_feed).await);
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), seen.len(), "nothing twice");

    // An organization's second socket is its last on this edge; the others' are their own
    // (A's resumed socket stays open meanwhile).
    let other_admin = fleet.user("org_other", comms_auth::Role::Admin).await;
    let _one = Client::open(&fleet, Credential::Header(&other_admin), None).await;
    let _two = Client::open(&fleet, Credential::Header(&other_admin), None).await;
    let refused = tokio_tungstenite::connect_async(
        request(&fleet, Credential::Header(&other_admin), None).await,
    )
    .await;
    match refused {
        Err(tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        }
        other => panic!("a third socket: {other:?}"),
    }
    call(&fleet, &fleet.admin, None).await;
    resumed.read_until_type(Started::TYPE).await;
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_openings_are_refused_before_any_event_is_sent() {
    let fleet = Fleet::start("100").await;
    let refusal = |request: tungstenite::handshake::client::Request| async move {
        match tokio_tungstenite::connect_async(request).await {
            Err(tungstenite::Error::Http(response)) => {
                let body: Value =
                    serde_json::from_slice(response.body().as_deref().unwrap_or(b"{}")).unwrap();
                (response.status(), body)
            }
            Ok(_) => panic!("opened"),
            Err(other) => panic!("{other}"),
        }
    };
    let bare = || live_url(&fleet, "").into_client_request().unwrap();
    // No credentials; a forged token; a ticket made up, or used already.
    let (status, body) = refusal(bare()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let mut forged = bare();
    let token = fleet.forge(ORG, "someone", comms_auth::Role::Admin);
    let tampered = format!("{}x", &token[..token.len() - 1]);
    forged.headers_mut().insert(
        "sec-websocket-protocol",
        format!("comms.live.v1, bearer.{tampered}").parse().unwrap(),
    );
    assert_eq!(refusal(forged).await.0, StatusCode::UNAUTHORIZED);
    let made_up = live_url(&fleet, "?ticket=lt_madeup")
        .into_client_request()
        .unwrap();
    assert_eq!(refusal(made_up).await.0, StatusCode::UNAUTHORIZED);
    let ticket = ticket(&fleet, &fleet.admin).await;
    let with_ticket = || {
        let mut request = live_url(&fleet, &format!("?ticket={ticket}"))
            .into_client_request()
            .unwrap();
        request
            .headers_mut()
            .insert("sec-websocket-protocol", "comms.live.v1".parse().unwrap());
        request
    };
    drop(
        tokio_tungstenite::connect_async(with_ticket())
            .await
            .unwrap(),
    );
    let (status, body) = refusal(with_ticket()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(body["detail"].as_str().unwrap().contains("used"), "{body}");
    // A ticket past its 30 seconds (aged in the table rather than waited for).
    let stale = crate::ticket(&fleet, &fleet.admin).await;
    sqlx::query("UPDATE live_tickets SET expires_at = now() - interval '1 second'")
        .execute(&fleet.pool)
        .await
        .unwrap();
    let mut request = live_url(&fleet, &format!("?ticket={stale}"))
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("sec-websocket-protocol", "comms.live.v1".parse().unwrap());
    assert_eq!(refusal(request).await.0, StatusCode::UNAUTHORIZED);

    // Positions that are not one, or that the log has not reached.
    let with = |after: &str| {
        let mut request = live_url(&fleet, &format!("?after={after}"))
            .into_client_request()
            .unwrap();
        request.headers_mut().insert(
            "authorization",
            format!("Bearer {}", fleet.admin.access_token)
                .parse()
                .unwrap(),
        );
        request
    };
    for (after, expected) in [
        ("12", StatusCode::BAD_REQUEST),
        ("a-b", StatusCode::BAD_REQUEST),
        ("1-2-3", StatusCode::BAD_REQUEST),
        ("999999999-1", StatusCode::UNPROCESSABLE_ENTITY),
    ] {
        let (status, body) = refusal(with(after)).await;
        assert_eq!(status, expected, "{after}: {body}");
        assert_eq!(fields(&body), ["after"], "{after}: {body}");
    }
    // Plain HTTP gets a problem saying it is a WebSocket.
    let (status, body) = problem(fleet.get("/api/communications/live")).await;
    assert_eq!(status, StatusCode::UPGRADE_REQUIRED, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("WebSocket"),
        "{body}"
    );
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stalled_reader_is_dropped_while_the_others_get_every_event() {
    // Two sockets allowed: while the stalled one is open a third is refused, which is how the
    // test sees it dropped. Pings are rare, so only slowness can drop it.
    let fleet = Fleet::start_with(
        "100",
        &[
            ("LIVE_BUFFER_EVENTS", "8"),
            ("LIVE_SEND_TIMEOUT_SECONDS", "1"),
            ("LIVE_CONNECTIONS_PER_ORGANIZATION", "2"),
            ("LIVE_PING_SECONDS", "3600"),
        ],
    )
    .await;
    let mut healthy = Client::open(&fleet, Credential::Header(&fleet.admin), None).await;
    // A reader that stops reading (with a modest receive buffer: less for the pipes to hold).
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(64 * 1024).unwrap();
    let stream = socket.connect(fleet.fleet.edge).await.unwrap();
    let upgrade = request(&fleet, Credential::Header(&fleet.admin), None).await;
    let (mut stalled, _) = tokio_tungstenite::client_async(upgrade, stream)
        .await
        .unwrap();

    // The healthy reader reads on throughout.
    let reader = tokio::spawn(async move {
        loop {
            healthy.read_until_type(Updated::TYPE).await;
            let (_, last) = healthy.events.last().unwrap();
            if last["data"]["notes"] == "done" {
                return healthy;
            }
        }
    });
    // Notes of 10,000 characters, one change after another, until the stalled reader is gone:
    // the socket buffers between them hold a few megabytes at most.
    let id = call(&fleet, &fleet.admin, None).await;
    let notes = "n".repeat(9990);
    let change = |notes: String| {
        let request = fleet
            .put(&format!("/api/communications/calls/{id}"))
            .json(&json!({ "notes": notes }));
        async move { assert_eq!(request.send().await.unwrap().status(), StatusCode::OK) }
    };
    let mut changes = 0;
    let dropped = loop {
        assert!(
            changes < 3000,
            "30 MB later the stalled reader is still connected"
        );
        change(format!("{changes} {notes}")).await;
        changes += 1;
        if changes % 25 == 0 {
            let probe = request(&fleet, Credential::Header(&fleet.admin), None).await;
            match tokio_tungstenite::connect_async(probe).await {
                Ok(_) => break changes,
                Err(tungstenite::Error::Http(response))
                    if response.status() == StatusCode::TOO_MANY_REQUESTS => {}
                Err(other) => panic!("{other}"),
            }
        }
    };
    change("done".into()).await;
    let healthy = reader.await.unwrap();
    let notes_seen: Vec<String> = healthy
        .events
        .iter()
        .filter(|(_, e)| e["type"] == Updated::TYPE)
        .map(|(_, e)| {
            e["data"]["notes"]
                .as_str()
                .unwrap()
                .split(' ')
                .next()
                .unwrap()
                .to_owned()
        })
        .collect();
    let every_change: Vec<String> = (0..dropped)
        .map(|i| i.to_string())
        .chain(["done".to_owned()])
        .collect();
    assert_eq!(notes_seen, every_change, "every change, in order");

    // The stalled reader: what was already in the pipes, then the end.
    let read_to_the_end = async {
        let mut received = 0;
        loop {
            match stalled.next().await {
                Some(Ok(Message::Text(text))) if text.contains(Updated::TYPE) => received += 1,
                Some(Ok(Message::Close(frame))) => {
                    if let Some(frame) = frame {
                        assert_eq!(u16::from(frame.code), 4008, "{frame:?}");
                    }
                    return received;
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return received,
            }
        }
    };
    let received = tokio::time::timeout(Duration::from_secs(60), read_to_the_end)
        .await
        .expect("the dropped socket ends");
    assert!(received < dropped, "the stalled reader got all {received}");
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_live_figures_reach_supervisors_sockets_and_never_an_agents() {
    let fleet = Fleet::start_with(
        "600000",
        &[
            ("METRICS_INTERVAL_SECONDS", "1"),
            ("LIVE_PING_SECONDS", "1"),
        ],
    )
    .await;
    let figures_type = <MetricsUpdated as comms_events::Event>::TYPE;
    let mut admin = Client::open(&fleet, Credential::Header(&fleet.admin), None).await;
    let floor = team(&fleet, "Floor", None).await;
    // Ada logs in: the organization has an agent available, which the next round publishes.
    let (ada, ada_session) = agent_user(&fleet, "Ada", &floor).await;
    let mut agent = Client::open(&fleet, Credential::Ticket(&ada_session), None).await;
    admin.read_until_type(figures_type).await;
    let (_, envelope) = admin.events.last().unwrap().clone();
    assert_eq!(envelope["organizationId"], ORG);
    assert_eq!(envelope["data"]["agents"]["available"], 1, "{envelope}");
    assert_eq!(envelope["data"]["organization"]["waiting"], 0);
    // She goes on break: new figures, which her own socket, open all along, passes by.
    set_status(&fleet, &ada, "break").await;
    let on_break = loop {
        let at = admin.read_until_type(figures_type).await;
        let (_, envelope) = admin.events.last().unwrap();
        if envelope["data"]["agents"]["break"] == 1 {
            break at;
        }
    };
    agent.read_past(on_break).await;
    let types: Vec<&str> = agent
        .events
        .iter()
        .map(|(_, e)| e["type"].as_str().unwrap())
        .collect();
    assert!(
        types.contains(&<Break as comms_events::Event>::TYPE),
        "{types:?}"
    );
    assert!(!types.contains(&figures_type), "{types:?}");
    fleet.stop().await;
}
