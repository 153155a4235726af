//! The `comms.v1.CallsService` gRPC API: decode and validate, identify the caller, run the
//! command, map errors through the one table.

use chrono::{DateTime, Utc};
use comms_auth::{Identity, Permission, Scope, Tokens};
use comms_proto::v1::agents_service_client::AgentsServiceClient;
use comms_proto::v1::calls_service_server::CallsService;
use comms_proto::v1::campaigns_service_client::CampaignsServiceClient;
use comms_proto::v1::{self, CallDirection};
use comms_proto::{ApiError, ErrorKind, Violations, time};
use comms_runtime::client::Channel;
use tonic::metadata::MetadataMap;
use tonic::{Code, Request, Response, Status};
use tracing::Instrument as _;
use uuid::Uuid;

mod ivr;
mod messages;
mod numbers;
mod recordings;
mod supervision;

pub use messages::MessagesGrpc;

use crate::app::Calls;
use crate::domain::{
    CallStatus, Carrier, CarrierLeg, Command, Direction, DomainError, Language, MonitorMode,
    PhoneNumber, RecordingAction, RecordingPolicy, check_text,
};
use crate::ivr::IvrFlows;
use crate::numbers::Numbers;
use crate::telephony::{twilio, vonage};
use crate::view::{CallView, Cursor, ListFilter};

const MAX_IDEMPOTENCY_KEY: usize = 128;
const MAX_REASON: usize = 500;
/// What an answering machine hears after its beep (a campaign's `voicemail_message`).
const MAX_VOICEMAIL: usize = 500;

pub struct CallsGrpc {
    calls: Calls,
    numbers: Numbers,
    flows: IvrFlows,
    agents: AgentsServiceClient<Channel>,
    campaigns: CampaignsServiceClient<Channel>,
    tokens: Tokens,
}

/// The domain's refusals in the API's terms: the service's error table, with the store's failures
/// (`comms_eventstore::unit_of_work::api_error`) and `ApiError`'s own mapping to gRPC status codes
/// and HTTP problems.
impl From<DomainError> for ApiError {
    fn from(error: DomainError) -> Self {
        match &error {
            DomainError::AlreadyExists => {
                ApiError::new(ErrorKind::AlreadyExists, error.to_string())
            }
            DomainError::NotFound => ApiError::new(ErrorKind::NotFound, error.to_string()),
            DomainError::IllegalTransition { .. }
            | DomainError::IllegalRecording { .. }
            | DomainError::NotWaiting(_)
            | DomainError::NotConnected(_) => {
                ApiError::new(ErrorKind::FailedPrecondition, error.to_string())
            }
            DomainError::Invalid { field, reason } => ApiError::invalid(*field, reason.clone()),
        }
    }
}

impl CallsGrpc {
    /// `tokens` verifies the service tokens callers present; `agents` and `campaigns` vouch for
    /// the agents and campaigns named on new calls.
    pub fn new(
        calls: Calls,
        numbers: Numbers,
        flows: IvrFlows,
        agents: AgentsServiceClient<Channel>,
        campaigns: CampaignsServiceClient<Channel>,
        tokens: Tokens,
    ) -> Self {
        Self {
            calls,
            numbers,
            flows,
            agents,
            campaigns,
            tokens,
        }
    }

    /// Refuses ids in a new call that name nothing the caller can reach: an unknown agent or
    /// campaign, or another organization's. The agents and campaigns services decide, asked with
    /// the caller's own token, so they answer exactly as they would answer the caller.
    async fn check_references(
        &self,
        metadata: &MetadataMap,
        agent_id: Option<Uuid>,
        campaign_id: Option<Uuid>,
    ) -> Result<(), Status> {
        let mut violations = Violations::default();
        if let Some(id) = agent_id {
            let request = forwarded(metadata, v1::GetAgentRequest { id: id.to_string() });
            let found = self.agents.clone().get_agent(request).await.map(|_| ());
            check_reference(&mut violations, "agent_id", "agent", id, found)?;
        }
        if let Some(id) = campaign_id {
            let request = forwarded(metadata, v1::GetCampaignRequest { id: id.to_string() });
            let found = self
                .campaigns
                .clone()
                .get_campaign(request)
                .await
                .map(|_| ());
            check_reference(&mut violations, "campaign_id", "campaign", id, found)?;
        }
        Ok(violations.finish_as_unknown_reference()?)
    }

