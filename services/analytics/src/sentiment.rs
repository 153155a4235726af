//! Callers' sentiment per call, for the volumes and agent reports: the whole call's judgement
//! and how many times it turned negative (`analytics_call_sentiment`), from the transcript
//! streams' `comms.call.sentiment` (scope `call`; windows are the live view's, not the
//! reports') and `comms.call.sentiment_alert`. Each event is applied once (the consumer's and the
//! rebuild's processed messages), so an alert is counted once.

use comms_bus::{Envelope, HandleError};
use comms_events::call::{CallEvent, SentimentScope};
use sqlx::PgConnection;
use uuid::Uuid;

/// Whether the event is one this read model takes.
pub fn takes(envelope: &Envelope) -> bool {
    use comms_events::Event as _;
    use comms_events::call::{Sentiment, SentimentAlert};
    envelope.event_type == Sentiment::TYPE || envelope.event_type == SentimentAlert::TYPE
}

pub async fn apply(conn: &mut PgConnection, envelope: &Envelope) -> Result<(), HandleError> {
    let org = envelope.organization_id.as_str();
    let (call_id, label, score, alerts): (Uuid, Option<&str>, Option<f64>, i32) =
        match envelope.decode::<CallEvent>()? {
            CallEvent::Sentiment(s) if s.scope == SentimentScope::Call => {
                (s.call_id, Some(s.label.as_str()), Some(s.score), 0)
            }
            CallEvent::SentimentAlert(a) => (a.call_id, None, None, 1),
            _ => return Ok(()),
        };
    let applied = sqlx::query(
        "INSERT INTO analytics_call_sentiment AS s (call_id, organization_id, label, score, alerts)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (call_id) DO UPDATE SET
             label = COALESCE(EXCLUDED.label, s.label),
             score = COALESCE(EXCLUDED.score, s.score),
             alerts = s.alerts + EXCLUDED.alerts
         WHERE s.organization_id = EXCLUDED.organization_id",
    )
    .bind(call_id)
    .bind(org)
    .bind(label)
    .bind(score)
    .bind(alerts)
    .execute(conn)
    .await?;
    if applied.rows_affected() == 0 {
        return Err(HandleError::Reject(format!(
            "call {call_id} belongs to another organization than {org}"
        )));
    }
    Ok(())
}
