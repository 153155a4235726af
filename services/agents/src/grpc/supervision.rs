//! Supervisor controls: force an agent's state, pull a waiting call to an agent.

use super::*;

pub(super) async fn force_agent_state(
    svc: &AgentsGrpc,
    request: Request<v1::ForceAgentStateRequest>,
) -> Result<Response<v1::Agent>, Status> {
    let span = span("ForceAgentState", &request);
    async move {
        let (identity, reach) = svc.caller(&request, Permission::AgentsSupervise).await?;
        let req = request.into_inner();
        let id = parse_id("id", &req.id)?;
        let status = state_from_proto(req.status)
            .ok_or_else(|| ApiError::invalid("status", "one of available, break, away, offline"))?;
        svc.reachable(&identity, &reach, id).await?;
        let forced = svc
            .agents
            .force_status(&identity, id, status, req.reason)
            .await?;
        Ok(Response::new(to_proto(&forced)))
    }
    .instrument(span)
    .await
}

pub(super) async fn pull_waiting_call(
    svc: &AgentsGrpc,
    request: Request<v1::PullWaitingCallRequest>,
) -> Result<Response<v1::Agent>, Status> {
    let span = span("PullWaitingCall", &request);
    async move {
        let (identity, reach) = svc.caller(&request, Permission::AgentsSupervise).await?;
        let req = request.into_inner();
        let mut violations = Violations::default();
        let call = violations.check(
            "call_id",
            Uuid::parse_str(&req.call_id).map_err(|_| format!("{:?} is not a UUID", req.call_id)),
        );
        let agent = violations.check(
            "agent_id",
            Uuid::parse_str(&req.agent_id).map_err(|_| format!("{:?} is not a UUID", req.agent_id)),
        );
        violations.finish()?;
        let (call, agent) = (call.expect("checked"), agent.expect("checked"));
        svc.reachable(&identity, &reach, agent).await?;
        let pulled = svc.agents.pull(&identity, call, agent).await?;
        Ok(Response::new(to_proto(&pulled)))
    }
    .instrument(span)
    .await
}
