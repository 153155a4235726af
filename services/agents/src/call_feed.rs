//! The agents service following calls on the bus (`comms.call.*`): an agent who places a call
//! is busy from its start; a queued call (an inbound call answered without an IVR flow, or one
//! its flow queued) asks for an agent with the skills it names and is connected to the
//! one it is offered to, and a supervisor's re-route asks again with other skills and language (a campaign's answered calls are routed by the campaigns service, which
//! decides when one is abandoned); when a call ends, fails or is canceled, its agent goes to
//! wrap-up (and a call still waiting leaves the queue), and no agent is reserved for it after. Each message is applied in the consumer's
//! transaction, so a redelivered one changes nothing twice.

use comms_bus::{Envelope, HandleError, Handler};
use comms_events::call::{CallEvent, Started};
use comms_proto::ErrorKind;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::app::Agents;
use crate::domain::Command;
use crate::routing::{ACTOR, Need};
use crate::store;

pub struct CallFeed(pub Agents);

/// Domain refusals (an offline agent dialing, an unknown agent) are facts to log, not poison.
/// Not found is the usual case (most calls never had an agent or a queue place), so it is
/// logged only for debugging.
fn tolerate(result: Result<(), comms_proto::ApiError>, what: &str) -> Result<(), HandleError> {
    match result {
        Ok(()) => Ok(()),
        Err(e) if e.kind == ErrorKind::NotFound => {
            tracing::debug!(error = %e.message, "{what}: nothing to do for the agents");
            Ok(())
        }
        Err(e)
            if matches!(
                e.kind,
                ErrorKind::FailedPrecondition | ErrorKind::InvalidArgument
            ) =>
        {
            tracing::warn!(error = %e.message, "{what}: nothing to do for the agents");
            Ok(())
        }
        Err(e) => Err(HandleError::from_api(what, e)),
    }
}

impl Handler for CallFeed {
    async fn handle(
        &self,
        conn: &mut PgConnection,
        envelope: &Envelope,
    ) -> Result<(), HandleError> {
        let org = envelope.organization_id.as_str();
        match envelope.decode::<CallEvent>()? {
            CallEvent::Started(call) => self.started(conn, envelope, call).await,
            CallEvent::Queued(call) => {
                let need = Need {
                    call_id: call.call_id,
                    skills: call.skills,
                    language: Some(call.language),
                    priority: call.priority,
                };
                self.queued(conn, org, need).await
            }
            CallEvent::Rerouted(call) => {
                let need = Need {
                    call_id: call.call_id,
                    skills: call.skills,
                    language: Some(call.language),
                    priority: 0,
                };
                let result = self.0.reroute_in(conn, org, &need).await.map(|_| ());
                tolerate(result, "re-routing a waiting call")
            }
            CallEvent::Ended(e) => self.finished(conn, org, e.call_id).await,
            CallEvent::Failed(e) => self.finished(conn, org, e.call_id).await,
            CallEvent::Canceled(e) => self.finished(conn, org, e.call_id).await,
            // Nothing for the agents.
            CallEvent::Ringing(_)
            | CallEvent::Answered(_)
            | CallEvent::Updated(_)
            | CallEvent::AgentAssigned(_)
            | CallEvent::Placed(_)
            | CallEvent::MachineDetected(_)
            | CallEvent::RecordingAvailable(_)
            | CallEvent::RecordingChanged(_)
            | CallEvent::RecordingDeleted(_)
            | CallEvent::IvrStep(_)
            | CallEvent::CallbackRequested(_)
            | CallEvent::MonitoringChanged(_)
            | CallEvent::AgentLegAnswered(_)
            | CallEvent::Utterance(_)
            | CallEvent::Transcribed(_)
            | CallEvent::Sentiment(_)
            | CallEvent::SentimentAlert(_)
            | CallEvent::Summarized(_)
            | CallEvent::TranscriptDeleted(_) => Ok(()),
        }
    }
}

impl CallFeed {
    /// An agent placing a call is busy from its start.
    async fn started(
        &self,
        conn: &mut PgConnection,
        envelope: &Envelope,
        call: Started,
    ) -> Result<(), HandleError> {
        let Some(agent) = call.agent_id else {
            return Ok(());
        };
        let dial = Command::Dial {
            call_id: call.call_id,
            at: envelope.timestamp,
        };
        let result = store::change_agent(conn, &envelope.organization_id, ACTOR, agent, dial)
            .await
            .map(|_| ())
            .map_err(comms_proto::ApiError::from);
        tolerate(result, "an agent's outbound call")
    }

    /// The call waits for an agent with its skills, language and priority. For a call answered
    /// without a flow the calls service asked already as it answered; asking again finds that
    /// reservation or queue place.
    async fn queued(
        &self,
        conn: &mut PgConnection,
        org: &str,
        need: Need,
    ) -> Result<(), HandleError> {
        let result = self.0.reserve_in(conn, org, &need, true).await.map(|_| ());
        tolerate(result, "routing a call its IVR flow queued")
    }

    /// The call ended, failed or was canceled.
    async fn finished(
        &self,
        conn: &mut PgConnection,
        org: &str,
        call_id: Uuid,
    ) -> Result<(), HandleError> {
        // Marked ended first, under the row lock a reservation takes too: one that comes
        // later is refused, one that came first has its agent released just below.
        sqlx::query(
            "INSERT INTO routing_calls (call_id, org_id, ended_at)
             VALUES ($1, $2, now())
             ON CONFLICT (call_id) DO UPDATE
             SET ended_at = COALESCE(routing_calls.ended_at, now())",
        )
        .bind(call_id)
        .bind(org)
        .execute(&mut *conn)
        .await
        .map_err(HandleError::from)?;
        let result = self
            .0
            .release_in(conn, org, ACTOR, call_id)
            .await
            .map(|_| ());
        tolerate(result, "releasing a finished call")?;
        sqlx::query("DELETE FROM routing_calls WHERE ended_at < now() - interval '1 hour'")
            .execute(&mut *conn)
            .await
            .map_err(HandleError::from)?;
        // A freed agent (a call that ended before it was taken) may be offered the next.
        self.0.freed.notify_one();
        Ok(())
    }
}
