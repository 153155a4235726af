//! Executing commands: load the call's stream, decide with the aggregate, append the events and
//! update the read model in one unit of work (`in_transaction!`), retried when a concurrent
//! change wins.

use std::time::Duration;

use chrono::{DateTime, Utc};
use comms_auth::Identity;
use comms_eventstore::{
    Error as StoreError, EventStore, ExpectedVersion, NewEvent, StreamName, in_transaction,
};
use comms_proto::{ApiError, ErrorKind};
use tracing::Instrument as _;
use tracing::{debug, error, warn};
use uuid::Uuid;

use crate::domain::{
    self, Call, CallEvent, CallStatus, Carrier, CarrierLeg, Command, Direction, MachineVerdict,
    MonitorMode, Progress, RecordingAction, RecordingPolicy,
};
use crate::telephony::{
    BridgeRequest, DialRequest, HangUp, MonitorRequest, PartiesAudio, Party, ProgressReport,
    Providers, RecordingRequest, Spoken, StreamRequest, Telephony, TelephonyError,
};
use crate::view::{self, CallView};
use futures::future::BoxFuture;

/// How long a provider's progress report waits for an unavailable database before it is given
/// up (then the watchdog settles the call), and the pauses between its tries.
const PROGRESS_PATIENCE: Duration = Duration::from_secs(600);
const PROGRESS_FIRST_PAUSE: Duration = Duration::from_millis(250);
const PROGRESS_LAST_PAUSE: Duration = Duration::from_secs(5);
const STREAM_CATEGORY: &str = "call";
/// The pauses between tries of a request about a line the carrier could not take (a 5xx, a
/// timeout).
const LINE_REQUEST_PAUSES: [Duration; 3] = [
    Duration::from_millis(250),
    Duration::from_secs(1),
    Duration::from_secs(4),
];

#[derive(Clone)]
pub struct Calls {
    store: EventStore,
    telephony: Providers,
    /// A call's recording policy when its campaign or number sets none: `always` with
    /// `ENABLE_RECORDING`, `on_demand` without.
    default_recording: RecordingPolicy,
    /// Where answered calls' audio is streamed (`ENABLE_TRANSCRIPTION`).
    media: Option<crate::telephony::MediaStreaming>,
}

impl Calls {
    pub fn new(store: EventStore, telephony: Providers, record_calls: bool) -> Self {
        let default_recording = if record_calls {
            RecordingPolicy::Always
        } else {
            RecordingPolicy::OnDemand
        };
        Self {
            store,
            telephony,
            default_recording,
            media: None,
        }
    }

    /// Streams answered calls' audio as `media` says (`None`: not at all).
    pub fn streaming_media(mut self, media: Option<crate::telephony::MediaStreaming>) -> Self {
        self.media = media;
        self
    }

    /// The recording policy of a call whose campaign or number says `policy`.
    pub fn recording_policy(&self, policy: Option<RecordingPolicy>) -> RecordingPolicy {
        policy.unwrap_or(self.default_recording)
    }

    /// Who carries the calls (the primary provider).
    pub fn carrier(&self) -> Carrier {
        self.telephony.primary().carrier()
    }

    /// Whether the provider can tell an answering machine from a person.
    pub fn detects_machines(&self) -> bool {
        self.telephony.primary().detects_machines()
    }

    pub fn pool(&self) -> &sqlx::PgPool {
        self.store.pool()
    }

    fn stream(call_id: Uuid) -> StreamName {
        StreamName::new(STREAM_CATEGORY, call_id)
    }

    /// Runs `command` (rebuilt on each attempt) against the call and returns its new state.
    pub async fn execute(
        &self,
        identity: &Identity,
        call_id: Uuid,
        command: impl Fn() -> Command,
    ) -> Result<CallView, ApiError> {
        Ok(self.decide(identity, call_id, command).await?.0)
    }

