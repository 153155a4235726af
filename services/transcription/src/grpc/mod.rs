//! `TranscriptionService` over gRPC: a call's transcript and summary read from its stream
//! (`transcript-<call uuid>`), transcripts searched, and agent assist streamed — each for whom
//! `transcripts:read` reaches ([`reach`]); the organization's knowledge notes ([`knowledge`]).

mod knowledge;
mod reach;
pub mod view;

use std::sync::Arc;

use comms_eventstore::EventStore;
use comms_proto::v1;
use comms_proto::v1::agents_service_client::AgentsServiceClient;
use comms_proto::v1::transcription_service_server::TranscriptionService;
use comms_proto::{ApiError, ErrorKind, Violations};
use comms_runtime::client::Channel;
use tokio_stream::wrappers::UnboundedReceiverStream;
use tonic::{Request, Response, Status};
use tracing::Instrument as _;
use uuid::Uuid;

use comms_events::Event as _;
use comms_events::call::{TranscriptDeleted, TranscriptDeletion};

use crate::assist::live::LiveAssist;
use reach::{InReach, not_found};

pub struct TranscriptionGrpc {
    store: EventStore,
    pool: sqlx::PgPool,
    tokens: comms_auth::Tokens,
    agents: AgentsServiceClient<Channel>,
    assist: Arc<LiveAssist>,
}

impl TranscriptionGrpc {
    /// `tokens` verifies callers' service tokens; `agents` says which agents a supervisor leads.
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

#[tonic::async_trait]
impl TranscriptionService for TranscriptionGrpc {
    async fn get_transcript(
        &self,
        request: Request<v1::GetTranscriptRequest>,
    ) -> Result<Response<v1::Transcript>, Status> {
        let span = rpc_span("GetTranscript", &request);
        async move {
            let (call, events) = self.readable(&request).await?;
            Ok(Response::new(view::transcript(call, &events)))
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
            let (call, events) = self.readable(&request).await?;
            if events
                .iter()
                .any(|e| e.event_type == TranscriptDeleted::TYPE)
            {
                return Err(not_found(format!(
                    "call {call}'s transcript was deleted, with its summary"
                )));
            }
            let summarized = events
                .iter()
                .rev()
                .find_map(|e| match comms_bus::decode_recorded(e) {
                    Ok(comms_events::call::CallEvent::Summarized(s)) => Some(s),
                    _ => None,
                })
                .ok_or_else(|| not_found(format!("call {call} has no summary yet")))?;
            Ok(Response::new(view::summary(call, summarized)))
        }
        .instrument(span)
        .await
    }

    type AssistStream = UnboundedReceiverStream<Result<v1::AssistUpdate, Status>>;

    /// For the call's own agent only: anyone else who reaches the call is refused.
    async fn assist(
        &self,
        request: Request<v1::GetTranscriptRequest>,
    ) -> Result<Response<Self::AssistStream>, Status> {
        let span = rpc_span("Assist", &request);
        async move {
            let InReach {
                identity,
                call,
                agent,
            } = self.call_in_reach(&request).await?;
            if agent.is_none() || agent != Uuid::parse_str(&identity.user_id).ok() {
                return Err(ApiError::new(
                    ErrorKind::PermissionDenied,
                    format!("agent assist on call {call} goes to its own agent only"),
                )
                .into());
            }
            let (updates, stream) = tokio::sync::mpsc::unbounded_channel();
            let following = self.assist.clone().follow(identity.org_id, call, updates);
            tokio::spawn(following.in_current_span());
            Ok(Response::new(UnboundedReceiverStream::new(stream)))
        }
        .instrument(span)
        .await
    }

    async fn get_call_sentiments(
        &self,
        request: Request<v1::GetCallSentimentsRequest>,
    ) -> Result<Response<v1::CallSentiments>, Status> {
        let span = rpc_span("GetCallSentiments", &request);
        async move {
            let (identity, scope) = self.reader(request.metadata())?;
            let asked = &request.get_ref().call_ids;
            let mut violations = Violations::default();
            if asked.len() > crate::current_sentiment::MOST_CALLS {
                violations.add(
                    "call_ids",
                    format!("at most {} calls", crate::current_sentiment::MOST_CALLS),
                );
            }
            let calls: Vec<Uuid> = asked
                .iter()
                .filter_map(|id| {
                    let parsed = Uuid::parse_str(id).ok();
                    if parsed.is_none() {
                        violations.add("call_ids", format!("{id:?} is not a UUID"));
                    }
                    parsed
                })
                .collect();
            violations.finish()?;
            let reach = self
                .list_reach(request.metadata(), &identity, scope)
                .await?;
            let now = crate::current_sentiment::of(&self.pool, &identity.org_id, &reach, &calls)
                .await
                .map_err(|e| Status::from(comms_eventstore::unit_of_work::api_error(e)))?;
            Ok(Response::new(v1::CallSentiments {
                sentiments: now.into_iter().map(view::sentiment_now).collect(),
            }))
        }
        .instrument(span)
        .await
    }

