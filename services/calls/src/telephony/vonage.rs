//! Vonage's Voice API, spoken directly (no maintained Rust crate speaks it): JSON bodies,
//! authorised by a short-lived JWT the application's private key signs (RS256), numbers in
//! E.164 without the `+` (<https://developer.vonage.com/en/api/voice>).
//!
//! Dialing asks Vonage to call back at `PUBLIC_BASE_URL`: the answer URL for the call's NCCO and
//! the event URL for its progress. The edge verifies each callback's signature and hands it to
//! the calls service, which reads Vonage's word for the status here ([`progress_of`]).

use std::time::Duration;

use futures::future::BoxFuture;
use jsonwebtoken::EncodingKey;
use serde_json::{Value, json};

pub use comms_runtime::carriers::VonageConfig;
use comms_runtime::carriers::{Dialect, bridge_name, locale};

use super::{
    BridgeRequest, Carrier, CarrierLeg, DialRequest, HangUp, MonitorMode, MonitorRequest,
    Monitored, OwnAccount, Progress, RecordingRequest, StreamRequest, Telephony, TelephonyError,
    TextAccepted, TextReport, TextRequest, call_api,
};
use crate::domain::PhoneNumber;
use crate::domain::{CallStatus, MachineVerdict};
use comms_events::sms::Encoding;

const CARRIER: &str = "vonage";
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// The lifetime of the JWT each request carries (the SDK's default is 15 minutes).
const TOKEN_SECONDS: i64 = 300;

/// Where Vonage calls back about a call: `answer` (the NCCO) or `event` (progress).
pub fn callback_url(
    public_base_url: &str,
    org_id: &str,
    call_id: uuid::Uuid,
    what: &str,
) -> String {
    format!("{public_base_url}/webhooks/vonage/{org_id}/calls/{call_id}/{what}")
}

/// Vonage's event `status` as progress: `None` for `started`, and for what is not a call's
/// progress (`record`, `input`, `transfer` events carry none). `completed` follows every call
/// but a rejected one, answered or not: only its `duration` says which.
pub fn progress_of(status: &str, duration_seconds: i64) -> Result<Option<Progress>, String> {
    let failed = |outcome, reason: &str| {
        Ok(Some(Progress::Failed {
            outcome,
            reason: reason.into(),
        }))
    };
    match status {
        "started" => Ok(None),
        "ringing" => Ok(Some(Progress::Ringing)),
        "answered" => Ok(Some(Progress::Answered)),
        "completed" if duration_seconds > 0 => Ok(Some(Progress::HungUp)),
        "completed" => Ok(Some(Progress::LineEnded)),
        "busy" => failed(CallStatus::Busy, "line busy"),
        "unanswered" | "timeout" => failed(CallStatus::NoAnswer, "no answer"),
        "rejected" => failed(CallStatus::Failed, "the callee's network rejected the call"),
        "failed" => failed(CallStatus::Failed, "the carrier could not connect the call"),
        "cancelled" => failed(CallStatus::Failed, "canceled at the carrier"),
        other => Err(format!(
            "{other:?} is not a Vonage call status (started, ringing, answered, completed, \
             busy, unanswered, timeout, rejected, failed, cancelled)"
        )),
    }
}

/// Advanced machine detection's verdict on a call, in Vonage's words: the event's `status`
/// (`human`, `machine`) or, once it listened for the beep, its `sub_state` (`beep_start`, or
/// `beep_timeout` when none came). After `machine`, Vonage listens on for the beep (the
/// `default` mode the dial asks for): the end of the greeting is expected.
pub fn detection_of(answered_by: &str) -> Result<Progress, String> {
    let verdict = match answered_by {
        "human" => MachineVerdict::Human,
        "machine" => MachineVerdict::MachineStart,
        "beep_start" => MachineVerdict::MachineEndBeep,
        "beep_timeout" => MachineVerdict::MachineEndOther,
        other => {
            return Err(format!(
                "{other:?} is not one of Vonage's machine detection results (human, machine, \
                 beep_start, beep_timeout)"
            ));
        }
    };
    Ok(Progress::MachineDetected {
        verdict,
        greeting_end_expected: verdict == MachineVerdict::MachineStart,
    })
}

/// E.164 as Vonage writes it: without the `+`.
fn vonage_number(number: &str) -> &str {
    number.trim_start_matches('+')
}

/// Vonage's errors are problem+json: `{"type", "title", "detail", "instance"}`.
fn vonage_problem(body: &Value, status: http::StatusCode) -> String {
    match (body["title"].as_str(), body["detail"].as_str()) {
        (Some(title), Some(detail)) => format!("{title}: {detail} (HTTP {status})"),
        (Some(title), None) => format!("{title} (HTTP {status})"),
        _ => format!("HTTP {status}"),
    }
}