    /// Runs `command` and returns the call's new state with the events it recorded.
    pub(crate) async fn decide(
        &self,
        identity: &Identity,
        call_id: Uuid,
        command: impl Fn() -> Command,
    ) -> Result<(CallView, Vec<CallEvent>), ApiError> {
        let stream = Self::stream(call_id);
        let org = identity.org_id.as_str();
        let (view, events) = in_transaction!(self.store, |tx| {
            let (state, expected) =
                crate::stream::load(&mut *tx, org, &stream, "call", domain::apply).await?;
            let events = domain::handle(state.as_ref(), command()).map_err(ApiError::from)?;
            // A decision with nothing to record (assigning the agent already on the call)
            // leaves the call as it is: nothing is appended.
            if events.is_empty() {
                let (Some(call), ExpectedVersion::Exact(version)) = (state, expected) else {
                    return Err(ApiError::not_found("call", &call_id.to_string()));
                };
                let view = CallView {
                    call,
                    organization_id: org.to_owned(),
                    version,
                };
                return Ok((view, events));
            }
            let call = events
                .iter()
                .fold(state, |state, event| Some(domain::apply(state, event)))
                .expect("a command that succeeds leaves a call");
            let new_events: Vec<NewEvent> = events
                .iter()
                .map(|e| comms_bus::new_event(e, &identity.user_id, None))
                .collect();
            let appended =
                comms_eventstore::append_in(&mut *tx, org, &stream, expected, new_events)
                    .await
                    .map_err(store_error)?;
            let view = CallView {
                call,
                organization_id: org.to_owned(),
                version: appended.next_expected_version,
            };
            view::upsert(tx, &view)
                .await
                .map_err(|e| store_error(e.into()))?;
            Ok((view, events))
        })?;
        record_metrics(&events, &view.call);
        let answered_now = events.iter().any(|e| matches!(e, CallEvent::Answered(_)));
        if answered_now && view.call.status == CallStatus::Answered {
            self.stream_audio(&view);
            // A call that already had its agent when answered is bridged to them now.
            self.bridge(&view, false);
        }
        Ok((view, events))
    }

    /// A call answered just now, on a carrier's line and still going, has its audio streamed
    /// to the transcription service (when transcription is on); a notification, which only
    /// speaks, is not.
    fn stream_audio(&self, view: &CallView) {
        let (Some(media), Some(leg)) = (&self.media, &view.call.carrier) else {
            return;
        };
        let call = &view.call;
        if call.announcement.is_some() {
            return;
        }
        let org = view.organization_id.as_str();
        let now = Utc::now().timestamp();
        let request = StreamRequest {
            leg: leg.clone(),
            url: media.url(leg.carrier, org, call.id, Party::Caller, now),
            language: call.language,
        };
        self.on_the_line(
            org,
            Some(leg.clone()),
            call.id,
            "stream_audio",
            move |telephony| telephony.stream_audio(request.clone()),
        );
    }

    /// Ends the call on our side with `command` (hang up, give up), then hangs up its line at
    /// the carrier.
    pub async fn finish(
        &self,
        identity: &Identity,
        call_id: Uuid,
        command: impl Fn() -> Command,
    ) -> Result<CallView, ApiError> {
        self.finish_saying(identity, call_id, None, command).await
    }

    /// [`Calls::finish`], with `voicemail` spoken first to the answering machine that took the
    /// call once its greeting ended (anyone else is hung up on without it).
    pub async fn finish_saying(
        &self,
        identity: &Identity,
        call_id: Uuid,
        voicemail: Option<String>,
        command: impl Fn() -> Command,
    ) -> Result<CallView, ApiError> {
        let view = self.execute(identity, call_id, command).await?;
        let after_the_beep = view
            .call
            .answered_by
            .is_some_and(MachineVerdict::is_greeting_over);
        let message = voicemail.filter(|_| after_the_beep).map(|text| Spoken {
            text,
            language: view.call.language,
        });
        self.hang_up_line_saying(&identity.org_id, &view.call, message);
        Ok(view)
    }

