//! Campaign results from `comms.campaign.*`: contacts, attempts, answers and abandons per
//! campaign, and each contact's final disposition. Counters move once per event (the consumer
//! applies each message id once); dispositions are a set keyed by contact; the name and status
//! move only to an event with a higher stream position, so late arrivals change nothing.

use std::collections::BTreeMap;

use comms_bus::{Envelope, HandleError};
use comms_events::campaign::{self as event, CampaignEvent, Final, Outcome};
use sqlx::PgConnection;
use uuid::Uuid;

fn retry(error: sqlx::Error) -> HandleError {
    error.into()
}

/// The status a status-changing event leaves the campaign in.
fn status_after(event: &CampaignEvent) -> Option<&'static str> {
    Some(match event {
        CampaignEvent::Started(_) | CampaignEvent::Resumed(_) => "running",
        CampaignEvent::Paused(_) => "paused",
        CampaignEvent::Completed(_) => "completed",
        CampaignEvent::Canceled(_) => "canceled",
        _ => return None,
    })
}

/// Applies one campaign event; returns the campaign it changed.
pub async fn apply(conn: &mut PgConnection, envelope: &Envelope) -> Result<Uuid, HandleError> {
    let event = envelope.decode::<CampaignEvent>()?;
    let reject = |why: String| HandleError::Reject(format!("{}: {why}", envelope.event_type));
    let position = envelope
        .metadata
        .stream_position
        .ok_or_else(|| reject("metadata.streamPosition is missing".into()))?;
    let org = envelope.organization_id.as_str();
    let campaign = event.campaign_id();
    sqlx::query(
        "INSERT INTO analytics_campaigns (campaign_id, org_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
    )
    .bind(campaign)
    .bind(org)
    .execute(&mut *conn)
    .await
    .map_err(retry)?;
    if let Some(status) = status_after(&event) {
        sqlx::query(
            "UPDATE analytics_campaigns SET status = $3, status_position = $2
             WHERE campaign_id = $1 AND status_position < $2",
        )
        .bind(campaign)
        .bind(position)
        .bind(status)
        .execute(&mut *conn)
        .await
        .map_err(retry)?;
    }
    match &event {
        CampaignEvent::Created(event::Created { settings, .. })
        | CampaignEvent::Updated(event::Updated { settings, .. }) => {
            sqlx::query(
                "UPDATE analytics_campaigns SET name = $3, name_position = $2
                 WHERE campaign_id = $1 AND name_position < $2",
            )
            .bind(campaign)
            .bind(position)
            .bind(&settings.name)
            .execute(&mut *conn)
            .await
            .map_err(retry)?;
        }
        CampaignEvent::ContactsAdded(added) => {
            let ids: Vec<Uuid> = added.contacts.iter().map(|m| m.contact_id).collect();
            sqlx::query(
                "INSERT INTO analytics_campaign_contacts (campaign_id, contact_id, org_id)
                 SELECT $1, id, $2 FROM UNNEST($3::uuid[]) AS id ON CONFLICT DO NOTHING",
            )
            .bind(campaign)
            .bind(org)
            .bind(&ids)
            .execute(&mut *conn)
            .await
            .map_err(retry)?;
        }
        CampaignEvent::CallPlaced(placed) => {
            sqlx::query(
                "UPDATE analytics_campaigns
                 SET attempts = attempts + 1, lines_per_agent = COALESCE($2, lines_per_agent)
                 WHERE campaign_id = $1",
            )
            .bind(campaign)
            .bind(placed.lines_per_agent)
            .execute(&mut *conn)
            .await
            .map_err(retry)?;
        }
        CampaignEvent::CallFinished(finished) => {
            sqlx::query(
                "UPDATE analytics_campaigns
                 SET finished = finished + 1, answered = answered + $2::int, abandoned = abandoned + $3::int
                 WHERE campaign_id = $1",
            )
            .bind(campaign)
            .bind(i32::from(finished.outcome.was_answered()))
            .bind(i32::from(finished.outcome == Outcome::Abandoned))
            .execute(&mut *conn)
            .await
            .map_err(retry)?;
            if let Some(done) = finished.done {
                dispose(conn, org, campaign, finished.contact_id, done).await?;
            }
        }
        CampaignEvent::ContactExcluded(excluded) => {
            dispose(conn, org, campaign, excluded.contact_id, Final::DoNotCall).await?;
        }
        _ => {}
    }
    Ok(campaign)
}

/// Records how the contact's part in the campaign ended.
async fn dispose(
    conn: &mut PgConnection,
    org: &str,
    campaign: Uuid,
    contact: Uuid,
    done: Final,
) -> Result<(), HandleError> {
    sqlx::query(
        "INSERT INTO analytics_campaign_contacts (campaign_id, contact_id, org_id, disposition)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (campaign_id, contact_id) DO UPDATE SET disposition = $4",
    )
    .bind(campaign)
    .bind(contact)
    .bind(org)
    .bind(done.disposition())
    .execute(&mut *conn)
    .await
    .map_err(retry)?;
    Ok(())
}