    /// The verified caller, and which calls `permission` lets them reach.
    fn caller<T>(
        &self,
        request: &Request<T>,
        permission: Permission,
    ) -> Result<(Identity, Reach), Status> {
        let identity = comms_auth::service::identify(&self.tokens, request.metadata())?;
        tracing::Span::current().record("org_id", identity.org_id.as_str());
        let reach = match identity.require(permission)? {
            // No calls permission is granted per team (see the table); were one, the whole
            // organization would be too wide, so it would be refused here first.
            Scope::Organization => Reach::Organization,
            Scope::Own => Reach::Agent(Uuid::parse_str(&identity.user_id).ok()),
            Scope::Team => return Err(ApiError::internal().into()),
        };
        Ok((identity, reach))
    }

    /// The call, if the caller may see it; another agent's call is as unknown as another
    /// organization's.
    async fn reachable(
        &self,
        identity: &Identity,
        reach: Reach,
        id: Uuid,
    ) -> Result<CallView, Status> {
        let view = self.calls.get(identity, id).await?;
        if !reach.covers(&view) {
            return Err(ApiError::not_found("call", &id.to_string()).into());
        }
        Ok(view)
    }
}

/// The calls a caller can reach within their organization.
#[derive(Debug, Clone, Copy)]
enum Reach {
    Organization,
    /// An agent reaches the calls assigned to them: `agent_id` is their user id. A user whose id
    /// is not a UUID is no agent and reaches none.
    Agent(Option<Uuid>),
}

impl Reach {
    fn covers(self, view: &CallView) -> bool {
        match self {
            Self::Organization => true,
            Self::Agent(me) => me.is_some() && view.call.agent_id == me,
        }
    }
}

/// A request to another service on the caller's behalf: their token and the trace.
fn forwarded<T>(metadata: &MetadataMap, message: T) -> Request<T> {
    let mut request = Request::new(message);
    comms_auth::service::forward(metadata, request.metadata_mut());
    comms_telemetry::inject_grpc(request.metadata_mut());
    request
}

/// Records a reference the other service does not show the caller as a field violation; any
/// other failure of that service is the caller's to retry.
fn check_reference(
    violations: &mut Violations,
    field: &str,
    what: &str,
    id: Uuid,
    found: Result<(), Status>,
) -> Result<(), ApiError> {
    match found {
        Ok(()) => Ok(()),
        Err(status) if matches!(status.code(), Code::NotFound | Code::PermissionDenied) => {
            violations.add(
                field,
                format!("no {what} {id} in your organization that you can reach"),
            );
            Ok(())
        }
        Err(status) => Err(ApiError::new(
            ErrorKind::Unavailable,
            format!(
                "cannot check {field} with the {what}s service ({}); retry",
                status.message()
            ),
        )),
    }
}

/// A span for one RPC, continuing the caller's trace from the request metadata.
/// The carrier's line named by a request: a carrier we know and an id it could have made.
fn carrier_leg(carrier: &str, id: &str) -> Result<CarrierLeg, String> {
    let carrier = carrier_named(carrier)?;
    carrier_id(id, "call")?;
    Ok(CarrierLeg {
        carrier,
        id: id.to_owned(),
    })
}