    /// Records what a carrier reported; says whether it changed anything (carriers repeat and
    /// reorder their reports). A carrier that names its line for a call we have already hung up
    /// (our hang-up crossed its answer to the dial) is asked to hang that line up; so is a line
    /// the call does not have (a dial that timed out but was placed before a failover): refused,
    /// and hung up rather than left ringing.
    pub async fn report(
        &self,
        identity: &Identity,
        call_id: Uuid,
        leg: Option<CarrierLeg>,
        failed_over_from: Option<Carrier>,
        progress: Option<Progress>,
        at: chrono::DateTime<Utc>,
    ) -> Result<(CallView, bool), ApiError> {
        let decided = self
            .decide(identity, call_id, || Command::Report {
                leg: leg.clone(),
                failed_over_from,
                progress: progress.clone(),
                at,
            })
            .await;
        if let (Err(error), Some(stray)) = (&decided, &leg)
            && error
                .violations
                .iter()
                .any(|v| v.field == "carrier_call_id")
        {
            warn!(%call_id, carrier = stray.carrier.as_str(), line = %stray.id, "a line the call does not have: hanging it up");
            let line = HangUp {
                call_id,
                leg: Some(stray.clone()),
                answered: true,
                message: None,
            };
            let org = &identity.org_id;
            self.on_the_line(
                org,
                Some(stray.clone()),
                call_id,
                "hang_up",
                move |telephony| telephony.hang_up(line.clone()),
            );
        }
        let (view, events) = decided?;
        let placed_too_late =
            view.call.status.is_final() && events.iter().any(|e| matches!(e, CallEvent::Placed(_)));
        if placed_too_late {
            self.hang_up_line(&identity.org_id, &view.call);
        }
        Ok((view, !events.is_empty()))
    }

    /// Where the carrier says a call stands whose reports stopped; `None` when it cannot say.
    pub async fn reconcile(&self, identity: &Identity, call: &Call) -> Option<CallView> {
        let leg = call.carrier.clone()?;
        let fetched = match self.telephony.line(&identity.org_id, Some(&leg)).await {
            Ok(telephony) => telephony.fetch(leg.clone()).await,
            Err(error) => Err(error),
        };
        match fetched {
            Ok(progress) => self
                .report(identity, call.id, Some(leg), None, progress, Utc::now())
                .await
                .ok()
                .map(|(view, _)| view),
            Err(error) => {
                warn!(call_id = %call.id, %error, "the carrier could not say where the call stands");
                None
            }
        }
    }

    /// Hangs up `org`'s call's line at the carrier (see [`Self::on_the_line`]).
    fn hang_up_line(&self, org: &str, call: &Call) {
        self.hang_up_line_saying(org, call, None);
    }

    fn hang_up_line_saying(&self, org: &str, call: &Call, message: Option<Spoken>) {
        let line = HangUp {
            call_id: call.id,
            leg: call.carrier.clone(),
            answered: call.answered_at.is_some(),
            message,
        };
        self.on_the_line(
            org,
            line.leg.clone(),
            call.id,
            "hang_up",
            move |telephony| telephony.hang_up(line.clone()),
        );
    }

    /// Records the agent routing connected to the call, as of `at` (when the agent went on it);
    /// a call already answered on a carrier's line is then sent to its instructions again,
    /// which now bridge the caller to the agent.
    pub async fn assign_agent(
        &self,
        identity: &Identity,
        call_id: Uuid,
        agent_id: Uuid,
        at: DateTime<Utc>,
    ) -> Result<CallView, ApiError> {
        let (view, events) = self
            .decide(identity, call_id, || Command::AssignAgent { agent_id, at })
            .await?;
        if !events.is_empty() && view.call.status == CallStatus::Answered {
            self.bridge(&view, true);
        }
        Ok(view)
    }

    /// Asks the call's carrier to bridge it to its agent (see [`Telephony::bridge`]);
    /// `redirect` when its instructions predate the agent, for an answered call assigned one.
    fn bridge(&self, view: &CallView, redirect: bool) {
        let call = &view.call;
        let (Some(leg), Some(agent_id), None) = (&call.carrier, call.agent_id, &call.announcement)
        else {
            return;
        };
        let org = &view.organization_id;
        let (customer, line) = parties(call);
        // Where the call's audio is streamed and the carrier forks it per party from the bridge.
        let audio = self.media.as_ref().map(|media| {
            let now = Utc::now().timestamp();
            PartiesAudio {
                caller: media.url(leg.carrier, org, call.id, Party::Caller, now),
                agent: media.url(leg.carrier, org, call.id, Party::Agent, now),
            }
        });
        let request = BridgeRequest {
            org_id: org.clone(),
            call_id: call.id,
            leg: leg.clone(),
            redirect,
            agent_id,
            customer,
            line,
            audio,
            language: call.language,
        };
        self.on_the_line(
            org,
            Some(leg.clone()),
            call.id,
            "bridge",
            move |telephony| telephony.bridge(request.clone()),
        );
    }

