//! With `ENABLE_TRANSCRIPTION`, an answered Twilio call's audio is streamed to the transcription
//! service: both tracks, to the call's own media socket, whose token verifies for that call
//! and no other; once per call, however often Twilio repeats the answer. A call's transcript is
//! read over REST by whom it reaches.

use std::time::Duration;

use comms_auth::media_tokens::MediaTokens;
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::fake_twilio::FakeTwilio;
use super::support::{Fleet, ORG, Session, fields, json_of, problem, until};
use super::{agent_user, call_until, fleet_on, place, status, team_led};

const MEDIA_BASE_URL: &str = "wss://media.comms.example";
const SECRET: &str = "the fleet's media token secret, 32+";

#[tokio::test(flavor = "multi_thread")]
async fn an_answered_calls_audio_is_streamed_to_its_own_media_socket_once() {
    let twilio = FakeTwilio::start().await;
    let fleet = fleet_on(
        &twilio,
        &[
            ("ENABLE_TRANSCRIPTION", "true"),
            ("MEDIA_BASE_URL", MEDIA_BASE_URL),
            ("MEDIA_TOKEN_SECRET", SECRET),
        ],
    )
    .await;
    let mut streams = Vec::new();
    for (n, to) in ["+14155550161", "+14155550162"].into_iter().enumerate() {
        let id = place(&fleet, to).await;
        let (sid, placed) = twilio.placed(to).await;
        call_until(&fleet, &id, |c| c["carrier_call_id"] == sid.as_str()).await;
        twilio.set_status(&sid, "in-progress");
        // Twilio repeats the first call's answer: one stream all the same.
        for _ in 0..(2 - n) {
            assert_eq!(
                status(&twilio, &fleet, &placed, &sid, "in-progress").await,
                StatusCode::NO_CONTENT
            );
        }
        let path = format!("/Calls/{sid}/Streams.json");
        let asked = twilio.wait_for(&path, 1).await;
        streams.push((id, sid, asked[0].clone()));
    }
    let tokens = MediaTokens::new(SECRET.as_bytes());
    let now = chrono::Utc::now().timestamp();
    for (id, _, stream) in &streams {
        assert_eq!(stream.one("Track"), "both_tracks");
        assert_eq!(
            (
                stream.one("Parameter1.Name"),
                stream.one("Parameter1.Value")
            ),
            ("language", "en")
        );
        let url = stream.one("Url");
        let prefix = format!("{MEDIA_BASE_URL}/media/twilio/{ORG}/{id}/");
        let token = url.strip_prefix(&prefix).unwrap_or_else(|| panic!("{url}"));
        let call: uuid::Uuid = id.parse().unwrap();
        assert_eq!(tokens.verify(token, ORG, call, now), Ok(()));
        // Good for the call as long as it may last, and for no other call.
        let other: uuid::Uuid = streams
            .iter()
            .find(|(o, ..)| o != id)
            .unwrap()
            .0
            .parse()
            .unwrap();
        assert!(tokens.verify(token, ORG, other, now).is_err());
        assert!(tokens.verify(token, ORG, call, now + 4 * 3600).is_ok());
    }
    // The second call's stream came after the first's repeated answer: that repeat asked nothing.
    let (_, first_sid, _) = &streams[0];
    let asked = twilio
        .received()
        .into_iter()
        .filter(|r| {
            r.path
                .ends_with(&format!("/Calls/{first_sid}/Streams.json"))
        })
        .count();
    assert_eq!(asked, 1, "one stream per call");
    fleet.stop().await;
}

