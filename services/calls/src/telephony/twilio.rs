//! Twilio Programmable Voice, spoken directly (the Rust crates for it are thin or stale): form
//! bodies, HTTP Basic with the account SID and auth token, JSON answers
//! (<https://www.twilio.com/docs/voice/api/call-resource>).
//!
//! Dialing asks Twilio to call back at `PUBLIC_BASE_URL`: the answer URL for instructions and
//! the status callback for `initiated`, `ringing`, `answered` and `completed`. The edge
//! verifies each callback's signature and hands it to the calls service, which reads Twilio's
//! word for the status here ([`progress_of`]).

use std::time::Duration;

use comms_runtime::carriers::bridge_name;
use comms_runtime::carriers::twiml::{self, Verb};
pub use comms_runtime::carriers::{TwilioConfig, is_sid};
use futures::future::BoxFuture;
use serde_json::Value;

use super::{
    BridgeRequest, Carrier, CarrierLeg, DialRequest, HangUp, MonitorMode, MonitorRequest,
    Monitored, OwnAccount, Progress, RecordingAction, RecordingRequest, StreamRequest, Telephony,
    TelephonyError, TextAccepted, TextReport, TextRequest, call_api,
};
use crate::domain::{CallStatus, MachineVerdict, PhoneNumber};

const CARRIER: &str = "twilio";
/// How long one request to Twilio may take before it counts as unavailable.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Where Twilio calls back about a call: `answer` (instructions) or `status`.
pub fn callback_url(
    public_base_url: &str,
    org_id: &str,
    call_id: uuid::Uuid,
    what: &str,
) -> String {
    format!("{public_base_url}/webhooks/twilio/{org_id}/calls/{call_id}/{what}")
}

/// Twilio's `MessageStatus` as a delivery report: `None` while it is on its way (`queued`,
/// `accepted`, `scheduled`, `sending`, `sent`: sent to the network, not yet on the handset).
pub fn text_report_of(status: &str, error_code: &str) -> Result<Option<TextReport>, String> {
    let failed = |what: &str| {
        let code = match error_code {
            "" => String::new(),
            code => format!(" (error {code})"),
        };
        Ok(Some(TextReport::Failed(format!("{what}{code}"))))
    };
    match status {
        "queued" | "accepted" | "scheduled" | "sending" | "sent" => Ok(None),
        "delivered" | "read" => Ok(Some(TextReport::Delivered)),
        "undelivered" => failed("the carrier could not deliver it"),
        "failed" => failed("the carrier could not send it"),
        "canceled" => failed("canceled at the carrier"),
        other => Err(format!(
            "{other:?} is not a Twilio message status (queued, accepted, scheduled, sending, \
             sent, delivered, read, undelivered, failed, canceled)"
        )),
    }
}

/// Where Twilio reports on a recording: `in-progress` (it began), `completed` (ready to fetch)
/// and `absent` (too short or silent), each to the call's `recording` callback.
const RECORDING_EVENTS: [&str; 3] = ["in-progress", "completed", "absent"];

/// Twilio's `CallStatus` as progress: `None` for a call that has not moved on yet (`queued`,
/// `initiated`). Status callbacks of the `answered` event say `in-progress`.
pub fn progress_of(status: &str) -> Result<Option<Progress>, String> {
    let failed = |outcome, reason: &str| {
        Ok(Some(Progress::Failed {
            outcome,
            reason: reason.into(),
        }))
    };
    match status {
        "queued" | "initiated" => Ok(None),
        "ringing" => Ok(Some(Progress::Ringing)),
        "in-progress" => Ok(Some(Progress::Answered)),
        "completed" => Ok(Some(Progress::HungUp)),
        "busy" => failed(CallStatus::Busy, "line busy"),
        "no-answer" => failed(CallStatus::NoAnswer, "no answer"),
        "failed" => failed(CallStatus::Failed, "the carrier could not connect the call"),
        "canceled" => failed(CallStatus::Failed, "canceled at the carrier"),
        other => Err(format!(
            "{other:?} is not a Twilio call status (queued, initiated, ringing, in-progress, \
             completed, busy, no-answer, failed, canceled)"
        )),
    }
}