    /// Progress of the leg a carrier placed to bridge the call's agent (a Twilio conference
    /// participant, a Vonage conversation leg): its answer is recorded (a supervisor's whisper
    /// reaches that leg); when it fails (the agent's softphone did not answer, was busy or is
    /// offline), the call still waiting for them is hung up; the rest changes nothing.
    pub async fn agent_leg_progress(
        &self,
        identity: &Identity,
        call_id: Uuid,
        leg: CarrierLeg,
        progress: Option<Progress>,
    ) -> Result<(CallView, bool), ApiError> {
        match progress {
            Some(Progress::Answered) => {
                let answered = || Command::AgentLegAnswered {
                    leg: leg.id.clone(),
                    at: Utc::now(),
                };
                let (view, events) = self.decide(identity, call_id, answered).await?;
                Ok((view, !events.is_empty()))
            }
            Some(Progress::Failed { reason, .. }) => {
                let view = self.get(identity, call_id).await?;
                let hung_up = view.call.status == CallStatus::Answered;
                if hung_up {
                    warn!(%call_id, reason, "the agent's leg failed: hanging the call up");
                    self.hang_up_line(&identity.org_id, &view.call);
                }
                Ok((view, hung_up))
            }
            _ => Ok((self.get(identity, call_id).await?, false)),
        }
    }

    /// Progress of a leg a carrier placed for a supervisor on the call (a Twilio conference
    /// participant, a Vonage conversation leg): once it is over (they hung their softphone up,
    /// or it never answered), they are off the call; the rest changes nothing.
    pub async fn supervisor_leg_progress(
        &self,
        identity: &Identity,
        call_id: Uuid,
        leg: CarrierLeg,
        progress: Option<Progress>,
    ) -> Result<(CallView, bool), ApiError> {
        match progress {
            Some(Progress::Failed { .. } | Progress::HungUp | Progress::LineEnded) => {
                let ended = || Command::LegEnded {
                    leg: leg.id.clone(),
                    at: Utc::now(),
                };
                let (view, events) = self.decide(identity, call_id, ended).await?;
                Ok((view, !events.is_empty()))
            }
            _ => Ok((self.get(identity, call_id).await?, false)),
        }
    }

    /// A request about `org`'s line `leg` of a call, sent in the background to the carrier that
    /// carries it (on the organization's own account where it stored one): retried while the
    /// carrier is unavailable (after 0.25, 1 and 4 s), then reported (an error in the log and
    /// `comms_telephony_failures_total{carrier, request}`), never dropped silently.
    fn on_the_line<F>(
        &self,
        org: &str,
        leg: Option<CarrierLeg>,
        call_id: Uuid,
        request: &'static str,
        send: F,
    ) where
        F: Fn(&dyn Telephony) -> BoxFuture<'_, Result<(), TelephonyError>> + Send + 'static,
    {
        let span = tracing::info_span!("carrier_request", %call_id, request);
        let (providers, org) = (self.telephony.clone(), org.to_owned());
        tokio::spawn(
            async move {
                let carrier = providers.for_line(leg.as_ref()).carrier().as_str();
                let mut pauses = LINE_REQUEST_PAUSES.iter();
                loop {
                    let sent = match providers.line(&org, leg.as_ref()).await {
                        Ok(telephony) => send(telephony.as_ref()).await,
                        Err(error) => Err(error),
                    };
                    let Err(error) = sent else { return };
                    match pauses.next() {
                        Some(pause) if error.is_retryable() => {
                            warn!(%error, "the carrier did not take the request; trying again");
                            tokio::time::sleep(*pause).await;
                        }
                        _ => {
                            error!(%error, "the carrier never took the request");
                            metrics::counter!("comms_telephony_failures_total", "carrier" => carrier, "request" => request)
                                .increment(1);
                            return;
                        }
                    }
                }
            }
            .instrument(span),
        );
    }

