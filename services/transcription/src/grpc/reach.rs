//! Who reaches which call's transcript, under `transcripts:read`: an administrator any of the
//! organization's, an agent their own calls', a supervisor their teams' agents' calls' — the
//! agents service, asked with the supervisor's own token, says which agents those are. A call
//! out of reach is as unknown as another organization's.

use comms_auth::{Identity, Permission, Scope};
use comms_events::call::CallEvent;
use comms_eventstore::{RecordedEvent, StreamName};
use comms_proto::v1::{self, GetAgentRequest};
use comms_proto::{ApiError, ErrorKind};
use tonic::metadata::MetadataMap;
use tonic::{Request, Status};
use uuid::Uuid;

use super::TranscriptionGrpc;
use crate::search::Reach;

/// The most events a call's stream or transcript is read for (a four-hour call's utterances fit).
const MOST_EVENTS: usize = 50_000;

/// A reader, and a call they reach.
pub struct InReach {
    pub identity: Identity,
    pub call: Uuid,
    /// The call's agent, if it has one.
    pub agent: Option<Uuid>,
}

impl TranscriptionGrpc {
    /// The caller, identified and holding `permission`, and how far it reaches.
    pub(super) fn caller(
        &self,
        metadata: &MetadataMap,
        permission: Permission,
    ) -> Result<(Identity, Scope), Status> {
        let identity = comms_auth::service::identify(&self.tokens, metadata)?;
        tracing::Span::current().record("org_id", identity.org_id.as_str());
        let scope = identity.require(permission)?;
        Ok((identity, scope))
    }

    /// The caller, identified and allowed to read transcripts, and how far they reach.
    pub(super) fn reader(&self, metadata: &MetadataMap) -> Result<(Identity, Scope), Status> {
        self.caller(metadata, Permission::TranscriptsRead)
    }

    /// Which calls' transcripts a reader of `scope` reaches, for lists.
    pub(super) async fn list_reach(
        &self,
        metadata: &MetadataMap,
        identity: &Identity,
        scope: Scope,
    ) -> Result<Reach, Status> {
        Ok(match scope {
            Scope::Organization => Reach::Organization,
            Scope::Own => Reach::Agents(Uuid::parse_str(&identity.user_id).into_iter().collect()),
            Scope::Team => Reach::Agents(self.led_agents(metadata).await?),
        })
    }

    /// The request's call, if the caller reaches it (404 otherwise).
    pub(super) async fn call_in_reach(
        &self,
        request: &Request<v1::GetTranscriptRequest>,
    ) -> Result<InReach, Status> {
        let (identity, scope) = self.reader(request.metadata())?;
        let value = &request.get_ref().call_id;
        let call = Uuid::parse_str(value)
            .map_err(|_| ApiError::invalid("call_id", format!("{value:?} is not a UUID")))?;
        let not_found = || Status::from(ApiError::not_found("call", &call.to_string()));
        let agent = self
            .call_agent(&identity.org_id, call)
            .await?
            .ok_or_else(not_found)?;
        let me = Uuid::parse_str(&identity.user_id).ok();
        let reached = match (scope, agent) {
            (Scope::Organization, _) => true,
            (Scope::Own, agent) => agent.is_some() && agent == me,
            (Scope::Team, None) => false,
            (Scope::Team, Some(agent)) => self.leads(request.metadata(), agent).await?,
        };
        if !reached {
            return Err(not_found());
        }
        Ok(InReach {
            identity,
            call,
            agent,
        })
    }

    /// The call's transcript, if the caller reaches it and it has one.
    pub(super) async fn readable(
        &self,
        request: &Request<v1::GetTranscriptRequest>,
    ) -> Result<(Uuid, Vec<RecordedEvent>), Status> {
        let InReach { identity, call, .. } = self.call_in_reach(request).await?;
        let events = self.stream(&identity.org_id, "transcript", call).await?;
        if events.is_empty() {
            return Err(not_found(format!("call {call} has no transcript")));
        }
        Ok((call, events))
    }

    /// The caller, identified and allowed to delete transcripts and set their retention.
    pub(super) fn manager(&self, metadata: &MetadataMap) -> Result<Identity, Status> {
        Ok(self.caller(metadata, Permission::TranscriptsManage)?.0)
    }

    /// A stream's events in `org`; none for another organization's.
    pub(super) async fn stream(
        &self,
        org: &str,
        category: &str,
        id: Uuid,
    ) -> Result<Vec<RecordedEvent>, Status> {
        let events = self
            .store
            .read_stream(&StreamName::new(category, id), 0, MOST_EVENTS)
            .await
            .map_err(|e| Status::from(comms_eventstore::unit_of_work::api_error(e)))?;
        Ok(events.into_iter().filter(|e| e.tenant_id == org).collect())
    }

    /// The agent of call `id` of `org` (`Some(None)` while it has none); `None` when the
    /// organization has no such call.
    pub(super) async fn call_agent(
        &self,
        org: &str,
        id: Uuid,
    ) -> Result<Option<Option<Uuid>>, Status> {
        let call = self.stream(org, "call", id).await?;
        if call.is_empty() {
            return Ok(None);
        }
        Ok(Some(
            call.iter()
                .filter_map(|e| comms_bus::decode_recorded::<CallEvent>(e).ok())
                .fold(None, |agent, event| match event {
                    CallEvent::Started(started) => started.agent_id.or(agent),
                    CallEvent::AgentAssigned(assigned) => Some(assigned.agent_id),
                    _ => agent,
                }),
        ))
    }

    /// Whether the supervisor whose request this is leads `agent`.
    async fn leads(&self, metadata: &MetadataMap, agent: Uuid) -> Result<bool, Status> {
        let request = forwarded(
            metadata,
            GetAgentRequest {
                id: agent.to_string(),
            },
        );
        match self.agents.clone().get_agent(request).await {
            Ok(_) => Ok(true),
            Err(status) if status.code() == tonic::Code::NotFound => Ok(false),
            Err(status) => Err(status),
        }
    }

    /// The agents the supervisor whose request this is leads.
    pub(super) async fn led_agents(&self, metadata: &MetadataMap) -> Result<Vec<Uuid>, Status> {
        let mut agents = Vec::new();
        let mut page_token = String::new();
        loop {
            let request = forwarded(
                metadata,
                v1::ListAgentsRequest {
                    page: Some(v1::PageRequest {
                        page_size: 200,
                        page_token: page_token.clone(),
                    }),
                    ..Default::default()
                },
            );
            let page = self.agents.clone().list_agents(request).await?.into_inner();
            agents.extend(
                page.agents
                    .iter()
                    .filter_map(|a| Uuid::parse_str(&a.id).ok()),
            );
            page_token = page.page.map(|p| p.next_page_token).unwrap_or_default();
            if page_token.is_empty() {
                return Ok(agents);
            }
        }
    }
}

pub(super) fn not_found(message: String) -> Status {
    ApiError::new(ErrorKind::NotFound, message).into()
}

/// A request to another service on the caller's behalf: their token and the trace.
fn forwarded<T>(metadata: &MetadataMap, message: T) -> Request<T> {
    let mut request = Request::new(message);
    comms_auth::service::forward(metadata, request.metadata_mut());
    comms_telemetry::inject_grpc(request.metadata_mut());
    request
}