/// A carrier a carrier's request names: Twilio or Vonage.
fn carrier_named(carrier: &str) -> Result<Carrier, String> {
    match Carrier::parse(carrier) {
        Some(carrier @ (Carrier::Twilio | Carrier::Vonage)) => Ok(carrier),
        _ => Err(format!("{carrier:?} is not a carrier (twilio or vonage)")),
    }
}

/// An id a carrier could have made for a `what` (a call, a message).
fn carrier_id(id: &str, what: &str) -> Result<(), String> {
    let id_ok =
        (1..=128).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if id_ok {
        Ok(())
    } else {
        Err(format!(
            "required: the carrier's id for the {what}, 1-128 letters, digits or -"
        ))
    }
}

fn rpc_span<T>(name: &'static str, request: &Request<T>) -> tracing::Span {
    let span = tracing::info_span!(
        "rpc",
        rpc.service = "comms.v1.CallsService",
        rpc.method = name,
        org_id = tracing::field::Empty
    );
    comms_telemetry::continue_trace(&span, comms_telemetry::grpc_traceparent(request.metadata()));
    span
}

fn parse_id(field: &str, value: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(value).map_err(|_| ApiError::invalid(field, format!("{value:?} is not a UUID")))
}

/// An optional UUID field: empty means absent.
fn optional_id(violations: &mut Violations, field: &str, value: &str) -> Option<Uuid> {
    if value.is_empty() {
        return None;
    }
    violations.check(
        field,
        parse_id(field, value).map_err(|e| e.violations[0].description.clone()),
    )
}

fn from_timestamp(
    field: &str,
    ts: Option<prost_types::Timestamp>,
) -> Result<Option<DateTime<Utc>>, ApiError> {
    ts.map(|ts| {
        time::from_timestamp(&ts).ok_or_else(|| ApiError::invalid(field, "timestamp out of range"))
    })
    .transpose()
}

fn status_to_proto(status: CallStatus) -> v1::CallStatus {
    match status {
        CallStatus::Initiated => v1::CallStatus::Initiated,
        CallStatus::Ringing => v1::CallStatus::Ringing,
        CallStatus::Answered => v1::CallStatus::Answered,
        CallStatus::Ended => v1::CallStatus::Ended,
        CallStatus::Failed => v1::CallStatus::Failed,
        CallStatus::NoAnswer => v1::CallStatus::NoAnswer,
        CallStatus::Busy => v1::CallStatus::Busy,
        CallStatus::Canceled => v1::CallStatus::Canceled,
    }
}

fn status_from_proto(value: i32) -> Option<CallStatus> {
    let status = v1::CallStatus::try_from(value).ok()?;
    CallStatus::ALL
        .into_iter()
        .find(|s| status_to_proto(*s) == status)
}

/// A recording policy a request names (never, on_demand, always), `None` when it names none.
fn recording_policy(
    violations: &mut Violations,
    field: &str,
    value: &str,
) -> Option<RecordingPolicy> {
    if value.is_empty() {
        return None;
    }
    violations.check(
        field,
        RecordingPolicy::parse(value)
            .ok_or_else(|| format!("{value:?} is not one of never, on_demand, always")),
    )
}