#[derive(Clone)]
pub struct VonageTelephony {
    config: VonageConfig,
    key: EncodingKey,
    http: reqwest::Client,
}

impl VonageTelephony {
    pub fn new(config: VonageConfig, key: EncodingKey) -> Self {
        let http = comms_runtime::http::client(REQUEST_TIMEOUT);
        Self { config, key, http }
    }

    fn token(&self) -> Result<String, TelephonyError> {
        let application = &self.config.application_id;
        comms_auth::carriers::vonage_application_token(application, &self.key, TOKEN_SECONDS)
            .map_err(|e| TelephonyError::Refused {
                carrier: CARRIER,
                detail: format!("the application's JWT cannot be signed: {e}"),
            })
    }

    /// A call resource's URL; its id is checked, as it goes into a path.
    fn call_url(&self, leg: &CarrierLeg) -> Result<String, TelephonyError> {
        if uuid::Uuid::parse_str(&leg.id).is_err() {
            return Err(TelephonyError::Refused {
                carrier: CARRIER,
                detail: format!("{:?} is not a Vonage call uuid", leg.id),
            });
        }
        Ok(format!("{}/v1/calls/{}", self.config.api_url, leg.id))
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Result<Value, TelephonyError> {
        call_api(CARRIER, request.bearer_auth(self.token()?), vonage_problem).await
    }

    async fn create_call(&self, request: &DialRequest) -> Result<CarrierLeg, TelephonyError> {
        let callback = |what| {
            callback_url(
                &self.config.public_base_url,
                &request.org_id,
                request.call_id,
                what,
            )
        };
        let mut body = json!({
            "to": [{ "type": "phone", "number": vonage_number(request.to.as_str()) }],
            "answer_url": [callback("answer")],
            "answer_method": "POST",
            "event_url": [callback("event")],
            "event_method": "POST",
        });
        if request.detect_machines {
            // Asynchronous: the callee hears the call at once, the verdict (and, after a
            // greeting, the beep) arrive as events.
            body["advanced_machine_detection"] =
                json!({ "behavior": "continue", "mode": "default", "beep_timeout": 45 });
        }
        match &request.from {
            Some(from) => {
                body["from"] = json!({ "type": "phone", "number": vonage_number(from.as_str()) });
            }
            // One of the application's numbers.
            None => body["random_from_number"] = json!(true),
        }
        self.create(body).await
    }

    /// `POST /v1/calls`: the created leg.
    async fn create(&self, body: Value) -> Result<CarrierLeg, TelephonyError> {
        let url = format!("{}/v1/calls", self.config.api_url);
        let created = self.send(self.http.post(url).json(&body)).await?;
        match created["uuid"].as_str() {
            Some(uuid) if uuid::Uuid::parse_str(uuid).is_ok() => Ok(CarrierLeg {
                carrier: Carrier::Vonage,
                id: uuid.to_owned(),
            }),
            _ => Err(TelephonyError::Unavailable {
                carrier: CARRIER,
                detail: "the created call has no uuid".into(),
            }),
        }
    }

    /// A new leg to `to`, joined to the call's conversation with the `conversation` action's
    /// `options` (`endOnExit`, `canHear`); its events go to the call's `events` callback (a
    /// leg's events are not the call's own line's).
    async fn join(
        &self,
        (org_id, call_id): (&str, uuid::Uuid),
        to: Value,
        from: Option<&PhoneNumber>,
        options: Value,
        events: &str,
    ) -> Result<CarrierLeg, TelephonyError> {
        let conversation = conversation(call_id, options);
        let callback = callback_url(&self.config.public_base_url, org_id, call_id, events);
        let mut body = json!({
            "to": [to],
            "ncco": [conversation],
            "event_url": [callback],
            "event_method": "POST",
        });
        match from {
            Some(from) => {
                body["from"] = json!({ "type": "phone", "number": vonage_number(from.as_str()) });
            }
            None => body["random_from_number"] = json!(true),
        }
        self.create(body).await
    }

    /// A leg to the transcription service's media socket `url`, hearing `party`'s leg only
    /// (<https://developer.vonage.com/en/voice/voice-api/concepts/websockets>).
    async fn stream_party(
        &self,
        call: (&str, uuid::Uuid),
        url: &str,
        party: &CarrierLeg,
        language: comms_proto::Language,
    ) -> Result<CarrierLeg, TelephonyError> {
        let socket = json!({
            "type": "websocket",
            "uri": url,
            "content-type": "audio/l16;rate=16000",
            "headers": { "language": language.as_str() },
        });
        let hearing = json!({ "canHear": [party.id], "canSpeak": [] });
        self.join(call, socket, None, hearing, "audio/event").await
    }
}

/// The `conversation` action joining the call's named conversation, with `options`
/// (`endOnExit`, `canHear`, `canSpeak`).
fn conversation(call_id: uuid::Uuid, options: Value) -> Value {
    let mut conversation = json!({
        "action": "conversation",
        "name": bridge_name(&call_id.to_string()),
    });
    if let (Some(action), Value::Object(options)) = (conversation.as_object_mut(), options) {
        action.extend(options);
    }
    conversation
}

/// Who hears a supervisor in `mode`: nobody to listen, the agent's leg alone to whisper,
/// everyone (no `canSpeak`) to barge; they hear everyone.
fn supervisor_speaks(request: &MonitorRequest) -> Result<Value, TelephonyError> {
    Ok(match request.mode {
        MonitorMode::Listen => json!({ "canSpeak": [] }),
        MonitorMode::Whisper => {
            let agent = request
                .agent_leg
                .as_ref()
                .ok_or_else(|| super::nobody_to_whisper_to(CARRIER))?;
            json!({ "canSpeak": [agent.id] })
        }
        MonitorMode::Barge | MonitorMode::Stopped => json!({}),
    })
}

impl VonageTelephony {
    /// The SMS API (`POST {VONAGE_SMS_API_URL}/sms/json`, form, the account's key and secret):
    /// `type=unicode` for a text GSM-7 cannot carry, our id as `client-ref`, delivery receipts
    /// to the message's callback. The API answers 200 whatever happened: each part's `status`
    /// says, `0` being taken (<https://developer.vonage.com/en/api/sms>).
    async fn send_sms(&self, text: &TextRequest) -> Result<TextAccepted, TelephonyError> {
        let from = text
            .from
            .clone()
            .or_else(|| self.config.phone_number.clone())
            .ok_or_else(|| TelephonyError::Refused {
                carrier: CARRIER,
                detail: "no number to send from: name one of the organization's numbers as \
                         `from`, or set VONAGE_PHONE_NUMBER"
                    .into(),
            })?;
        let callback = super::text_callback_url(
            &self.config.public_base_url,
            &text.org_id,
            text.message_id,
            "vonage",
        );
        let client_ref = text.message_id.to_string();
        let kind = match text.encoding {
            Encoding::Gsm7 => "text",
            Encoding::Ucs2 => "unicode",
        };
        let form = [
            ("api_key", self.config.api_key.as_str()),
            ("api_secret", self.config.api_secret.as_str()),
            ("from", vonage_number(from.as_str())),
            ("to", vonage_number(text.to.as_str())),
            ("text", text.text.as_str()),
            ("type", kind),
            ("client-ref", client_ref.as_str()),
            ("callback", callback.as_str()),
            ("status-report-req", "1"),
        ];
        let body = serde_urlencoded::to_string(form).expect("pairs of strings encode");
        let request = self
            .http
            .post(format!("{}/sms/json", self.config.sms_api_url))
            .header(
                http::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body);
        let answer = call_api(CARRIER, request, |_, status| format!("HTTP {status}")).await?;
        let parts = answer["messages"].as_array().cloned().unwrap_or_default();
        if let Some(refused) = parts.iter().find(|part| part["status"] != "0") {
            let status = refused["status"].as_str().unwrap_or("?");
            let detail = format!(
                "{} (status {status})",
                refused["error-text"].as_str().unwrap_or("refused")
            );
            // 1: throttled; 5: Vonage's own failure. Both pass.
            return Err(if matches!(status, "1" | "5") {
                TelephonyError::Unavailable {
                    carrier: CARRIER,
                    detail,
                }
            } else {
                TelephonyError::Refused {
                    carrier: CARRIER,
                    detail,
                }
            });
        }
        match parts.first().and_then(|part| part["message-id"].as_str()) {
            Some(id) if !id.is_empty() && id.len() <= 128 => Ok(TextAccepted {
                carrier: Carrier::Vonage,
                carrier_message_id: id.to_owned(),
                from,
                failed_over_from: None,
                delivered: false,
            }),
            _ => Err(TelephonyError::Unavailable {
                carrier: CARRIER,
                detail: "the answer names no message-id".into(),
            }),
        }
    }
}

/// A delivery receipt's `status` as a report: `None` while on its way (`accepted`,
/// `buffered`); `err-code` says why one failed.
pub fn text_report_of(status: &str, error_code: &str) -> Result<Option<TextReport>, String> {
    let failed = |what: &str| {
        let code = match error_code {
            "" | "0" => String::new(),
            code => format!(" (err-code {code})"),
        };
        Ok(Some(TextReport::Failed(format!("{what}{code}"))))
    };
    match status {
        "accepted" | "buffered" => Ok(None),
        "delivered" => Ok(Some(TextReport::Delivered)),
        "expired" => failed("it expired before reaching the handset"),
        "failed" => failed("the network could not deliver it"),
        "rejected" => failed("the network rejected it"),
        "unknown" => failed("the network gave no delivery status"),
        other => Err(format!(
            "{other:?} is not a Vonage delivery status (accepted, buffered, delivered, expired, \
             failed, rejected, unknown)"
        )),
    }
}

impl Telephony for VonageTelephony {
    fn carrier(&self) -> Carrier {
        Carrier::Vonage
    }