/// Twilio's `AnsweredBy`.
/// With `DetectMessageEnd`, Twilio says once, at the end of a machine's greeting.
pub fn detection_of(answered_by: &str) -> Result<Progress, String> {
    let verdict = MachineVerdict::parse(answered_by).ok_or_else(|| {
        let known: Vec<&str> = MachineVerdict::ALL.iter().map(|v| v.as_str()).collect();
        format!(
            "{answered_by:?} is not one of Twilio's verdicts ({})",
            known.join(", ")
        )
    })?;
    Ok(Progress::MachineDetected {
        verdict,
        greeting_end_expected: false,
    })
}

/// Twilio's errors: `{"code": 21211, "message": "…", "more_info": "…", "status": 400}`.
fn twilio_error(body: &Value, status: http::StatusCode) -> String {
    match (body["message"].as_str(), body["code"].as_i64()) {
        (Some(message), Some(code)) => format!("{message} (error {code}, HTTP {status})"),
        (Some(message), None) => format!("{message} (HTTP {status})"),
        _ => format!("HTTP {status}"),
    }
}

#[derive(Clone)]
pub struct TwilioTelephony {
    config: TwilioConfig,
    http: reqwest::Client,
}

impl TwilioTelephony {
    pub fn new(config: TwilioConfig) -> Self {
        let http = comms_runtime::http::client(REQUEST_TIMEOUT);
        Self { config, http }
    }

    fn calls_url(&self) -> String {
        format!(
            "{}/2010-04-01/Accounts/{}/Calls",
            self.config.api_url, self.config.account_sid
        )
    }

