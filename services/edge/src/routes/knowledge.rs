//! `/api/communications/knowledge/notes`: the organization's knowledge notes, which agent assist
//! shows the agent of a call when the caller says one of a note's keywords — from the
//! transcription service (`TranscriptionService`). Everyone reads them; supervisors and
//! administrators write them.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use comms_proto::v1;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::agents::LanguageCode;
use crate::auth::Caller;
use crate::json::{Json, Query};
use crate::problem::{Problem, ProblemResponse};
use crate::state::AppState;

type Result<T> = std::result::Result<T, ProblemResponse>;

/// A note as written.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SaveNote {
    /// 1 to 120 characters, not all blank, without control characters.
    #[schema(
        min_length = 1,
        max_length = 120,
        pattern = r"^(?=.*\S)[^\u0000-\u001F\u007F-\u009F]*$",
        example = "Refunds of double charges"
    )]
    pub title: String,
    /// What the agent reads: 1 to 2000 characters, not all blank; line breaks and tabs allowed,
    /// other control characters not.
    #[schema(
        min_length = 1,
        max_length = 2000,
        pattern = r"^(?=[\s\S]*\S)[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$",
        example = "Apologise, check both charges in Billing > Payments, refund the second at once: no approval needed under 500 EUR."
    )]
    pub body: String,
    /// The calls' language it serves; absent: calls in every language.
    #[schema(value_type = Option<LanguageCode>)]
    pub language: Option<String>,
    /// Words or phrases of 2 to 60 characters: the caller saying any of them (whatever the case,
    /// anywhere in what they say) shows the note to the agent.
    #[schema(min_items = 1, max_items = 20, value_type = Vec<Keyword>, example = json!(["charged twice", "refund"]))]
    pub keywords: Vec<String>,
}

/// A word or phrase of 2 to 60 characters, not all blank, without control characters.
#[derive(ToSchema)]
#[schema(
    min_length = 2,
    max_length = 60,
    pattern = r"^(?=.*\S)[^\u0000-\u001F\u007F-\u009F]*$"
)]
#[allow(dead_code)] // describes keywords in the OpenAPI document only
pub struct Keyword(String);

#[derive(Debug, Serialize, ToSchema)]
pub struct KnowledgeNote {
    pub id: String,
    pub title: String,
    pub body: String,
    /// Absent: it serves calls in every language.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    pub keywords: Vec<String>,
    pub updated_at: Option<DateTime<Utc>>,
    /// The user who last wrote it.
    pub updated_by: String,
}

impl From<v1::KnowledgeNote> for KnowledgeNote {
    fn from(n: v1::KnowledgeNote) -> Self {
        Self {
            id: n.id,
            title: n.title,
            body: n.body,
            language: Some(n.language).filter(|l| !l.is_empty()),
            keywords: n.keywords,
            updated_at: super::time(n.updated_at),
            updated_by: n.updated_by,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KnowledgeNotes {
    pub data: Vec<KnowledgeNote>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Only the notes serving calls in this language (and those serving every language).
    #[param(value_type = Option<LanguageCode>)]
    pub language: Option<String>,
}

fn input(body: SaveNote) -> Result<v1::KnowledgeNoteInput> {
    Ok(v1::KnowledgeNoteInput {
        title: body.title,
        body: body.body,
        language: language(body.language)?,
        keywords: body.keywords,
    })
}

/// A language code as the service reads it ("" for none): an empty one is refused here, as
/// the service would read it as none.
fn language(code: Option<String>) -> Result<String> {
    match code {
        Some(code) if code.is_empty() => Err(comms_proto::ApiError::invalid(
            "language",
            "one of en, es, fr, de, it, pt, zh, ja; leave it out for every language",
        )
        .into()),
        code => Ok(code.unwrap_or_default()),
    }
}

/// The organization's knowledge notes, newest first (at most 1,000: the most it keeps).
#[utoipa::path(get, path = "/api/communications/knowledge/notes", tag = "knowledge", params(ListParams),
    security(("bearer" = ["knowledge:read"])),
    responses(
        (status = 200, body = KnowledgeNotes),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<ListParams>,
) -> Result<axum::Json<KnowledgeNotes>> {
    let request = v1::ListKnowledgeNotesRequest {
        language: language(params.language)?,
    };
    let notes = state
        .transcription
        .clone()
        .list_knowledge_notes(caller.grpc(request)?)
        .await?
        .into_inner()
        .notes;
    Ok(axum::Json(KnowledgeNotes {
        data: notes.into_iter().map(Into::into).collect(),
    }))
}

/// Write a note: from now on, agent assist shows it to the agent of a call in its language
/// (`snippet` on `/calls/{id}/assist`) when the caller says one of its keywords, and gives it
/// to the model that suggests the agent's answers. `comms.knowledge_note.saved` on the bus.
#[utoipa::path(post, path = "/api/communications/knowledge/notes", tag = "knowledge", request_body = SaveNote,
    security(("bearer" = ["knowledge:manage"])),
    responses(
        (status = 201, body = KnowledgeNote),
        (status = 400, description = "Each problem named by its field", body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "An agent: supervisors and administrators write notes", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The organization keeps 1,000 notes already", body = Problem, content_type = "application/problem+json"),
        (status = 413, body = Problem, content_type = "application/problem+json"),
        (status = 415, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<SaveNote>,
) -> Result<(StatusCode, axum::Json<KnowledgeNote>)> {
    let note = state
        .transcription
        .clone()
        .create_knowledge_note(caller.grpc(input(body)?)?)
        .await?
        .into_inner();
    Ok((StatusCode::CREATED, axum::Json(note.into())))
}

/// One note.
#[utoipa::path(get, path = "/api/communications/knowledge/notes/{id}", tag = "knowledge", params(("id" = uuid::Uuid, Path)),
    security(("bearer" = ["knowledge:read"])),
    responses(
        (status = 200, body = KnowledgeNote),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<axum::Json<KnowledgeNote>> {
    let request = v1::KnowledgeNoteRequest { id };
    let note = state
        .transcription
        .clone()
        .get_knowledge_note(caller.grpc(request)?)
        .await?
        .into_inner();
    Ok(axum::Json(note.into()))
}

/// Rewrite a note whole.
#[utoipa::path(put, path = "/api/communications/knowledge/notes/{id}", tag = "knowledge", params(("id" = uuid::Uuid, Path)), request_body = SaveNote,
    security(("bearer" = ["knowledge:manage"])),
    responses(
        (status = 200, body = KnowledgeNote),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 413, body = Problem, content_type = "application/problem+json"),
        (status = 415, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<SaveNote>,
) -> Result<axum::Json<KnowledgeNote>> {
    let request = v1::UpdateKnowledgeNoteRequest {
        id,
        note: Some(input(body)?),
    };
    let note = state
        .transcription
        .clone()
        .update_knowledge_note(caller.grpc(request)?)
        .await?
        .into_inner();
    Ok(axum::Json(note.into()))
}

/// Delete a note: assist no longer shows it. `comms.knowledge_note.deleted` on the bus.
#[utoipa::path(delete, path = "/api/communications/knowledge/notes/{id}", tag = "knowledge", params(("id" = uuid::Uuid, Path)),
    security(("bearer" = ["knowledge:manage"])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    let request = v1::KnowledgeNoteRequest { id };
    state
        .transcription
        .clone()
        .delete_knowledge_note(caller.grpc(request)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