pub fn to_proto(view: CallView) -> v1::Call {
    let call = view.call;
    v1::Call {
        id: call.id.to_string(),
        organization_id: view.organization_id,
        direction: match call.direction {
            Direction::Outbound => CallDirection::Outbound,
            Direction::Inbound => CallDirection::Inbound,
        } as i32,
        status: status_to_proto(call.status) as i32,
        to: call.to.to_string(),
        from: call.from.map(|f| f.to_string()).unwrap_or_default(),
        agent_id: call.agent_id.map(|id| id.to_string()).unwrap_or_default(),
        campaign_id: call
            .campaign_id
            .map(|id| id.to_string())
            .unwrap_or_default(),
        language: call.language.as_str().to_owned(),
        notes: call.notes,
        disposition: call.disposition,
        tags: call.tags,
        end_reason: call.end_reason,
        duration_seconds: call.duration_seconds,
        created_at: Some(time::to_timestamp(call.created_at)),
        answered_at: call.answered_at.map(time::to_timestamp),
        ended_at: call.ended_at.map(time::to_timestamp),
        updated_at: Some(time::to_timestamp(call.updated_at)),
        version: view.version,
        carrier: call
            .carrier
            .as_ref()
            .map(|leg| leg.carrier.as_str().to_owned())
            .unwrap_or_default(),
        carrier_call_id: call.carrier.map(|leg| leg.id).unwrap_or_default(),
        answered_by: call
            .answered_by
            .map(|verdict| verdict.as_str().to_owned())
            .unwrap_or_default(),
        recording_policy: call.recording_policy.as_str().to_owned(),
        recording_state: call
            .recording_state
            .map(|state| state.as_str().to_owned())
            .unwrap_or_default(),
        has_recording: call.recording.is_some(),
        ivr_flow_id: call
            .ivr
            .as_ref()
            .map(|ivr| ivr.flow.flow_id.to_string())
            .unwrap_or_default(),
        ivr_flow_version: call.ivr.as_ref().map_or(0, |ivr| ivr.flow.version),
        ivr_node: call.ivr.and_then(|ivr| ivr.node).unwrap_or_default(),
        announcement: call.announcement.unwrap_or_default(),
        monitors: call
            .monitors
            .into_iter()
            .map(|(supervisor_id, mode)| v1::CallMonitor {
                supervisor_id,
                mode: mode.as_str().to_owned(),
            })
            .collect(),
    }
}

#[tonic::async_trait]
impl CallsService for CallsGrpc {
    async fn initiate_call(
        &self,
        request: Request<v1::InitiateCallRequest>,
    ) -> Result<Response<v1::Call>, Status> {
        let span = rpc_span("InitiateCall", &request);
        async move {
            let (identity, reach) = self.caller(&request, Permission::CallsWrite)?;
            let metadata = request.metadata().clone();
            let req = request.into_inner();
            let mut violations = Violations::default();
            let to = if req.to.is_empty() {
                violations.add(
                    "to",
                    "required: the E.164 number to call, e.g. +14155550100",
                );
                None
            } else {
                violations.check("to", PhoneNumber::parse(&req.to))
            };
            let from = if req.from.is_empty() {
                None
            } else {
                violations.check("from", PhoneNumber::parse(&req.from))
            };
            let agent_id = optional_id(&mut violations, "agent_id", &req.agent_id);
            let campaign_id = optional_id(&mut violations, "campaign_id", &req.campaign_id);
            let language = if req.language.is_empty() {
                Some(Language::En)
            } else {
                violations.check("language", Language::parse(&req.language))
            };
            let recording = recording_policy(&mut violations, "recording", &req.recording);
            if req.idempotency_key.len() > MAX_IDEMPOTENCY_KEY {
                violations.add(
                    "idempotency_key",
                    format!("at most {MAX_IDEMPOTENCY_KEY} characters"),
                );
            }
            violations.finish()?;
            let agent_id = match (reach, agent_id) {
                (Reach::Organization, agent_id) => agent_id,
                (Reach::Agent(Some(me)), None) => Some(me),
                (Reach::Agent(Some(me)), Some(other)) if other == me => Some(me),
                (Reach::Agent(_), _) => {
                    return Err(ApiError::new(
                        ErrorKind::PermissionDenied,
                        "missing permission calls:write for other agents' calls (role agent places calls as itself)",
                    )
                    .into());
                }
            };
            // An agent placing a call as themselves needs no vouching for.
            let named_agent = agent_id.filter(|_| matches!(reach, Reach::Organization));
            self.check_references(&metadata, named_agent, campaign_id)
                .await?;
            let (to, language) = (to.expect("validated"), language.expect("validated"));
            let key = Some(req.idempotency_key.as_str()).filter(|k| !k.is_empty());
            // A campaign's calls are screened for answering machines where the carrier can.
            let detect_machines = campaign_id.is_some() && self.calls.detects_machines();
            let view = self
                .calls
                .initiate(&identity, key, |call_id| Command::Initiate {
                    call_id,
                    to: to.clone(),
                    from: from.clone(),
                    agent_id,
                    campaign_id,
                    language,
                    detect_machines,
                    recording: self.calls.recording_policy(recording),
                    announcement: None,
                    at: Utc::now(),
                })
                .await?;
            Ok(Response::new(to_proto(view)))
        }
        .instrument(span)
        .await
    }