    /// The call resource of `leg`; its id is checked, as it goes into a path.
    fn call_url(&self, leg: &CarrierLeg) -> Result<String, TelephonyError> {
        if !is_sid(&leg.id, "CA") {
            return Err(TelephonyError::Refused {
                carrier: CARRIER,
                detail: format!("{:?} is not a Twilio call SID", leg.id),
            });
        }
        Ok(format!("{}/{}.json", self.calls_url(), leg.id))
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Result<Value, TelephonyError> {
        let request = request.basic_auth(&self.config.account_sid, Some(&self.config.auth_token));
        call_api(CARRIER, request, twilio_error).await
    }

    async fn post_form(
        &self,
        url: String,
        form: &(impl serde::Serialize + ?Sized),
    ) -> Result<Value, TelephonyError> {
        let body = serde_urlencoded::to_string(form).expect("pairs of strings encode");
        self.send(
            self.http
                .post(url)
                .header(
                    http::header::CONTENT_TYPE,
                    "application/x-www-form-urlencoded",
                )
                .body(body),
        )
        .await
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
        let (answer, status, machine, recording) = (
            callback("answer"),
            callback("status"),
            callback("machine"),
            callback("recording"),
        );
        let from = request.from.as_ref().unwrap_or(&self.config.phone_number);
        let mut form = vec![
            ("To", request.to.as_str()),
            ("From", from.as_str()),
            ("Url", answer.as_str()),
            ("Method", "POST"),
            ("StatusCallback", status.as_str()),
            ("StatusCallbackMethod", "POST"),
        ];
        // A list is the key repeated (twilio-python's serialize.map).
        for event in ["initiated", "ringing", "answered", "completed"] {
            form.push(("StatusCallbackEvent", event));
        }
        // Asynchronous, so the callee hears the call at once while Twilio listens (synchronous
        // detection leaves them in silence); to the greeting's end, so a message could follow.
        if request.detect_machines {
            form.extend([
                ("MachineDetection", "DetectMessageEnd"),
                ("AsyncAmd", "true"),
                ("AsyncAmdStatusCallback", machine.as_str()),
                ("AsyncAmdStatusCallbackMethod", "POST"),
            ]);
        }
        // Both parties on their own channel, from the answer; Twilio calls back once the
        // recording is complete (or absent: too short or silent).
        if request.record {
            form.extend([
                ("Record", "true"),
                ("RecordingChannels", "dual"),
                ("RecordingStatusCallback", recording.as_str()),
                ("RecordingStatusCallbackMethod", "POST"),
            ]);
            form.extend(RECORDING_EVENTS.map(|e| ("RecordingStatusCallbackEvent", e)));
        }
        let created = self
            .post_form(format!("{}.json", self.calls_url()), &form)
            .await?;
        match created["sid"].as_str() {
            Some(sid) if is_sid(sid, "CA") => Ok(CarrierLeg {
                carrier: Carrier::Twilio,
                id: sid.to_owned(),
            }),
            _ => Err(TelephonyError::Unavailable {
                carrier: CARRIER,
                detail: "the created call has no call SID".into(),
            }),
        }
    }
}

/// A softphone to bring into a call's conference: its client `identity`, calling `from` the
/// organization's number on the call (the fleet's when `None`), its status callbacks at the
/// call's `events` URL.
struct Participant<'a> {
    call: (&'a str, uuid::Uuid),
    identity: &'a str,
    from: Option<&'a PhoneNumber>,
    events: &'a str,
}

/// How a supervisor's participant is heard in `mode`: muted to listen, coaching the agent's
/// call (`agent`, once they answered) to whisper, by everyone to barge; `changing` an existing
/// participant sets each flag, a new one only those that differ from Twilio's defaults.
fn supervisor_heard(
    mode: MonitorMode,
    agent: Option<&str>,
    changing: bool,
) -> Result<Vec<(&'static str, String)>, TelephonyError> {
    let flags = |muted: bool, coaching: bool| {
        let mut form = vec![];
        if changing || muted {
            form.push(("Muted", muted.to_string()));
        }
        if changing || coaching {
            form.push(("Coaching", coaching.to_string()));
        }
        form
    };
    Ok(match mode {
        MonitorMode::Listen => flags(true, false),
        MonitorMode::Whisper => {
            let agent = agent.ok_or_else(|| super::nobody_to_whisper_to(CARRIER))?;
            let mut form = flags(false, true);
            form.push(("CallSidToCoach", agent.to_owned()));
            form
        }
        MonitorMode::Barge | MonitorMode::Stopped => flags(false, false),
    })
}

impl TwilioTelephony {
    /// A conference's participants: its SID, or (to add one) its friendly name, the call's
    /// bridge name, which creates it when it does not exist yet
    /// (<https://www.twilio.com/docs/voice/api/conference-participant-resource>).
    fn participants_url(&self, conference: &str) -> String {
        format!(
            "{}/2010-04-01/Accounts/{}/Conferences/{conference}/Participants",
            self.config.api_url, self.config.account_sid
        )
    }

    /// `POST …/Conferences/{name}/Participants.json`, `To=client:{identity}`, with `options`
    /// (`EndConferenceOnExit`, `Muted`, `Coaching`): the participant's call, once Twilio took it.
    async fn add_participant(
        &self,
        participant: Participant<'_>,
        options: &[(&str, impl AsRef<str>)],
    ) -> Result<CarrierLeg, TelephonyError> {
        let (org, call_id) = participant.call;
        let name = bridge_name(&call_id.to_string());
        let callback = callback_url(
            &self.config.public_base_url,
            org,
            call_id,
            participant.events,
        );
        let from = participant.from.unwrap_or(&self.config.phone_number);
        let to = format!("client:{}", participant.identity);
        let mut form = vec![
            ("From", from.as_str()),
            ("To", to.as_str()),
            ("Beep", "false"),
            ("StatusCallback", callback.as_str()),
            ("StatusCallbackMethod", "POST"),
        ];
        for event in ["initiated", "ringing", "answered", "completed"] {
            form.push(("StatusCallbackEvent", event));
        }
        form.extend(options.iter().map(|(key, value)| (*key, value.as_ref())));
        let url = format!("{}.json", self.participants_url(&name));
        let created = self.post_form(url, &form).await?;
        match created["call_sid"].as_str() {
            Some(sid) if is_sid(sid, "CA") => Ok(CarrierLeg {
                carrier: Carrier::Twilio,
                id: sid.to_owned(),
            }),
            _ => Err(TelephonyError::Unavailable {
                carrier: CARRIER,
                detail: "the created participant has no call SID".into(),
            }),
        }
    }