    /// Initiates a call and asks the provider to dial it. With an idempotency key, the call id
    /// is derived from the organization and key, so a retried request returns the same call.
    pub async fn initiate(
        &self,
        identity: &Identity,
        idempotency_key: Option<&str>,
        make: impl Fn(Uuid) -> Command,
    ) -> Result<CallView, ApiError> {
        let call_id = match idempotency_key {
            Some(key) => Uuid::new_v5(
                &Uuid::NAMESPACE_URL,
                format!("comms:call:{}:{key}", identity.org_id).as_bytes(),
            ),
            None => Uuid::now_v7(),
        };
        match self.execute(identity, call_id, || make(call_id)).await {
            Ok(view) => {
                self.telephony.dial(DialRequest {
                    org_id: identity.org_id.clone(),
                    call_id,
                    to: view.call.to.clone(),
                    from: view.call.from.clone(),
                    detect_machines: view.call.detect_machines,
                    record: view.call.recording_policy == RecordingPolicy::Always,
                });
                Ok(view)
            }
            Err(e) if e.kind == ErrorKind::AlreadyExists && idempotency_key.is_some() => {
                view::get(self.store.pool(), &identity.org_id, call_id)
                    .await
                    .map_err(|e| store_error(e.into()))?
                    .ok_or_else(|| ApiError::not_found("call", &call_id.to_string()))
            }
            Err(e) => Err(e),
        }
    }

    /// The inbound call on `leg` to the organization's `number`, from `from`: started, on the
    /// carrier's line and answered (walking `ivr_flow`, the number's flow's published version,
    /// if it has one); the same call when the carrier asks again.
    pub async fn receive(
        &self,
        identity: &Identity,
        number: &crate::numbers::Number,
        leg: CarrierLeg,
        from: Option<domain::PhoneNumber>,
        ivr_flow: Option<domain::FlowVersion>,
    ) -> Result<CallView, ApiError> {
        let call_id = inbound_call_id(&identity.org_id, &leg);
        let received = self
            .execute(identity, call_id, || Command::Receive {
                call_id,
                to: number.number.clone(),
                from: from.clone(),
                language: number.settings.language,
                skills: number.settings.skills.clone(),
                leg: leg.clone(),
                recording: self.recording_policy(number.settings.recording),
                ivr_flow,
                at: Utc::now(),
            })
            .await;
        match received {
            Err(e) if e.kind == ErrorKind::AlreadyExists => self.get(identity, call_id).await,
            other => other,
        }
    }

    /// Records the carrier's finished recording of the call's line `leg` (a message to be
    /// called back about by `callback`'s agents, when its IVR voicemail names a campaign).
    pub async fn recording_ready(
        &self,
        identity: &Identity,
        call_id: Uuid,
        leg: CarrierLeg,
        recording_id: String,
        duration_seconds: i64,
        callback: Option<Uuid>,
    ) -> Result<CallView, ApiError> {
        self.execute(identity, call_id, || Command::RecordingReady {
            leg: leg.clone(),
            recording_id: recording_id.clone(),
            duration_seconds,
            callback,
            at: Utc::now(),
        })
        .await
    }

    /// The carrier says the recording of the call's line `leg` began.
    pub async fn recording_began(
        &self,
        identity: &Identity,
        call_id: Uuid,
        leg: CarrierLeg,
    ) -> Result<CallView, ApiError> {
        self.execute(identity, call_id, || Command::RecordingBegan {
            leg: leg.clone(),
            at: Utc::now(),
        })
        .await
    }

    /// Starts, pauses, resumes or stops the recording of `call`: at the carrier first, then as
    /// an event, so the event says what the carrier does (a pause that did not happen must not
    /// be recorded as one: card numbers are read aloud during it). Nothing is asked of the
    /// carrier when the recording is already where `action` leads.
    pub async fn control_recording(
        &self,
        identity: &Identity,
        call: CallView,
        action: RecordingAction,
    ) -> Result<CallView, ApiError> {
        if domain::control_recording(&call.call, action)?.is_none() {
            return Ok(call);
        }
        let leg = call
            .call
            .carrier
            .clone()
            .expect("checked: the call has a line");
        let call_id = call.call.id;
        let request = RecordingRequest {
            org_id: identity.org_id.clone(),
            call_id,
            leg: leg.clone(),
            action,
        };
        self.telephony
            .line(&identity.org_id, Some(&leg))
            .await
            .map_err(carrier_error)?
            .record(request)
            .await
            .map_err(carrier_error)?;
        self.execute(identity, call_id, || Command::ControlRecording {
            action,
            at: Utc::now(),
        })
        .await
    }

