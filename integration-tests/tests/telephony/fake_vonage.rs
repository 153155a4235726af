//! A Vonage of our own on loopback, written from Vonage's Voice API reference
//! (<https://developer.vonage.com/en/api/voice>) and its signed-webhook documentation, not from
//! our client: every request must carry an application JWT that PyJWT verifies (RS256) with the
//! application's public key; calls are JSON with numbers in E.164 without `+`; the callbacks it
//! sends are signed by PyJWT (HS256 under the signature secret, `payload_hash` of the body).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

pub const API_KEY: &str = "abcd1234";
pub const APPLICATION_ID: &str = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee";
pub const SIGNATURE_SECRET: &str = "vonage-signature-secret-0123456789";
pub const PUBLIC_BASE_URL: &str = "https://comms.example.test";
pub const API_SECRET: &str = "vonage-api-secret";
/// How the account signs the SMS API's webhooks (set in its dashboard).
pub const SMS_SIGNATURE_METHOD: &str = "sha256";

/// An account's Voice application: its key, id, private key and signature secret.
#[derive(Debug, Clone)]
pub struct Application {
    pub api_key: String,
    pub api_secret: String,
    pub id: String,
    pub private_key: String,
    /// The public key's PEM file, which verifies what the application signs.
    pub public_key: String,
    pub signature_secret: String,
}