    async fn get_call(
        &self,
        request: Request<v1::GetCallRequest>,
    ) -> Result<Response<v1::Call>, Status> {
        let span = rpc_span("GetCall", &request);
        async move {
            let (identity, reach) = self.caller(&request, Permission::CallsRead)?;
            let id = parse_id("id", &request.get_ref().id)?;
            Ok(Response::new(to_proto(
                self.reachable(&identity, reach, id).await?,
            )))
        }
        .instrument(span)
        .await
    }

    async fn list_calls(
        &self,
        request: Request<v1::ListCallsRequest>,
    ) -> Result<Response<v1::ListCallsResponse>, Status> {
        let span = rpc_span("ListCalls", &request);
        async move {
            let (identity, reach) = self.caller(&request, Permission::CallsRead)?;
            let req = request.into_inner();
            let mut violations = Violations::default();
            let mut statuses = Vec::new();
            for value in &req.statuses {
                match status_from_proto(*value) {
                    Some(status) => statuses.push(status),
                    None => violations.add("statuses", format!("{value} is not a call status")),
                }
            }
            let mut filter = ListFilter {
                statuses,
                agent_id: optional_id(&mut violations, "agent_id", &req.agent_id),
                campaign_id: optional_id(&mut violations, "campaign_id", &req.campaign_id),
                created_after: violations
                    .check(
                        "created_after",
                        from_timestamp("created_after", req.created_after),
                    )
                    .flatten(),
                created_before: violations
                    .check(
                        "created_before",
                        from_timestamp("created_before", req.created_before),
                    )
                    .flatten(),
            };
            let page_size = comms_proto::page::page_size(req.page.as_ref());
            let after = violations
                .check("page_token", Cursor::of(req.page.as_ref()))
                .flatten();
            violations.finish()?;
            if let Reach::Agent(me) = reach {
                // An agent lists only their own calls; asking for another agent's finds none.
                if me.is_none() || filter.agent_id.is_some_and(|asked| Some(asked) != me) {
                    return Ok(Response::new(v1::ListCallsResponse {
                        calls: Vec::new(),
                        page: Some(v1::PageInfo::default()),
                    }));
                }
                filter.agent_id = me;
            }
            let (calls, next) = self
                .calls
                .list(&identity, &filter, after, page_size)
                .await?;
            Ok(Response::new(v1::ListCallsResponse {
                calls: calls.into_iter().map(to_proto).collect(),
                page: Some(v1::PageInfo {
                    next_page_token: next.map(Cursor::encode).unwrap_or_default(),
                }),
            }))
        }
        .instrument(span)
        .await
    }

    async fn update_call(
        &self,
        request: Request<v1::UpdateCallRequest>,
    ) -> Result<Response<v1::Call>, Status> {
        let span = rpc_span("UpdateCall", &request);
        async move {
            let (identity, reach) = self.caller(&request, Permission::CallsWrite)?;
            let req = request.into_inner();
            let id = parse_id("id", &req.id)?;
            self.reachable(&identity, reach, id).await?;
            let tags = req.tags.map(|t| t.values);
            let view = self
                .calls
                .execute(&identity, id, || Command::Update {
                    notes: req.notes.clone(),
                    disposition: req.disposition.clone(),
                    tags: tags.clone(),
                    at: Utc::now(),
                })
                .await?;
            Ok(Response::new(to_proto(view)))
        }
        .instrument(span)
        .await
    }

