//! `TranscriptionService` over gRPC: a call's transcript, read from its stream
//! (`transcript-<call uuid>`) in the caller's organization, for whom `transcripts:read` reaches —
//! an agent their own calls, a supervisor their teams' agents' calls (the agents service, asked
//! with the caller's own token, says whether the call's agent is theirs), an administrator any.
//! A call out of reach is as unknown as another organization's.

use comms_auth::{Identity, Permission, Scope};
use comms_events::call::{CallEvent, Sentiment, SentimentScope, Summarized};
use comms_eventstore::{EventStore, RecordedEvent, StreamName};
use comms_proto::v1::agents_service_client::AgentsServiceClient;
use comms_proto::v1::transcription_service_server::TranscriptionService;
use comms_proto::v1::{self, GetAgentRequest};
use comms_proto::{ApiError, ErrorKind};
use comms_runtime::client::Channel;
use std::sync::Arc;
use tonic::{Request, Response, Status};

use tokio_stream::wrappers::UnboundedReceiverStream;
use tracing::Instrument as _;
use uuid::Uuid;

use crate::assist::live::LiveAssist;
use crate::search::Reach;

/// The most events a call's stream or transcript is read for (a four-hour call's utterances fit).
const MOST_EVENTS: usize = 50_000;

pub struct TranscriptionGrpc {
    store: EventStore,
    pool: sqlx::PgPool,
    tokens: comms_auth::Tokens,
    agents: AgentsServiceClient<Channel>,
    assist: Arc<LiveAssist>,
}

impl TranscriptionGrpc {
    pub fn new(
        store: EventStore,
        pool: sqlx::PgPool,
        tokens: comms_auth::Tokens,
        agents: AgentsServiceClient<Channel>,
        assist: Arc<LiveAssist>,
    ) -> Self {
        Self {
            store,
            pool,
            tokens,
            agents,
            assist,
        }
    }

