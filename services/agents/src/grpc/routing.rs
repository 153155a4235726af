//! Routing: reserve an agent for a call, accept, release.

use super::*;

pub(super) async fn reserve_agent(
    svc: &AgentsGrpc,
    request: Request<v1::ReserveAgentRequest>,
) -> Result<Response<v1::Reservation>, Status> {
    let span = span("ReserveAgent", &request);
    async move {
        let (identity, _) = svc.caller(&request, Permission::Routing).await?;
        let req = request.into_inner();
        let mut violations = Violations::default();
        let call_id = violations.check(
            "call_id",
            Uuid::parse_str(&req.call_id).map_err(|_| format!("{:?} is not a UUID", req.call_id)),
        );
        let skills: Vec<profile::Skill> = req
            .required_skills
            .iter()
            .map(|name| profile::Skill {
                name: name.clone(),
                proficiency: 1,
            })
            .collect();
        violations.check(
            "required_skills",
            profile::check_skills(&skills).map_err(reason),
        );
        let language = if req.language.is_empty() {
            None
        } else {
            violations.check("language", Language::parse(&req.language))
        };
        violations.finish()?;
        let call_id = call_id.expect("validated");
        let need = Need {
            call_id,
            skills: req.required_skills,
            language,
            priority: req.priority,
        };
        let reservation = svc.agents.reserve(&identity, need, req.connect).await?;
        Ok(Response::new(match reservation {
            Reservation::Reserved(agent) => v1::Reservation {
                call_id: call_id.to_string(),
                agent: Some(to_proto(&agent)),
                queue_position: 0,
            },
            Reservation::Queued { position } => v1::Reservation {
                call_id: call_id.to_string(),
                agent: None,
                queue_position: position,
            },
        }))
    }
    .instrument(span)
    .await
}

pub(super) async fn accept_reservation(
    svc: &AgentsGrpc,
    request: Request<v1::AcceptReservationRequest>,
) -> Result<Response<v1::Agent>, Status> {
    let span = span("AcceptReservation", &request);
    async move {
        let (identity, _) = svc.caller(&request, Permission::Routing).await?;
        let req = request.into_inner();
        let agent = parse_id("agent_id", &req.agent_id)?;
        let call = parse_id("call_id", &req.call_id)?;
        Ok(Response::new(to_proto(
            &svc.agents.accept(&identity, agent, call).await?,
        )))
    }
    .instrument(span)
    .await
}

pub(super) async fn release_agent(
    svc: &AgentsGrpc,
    request: Request<v1::ReleaseAgentRequest>,
) -> Result<Response<v1::Agent>, Status> {
    let span = span("ReleaseAgent", &request);
    async move {
        let (identity, _) = svc.caller(&request, Permission::Routing).await?;
        let call = parse_id("call_id", &request.get_ref().call_id)?;
        let released = svc.agents.release(&identity, call).await?;
        Ok(Response::new(
            released.as_ref().map(to_proto).unwrap_or_default(),
        ))
    }
    .instrument(span)
    .await
}
