//! A Twilio of our own on loopback, written from Twilio's documentation of the Call resource
//! (<https://www.twilio.com/docs/voice/api/call-resource>) and of its webhooks
//! (<https://www.twilio.com/docs/usage/webhooks/voice-webhooks>), not from our client: it
//! insists on HTTP Basic with the account SID and auth token and on form bodies, answers in
//! Twilio's JSON (errors as `{code, message, more_info, status}`), and sends status callbacks
//! signed by twilio-python's own `RequestValidator`. A call's recordings follow the Recording
//! resource (<https://www.twilio.com/docs/voice/api/recording>): started on a call in progress,
//! paused, resumed and stopped through `Twilio.CURRENT`, deleted by SID. Conferences follow the
//! Conference and Participant resources
//! (<https://www.twilio.com/docs/voice/api/conference-participant-resource>): a participant is
//! added by the conference's friendly name (creating it), listed by name, updated by SIDs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine as _;
use serde_json::{Value, json};

pub const ACCOUNT_SID: &str = "AC0123456789abcdef0123456789abcdef";
pub const AUTH_TOKEN: &str = "f00dbabe0123456789abcdef01234567";
pub const PHONE_NUMBER: &str = "+14155550111";
/// A second account on the same Twilio: an organization's own.
pub const OWN_ACCOUNT_SID: &str = "ACfeedface0123456789abcdef01234567";
pub const OWN_AUTH_TOKEN: &str = "0ddba11feedface0123456789abcdef0";
/// The edge's address as Twilio knows it; the fake sends to the real one and signs this.
pub const PUBLIC_BASE_URL: &str = "https://comms.example.test";

/// A request Twilio received: its form, in order, repeated keys kept.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub form: Vec<(String, String)>,
    /// The SID of the call a create request made.
    pub sid: Option<String>,
    /// When it arrived.
    pub at: std::time::Instant,
}

impl Received {
    pub fn one(&self, key: &str) -> &str {
        let values = self.all(key);
        assert_eq!(values.len(), 1, "{key} in {:?}", self.form);
        values[0]
    }

    pub fn all(&self, key: &str) -> Vec<&str> {
        self.form
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

#[derive(Default)]
struct Inner {
    received: Vec<Received>,
    /// Each call's status as Twilio knows it, by SID.
    calls: HashMap<String, String>,
    /// Statuses to answer call updates with before serving them (a failing Twilio).
    failures: Vec<u16>,
    /// A `To` number Twilio refuses as invalid.
    refused_to: Option<String>,
    /// The account's auth token was rotated: ours is refused.
    rotated: bool,
    /// Twilio is down: creating a call answers 503.
    down: bool,
    /// Recordings' media by RecordingSid.
    recordings: HashMap<String, Vec<u8>>,
    /// Each call's current recording: its RecordingSid and status (in-progress, paused,
    /// stopped).
    current_recordings: HashMap<String, (String, String)>,
    /// How many recordings Twilio made: each gets its own SID.
    recordings_made: usize,
    /// Conferences by friendly name: their SID and participants (call SID → resource).
    conferences: HashMap<String, Conference>,
}

struct Conference {
    sid: String,
    participants: HashMap<String, Value>,
}

impl Inner {
    /// Keeps a request this Twilio received, for the test to read.
    fn receive(&mut self, path: String, form: Vec<(String, String)>) {
        self.received.push(Received {
            path,
            form,
            sid: None,
            at: std::time::Instant::now(),
        });
    }

    /// The failure the test set for the next update, if any (`fail_next_updates`).
    fn injected_failure(&mut self) -> Result<(), TwilioError> {
        if self.failures.is_empty() {
            return Ok(());
        }
        let status = self.failures.remove(0);
        Err(twilio_error(
            StatusCode::from_u16(status).unwrap(),
            20500,
            "Internal Server Error",
        ))
    }

    fn new_recording_sid(&mut self) -> String {
        self.recordings_made += 1;
        format!("RE{:032x}", self.recordings_made)
    }
}

#[derive(Clone)]
pub struct FakeTwilio {
    inner: Arc<Mutex<Inner>>,
    pub url: String,
    http: reqwest::Client,
}

impl FakeTwilio {
    pub async fn start() -> Self {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = Router::new()
            .route(
                "/2010-04-01/Accounts/{account}",
                axum::routing::get(fetch_account),
            )
            .route(
                "/2010-04-01/Accounts/{account}/Calls.json",
                post(create_call),
            )
            .route(
                "/2010-04-01/Accounts/{account}/Messages.json",
                post(create_message),
            )
            .route(
                "/2010-04-01/Accounts/{account}/Calls/{sid}",
                post(update_call).get(fetch_call),
            )
            .route(
                "/2010-04-01/Accounts/{account}/Calls/{sid}/Recordings.json",
                post(start_recording),
            )
            .route(
                "/2010-04-01/Accounts/{account}/Calls/{sid}/Streams.json",
                post(create_stream),
            )
            .route(
                "/2010-04-01/Accounts/{account}/Calls/{sid}/Recordings/{recording}",
                post(update_recording),
            )
            .route(
                "/2010-04-01/Accounts/{account}/Conferences.json",
                axum::routing::get(list_conferences),
            )
            .route(
                "/2010-04-01/Accounts/{account}/Conferences/{conference}/Participants.json",
                post(create_participant),
            )
            .route(
                "/2010-04-01/Accounts/{account}/Conferences/{conference}/Participants/{call}",
                post(update_participant),
            )
            .route(
                "/2010-04-01/Accounts/{account}/Recordings/{file}",
                axum::routing::get(fetch_recording).delete(delete_recording),
            )
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self {
            inner,
            url,
            http: comms_runtime::http::client(std::time::Duration::from_secs(120)),
        }
    }

    /// The environment that points a fleet at this Twilio.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("TELEPHONY_PROVIDER", "twilio".into()),
            ("TWILIO_ACCOUNT_SID", ACCOUNT_SID.into()),
            ("TWILIO_AUTH_TOKEN", AUTH_TOKEN.into()),
            ("TWILIO_PHONE_NUMBER", PHONE_NUMBER.into()),
            ("TWILIO_API_URL", self.url.clone()),
            ("PUBLIC_BASE_URL", PUBLIC_BASE_URL.into()),
        ]
    }

