//! `/api/communications/calls/{id}/transcript`, `…/summary` and `…/assist`: a call's transcript,
//! its wrap-up summary and, for its agent during the call, agent assist as server-sent events —
//! from the transcription service (`TranscriptionService`), for whom `transcripts:read` reaches.

use axum::extract::{Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use chrono::{DateTime, Utc};
use comms_proto::{ApiError, v1};
use futures::{Stream, StreamExt as _};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Caller;
use crate::json::{Json, Query};
use crate::problem::{Problem, ProblemResponse};
use crate::state::AppState;

/// How the caller sounded, as the transcription service judged it.
#[derive(Debug, Serialize, ToSchema)]
pub struct TranscriptSentiment {
    #[schema(pattern = "^(positive|neutral|negative)$")]
    pub label: String,
    /// -1 (most negative) to 1.
    pub score: f64,
    pub reason: String,
    /// `openai`, or `lexicon` (the built-in scorer, without an OpenAI key or when OpenAI could
    /// not answer).
    #[schema(pattern = "^(openai|lexicon)$")]
    pub scorer: String,
    /// OpenAI's model; absent for the lexicon.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TranscriptUtterance {
    #[schema(pattern = "^(caller|agent)$")]
    pub speaker: String,
    /// As heard, card numbers and configured patterns redacted.
    pub text: String,
    /// Seconds from the call's first audio.
    pub start_seconds: f64,
    pub end_seconds: f64,
    pub confidence: f64,
    /// The caller's trend when it was said (`positive`, `neutral`, `negative`); absent before
    /// the first judgement.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sentiment: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Transcript {
    pub call_id: String,
    pub language: String,
    /// `deepgram` or `simulated`.
    pub transcriber: String,
    pub utterances: Vec<TranscriptUtterance>,
    /// The call's audio ended and the transcript is whole; until then it grows.
    pub complete: bool,
    /// Seconds of audio transcribed, once complete.
    pub seconds: f64,
    /// The whole call's sentiment, once complete.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sentiment: Option<TranscriptSentiment>,
    /// Times the caller turned negative.
    pub sentiment_alerts: u32,
    pub updated_at: Option<DateTime<Utc>>,
    /// Set once the transcript was deleted: it then holds no utterances, and the sentiment's
    /// reason reads `[deleted]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted: Option<TranscriptDeletion>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TranscriptDeletion {
    /// `retention` (the organization's ran out) or `request`.
    #[schema(pattern = "^(retention|request)$")]
    pub reason: String,
    /// Who asked; absent for the retention.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted_by: Option<String>,
    pub deleted_at: Option<DateTime<Utc>>,
}

impl From<v1::TranscriptSentiment> for TranscriptSentiment {
    fn from(s: v1::TranscriptSentiment) -> Self {
        Self {
            label: s.label,
            score: s.score,
            reason: s.reason,
            scorer: s.scorer,
            model: some(s.model),
        }
    }
}

fn some(value: String) -> Option<String> {
    (!value.is_empty()).then_some(value)
}

impl From<v1::Transcript> for Transcript {
    fn from(t: v1::Transcript) -> Self {
        Self {
            call_id: t.call_id,
            language: t.language,
            transcriber: t.transcriber,
            utterances: t
                .utterances
                .into_iter()
                .map(|u| TranscriptUtterance {
                    speaker: u.speaker,
                    text: u.text,
                    start_seconds: u.start_seconds,
                    end_seconds: u.end_seconds,
                    confidence: u.confidence,
                    sentiment: some(u.sentiment),
                })
                .collect(),
            complete: t.complete,
            seconds: t.seconds,
            sentiment: t.sentiment.map(TranscriptSentiment::from),
            sentiment_alerts: t.sentiment_alerts,
            updated_at: super::time(t.updated_at),
            deleted: t.deleted.map(|d| TranscriptDeletion {
                reason: d.reason,
                deleted_by: some(d.deleted_by),
                deleted_at: super::time(d.deleted_at),
            }),
        }
    }
}

/// The call's transcript: who said what and when, redacted, with the caller's sentiment as it
/// went and for the whole call. It grows while the call is transcribed (`complete` once its
/// audio ended). An agent reads their own calls' transcripts, a supervisor their teams' agents'
/// calls', an administrator any of the organization's.
#[utoipa::path(get, path = "/api/communications/calls/{id}/transcript", tag = "calls", params(("id" = uuid::Uuid, Path)),
    security(("bearer" = ["transcripts:read"])),
    responses(
        (status = 200, body = Transcript),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such call within reach, or it was never transcribed", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<axum::Json<Transcript>, ProblemResponse> {
    let request = v1::GetTranscriptRequest { call_id: id };
    let transcript = state
        .transcription
        .clone()
        .get_transcript(caller.grpc(request)?)
        .await?;
    Ok(axum::Json(transcript.into_inner().into()))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SentimentParams {
    /// Call ids, separated by commas: at most 200.
    #[param(
        pattern = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}(,[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}){0,199}$"
    )]
    pub call_ids: Option<String>,
}