    async fn end_call(
        &self,
        request: Request<v1::EndCallRequest>,
    ) -> Result<Response<v1::Call>, Status> {
        let span = rpc_span("EndCall", &request);
        async move {
            let (identity, reach) = self.caller(&request, Permission::CallsWrite)?;
            let req = request.into_inner();
            let id = parse_id("id", &req.id)?;
            self.reachable(&identity, reach, id).await?;
            let reason = if req.reason.is_empty() {
                "hung up by caller".to_owned()
            } else {
                req.reason
            };
            check_text("reason", &reason, MAX_REASON).map_err(ApiError::from)?;
            check_text("message", &req.message, MAX_VOICEMAIL).map_err(ApiError::from)?;
            let voicemail = Some(req.message).filter(|m| !m.trim().is_empty());
            let view = self
                .calls
                .finish_saying(&identity, id, voicemail, || Command::End {
                    reason: reason.clone(),
                    at: Utc::now(),
                })
                .await?;
            Ok(Response::new(to_proto(view)))
        }
        .instrument(span)
        .await
    }

    async fn report_carrier_callback(
        &self,
        request: Request<v1::ReportCarrierCallbackRequest>,
    ) -> Result<Response<v1::ReportCarrierCallbackResponse>, Status> {
        let span = rpc_span("ReportCarrierCallback", &request);
        async move {
            let (identity, _) = self.caller(&request, Permission::CallsCarrier)?;
            let req = request.into_inner();
            let mut violations = Violations::default();
            // An inbound call is named by its carrier's id alone.
            let id = match req.call_id.as_str() {
                "" => carrier_leg(&req.carrier, &req.carrier_call_id)
                    .ok()
                    .map(|leg| crate::app::inbound_call_id(&identity.org_id, &leg)),
                given => violations.check(
                    "call_id",
                    Uuid::parse_str(given).map_err(|_| format!("{given:?} is not a UUID")),
                ),
            };
            let carrier = violations.check(
                "carrier",
                match Carrier::parse(&req.carrier) {
                    Some(carrier @ (Carrier::Twilio | Carrier::Vonage)) => Ok(carrier),
                    _ => Err(format!(
                        "{:?} is not a carrier (twilio or vonage)",
                        req.carrier
                    )),
                },
            );
            let progress = match carrier {
                Some(Carrier::Twilio) if !req.answered_by.is_empty() => violations.check(
                    "answered_by",
                    twilio::detection_of(&req.answered_by).map(Some),
                ),
                Some(Carrier::Twilio) => {
                    violations.check("status", twilio::progress_of(&req.status))
                }
                Some(Carrier::Vonage) if !req.answered_by.is_empty() => violations.check(
                    "answered_by",
                    vonage::detection_of(&req.answered_by).map(Some),
                ),
                Some(Carrier::Vonage) => violations.check(
                    "status",
                    vonage::progress_of(&req.status, req.duration_seconds),
                ),
                _ => None,
            };
            let leg = carrier.and_then(|carrier| {
                violations.check(
                    "carrier_call_id",
                    carrier_leg(carrier.as_str(), &req.carrier_call_id),
                )
            });
            if req.agent_leg && req.supervisor_leg {
                violations.add(
                    "supervisor_leg",
                    "a leg is the agent's or a supervisor's, not both",
                );
            }
            violations.finish()?;
            let (Some(id), Some(leg), Some(progress)) = (id, leg, progress) else {
                unreachable!("each is recorded as a violation when absent");
            };
            if req.agent_leg || req.supervisor_leg {
                let calls = &self.calls;
                let (view, applied) = if req.agent_leg {
                    calls
                        .agent_leg_progress(&identity, id, leg, progress)
                        .await?
                } else {
                    calls
                        .supervisor_leg_progress(&identity, id, leg, progress)
                        .await?
                };
                return Ok(Response::new(v1::ReportCarrierCallbackResponse {
                    call: Some(to_proto(view)),
                    applied,
                }));
            }
            let (view, applied) = self
                .calls
                .report(&identity, id, Some(leg), None, progress, Utc::now())
                .await?;
            Ok(Response::new(v1::ReportCarrierCallbackResponse {
                call: Some(to_proto(view)),
                applied,
            }))
        }
        .instrument(span)
        .await
    }

