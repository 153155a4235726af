//! The read models of messages (`messages_view`) and conversations (`conversations_view`),
//! written in the transactions that append their events.

use chrono::{DateTime, Utc};
use comms_proto::PhoneNumber;
use sqlx::types::Json;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::Message;
pub use comms_proto::page::Cursor;

/// A conversation: the organization and the other party's number.
#[derive(Debug, Clone)]
pub struct Conversation {
    pub id: Uuid,
    pub number: PhoneNumber,
    pub opted_out: bool,
    pub message_count: u32,
    pub last_message: Option<Message>,
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct ConversationRow {
    conversation_id: Uuid,
    number: String,
    opted_out: bool,
    message_count: i32,
    updated_at: DateTime<Utc>,
    last_message: Option<Json<Message>>,
}

impl From<ConversationRow> for Conversation {
    fn from(row: ConversationRow) -> Self {
        Self {
            id: row.conversation_id,
            number: PhoneNumber::parse(&row.number).expect("numbers are kept in E.164"),
            opted_out: row.opted_out,
            message_count: row.message_count.max(0) as u32,
            last_message: row.last_message.map(|json| json.0),
            updated_at: row.updated_at,
        }
    }
}

/// A conversation query: its rows with their last message, then `$rest` (a literal).
macro_rules! conversations_where {
    ($rest:literal) => {
        concat!(
            "SELECT c.conversation_id, c.number, c.opted_out, c.message_count, c.updated_at,
                    m.state AS last_message
             FROM conversations_view c
             LEFT JOIN messages_view m ON m.message_id = c.last_message_id ",
            $rest
        )
    };
}

pub async fn upsert_message(
    tx: &mut PgConnection,
    org: &str,
    message: &Message,
    version: u64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO messages_view (message_id, organization_id, conversation_id, created_at,
                                    version, state)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (message_id) DO UPDATE
         SET version = EXCLUDED.version, state = EXCLUDED.state",
    )
    .bind(message.id)
    .bind(org)
    .bind(message.conversation_id)
    .bind(message.created_at)
    .bind(version as i64)
    .bind(Json(message))
    .execute(tx)
    .await?;
    Ok(())
}

/// Counts a new message in its conversation (made on its first message), now the latest.
pub async fn add_to_conversation(
    tx: &mut PgConnection,
    org: &str,
    message: &Message,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO conversations_view (conversation_id, organization_id, number, message_count,
                                         last_message_id, updated_at)
         VALUES ($1, $2, $3, 1, $4, $5)
         ON CONFLICT (conversation_id) DO UPDATE
         SET message_count = conversations_view.message_count + 1,
             last_message_id = EXCLUDED.last_message_id,
             updated_at = EXCLUDED.updated_at",
    )
    .bind(message.conversation_id)
    .bind(org)
    .bind(message.counterpart().as_str())
    .bind(message.id)
    .bind(message.created_at)
    .execute(tx)
    .await?;
    Ok(())
}

/// Whether the conversation's number is opted out, its row locked until the transaction ends
/// so that two keywords at once decide in turn.
pub async fn lock_consent(tx: &mut PgConnection, conversation: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT opted_out FROM conversations_view WHERE conversation_id = $1 FOR UPDATE",
    )
    .bind(conversation)
    .fetch_one(tx)
    .await
}

pub async fn set_consent(
    tx: &mut PgConnection,
    conversation: Uuid,
    opted_out: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE conversations_view SET opted_out = $2 WHERE conversation_id = $1")
        .bind(conversation)
        .bind(opted_out)
        .execute(tx)
        .await?;
    Ok(())
}

/// When the conversation's number opted out, if it is opted out now.
pub async fn opted_out_since(
    pool: &PgPool,
    conversation: Uuid,
) -> Result<Option<DateTime<Utc>>, comms_proto::ApiError> {
    let since: Option<Option<DateTime<Utc>>> = sqlx::query_scalar(
        "SELECT (SELECT m.created_at FROM messages_view m
                 WHERE m.conversation_id = c.conversation_id
                   AND m.state ->> 'keyword' = 'stop'
                 ORDER BY m.created_at DESC LIMIT 1)
         FROM conversations_view c WHERE c.conversation_id = $1 AND c.opted_out",
    )
    .bind(conversation)
    .fetch_optional(pool)
    .await
    .map_err(comms_eventstore::unit_of_work::api_error)?;
    Ok(since.map(|at| at.unwrap_or_else(Utc::now)))
}

pub async fn message(pool: &PgPool, org: &str, id: Uuid) -> Result<Option<Message>, sqlx::Error> {
    let found: Option<Json<Message>> = sqlx::query_scalar(
        "SELECT state FROM messages_view WHERE message_id = $1 AND organization_id = $2",
    )
    .bind(id)
    .bind(org)
    .fetch_optional(pool)
    .await?;
    Ok(found.map(|json| json.0))
}

pub async fn conversation(
    pool: &PgPool,
    org: &str,
    id: Uuid,
) -> Result<Option<Conversation>, sqlx::Error> {
    let row: Option<ConversationRow> = sqlx::query_as(conversations_where!(
        "WHERE c.conversation_id = $1 AND c.organization_id = $2"
    ))
    .bind(id)
    .bind(org)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(Conversation::from))
}

/// Up to `size + 1` conversations after `after`, the latest first (the extra one says more
/// follow).
pub async fn conversations(
    pool: &PgPool,
    org: &str,
    after: Option<Cursor>,
    size: usize,
) -> Result<Vec<Conversation>, sqlx::Error> {
    let rows: Vec<ConversationRow> = sqlx::query_as(conversations_where!(
        "WHERE c.organization_id = $1
           AND ($2::timestamptz IS NULL OR (c.updated_at, c.conversation_id) < ($2, $3))
         ORDER BY c.updated_at DESC, c.conversation_id DESC
         LIMIT $4"
    ))
    .bind(org)
    .bind(after.map(|c| c.at))
    .bind(after.map(|c| c.id))
    .bind(size as i64 + 1)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(Conversation::from).collect())
}

/// Up to `size + 1` of the conversation's messages after `after`, the latest first.
pub async fn messages(
    pool: &PgPool,
    org: &str,
    conversation: Uuid,
    after: Option<Cursor>,
    size: usize,
) -> Result<Vec<Message>, sqlx::Error> {
    let rows: Vec<Json<Message>> = sqlx::query_scalar(
        "SELECT state FROM messages_view
         WHERE conversation_id = $1 AND organization_id = $2
           AND ($3::timestamptz IS NULL OR (created_at, message_id) < ($3, $4))
         ORDER BY created_at DESC, message_id DESC
         LIMIT $5",
    )
    .bind(conversation)
    .bind(org)
    .bind(after.map(|c| c.at))
    .bind(after.map(|c| c.id))
    .bind(size as i64 + 1)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|json| json.0).collect())
}