/// How a caller sounds now.
#[derive(Debug, Serialize, ToSchema)]
pub struct CallSentimentNow {
    pub call_id: String,
    #[schema(pattern = "^(positive|neutral|negative)$")]
    pub label: String,
    /// -1 (most negative) to 1.
    pub score: f64,
    /// Times the caller turned negative so far.
    pub alerts: u32,
    /// When it was judged.
    pub at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CallSentiments {
    pub data: Vec<CallSentimentNow>,
}

/// How each caller sounds now (the latest judgement of the call's transcript), for up to 200
/// calls at once, e.g. a wallboard's active calls. Calls out of reach (as for a transcript) and
/// calls not judged yet are left out.
#[utoipa::path(get, path = "/api/communications/transcripts/sentiment", tag = "calls", params(SentimentParams),
    security(("bearer" = ["transcripts:read"])),
    responses(
        (status = 200, body = CallSentiments),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn sentiments(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<SentimentParams>,
) -> Result<axum::Json<CallSentiments>, ProblemResponse> {
    // Read exactly as the document says: ids as written (a space or a blank is no id; an empty
    // parameter is refused by the extractor, saying to leave it out).
    let call_ids: Vec<String> = params
        .call_ids
        .iter()
        .flat_map(|ids| ids.split(','))
        .map(str::to_owned)
        .collect();
    if let Some(bad) = call_ids
        .iter()
        .find(|id| id.len() != 36 || uuid::Uuid::parse_str(id).is_err())
    {
        return Err(ApiError::invalid(
            "call_ids",
            format!("{bad:?} is not a call id (a UUID: 8-4-4-4-12 hexadecimal digits)"),
        )
        .into());
    }
    let request = v1::GetCallSentimentsRequest { call_ids };
    let now = state
        .transcription
        .clone()
        .get_call_sentiments(caller.grpc(request)?)
        .await?
        .into_inner();
    Ok(axum::Json(CallSentiments {
        data: now
            .sentiments
            .into_iter()
            .map(|s| CallSentimentNow {
                call_id: s.call_id,
                label: s.label,
                score: s.score,
                alerts: s.alerts,
                at: super::time(s.at),
            })
            .collect(),
    }))
}

/// Delete the call's transcript for good: its words are erased from the event log and from
/// search, and `comms.call.transcript_deleted` is recorded (words heard after it, while the
/// call goes on, are not recorded). Answers the transcript as it now reads. Deleting it again
/// changes nothing.
#[utoipa::path(delete, path = "/api/communications/calls/{id}/transcript", tag = "calls", params(("id" = uuid::Uuid, Path)),
    security(("bearer" = ["transcripts:manage"])),
    responses(
        (status = 200, description = "The transcript, deleted", body = Transcript),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such call, or it was never transcribed", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<axum::Json<Transcript>, ProblemResponse> {
    let request = v1::GetTranscriptRequest { call_id: id };
    let transcript = state
        .transcription
        .clone()
        .delete_transcript(caller.grpc(request)?)
        .await?;
    Ok(axum::Json(transcript.into_inner().into()))
}

/// How long the organization keeps its calls' transcripts.
#[derive(Debug, Serialize, ToSchema)]
pub struct TranscriptRetention {
    /// Days from a call's first words; null: kept until deleted.
    pub days: Option<u32>,
    /// When and by whom it was last said; absent while never said.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_by: Option<String>,
}

impl From<v1::TranscriptRetention> for TranscriptRetention {
    fn from(r: v1::TranscriptRetention) -> Self {
        Self {
            days: Some(r.days).filter(|d| *d > 0),
            updated_at: super::time(r.updated_at),
            updated_by: some(r.updated_by),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetTranscriptRetention {
    /// 1 to 3650 days from a call's first words; null keeps transcripts until deleted.
    #[schema(minimum = 1, maximum = 3650)]
    pub days: Option<u32>,
}

/// How long the organization keeps its calls' transcripts.
#[utoipa::path(get, path = "/api/communications/transcripts/retention", tag = "calls",
    security(("bearer" = ["transcripts:manage"])),
    responses(
        (status = 200, body = TranscriptRetention),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn retention(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<axum::Json<TranscriptRetention>, ProblemResponse> {
    let request = v1::GetTranscriptRetentionRequest {};
    let retention = state
        .transcription
        .clone()
        .get_transcript_retention(caller.grpc(request)?)
        .await?;
    Ok(axum::Json(retention.into_inner().into()))
}

/// Say how long the organization keeps its calls' transcripts: those whose first words are
/// older are deleted (reason `retention`) within the transcription service's sweep
/// (`RETENTION_SWEEP_SECONDS`, an hour).
#[utoipa::path(put, path = "/api/communications/transcripts/retention", tag = "calls",
    request_body = SetTranscriptRetention,
    security(("bearer" = ["transcripts:manage"])),
    responses(
        (status = 200, body = TranscriptRetention),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 413, body = Problem, content_type = "application/problem+json"),
        (status = 415, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn set_retention(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<SetTranscriptRetention>,
) -> Result<axum::Json<TranscriptRetention>, ProblemResponse> {
    let days = match body.days {
        None => 0,
        Some(0) => {
            return Err(comms_proto::ApiError::invalid(
                "days",
                "0 is not from 1 to 3650 (null keeps transcripts until deleted)",
            )
            .into());
        }
        Some(days) => days,
    };
    let request = v1::SetTranscriptRetentionRequest { days };
    let retention = state
        .transcription
        .clone()
        .set_transcript_retention(caller.grpc(request)?)
        .await?;
    Ok(axum::Json(retention.into_inner().into()))
}

/// A call's wrap-up summary.
#[derive(Debug, Serialize, ToSchema)]
pub struct CallSummary {
    pub call_id: String,
    pub summary: String,
    /// What the summary suggests for the wrap-up; absent when it suggests nothing.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^(resolved|callback|escalated|sale|no_sale|wrong_number)$")]
    pub suggested_disposition: Option<String>,
    /// `anthropic`, or `extractive` (the caller's first words and the agent's last, without an
    /// Anthropic key or when Anthropic could not answer).
    #[schema(pattern = "^(anthropic|extractive)$")]
    pub summarizer: String,
    /// Anthropic's model; absent for the extractive summary.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    pub language: String,
    pub written_at: Option<DateTime<Utc>>,
}

/// The call's wrap-up summary, written when its transcript completed, with the disposition it
/// suggests. Who may read it: as the transcript. 404 until the call's transcript is complete.
#[utoipa::path(get, path = "/api/communications/calls/{id}/summary", tag = "calls", params(("id" = uuid::Uuid, Path)),
    security(("bearer" = ["transcripts:read"])),
    responses(
        (status = 200, body = CallSummary),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such call within reach, or no summary of it yet", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn summary(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<axum::Json<CallSummary>, ProblemResponse> {
    let request = v1::GetTranscriptRequest { call_id: id };
    let summary = state
        .transcription
        .clone()
        .get_summary(caller.grpc(request)?)
        .await?
        .into_inner();
    Ok(axum::Json(call_summary(summary)))
}

fn call_summary(s: v1::CallSummary) -> CallSummary {
    CallSummary {
        call_id: s.call_id,
        summary: s.summary,
        suggested_disposition: some(s.suggested_disposition),
        summarizer: s.summarizer,
        model: some(s.model),
        language: s.language,
        written_at: super::time(s.written_at),
    }
}

/// One event of the assist stream, as JSON: `suggestion` (`number`, `text`, `done`,
/// `abandoned`), `sentiment` (as the transcript's), `snippet` (a knowledge note the caller's
/// words brought up: `note_id`, `title`, `body`, `heard`, the keyword) or `summary` (as
/// `/summary`'s), then the stream ends; `error` (a problem) if the stream breaks.
fn assist_event(update: Result<v1::AssistUpdate, tonic::Status>) -> Event {
    use v1::assist_update::Update;
    let event = Event::default();
    match update.map(|u| u.update) {
        Ok(Some(Update::Suggestion(piece))) => event.event("suggestion").json_data(serde_json::json!({
            "number": piece.number, "text": piece.text, "done": piece.done, "abandoned": piece.abandoned,
        })),
        Ok(Some(Update::Sentiment(s))) => {
            event.event("sentiment").json_data(TranscriptSentiment::from(s))
        }
        Ok(Some(Update::Summary(s))) => event.event("summary").json_data(call_summary(s)),
        Ok(Some(Update::Snippet(s))) => event.event("snippet").json_data(serde_json::json!({
            "note_id": s.note_id, "title": s.title, "body": s.body, "heard": s.heard,
        })),
        Ok(None) => event.event("unknown").json_data(serde_json::json!({})),
        Err(status) => {
            let problem = comms_proto::ApiError::from_status(&status);
            event.event("error").json_data(serde_json::json!({
                "status": problem.kind.http_status().as_u16(), "detail": problem.message,
            }))
        }
    }
    .unwrap_or_else(|_| Event::default().event("error"))
}

/// Agent assist during the call, for the call's own agent only (403 for anyone else who reaches
/// the call), as server-sent events: `sentiment` when the caller's mood changes, `snippet` for
/// each of the organization's knowledge notes whose keywords the caller says (once per note),
/// `suggestion` pieces of the agent's next answer after the caller speaks (Anthropic, given
/// those notes; at most one every `ASSIST_INTERVAL_SECONDS`; none without
/// `ANTHROPIC_API_KEY`), then `summary` when the transcript completes, which ends the stream.
#[utoipa::path(get, path = "/api/communications/calls/{id}/assist", tag = "calls", params(("id" = uuid::Uuid, Path)),
    security(("bearer" = ["transcripts:read"])),
    responses(
        (status = 200, description = "Server-sent events: sentiment, snippet, suggestion, summary", content_type = "text/event-stream", body = String),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not the call's agent", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such call within reach", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn assist(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Sse<impl Stream<Item = Result<Event, std::convert::Infallible>>>, ProblemResponse> {
    let request = v1::GetTranscriptRequest { call_id: id };
    let updates = state
        .transcription
        .clone()
        .assist(caller.grpc(request)?)
        .await?
        .into_inner();
    let events = updates.map(|update| Ok(assist_event(update)));
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// Words, each found anywhere in a line whatever its case; every line without.
    #[param(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$"
    )]
    pub query: Option<String>,
    /// RFC 3339: lines said at or after it.
    #[param(value_type = Option<chrono::DateTime<chrono::Utc>>)]
    pub from: Option<String>,
    /// RFC 3339: lines said before it.
    #[param(value_type = Option<chrono::DateTime<chrono::Utc>>)]
    pub to: Option<String>,
    /// 1 to 100; 50 by default.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    pub limit: Option<String>,
}

/// A transcript line found.
#[derive(Debug, Serialize, ToSchema)]
pub struct TranscriptHit {
    pub call_id: String,
    #[schema(pattern = "^(caller|agent)$")]
    pub speaker: String,
    pub text: String,
    pub language: String,
    pub said_at: Option<DateTime<Utc>>,
    /// Seconds from the call's first audio.
    pub start_seconds: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TranscriptHits {
    pub data: Vec<TranscriptHit>,
}

/// The organization's transcript lines holding every word of `query` (every line without it),
/// said in `[from, to)`, newest first, among the calls the reader reaches: an agent their own,
/// a supervisor their teams' agents', an administrator all.
#[utoipa::path(get, path = "/api/communications/transcripts", tag = "calls", params(SearchParams),
    security(("bearer" = ["transcripts:read"])),
    responses(
        (status = 200, body = TranscriptHits),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn search(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<SearchParams>,
) -> Result<axum::Json<TranscriptHits>, ProblemResponse> {
    let mut violations = comms_proto::Violations::default();
    let from = super::rfc3339_param(&mut violations, "from", params.from);
    let to = super::rfc3339_param(&mut violations, "to", params.to);
    let limit = match params.limit.as_deref() {
        None => 0,
        Some(raw) => match raw.parse::<u32>().ok().filter(|n| (1..=100).contains(n)) {
            Some(limit) => limit,
            None => {
                violations.add("limit", format!("{raw:?} is not a number from 1 to 100"));
                0
            }
        },
    };
    violations.finish()?;
    let request = v1::SearchTranscriptsRequest {
        query: params.query.unwrap_or_default(),
        from,
        to,
        limit,
    };
    let hits = state
        .transcription
        .clone()
        .search_transcripts(caller.grpc(request)?)
        .await?
        .into_inner();
    Ok(axum::Json(TranscriptHits {
        data: hits
            .hits
            .into_iter()
            .map(|h| TranscriptHit {
                call_id: h.call_id,
                speaker: h.speaker,
                text: h.text,
                language: h.language,
                said_at: super::time(h.said_at),
                start_seconds: h.start_seconds,
            })
            .collect(),
    }))
}