    async fn report_recording(
        &self,
        request: Request<v1::ReportRecordingRequest>,
    ) -> Result<Response<v1::Call>, Status> {
        let span = rpc_span("ReportRecording", &request);
        recordings::report_recording(self, request)
            .instrument(span)
            .await
    }

    async fn reroute_waiting_call(
        &self,
        request: Request<v1::RerouteWaitingCallRequest>,
    ) -> Result<Response<v1::Call>, Status> {
        let span = rpc_span("RerouteWaitingCall", &request);
        supervision::reroute_waiting_call(self, request)
            .instrument(span)
            .await
    }

    async fn monitor_call(
        &self,
        request: Request<v1::MonitorCallRequest>,
    ) -> Result<Response<v1::Call>, Status> {
        let span = rpc_span("MonitorCall", &request);
        supervision::monitor_call(self, request)
            .instrument(span)
            .await
    }

    async fn control_recording(
        &self,
        request: Request<v1::ControlRecordingRequest>,
    ) -> Result<Response<v1::Call>, Status> {
        let span = rpc_span("ControlRecording", &request);
        recordings::control_recording(self, request)
            .instrument(span)
            .await
    }

    async fn delete_recording(
        &self,
        request: Request<v1::GetCallRequest>,
    ) -> Result<Response<v1::Call>, Status> {
        let span = rpc_span("DeleteRecording", &request);
        recordings::delete_recording(self, request)
            .instrument(span)
            .await
    }

    async fn get_recording(
        &self,
        request: Request<v1::GetCallRequest>,
    ) -> Result<Response<v1::CallRecording>, Status> {
        let span = rpc_span("GetRecording", &request);
        recordings::get_recording(self, request)
            .instrument(span)
            .await
    }

    async fn receive_call(
        &self,
        request: Request<v1::ReceiveCallRequest>,
    ) -> Result<Response<v1::Call>, Status> {
        let span = rpc_span("ReceiveCall", &request);
        numbers::receive_call(self, request).instrument(span).await
    }

    async fn assign_number(
        &self,
        request: Request<v1::AssignNumberRequest>,
    ) -> Result<Response<v1::Number>, Status> {
        let span = rpc_span("AssignNumber", &request);
        numbers::assign_number(self, request).instrument(span).await
    }

    async fn get_number(
        &self,
        request: Request<v1::GetNumberRequest>,
    ) -> Result<Response<v1::Number>, Status> {
        let span = rpc_span("GetNumber", &request);
        numbers::get_number(self, request).instrument(span).await
    }

    async fn list_numbers(
        &self,
        request: Request<v1::ListNumbersRequest>,
    ) -> Result<Response<v1::ListNumbersResponse>, Status> {
        let span = rpc_span("ListNumbers", &request);
        numbers::list_numbers(self, request).instrument(span).await
    }

    async fn update_number(
        &self,
        request: Request<v1::UpdateNumberRequest>,
    ) -> Result<Response<v1::Number>, Status> {
        let span = rpc_span("UpdateNumber", &request);
        numbers::update_number(self, request).instrument(span).await
    }

    async fn release_number(
        &self,
        request: Request<v1::GetNumberRequest>,
    ) -> Result<Response<v1::Number>, Status> {
        let span = rpc_span("ReleaseNumber", &request);
        numbers::release_number(self, request)
            .instrument(span)
            .await
    }