    /// The SID of the call's conference in progress (`GET …/Conferences.json?FriendlyName=`),
    /// which a participant's update names.
    async fn conference_sid(&self, call_id: uuid::Uuid) -> Result<String, TelephonyError> {
        let url = format!(
            "{}/2010-04-01/Accounts/{}/Conferences.json",
            self.config.api_url, self.config.account_sid
        );
        let name = bridge_name(&call_id.to_string());
        let query = [("FriendlyName", name.as_str()), ("Status", "in-progress")];
        let query = serde_urlencoded::to_string(query).expect("pairs of strings encode");
        let found = self.send(self.http.get(format!("{url}?{query}"))).await?;
        match found["conferences"][0]["sid"].as_str() {
            Some(sid) if is_sid(sid, "CF") => Ok(sid.to_owned()),
            _ => Err(TelephonyError::NotFound {
                carrier: CARRIER,
                detail: format!("no conference {name} in progress"),
            }),
        }
    }
}

impl Telephony for TwilioTelephony {
    fn carrier(&self) -> Carrier {
        Carrier::Twilio
    }

    fn detects_machines(&self) -> bool {
        true
    }

    fn calls_per_second(&self) -> Option<u32> {
        Some(self.config.calls_per_second)
    }

    fn account(&self) -> Option<&str> {
        Some(&self.config.account_sid)
    }

    fn place(
        &self,
        request: DialRequest,
    ) -> BoxFuture<'_, Result<Option<CarrierLeg>, TelephonyError>> {
        Box::pin(async move { self.create_call(&request).await.map(Some) })
    }