/// One campaign's results.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CampaignResults {
    pub campaign_id: Uuid,
    pub name: String,
    pub status: String,
    pub contacts: i64,
    pub attempts: i64,
    pub finished: i64,
    pub answered: i64,
    pub abandoned: i64,
    pub dispositions: BTreeMap<String, i64>,
    /// The dialer's pacing at its last placed call: calls in flight per agent working it.
    pub lines_per_agent: Option<f64>,
}

#[derive(sqlx::FromRow)]
struct CampaignRow {
    campaign_id: Uuid,
    name: String,
    status: String,
    attempts: i32,
    finished: i32,
    answered: i32,
    abandoned: i32,
    lines_per_agent: Option<f64>,
}

fn ratio(part: i64, whole: i64) -> f64 {
    if whole > 0 {
        part as f64 / whole as f64
    } else {
        0.0
    }
}

impl CampaignResults {
    pub fn contacts_final(&self) -> i64 {
        self.dispositions.values().sum()
    }

    pub fn answer_rate(&self) -> f64 {
        ratio(self.answered, self.finished)
    }

    pub fn abandon_rate(&self) -> f64 {
        ratio(self.abandoned, self.answered)
    }

    /// Reached over final contacts.
    pub fn success_rate(&self) -> f64 {
        ratio(
            self.dispositions
                .get("reached")
                .copied()
                .unwrap_or_default(),
            self.contacts_final(),
        )
    }
}

/// The organization's campaigns (or one), newest analytics first.
pub async fn report(
    conn: &mut PgConnection,
    org: &str,
    campaign: Option<Uuid>,
) -> Result<Vec<CampaignResults>, sqlx::Error> {
    let rows: Vec<CampaignRow> = sqlx::query_as(
        "SELECT campaign_id, name, status, attempts, finished, answered, abandoned, lines_per_agent
         FROM analytics_campaigns WHERE org_id = $1 AND ($2::uuid IS NULL OR campaign_id = $2)
         ORDER BY campaign_id",
    )
    .bind(org)
    .bind(campaign)
    .fetch_all(&mut *conn)
    .await?;
    let counts: Vec<(Uuid, Option<String>, i64)> = sqlx::query_as(
        "SELECT campaign_id, disposition, count(*) FROM analytics_campaign_contacts
         WHERE org_id = $1 AND ($2::uuid IS NULL OR campaign_id = $2)
         GROUP BY campaign_id, disposition",
    )
    .bind(org)
    .bind(campaign)
    .fetch_all(&mut *conn)
    .await?;
    let mut results: BTreeMap<Uuid, CampaignResults> = rows
        .into_iter()
        .map(|row| {
            (
                row.campaign_id,
                CampaignResults {
                    campaign_id: row.campaign_id,
                    name: row.name,
                    status: row.status,
                    attempts: row.attempts.into(),
                    finished: row.finished.into(),
                    answered: row.answered.into(),
                    abandoned: row.abandoned.into(),
                    lines_per_agent: row.lines_per_agent,
                    ..Default::default()
                },
            )
        })
        .collect();
    for (id, disposition, count) in counts {
        if let Some(result) = results.get_mut(&id) {
            result.contacts += count;
            if let Some(disposition) = disposition {
                result.dispositions.insert(disposition, count);
            }
        }
    }
    Ok(results.into_values().collect())
}

/// `comms_campaign_success_rate{organization, campaign}` for a campaign a batch touched, read in
/// the batch's transaction so the gauge includes the batch.
pub async fn refresh_success_rate(
    conn: &mut PgConnection,
    org: &str,
    campaign: Uuid,
) -> Result<(), sqlx::Error> {
    for result in report(conn, org, Some(campaign)).await? {
        metrics::gauge!(
            "comms_campaign_success_rate",
            "organization" => org.to_owned(),
            "campaign" => result.campaign_id.to_string()
        )
        .set(result.success_rate());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_follow_their_definitions() {
        let results = CampaignResults {
            contacts: 10,
            attempts: 20,
            finished: 18,
            answered: 9,
            abandoned: 1,
            dispositions: [("reached".to_owned(), 6), ("no_answer".to_owned(), 3)].into(),
            ..Default::default()
        };
        assert_eq!(results.contacts_final(), 9);
        assert!((results.success_rate() - 6.0 / 9.0).abs() < 1e-12);
        assert!((results.abandon_rate() - 1.0 / 9.0).abs() < 1e-12);
        assert!((results.answer_rate() - 0.5).abs() < 1e-12);
        assert_eq!(CampaignResults::default().success_rate(), 0.0);
    }
}
