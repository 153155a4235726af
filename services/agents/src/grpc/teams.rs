//! Teams: create, read, list, rename, staff.

use super::*;

pub(super) async fn create_team(
    svc: &AgentsGrpc,
    request: Request<v1::CreateTeamRequest>,
) -> Result<Response<v1::Team>, Status> {
    let span = span("CreateTeam", &request);
    async move {
        let (identity, _) = svc.caller(&request, Permission::TeamsAdmin).await?;
        let req = request.into_inner();
        let supervisor = (!req.supervisor_id.is_empty()).then_some(req.supervisor_id);
        let id = Uuid::now_v7();
        let team = svc
            .agents
            .team_command(&identity, id, || TeamCommand::Create {
                team_id: id,
                name: req.name.clone(),
                supervisor_id: supervisor.clone(),
                at: chrono::Utc::now(),
            })
            .await?;
        Ok(Response::new(team_to_proto(&team)))
    }
    .instrument(span)
    .await
}

pub(super) async fn get_team(
    svc: &AgentsGrpc,
    request: Request<v1::GetTeamRequest>,
) -> Result<Response<v1::Team>, Status> {
    let span = span("GetTeam", &request);
    async move {
        let (identity, reach) = svc.caller(&request, Permission::AgentsRead).await?;
        let id = parse_id("id", &request.get_ref().id)?;
        if matches!(reach, Reach::Myself(_)) {
            return Err(ApiError::not_found("team", &id.to_string()).into());
        }
        AgentsGrpc::team_covered(&reach, id)?;
        Ok(Response::new(team_to_proto(
            &svc.agents.get_team(&identity, id).await?,
        )))
    }
    .instrument(span)
    .await
}

pub(super) async fn list_teams(
    svc: &AgentsGrpc,
    request: Request<v1::ListTeamsRequest>,
) -> Result<Response<v1::ListTeamsResponse>, Status> {
    let span = span("ListTeams", &request);
    async move {
        let (identity, reach) = svc.caller(&request, Permission::AgentsRead).await?;
        let page = request.into_inner().page.unwrap_or_default();
        let after = if page.page_token.is_empty() {
            None
        } else {
            Some(parse_id("page_token", &page.page_token)?)
        };
        let only = match reach {
            Reach::Organization => None,
            Reach::Teams(teams) => Some(teams),
            Reach::Myself(_) => Some(Vec::new()),
        };
        let size = match page.page_size {
            0 => 50,
            n => n.min(200),
        } as usize;
        let (teams, next) = listing::teams(
            svc.agents.pool(),
            &identity.org_id,
            only.as_deref(),
            after,
            size,
        )
        .await
        .map_err(ApiError::from)?;
        Ok(Response::new(v1::ListTeamsResponse {
            teams: teams.iter().map(team_to_proto).collect(),
            page: Some(v1::PageInfo {
                next_page_token: next.map(|id| id.to_string()).unwrap_or_default(),
            }),
        }))
    }
    .instrument(span)
    .await
}

pub(super) async fn update_team(
    svc: &AgentsGrpc,
    request: Request<v1::UpdateTeamRequest>,
) -> Result<Response<v1::Team>, Status> {
    let span = span("UpdateTeam", &request);
    async move {
        let (identity, reach) = svc.caller(&request, Permission::TeamsManage).await?;
        let req = request.into_inner();
        let id = parse_id("id", &req.id)?;
        if req.name.is_none() && req.supervisor_id.is_none() {
            return Err(
                ApiError::invalid("body", "nothing to change: give name or supervisor_id").into(),
            );
        }
        AgentsGrpc::team_covered(&reach, id)?;
        if req.supervisor_id.is_some() {
            identity.require(Permission::TeamsAdmin)?;
        }
        let mut team = svc.agents.get_team(&identity, id).await?;
        if let Some(name) = req.name {
            team = svc
                .agents
                .team_command(&identity, id, || TeamCommand::Rename {
                    name: name.clone(),
                    at: chrono::Utc::now(),
                })
                .await?;
        }
        if let Some(supervisor) = req.supervisor_id {
            let supervisor = (!supervisor.is_empty()).then_some(supervisor);
            team = svc
                .agents
                .team_command(&identity, id, || TeamCommand::AssignSupervisor {
                    supervisor_id: supervisor.clone(),
                    at: chrono::Utc::now(),
                })
                .await?;
        }
        Ok(Response::new(team_to_proto(&team)))
    }
    .instrument(span)
    .await
}

pub(super) async fn add_team_member(
    svc: &AgentsGrpc,
    request: Request<v1::TeamMemberRequest>,
) -> Result<Response<v1::Agent>, Status> {
    let span = span("AddTeamMember", &request);
    async move {
        let (identity, reach) = svc.caller(&request, Permission::TeamsManage).await?;
        let req = request.into_inner();
        let team = parse_id("id", &req.id)?;
        let agent = parse_id("agent_id", &req.agent_id)?;
        AgentsGrpc::team_covered(&reach, team)?;
        svc.agents.get_team(&identity, team).await?;
        // The agent is named in the body: one the caller cannot reach is an unknown reference.
        // A supervisor may take in agents of no team, or move them between their own teams.
        let unknown =
            || ApiError::unknown_reference("agent_id", format!("no agent {agent} you can reach"));
        let current = match svc.agents.get_agent(&identity, agent).await {
            Err(e) if e.kind == ErrorKind::NotFound => return Err(unknown().into()),
            found => found?,
        };
        if let (Reach::Teams(teams), Some(from)) = (&reach, current.value.team_id)
            && !teams.contains(&from)
        {
            return Err(unknown().into());
        }
        Ok(Response::new(to_proto(
            &svc.agents.set_team(&identity, agent, Some(team)).await?,
        )))
    }
    .instrument(span)
    .await
}

pub(super) async fn remove_team_member(
    svc: &AgentsGrpc,
    request: Request<v1::TeamMemberRequest>,
) -> Result<Response<v1::Agent>, Status> {
    let span = span("RemoveTeamMember", &request);
    async move {
        let (identity, reach) = svc.caller(&request, Permission::TeamsManage).await?;
        let req = request.into_inner();
        let team = parse_id("id", &req.id)?;
        let agent = parse_id("agent_id", &req.agent_id)?;
        AgentsGrpc::team_covered(&reach, team)?;
        svc.agents.get_team(&identity, team).await?;
        let current = svc.agents.get_agent(&identity, agent).await?;
        if current.value.team_id != Some(team) {
            // The path names the membership, which does not exist.
            return Err(ApiError::new(
                ErrorKind::NotFound,
                format!("agent {agent} is not a member of team {team}"),
            )
            .into());
        }
        Ok(Response::new(to_proto(
            &svc.agents.set_team(&identity, agent, None).await?,
        )))
    }
    .instrument(span)
    .await
}