    async fn create_ivr_flow(
        &self,
        request: Request<v1::CreateIvrFlowRequest>,
    ) -> Result<Response<v1::IvrFlow>, Status> {
        let span = rpc_span("CreateIvrFlow", &request);
        ivr::create_ivr_flow(self, request).instrument(span).await
    }

    async fn get_ivr_flow(
        &self,
        request: Request<v1::GetIvrFlowRequest>,
    ) -> Result<Response<v1::IvrFlow>, Status> {
        let span = rpc_span("GetIvrFlow", &request);
        ivr::get_ivr_flow(self, request).instrument(span).await
    }

    async fn list_ivr_flows(
        &self,
        request: Request<v1::ListIvrFlowsRequest>,
    ) -> Result<Response<v1::ListIvrFlowsResponse>, Status> {
        let span = rpc_span("ListIvrFlows", &request);
        ivr::list_ivr_flows(self, request).instrument(span).await
    }

    async fn update_ivr_flow(
        &self,
        request: Request<v1::UpdateIvrFlowRequest>,
    ) -> Result<Response<v1::IvrFlow>, Status> {
        let span = rpc_span("UpdateIvrFlow", &request);
        ivr::update_ivr_flow(self, request).instrument(span).await
    }

    async fn delete_ivr_flow(
        &self,
        request: Request<v1::GetIvrFlowRequest>,
    ) -> Result<Response<v1::IvrFlow>, Status> {
        let span = rpc_span("DeleteIvrFlow", &request);
        ivr::delete_ivr_flow(self, request).instrument(span).await
    }

    async fn validate_ivr_flow(
        &self,
        request: Request<v1::ValidateIvrFlowRequest>,
    ) -> Result<Response<v1::ValidateIvrFlowResponse>, Status> {
        let span = rpc_span("ValidateIvrFlow", &request);
        ivr::validate_ivr_flow(self, request).instrument(span).await
    }

    async fn publish_ivr_flow(
        &self,
        request: Request<v1::PublishIvrFlowRequest>,
    ) -> Result<Response<v1::IvrFlow>, Status> {
        let span = rpc_span("PublishIvrFlow", &request);
        ivr::publish_ivr_flow(self, request).instrument(span).await
    }

    async fn get_ivr_flow_version(
        &self,
        request: Request<v1::GetIvrFlowVersionRequest>,
    ) -> Result<Response<v1::IvrFlowVersion>, Status> {
        let span = rpc_span("GetIvrFlowVersion", &request);
        ivr::get_ivr_flow_version(self, request)
            .instrument(span)
            .await
    }

    async fn simulate_ivr_flow(
        &self,
        request: Request<v1::SimulateIvrFlowRequest>,
    ) -> Result<Response<v1::IvrSimulation>, Status> {
        let span = rpc_span("SimulateIvrFlow", &request);
        ivr::simulate_ivr_flow(self, request).instrument(span).await
    }

    async fn walk_ivr(
        &self,
        request: Request<v1::WalkIvrRequest>,
    ) -> Result<Response<v1::IvrTurn>, Status> {
        let span = rpc_span("WalkIvr", &request);
        ivr::walk_ivr(self, request).instrument(span).await
    }

    async fn get_ivr_flow_report(
        &self,
        request: Request<v1::GetIvrFlowRequest>,
    ) -> Result<Response<v1::IvrFlowReport>, Status> {
        let span = rpc_span("GetIvrFlowReport", &request);
        ivr::get_ivr_flow_report(self, request)
            .instrument(span)
            .await
    }

    async fn simulate_inbound_call(
        &self,
        request: Request<v1::SimulateInboundCallRequest>,
    ) -> Result<Response<v1::Call>, Status> {
        let span = rpc_span("SimulateInboundCall", &request);
        numbers::simulate_inbound_call(self, request)
            .instrument(span)
            .await
    }
}
