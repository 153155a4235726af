//! Supervisor controls over calls: re-routing a waiting call to another queue.

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
