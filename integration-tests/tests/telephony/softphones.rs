//! Agents' softphone tokens: Twilio's compared with the token the official `twilio` package
//! makes, Vonage's verified by PyJWT with the application's public key after the agent was made
//! a user of the application at the fake; only the agent and their supervisor get one. A
//! supervisor gets one of their own, for the calls they monitor; an agent does not.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::fake_twilio::{ACCOUNT_SID, FakeTwilio};
use super::fake_vonage::{APPLICATION_ID, FakeVonage};
use super::support::{Fleet, Session, json_of, problem, python};
use super::{agent_user, fleet_on, team_led, vonage_fleet};

const KEY_SID: &str = "SK0123456789abcdef0123456789abcdef";
const KEY_SECRET: &str = "softphone-api-key-secret-0123456789";

/// A team, its supervisor's session, and two agents in it, each with their session.
struct Floor {
    supervisor: Session,
    ada: (String, Session),
    bob: (String, Session),
}

impl Floor {
    async fn staff(fleet: &Fleet) -> Self {
        let (team, supervisor) = team_led(fleet, "Floor").await;
        Self {
            supervisor,
            ada: agent_user(fleet, "Ada", &team).await,
            bob: agent_user(fleet, "Bob", &team).await,
        }
    }
}

async fn token_of(fleet: &Fleet, session: &Session, agent: &str, query: &str) -> reqwest::Response {
    fleet
        .request(
            reqwest::Method::POST,
            &format!("/api/communications/agents/{agent}/softphone-token{query}"),
            session,
        )
        .send()
        .await
        .unwrap()
}

/// `session`'s own softphone token (a supervisor's or an administrator's), and their user id.
async fn own_token(fleet: &Fleet, session: &Session) -> (reqwest::Response, String) {
    let me =
        json_of(fleet.request(reqwest::Method::GET, "/api/communications/auth/me", session)).await;
    let response = fleet
        .request(
            reqwest::Method::POST,
            "/api/communications/softphone-token",
            session,
        )
        .send()
        .await
        .unwrap();
    (response, me["user_id"].as_str().unwrap().to_owned())
}

/// Our Twilio access `token` for `identity` beside the one twilio-python's `AccessToken` makes
/// (`{"ours": {header, claims}, "twilio": {…}}`).
async fn compared_with_twilios(token: &str, identity: &str) -> Value {
    let (token, identity) = (token.to_owned(), identity.to_owned());
    let both = tokio::task::spawn_blocking(move || {
        python(
            "twilio_token_check.py",
            &[&token, ACCOUNT_SID, KEY_SID, KEY_SECRET, &identity],
        )
    })
    .await
    .unwrap();
    serde_json::from_str(&both).unwrap()
}