    /// Puts `supervisor` on `call` with its agent in `mode` (or takes them off it): the
    /// carrier first, then the event, so a carrier's refusal records nothing. Asking for what
    /// already is changes nothing and asks no carrier.
    pub async fn monitor(
        &self,
        identity: &Identity,
        call: CallView,
        supervisor: &str,
        mode: MonitorMode,
    ) -> Result<CallView, ApiError> {
        if !domain::monitoring(&call.call, supervisor, mode)? {
            return Ok(call);
        }
        let call_id = call.call.id;
        // The call's other legs are on its line's carrier.
        let on_the_line = |id: Option<&String>| {
            let carrier = call.call.carrier.as_ref()?.carrier;
            Some(CarrierLeg {
                carrier,
                id: id?.clone(),
            })
        };
        let request = MonitorRequest {
            org_id: identity.org_id.clone(),
            call_id,
            leg: call.call.carrier.clone(),
            agent_id: call.call.agent_id.unwrap_or_default(),
            supervisor_id: supervisor.to_owned(),
            line: parties(&call.call).1,
            mode,
            agent_leg: on_the_line(call.call.agent_leg.as_ref()),
            supervisor_leg: on_the_line(call.call.monitor_legs.get(supervisor)),
        };
        let monitored = self
            .telephony
            .line(&identity.org_id, call.call.carrier.as_ref())
            .await
            .map_err(carrier_error)?
            .monitor(request)
            .await
            .map_err(carrier_error)?;
        self.execute(identity, call_id, || Command::Monitor {
            supervisor: supervisor.to_owned(),
            mode,
            audio: monitored.audio,
            leg: monitored.leg.clone().map(|leg| leg.id),
            at: Utc::now(),
        })
        .await
    }

    /// Deletes the recording of `call` at the carrier, then records that it is gone.
    pub async fn delete_recording(
        &self,
        identity: &Identity,
        call: CallView,
    ) -> Result<CallView, ApiError> {
        let call_id = call.call.id;
        let recording = call
            .call
            .recording
            .ok_or_else(|| ApiError::not_found("recording of call", &call_id.to_string()))?;
        self.telephony
            .carrier(&identity.org_id, recording.carrier)
            .await
            .map_err(carrier_error)?
            .delete_recording(recording.id)
            .await
            .map_err(carrier_error)?;
        self.execute(identity, call_id, || Command::DeleteRecording {
            at: Utc::now(),
        })
        .await
    }

    pub async fn get(&self, identity: &Identity, call_id: Uuid) -> Result<CallView, ApiError> {
        view::get(self.store.pool(), &identity.org_id, call_id)
            .await
            .map_err(|e| store_error(e.into()))?
            .ok_or_else(|| ApiError::not_found("call", &call_id.to_string()))
    }

    pub async fn list(
        &self,
        identity: &Identity,
        filter: &view::ListFilter,
        after: Option<view::Cursor>,
        page_size: usize,
    ) -> Result<(Vec<CallView>, Option<view::Cursor>), ApiError> {
        view::list(
            self.store.pool(),
            &identity.org_id,
            filter,
            after,
            page_size,
        )
        .await
        .map_err(|e| store_error(e.into()))
    }

    /// Applies provider progress reports, in the order they came, until the sink closes. A
    /// report the database cannot take now waits for it (with backoff, up to
    /// [`PROGRESS_PATIENCE`]) rather than being lost: a lost hang-up would keep the call, its
    /// agent and its contact busy until the watchdog's limit.
    pub async fn follow_progress(
        self,
        mut reports: tokio::sync::mpsc::UnboundedReceiver<ProgressReport>,
    ) {
        while let Some(report) = reports.recv().await {
            let identity = Identity::system(&report.org_id, "telephony");
            // Each report is its own trace: the events it records carry it to their consumers.
            let span = tracing::info_span!("provider_progress", call_id = %report.call_id);
            self.apply_progress(&identity, report)
                .instrument(span)
                .await;
        }
    }