    pub fn fail_next_updates(&self, statuses: &[u16]) {
        self.inner.lock().unwrap().failures = statuses.to_vec();
    }

    /// Refuses the fleet's credentials from now on, as after the token was rotated.
    pub fn rotate_auth_token(&self) {
        self.inner.lock().unwrap().rotated = true;
    }

    /// A finished recording (of a call this test made up): its RecordingSid; its media is
    /// `audio`.
    pub fn record(&self, audio: &[u8]) -> String {
        let mut inner = self.inner.lock().unwrap();
        let sid = inner.new_recording_sid();
        inner.recordings.insert(sid.clone(), audio.to_vec());
        sid
    }

    /// The current recording of the call `call_sid` finished (the call ended, or it was
    /// stopped): its media is `audio`. Its RecordingSid.
    pub fn finish_recording(&self, call_sid: &str, audio: &[u8]) -> String {
        let mut inner = self.inner.lock().unwrap();
        let (sid, _) = inner
            .current_recordings
            .remove(call_sid)
            .expect("the call has a recording");
        inner.recordings.insert(sid.clone(), audio.to_vec());
        sid
    }

    /// The status of a call's current recording, as Twilio knows it.
    pub fn recording_status(&self, call_sid: &str) -> Option<String> {
        let inner = self.inner.lock().unwrap();
        inner
            .current_recordings
            .get(call_sid)
            .map(|(_, status)| status.clone())
    }

    /// Whether Twilio still keeps the recording's media.
    pub fn keeps(&self, recording_sid: &str) -> bool {
        self.inner
            .lock()
            .unwrap()
            .recordings
            .contains_key(recording_sid)
    }

    /// Every call creation answers 503 from now on, as in an outage.
    pub fn go_down(&self) {
        self.inner.lock().unwrap().down = true;
    }

    pub fn refuse_calls_to(&self, number: &str) {
        self.inner.lock().unwrap().refused_to = Some(number.into());
    }

    /// Moves a call along at Twilio without telling anyone (a lost callback).
    pub fn set_status(&self, sid: &str, status: &str) {
        self.inner
            .lock()
            .unwrap()
            .calls
            .insert(sid.into(), status.into());
    }

    /// A call coming in to one of the account's numbers: Twilio names it and will ask the
    /// number's voice URL what to do with it.
    pub fn incoming(&self) -> String {
        let mut inner = self.inner.lock().unwrap();
        let sid = format!("CA{:032x}", 0xffff_0000 + inner.calls.len() + 1);
        inner.calls.insert(sid.clone(), "ringing".into());
        sid
    }