async fn token_json(fleet: &Fleet, session: &Session, agent: &str, query: &str) -> Value {
    let response = token_of(fleet, session, agent, query).await;
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

#[tokio::test(flavor = "multi_thread")]
async fn an_agent_gets_a_twilio_access_token_like_twilios_own_and_nobody_elses() {
    let twilio = FakeTwilio::start().await;
    let fleet = fleet_on(
        &twilio,
        &[
            ("TWILIO_API_KEY_SID", KEY_SID),
            ("TWILIO_API_KEY_SECRET", KEY_SECRET),
        ],
    )
    .await;
    let floor = Floor::staff(&fleet).await;
    let (ada, ada_session) = &floor.ada;

    let issued = token_json(&fleet, ada_session, ada, "").await;
    assert_eq!(
        (issued["carrier"].as_str(), issued["identity"].as_str()),
        (Some("twilio"), Some(ada.as_str()))
    );
    let both = compared_with_twilios(issued["token"].as_str().unwrap(), ada).await;
    let (ours, theirs) = (&both["ours"], &both["twilio"]);
    assert_eq!(ours["header"], theirs["header"], "{both}");
    assert_eq!(ours["header"]["cty"], "twilio-fpa;v=1");
    assert_eq!(
        ours["claims"]["grants"], theirs["claims"]["grants"],
        "{both}"
    );
    assert_eq!(ours["claims"]["grants"]["identity"], ada.as_str());
    let keys = |claims: &Value| {
        let mut keys: Vec<String> = claims.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        keys
    };
    assert_eq!(keys(&ours["claims"]), keys(&theirs["claims"]), "{both}");
    for claim in ["iss", "sub"] {
        assert_eq!(ours["claims"][claim], theirs["claims"][claim], "{claim}");
    }
    let lifetime =
        ours["claims"]["exp"].as_i64().unwrap() - ours["claims"]["nbf"].as_i64().unwrap();
    assert_eq!(lifetime, 3600);

    // Their supervisor (or an administrator) may get one for them; another agent of the team may not; an agent the
    // organization does not have is unknown.
    let (bob, bob_session) = &floor.bob;
    let for_bob = token_json(&fleet, &floor.supervisor, bob, "").await;
    assert_eq!(for_bob["identity"], bob.as_str());
    let by_admin = token_json(&fleet, &fleet.admin, bob, "").await;
    assert_eq!(by_admin["identity"], bob.as_str());
    let (status, body) = problem(fleet.request(
        reqwest::Method::POST,
        &format!("/api/communications/agents/{ada}/softphone-token"),
        bob_session,
    ))
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("themselves, their team's supervisor")
    );
    let unknown = token_of(&fleet, ada_session, &uuid::Uuid::new_v4().to_string(), "").await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);

    // A carrier the fleet has no account with, or one that is not a carrier.
    let (status, body) = problem(fleet.request(
        reqwest::Method::POST,
        &format!("/api/communications/agents/{ada}/softphone-token?carrier=vonage"),
        ada_session,
    ))
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("VONAGE_API_KEY"),
        "{body}"
    );
    let (status, body) = problem(fleet.request(
        reqwest::Method::POST,
        &format!("/api/communications/agents/{ada}/softphone-token?carrier=sip"),
        ada_session,
    ))
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    // The supervisor's own softphone, which the calls they monitor ring: the same token, their
    // user id its identity, as Twilio's own would grant it. An agent has none of their own.
    let (response, lead) = own_token(&fleet, &floor.supervisor).await;
    assert_eq!(response.status(), StatusCode::OK);
    let own: Value = response.json().await.unwrap();
    assert_eq!(own["identity"], lead.as_str());
    let both = compared_with_twilios(own["token"].as_str().unwrap(), &lead).await;
    assert_eq!(
        both["ours"]["claims"]["grants"],
        both["twilio"]["claims"]["grants"]
    );
    assert_eq!(both["ours"]["claims"]["grants"]["identity"], lead.as_str());
    let (refused, _) = own_token(&fleet, ada_session).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn without_an_api_key_twilio_softphones_are_refused_naming_the_settings() {
    let twilio = FakeTwilio::start().await;
    let fleet = fleet_on(&twilio, &[]).await;
    let (agent, session) = fleet.user_with_id("agent").await;
    json_of(fleet.post("/api/communications/agents").json(&json!({
        "name": "Cy", "email": "cy@acme.test", "user_id": agent,
    })))
    .await;
    let (status, body) = problem(fleet.request(
        reqwest::Method::POST,
        &format!("/api/communications/agents/{agent}/softphone-token"),
        &session,
    ))
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("TWILIO_API_KEY_SID"),
        "{body}"
    );
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_agent_gets_a_vonage_client_token_as_a_user_of_the_application() {
    let vonage = FakeVonage::start().await;
    let fleet = vonage_fleet(&vonage).await;
    let floor = Floor::staff(&fleet).await;
    let (ada, session) = &floor.ada;

    let issued = token_json(&fleet, session, ada, "").await;
    assert_eq!(issued["carrier"], "vonage");
    let created = vonage.wait_for("POST", "/v1/users", 1).await;
    assert_eq!(
        created[0].body,
        json!({ "name": ada, "display_name": "Ada" }),
        "the agent is the application's user, named by their id"
    );
    let (key, token) = (
        vonage.public_key(),
        issued["token"].as_str().unwrap().to_owned(),
    );
    let verified: Value = serde_json::from_str(
        &tokio::task::spawn_blocking(move || python("vonage_verify.py", &[&key, &token]))
            .await
            .unwrap(),
    )
    .unwrap();
    let claims = &verified["claims"];
    assert_eq!(verified["header"]["alg"], "RS256");
    assert_eq!(
        (claims["application_id"].as_str(), claims["sub"].as_str()),
        (Some(APPLICATION_ID), Some(ada.as_str()))
    );
    let paths = claims["acl"]["paths"].as_object().unwrap();
    for path in [
        "/*/users/**",
        "/*/conversations/**",
        "/*/sessions/**",
        "/*/legs/**",
    ] {
        assert!(paths.contains_key(path), "{path} in {claims}");
    }

    // The next token finds the user made (Vonage answers 409) and is issued all the same.
    token_json(&fleet, session, ada, "").await;
    assert_eq!(vonage.wait_for("POST", "/v1/users", 2).await.len(), 2);
    let (status, _) = problem(fleet.request(
        reqwest::Method::POST,
        &format!("/api/communications/agents/{ada}/softphone-token?carrier=twilio"),
        session,
    ))
    .await;
    assert_eq!(status, StatusCode::CONFLICT);

    // The supervisor's own: they are made a user of the application, named by their user id.
    let (response, lead) = own_token(&fleet, &floor.supervisor).await;
    assert_eq!(response.status(), StatusCode::OK);
    let own: Value = response.json().await.unwrap();
    assert_eq!(
        (&own["carrier"], &own["identity"]),
        (&json!("vonage"), &json!(lead))
    );
    let created = vonage.wait_for("POST", "/v1/users", 3).await;
    assert_eq!(created[2].body["name"], lead.as_str());
    let (key, token) = (
        vonage.public_key(),
        own["token"].as_str().unwrap().to_owned(),
    );
    let verified: Value = serde_json::from_str(
        &tokio::task::spawn_blocking(move || python("vonage_verify.py", &[&key, &token]))
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(verified["claims"]["sub"], lead.as_str());
    fleet.stop().await;
}