/// With the simulated transcriber, an answered call is heard as a scripted conversation; its
/// transcript is read over REST — redacted, with the caller's sentiment as it went and for the
/// whole call — by the call's agent, their team's supervisor and the administrator, and by no
/// other agent or team's supervisor.
#[tokio::test(flavor = "multi_thread")]
async fn a_calls_transcript_is_read_by_its_agent_their_supervisor_and_the_administrator() {
    let fleet = Fleet::start_with(
        "50",
        &[
            ("TRANSCRIBER", "simulated"),
            ("SIM_TRANSCRIPT_LINE_MS", "200"),
        ],
    )
    .await;
    let (floor, lead) = team_led(&fleet, "Floor").await;
    let (_, other_lead) = team_led(&fleet, "Night").await;
    let (ada, ada_session) = agent_user(&fleet, "Ada", &floor).await;
    let (_, bob_session) = agent_user(&fleet, "Bob", &floor).await;

    // Her lead writes a knowledge note for callers charged twice; an agent may only read it, and
    // each malformed field is named.
    let notes = "/api/communications/knowledge/notes";
    let note = json!({ "title": "Double charges", "body": "Refund the second charge.",
                       "language": "en", "keywords": ["charged twice"] });
    for (body, field) in [
        (
            json!({ "title": "", "body": "b", "keywords": ["kw"] }),
            "title",
        ),
        (
            json!({ "title": "t", "body": "b", "keywords": [] }),
            "keywords",
        ),
        (
            json!({ "title": "t", "body": "b", "keywords": ["k"] }),
            "keywords",
        ),
        (
            json!({ "title": "t", "body": "b", "keywords": ["kw"], "language": "" }),
            "language",
        ),
        (
            json!({ "title": "t", "body": "b", "keywords": ["kw"], "language": "xx" }),
            "language",
        ),
        (
            json!({ "title": "t", "body": "b", "keywords": ["kw"], "tags": [] }),
            "tags",
        ),
        (json!({ "title": "t", "keywords": ["kw"] }), "body"),
    ] {
        let (status, problem_body) = problem(
            fleet
                .request(reqwest::Method::POST, notes, &lead)
                .json(&body),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {problem_body}");
        assert!(
            problem_body.to_string().contains(field),
            "{body}: {problem_body}"
        );
    }
    let refused = fleet
        .request(reqwest::Method::POST, notes, &ada_session)
        .json(&note);
    assert_eq!(
        refused.send().await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    let written = fleet
        .request(reqwest::Method::POST, notes, &lead)
        .json(&note);
    let written = written.send().await.unwrap();
    assert_eq!(written.status(), StatusCode::CREATED);
    let written: Value = written.json().await.unwrap();
    let listed = json_of(fleet.request(
        reqwest::Method::GET,
        &format!("{notes}?language=en"),
        &ada_session,
    ))
    .await;
    assert_eq!(listed["data"], json!([written.clone()]));
    let (status, _) = problem(fleet.get(&format!("{notes}?language="))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let call = json_of(
        fleet
            .post("/api/communications/calls")
            .json(&json!({ "to": "+14155550177", "agent_id": ada })),
    )
    .await;
    let id = call["id"].as_str().unwrap().to_owned();
    // Ada follows her call's assist as server-sent events (without Anthropic: the caller's mood
    // and the summary).
    let assist = {
        let response = fleet
            .request(
                reqwest::Method::GET,
                &format!("/api/communications/calls/{id}/assist"),
                &ada_session,
            )
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/event-stream")
        );
        tokio::spawn(server_sent_events(response))
    };
    let transcript = |session: &Session| {
        fleet.request(
            reqwest::Method::GET,
            &format!("/api/communications/calls/{id}/transcript"),
            session,
        )
    };

    // Heard as it goes (404 until the first line), then the call ends and it is complete.
    let heard = until(
        Duration::from_secs(60),
        || async {
            transcript(&fleet.admin)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap()
        },
        |t: &Value| t["utterances"].as_array().is_some_and(|u| u.len() == 5),
    )
    .await;
    assert_eq!(heard["complete"], false, "{heard}");
    let ended = fleet
        .delete(&format!("/api/communications/calls/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(ended.status(), StatusCode::OK);
    let whole = until(
        Duration::from_secs(60),
        || async {
            transcript(&fleet.admin)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap()
        },
        |t: &Value| t["complete"] == true,
    )
    .await;
    assert_eq!(
        (&whole["language"], &whole["transcriber"]),
        (&json!("en"), &json!("simulated"))
    );
    let utterances = whole["utterances"].as_array().unwrap();
    let speakers: Vec<&str> = utterances
        .iter()
        .map(|u| u["speaker"].as_str().unwrap())
        .collect();
    assert_eq!(speakers, ["caller", "agent", "caller", "agent", "caller"]);
    let card = utterances[2]["text"].as_str().unwrap();
    assert!(
        card.contains("[redacted]") && !card.contains("4111"),
        "{card}"
    );
    // Upset at first (the one alert), pleased at the end, by the lexicon.
    let trend: Vec<&str> = utterances
        .iter()
        .map(|u| u["sentiment"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(trend[4], "positive", "{trend:?}");
    assert!(
        trend[..4].iter().all(|t| ["negative", ""].contains(t)),
        "{trend:?}"
    );
    assert_eq!(whole["sentiment_alerts"], 1);
    assert_eq!(
        (&whole["sentiment"]["label"], &whole["sentiment"]["scorer"]),
        (&json!("positive"), &json!("lexicon"))
    );
    assert!(!whole.to_string().contains("4111"));
    // Its wrap-up summary, without Anthropic the caller's first words and the agent's last.
    let summary = json_of(fleet.get(&format!("/api/communications/calls/{id}/summary"))).await;
    assert_eq!(summary["summarizer"], "extractive");
    let text = summary["summary"].as_str().unwrap();
    assert!(
        text.starts_with("Caller: Hi, I was charged twice") && text.contains("\nAgent: Thank you"),
        "{text}"
    );

    // Her assist stream: the note for what the caller said, the caller upset, then pleased, then
    // the summary, and its end.
    let events = tokio::time::timeout(Duration::from_secs(60), assist)
        .await
        .expect("the assist stream ends with the summary")
        .unwrap();
    let names: Vec<(&str, &str)> = events
        .iter()
        .map(|(name, data)| {
            let label = data["label"].as_str().or(data["summarizer"].as_str());
            let label = label.or(data["title"].as_str());
            (name.as_str(), label.unwrap_or(""))
        })
        .collect();
    assert_eq!(
        names,
        [
            ("snippet", "Double charges"),
            ("sentiment", "negative"),
            ("sentiment", "positive"),
            ("summary", "extractive")
        ]
    );
    // Assist is the call's agent's alone: her lead is refused, Bob does not see the call.
    for (session, expected) in [
        (&lead, StatusCode::FORBIDDEN),
        (&bob_session, StatusCode::NOT_FOUND),
    ] {
        let refused = fleet.request(
            reqwest::Method::GET,
            &format!("/api/communications/calls/{id}/assist"),
            session,
        );
        assert_eq!(refused.send().await.unwrap().status(), expected);
    }

    // Whom it reaches: her, her team's supervisor, the administrator; not Bob, not another team's
    // supervisor.
    for (who, session, expected) in [
        ("ada", &ada_session, StatusCode::OK),
        ("her lead", &lead, StatusCode::OK),
        ("bob", &bob_session, StatusCode::NOT_FOUND),
        ("another lead", &other_lead, StatusCode::NOT_FOUND),
    ] {
        let status = transcript(session).send().await.unwrap().status();
        assert_eq!(status, expected, "{who}");
        let summary = fleet.request(
            reqwest::Method::GET,
            &format!("/api/communications/calls/{id}/summary"),
            session,
        );
        assert_eq!(
            summary.send().await.unwrap().status(),
            expected,
            "{who}'s summary"
        );
    }
    // Searching the organization's transcripts by words, each found whatever its case: the
    // caller's first line, for whom the call reaches; a card number was never kept to be found.
    let search = |session: &Session, query: &str| {
        fleet.request(
            reqwest::Method::GET,
            &format!("/api/communications/transcripts?{query}"),
            session,
        )
    };
    let found = until(
        Duration::from_secs(30),
        || async { json_of(search(&fleet.admin, "query=CHARGED%20twice")).await },
        |hits: &Value| !hits["data"].as_array().unwrap().is_empty(),
    )
    .await;
    let hits = found["data"].as_array().unwrap();
    assert_eq!(hits.len(), 1, "{found}");
    assert_eq!(
        (&hits[0]["call_id"], &hits[0]["speaker"]),
        (&json!(id), &json!("caller"))
    );
    assert!(
        hits[0]["text"]
            .as_str()
            .unwrap()
            .starts_with("Hi, I was charged twice")
    );
    for (who, session, expected) in [
        ("ada", &ada_session, 1),
        ("her lead", &lead, 1),
        ("bob", &bob_session, 0),
        ("another lead", &other_lead, 0),
    ] {
        let hits = json_of(search(session, "query=charged")).await;
        assert_eq!(hits["data"].as_array().unwrap().len(), expected, "{who}");
    }
    let none = json_of(search(&fleet.admin, "query=4111")).await;
    assert_eq!(none["data"], json!([]));
    // Without words, every line of hers: the call's five.
    let all = json_of(search(&ada_session, "limit=100")).await;
    assert_eq!(all["data"].as_array().unwrap().len(), 5, "{all}");
    let later = json_of(search(
        &fleet.admin,
        "query=charged&from=2999-01-01T00:00:00Z",
    ))
    .await;
    assert_eq!(later["data"], json!([]));
    for (query, field) in [
        ("query=", "query"),
        ("query=a%00b", "query"),
        ("query=charged&limit=101", "limit"),
        ("query=charged&from=yesterday", "from"),
    ] {
        let (status, body) = problem(search(&fleet.admin, query)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert!(fields(&body).contains(&field), "{query}: {body}");
    }

    // An unknown call, and an id that is none.
    let (status, body) = problem(fleet.get(&format!(
        "/api/communications/calls/{}/transcript",
        uuid::Uuid::new_v4()
    )))
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, body) = problem(fleet.get("/api/communications/calls/nope/transcript")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.to_string().contains("not a UUID"), "{body}");

    // How the caller sounds now, many calls at once: pleased at the end; not Bob's to know.
    let now = |session: &Session| {
        fleet.request(
            reqwest::Method::GET,
            &format!(
                "/api/communications/transcripts/sentiment?call_ids={id},{}",
                uuid::Uuid::new_v4()
            ),
            session,
        )
    };
    let moods = json_of(now(&lead)).await;
    assert_eq!(moods["data"].as_array().unwrap().len(), 1, "{moods}");
    assert_eq!(
        (
            &moods["data"][0]["call_id"],
            &moods["data"][0]["label"],
            &moods["data"][0]["alerts"]
        ),
        (&json!(id), &json!("positive"), &json!(1))
    );
    assert_eq!(json_of(now(&bob_session)).await["data"], json!([]));
    // Not ids: refused naming the parameter, a blank (schemathesis sent a form feed) too.
    for query in ["call_ids=nope", "call_ids=%0C", &format!("call_ids={id},")] {
        let url = format!("/api/communications/transcripts/sentiment?{query}");
        let (status, body) = problem(fleet.get(&url)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert!(fields(&body).contains(&"call_ids"), "{body}");
    }

    // Deleted by the administrator (her lead may not): the words gone from reads and search,
    // what was counted kept.
    let delete = |session: &Session| {
        fleet.request(
            reqwest::Method::DELETE,
            &format!("/api/communications/calls/{id}/transcript"),
            session,
        )
    };
    assert_eq!(
        delete(&lead).send().await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    let deleted = json_of(delete(&fleet.admin)).await;
    assert_eq!(deleted["deleted"]["reason"], "request", "{deleted}");
    assert_eq!(deleted["utterances"], json!([]));
    assert_eq!(deleted["sentiment_alerts"], 1);
    assert_eq!(json_of(transcript(&ada_session)).await, deleted);
    let (status, _) = problem(fleet.get(&format!("/api/communications/calls/{id}/summary"))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let gone = until(
        Duration::from_secs(30),
        || async { json_of(search(&fleet.admin, "limit=100")).await },
        |hits: &Value| hits["data"] == json!([]),
    )
    .await;
    assert_eq!(gone["data"], json!([]));

    // How long the organization keeps transcripts: until deleted, then thirty days.
    let retention = "/api/communications/transcripts/retention";
    assert_eq!(json_of(fleet.get(retention)).await, json!({ "days": null }));
    for (body, field) in [
        (json!({ "days": 0 }), "days"),
        (json!({ "days": 3651 }), "days"),
        (json!({ "days": "thirty" }), "days"),
        (json!({ "weeks": 4 }), "weeks"),
    ] {
        let (status, problem_body) = problem(fleet.put(retention).json(&body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {problem_body}");
        assert!(
            problem_body.to_string().contains(field),
            "{body}: {problem_body}"
        );
    }
    let set = json_of(fleet.put(retention).json(&json!({ "days": 30 }))).await;
    assert_eq!(set["days"], 30, "{set}");
    assert_eq!(json_of(fleet.get(retention)).await, set);
    let refused = fleet.request(reqwest::Method::GET, retention, &lead);
    assert_eq!(
        refused.send().await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
}

/// The events of a server-sent event stream until it ends: each one's name and JSON data
/// (keep-alive comments skipped).
async fn server_sent_events(mut response: reqwest::Response) -> Vec<(String, Value)> {
    let (mut buffer, mut events) = (String::new(), Vec::new());
    while let Some(chunk) = response.chunk().await.unwrap() {
        buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let name = block.lines().find_map(|l| l.strip_prefix("event: "));
            let data = block.lines().find_map(|l| l.strip_prefix("data: "));
            if let (Some(name), Some(data)) = (name, data) {
                events.push((name.to_owned(), serde_json::from_str(data).unwrap()));
            }
        }
    }
    events
}