    /// Applies one provider report, waiting for the database (with backoff, up to
    /// [`PROGRESS_PATIENCE`]) while it is unavailable.
    async fn apply_progress(&self, identity: &Identity, report: ProgressReport) {
        let call_id = report.call_id;
        // When the provider said so, however long the database makes it wait.
        let at = Utc::now();
        let received = std::time::Instant::now();
        let mut pause = PROGRESS_FIRST_PAUSE;
        loop {
            let (leg, progress) = (report.leg.clone(), report.progress.clone());
            let failed_over_from = report.failed_over_from;
            match self
                .report(identity, call_id, leg, failed_over_from, progress, at)
                .await
            {
                Ok(_) => return,
                Err(e) if e.kind != ErrorKind::Unavailable => {
                    debug!(%call_id, error = %e, "provider progress not applied");
                    return;
                }
                Err(e) if received.elapsed() >= PROGRESS_PATIENCE => {
                    error!(%call_id, error = %e, "provider progress lost; the watchdog will settle the call");
                    return;
                }
                Err(e) => {
                    warn!(%call_id, error = %e, "provider progress waits for the database");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(PROGRESS_LAST_PAUSE);
                }
            }
        }
    }
}

/// A call's customer's number and the organization's: the caller and the number called for an
/// inbound call, the callee and the number called from (if not the carrier's default) for an
/// outbound one.
fn parties(call: &Call) -> (Option<domain::PhoneNumber>, Option<domain::PhoneNumber>) {
    match call.direction {
        Direction::Inbound => (call.from.clone(), Some(call.to.clone())),
        _ => (Some(call.to.clone()), call.from.clone()),
    }
}

/// A carrier's refusal of a request someone waits for: a 4xx is the carrier's no (its words
/// say why), anything else is a carrier that may take it later.
fn carrier_error(error: TelephonyError) -> ApiError {
    match error {
        TelephonyError::Refused { .. } | TelephonyError::NotFound { .. } => {
            ApiError::new(ErrorKind::FailedPrecondition, error.to_string())
        }
        TelephonyError::Unavailable { .. } => {
            ApiError::new(ErrorKind::Unavailable, error.to_string())
        }
    }
}

fn record_metrics(events: &[CallEvent], call: &Call) {
    for event in events {
        match event {
            CallEvent::Started(_) => {
                metrics::counter!("comms_calls_total", "direction" => "outbound").increment(1);
                metrics::gauge!("comms_calls_active").increment(1.0);
            }
            CallEvent::Ended(ended) => {
                metrics::histogram!("comms_call_duration_seconds").record(ended.duration as f64);
            }
            _ => {}
        }
        let finishes = matches!(
            event,
            CallEvent::Ended(_) | CallEvent::Failed(_) | CallEvent::Canceled(_)
        );
        if finishes {
            metrics::gauge!("comms_calls_active").decrement(1.0);
            metrics::counter!("comms_calls_finished_total", "status" => call.status.as_str())
                .increment(1);
        }
    }
}

/// The store's errors in the API's terms: a call of another organization is not found; the rest
/// as every unit of work reports them (a lost race is `ABORTED`, and retried).
/// An inbound call's id, from its carrier's: the carrier's repeated requests and its callbacks
/// (which name only its own id) find the same call.
pub fn inbound_call_id(org: &str, leg: &CarrierLeg) -> Uuid {
    Uuid::new_v5(
        &Uuid::NAMESPACE_URL,
        format!("comms:inbound:{org}:{}:{}", leg.carrier.as_str(), leg.id).as_bytes(),
    )
}

fn store_error(error: StoreError) -> ApiError {
    match error {
        StoreError::TenantMismatch { stream } => {
            ApiError::not_found("call", stream.split_once('-').map_or("", |(_, id)| id))
        }
        other => comms_eventstore::unit_of_work::api_error(other),
    }
}
