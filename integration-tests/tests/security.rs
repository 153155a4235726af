//! Attacking ourselves: forged tokens, replayed refresh tokens, other organizations' ids on
//! every route, every role on every endpoint, spoofed gateway headers. The route and method
//! lists come from the OpenAPI document and the gRPC descriptor set, so a new endpoint is
//! covered (or the suite fails asking for its fixture) the day it is added.

mod support;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use comms_auth::permissions::grant;
use comms_auth::{Identity, Permission, PrivateKey, Role, TokenKind};
use comms_proto::v1::agents_service_client::AgentsServiceClient;
use comms_proto::v1::analytics_service_client::AnalyticsServiceClient;
use comms_proto::v1::calls_service_client::CallsServiceClient;
use comms_proto::v1::campaigns_service_client::CampaignsServiceClient;
use comms_proto::v1::messages_service_client::MessagesServiceClient;
use comms_proto::v1::transcription_service_client::TranscriptionServiceClient;
use comms_proto::v1::{EndCallRequest, GetCallRequest, UpdateCallRequest};
use comms_proto::{ApiError, v1};
use prost::Message as _;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::{
    Fleet, ORG, PASSWORD, Session, available_agent, fields, json_of, problem, python,
    record_utterance,
};

const OTHER_ORG: &str = "org_beta";