    /// The call's events in `org`; none for a call that is not the organization's.
    async fn stream(
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

    /// The agent of call `id` of `org` (`None` inside when it has none yet); `None` when the
    /// organization has no such call.
    async fn call_agent(&self, org: &str, id: Uuid) -> Result<Option<Option<Uuid>>, Status> {
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

    /// Whether the caller reaches call `id`, whose agent the call's stream names.
    async fn reaches(
        &self,
        identity: &Identity,
        scope: Scope,
        metadata: &tonic::metadata::MetadataMap,
        id: Uuid,
    ) -> Result<bool, Status> {
        let Some(agent) = self.call_agent(&identity.org_id, id).await? else {
            return Ok(false);
        };
        Ok(match (scope, agent) {
            (Scope::Organization, _) => true,
            (Scope::Own, agent) => {
                agent.is_some() && agent == Uuid::parse_str(&identity.user_id).ok()
            }
            (Scope::Team, None) => false,
            (Scope::Team, Some(agent)) => {
                let mut request = Request::new(GetAgentRequest {
                    id: agent.to_string(),
                });
                comms_auth::service::forward(metadata, request.metadata_mut());
                comms_telemetry::inject_grpc(request.metadata_mut());
                match self.agents.clone().get_agent(request).await {
                    Ok(_) => true,
                    Err(status) if status.code() == tonic::Code::NotFound => false,
                    Err(status) => return Err(status),
                }
            }
        })
    }
}

impl TranscriptionGrpc {
    /// The transcript's events of the request's call, if the caller reaches it.
    async fn readable(
        &self,
        request: &Request<v1::GetTranscriptRequest>,
    ) -> Result<(Uuid, Vec<RecordedEvent>), Status> {
        let identity = comms_auth::service::identify(&self.tokens, request.metadata())?;
        tracing::Span::current().record("org_id", identity.org_id.as_str());
        let scope = identity.require(Permission::TranscriptsRead)?;
        let value = &request.get_ref().call_id;
        let id = Uuid::parse_str(value)
            .map_err(|_| ApiError::invalid("call_id", format!("{value:?} is not a UUID")))?;
        if !self
            .reaches(&identity, scope, request.metadata(), id)
            .await?
        {
            return Err(ApiError::not_found("call", &id.to_string()).into());
        }
        let events = self.stream(&identity.org_id, "transcript", id).await?;
        if events.is_empty() {
            return Err(no(format!("call {id} has no transcript")));
        }
        Ok((id, events))
    }
}

fn no(message: String) -> Status {
    ApiError::new(ErrorKind::NotFound, message).into()
}

fn rpc_span<T>(name: &'static str, request: &Request<T>) -> tracing::Span {
    let span = tracing::info_span!(
        "rpc",
        rpc.service = "comms.v1.TranscriptionService",
        rpc.method = name,
        org_id = tracing::field::Empty
    );
    comms_telemetry::continue_trace(&span, comms_telemetry::grpc_traceparent(request.metadata()));
    span
}

impl TranscriptionGrpc {
    /// The agents a supervisor leads (the agents service lists only those, asked with the
    /// supervisor's own token).
    async fn led_agents(
        &self,
        metadata: &tonic::metadata::MetadataMap,
    ) -> Result<Vec<Uuid>, Status> {
        let mut agents = Vec::new();
        let mut page_token = String::new();
        loop {
            let mut request = Request::new(v1::ListAgentsRequest {
                page: Some(v1::PageRequest {
                    page_size: 200,
                    page_token: page_token.clone(),
                }),
                ..Default::default()
            });
            comms_auth::service::forward(metadata, request.metadata_mut());
            comms_telemetry::inject_grpc(request.metadata_mut());
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

#[tonic::async_trait]
impl TranscriptionService for TranscriptionGrpc {
    async fn search_transcripts(
        &self,
        request: Request<v1::SearchTranscriptsRequest>,
    ) -> Result<Response<v1::TranscriptHits>, Status> {
        let span = rpc_span("SearchTranscripts", &request);
        async move {
            let identity = comms_auth::service::identify(&self.tokens, request.metadata())?;
            tracing::Span::current().record("org_id", identity.org_id.as_str());
            let scope = identity.require(Permission::TranscriptsRead)?;
            let asked = request.get_ref();
            let mut violations = comms_proto::Violations::default();
            if asked.query.chars().count() > 200 {
                violations.add("query", "at most 200 characters");
            }
            let words = crate::search::words(&asked.query);
            let time = |field: &str,
                        at: &Option<prost_types::Timestamp>,
                        violations: &mut comms_proto::Violations| {
                at.as_ref().and_then(|at| {
                    let parsed = comms_proto::time::from_timestamp(at);
                    if parsed.is_none() {
                        violations.add(field, "not a valid time");
                    }
                    parsed
                })
            };
            let from = time("from", &asked.from, &mut violations);
            let to = time("to", &asked.to, &mut violations);
            if let (Some(from), Some(to)) = (from, to)
                && to <= from
            {
                violations.add("to", "must be after from");
            }
            if asked.limit > 100 {
                violations.add("limit", "at most 100");
            }
            violations.finish()?;
            let limit = if asked.limit == 0 {
                50
            } else {
                i64::from(asked.limit)
            };
            let reach = match scope {
                Scope::Organization => Reach::Organization,
                Scope::Own => Reach::Agents(
                    Uuid::parse_str(&identity.user_id)
                        .ok()
                        .into_iter()
                        .collect(),
                ),
                Scope::Team => Reach::Agents(self.led_agents(request.metadata()).await?),
            };
            let hits = crate::search::search(
                &self.pool,
                &identity.org_id,
                &reach,
                &words,
                from,
                to,
                limit,
            )
            .await
            .map_err(|e| Status::from(comms_eventstore::unit_of_work::api_error(e)))?;
            Ok(Response::new(v1::TranscriptHits {
                hits: hits
                    .into_iter()
                    .map(|h| v1::TranscriptHit {
                        call_id: h.call_id.to_string(),
                        speaker: h.speaker,
                        text: h.text,
                        language: h.language,
                        said_at: Some(comms_proto::time::to_timestamp(h.said_at)),
                        start_seconds: h.start_seconds,
                    })
                    .collect(),
            }))
        }
        .instrument(span)
        .await
    }

    type AssistStream = UnboundedReceiverStream<Result<v1::AssistUpdate, Status>>;

    async fn assist(
        &self,
        request: Request<v1::GetTranscriptRequest>,
    ) -> Result<Response<Self::AssistStream>, Status> {
        let span = rpc_span("Assist", &request);
        async move {
            let identity = comms_auth::service::identify(&self.tokens, request.metadata())?;
            tracing::Span::current().record("org_id", identity.org_id.as_str());
            let scope = identity.require(Permission::TranscriptsRead)?;
            let value = &request.get_ref().call_id;
            let id = Uuid::parse_str(value)
                .map_err(|_| ApiError::invalid("call_id", format!("{value:?} is not a UUID")))?;
            if !self
                .reaches(&identity, scope, request.metadata(), id)
                .await?
            {
                return Err(ApiError::not_found("call", &id.to_string()).into());
            }
            let agent = self.call_agent(&identity.org_id, id).await?.flatten();
            if agent.is_none() || agent != Uuid::parse_str(&identity.user_id).ok() {
                return Err(ApiError::new(
                    ErrorKind::PermissionDenied,
                    format!("agent assist on call {id} goes to its own agent only"),
                )
                .into());
            }
            let (updates, stream) = tokio::sync::mpsc::unbounded_channel();
            tokio::spawn(
                self.assist
                    .clone()
                    .follow(identity.org_id.clone(), id, updates)
                    .in_current_span(),
            );
            Ok(Response::new(UnboundedReceiverStream::new(stream)))
        }
        .instrument(span)
        .await
    }

    async fn get_transcript(
        &self,
        request: Request<v1::GetTranscriptRequest>,
    ) -> Result<Response<v1::Transcript>, Status> {
        let span = rpc_span("GetTranscript", &request);
        async move {
            let (id, events) = self.readable(&request).await?;
            Ok(Response::new(transcript(id, &events)))
        }
        .instrument(span)
        .await
    }

    async fn get_summary(
        &self,
        request: Request<v1::GetTranscriptRequest>,
    ) -> Result<Response<v1::CallSummary>, Status> {
        let span = rpc_span("GetSummary", &request);
        async move {
            let (id, events) = self.readable(&request).await?;
            let summarized = events
                .iter()
                .rev()
                .find_map(|e| match comms_bus::decode_recorded::<CallEvent>(e) {
                    Ok(CallEvent::Summarized(s)) => Some(s),
                    _ => None,
                })
                .ok_or_else(|| no(format!("call {id} has no summary yet")))?;
            Ok(Response::new(summary(id, summarized)))
        }
        .instrument(span)
        .await
    }
}

/// The transcript its events tell, in the order recorded.
fn transcript(id: Uuid, events: &[RecordedEvent]) -> v1::Transcript {
    let mut transcript = v1::Transcript {
        call_id: id.to_string(),
        ..Default::default()
    };
    // The caller's trend, by the utterances each window covered.
    let mut windows: Vec<(u32, String)> = Vec::new();
    for event in events {
        transcript.updated_at = Some(comms_proto::time::to_timestamp(event.recorded_at));
        let Ok(event) = comms_bus::decode_recorded::<CallEvent>(event) else {
            continue;
        };
        match event {
            CallEvent::Utterance(u) => {
                transcript.language = u.language.as_str().to_owned();
                transcript.transcriber = enum_name(&u.transcriber);
                transcript.utterances.push(v1::TranscriptUtterance {
                    speaker: enum_name(&u.speaker),
                    text: u.text,
                    start_seconds: u.start_seconds,
                    end_seconds: u.end_seconds,
                    confidence: u.confidence,
                    sentiment: String::new(),
                });
            }
            CallEvent::Sentiment(s) if s.scope == SentimentScope::Window => {
                windows.push((s.utterances, s.label.as_str().to_owned()));
            }
            CallEvent::Sentiment(s) => transcript.sentiment = Some(sentiment(&s)),
            CallEvent::SentimentAlert(_) => transcript.sentiment_alerts += 1,
            CallEvent::Transcribed(t) => {
                transcript.complete = true;
                transcript.seconds = t.seconds;
                transcript.language = t.language.as_str().to_owned();
                transcript.transcriber = enum_name(&t.transcriber);
            }
            _ => {}
        }
    }
    for (n, utterance) in transcript.utterances.iter_mut().enumerate() {
        let said = n as u32 + 1;
        if let Some((_, label)) = windows.iter().rev().find(|(covered, _)| *covered <= said) {
            utterance.sentiment = label.clone();
        }
    }
    transcript
}

pub(crate) fn sentiment(s: &Sentiment) -> v1::TranscriptSentiment {
    v1::TranscriptSentiment {
        label: s.label.as_str().to_owned(),
        score: s.score,
        reason: s.reason.clone(),
        scorer: enum_name(&s.scorer),
        model: s.model.clone().unwrap_or_default(),
    }
}

pub(crate) fn summary(call: Uuid, s: Summarized) -> v1::CallSummary {
    v1::CallSummary {
        call_id: call.to_string(),
        summary: s.summary,
        suggested_disposition: s.suggested_disposition.unwrap_or_default(),
        summarizer: enum_name(&s.summarizer),
        model: s.model.unwrap_or_default(),
        language: s.language.as_str().to_owned(),
        written_at: Some(comms_proto::time::to_timestamp(s.at)),
    }
}

/// A snake_case enum's wire name (`caller`, `deepgram`, `openai`).
pub(crate) fn enum_name(value: &impl serde::Serialize) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}