    /// `Status=canceled` for a call never answered (it cannot end an answered one by mistake),
    /// then `completed` if Twilio says the call was answered meanwhile; `completed` for an
    /// answered call. With a message, an answered call is given TwiML instead (`Twiml=`): the
    /// message, then `<Hangup/>`.
    fn hang_up(&self, line: HangUp) -> BoxFuture<'_, Result<(), TelephonyError>> {
        Box::pin(async move {
            // A call Twilio has not named yet is hung up when its SID arrives.
            let Some(leg) = &line.leg else { return Ok(()) };
            let url = self.call_url(leg)?;
            if let (true, Some(message)) = (line.answered, &line.message) {
                let said = twiml::response(&[
                    Verb::Say {
                        language: message.language,
                        text: &message.text,
                    },
                    Verb::Hangup,
                ]);
                self.post_form(url, &[("Twiml", said.as_str())]).await?;
                return Ok(());
            }
            if !line.answered {
                let call = self
                    .post_form(url.clone(), &[("Status", "canceled")])
                    .await?;
                if call["status"] != "in-progress" {
                    return Ok(());
                }
            }
            self.post_form(url, &[("Status", "completed")]).await?;
            Ok(())
        })
    }

    /// `Url=` the call's answer URL (when its TwiML predates the agent): Twilio fetches its
    /// TwiML again at once, which puts the caller in the call's conference; then the agent's
    /// client joins it as a participant, ending it when they leave (the call's stream already
    /// carries both tracks: the caller, and the conference they hear).
    fn bridge(&self, request: BridgeRequest) -> BoxFuture<'_, Result<(), TelephonyError>> {
        let answer = callback_url(
            &self.config.public_base_url,
            &request.org_id,
            request.call_id,
            "answer",
        );
        Box::pin(async move {
            if request.redirect {
                let url = self.call_url(&request.leg)?;
                self.post_form(url, &[("Url", answer.as_str()), ("Method", "POST")])
                    .await?;
            }
            let agent = Participant {
                call: (&request.org_id, request.call_id),
                identity: &request.agent_id.to_string(),
                from: request.line.as_ref(),
                events: "agent/status",
            };
            self.add_participant(agent, &[("EndConferenceOnExit", "true")])
                .await?;
            Ok(())
        })
    }

    /// Start: a recording of both parties, on two channels, from now
    /// (`POST …/Calls/{CallSid}/Recordings.json`). Pause, resume and stop change the call's
    /// current recording (`…/Recordings/Twilio.CURRENT.json`, `Status=`).
    fn record(&self, request: RecordingRequest) -> BoxFuture<'_, Result<(), TelephonyError>> {
        Box::pin(async move {
            let call = self.call_url(&request.leg)?;
            let recordings = call.trim_end_matches(".json").to_owned() + "/Recordings";
            let status = match request.action {
                RecordingAction::Start => {
                    let callback = callback_url(
                        &self.config.public_base_url,
                        &request.org_id,
                        request.call_id,
                        "recording",
                    );
                    let mut form = vec![
                        ("RecordingChannels", "dual"),
                        ("RecordingStatusCallback", callback.as_str()),
                        ("RecordingStatusCallbackMethod", "POST"),
                    ];
                    form.extend(RECORDING_EVENTS.map(|e| ("RecordingStatusCallbackEvent", e)));
                    self.post_form(format!("{recordings}.json"), &form).await?;
                    return Ok(());
                }
                RecordingAction::Pause => "paused",
                RecordingAction::Resume => "in-progress",
                RecordingAction::Stop => "stopped",
            };
            let current = format!("{recordings}/Twilio.CURRENT.json");
            self.post_form(current, &[("Status", status)]).await?;
            Ok(())
        })
    }

    /// A unidirectional stream of both tracks (`POST …/Calls/{CallSid}/Streams.json`,
    /// <https://www.twilio.com/docs/voice/api/stream-resource>): the caller inbound, what they
    /// hear (the agent) outbound; the call's language as the stream's `language` parameter (the
    /// URL takes no query string). It lasts until the call ends.
    fn stream_audio(&self, request: StreamRequest) -> BoxFuture<'_, Result<(), TelephonyError>> {
        Box::pin(async move {
            let streams = self
                .call_url(&request.leg)?
                .trim_end_matches(".json")
                .to_owned()
                + "/Streams.json";
            let form = [
                ("Url", request.url.as_str()),
                ("Track", "both_tracks"),
                ("Name", "transcription"),
                ("Parameter1.Name", "language"),
                ("Parameter1.Value", request.language.as_str()),
            ];
            self.post_form(streams, &form).await?;
            Ok(())
        })
    }

    /// A supervisor joins the call's conference as a participant of their own, their client
    /// (softphone): muted to listen, coaching the agent's call to whisper, neither to barge;
    /// their leaving does not end it. A change of mode updates their participant; leaving
    /// hangs their call up (one Twilio no longer has is gone already).
    fn monitor(&self, request: MonitorRequest) -> BoxFuture<'_, Result<Monitored, TelephonyError>> {
        Box::pin(async move {
            let on = |leg| Monitored { audio: true, leg };
            let agent = request.agent_leg.as_ref().map(|leg| leg.id.as_str());
            match (request.mode, &request.supervisor_leg) {
                (MonitorMode::Stopped, None) => Ok(on(None)),
                (MonitorMode::Stopped, Some(leg)) => {
                    let hang_up = [("Status", "completed")];
                    match self.post_form(self.call_url(leg)?, &hang_up).await {
                        Ok(_) | Err(TelephonyError::NotFound { .. }) => Ok(on(None)),
                        Err(error) => Err(error),
                    }
                }
                (mode, Some(leg)) => {
                    let url = self.call_url(leg)?;
                    let conference = self.conference_sid(request.call_id).await?;
                    let participant = format!(
                        "{}/{}",
                        self.participants_url(&conference),
                        url.rsplit('/').next().expect("a URL has a last segment")
                    );
                    let heard = supervisor_heard(mode, agent, true)?;
                    self.post_form(participant, &heard).await?;
                    Ok(on(Some(leg.clone())))
                }
                (mode, None) => {
                    let supervisor = Participant {
                        call: (&request.org_id, request.call_id),
                        identity: &request.supervisor_id,
                        from: request.line.as_ref(),
                        events: "supervisor/status",
                    };
                    let heard = supervisor_heard(mode, agent, false)?;
                    let leg = self.add_participant(supervisor, &heard).await?;
                    Ok(on(Some(leg)))
                }
            }
        })
    }

    /// `DELETE …/Recordings/{RecordingSid}.json`; a recording Twilio no longer has (404) is
    /// deleted already.
    fn delete_recording(&self, recording_id: String) -> BoxFuture<'_, Result<(), TelephonyError>> {
        Box::pin(async move {
            if !is_sid(&recording_id, "RE") {
                return Err(TelephonyError::Refused {
                    carrier: CARRIER,
                    detail: format!("{recording_id:?} is not a Twilio recording SID"),
                });
            }
            let url = format!(
                "{}/2010-04-01/Accounts/{}/Recordings/{recording_id}.json",
                self.config.api_url, self.config.account_sid
            );
            match self.send(self.http.delete(url)).await {
                Ok(_) | Err(TelephonyError::NotFound { .. }) => Ok(()),
                Err(other) => Err(other),
            }
        })
    }

    /// `POST …/Messages.json` with `To`, `From`, `Body` and the message's own status callback
    /// (<https://www.twilio.com/docs/messaging/api/message-resource#create-a-message-resource>).
    fn send_text(&self, text: TextRequest) -> BoxFuture<'_, Result<TextAccepted, TelephonyError>> {
        Box::pin(async move {
            let from = text
                .from
                .unwrap_or_else(|| self.config.phone_number.clone());
            let callback = super::text_callback_url(
                &self.config.public_base_url,
                &text.org_id,
                text.message_id,
                "twilio",
            );
            let url = format!(
                "{}/2010-04-01/Accounts/{}/Messages.json",
                self.config.api_url, self.config.account_sid
            );
            let form = [
                ("To", text.to.as_str()),
                ("From", from.as_str()),
                ("Body", text.text.as_str()),
                ("StatusCallback", callback.as_str()),
            ];
            let message = self.post_form(url, &form).await?;
            match message["sid"].as_str() {
                Some(sid) if is_sid(sid, "SM") || is_sid(sid, "MM") => Ok(TextAccepted {
                    carrier: Carrier::Twilio,
                    carrier_message_id: sid.to_owned(),
                    from,
                    failed_over_from: None,
                    delivered: false,
                }),
                _ => Err(TelephonyError::Unavailable {
                    carrier: CARRIER,
                    detail: "the created message has no message SID".into(),
                }),
            }
        })
    }

    /// The same client (and connections) with the organization's account SID and auth token.
    fn on_account(&self, account: &OwnAccount) -> Option<std::sync::Arc<dyn Telephony>> {
        let OwnAccount::Twilio(account) = account else {
            return None;
        };
        Some(std::sync::Arc::new(Self {
            config: account.config(&self.config),
            http: self.http.clone(),
        }))
    }

    fn fetch(&self, leg: CarrierLeg) -> BoxFuture<'_, Result<Option<Progress>, TelephonyError>> {
        Box::pin(async move {
            let call = self.send(self.http.get(self.call_url(&leg)?)).await?;
            let status = call["status"].as_str().unwrap_or_default();
            progress_of(status).map_err(|detail| TelephonyError::Unavailable {
                carrier: CARRIER,
                detail,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_twilio_status_has_a_meaning() {
        assert_eq!(progress_of("initiated"), Ok(None));
        assert_eq!(progress_of("in-progress"), Ok(Some(Progress::Answered)));
        assert_eq!(progress_of("completed"), Ok(Some(Progress::HungUp)));
        assert!(matches!(
            progress_of("no-answer"),
            Ok(Some(Progress::Failed {
                outcome: CallStatus::NoAnswer,
                ..
            }))
        ));
        assert!(progress_of("answered").is_err());
    }
}