    /// A voice webhook's parameters as Twilio documents them, for a call from `from` to `to`.
    pub fn voice_params<'a>(sid: &'a str, from: &'a str, to: &'a str) -> Vec<(&'a str, &'a str)> {
        vec![
            ("AccountSid", ACCOUNT_SID),
            ("ApiVersion", "2010-04-01"),
            ("CallSid", sid),
            ("CallStatus", "ringing"),
            ("Called", to),
            ("CalledCountry", "US"),
            ("Caller", from),
            ("CallerCountry", "US"),
            ("Direction", "inbound"),
            ("From", from),
            ("FromCity", "SAN FRANCISCO"),
            ("To", to),
        ]
    }

    /// The participants added to conferences, as asked (each with its call's SID); waits until
    /// there are `n`.
    pub async fn participants(&self, n: usize) -> Vec<Received> {
        for _ in 0..200 {
            let added: Vec<Received> = self
                .received()
                .into_iter()
                .filter(|r| r.path.ends_with("/Participants.json"))
                .collect();
            if added.len() >= n {
                return added;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("Twilio never got {n} participants: {:?}", self.received());
    }

    /// A conference participant as Twilio holds it now (`muted`, `coaching`,
    /// `call_sid_to_coach`), by its call's SID.
    pub fn participant(&self, call_sid: &str) -> Option<Value> {
        let inner = self.inner.lock().unwrap();
        inner
            .conferences
            .values()
            .find_map(|c| c.participants.get(call_sid).cloned())
    }

    pub fn received(&self) -> Vec<Received> {
        self.inner.lock().unwrap().received.clone()
    }

    /// The requests to `path_suffix` so far, waiting (up to 20 s) for at least `n`.
    pub async fn wait_for(&self, path_suffix: &str, n: usize) -> Vec<Received> {
        for _ in 0..200 {
            let matching: Vec<Received> = self
                .received()
                .into_iter()
                .filter(|r| r.path.ends_with(path_suffix))
                .collect();
            if matching.len() >= n {
                return matching;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "Twilio got fewer than {n} requests to …{path_suffix}: {:?}",
            self.received()
        );
    }

    /// The call a `POST …/Calls.json` created for `to`, and the request: waits for it.
    pub async fn placed(&self, to: &str) -> (String, Received) {
        for _ in 0..200 {
            let found = self
                .received()
                .into_iter()
                .find(|r| r.path.ends_with("/Calls.json") && r.one("To") == to);
            if let Some(request) = found {
                return (request.sid.clone().expect("a created call"), request);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("Twilio was never asked to call {to}: {:?}", self.received());
    }

    /// Sends a callback to `url` (one the fleet gave, under [`PUBLIC_BASE_URL`]) at the edge
    /// `edge` (host:port), signed as Twilio signs it, by twilio-python.
    pub async fn send(&self, edge: &str, url: &str, params: &[(&str, &str)]) -> reqwest::Response {
        self.send_as(AUTH_TOKEN, edge, url, params).await
    }

    /// [`Self::send`] for the account whose auth token is `token`.
    pub async fn send_as(
        &self,
        token: &str,
        edge: &str,
        url: &str,
        params: &[(&str, &str)],
    ) -> reqwest::Response {
        let signature = python_signature(token, url, params).await;
        self.send_signed(edge, url, params, &signature).await
    }

    /// Sends a callback with whatever signature the test chooses.
    pub async fn send_signed(
        &self,
        edge: &str,
        url: &str,
        params: &[(&str, &str)],
        signature: &str,
    ) -> reqwest::Response {
        let path = url.strip_prefix(PUBLIC_BASE_URL).unwrap_or_else(|| {
            // Any other origin: the path after it.
            let after_scheme = url.split_once("://").unwrap().1;
            &after_scheme[after_scheme.find('/').unwrap()..]
        });
        let mut request = self
            .http
            .post(format!("http://{edge}{path}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("user-agent", "TwilioProxy/1.1")
            .body(serde_urlencoded::to_string(params).unwrap());
        if !signature.is_empty() {
            request = request.header("x-twilio-signature", signature);
        }
        request.send().await.unwrap()
    }

    /// A status callback's parameters as Twilio documents them.
    pub fn status_params<'a>(
        placed: &'a Received,
        sid: &'a str,
        status: &'a str,
        sequence: &'a str,
    ) -> Vec<(&'a str, &'a str)> {
        vec![
            ("AccountSid", ACCOUNT_SID),
            ("ApiVersion", "2010-04-01"),
            ("CallSid", sid),
            ("CallStatus", status),
            ("CallbackSource", "call-progress-events"),
            ("Called", placed.one("To")),
            ("Caller", placed.one("From")),
            ("Direction", "outbound-api"),
            ("From", placed.one("From")),
            ("SequenceNumber", sequence),
            ("Timestamp", "Sun, 06 Dec 2026 05:00:00 +0000"),
            ("To", placed.one("To")),
        ]
    }
}

/// twilio-python's `RequestValidator.compute_signature`, run outside the test's runtime.
pub async fn python_signature(token: &str, url: &str, params: &[(&str, &str)]) -> String {
    let as_json = serde_json::to_string(
        &params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<std::collections::BTreeMap<_, _>>(),
    )
    .unwrap();
    let (token, url) = (token.to_owned(), url.to_owned());
    tokio::task::spawn_blocking(move || {
        crate::support::python("twilio_sign.py", &[&token, &url, &as_json])
    })
    .await
    .unwrap()
}

/// Twilio's error answer: `{code, message, more_info, status}`.
struct TwilioError {
    status: StatusCode,
    code: u32,
    message: String,
}

impl IntoResponse for TwilioError {
    fn into_response(self) -> Response {
        let code = self.code;
        let body = json!({
            "code": code,
            "message": self.message,
            "more_info": format!("https://www.twilio.com/docs/errors/{code}"),
            "status": self.status.as_u16(),
        });
        (self.status, axum::Json(body)).into_response()
    }
}

fn twilio_error(status: StatusCode, code: u32, message: &str) -> TwilioError {
    TwilioError {
        status,
        code,
        message: message.into(),
    }
}

/// HTTP Basic with the account SID of the path and its auth token, or Twilio's 20003.
fn authenticated(headers: &HeaderMap, account: &str) -> Result<(), TwilioError> {
    let token = match account {
        ACCOUNT_SID => AUTH_TOKEN,
        OWN_ACCOUNT_SID => OWN_AUTH_TOKEN,
        _ => "",
    };
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{account}:{token}"))
    );
    let given = headers.get("authorization").and_then(|v| v.to_str().ok());
    if token.is_empty() || given != Some(expected.as_str()) {
        return Err(twilio_error(
            StatusCode::UNAUTHORIZED,
            20003,
            "Authenticate",
        ));
    }
    Ok(())
}

fn form_of(headers: &HeaderMap, body: &Bytes) -> Result<Vec<(String, String)>, TwilioError> {
    let is_form = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(twilio_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            20415,
            "Unsupported Media Type",
        ));
    }
    serde_urlencoded::from_bytes(body)
        .map_err(|_| twilio_error(StatusCode::BAD_REQUEST, 20001, "Invalid form body"))
}

fn call_resource(sid: &str, status: &str) -> Value {
    json!({
        "sid": sid,
        "account_sid": ACCOUNT_SID,
        "status": status,
        "api_version": "2010-04-01",
        "uri": format!("/2010-04-01/Accounts/{ACCOUNT_SID}/Calls/{sid}.json"),
    })
}

async fn create_call(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path(account): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, TwilioError> {
    authenticated(&headers, &account)?;
    let form = form_of(&headers, &body)?;
    let has = |key: &str| form.iter().any(|(k, v)| k == key && !v.is_empty());
    if !has("To") || !has("From") || !(has("Url") || has("Twiml") || has("ApplicationSid")) {
        return Err(twilio_error(
            StatusCode::BAD_REQUEST,
            21205,
            "A 'To', a 'From' and one of 'Url', 'Twiml' or 'ApplicationSid' are required.",
        ));
    }
    let mut received = Received {
        path: format!("/2010-04-01/Accounts/{account}/Calls.json"),
        form,
        sid: None,
        at: std::time::Instant::now(),
    };
    let mut inner = inner.lock().unwrap();
    if inner.down {
        inner.received.push(received);
        return Err(twilio_error(
            StatusCode::SERVICE_UNAVAILABLE,
            20503,
            "Service Unavailable",
        ));
    }
    let to = received.one("To").to_owned();
    if inner.refused_to.as_deref() == Some(to.as_str()) {
        inner.received.push(received);
        return Err(twilio_error(
            StatusCode::BAD_REQUEST,
            21211,
            &format!("The 'To' number {to} is not a valid phone number."),
        ));
    }
    let sid = format!("CA{:032x}", inner.received.len() + 1);
    // Record=true: Twilio records the call from its answer.
    if received.all("Record") == ["true"] {
        let recording = inner.new_recording_sid();
        inner
            .current_recordings
            .insert(sid.clone(), (recording, "in-progress".into()));
    }
    received.sid = Some(sid.clone());
    inner.received.push(received);
    inner.calls.insert(sid.clone(), "queued".into());
    let created = axum::Json(call_resource(&sid, "queued"));
    Ok((StatusCode::CREATED, created).into_response())
}

/// `POST …/Messages.json` (<https://www.twilio.com/docs/messaging/api/message-resource>): `To`,
/// one of `From`/`MessagingServiceSid`, one of `Body`/`MediaUrl`/`ContentSid`; the message
/// resource, `queued`, in answer.
async fn create_message(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path(account): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, TwilioError> {
    authenticated(&headers, &account)?;
    let form = form_of(&headers, &body)?;
    let has = |key: &str| form.iter().any(|(k, v)| k == key && !v.is_empty());
    if !has("To") {
        return Err(twilio_error(
            StatusCode::BAD_REQUEST,
            21604,
            "A 'To' phone number is required.",
        ));
    }
    if !has("From") && !has("MessagingServiceSid") {
        return Err(twilio_error(
            StatusCode::BAD_REQUEST,
            21603,
            "A 'From' phone number is required.",
        ));
    }
    if !has("Body") && !has("MediaUrl") && !has("ContentSid") {
        return Err(twilio_error(
            StatusCode::BAD_REQUEST,
            21602,
            "Message body is required.",
        ));
    }
    let path = format!("/2010-04-01/Accounts/{account}/Messages.json");
    let mut inner = inner.lock().unwrap();
    let mut received = Received {
        path,
        form,
        sid: None,
        at: std::time::Instant::now(),
    };
    if inner.down {
        inner.received.push(received);
        return Err(twilio_error(
            StatusCode::SERVICE_UNAVAILABLE,
            20503,
            "Service Unavailable",
        ));
    }
    let to = received.one("To").to_owned();
    if inner.refused_to.as_deref() == Some(to.as_str()) {
        inner.received.push(received);
        return Err(twilio_error(
            StatusCode::BAD_REQUEST,
            21211,
            &format!("Invalid 'To' Phone Number: {to}"),
        ));
    }
    let sid = format!("SM{:032x}", inner.received.len() + 1);
    let message = json!({
        "sid": sid,
        "account_sid": account,
        "from": received.one("From"),
        "to": to,
        "body": received.one("Body"),
        "status": "queued",
        "direction": "outbound-api",
        "num_segments": "0",
        "api_version": "2010-04-01",
        "uri": format!("/2010-04-01/Accounts/{account}/Messages/{sid}.json"),
    });
    received.sid = Some(sid);
    inner.received.push(received);
    Ok((StatusCode::CREATED, axum::Json(message)).into_response())
}

/// `Url=` or `Twiml=` redirects a live call to new instructions; `Status=canceled` ends a queued
/// or ringing call and leaves one in progress alone; `Status=completed` ends any call.
async fn update_call(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path((account, resource)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, TwilioError> {
    authenticated(&headers, &account)?;
    let form = form_of(&headers, &body)?;
    let mut inner = inner.lock().unwrap();
    inner.receive(
        format!("/2010-04-01/Accounts/{account}/Calls/{resource}"),
        form.clone(),
    );
    inner.injected_failure()?;
    let sid = resource.trim_end_matches(".json").to_owned();
    let Some(current) = inner.calls.get(&sid).cloned() else {
        return Err(twilio_error(
            StatusCode::NOT_FOUND,
            20404,
            &format!(
                "The requested resource /2010-04-01/Accounts/{account}/Calls/{resource} was not found"
            ),
        ));
    };
    let field = |key: &str| {
        form.iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.to_owned())
    };
    // A redirect: new instructions for a live call, at a URL or given (at most 4000 characters).
    if field("Twiml").is_some_and(|twiml| twiml.chars().count() > 4000) {
        return Err(twilio_error(
            StatusCode::BAD_REQUEST,
            21230,
            "Twiml is longer than 4000 characters",
        ));
    }
    if field("Url").is_some() || field("Twiml").is_some() {
        return match current.as_str() {
            "queued" | "ringing" | "in-progress" => {
                Ok(axum::Json(call_resource(&sid, &current)).into_response())
            }
            _ => Err(twilio_error(
                StatusCode::BAD_REQUEST,
                21220,
                "Call is not in-progress. Cannot redirect.",
            )),
        };
    }
    let asked = field("Status");
    let asked = asked.as_deref();
    let now = match (asked, current.as_str()) {
        (Some("canceled"), "queued" | "ringing") => "canceled",
        (Some("canceled"), other) => other,
        (Some("completed"), "queued" | "ringing" | "in-progress") => "completed",
        (Some("completed"), other) => other,
        _ => {
            return Err(twilio_error(
                StatusCode::BAD_REQUEST,
                21220,
                "Invalid call state for update",
            ));
        }
    }
    .to_owned();
    inner.calls.insert(sid.clone(), now.clone());
    Ok(axum::Json(call_resource(&sid, &now)).into_response())
}

async fn fetch_account(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path(resource): Path<String>,
    headers: HeaderMap,
) -> Result<Response, TwilioError> {
    let account = resource.trim_end_matches(".json");
    authenticated(&headers, account)?;
    if inner.lock().unwrap().rotated {
        return Err(twilio_error(
            StatusCode::UNAUTHORIZED,
            20003,
            "Authenticate",
        ));
    }
    let body = json!({ "sid": account, "status": "active", "type": "Full" });
    Ok(axum::Json(body).into_response())
}

async fn fetch_call(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path((account, resource)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, TwilioError> {
    authenticated(&headers, &account)?;
    let sid = resource.trim_end_matches(".json");
    match inner.lock().unwrap().calls.get(sid) {
        Some(status) => Ok(axum::Json(call_resource(sid, status)).into_response()),
        None => Err(twilio_error(
            StatusCode::NOT_FOUND,
            20404,
            "The requested resource was not found",
        )),
    }
}

fn recording_resource(call_sid: &str, sid: &str, status: &str) -> Value {
    json!({
        "sid": sid,
        "account_sid": ACCOUNT_SID,
        "call_sid": call_sid,
        "status": status,
        "channels": 2,
        "source": "StartCallRecordingAPI",
        "api_version": "2010-04-01",
        "uri": format!("/2010-04-01/Accounts/{ACCOUNT_SID}/Calls/{call_sid}/Recordings/{sid}.json"),
    })
}

/// A recording of a call in progress, from now; one at a time here (Twilio allows more, the
/// fleet asks for one).
async fn start_recording(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path((account, call_sid)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, TwilioError> {
    authenticated(&headers, &account)?;
    let form = form_of(&headers, &body)?;
    let mut inner = inner.lock().unwrap();
    inner.receive(
        format!("/2010-04-01/Accounts/{account}/Calls/{call_sid}/Recordings.json"),
        form,
    );
    in_progress(&inner, &call_sid)?;
    let sid = inner.new_recording_sid();
    inner
        .current_recordings
        .insert(call_sid.clone(), (sid.clone(), "in-progress".into()));
    let created = axum::Json(recording_resource(&call_sid, &sid, "in-progress"));
    Ok((StatusCode::CREATED, created).into_response())
}

/// Twilio records and streams only calls in progress.
fn in_progress(inner: &Inner, call_sid: &str) -> Result<(), TwilioError> {
    match inner.calls.get(call_sid).map(String::as_str) {
        Some("in-progress") => Ok(()),
        _ => Err(twilio_error(
            StatusCode::BAD_REQUEST,
            21220,
            "Requested resource is only available for in-progress calls.",
        )),
    }
}

/// A media stream of an in-progress call
/// (<https://www.twilio.com/docs/voice/api/stream-resource#create-a-stream-resource>): `Url`, a
/// `wss://` URL without a query string, is required; `Track` is `inbound_track` (the default),
/// `outbound_track` or `both_tracks`; custom parameters come as `ParameterN.Name`/`.Value`.
async fn create_stream(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path((account, call_sid)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, TwilioError> {
    authenticated(&headers, &account)?;
    let form = form_of(&headers, &body)?;
    let value = |key: &str| form.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
    let mut inner = inner.lock().unwrap();
    inner.receive(
        format!("/2010-04-01/Accounts/{account}/Calls/{call_sid}/Streams.json"),
        form.clone(),
    );
    in_progress(&inner, &call_sid)?;
    let url = value("Url").unwrap_or_default();
    if !url.starts_with("wss://") || url.contains('?') {
        return Err(twilio_error(
            StatusCode::BAD_REQUEST,
            21205,
            "Url must be a wss:// URL without a query string.",
        ));
    }
    let track = value("Track").unwrap_or_else(|| "inbound_track".into());
    if !["inbound_track", "outbound_track", "both_tracks"].contains(&track.as_str()) {
        return Err(twilio_error(
            StatusCode::BAD_REQUEST,
            21205,
            "Track is not valid.",
        ));
    }
    let created = axum::Json(serde_json::json!({
        "sid": "MZ00000000000000000000000000000001", "account_sid": account, "call_sid": call_sid,
        "name": value("Name"), "status": "in-progress", "date_updated": "Mon, 07 Dec 2026 07:00:00 +0000",
        "uri": format!("/2010-04-01/Accounts/{account}/Calls/{call_sid}/Streams/MZ00000000000000000000000000000001.json"),
    }));
    Ok((StatusCode::CREATED, created).into_response())
}

/// `Status=paused|in-progress|stopped` of the call's recording, by SID or `Twilio.CURRENT`.
async fn update_recording(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path((account, call_sid, resource)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, TwilioError> {
    authenticated(&headers, &account)?;
    let form = form_of(&headers, &body)?;
    let mut inner = inner.lock().unwrap();
    inner.receive(
        format!("/2010-04-01/Accounts/{account}/Calls/{call_sid}/Recordings/{resource}"),
        form.clone(),
    );
    inner.injected_failure()?;
    let asked = resource.trim_end_matches(".json");
    let current = inner.current_recordings.get(&call_sid).cloned();
    let Some((sid, _)) = current.filter(|(sid, _)| asked == "Twilio.CURRENT" || asked == sid)
    else {
        return Err(twilio_error(
            StatusCode::NOT_FOUND,
            20404,
            "The requested resource was not found",
        ));
    };
    let status = form
        .iter()
        .find(|(k, _)| k == "Status")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    if !["paused", "in-progress", "stopped"].contains(&status.as_str()) {
        return Err(twilio_error(
            StatusCode::BAD_REQUEST,
            21218,
            "Invalid 'Status' (paused, in-progress or stopped)",
        ));
    }
    inner
        .current_recordings
        .insert(call_sid.clone(), (sid.clone(), status.clone()));
    Ok(axum::Json(recording_resource(&call_sid, &sid, &status)).into_response())
}

/// Deleting a recording: 204, then 404 for it.
async fn delete_recording(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path((account, file)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, TwilioError> {
    authenticated(&headers, &account)?;
    let mut inner = inner.lock().unwrap();
    inner.receive(
        format!("/2010-04-01/Accounts/{account}/Recordings/{file}"),
        vec![],
    );
    let sid = file.trim_end_matches(".json");
    match inner.recordings.remove(sid) {
        Some(_) => Ok(StatusCode::NO_CONTENT.into_response()),
        None => Err(twilio_error(
            StatusCode::NOT_FOUND,
            20404,
            "The requested resource was not found",
        )),
    }
}

async fn fetch_recording(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path((account, file)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, TwilioError> {
    authenticated(&headers, &account)?;
    inner.lock().unwrap().receive(
        format!("/2010-04-01/Accounts/{account}/Recordings/{file}"),
        vec![],
    );
    let not_found = || {
        twilio_error(
            StatusCode::NOT_FOUND,
            20404,
            "The requested resource was not found",
        )
    };
    let sid = file.strip_suffix(".wav").ok_or_else(not_found)?;
    let audio = inner
        .lock()
        .unwrap()
        .recordings
        .get(sid)
        .cloned()
        .ok_or_else(not_found)?;
    Ok(([(axum::http::header::CONTENT_TYPE, "audio/x-wav")], audio).into_response())
}

/// A participant's booleans are `true` or `false`; `Beep` may also be `onEnter` or `onExit`;
/// `Coaching=true` needs the `CallSidToCoach` of a participant of the same conference.
fn check_participant(
    form: &[(String, String)],
    conference: Option<&Conference>,
) -> Result<(), TwilioError> {
    let field = |key: &str| form.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
    let invalid = |what: String| Err(twilio_error(StatusCode::BAD_REQUEST, 21205, &what));
    for flag in [
        "Muted",
        "Coaching",
        "EndConferenceOnExit",
        "StartConferenceOnEnter",
        "Hold",
    ] {
        if field(flag).is_some_and(|v| v != "true" && v != "false") {
            return invalid(format!("{flag} must be true or false"));
        }
    }
    if field("Beep").is_some_and(|v| !["true", "false", "onEnter", "onExit"].contains(&v)) {
        return invalid("Beep must be true, false, onEnter or onExit".into());
    }
    for event in form.iter().filter(|(k, _)| k == "StatusCallbackEvent") {
        if !["initiated", "ringing", "answered", "completed"].contains(&event.1.as_str()) {
            return invalid(format!("{} is not a participant status event", event.1));
        }
    }
    let coached = field("CallSidToCoach");
    if field("Coaching") == Some("true") {
        let known =
            coached.is_some_and(|sid| conference.is_some_and(|c| c.participants.contains_key(sid)));
        if !known {
            return invalid("Coaching requires the CallSidToCoach of a participant".into());
        }
    }
    Ok(())
}

fn participant_resource(conference: &str, call_sid: &str, form: &[(String, String)]) -> Value {
    let flag = |key: &str, default: bool| {
        form.iter()
            .find(|(k, _)| k == key)
            .map_or(default, |(_, v)| v == "true")
    };
    let coach = form
        .iter()
        .find(|(k, _)| k == "CallSidToCoach")
        .map(|(_, v)| v.clone());
    json!({
        "account_sid": ACCOUNT_SID,
        "call_sid": call_sid,
        "conference_sid": conference,
        "muted": flag("Muted", false),
        "hold": flag("Hold", false),
        "coaching": flag("Coaching", false),
        "call_sid_to_coach": coach,
        "end_conference_on_exit": flag("EndConferenceOnExit", false),
        "start_conference_on_enter": flag("StartConferenceOnEnter", true),
        "status": "queued",
    })
}

/// `POST …/Conferences/{name}/Participants.json`: `From` and `To` required (`To` a client, a
/// number or a SIP address; `From` a number or a client), the conference created by its
/// friendly name if there is none; the participant's call starts `queued`.
async fn create_participant(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path((account, name)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, TwilioError> {
    authenticated(&headers, &account)?;
    let form = form_of(&headers, &body)?;
    let mut inner = inner.lock().unwrap();
    inner.receive(
        format!("/2010-04-01/Accounts/{account}/Conferences/{name}/Participants.json"),
        form.clone(),
    );
    inner.injected_failure()?;
    let field = |key: &str| form.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
    let e164 = |n: &str| {
        n.strip_prefix('+')
            .is_some_and(|d| (8..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()))
    };
    let to_ok = field("To").is_some_and(|to| {
        to.strip_prefix("client:").is_some_and(|c| !c.is_empty())
            || to.starts_with("sip:")
            || e164(to)
    });
    let from_ok = field("From").is_some_and(|from| from.starts_with("client:") || e164(from));
    if !to_ok || !from_ok {
        return Err(twilio_error(
            StatusCode::BAD_REQUEST,
            21205,
            "A 'From' (a number or client) and a 'To' (a number, client or SIP address) are required.",
        ));
    }
    check_participant(&form, inner.conferences.get(&name))?;
    let conference = inner.conferences.entry(name).or_insert_with(|| Conference {
        sid: format!("CF{}", uuid::Uuid::new_v4().simple()),
        participants: HashMap::new(),
    });
    let call_sid = format!("CA{}", uuid::Uuid::new_v4().simple());
    let participant = participant_resource(&conference.sid, &call_sid, &form);
    conference
        .participants
        .insert(call_sid.clone(), participant.clone());
    inner.calls.insert(call_sid.clone(), "queued".into());
    if let Some(received) = inner.received.last_mut() {
        received.sid = Some(call_sid);
    }
    Ok((StatusCode::CREATED, axum::Json(participant)).into_response())
}

/// `GET …/Conferences.json?FriendlyName=&Status=`: the conferences of that name (every one
/// here is in progress).
async fn list_conferences(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path(account): Path<String>,
    headers: HeaderMap,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
) -> Result<Response, TwilioError> {
    authenticated(&headers, &account)?;
    let query: Vec<(String, String)> =
        serde_urlencoded::from_str(query.as_deref().unwrap_or_default()).unwrap_or_default();
    let wanted = |key: &str| {
        query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    let inner = inner.lock().unwrap();
    let conferences: Vec<Value> = inner
        .conferences
        .iter()
        .filter(|(name, _)| wanted("FriendlyName").is_none_or(|n| n == name.as_str()))
        .filter(|_| wanted("Status").is_none_or(|s| s == "in-progress"))
        .map(|(name, c)| json!({ "sid": c.sid, "friendly_name": name, "status": "in-progress" }))
        .collect();
    Ok(axum::Json(json!({ "conferences": conferences, "page": 0 })).into_response())
}

/// `POST …/Conferences/{ConferenceSid}/Participants/{CallSid}.json`: `Muted`, `Hold`,
/// `Coaching` and `CallSidToCoach` change; an unknown conference or participant is 404.
async fn update_participant(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path((account, conference, resource)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, TwilioError> {
    authenticated(&headers, &account)?;
    let form = form_of(&headers, &body)?;
    let mut inner = inner.lock().unwrap();
    inner.receive(
        format!("/2010-04-01/Accounts/{account}/Conferences/{conference}/Participants/{resource}"),
        form.clone(),
    );
    inner.injected_failure()?;
    let call_sid = resource.trim_end_matches(".json");
    let not_found = || {
        twilio_error(
            StatusCode::NOT_FOUND,
            20404,
            "The requested resource was not found",
        )
    };
    let found = inner
        .conferences
        .values()
        .find(|c| c.sid == conference && c.participants.contains_key(call_sid))
        .ok_or_else(not_found)?;
    check_participant(&form, Some(found))?;
    let mut merged: Vec<(String, String)> = vec![];
    let before = &found.participants[call_sid];
    for (key, field) in [
        ("Muted", "muted"),
        ("Hold", "hold"),
        ("Coaching", "coaching"),
        ("EndConferenceOnExit", "end_conference_on_exit"),
    ] {
        merged.push((
            key.into(),
            before[field].as_bool().unwrap_or(false).to_string(),
        ));
    }
    if let Some(coach) = before["call_sid_to_coach"].as_str() {
        merged.push(("CallSidToCoach".into(), coach.into()));
    }
    for (key, value) in &form {
        merged.retain(|(k, _)| k != key);
        merged.push((key.clone(), value.clone()));
    }
    let participant = participant_resource(&conference, call_sid, &merged);
    let found = inner
        .conferences
        .values_mut()
        .find(|c| c.sid == conference)
        .expect("found above");
    found
        .participants
        .insert(call_sid.to_owned(), participant.clone());
    Ok(axum::Json(participant).into_response())
}
