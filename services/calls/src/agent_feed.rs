//! The calls service following routing on the bus (`comms.agent.busy`): the agent put on a
//! call is recorded on it, so the call shows who handled it and that agent may work it (an
//! agent's calls are those assigned to them). Assigning the same agent again changes nothing,
//! so a redelivered message is harmless.

use chrono::Utc;
use comms_auth::Identity;
use comms_bus::{Envelope, HandleError, Handler};
use comms_proto::ErrorKind;
use serde::Deserialize;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::Calls;
use crate::domain::Command;

#[derive(Deserialize)]
struct Busy {
    agent_id: Uuid,
    call_id: Uuid,
}

pub struct AgentFeed(pub Calls);

impl Handler for AgentFeed {
    async fn handle(
        &self,
        _conn: &mut PgConnection,
        envelope: &Envelope,
    ) -> Result<(), HandleError> {
        if envelope.event_type != "comms.agent.busy" {
            return Ok(());
        }
        let busy: Busy = serde_json::from_value(envelope.data.clone())
            .map_err(|e| HandleError::Reject(format!("{}: {e}", envelope.event_type)))?;
        let identity = Identity::system(&envelope.organization_id, "routing");
        let assign = || Command::AssignAgent {
            agent_id: busy.agent_id,
            at: Utc::now(),
        };
        match self.0.execute(&identity, busy.call_id, assign).await {
            Ok(_) => Ok(()),
            // A call this service never placed, or one another agent already holds.
            Err(e) if matches!(e.kind, ErrorKind::NotFound | ErrorKind::InvalidArgument) => {
                tracing::warn!(call = %busy.call_id, error = %e.message, "agent not recorded on the call");
                Ok(())
            }
            Err(e) => Err(HandleError::from_api("recording the agent on the call", e)),
        }
    }
}