/// A fresh RSA key pair's PEM files: the private key and the public key.
async fn key_pair() -> (PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(format!("fake-vonage-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let (private, public) = (dir.join("private.pem"), dir.join("public.pem"));
    let paths = [private.display().to_string(), public.display().to_string()];
    tokio::task::spawn_blocking(move || {
        crate::support::python("rsa_keypair.py", &[&paths[0], &paths[1]])
    })
    .await
    .unwrap();
    (private, public)
}

/// A request Vonage received, with the verified claims of its JWT.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub body: Value,
    pub claims: Value,
}

struct Inner {
    public_key: PathBuf,
    /// Other accounts' applications (organizations' own): their ids and public keys.
    applications: Vec<(String, PathBuf)>,
    /// Other accounts' API keys and secrets.
    accounts: Vec<(String, String)>,
    received: Vec<Received>,
    /// Recordings by uuid, as `GET /v1/files/{uuid}` serves them (MP3, Vonage's default) to
    /// the application that made them.
    files: std::collections::HashMap<String, (String, Vec<u8>)>,
}

#[derive(Clone)]
pub struct FakeVonage {
    inner: Arc<Mutex<Inner>>,
    pub url: String,
    /// The application's private key (PKCS#8 PEM), as the fleet is given it.
    pub private_key: String,
}

impl FakeVonage {
    pub async fn start() -> Self {
        let (private, public) = key_pair().await;
        let inner = Arc::new(Mutex::new(Inner {
            public_key: public,
            applications: Vec::new(),
            accounts: Vec::new(),
            received: Vec::new(),
            files: Default::default(),
        }));
        let app = Router::new()
            .route("/v1/calls", post(create_call).get(list_calls))
            .route("/v1/calls/{uuid}", get(fetch_call).put(update_call))
            .route("/v1/users", post(create_user))
            .route("/v1/files/{uuid}", get(fetch_file))
            .route("/sms/json", post(send_sms))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self {
            inner,
            url,
            private_key: std::fs::read_to_string(private).unwrap(),
        }
    }

    /// Another account (an organization's own) with a Voice application of its own, which
    /// this Vonage then takes requests from as from the fleet's.
    pub async fn another_account(&self, api_key: &str, signature_secret: &str) -> Application {
        let (private, public) = key_pair().await;
        let id = uuid::Uuid::new_v4().to_string();
        let public_key = public.display().to_string();
        let api_secret = format!("{api_key}-api-secret");
        let mut inner = self.inner.lock().unwrap();
        inner.applications.push((id.clone(), public));
        inner
            .accounts
            .push((api_key.to_owned(), api_secret.clone()));
        Application {
            api_key: api_key.to_owned(),
            api_secret,
            id,
            private_key: std::fs::read_to_string(private).unwrap(),
            public_key,
            signature_secret: signature_secret.to_owned(),
        }
    }

    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("TELEPHONY_PROVIDER", "vonage".into()),
            ("VONAGE_API_KEY", API_KEY.into()),
            ("VONAGE_API_SECRET", API_SECRET.into()),
            ("VONAGE_APPLICATION_ID", APPLICATION_ID.into()),
            // As a Secret often holds it: one line, newlines escaped.
            ("VONAGE_PRIVATE_KEY", self.private_key.replace('\n', "\\n")),
            ("VONAGE_SIGNATURE_SECRET", SIGNATURE_SECRET.into()),
            ("VONAGE_API_URL", self.url.clone()),
            ("VONAGE_SMS_API_URL", self.url.clone()),
            ("VONAGE_SIGNATURE_METHOD", SMS_SIGNATURE_METHOD.into()),
            ("PUBLIC_BASE_URL", PUBLIC_BASE_URL.into()),
        ]
    }

    /// The application's public key (PEM file), which verifies what its private key signs.
    pub fn public_key(&self) -> String {
        self.inner.lock().unwrap().public_key.display().to_string()
    }

    /// Keeps a recording Vonage made, to be fetched at `/v1/files/{uuid}`.
    pub fn keep_recording(&self, uuid: &str, audio: &[u8]) {
        self.keep_recording_of(APPLICATION_ID, uuid, audio);
    }

    /// Keeps a recording `application` made, which only it may fetch.
    pub fn keep_recording_of(&self, application: &str, uuid: &str, audio: &[u8]) {
        let mut inner = self.inner.lock().unwrap();
        let kept = (application.to_owned(), audio.to_vec());
        inner.files.insert(uuid.to_owned(), kept);
    }

    pub fn received(&self) -> Vec<Received> {
        self.inner.lock().unwrap().received.clone()
    }

    /// The requests matching `method` and `path`, waiting (up to 20 s) for at least `n`.
    pub async fn wait_for(&self, method: &str, path: &str, n: usize) -> Vec<Received> {
        for _ in 0..200 {
            let matching: Vec<Received> = self
                .received()
                .into_iter()
                .filter(|r| r.method == method && r.path == path)
                .collect();
            if matching.len() >= n {
                return matching;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "Vonage got fewer than {n} {method} {path}: {:?}",
            self.received()
        );
    }

    /// The call created for `number` (without `+`) and its uuid.
    pub async fn placed(&self, number: &str) -> (String, Received) {
        for _ in 0..200 {
            let found = self
                .received()
                .into_iter()
                .find(|r| r.method == "POST" && r.body["to"][0]["number"] == number);
            if let Some(request) = found {
                let uuid = request.body["__uuid"].as_str().unwrap().to_owned();
                return (uuid, request);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "Vonage was never asked to call {number}: {:?}",
            self.received()
        );
    }

    /// The legs asked for to endpoints of `kind` (`app`, `websocket`), as asked; waits until
    /// there are `n`.
    pub async fn legs(&self, kind: &str, n: usize) -> Vec<Received> {
        for _ in 0..200 {
            let legs: Vec<Received> = self
                .received()
                .into_iter()
                .filter(|r| r.method == "POST" && r.body["to"][0]["type"] == kind)
                .collect();
            if legs.len() >= n {
                return legs;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "Vonage was never asked for {n} {kind} legs: {:?}",
            self.received()
        );
    }

    /// Sends `body` to `url` (under [`PUBLIC_BASE_URL`]) at the edge, signed by PyJWT with
    /// `secret`, `iat` seconds since the epoch (now when absent).
    pub async fn send(
        &self,
        http: &reqwest::Client,
        edge: &str,
        url: &str,
        body: &Value,
        secret: &str,
        iat: Option<i64>,
    ) -> reqwest::Response {
        let text = body.to_string();
        let token = signed(secret, &text, iat).await;
        let path = url.strip_prefix(PUBLIC_BASE_URL).unwrap();
        http.post(format!("http://{edge}{path}"))
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {token}"))
            .body(text)
            .send()
            .await
            .unwrap()
    }
}

impl FakeVonage {
    /// Sends an SMS API webhook (an inbound text, a delivery receipt) to `url` at the edge,
    /// its parameters signed by Vonage's own SDK (`sig`, with a `timestamp`): as a form POST, or
    /// in the query of a GET (the account's choice).
    pub async fn send_sms_webhook(
        &self,
        http: &reqwest::Client,
        edge: &str,
        url: &str,
        params: &[(&str, &str)],
        get: bool,
    ) -> reqwest::Response {
        let signed = sms_signed(SIGNATURE_SECRET, params).await;
        self.send_sms_params(http, edge, url, &signed, get).await
    }

    /// [`Self::send_sms_webhook`] as another account signs it, with `secret`.
    pub async fn send_sms_webhook_signed_with(
        &self,
        http: &reqwest::Client,
        edge: &str,
        url: &str,
        params: &[(&str, &str)],
        secret: &str,
    ) -> reqwest::Response {
        let signed = sms_signed(secret, params).await;
        self.send_sms_params(http, edge, url, &signed, false).await
    }

    /// Sends parameters as they are (a forged or altered webhook).
    pub async fn send_sms_params(
        &self,
        http: &reqwest::Client,
        edge: &str,
        url: &str,
        params: &[(String, String)],
        get: bool,
    ) -> reqwest::Response {
        let path = url.strip_prefix(PUBLIC_BASE_URL).unwrap();
        let encoded = serde_urlencoded::to_string(params).unwrap();
        let request = if get {
            http.get(format!("http://{edge}{path}?{encoded}"))
        } else {
            http.post(format!("http://{edge}{path}"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(encoded)
        };
        request.send().await.unwrap()
    }
}

/// `params` with the `timestamp` and `sig` Vonage's Python SDK signs them with.
pub async fn sms_signed(secret: &str, params: &[(&str, &str)]) -> Vec<(String, String)> {
    let object: serde_json::Map<String, Value> = params
        .iter()
        .map(|(k, v)| ((*k).to_owned(), Value::String((*v).to_owned())))
        .collect();
    let (secret, object) = (secret.to_owned(), Value::Object(object).to_string());
    let signed = tokio::task::spawn_blocking(move || {
        crate::support::python(
            "vonage_sms_sign.py",
            &[&secret, SMS_SIGNATURE_METHOD, &object],
        )
    })
    .await
    .unwrap();
    let signed: serde_json::Map<String, Value> = serde_json::from_str(&signed).unwrap();
    signed
        .into_iter()
        .map(|(k, v)| match v {
            Value::String(text) => (k, text),
            other => (k, other.to_string()),
        })
        .collect()
}

/// The SMS API (<https://developer.vonage.com/en/api/sms>): a form with the account's
/// `api_key` and `api_secret`, `from`, `to` and `text`; 200 whatever happened, each part's
/// `status` saying (`0` taken, `2` a parameter missing, `4` bad credentials).
async fn send_sms(
    State(inner): State<Arc<Mutex<Inner>>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let is_form = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let form: Vec<(String, String)> = if is_form {
        serde_urlencoded::from_bytes(&body).unwrap_or_default()
    } else {
        Vec::new()
    };
    let value = |key: &str| {
        form.iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let refused = |status: &str, text: &str| {
        axum::Json(
            json!({ "message-count": "1", "messages": [{ "status": status, "error-text": text }] }),
        )
        .into_response()
    };
    let account = (value("api_key"), value("api_secret"));
    let known = account == (API_KEY.to_owned(), API_SECRET.to_owned())
        || inner.lock().unwrap().accounts.contains(&account);
    if !known {
        return refused("4", "Bad Credentials");
    }
    for required in ["from", "to", "text"] {
        if value(required).is_empty() {
            return refused("2", &format!("Missing {required} param"));
        }
    }
    let mut inner = inner.lock().unwrap();
    let id = format!("1A{:014X}", inner.received.len() + 1);
    inner.received.push(Received {
        method: "POST".into(),
        path: "/sms/json".into(),
        body: Value::Object(
            form.iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect(),
        ),
        claims: Value::Null,
    });
    axum::Json(json!({
        "message-count": "1",
        "messages": [{
            "to": value("to"),
            "message-id": id,
            "status": "0",
            "remaining-balance": "3.14159265",
            "message-price": "0.03330000",
            "network": "12345",
            "client-ref": value("client-ref"),
        }],
    }))
    .into_response()
}

/// PyJWT's signature of `body`, as Vonage makes it.
pub async fn signed(secret: &str, body: &str, iat: Option<i64>) -> String {
    signed_for(secret, API_KEY, APPLICATION_ID, body, iat).await
}

/// A callback's signature as `application`'s account signs it.
pub async fn signed_by(application: &Application, body: &str) -> String {
    let (secret, key, id) = (
        &application.signature_secret,
        &application.api_key,
        &application.id,
    );
    signed_for(secret, key, id, body, None).await
}

async fn signed_for(
    secret: &str,
    api_key: &str,
    application_id: &str,
    body: &str,
    iat: Option<i64>,
) -> String {
    let (secret, body) = (secret.to_owned(), body.to_owned());
    let (api_key, application_id) = (api_key.to_owned(), application_id.to_owned());
    tokio::task::spawn_blocking(move || {
        let iat = iat.map(|t| t.to_string());
        let mut args = vec![
            secret.as_str(),
            api_key.as_str(),
            application_id.as_str(),
            body.as_str(),
        ];
        if let Some(iat) = &iat {
            args.push(iat);
        }
        crate::support::python("vonage_sign.py", &args)
    })
    .await
    .unwrap()
}

fn problem(status: StatusCode, title: &str, detail: &str) -> Response {
    let body = json!({ "type": "https://developer.vonage.com/api-errors", "title": title, "detail": detail });
    (status, axum::Json(body)).into_response()
}

/// The request's application JWT, verified by PyJWT with the application's public key.
async fn verified(inner: &Arc<Mutex<Inner>>, headers: &HeaderMap) -> Result<Value, Response> {
    let unauthorized = || problem(StatusCode::UNAUTHORIZED, "Unauthorized", "Invalid Token");
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(unauthorized)?
        .to_owned();
    // The fleet's application, then any other account's: the token names its application,
    // whose key must verify it.
    let applications: Vec<(String, String)> = {
        let inner = inner.lock().unwrap();
        let fleets = (APPLICATION_ID.to_owned(), inner.public_key.clone());
        std::iter::once(fleets)
            .chain(inner.applications.iter().cloned())
            .map(|(id, key)| (id, key.display().to_string()))
            .collect()
    };
    for (application_id, key) in applications {
        let token = token.clone();
        let checked = tokio::task::spawn_blocking(move || {
            let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
            let python = std::env::var("TEST_PYTHON")
                .unwrap_or_else(|_| root.join(".venv/bin/python").display().to_string());
            std::process::Command::new(python)
                .arg(root.join("integration-tests/python/vonage_verify.py"))
                .args([&key, &token])
                .output()
                .unwrap()
        })
        .await
        .unwrap();
        if !checked.status.success() {
            continue;
        }
        let verified: Value = serde_json::from_slice(&checked.stdout).unwrap();
        if verified["header"]["alg"] == "RS256"
            && verified["claims"]["application_id"] == application_id.as_str()
        {
            return Ok(verified["claims"].clone());
        }
    }
    Err(unauthorized())
}

fn is_vonage_number(value: &Value) -> bool {
    value.as_str().is_some_and(|n| {
        (7..=15).contains(&n.len()) && !n.starts_with('0') && n.bytes().all(|b| b.is_ascii_digit())
    })
}

async fn create_call(
    State(inner): State<Arc<Mutex<Inner>>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let claims = match verified(&inner, &headers).await {
        Ok(claims) => claims,
        Err(refusal) => return refusal,
    };
    let Ok(mut call) = serde_json::from_str::<Value>(&body) else {
        return problem(
            StatusCode::BAD_REQUEST,
            "Bad Request",
            "The request body is not JSON",
        );
    };
    let to = &call["to"][0];
    let from_ok = call["random_from_number"] == true
        || (call["from"]["type"] == "phone" && is_vonage_number(&call["from"]["number"]));
    let one_url = |key: &str| {
        call[key]
            .as_array()
            .is_some_and(|urls| urls.len() == 1 && urls[0].is_string())
    };
    // Exactly one of an answer URL and an inline NCCO (an array of actions).
    let ncco_ok = call["ncco"].as_array().is_some_and(|actions| {
        !actions.is_empty() && actions.iter().all(|a| a["action"].is_string())
    });
    let urls_ok = one_url("event_url") && (one_url("answer_url") != ncco_ok);
    // Advanced machine detection, as the Voice API reference bounds it.
    let amd = &call["advanced_machine_detection"];
    let amd_ok = amd.is_null()
        || (["continue", "hangup"].contains(&amd["behavior"].as_str().unwrap_or_default())
            && ["default", "detect", "detect_beep"]
                .contains(&amd["mode"].as_str().unwrap_or_default())
            && amd["beep_timeout"]
                .as_i64()
                .is_none_or(|t| (45..=120).contains(&t)));
    // The endpoint types the reference names for `to`: a number, an app user (a Client SDK
    // softphone), or a WebSocket taking 16-bit linear PCM.
    let to_ok = match to["type"].as_str() {
        Some("phone") => is_vonage_number(&to["number"]),
        Some("app") => to["user"].as_str().is_some_and(|u| !u.is_empty()),
        Some("websocket") => {
            to["uri"]
                .as_str()
                .is_some_and(|u| u.starts_with("wss://") || u.starts_with("ws://"))
                && ["audio/l16;rate=16000", "audio/l16;rate=8000"]
                    .contains(&to["content-type"].as_str().unwrap_or_default())
                && (to["headers"].is_null() || to["headers"].is_object())
        }
        _ => false,
    };
    if !to_ok || !from_ok || !urls_ok || !amd_ok {
        return problem(
            StatusCode::BAD_REQUEST,
            "Bad Request",
            &format!("invalid call: {body}"),
        );
    }
    let uuid = uuid::Uuid::new_v4().to_string();
    call["__uuid"] = json!(uuid);
    inner.lock().unwrap().received.push(Received {
        method: "POST".into(),
        path: "/v1/calls".into(),
        body: call,
        claims,
    });
    let created = json!({
        "uuid": uuid, "status": "started", "direction": "outbound",
        "conversation_uuid": format!("CON-{}", uuid::Uuid::new_v4()),
    });
    (StatusCode::CREATED, axum::Json(created)).into_response()
}

async fn update_call(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path(uuid): Path<String>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let claims = match verified(&inner, &headers).await {
        Ok(claims) => claims,
        Err(refusal) => return refusal,
    };
    let Ok(action) = serde_json::from_str::<Value>(&body) else {
        return problem(
            StatusCode::BAD_REQUEST,
            "Bad Request",
            "The request body is not JSON",
        );
    };
    let known = [
        "hangup",
        "mute",
        "unmute",
        "earmuff",
        "unearmuff",
        "transfer",
    ];
    if !action["action"]
        .as_str()
        .is_some_and(|a| known.contains(&a))
    {
        return problem(StatusCode::BAD_REQUEST, "Bad Request", "unknown action");
    }
    // A transfer's destination is an NCCO: at a URL (an array of one) or inline (actions).
    let destination = &action["destination"];
    let to_ncco = destination["type"] == "ncco"
        && (destination["url"]
            .as_array()
            .is_some_and(|urls| urls.len() == 1 && urls[0].is_string())
            != destination["ncco"].as_array().is_some_and(|actions| {
                !actions.is_empty() && actions.iter().all(|a| a["action"].is_string())
            }));
    if action["action"] == "transfer" && !to_ncco {
        return problem(
            StatusCode::BAD_REQUEST,
            "Bad Request",
            &format!("invalid transfer destination: {destination}"),
        );
    }
    inner.lock().unwrap().received.push(Received {
        method: "PUT".into(),
        path: format!("/v1/calls/{uuid}"),
        body: action,
        claims,
    });
    StatusCode::NO_CONTENT.into_response()
}

async fn list_calls(State(inner): State<Arc<Mutex<Inner>>>, headers: HeaderMap) -> Response {
    if let Err(refusal) = verified(&inner, &headers).await {
        return refusal;
    }
    let page =
        json!({ "count": 0, "page_size": 1, "record_index": 0, "_embedded": { "calls": [] } });
    axum::Json(page).into_response()
}

async fn fetch_call(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path(uuid): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(refusal) = verified(&inner, &headers).await {
        return refusal;
    }
    axum::Json(json!({ "uuid": uuid, "status": "started" })).into_response()
}

/// The Users API (<https://developer.vonage.com/en/api/application.v2#createUser>): a name is
/// unique in the application; taken, it is 409 `user:error:duplicate-name`.
async fn create_user(
    State(inner): State<Arc<Mutex<Inner>>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let claims = match verified(&inner, &headers).await {
        Ok(claims) => claims,
        Err(refusal) => return refusal,
    };
    let Some(user) = serde_json::from_str::<Value>(&body)
        .ok()
        .filter(|user| user["name"].as_str().is_some_and(|n| !n.is_empty()))
    else {
        return problem(StatusCode::BAD_REQUEST, "Bad Request", "name is required");
    };
    let mut inner = inner.lock().unwrap();
    let taken = inner
        .received
        .iter()
        .any(|r| r.path == "/v1/users" && r.body["name"] == user["name"]);
    inner.received.push(Received {
        method: "POST".into(),
        path: "/v1/users".into(),
        body: user.clone(),
        claims,
    });
    if taken {
        let conflict = json!({
            "title": "Conflict", "code": "user:error:duplicate-name",
            "type": "https://developer.vonage.com/api-errors/conversation#user:error:duplicate-name",
            "detail": "User name already exists.",
        });
        return (StatusCode::CONFLICT, axum::Json(conflict)).into_response();
    }
    let created = json!({
        "id": format!("USR-{}", uuid::Uuid::new_v4()),
        "name": user["name"], "display_name": user["display_name"],
    });
    (StatusCode::CREATED, axum::Json(created)).into_response()
}

/// A recording's audio, for an application JWT (as its `recording_url` is fetched).
async fn fetch_file(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path(uuid): Path<String>,
    headers: HeaderMap,
) -> Response {
    let claims = match verified(&inner, &headers).await {
        Ok(claims) => claims,
        Err(refusal) => return refusal,
    };
    match inner.lock().unwrap().files.get(&uuid) {
        Some((made_by, audio)) if claims["application_id"] == made_by.as_str() => {
            ([("content-type", "audio/mpeg")], audio.clone()).into_response()
        }
        Some(_) => problem(
            StatusCode::FORBIDDEN,
            "Forbidden",
            "another application's file",
        ),
        None => problem(StatusCode::NOT_FOUND, "Not Found", "no such file"),
    }
}
