//! Supervisor controls over calls: re-routing a waiting call to another queue, and listening
//! to, whispering to or barging into a call with its agent.

use super::*;

/// A supervisor (any of the organization's waiting calls: a waiting call has no agent, so no
/// team) or an administrator sends a waiting call to another queue; an agent may not.
pub(super) async fn reroute_waiting_call(
    svc: &CallsGrpc,
    request: Request<v1::RerouteWaitingCallRequest>,
) -> Result<Response<v1::Call>, Status> {
    let identity = comms_auth::service::identify(&svc.tokens, request.metadata())?;
    tracing::Span::current().record("org_id", identity.org_id.as_str());
    identity.require(Permission::AgentsSupervise)?;
    let req = request.into_inner();
    let mut violations = Violations::default();
    let id = violations.check(
        "call_id",
        Uuid::parse_str(&req.call_id).map_err(|_| format!("{:?} is not a UUID", req.call_id)),
    );
    let language = violations.check("language", Language::parse(&req.language));
    violations.finish()?;
    let (Some(id), Some(language)) = (id, language) else {
        unreachable!("each is recorded as a violation when absent");
    };
    let view = svc
        .calls
        .execute(&identity, id, || Command::Reroute {
            skills: req.skills.clone(),
            language,
            reason: req.reason.clone(),
            by: identity.user_id.clone(),
            at: Utc::now(),
        })
        .await?;
    Ok(Response::new(to_proto(view)))
}

/// A supervisor joins a call of one of their teams' agents (the agents service, asked with the
/// supervisor's own token, says whether they lead the call's agent: a call of another team's
/// agent is as unknown as another organization's), or an administrator any call; an agent may
/// not.
pub(super) async fn monitor_call(
    svc: &CallsGrpc,
    request: Request<v1::MonitorCallRequest>,
) -> Result<Response<v1::Call>, Status> {
    let identity = comms_auth::service::identify(&svc.tokens, request.metadata())?;
    tracing::Span::current().record("org_id", identity.org_id.as_str());
    let scope = identity.require(Permission::AgentsSupervise)?;
    let req = request.get_ref();
    let mut violations = Violations::default();
    let id = violations.check(
        "call_id",
        Uuid::parse_str(&req.call_id).map_err(|_| format!("{:?} is not a UUID", req.call_id)),
    );
    let mode = violations.check(
        "mode",
        MonitorMode::parse(&req.mode).ok_or_else(|| {
            format!(
                "{:?} is not one of listen, whisper, barge, stopped",
                req.mode
            )
        }),
    );
    violations.finish()?;
    let (Some(id), Some(mode)) = (id, mode) else {
        unreachable!("each is recorded as a violation when absent");
    };
    let view = svc.calls.get(&identity, id).await?;
    if scope == Scope::Team {
        let led = match view.call.agent_id {
            Some(agent) => {
                let asked = forwarded(
                    request.metadata(),
                    v1::GetAgentRequest {
                        id: agent.to_string(),
                    },
                );
                match svc.agents.clone().get_agent(asked).await {
                    Ok(_) => true,
                    Err(status) if status.code() == Code::NotFound => false,
                    Err(status) => return Err(status),
                }
            }
            // Waiting for an agent: in no team yet; the domain says why it cannot be joined.
            None => true,
        };
        if !led {
            return Err(ApiError::not_found("call", &id.to_string()).into());
        }
    }
    let view = svc
        .calls
        .monitor(&identity, view, &identity.user_id, mode)
        .await?;
    Ok(Response::new(to_proto(view)))
}