fn b64(value: Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn our_tokens_verify_with_pyjwt_and_tokens_it_signs_with_our_key_are_accepted() {
    let fleet = Fleet::start("600000").await;
    let jwks = fleet.url("/.well-known/jwks.json");
    let claims: Value = serde_json::from_str(&python(
        "jwt_interop.py",
        &["verify", &jwks, &fleet.admin.access_token, "comms-api"],
    ))
    .unwrap();
    assert_eq!(
        (claims["org"].as_str(), claims["typ"].as_str()),
        (Some(ORG), Some("access"))
    );
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        15 * 60
    );

    let now = chrono::Utc::now().timestamp();
    let theirs = json!({
        "iss": "comms", "aud": "comms-api", "sub": claims["sub"], "org": ORG, "role": "admin",
        "typ": "access", "iat": now, "nbf": now, "exp": now + 300, "jti": uuid::Uuid::new_v4(),
    });
    let kid = &fleet.private_key.public.kid;
    let token = python(
        "jwt_interop.py",
        &[
            "sign",
            &fleet.private_key.to_pem(),
            kid,
            &theirs.to_string(),
        ],
    );
    let response = fleet
        .http
        .get(fleet.url("/api/communications/calls"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn forged_stale_and_misused_tokens_are_refused_over_rest() {
    let fleet = Fleet::start("600000").await;
    let tokens = &fleet.auth.tokens;
    let admin = Identity::new(ORG, "someone", Role::Admin).unwrap();
    let kid = fleet.private_key.public.kid.clone();
    let valid_claims = tokens.claims(
        &admin,
        TokenKind::Access,
        std::time::Duration::from_secs(600),
    );
    let now = chrono::Utc::now().timestamp();
    let signed = |edit: &dyn Fn(&mut comms_auth::Claims)| {
        let mut claims = valid_claims.clone();
        edit(&mut claims);
        tokens.sign(&claims).unwrap()
    };
    let hs256 = {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
        header.kid = Some(kid.clone());
        let secret =
            jsonwebtoken::EncodingKey::from_secret(fleet.private_key.public.to_pem().as_bytes());
        jsonwebtoken::encode(&header, &valid_claims, &secret).unwrap()
    };
    let stranger = comms_auth::Tokens::new(
        comms_auth::KeyRing::new(PrivateKey::generate(), vec![]),
        Default::default(),
    );
    let tampered = {
        let mine = fleet.forge(ORG, "agent-1", Role::Agent);
        let parts: Vec<&str> = mine.split('.').collect();
        let mut claims: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        claims["role"] = "admin".into();
        format!("{}.{}.{}", parts[0], b64(claims), parts[2])
    };
    let attacks: Vec<(&str, String)> = vec![
        (
            "alg none",
            format!(
                "{}.{}.",
                b64(json!({"alg": "none", "kid": kid})),
                b64(serde_json::to_value(&valid_claims).unwrap())
            ),
        ),
        ("HS256 keyed with our public key", hs256),
        (
            "expired",
            signed(&|c| (c.iat, c.nbf, c.exp) = (now - 900, now - 900, now - 120)),
        ),
        (
            "not yet valid",
            signed(&|c| (c.nbf, c.exp) = (now + 600, now + 1200)),
        ),
        ("unknown kid", {
            let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
            header.kid = Some("not-our-key".into());
            let pem = fleet.private_key.to_pem();
            let der = base64::engine::general_purpose::STANDARD
                .decode(
                    pem.lines()
                        .filter(|l| !l.starts_with("-----"))
                        .collect::<String>(),
                )
                .unwrap();
            jsonwebtoken::encode(
                &header,
                &valid_claims,
                &jsonwebtoken::EncodingKey::from_ed_der(&der),
            )
            .unwrap()
        }),
        ("payload tampered", tampered),
        ("signed by another Ed25519 key", {
            let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
            header.kid = Some(kid.clone());
            let token = stranger.access_token(&admin).unwrap();
            let parts: Vec<&str> = token.split('.').collect();
            format!(
                "{}.{}.{}",
                b64(serde_json::to_value(&header).unwrap()),
                parts[1],
                parts[2]
            )
        }),
        ("a refresh token", fleet.admin.refresh_token.clone()),
        ("a service token", tokens.internal_token(&admin).unwrap()),
        ("wrong issuer", signed(&|c| c.iss = "someone-else".into())),
        ("garbage", "not-a-token".into()),
    ];
    for (attack, token) in attacks {
        let request = fleet
            .http
            .get(fleet.url("/api/communications/calls"))
            .bearer_auth(&token);
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{attack}");
        assert!(
            response.headers().contains_key("www-authenticate"),
            "{attack}"
        );
        // Each refusal says what is wrong in words, never a library's names.
        let said = match attack {
            "alg none" | "garbage" => "the token is malformed",
            "HS256 keyed with our public key" => "its algorithm, HS256, is not accepted",
            "expired" => "the token has expired",
            "not yet valid" => "the token is not valid yet",
            "unknown kid" => "the key it names (kid) is not one of ours",
            "payload tampered" | "signed by another Ed25519 key" => "its signature does not match",
            "a refresh token" | "a service token" => "the token is for another audience",
            "wrong issuer" => "the token was issued by someone else",
            other => panic!("say what {other} should be told"),
        };
        let body: Value = response.json().await.unwrap();
        let detail = body["detail"].as_str().unwrap_or_default();
        assert!(detail.contains(said), "{attack}: {body}");
    }

    // An access token cannot refresh.
    let (status, _) = problem(
        fleet
            .http
            .post(fleet.url("/api/communications/auth/refresh"))
            .json(&json!({ "refresh_token": fleet.admin.access_token })),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn standalone_mode_ignores_identity_headers() {
    let fleet = Fleet::start("600000").await;
    let other = fleet.user(OTHER_ORG, Role::Admin).await;
    let theirs = json_of(
        fleet
            .request(Method::POST, "/api/communications/calls", &other)
            .json(&json!({ "to": "+14155550100" })),
    )
    .await;
    // Our token with their organization in the gateway's headers: still only our data.
    let listed = json_of(
        fleet
            .get("/api/communications/calls")
            .header("x-org-id", OTHER_ORG)
            .header("x-user-role", "admin"),
    )
    .await;
    assert!(listed["data"].as_array().unwrap().is_empty(), "{listed}");
    let (status, _) = problem(
        fleet
            .get(&format!(
                "/api/communications/calls/{}",
                theirs["id"].as_str().unwrap()
            ))
            .header("x-org-id", OTHER_ORG),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Headers alone are no identity at all.
    let (status, _) = problem(
        fleet
            .http
            .get(fleet.url("/api/communications/calls"))
            .header("x-org-id", OTHER_ORG)
            .header("x-user-id", "u")
            .header("x-user-role", "admin"),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn refresh_tokens_rotate_and_a_reused_one_revokes_the_whole_session() {
    let fleet = Fleet::start("600000").await;
    let refresh = |token: &str| {
        fleet
            .http
            .post(fleet.url("/api/communications/auth/refresh"))
            .json(&json!({ "refresh_token": token }))
            .send()
    };
    let first = fleet.admin.refresh_token.clone();
    let second: Value = refresh(&first).await.unwrap().json().await.unwrap();
    let second_refresh = second["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(second_refresh, first);
    assert_eq!(
        (second["token_type"].as_str(), second["expires_in"].as_u64()),
        (Some("Bearer"), Some(900))
    );
    let third: Value = refresh(&second_refresh)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let newest = third["refresh_token"].as_str().unwrap().to_owned();

    // The first token again: reuse. The session dies, including its newest token.
    let reused = refresh(&first).await.unwrap();
    assert_eq!(reused.status(), StatusCode::UNAUTHORIZED);
    let body: Value = reused.json().await.unwrap();
    assert!(
        body["detail"].as_str().unwrap().contains("already used"),
        "{body}"
    );
    assert_eq!(
        refresh(&newest).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    let revoked: Vec<String> = sqlx::query_scalar(
        "SELECT data->>'reason' FROM events WHERE event_type = 'comms.session.revoked'",
    )
    .fetch_all(&fleet.pool)
    .await
    .unwrap();
    assert_eq!(revoked, ["refresh_token_reused"]);

    // A fresh login is a new session; logging out ends it.
    let session = fleet.login(support::ADMIN_EMAIL, PASSWORD).await;
    let logout = fleet
        .http
        .post(fleet.url("/api/communications/auth/logout"))
        .json(&json!({ "refresh_token": session.refresh_token }))
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        refresh(&session.refresh_token).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn login_failures_look_alike_and_are_rate_limited_per_account() {
    let fleet = Fleet::start("600000").await;
    let agent = fleet.user(ORG, Role::Agent).await;
    let me = json_of(fleet.request(Method::GET, "/api/communications/auth/me", &agent)).await;
    let email = me["email"].as_str().unwrap().to_owned();
    let attempt = |email: &str, password: &str| {
        fleet
            .http
            .post(fleet.url("/api/communications/auth/login"))
            .json(&json!({ "email": email, "password": password }))
    };
    let (status, unknown) = problem(attempt("nobody@acme.test", "some password here")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, wrong) = problem(attempt(&email, "some password here")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        unknown, wrong,
        "unknown user and wrong password answer alike"
    );
    let (status, p) = problem(attempt(&email, "")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{p}");

    // Five attempts per account in a burst (the login and two failures above, two more here);
    // then 429, even with the right password.
    let mut statuses = Vec::new();
    for _ in 0..2 {
        statuses.push(
            attempt(&email, "guess guess guess")
                .send()
                .await
                .unwrap()
                .status(),
        );
    }
    assert!(
        statuses.iter().all(|s| *s == StatusCode::UNAUTHORIZED),
        "{statuses:?}"
    );
    let limited = attempt(&email, PASSWORD).send().await.unwrap();
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    // Other accounts are not locked out by it.
    fleet.login(support::ADMIN_EMAIL, PASSWORD).await;

    // Twenty attempts per address in a burst, whichever accounts they try.
    let mut by_address = None;
    for n in 0..25 {
        let response = attempt(&format!("spray{n}@acme.test"), "guess guess guess")
            .send()
            .await
            .unwrap();
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            by_address = Some(response.json::<Value>().await.unwrap());
            break;
        }
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    let by_address = by_address.expect("spraying many accounts from one address is limited");
    assert!(
        by_address["detail"].as_str().unwrap().contains("address"),
        "{by_address}"
    );
    fleet.stop().await;
}

/// A body the operation accepts, for operations that take one.
fn sample_body(method: &str, template: &str) -> Option<Value> {
    Some(match (method, template) {
        ("post", "/api/communications/calls") => json!({ "to": "+14155550100" }),
        ("post", "/api/communications/live/ticket") => json!({}),
        ("put", "/api/communications/calls/{id}") => json!({ "notes": "changed by someone" }),
        ("post", "/api/communications/calls/{id}/recording") => json!({ "action": "pause" }),
        ("post", "/api/communications/users") => json!({
            "email": format!("{}@acme.test", uuid::Uuid::new_v4().simple()), "password": PASSWORD, "role": "agent"
        }),
        ("put", "/api/communications/credentials/twilio") => {
            json!({ "account_sid": "AC0000000000000000000000000000beef", "auth_token": "intruder-token" })
        }
        ("put", "/api/communications/credentials/vonage") => {
            json!({ "api_key": "intruder", "api_secret": "intruder-secret" })
        }
        (
            "put",
            "/api/communications/credentials/deepgram"
            | "/api/communications/credentials/openai"
            | "/api/communications/credentials/anthropic",
        ) => json!({ "api_key": "intruder-key" }),
        ("post", "/api/communications/api-keys") => json!({ "name": "probe", "role": "agent" }),
        ("post", "/api/communications/agents") => {
            json!({ "name": "Probe", "email": "probe@acme.test" })
        }
        ("put", "/api/communications/transcripts/retention") => json!({ "days": 30 }),
        ("post", "/api/communications/knowledge/notes")
        | ("put", "/api/communications/knowledge/notes/{id}") => json!({
            "title": "Probe note", "body": "What a probe says.", "keywords": ["probe"]
        }),
        ("put", "/api/communications/agents/{id}") => json!({ "name": "Renamed" }),
        ("put", "/api/communications/agents/{id}/status") => json!({ "status": "available" }),
        ("post", "/api/communications/agents/{id}/forced-status") => {
            json!({ "status": "break", "reason": "probe" })
        }
        ("post", "/api/communications/calls/{id}/pull") => {
            json!({ "agent_id": uuid::Uuid::nil() })
        }
        ("post", "/api/communications/calls/{id}/monitor") => json!({ "mode": "listen" }),
        ("post", "/api/communications/calls/{id}/reroute") => {
            json!({ "skills": ["billing"], "language": "es", "reason": "probe" })
        }
        ("post", "/api/communications/numbers") => json!({ "number": "+14155550100" }),
        ("put", "/api/communications/notification-preferences/{user_id}") => {
            json!({ "channel": "sms", "phone": "+14155550178", "language": "de" })
        }
        ("post", "/api/communications/messages") => {
            json!({ "to": "+14155550177", "text": "A probe's text" })
        }
        ("put", "/api/communications/numbers/{id}") => json!({ "language": "es" }),
        ("post", "/api/communications/numbers/{id}/simulated-calls") => {
            json!({ "inputs": [{ "digits": "1" }] })
        }
        ("post", "/api/communications/ivr-flows")
        | ("put", "/api/communications/ivr-flows/{id}") => json!({
            "name": "Probe flow",
            "definition": {"languages": ["en"], "start": "hello", "nodes": {
                "hello": {"type": "say", "text": {"en": "Hello."}, "next": "wait"},
                "wait": {"type": "queue"}}}
        }),
        ("post", "/api/communications/ivr-flows/validate") => json!({
            "definition": {"languages": ["en"], "start": "bye", "nodes": {"bye": {"type": "hang_up"}}}
        }),
        ("post", "/api/communications/ivr-flows/{id}/publish") => json!({ "version": 1 }),
        ("post", "/api/communications/ivr-flows/{id}/simulate") => {
            json!({ "inputs": [{ "digits": "1" }] })
        }
        ("post", "/api/communications/agents/{id}/softphone-token")
        | ("post", "/api/communications/softphone-token") => json!({}),
        ("post", "/api/communications/teams") => json!({ "name": "Probe team" }),
        ("put", "/api/communications/teams/{id}") => json!({ "name": "Renamed team" }),
        ("post", "/api/communications/teams/{id}/members") => {
            json!({ "agent_id": uuid::Uuid::nil() })
        }
        ("post", "/api/communications/campaigns") => {
            json!({ "name": "Probe campaign", "dialing_mode": "progressive" })
        }
        ("put", "/api/communications/campaigns/{id}") => json!({ "name": "Renamed campaign" }),
        (
            "post",
            "/api/communications/campaigns/{id}/start"
            | "/api/communications/campaigns/{id}/pause"
            | "/api/communications/campaigns/{id}/resume"
            | "/api/communications/campaigns/{id}/cancel",
        ) => json!({}),
        ("post", "/api/communications/campaigns/{id}/contacts") => {
            json!({ "contact_ids": [uuid::Uuid::nil()] })
        }
        ("post", "/api/communications/contacts") => {
            json!({ "name": "Probe contact", "phones": ["+14155550177"] })
        }
        // CSV imports: a JSON body is the wrong media type (415) for those allowed; the CSV
        // itself is sent where a test needs the import to run.
        ("post", "/api/communications/contacts/import")
        | ("post", "/api/communications/campaigns/{id}/contacts/import") => json!({}),
        ("post", "/api/communications/previews/{call_id}/accept")
        | ("post", "/api/communications/previews/{call_id}/skip") => json!({}),
        ("post", "/api/communications/do-not-call/{list}")
        | ("post", "/api/communications/do-not-call/{list}/remove") => {
            json!({ "numbers": ["+14155550199"] })
        }
        _ => return None,
    })
}

/// Every operation of the OpenAPI document: `(method, path template, operation)`.
fn operations(openapi: &Value) -> Vec<(String, String, Value)> {
    let mut all = Vec::new();
    for (path, item) in openapi["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            all.push((method.clone(), path.clone(), operation.clone()));
        }
    }
    all
}

fn send(
    fleet: &Fleet,
    method: &str,
    path: &str,
    session: &Session,
    body: Option<Value>,
) -> reqwest::RequestBuilder {
    let request = fleet.request(method.to_uppercase().parse().unwrap(), path, session);
    match body {
        Some(body) => request.json(&body),
        None => request,
    }
}

/// Organization B's resources, and how B sees them.
struct Other {
    session: Session,
    call: String,
    user: String,
    key: String,
    agent: String,
    team: String,
    campaign: String,
    contact: String,
    /// The call a preview campaign of B's shows B's agent.
    preview: String,
    number: String,
    /// B's IVR flow, with a published version.
    flow: String,
    /// A text B sent (through the simulator), and its conversation.
    message: String,
    conversation: String,
    /// B's knowledge note.
    note: String,
}

impl Other {
    async fn create(fleet: &Fleet) -> Self {
        let session = fleet.user(OTHER_ORG, Role::Admin).await;
        let call = json_of(send(
            fleet,
            "post",
            "/api/communications/calls",
            &session,
            sample_body("post", "/api/communications/calls"),
        ))
        .await;
        // B's call was heard: its transcript is B's.
        let call_id = call["id"].as_str().unwrap();
        record_utterance(fleet, OTHER_ORG, call_id, "B's caller speaking").await;
        let user = json_of(send(
            fleet,
            "post",
            "/api/communications/users",
            &session,
            sample_body("post", "/api/communications/users"),
        ))
        .await;
        let key = json_of(send(
            fleet,
            "post",
            "/api/communications/api-keys",
            &session,
            sample_body("post", "/api/communications/api-keys"),
        ))
        .await;
        let credentials = send(
            fleet,
            "put",
            "/api/communications/credentials/twilio",
            &session,
            Some(
                json!({ "account_sid": "AC0000000000000000000000000000be7a", "auth_token": "beta-token" }),
            ),
        );
        assert_eq!(credentials.send().await.unwrap().status(), StatusCode::OK);
        let team = json_of(send(
            fleet,
            "post",
            "/api/communications/teams",
            &session,
            sample_body("post", "/api/communications/teams"),
        ))
        .await;
        let agent = json_of(send(
            fleet,
            "post",
            "/api/communications/agents",
            &session,
            Some(json!({ "name": "Bea", "email": "bea@beta.test", "team_id": team["id"], "languages": ["en"] })),
        ))
        .await;
        let contact = json_of(send(
            fleet,
            "post",
            "/api/communications/contacts",
            &session,
            Some(json!({ "name": "Bo Beta", "phones": ["+14155550188"] })),
        ))
        .await;
        let number = json_of(send(
            fleet,
            "post",
            "/api/communications/numbers",
            &session,
            Some(json!({ "number": "+14155550177", "language": "de", "skills": ["billing"] })),
        ))
        .await;
        let campaign = json_of(send(
            fleet,
            "post",
            "/api/communications/campaigns",
            &session,
            sample_body("post", "/api/communications/campaigns"),
        ))
        .await;
        let campaign = campaign["id"].as_str().unwrap().to_owned();
        let flow = json_of(send(
            fleet,
            "post",
            "/api/communications/ivr-flows",
            &session,
            sample_body("post", "/api/communications/ivr-flows"),
        ))
        .await;
        let flow = flow["id"].as_str().unwrap().to_owned();
        let published = send(
            fleet,
            "post",
            &format!("/api/communications/ivr-flows/{flow}/publish"),
            &session,
            Some(json!({ "version": 1 })),
        );
        assert_eq!(published.send().await.unwrap().status(), StatusCode::OK);
        let added = send(
            fleet,
            "post",
            &format!("/api/communications/campaigns/{campaign}/contacts"),
            &session,
            Some(json!({ "contact_ids": [contact["id"]] })),
        );
        assert_eq!(added.send().await.unwrap().status(), StatusCode::OK);
        // A preview campaign shows B's agent a contact (open around the clock).
        let agent_id = agent["id"].as_str().unwrap().to_owned();
        let status = send(
            fleet,
            "put",
            &format!("/api/communications/agents/{agent_id}/status"),
            &session,
            Some(json!({ "status": "available" })),
        );
        assert_eq!(status.send().await.unwrap().status(), StatusCode::OK);
        let previewing = json_of(send(
            fleet,
            "post",
            "/api/communications/campaigns",
            &session,
            Some(json!({ "name": "Previewed", "dialing_mode": "preview",
                "window": { "start": "00:00", "end": "23:59",
                            "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] } })),
        ))
        .await;
        let previewing = previewing["id"].as_str().unwrap().to_owned();
        let shown_contact = json_of(send(
            fleet,
            "post",
            "/api/communications/contacts",
            &session,
            Some(json!({ "name": "Pat Preview", "phones": ["+14155550189"], "time_zone": "Etc/UTC" })),
        ))
        .await;
        for (verb, body) in [
            (
                "contacts",
                Some(json!({ "contact_ids": [shown_contact["id"]] })),
            ),
            ("start", None),
        ] {
            let response = send(
                fleet,
                "post",
                &format!("/api/communications/campaigns/{previewing}/{verb}"),
                &session,
                body,
            );
            assert_eq!(response.send().await.unwrap().status(), StatusCode::OK);
        }
        let mut preview = Value::Null;
        for _ in 0..200 {
            let shown = json_of(send(
                fleet,
                "get",
                &format!("/api/communications/previews?agent_id={agent_id}"),
                &session,
                None,
            ))
            .await;
            if !shown["preview"].is_null() {
                preview = shown["preview"].clone();
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        assert!(!preview.is_null(), "B's agent was never shown a preview");
        let message = json_of(send(
            fleet,
            "post",
            "/api/communications/messages",
            &session,
            sample_body("post", "/api/communications/messages"),
        ))
        .await;
        let user_id = user["id"].as_str().unwrap();
        json_of(send(
            fleet,
            "put",
            &format!("/api/communications/notification-preferences/{user_id}"),
            &session,
            sample_body(
                "put",
                "/api/communications/notification-preferences/{user_id}",
            ),
        ))
        .await;
        let note = json_of(send(
            fleet,
            "post",
            "/api/communications/knowledge/notes",
            &session,
            sample_body("post", "/api/communications/knowledge/notes"),
        ))
        .await;
        Self {
            note: note["id"].as_str().unwrap().to_owned(),
            message: message["id"].as_str().unwrap().to_owned(),
            conversation: message["conversation_id"].as_str().unwrap().to_owned(),
            number: number["id"].as_str().unwrap().to_owned(),
            flow,
            preview: preview["call_id"].as_str().unwrap().to_owned(),
            campaign,
            contact: contact["id"].as_str().unwrap().to_owned(),
            agent: agent["id"].as_str().unwrap().to_owned(),
            team: team["id"].as_str().unwrap().to_owned(),
            call: call["id"].as_str().unwrap().to_owned(),
            user: user["id"].as_str().unwrap().to_owned(),
            key: key["id"].as_str().unwrap().to_owned(),
            session,
        }
    }

    /// Everything B can see, to compare before and after A's attempts.
    async fn snapshot(&self, fleet: &Fleet) -> Vec<Value> {
        let mut seen = Vec::new();
        for path in [
            format!("/api/communications/calls/{}", self.call),
            format!("/api/communications/calls/{}/transcript", self.call),
            "/api/communications/calls".into(),
            format!("/api/communications/agents/{}", self.agent),
            "/api/communications/agents".into(),
            format!("/api/communications/teams/{}", self.team),
            "/api/communications/teams".into(),
            "/api/communications/users".into(),
            "/api/communications/api-keys".into(),
            "/api/communications/credentials".into(),
            format!("/api/communications/campaigns/{}", self.campaign),
            format!("/api/communications/campaigns/{}/contacts", self.campaign),
            "/api/communications/campaigns".into(),
            format!("/api/communications/contacts/{}", self.contact),
            "/api/communications/contacts".into(),
            format!("/api/communications/numbers/{}", self.number),
            "/api/communications/numbers".into(),
            format!("/api/communications/ivr-flows/{}", self.flow),
            format!("/api/communications/ivr-flows/{}/versions/1", self.flow),
            format!("/api/communications/ivr-flows/{}/report", self.flow),
            format!("/api/communications/messages/{}", self.message),
            format!("/api/communications/notification-preferences/{}", self.user),
            format!("/api/communications/conversations/{}", self.conversation),
            format!(
                "/api/communications/conversations/{}/messages",
                self.conversation
            ),
            "/api/communications/conversations".into(),
            "/api/communications/ivr-flows".into(),
            format!("/api/communications/knowledge/notes/{}", self.note),
            "/api/communications/knowledge/notes".into(),
            format!("/api/communications/previews?agent_id={}", self.agent),
        ] {
            let mut shown = json_of(send(fleet, "get", &path, &self.session, None)).await;
            // A waiting contact's reason names the local time now, which moves on by itself.
            for item in shown["data"].as_array_mut().into_iter().flatten() {
                if item["reason"]
                    .as_str()
                    .is_some_and(|r| r.starts_with("outside window"))
                {
                    item["reason"] = Value::Null;
                }
            }
            seen.push(shown);
        }
        seen
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_rest_route_reaches_another_organizations_data() {
    let fleet = Fleet::start("600000").await;
    let other = Other::create(&fleet).await;
    let before = other.snapshot(&fleet).await;
    let openapi = json_of(fleet.http.get(fleet.url("/openapi.json"))).await;

    let mut tried = 0;
    for (method, template, _) in operations(&openapi) {
        if !template.contains('{') {
            continue;
        }
        let id = match template.as_str() {
            "/api/communications/calls/{id}"
            | "/api/communications/calls/{id}/recording"
            | "/api/communications/calls/{id}/pull"
            | "/api/communications/calls/{id}/reroute"
            | "/api/communications/calls/{id}/monitor"
            | "/api/communications/calls/{id}/transcript"
            | "/api/communications/calls/{id}/summary"
            | "/api/communications/calls/{id}/assist" => other.call.clone(),
            "/api/communications/users/{id}" => other.user.clone(),
            "/api/communications/api-keys/{id}" => other.key.clone(),
            "/api/communications/agents/{id}"
            | "/api/communications/agents/{id}/status"
            | "/api/communications/agents/{id}/forced-status"
            | "/api/communications/agents/{id}/softphone-token" => other.agent.clone(),
            "/api/communications/teams/{id}"
            | "/api/communications/teams/{id}/members"
            | "/api/communications/teams/{id}/members/{agent_id}" => other.team.clone(),
            "/api/communications/campaigns/{id}"
            | "/api/communications/campaigns/{id}/start"
            | "/api/communications/campaigns/{id}/pause"
            | "/api/communications/campaigns/{id}/resume"
            | "/api/communications/campaigns/{id}/cancel"
            | "/api/communications/campaigns/{id}/contacts"
            | "/api/communications/campaigns/{id}/contacts/import" => other.campaign.clone(),
            "/api/communications/contacts/{id}" => other.contact.clone(),
            "/api/communications/previews/{call_id}/accept"
            | "/api/communications/previews/{call_id}/skip" => other.preview.clone(),
            "/api/communications/do-not-call/{list}"
            | "/api/communications/do-not-call/{list}/remove" => "internal".into(),
            // A carrier's callback names its organization in the path, under the signature:
            // B's call in A's path is unknown (signed callbacks: tests/telephony.rs).
            "/webhooks/twilio/{org}/calls/{call_id}/status"
            | "/webhooks/twilio/{org}/calls/{call_id}/agent/status"
            | "/webhooks/twilio/{org}/calls/{call_id}/supervisor/status"
            | "/webhooks/twilio/{org}/calls/{call_id}/machine"
            | "/webhooks/twilio/{org}/calls/{call_id}/answer"
            | "/webhooks/twilio/{org}/calls/{call_id}/recording"
            | "/webhooks/vonage/{org}/calls/{call_id}/event"
            | "/webhooks/vonage/{org}/calls/{call_id}/agent/event"
            | "/webhooks/vonage/{org}/calls/{call_id}/supervisor/event"
            | "/webhooks/vonage/{org}/calls/{call_id}/audio/event"
            | "/webhooks/vonage/{org}/calls/{call_id}/answer"
            | "/webhooks/twilio/{org}/calls/{call_id}/ivr"
            | "/webhooks/vonage/{org}/calls/{call_id}/ivr"
            | "/webhooks/vonage/{org}/calls/{call_id}/recording"
            | "/webhooks/twilio/{org}/inbound/voice"
            | "/webhooks/twilio/{org}/inbound/status"
            | "/webhooks/vonage/{org}/inbound/answer"
            | "/webhooks/vonage/{org}/inbound/event" => other.call.clone(),
            "/api/communications/numbers/{id}"
            | "/api/communications/numbers/{id}/simulated-calls" => other.number.clone(),
            "/api/communications/ivr-flows/{id}"
            | "/api/communications/ivr-flows/{id}/publish"
            | "/api/communications/ivr-flows/{id}/versions/{version}"
            | "/api/communications/ivr-flows/{id}/simulate"
            | "/api/communications/ivr-flows/{id}/report" => other.flow.clone(),
            "/api/communications/messages/{id}" => other.message.clone(),
            "/api/communications/knowledge/notes/{id}" => other.note.clone(),
            "/api/communications/conversations/{id}"
            | "/api/communications/conversations/{id}/messages" => other.conversation.clone(),
            // B's message in A's path is unknown (signed webhooks: tests/telephony/sms.rs).
            "/webhooks/twilio/{org}/messages/{id}/status"
            | "/webhooks/vonage/{org}/messages/{id}/status" => other.message.clone(),
            "/webhooks/twilio/{org}/inbound/sms" | "/webhooks/vonage/{org}/inbound/sms" => {
                other.message.clone()
            }
            "/api/communications/notification-preferences/{user_id}" => other.user.clone(),
            _ => panic!("no cross-tenant fixture for {method} {template}: add one here"),
        };
        let path = template
            .replace("{id}", &id)
            .replace("{provider}", &id)
            .replace("{list}", &id)
            .replace("{call_id}", &id)
            .replace("{user_id}", &id)
            .replace("{org}", ORG)
            .replace("{version}", "1")
            .replace("{agent_id}", &other.agent);
        let request = if template.ends_with("/import") {
            fleet
                .request(reqwest::Method::POST, &path, &fleet.admin)
                .header("content-type", "text/csv")
                .body("name,phone\nIntruder,+14155550166\n")
        } else {
            send(
                &fleet,
                &method,
                &path,
                &fleet.admin,
                sample_body(&method, &template),
            )
        };
        let response = request.send().await.unwrap();
        // Credentials and do-not-call lists are addressed by name, not id: A's change is to A's
        // own. So are notification preferences, by the platform's user id: A's preferences for
        // that id are A's (B's stay as they were, as the snapshot shows).
        let by_name = [
            ("get", "/api/communications/do-not-call/{list}"),
            ("post", "/api/communications/do-not-call/{list}"),
            ("post", "/api/communications/do-not-call/{list}/remove"),
            (
                "put",
                "/api/communications/notification-preferences/{user_id}",
            ),
        ];
        let expected = if by_name.contains(&(method.as_str(), template.as_str())) {
            StatusCode::OK
        } else {
            StatusCode::NOT_FOUND
        };
        assert_eq!(
            response.status(),
            expected,
            "{method} {template} with {OTHER_ORG}'s id"
        );
        tried += 1;
    }
    assert!(tried >= 25, "only {tried} routes take ids?");

    // Ids in a body name nothing of B's either: B's agent and campaign on a new call of A's are
    // unknown references (422), each field named.
    let (status, body) = problem(fleet.post("/api/communications/calls").json(&json!({
        "to": "+14155550100", "agent_id": other.agent, "campaign_id": other.campaign
    })))
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["type"], "/errors/unknown-reference", "{body}");
    assert_eq!(fields(&body), ["agent_id", "campaign_id"], "{body}");

    // Lists never show B's rows.
    let b_ids = [
        &other.call,
        &other.user,
        &other.key,
        &other.agent,
        &other.team,
        &other.campaign,
        &other.contact,
        &other.preview,
        &other.flow,
    ];
    for (method, template, _) in operations(&openapi) {
        // The live feed is a WebSocket: its reach is tests/live.rs's.
        if method != "get"
            || template.contains('{')
            || !template.starts_with("/api/communications/")
            || template == "/api/communications/live"
        {
            continue;
        }
        let response = send(&fleet, &method, &template, &fleet.admin, None)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{template}");
        let body: Value = response.json().await.unwrap();
        for item in body["data"].as_array().into_iter().flatten() {
            // B's ids nowhere in the item: not as its id, nor as an agent_id or team_id in it.
            let text = item.to_string();
            assert!(
                !b_ids.iter().any(|id| text.contains(id.as_str())),
                "{template} lists {item}"
            );
            assert_ne!(
                item["organization_id"], OTHER_ORG,
                "{template} lists {item}"
            );
        }
    }
    let dashboard = json_of(fleet.get("/api/communications/analytics/dashboard")).await;
    assert_eq!(dashboard["total_calls"], 0, "B's call is not counted for A");

    assert_eq!(
        other.snapshot(&fleet).await,
        before,
        "B's data is unchanged"
    );
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_grpc_method_reaches_another_organizations_data() {
    let fleet = Fleet::start("600000").await;
    let other = Other::create(&fleet).await;
    let before = other.snapshot(&fleet).await;
    let bearer = |org: &str| {
        let token = fleet
            .auth
            .tokens
            .internal_token(&Identity::new(org, "planning", Role::Admin).unwrap())
            .unwrap();
        move |mut request: tonic::Request<()>| {
            comms_auth::service::attach(request.metadata_mut(), &token);
            Ok(request)
        }
    };
    let channel = |addr: std::net::SocketAddr| {
        tonic::transport::Channel::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect_lazy()
    };
    let mut calls = CallsServiceClient::with_interceptor(channel(fleet.fleet.calls), bearer(ORG));
    let mut messages =
        MessagesServiceClient::with_interceptor(channel(fleet.fleet.calls), bearer(ORG));
    let mut agents =
        AgentsServiceClient::with_interceptor(channel(fleet.fleet.agents), bearer(ORG));
    let mut campaigns =
        CampaignsServiceClient::with_interceptor(channel(fleet.fleet.campaigns), bearer(ORG));
    let mut analytics =
        AnalyticsServiceClient::with_interceptor(channel(fleet.fleet.analytics), bearer(ORG));
    let mut transcription = TranscriptionServiceClient::with_interceptor(
        channel(fleet.fleet.transcription),
        bearer(ORG),
    );
    let b_campaign = || v1::CampaignRequest {
        id: other.campaign.clone(),
    };
    // B's call waits in B's routing queue (B's only agent is offline).
    let b_call = uuid::Uuid::now_v7().to_string();
    let queued =
        AgentsServiceClient::with_interceptor(channel(fleet.fleet.agents), bearer(OTHER_ORG))
            .reserve_agent(v1::ReserveAgentRequest {
                call_id: b_call.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
    assert_eq!(queued.queue_position, 1);
    // Ours, free to be pulled to.
    let our_agent = available_agent(&fleet, "Ours").await;

    let descriptors =
        prost_types::FileDescriptorSet::decode(comms_proto::FILE_DESCRIPTOR_SET).unwrap();
    let takes_id = |type_name: &str| {
        descriptors
            .file
            .iter()
            .flat_map(|f| {
                let package = f.package().to_owned();
                f.message_type
                    .iter()
                    .map(move |m| (format!(".{package}.{}", m.name()), m))
            })
            .find(|(name, _)| name == type_name)
            .is_some_and(|(_, message)| {
                message
                    .field
                    .iter()
                    .any(|f| ["id", "agent_id", "call_id"].contains(&f.name()))
            })
    };
    let mut tried = 0;
    for file in &descriptors.file {
        for service in &file.service {
            for method in &service.method {
                // Lists take ids only as filters; what they show is checked over REST.
                if !takes_id(method.input_type()) || method.name().starts_with("List") {
                    continue;
                }
                let id = other.call.clone();
                let status = match (service.name(), method.name()) {
                    ("CallsService", "GetCall") => {
                        calls.get_call(GetCallRequest { id }).await.unwrap_err()
                    }
                    ("CallsService", "UpdateCall") => calls
                        .update_call(UpdateCallRequest {
                            id,
                            notes: Some("x".into()),
                            ..Default::default()
                        })
                        .await
                        .unwrap_err(),
                    ("CallsService", "EndCall") => calls
                        .end_call(EndCallRequest {
                            id,
                            reason: String::new(),
                            ..Default::default()
                        })
                        .await
                        .unwrap_err(),
                    ("CallsService", "RerouteWaitingCall") => calls
                        .reroute_waiting_call(v1::RerouteWaitingCallRequest {
                            call_id: id,
                            skills: vec!["billing".into()],
                            language: "es".into(),
                            reason: "probe".into(),
                        })
                        .await
                        .unwrap_err(),
                    ("CallsService", "ReportCarrierCallback") => calls
                        .report_carrier_callback(v1::ReportCarrierCallbackRequest {
                            call_id: id,
                            carrier: "twilio".into(),
                            carrier_call_id: "CA0123456789abcdef0123456789abcdef".into(),
                            status: "completed".into(),
                            ..Default::default()
                        })
                        .await
                        .unwrap_err(),
                    // B's agent and campaign, named on a new call of A's, are refused as unknown.
                    ("CallsService", "InitiateCall") => {
                        let refused = calls
                            .initiate_call(v1::InitiateCallRequest {
                                to: "+14155550100".into(),
                                agent_id: other.agent.clone(),
                                campaign_id: other.campaign.clone(),
                                ..Default::default()
                            })
                            .await
                            .unwrap_err();
                        assert_eq!(refused.code(), tonic::Code::NotFound);
                        let fields: Vec<String> = ApiError::from_status(&refused)
                            .violations
                            .into_iter()
                            .map(|v| v.field)
                            .collect();
                        assert_eq!(fields, ["agent_id", "campaign_id"]);
                        tried += 1;
                        continue;
                    }
                    // B's agent and campaign as filters of A's volumes: none of B's calls.
                    ("AnalyticsService", "GetCallVolumes") => {
                        let volumes = analytics
                            .get_call_volumes(v1::GetCallVolumesRequest {
                                from: Some(comms_proto::time::to_timestamp(
                                    chrono::Utc::now() - chrono::Duration::days(1),
                                )),
                                interval: "day".into(),
                                agent_id: other.agent.clone(),
                                campaign_id: other.campaign.clone(),
                                ..Default::default()
                            })
                            .await
                            .unwrap()
                            .into_inner();
                        assert_eq!(volumes.total.unwrap().calls, 0);
                        tried += 1;
                        continue;
                    }
                    ("AgentsService", "GetAgent") => agents
                        .get_agent(v1::GetAgentRequest {
                            id: other.agent.clone(),
                        })
                        .await
                        .unwrap_err(),
                    ("AgentsService", "UpdateAgent") => agents
                        .update_agent(v1::UpdateAgentRequest {
                            id: other.agent.clone(),
                            name: Some("x".into()),
                            ..Default::default()
                        })
                        .await
                        .unwrap_err(),
                    ("CallsService", "GetRecording") => calls
                        .get_recording(GetCallRequest {
                            id: other.call.clone(),
                        })
                        .await
                        .unwrap_err(),
                    ("CallsService", "ControlRecording") => calls
                        .control_recording(v1::ControlRecordingRequest {
                            call_id: other.call.clone(),
                            action: "pause".into(),
                        })
                        .await
                        .unwrap_err(),
                    ("CallsService", "DeleteRecording") => calls
                        .delete_recording(GetCallRequest {
                            id: other.call.clone(),
                        })
                        .await
                        .unwrap_err(),
                    ("CallsService", "ReportRecording") => calls
                        .report_recording(v1::ReportRecordingRequest {
                            call_id: other.call.clone(),
                            carrier: "twilio".into(),
                            carrier_call_id: "CA0123456789abcdef0123456789abcdef".into(),
                            recording_id: "RE0123456789abcdef0123456789abcdef".into(),
                            status: "completed".into(),
                            duration_seconds: 3,
                        })
                        .await
                        .unwrap_err(),
                    ("CallsService", "GetNumber") => calls
                        .get_number(v1::GetNumberRequest {
                            id: other.number.clone(),
                        })
                        .await
                        .unwrap_err(),
                    ("CallsService", "UpdateNumber") => calls
                        .update_number(v1::UpdateNumberRequest {
                            id: other.number.clone(),
                            language: "fr".into(),
                            skills: None,
                            recording: None,
                            ivr_flow_id: None,
                        })
                        .await
                        .unwrap_err(),
                    ("CallsService", "ReleaseNumber") => calls
                        .release_number(v1::GetNumberRequest {
                            id: other.number.clone(),
                        })
                        .await
                        .unwrap_err(),
                    ("CallsService", "GetIvrFlow") => calls
                        .get_ivr_flow(v1::GetIvrFlowRequest {
                            id: other.flow.clone(),
                        })
                        .await
                        .unwrap_err(),
                    ("CallsService", "DeleteIvrFlow") => calls
                        .delete_ivr_flow(v1::GetIvrFlowRequest {
                            id: other.flow.clone(),
                        })
                        .await
                        .unwrap_err(),
                    ("CallsService", "UpdateIvrFlow") => calls
                        .update_ivr_flow(v1::UpdateIvrFlowRequest {
                            id: other.flow.clone(),
                            name: "x".into(),
                            definition_json: json!({"languages": ["en"], "start": "bye",
                                "nodes": {"bye": {"type": "hang_up"}}})
                            .to_string(),
                        })
                        .await
                        .unwrap_err(),
                    ("CallsService", "PublishIvrFlow") => calls
                        .publish_ivr_flow(v1::PublishIvrFlowRequest {
                            id: other.flow.clone(),
                            version: 1,
                        })
                        .await
                        .unwrap_err(),
                    ("CallsService", "GetIvrFlowVersion") => calls
                        .get_ivr_flow_version(v1::GetIvrFlowVersionRequest {
                            id: other.flow.clone(),
                            version: 1,
                        })
                        .await
                        .unwrap_err(),
                    ("CallsService", "SimulateIvrFlow") => calls
                        .simulate_ivr_flow(v1::SimulateIvrFlowRequest {
                            id: other.flow.clone(),
                            ..Default::default()
                        })
                        .await
                        .unwrap_err(),
                    ("CallsService", "SimulateInboundCall") => calls
                        .simulate_inbound_call(v1::SimulateInboundCallRequest {
                            id: other.number.clone(),
                            ..Default::default()
                        })
                        .await
                        .unwrap_err(),
                    ("CallsService", "GetIvrFlowReport") => calls
                        .get_ivr_flow_report(v1::GetIvrFlowRequest {
                            id: other.flow.clone(),
                        })
                        .await
                        .unwrap_err(),
                    ("CallsService", "WalkIvr") => calls
                        .walk_ivr(v1::WalkIvrRequest {
                            call_id: other.call.clone(),
                            ..Default::default()
                        })
                        .await
                        .unwrap_err(),
                    ("AgentsService", "IssueSoftphoneToken") => agents
                        .issue_softphone_token(v1::IssueSoftphoneTokenRequest {
                            agent_id: other.agent.clone(),
                            carrier: String::new(),
                        })
                        .await
                        .unwrap_err(),
                    ("AgentsService", "ForceAgentState") => agents
                        .force_agent_state(v1::ForceAgentStateRequest {
                            id: other.agent.clone(),
                            status: v1::AgentState::Break as i32,
                            reason: "probe".into(),
                        })
                        .await
                        .unwrap_err(),
                    // B's waiting call, to B's agent or to ours: neither is found.
                    ("AgentsService", "PullWaitingCall") => {
                        let to_theirs = agents
                            .pull_waiting_call(v1::PullWaitingCallRequest {
                                call_id: b_call.clone(),
                                agent_id: other.agent.clone(),
                            })
                            .await
                            .unwrap_err();
                        assert_eq!(to_theirs.code(), tonic::Code::NotFound);
                        agents
                            .pull_waiting_call(v1::PullWaitingCallRequest {
                                call_id: b_call.clone(),
                                agent_id: our_agent.clone(),
                            })
                            .await
                            .unwrap_err()
                    }
                    ("AgentsService", "UpdateAgentStatus") => agents
                        .update_agent_status(v1::UpdateAgentStatusRequest {
                            id: other.agent.clone(),
                            status: v1::AgentState::Available as i32,
                            reason: String::new(),
                        })
                        .await
                        .unwrap_err(),
                    ("AgentsService", "GetTeam") => agents
                        .get_team(v1::GetTeamRequest {
                            id: other.team.clone(),
                        })
                        .await
                        .unwrap_err(),
                    ("AgentsService", "UpdateTeam") => agents
                        .update_team(v1::UpdateTeamRequest {
                            id: other.team.clone(),
                            name: Some("x".into()),
                            supervisor_id: None,
                        })
                        .await
                        .unwrap_err(),
                    ("AgentsService", "AddTeamMember") => agents
                        .add_team_member(v1::TeamMemberRequest {
                            id: other.team.clone(),
                            agent_id: other.agent.clone(),
                        })
                        .await
                        .unwrap_err(),
                    ("AgentsService", "RemoveTeamMember") => agents
                        .remove_team_member(v1::TeamMemberRequest {
                            id: other.team.clone(),
                            agent_id: other.agent.clone(),
                        })
                        .await
                        .unwrap_err(),
                    ("AgentsService", "ReserveAgent") => agents
                        .reserve_agent(v1::ReserveAgentRequest {
                            call_id: b_call.clone(),
                            ..Default::default()
                        })
                        .await
                        .unwrap_err(),
                    ("AgentsService", "AcceptReservation") => agents
                        .accept_reservation(v1::AcceptReservationRequest {
                            agent_id: other.agent.clone(),
                            call_id: b_call.clone(),
                        })
                        .await
                        .unwrap_err(),
                    ("AgentsService", "ReleaseAgent") => agents
                        .release_agent(v1::ReleaseAgentRequest {
                            call_id: b_call.clone(),
                        })
                        .await
                        .unwrap_err(),
                    ("CampaignsService", "GetCampaign") => campaigns
                        .get_campaign(v1::GetCampaignRequest {
                            id: other.campaign.clone(),
                        })
                        .await
                        .unwrap_err(),
                    ("CampaignsService", "UpdateCampaign") => campaigns
                        .update_campaign(v1::UpdateCampaignRequest {
                            id: other.campaign.clone(),
                            settings: Some(v1::CampaignSettings {
                                name: Some("x".into()),
                                ..Default::default()
                            }),
                        })
                        .await
                        .unwrap_err(),
                    ("CampaignsService", "StartCampaign") => {
                        campaigns.start_campaign(b_campaign()).await.unwrap_err()
                    }
                    ("CampaignsService", "PauseCampaign") => {
                        campaigns.pause_campaign(b_campaign()).await.unwrap_err()
                    }
                    ("CampaignsService", "ResumeCampaign") => {
                        campaigns.resume_campaign(b_campaign()).await.unwrap_err()
                    }
                    ("CampaignsService", "CancelCampaign") => {
                        campaigns.cancel_campaign(b_campaign()).await.unwrap_err()
                    }
                    ("CampaignsService", "AddCampaignContacts") => campaigns
                        .add_campaign_contacts(v1::AddCampaignContactsRequest {
                            id: other.campaign.clone(),
                            contact_ids: vec![other.contact.clone()],
                            priority: 0,
                        })
                        .await
                        .unwrap_err(),
                    // Another organization's agent has no preview here: nothing is shown.
                    ("CampaignsService", "GetPreview") => {
                        let shown = campaigns
                            .get_preview(v1::GetPreviewRequest {
                                agent_id: other.agent.clone(),
                            })
                            .await
                            .unwrap()
                            .into_inner();
                        assert!(shown.preview.is_none());
                        tried += 1;
                        continue;
                    }
                    ("CampaignsService", "AcceptPreview") => campaigns
                        .accept_preview(v1::PreviewRequest {
                            call_id: other.preview.clone(),
                        })
                        .await
                        .unwrap_err(),
                    ("CampaignsService", "SkipPreview") => campaigns
                        .skip_preview(v1::PreviewRequest {
                            call_id: other.preview.clone(),
                        })
                        .await
                        .unwrap_err(),
                    ("MessagesService", "GetMessage") => messages
                        .get_message(v1::GetMessageRequest {
                            id: other.message.clone(),
                        })
                        .await
                        .unwrap_err(),
                    ("MessagesService", "GetConversation") => messages
                        .get_conversation(v1::GetConversationRequest {
                            id: other.conversation.clone(),
                        })
                        .await
                        .unwrap_err(),
                    ("MessagesService", "ReportMessageStatus") => messages
                        .report_message_status(v1::ReportMessageStatusRequest {
                            id: other.message.clone(),
                            carrier: "twilio".into(),
                            carrier_message_id: "SM0123456789abcdef0123456789abcdef".into(),
                            status: "delivered".into(),
                            error_code: String::new(),
                        })
                        .await
                        .unwrap_err(),
                    ("TranscriptionService", "GetTranscript") => transcription
                        .get_transcript(v1::GetTranscriptRequest {
                            call_id: other.call.clone(),
                        })
                        .await
                        .unwrap_err(),
                    ("TranscriptionService", "Assist") => transcription
                        .assist(v1::GetTranscriptRequest {
                            call_id: other.call.clone(),
                        })
                        .await
                        .unwrap_err(),
                    ("TranscriptionService", "DeleteTranscript") => transcription
                        .delete_transcript(v1::GetTranscriptRequest {
                            call_id: other.call.clone(),
                        })
                        .await
                        .unwrap_err(),
                    ("CallsService", "MonitorCall") => calls
                        .monitor_call(v1::MonitorCallRequest {
                            call_id: other.call.clone(),
                            mode: "listen".into(),
                        })
                        .await
                        .unwrap_err(),
                    ("TranscriptionService", "GetKnowledgeNote") => transcription
                        .get_knowledge_note(v1::KnowledgeNoteRequest {
                            id: other.note.clone(),
                        })
                        .await
                        .unwrap_err(),
                    ("TranscriptionService", "UpdateKnowledgeNote") => transcription
                        .update_knowledge_note(v1::UpdateKnowledgeNoteRequest {
                            id: other.note.clone(),
                            note: Some(v1::KnowledgeNoteInput {
                                title: "Hijacked".into(),
                                body: "Say this.".into(),
                                language: String::new(),
                                keywords: vec!["hijack".into()],
                            }),
                        })
                        .await
                        .unwrap_err(),
                    ("TranscriptionService", "DeleteKnowledgeNote") => transcription
                        .delete_knowledge_note(v1::KnowledgeNoteRequest {
                            id: other.note.clone(),
                        })
                        .await
                        .unwrap_err(),
                    ("TranscriptionService", "GetSummary") => transcription
                        .get_summary(v1::GetTranscriptRequest {
                            call_id: other.call.clone(),
                        })
                        .await
                        .unwrap_err(),
                    ("CampaignsService", "GetContact") => campaigns
                        .get_contact(v1::GetContactRequest {
                            id: other.contact.clone(),
                        })
                        .await
                        .unwrap_err(),
                    (service, method) => {
                        panic!("no cross-tenant case for {service}/{method}: add one here")
                    }
                };
                assert_eq!(
                    status.code(),
                    tonic::Code::NotFound,
                    "{}/{}",
                    service.name(),
                    method.name()
                );
                tried += 1;
            }
        }
    }
    assert_eq!(tried, 58);
    let still_waiting: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM routing_queue WHERE call_id = $1::uuid AND org_id = $2",
    )
    .bind(&b_call)
    .bind(OTHER_ORG)
    .fetch_one(&fleet.pool)
    .await
    .unwrap();
    assert_eq!(still_waiting, 1, "B's waiting call is untouched");
    assert_eq!(
        other.snapshot(&fleet).await,
        before,
        "B's data is unchanged"
    );
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_role_meets_each_endpoint_as_the_permission_table_says() {
    let fleet = Fleet::start("600000").await;
    let sessions = [
        (Role::Agent, fleet.user(ORG, Role::Agent).await),
        (Role::Supervisor, fleet.user(ORG, Role::Supervisor).await),
        (Role::Admin, fleet.admin.clone()),
    ];
    let call = json_of(
        fleet
            .post("/api/communications/calls")
            .json(&json!({ "to": "+14155550100" })),
    )
    .await;
    let me = json_of(fleet.get("/api/communications/auth/me")).await;
    let key = json_of(
        fleet
            .post("/api/communications/api-keys")
            .json(&json!({ "name": "k", "role": "agent" })),
    )
    .await;
    let openapi = json_of(fleet.http.get(fleet.url("/openapi.json"))).await;

    let mut checked = 0;
    for (method, template, operation) in operations(&openapi) {
        let requirements = operation["security"].as_array().unwrap_or_else(|| {
            panic!("{method} {template} declares no security: say who may call it")
        });
        let required: Vec<&str> = requirements
            .iter()
            .filter_map(|r| r["bearer"].as_array())
            .flatten()
            .map(|p| p.as_str().unwrap())
            .collect();
        if requirements
            .iter()
            .all(|r| r.as_object().unwrap().is_empty())
        {
            continue; // public: login, refresh, JWKS, health
        }
        let path = template
            .replace(
                "{id}",
                match template.as_str() {
                    "/api/communications/calls/{id}" => call["id"].as_str().unwrap(),
                    "/api/communications/users/{id}" => me["user_id"].as_str().unwrap(),
                    "/api/communications/api-keys/{id}" => key["id"].as_str().unwrap(),
                    _ => "00000000-0000-0000-0000-000000000000",
                },
            )
            .replace("{provider}", "twilio")
            .replace("{version}", "1");
        if ["post", "put"].contains(&method.as_str()) {
            assert!(
                sample_body(&method, &template).is_some(),
                "no sample body for {method} {template}: add one"
            );
        }
        for (role, session) in &sessions {
            // Notification preferences: everyone's own (another's is for the administrator).
            let path = if template.contains("{user_id}") {
                let me = json_of(send(
                    &fleet,
                    "get",
                    "/api/communications/auth/me",
                    session,
                    None,
                ))
                .await;
                path.replace("{user_id}", me["user_id"].as_str().unwrap())
            } else {
                path.clone()
            };
            let response = send(
                &fleet,
                &method,
                &path,
                session,
                sample_body(&method, &template),
            )
            .send()
            .await
            .unwrap();
            let status = response.status();
            let missing: Vec<&str> = required
                .iter()
                .copied()
                .filter(|p| {
                    grant(
                        *role,
                        Permission::parse(p).unwrap_or_else(|| panic!("unknown permission {p}")),
                    )
                    .is_none()
                })
                .collect();
            if missing.is_empty() {
                assert!(
                    status != StatusCode::FORBIDDEN
                        && status != StatusCode::UNAUTHORIZED
                        && !status.is_server_error(),
                    "{role} on {method} {template}: {status}"
                );
            } else {
                assert_eq!(
                    status,
                    StatusCode::FORBIDDEN,
                    "{role} on {method} {template}"
                );
                let body: Value = response.json().await.unwrap();
                assert!(
                    body["detail"].as_str().unwrap().contains(missing[0]),
                    "{role} on {method} {template}: {body}"
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 3 * 25, "only {checked} role checks");
    fleet.stop().await;
}

const GATEWAY_SECRET: &str = "a-shared-secret-of-at-least-32-characters";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn platform_mode_believes_only_the_gateways_signed_headers() {
    let fleet = Fleet::start_with(
        "600000",
        &[
            ("PLATFORM_MODE", "true"),
            ("GATEWAY_SHARED_SECRET", GATEWAY_SECRET),
            ("PLATFORM_ROLE_MAP", "owner=admin,member=agent"),
            ("RATE_LIMIT_PER_MINUTE", "12"),
            ("CORS_ALLOWED_ORIGINS", "https://app.example.com"),
        ],
    )
    .await;
    let path = "/api/communications/calls";
    let signed = |method: &'static str, path: &'static str, body: &[u8]| {
        let body_sha256 = comms_auth::platform::body_sha256(body);
        move |secret: &str, identity: [&str; 3]| {
            let request = comms_auth::platform::SignedRequest {
                method,
                path_and_query: path,
                body_sha256: &body_sha256,
            };
            let t = chrono::Utc::now().timestamp();
            comms_auth::platform::sign(secret, t, request, identity)
        }
    };
    let gateway = |org: &str, role: &str, signed_path: &'static str, secret: &str| {
        let signature = signed("GET", signed_path, b"")(secret, [org, "user_9", role]);
        fleet
            .http
            .get(fleet.url(path))
            .header("x-org-id", org)
            .header("x-user-id", "user_9")
            .header("x-user-role", role)
            .header("x-ocelot-signature", signature)
    };
    let ok = gateway(ORG, "owner", path, GATEWAY_SECRET)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    for (case, request) in [
        ("no headers", fleet.http.get(fleet.url(path))),
        (
            "unsigned",
            fleet
                .http
                .get(fleet.url(path))
                .header("x-org-id", ORG)
                .header("x-user-id", "u")
                .header("x-user-role", "owner"),
        ),
        (
            "wrong secret",
            gateway(
                ORG,
                "owner",
                path,
                "a-guess-that-is-also-32-characters-long",
            ),
        ),
        (
            "signed for another path",
            gateway(ORG, "owner", "/api/communications/users", GATEWAY_SECRET),
        ),
        ("unmapped role", gateway(ORG, "guest", path, GATEWAY_SECRET)),
        (
            "our own bearer token",
            fleet
                .http
                .get(fleet.url(path))
                .bearer_auth(fleet.forge(ORG, "u", Role::Admin)),
        ),
    ] {
        let (status, _) = problem(request).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{case}");
    }
    // A signed request for another organization cannot be re-pointed by editing X-Org-Id.
    let signature = signed("GET", path, b"")(GATEWAY_SECRET, ["org_mine", "u", "owner"]);
    let (status, _) = problem(
        fleet
            .http
            .get(fleet.url(path))
            .header("x-org-id", ORG)
            .header("x-user-id", "u")
            .header("x-user-role", "owner")
            .header("x-ocelot-signature", signature),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // The signature covers the body: a signed call placed as sent, and refused once altered.
    let body = br#"{"to":"+14155550100"}"#;
    let place = |body: &'static [u8]| {
        fleet
            .http
            .post(fleet.url(path))
            .header("content-type", "application/json")
            .header("x-org-id", ORG)
            .header("x-user-id", "user_9")
            .header("x-user-role", "owner")
            .header(
                "x-ocelot-signature",
                signed("POST", path, br#"{"to":"+14155550100"}"#)(
                    GATEWAY_SECRET,
                    [ORG, "user_9", "owner"],
                ),
            )
            .body(body)
    };
    let placed = place(body).send().await.unwrap();
    assert_eq!(placed.status(), StatusCode::CREATED);
    let (status, problem_body) = problem(place(br#"{"to":"+19005550100"}"#)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        problem_body["detail"].as_str().unwrap().contains("body"),
        "{problem_body}"
    );

    // Roles come through the map; accounts are the gateway's business.
    let me_path = "/api/communications/auth/me";
    let me = json_of(
        fleet
            .http
            .get(fleet.url(me_path))
            .header("x-org-id", ORG)
            .header("x-user-id", "user_9")
            .header("x-user-role", "member")
            .header(
                "x-ocelot-signature",
                signed("GET", me_path, b"")(GATEWAY_SECRET, [ORG, "user_9", "member"]),
            ),
    )
    .await;
    assert_eq!(
        (me["role"].as_str(), me["organization_id"].as_str()),
        (Some("agent"), Some(ORG))
    );
    let (status, _) = problem(
        fleet
            .http
            .post(fleet.url("/api/communications/auth/login"))
            .json(&json!({"email": support::ADMIN_EMAIL, "password": PASSWORD})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Browsers: only the configured origin; and the security headers on every answer.
    let preflight = |origin: &'static str| {
        fleet
            .http
            .request(Method::OPTIONS, fleet.url(path))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .send()
    };
    let allowed = preflight("https://app.example.com").await.unwrap();
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    let refused = preflight("https://evil.example.com").await.unwrap();
    assert!(
        !refused
            .headers()
            .contains_key("access-control-allow-origin")
    );
    let answer = fleet.http.get(fleet.url("/health")).send().await.unwrap();
    for (header, value) in [
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("cache-control", "no-store"),
        (
            "content-security-policy",
            "default-src 'none'; frame-ancestors 'none'",
        ),
    ] {
        assert_eq!(answer.headers()[header], value, "{header}");
    }

    // The organization's rate: 12 a minute, and then 429 with Retry-After.
    let mut limited = None;
    for _ in 0..15 {
        let response = gateway(ORG, "owner", path, GATEWAY_SECRET)
            .send()
            .await
            .unwrap();
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(response);
            break;
        }
    }
    let limited = limited.expect("the organization's limit was never reached");
    let retry: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=5).contains(&retry), "{retry}");
    let other_org = gateway("org_other", "owner", path, GATEWAY_SECRET)
        .send()
        .await
        .unwrap();
    assert_eq!(
        other_org.status(),
        StatusCode::OK,
        "one organization's limit is its own"
    );
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn credentials_are_write_only_and_api_keys_work_until_revoked() {
    let fleet = Fleet::start("600000").await;
    let token = "twilio-secret-auth-token-123";
    let stored = json_of(fleet.put("/api/communications/credentials/twilio").json(
        &json!({ "account_sid": "AC0000000000000000000000000000a001", "auth_token": token }),
    ))
    .await;
    assert_eq!(stored["fields"], json!(["account_sid", "auth_token"]));
    let listed = fleet
        .get("/api/communications/credentials")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        listed.contains("twilio")
            && !listed.contains(token)
            && !listed.contains("AC0000000000000000000000000000a001"),
        "{listed}"
    );
    let sealed: Vec<u8> = sqlx::query_scalar("SELECT sealed FROM provider_credentials")
        .fetch_one(&fleet.pool)
        .await
        .unwrap();
    assert!(!sealed.windows(token.len()).any(|w| w == token.as_bytes()));
    let event: Value =
        sqlx::query_scalar("SELECT data FROM events WHERE event_type = 'comms.credentials.stored'")
            .fetch_one(&fleet.pool)
            .await
            .unwrap();
    assert!(!event.to_string().contains(token), "{event}");

    let (status, p) = problem(
        fleet
            .put("/api/communications/credentials/twilio")
            .json(&json!({ "account_sid": "AC1", "token": "x" })),
    )
    .await;
    assert_eq!(
        (status, fields(&p)),
        (StatusCode::BAD_REQUEST, vec!["token"])
    );
    // The SID goes into the paths of Twilio's API: only a SID is stored.
    let (status, p) = problem(
        fleet
            .put("/api/communications/credentials/twilio")
            .json(&json!({ "account_sid": "AC01/../../Accounts/x", "auth_token": "x" })),
    )
    .await;
    assert_eq!(
        (status, fields(&p)),
        (StatusCode::BAD_REQUEST, vec!["account_sid"])
    );
    let (status, _) = problem(
        fleet
            .put("/api/communications/credentials/carrier-pigeon")
            .json(&json!({ "api_key": "x" })),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, p) = problem(
        fleet
            .put("/api/communications/credentials/openai")
            .json(&json!({ "api_key": 5 })),
    )
    .await;
    assert_eq!(
        (status, fields(&p)),
        (StatusCode::BAD_REQUEST, vec!["api_key"])
    );

    let created = json_of(
        fleet
            .post("/api/communications/api-keys")
            .json(&json!({ "name": "reports", "role": "supervisor" })),
    )
    .await;
    let key = created["key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("ock_"));
    let listed = fleet
        .get("/api/communications/api-keys")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!listed.contains(&key), "the key is shown once");
    let digest: Vec<u8> = sqlx::query_scalar("SELECT digest FROM api_keys")
        .fetch_one(&fleet.pool)
        .await
        .unwrap();
    assert_eq!(digest, comms_auth::secrets::secret_digest(&key));
    let with_key = |path: &str| fleet.http.get(fleet.url(path)).bearer_auth(&key).send();
    assert_eq!(
        with_key("/api/communications/analytics/dashboard")
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        with_key("/api/communications/users")
            .await
            .unwrap()
            .status(),
        StatusCode::FORBIDDEN,
        "a supervisor key"
    );
    let revoke = fleet.delete(&format!(
        "/api/communications/api-keys/{}",
        created["id"].as_str().unwrap()
    ));
    assert_eq!(
        revoke.send().await.unwrap().status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        with_key("/api/communications/calls")
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
    fleet.stop().await;
}

#[test]
fn twilio_signatures_agree_with_twilio_python() {
    let params: Vec<(String, String)> = [
        ("CallSid", "CA9f2c"),
        ("CallStatus", "completed"),
        ("To", "+14155550100"),
        ("From", "+14155550199"),
        ("Digits", "1 2&3=4"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let url = "https://comms.example.com/webhooks/twilio/status?org=org_acme";
    let token = "e3b0c44298fc1c149afbf4c8996fb924";
    let signature = comms_auth::webhook::twilio_signature(token, url, &params);
    let as_json = serde_json::to_string(
        &params
            .iter()
            .cloned()
            .collect::<std::collections::BTreeMap<_, _>>(),
    )
    .unwrap();
    assert_eq!(
        python("twilio_check.py", &[token, url, &as_json, &signature]),
        "valid"
    );
    assert_eq!(
        python(
            "twilio_check.py",
            &["another-token", url, &as_json, &signature]
        ),
        "invalid"
    );
    assert!(comms_auth::webhook::verify_twilio(
        token, url, &params, &signature
    ));
}