    fn detects_machines(&self) -> bool {
        true
    }

    fn calls_per_second(&self) -> Option<u32> {
        Some(self.config.calls_per_second)
    }

    fn account(&self) -> Option<&str> {
        Some(&self.config.api_key)
    }

    fn on_account(&self, account: &OwnAccount) -> Option<std::sync::Arc<dyn Telephony>> {
        let OwnAccount::Vonage(application) = account else {
            return None;
        };
        Some(std::sync::Arc::new(Self {
            config: application.config(&self.config),
            key: application.signing_key.clone(),
            http: self.http.clone(),
        }))
    }

    fn place(
        &self,
        request: DialRequest,
    ) -> BoxFuture<'_, Result<Option<CarrierLeg>, TelephonyError>> {
        Box::pin(async move { self.create_call(&request).await.map(Some) })
    }

    fn send_text(&self, text: TextRequest) -> BoxFuture<'_, Result<TextAccepted, TelephonyError>> {
        Box::pin(async move { self.send_sms(&text).await })
    }

    /// `{"action": "hangup"}` ends a call in any state. With a message, an answered call is
    /// transferred to an NCCO that speaks it instead; the call ends with the NCCO.
    fn hang_up(&self, line: HangUp) -> BoxFuture<'_, Result<(), TelephonyError>> {
        Box::pin(async move {
            // A call Vonage has not named yet is hung up when its uuid arrives.
            let Some(leg) = &line.leg else { return Ok(()) };
            let url = self.call_url(leg)?;
            if let (true, Some(message)) = (line.answered, &line.message) {
                let talk = json!({
                    "action": "transfer",
                    "destination": {
                        "type": "ncco",
                        "ncco": [{
                            "action": "talk",
                            "text": message.text,
                            "language": locale(message.language, Dialect::Vonage),
                        }],
                    },
                });
                self.send(self.http.put(url).json(&talk)).await?;
                return Ok(());
            }
            let hangup = json!({ "action": "hangup" });
            self.send(self.http.put(url).json(&hangup)).await?;
            Ok(())
        })
    }

    /// A transfer to the call's answer URL (when its NCCO predates the agent), whose NCCO now
    /// puts the caller in the call's conversation; then the agent's leg to their app user
    /// (their softphone, showing the customer's number), joined to it and ending it when they
    /// hang up; then, when the call's audio is streamed, a socket for each party. A failure
    /// after the agent's leg was created is not worth a retry of the whole (which would ring
    /// the agent twice): refused, saying what became of the parties' audio.
    fn bridge(&self, request: BridgeRequest) -> BoxFuture<'_, Result<(), TelephonyError>> {
        let org = request.org_id.as_str();
        let answer = callback_url(&self.config.public_base_url, org, request.call_id, "answer");
        Box::pin(async move {
            let call = (request.org_id.as_str(), request.call_id);
            if request.redirect {
                let transfer = json!({
                    "action": "transfer",
                    "destination": { "type": "ncco", "url": [answer] },
                });
                let url = self.call_url(&request.leg)?;
                self.send(self.http.put(url).json(&transfer)).await?;
            }
            let app = json!({ "type": "app", "user": request.agent_id.to_string() });
            let ends = json!({ "endOnExit": true });
            let agent = self
                .join(call, app, request.customer.as_ref(), ends, "agent/event")
                .await?;
            let Some(audio) = &request.audio else {
                return Ok(());
            };
            for (url, party) in [(&audio.caller, &request.leg), (&audio.agent, &agent)] {
                self.stream_party(call, url, party, request.language)
                    .await
                    .map_err(|e| TelephonyError::Refused {
                        carrier: CARRIER,
                        detail: format!(
                            "the agent is on the call, its parties' audio is not all streamed: {e}"
                        ),
                    })?;
            }
            Ok(())
        })
    }

    fn fetch(&self, leg: CarrierLeg) -> BoxFuture<'_, Result<Option<Progress>, TelephonyError>> {
        Box::pin(async move {
            let call = self.send(self.http.get(self.call_url(&leg)?)).await?;
            let status = call["status"].as_str().unwrap_or_default();
            let duration = call["duration"]
                .as_str()
                .and_then(|d| d.parse().ok())
                .or_else(|| call["duration"].as_i64())
                .unwrap_or(0);
            progress_of(status, duration).map_err(|detail| TelephonyError::Unavailable {
                carrier: CARRIER,
                detail,
            })
        })
    }

    /// Vonage records only as a call's NCCO says (a `record` action: the edge's, for a call
    /// recorded `always`, from the bridge to its agent), and has no request that starts, pauses,
    /// resumes or stops a recording of a call in progress: said, rather than pretended.
    fn record(&self, request: RecordingRequest) -> BoxFuture<'_, Result<(), TelephonyError>> {
        let detail = format!(
            "Vonage cannot {} a recording of a call in progress: it records a call from its \
             start when its recording policy is `always`",
            request.action.as_str()
        );
        Box::pin(async move {
            Err(TelephonyError::Refused {
                carrier: CARRIER,
                detail,
            })
        })
    }

    /// Nothing yet: Vonage forks audio only from a conversation, which the caller enters when
    /// bridged to their agent, and a socket waiting in it would outlive a call that never is.
    /// Both parties' sockets are asked for with the bridge ([`Self::bridge`]).
    fn stream_audio(&self, _request: StreamRequest) -> BoxFuture<'_, Result<(), TelephonyError>> {
        Box::pin(async { Ok(()) })
    }

    /// A supervisor joins the call's conversation on a leg of their own: a call to their app
    /// user (their softphone), whose `canSpeak` says who hears them (see [`supervisor_speaks`])
    /// and which does not end the conversation when they leave; its events at the call's
    /// `supervisor/event`. A change of mode transfers their leg to the conversation again with
    /// the new `canSpeak`; leaving hangs it up (one Vonage no longer has is gone already).
    fn monitor(&self, request: MonitorRequest) -> BoxFuture<'_, Result<Monitored, TelephonyError>> {
        Box::pin(async move {
            let on = |leg| Monitored { audio: true, leg };
            let speaks = supervisor_speaks(&request)?;
            match (request.mode, &request.supervisor_leg) {
                (MonitorMode::Stopped, None) => Ok(on(None)),
                (MonitorMode::Stopped, Some(leg)) => {
                    let hangup = json!({ "action": "hangup" });
                    match self
                        .send(self.http.put(self.call_url(leg)?).json(&hangup))
                        .await
                    {
                        Ok(_) | Err(TelephonyError::NotFound { .. }) => Ok(on(None)),
                        Err(error) => Err(error),
                    }
                }
                (_, Some(leg)) => {
                    let transfer = json!({
                        "action": "transfer",
                        "destination": {
                            "type": "ncco",
                            "ncco": [conversation(request.call_id, speaks)],
                        },
                    });
                    let url = self.call_url(leg)?;
                    self.send(self.http.put(url).json(&transfer)).await?;
                    Ok(on(Some(leg.clone())))
                }
                (_, None) => {
                    let call = (request.org_id.as_str(), request.call_id);
                    let app = json!({ "type": "app", "user": request.supervisor_id });
                    let leg = self
                        .join(call, app, None, speaks, "supervisor/event")
                        .await?;
                    Ok(on(Some(leg)))
                }
            }
        })
    }

    /// Vonage's Voice API documents no request that deletes a recording: refused, so the fleet
    /// never says a recording is gone that Vonage still holds.
    fn delete_recording(&self, _recording_id: String) -> BoxFuture<'_, Result<(), TelephonyError>> {
        super::refused(
            CARRIER,
            "Vonage's Voice API has no request that deletes a recording",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_vonage_status_has_a_meaning() {
        assert_eq!(progress_of("started", 0), Ok(None));
        assert_eq!(progress_of("answered", 0), Ok(Some(Progress::Answered)));
        assert_eq!(progress_of("completed", 42), Ok(Some(Progress::HungUp)));
        assert_eq!(progress_of("completed", 0), Ok(Some(Progress::LineEnded)));
        assert!(matches!(
            progress_of("timeout", 0),
            Ok(Some(Progress::Failed {
                outcome: CallStatus::NoAnswer,
                ..
            }))
        ));
        assert!(progress_of("in-progress", 0).is_err());
        assert_eq!(vonage_number("+447700900000"), "447700900000");
    }
}
