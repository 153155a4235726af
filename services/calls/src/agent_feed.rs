//! The calls service following routing on the bus (`comms.agent.busy`): the agent put on a
//! call is recorded on it, as of when the agent went on it (where a queued call's wait ends),
//! so the call shows who handled it and that agent may work it (an
//! agent's calls are those assigned to them). Assigning the same agent again changes nothing,
//! so a redelivered message is harmless.

use comms_auth::Identity;
use comms_bus::{Envelope, HandleError, Handler};
use comms_events::agent::AgentEvent;
use comms_proto::ErrorKind;
use sqlx::PgConnection;

use crate::Calls;

pub struct AgentFeed(pub Calls);

impl Handler for AgentFeed {
    async fn handle(
        &self,
        _conn: &mut PgConnection,
        envelope: &Envelope,
    ) -> Result<(), HandleError> {
        let AgentEvent::Busy(busy) = envelope.decode::<AgentEvent>()? else {
            return Ok(()); // bound to comms.agent.busy alone
        };
        let identity = Identity::system(&envelope.organization_id, "routing");
        match self
            .0
            .assign_agent(&identity, busy.call_id, busy.agent_id, busy.at)
            .await
        {
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
