//! The knowledge notes' RPCs: read under `knowledge:read` (everyone), written under
//! `knowledge:manage` (supervisors and administrators), always within the caller's organization.

use comms_auth::Permission;
use comms_proto::v1;
use comms_proto::{ApiError, Language};
use tonic::Status;
use tonic::metadata::MetadataMap;
use uuid::Uuid;

use super::{TranscriptionGrpc, view};
use crate::knowledge::{self, NoteInput};

impl TranscriptionGrpc {
    pub(super) async fn list_notes(
        &self,
        metadata: &MetadataMap,
        request: &v1::ListKnowledgeNotesRequest,
    ) -> Result<v1::KnowledgeNotes, Status> {
        let (identity, _) = self.caller(metadata, Permission::KnowledgeRead)?;
        let language = match request.language.as_str() {
            "" => None,
            code => Some(Language::parse(code).map_err(|why| ApiError::invalid("language", why))?),
        };
        let notes = knowledge::list(&self.pool, &identity.org_id, language).await?;
        Ok(v1::KnowledgeNotes {
            notes: notes.into_iter().map(view::note).collect(),
        })
    }

    pub(super) async fn get_note(
        &self,
        metadata: &MetadataMap,
        request: &v1::KnowledgeNoteRequest,
    ) -> Result<v1::KnowledgeNote, Status> {
        let (identity, _) = self.caller(metadata, Permission::KnowledgeRead)?;
        let note = knowledge::get(&self.pool, &identity.org_id, note_id(&request.id)?).await?;
        Ok(view::note(note))
    }

    pub(super) async fn create_note(
        &self,
        metadata: &MetadataMap,
        request: &v1::KnowledgeNoteInput,
    ) -> Result<v1::KnowledgeNote, Status> {
        let (identity, _) = self.caller(metadata, Permission::KnowledgeManage)?;
        let input = input(request)?;
        let note =
            knowledge::create(&self.store, &identity.org_id, &identity.user_id, input).await?;
        Ok(view::note(note))
    }

    pub(super) async fn update_note(
        &self,
        metadata: &MetadataMap,
        request: &v1::UpdateKnowledgeNoteRequest,
    ) -> Result<v1::KnowledgeNote, Status> {
        let (identity, _) = self.caller(metadata, Permission::KnowledgeManage)?;
        let id = note_id(&request.id)?;
        let input = input(request.note.as_ref().ok_or_else(|| {
            ApiError::invalid("note", "the note's title, body and keywords are required")
        })?)?;
        let note =
            knowledge::update(&self.store, &identity.org_id, &identity.user_id, id, input).await?;
        Ok(view::note(note))
    }

    pub(super) async fn delete_note(
        &self,
        metadata: &MetadataMap,
        request: &v1::KnowledgeNoteRequest,
    ) -> Result<v1::KnowledgeNote, Status> {
        let (identity, _) = self.caller(metadata, Permission::KnowledgeManage)?;
        let id = note_id(&request.id)?;
        let note = knowledge::delete(&self.store, &identity.org_id, &identity.user_id, id).await?;
        Ok(view::note(note))
    }
}

fn note_id(value: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(value).map_err(|_| ApiError::invalid("id", format!("{value:?} is not a UUID")))
}

fn input(note: &v1::KnowledgeNoteInput) -> Result<NoteInput, ApiError> {
    NoteInput::check(&note.title, &note.body, &note.language, &note.keywords)
}
