//! Searching an organization's transcripts by words and date: the lines (`transcript_lines`,
//! every utterance as recorded, redacted) and each call's agent (`transcript_call_agents`), kept
//! by a consumer of the calls' events; a query finds the lines holding every word it asks for
//! (anywhere in the line, whatever the case: Chinese and Japanese are not written with spaces),
//! newest first, among the calls the reader reaches. Words are matched by scanning the
//! organization's lines in the date range (`ILIKE`), not through a full-text index: no one
//! text-search configuration serves all eight languages.

use chrono::{DateTime, Utc};
use comms_bus::{Envelope, HandleError, Handler};
use comms_events::call::CallEvent;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// Keeps the search's tables from the bus.
pub struct SearchIndexer;

impl Handler for SearchIndexer {
    const APPENDS: bool = false;

    async fn handle(
        &self,
        conn: &mut PgConnection,
        envelope: &Envelope,
    ) -> Result<(), HandleError> {
        let org = envelope.organization_id.as_str();
        match envelope.decode::<CallEvent>()? {
            CallEvent::Utterance(u) => {
                // A deleted transcript's utterance published before its deletion may arrive
                // after it (redelivered): it is not kept.
                sqlx::query(
                    "INSERT INTO transcript_lines (event_id, organization_id, call_id, speaker, text,
                                                   language, said_at, start_seconds)
                     SELECT $1, $2, $3, $4, $5, $6, $7, $8
                     WHERE NOT EXISTS (SELECT 1 FROM transcript_deletions WHERE call_id = $3)
                     ON CONFLICT (event_id) DO NOTHING",
                )
                .bind(envelope.id)
                .bind(org)
                .bind(u.call_id)
                .bind(crate::grpc::view::enum_name(&u.speaker))
                .bind(&u.text)
                .bind(u.language.as_str())
                .bind(u.at)
                .bind(u.start_seconds)
                .execute(conn)
                .await?;
            }
            CallEvent::Started(started) => {
                if let Some(agent) = started.agent_id {
                    call_agent(conn, org, started.call_id, agent, false).await?;
                }
            }
            // The agent routing connected is the call's (a call named its agent when it started
            // keeps that one only if routing never assigns another).
            CallEvent::AgentAssigned(assigned) => {
                call_agent(conn, org, assigned.call_id, assigned.agent_id, true).await?;
            }
            CallEvent::TranscriptDeleted(deleted) => {
                forget(conn, org, deleted.call_id, deleted.deleted_at).await?;
            }
            _ => {}
        }
        Ok(())
    }
}

/// Forgets `org`'s call's lines, for good: later ones are not kept either.
pub async fn forget(
    conn: &mut PgConnection,
    org: &str,
    call: Uuid,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO transcript_deletions (call_id, organization_id, deleted_at) VALUES ($1, $2, $3)
         ON CONFLICT (call_id) DO NOTHING",
    )
    .bind(call)
    .bind(org)
    .bind(at)
    .execute(&mut *conn)
    .await?;
    sqlx::query("DELETE FROM transcript_lines WHERE call_id = $1 AND organization_id = $2")
        .bind(call)
        .bind(org)
        .execute(conn)
        .await?;
    Ok(())
}

async fn call_agent(
    conn: &mut PgConnection,
    org: &str,
    call: Uuid,
    agent: Uuid,
    assigned: bool,
) -> Result<(), HandleError> {
    let sql = if assigned {
        "INSERT INTO transcript_call_agents AS a (call_id, organization_id, agent_id) VALUES ($1, $2, $3)
         ON CONFLICT (call_id) DO UPDATE SET agent_id = EXCLUDED.agent_id
         WHERE a.organization_id = EXCLUDED.organization_id"
    } else {
        "INSERT INTO transcript_call_agents (call_id, organization_id, agent_id) VALUES ($1, $2, $3)
         ON CONFLICT (call_id) DO NOTHING"
    };
    sqlx::query(sql)
        .bind(call)
        .bind(org)
        .bind(agent)
        .execute(conn)
        .await?;
    Ok(())
}

/// Which calls' lines a reader finds.
pub enum Reach {
    Organization,
    /// The calls of these agents (an agent's own; a supervisor's teams' agents').
    Agents(Vec<Uuid>),
}

impl Reach {
    /// The agents whose calls it covers; `None` for all of the organization's (a query's
    /// `$n::uuid[] IS NULL`).
    pub fn agents(&self) -> Option<&[Uuid]> {
        match self {
            Self::Organization => None,
            Self::Agents(agents) => Some(agents),
        }
    }
}

/// A line found.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Hit {
    pub call_id: Uuid,
    pub speaker: String,
    pub text: String,
    pub language: String,
    pub said_at: DateTime<Utc>,
    pub start_seconds: f64,
}

/// The words of a query, each matched as typed (`%`, `_` and `\` taken literally); none match
/// every line.
pub fn words(query: &str) -> Vec<String> {
    query
        .split_whitespace()
        .map(|w| {
            let escaped = w
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            format!("%{escaped}%")
        })
        .collect()
}

/// The newest `limit` lines of `org`'s transcripts said in `[from, to)` that hold every word,
/// among the calls `reach` covers.
pub async fn search(
    pool: &PgPool,
    org: &str,
    reach: &Reach,
    words: &[String],
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    limit: i64,
) -> Result<Vec<Hit>, sqlx::Error> {
    sqlx::query_as(
        "SELECT l.call_id, l.speaker, l.text, l.language, l.said_at, l.start_seconds
         FROM transcript_lines l
         WHERE l.organization_id = $1
           AND l.text ILIKE ALL ($2)
           AND ($3::timestamptz IS NULL OR l.said_at >= $3)
           AND ($4::timestamptz IS NULL OR l.said_at < $4)
           AND ($5::uuid[] IS NULL OR EXISTS (
                 SELECT 1 FROM transcript_call_agents a
                 WHERE a.call_id = l.call_id AND a.organization_id = $1
                   AND a.agent_id = ANY ($5)))
         ORDER BY l.said_at DESC, l.event_id
         LIMIT $6",
    )
    .bind(org)
    .bind(words)
    .bind(from)
    .bind(to)
    .bind(reach.agents())
    .bind(limit)
    .fetch_all(pool)
    .await
}