    async fn delete_transcript(
        &self,
        request: Request<v1::GetTranscriptRequest>,
    ) -> Result<Response<v1::Transcript>, Status> {
        let span = rpc_span("DeleteTranscript", &request);
        async move {
            let identity = self.manager(request.metadata())?;
            let org = identity.org_id.as_str();
            let value = &request.get_ref().call_id;
            let call = Uuid::parse_str(value)
                .map_err(|_| ApiError::invalid("call_id", format!("{value:?} is not a UUID")))?;
            if self.call_agent(org, call).await?.is_none() {
                return Err(ApiError::not_found("call", &call.to_string()).into());
            }
            let deletion = crate::retention::delete(
                &self.store,
                org,
                call,
                TranscriptDeletion::Request,
                Some(&identity.user_id),
            )
            .await?;
            if deletion.now {
                tracing::info!(%call, erased = deletion.event.erased, "transcript deleted on request");
            }
            let events = self.stream(org, "transcript", call).await?;
            Ok(Response::new(view::transcript(call, &events)))
        }
        .instrument(span)
        .await
    }

    async fn get_transcript_retention(
        &self,
        request: Request<v1::GetTranscriptRetentionRequest>,
    ) -> Result<Response<v1::TranscriptRetention>, Status> {
        let span = rpc_span("GetTranscriptRetention", &request);
        async move {
            let identity = self.manager(request.metadata())?;
            let retention = crate::retention::retention(&self.pool, &identity.org_id).await?;
            Ok(Response::new(view::retention(retention)))
        }
        .instrument(span)
        .await
    }

    async fn set_transcript_retention(
        &self,
        request: Request<v1::SetTranscriptRetentionRequest>,
    ) -> Result<Response<v1::TranscriptRetention>, Status> {
        let span = rpc_span("SetTranscriptRetention", &request);
        async move {
            let identity = self.manager(request.metadata())?;
            let days = Some(request.get_ref().days).filter(|d| *d > 0);
            let retention = crate::retention::set_retention(
                &self.store,
                &identity.org_id,
                &identity.user_id,
                days,
            )
            .await?;
            Ok(Response::new(view::retention(retention)))
        }
        .instrument(span)
        .await
    }

    async fn search_transcripts(
        &self,
        request: Request<v1::SearchTranscriptsRequest>,
    ) -> Result<Response<v1::TranscriptHits>, Status> {
        let span = rpc_span("SearchTranscripts", &request);
        async move {
            let (identity, scope) = self.reader(request.metadata())?;
            let asked = request.get_ref();
            let mut violations = Violations::default();
            if asked.query.chars().count() > 200 {
                violations.add("query", "at most 200 characters");
            }
            if asked.query.chars().any(char::is_control) {
                violations.add("query", "words, without control characters");
            }
            let mut time = |field: &str, at: &Option<prost_types::Timestamp>| {
                let at = at.as_ref()?;
                let parsed = comms_proto::time::from_timestamp(at);
                if parsed.is_none() {
                    violations.add(field, "not a valid time");
                }
                parsed
            };
            let (from, to) = (time("from", &asked.from), time("to", &asked.to));
            if let (Some(from), Some(to)) = (from, to)
                && to <= from
            {
                violations.add("to", "must be after from");
            }
            if asked.limit > 100 {
                violations.add("limit", "at most 100");
            }
            violations.finish()?;
            let reach = self
                .list_reach(request.metadata(), &identity, scope)
                .await?;
            let limit = if asked.limit == 0 {
                50
            } else {
                i64::from(asked.limit)
            };
            let words = crate::search::words(&asked.query);
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
                hits: hits.into_iter().map(view::hit).collect(),
            }))
        }
        .instrument(span)
        .await
    }

    async fn list_knowledge_notes(
        &self,
        request: Request<v1::ListKnowledgeNotesRequest>,
    ) -> Result<Response<v1::KnowledgeNotes>, Status> {
        let span = rpc_span("ListKnowledgeNotes", &request);
        let answer = self.list_notes(request.metadata(), request.get_ref());
        Ok(Response::new(answer.instrument(span).await?))
    }

    async fn get_knowledge_note(
        &self,
        request: Request<v1::KnowledgeNoteRequest>,
    ) -> Result<Response<v1::KnowledgeNote>, Status> {
        let span = rpc_span("GetKnowledgeNote", &request);
        let answer = self.get_note(request.metadata(), request.get_ref());
        Ok(Response::new(answer.instrument(span).await?))
    }

    async fn create_knowledge_note(
        &self,
        request: Request<v1::KnowledgeNoteInput>,
    ) -> Result<Response<v1::KnowledgeNote>, Status> {
        let span = rpc_span("CreateKnowledgeNote", &request);
        let answer = self.create_note(request.metadata(), request.get_ref());
        Ok(Response::new(answer.instrument(span).await?))
    }

    async fn update_knowledge_note(
        &self,
        request: Request<v1::UpdateKnowledgeNoteRequest>,
    ) -> Result<Response<v1::KnowledgeNote>, Status> {
        let span = rpc_span("UpdateKnowledgeNote", &request);
        let answer = self.update_note(request.metadata(), request.get_ref());
        Ok(Response::new(answer.instrument(span).await?))
    }

    async fn delete_knowledge_note(
        &self,
        request: Request<v1::KnowledgeNoteRequest>,
    ) -> Result<Response<v1::KnowledgeNote>, Status> {
        let span = rpc_span("DeleteKnowledgeNote", &request);
        let answer = self.delete_note(request.metadata(), request.get_ref());
        Ok(Response::new(answer.instrument(span).await?))
    }
}
