//! Agents: create, read, list, change, set status, and watch.

use super::*;

pub(super) async fn watch_agents(
    svc: &AgentsGrpc,
    request: Request<v1::WatchAgentsRequest>,
) -> Result<Response<AgentStream>, Status> {
    let span = span("WatchAgents", &request);
    let (identity, reach) = svc
        .caller(&request, Permission::AgentsRead)
        .instrument(span.clone())
        .await?;
    let mut violations = Violations::default();
    let team_id = optional_id(&mut violations, "team_id", &request.get_ref().team_id);
    violations.finish()?;
    let mut filter = AgentFilter {
        team_id,
        ..Default::default()
    };
    match reach {
        Reach::Organization => {}
        Reach::Teams(teams) => filter.teams = Some(teams),
        Reach::Myself(me) => filter.only = Some(me.unwrap_or(Uuid::nil())),
    }
    let watch =
        crate::watch::Watch::start(svc.agents.clone(), identity.org_id.clone(), filter).await?;
    let stream = watch.stream(svc.shutdown.clone());
    Ok(Response::new(Box::pin(stream)))
}

pub(super) async fn create_agent(
    svc: &AgentsGrpc,
    request: Request<v1::CreateAgentRequest>,
) -> Result<Response<v1::Agent>, Status> {
    let span = span("CreateAgent", &request);
    async move {
        let (identity, reach) = svc.caller(&request, Permission::AgentsManage).await?;
        let req = request.into_inner();
        let mut violations = Violations::default();
        violations.check("name", profile::check_name(&req.name).map_err(reason));
        violations.check("email", profile::check_email(&req.email).map_err(reason));
        violations.check("phone", profile::check_phone(&req.phone).map_err(reason));
        violations.check(
            "extension",
            profile::check_extension(&req.extension).map_err(reason),
        );
        let languages = languages_of(&mut violations, &req.languages);
        let skills = skills_of(&mut violations, &req.skills);
        let team_id = optional_id(&mut violations, "team_id", &req.team_id);
        let user_id = optional_id(&mut violations, "user_id", &req.user_id);
        violations.finish()?;
        match (&reach, team_id) {
            (Reach::Organization, _) => {}
            (Reach::Teams(_), Some(team)) => AgentsGrpc::team_covered(&reach, team)?,
            _ => {
                return Err(ApiError::invalid(
                    "team_id",
                    "a supervisor creates agents in a team they supervise",
                )
                .into());
            }
        }
        let profile = Profile {
            name: req.name,
            email: req.email,
            phone: req.phone,
            extension: req.extension,
            languages,
            skills,
        };
        let id = user_id.unwrap_or_else(Uuid::now_v7);
        let agent = svc
            .agents
            .create_agent(&identity, id, profile, team_id)
            .await?;
        Ok(Response::new(to_proto(&agent)))
    }
    .instrument(span)
    .await
}

pub(super) async fn get_agent(
    svc: &AgentsGrpc,
    request: Request<v1::GetAgentRequest>,
) -> Result<Response<v1::Agent>, Status> {
    let span = span("GetAgent", &request);
    async move {
        let (identity, reach) = svc.caller(&request, Permission::AgentsRead).await?;
        let id = parse_id("id", &request.get_ref().id)?;
        Ok(Response::new(to_proto(
            &svc.reachable(&identity, &reach, id).await?,
        )))
    }
    .instrument(span)
    .await
}

pub(super) async fn list_agents(
    svc: &AgentsGrpc,
    request: Request<v1::ListAgentsRequest>,
) -> Result<Response<v1::ListAgentsResponse>, Status> {
    let span = span("ListAgents", &request);
    async move {
        let (identity, reach) = svc.caller(&request, Permission::AgentsRead).await?;
        let req = request.into_inner();
        let mut violations = Violations::default();
        let mut states = Vec::new();
        for value in &req.states {
            match state_from_proto(*value) {
                Some(state) => states.push(state),
                None => violations.add("states", format!("{value} is not an agent state")),
            }
        }
        let team_id = optional_id(&mut violations, "team_id", &req.team_id);
        let language = if req.language.is_empty() {
            None
        } else {
            violations.check("language", Language::parse(&req.language))
        };
        let skill = (!req.skill.is_empty()).then_some(req.skill.clone());
        if skill.as_deref().is_some_and(|s| !profile::is_skill_name(s)) {
            violations.add(
                "skill",
                format!(
                    "{:?} is not a skill name: 1-50 of a-z, 0-9, _ and -",
                    req.skill
                ),
            );
        }
        let page = req.page.unwrap_or_default();
        let after = optional_id(&mut violations, "page_token", &page.page_token);
        violations.finish()?;
        let mut filter = AgentFilter {
            states,
            team_id,
            skill,
            language,
            teams: None,
            only: None,
        };
        match reach {
            Reach::Organization => {}
            Reach::Teams(teams) => filter.teams = Some(teams),
            Reach::Myself(me) => filter.only = Some(me.unwrap_or(Uuid::nil())),
        }
        let size = match page.page_size {
            0 => 50,
            n => n.min(200),
        } as usize;
        let (agents, next) =
            listing::agents(svc.agents.pool(), &identity.org_id, &filter, after, size)
                .await
                .map_err(ApiError::from)?;
        Ok(Response::new(v1::ListAgentsResponse {
            agents: agents.iter().map(to_proto).collect(),
            page: Some(v1::PageInfo {
                next_page_token: next.map(|id| id.to_string()).unwrap_or_default(),
            }),
        }))
    }
    .instrument(span)
    .await
}

pub(super) async fn update_agent(
    svc: &AgentsGrpc,
    request: Request<v1::UpdateAgentRequest>,
) -> Result<Response<v1::Agent>, Status> {
    let span = span("UpdateAgent", &request);
    async move {
        let (identity, reach) = svc.caller(&request, Permission::AgentsManage).await?;
        let req = request.into_inner();
        let id = parse_id("id", &req.id)?;
        let mut violations = Violations::default();
        let changes = [
            req.name.is_some(),
            req.email.is_some(),
            req.phone.is_some(),
            req.extension.is_some(),
            req.languages.is_some(),
            req.skills.is_some(),
        ];
        if !changes.contains(&true) {
            violations.add(
                "body",
                "nothing to change: give name, email, phone, extension, languages or skills",
            );
        }
        if let Some(name) = &req.name {
            violations.check("name", profile::check_name(name).map_err(reason));
        }
        if let Some(email) = &req.email {
            violations.check("email", profile::check_email(email).map_err(reason));
        }
        if let Some(phone) = &req.phone {
            violations.check("phone", profile::check_phone(phone).map_err(reason));
        }
        if let Some(extension) = &req.extension {
            violations.check(
                "extension",
                profile::check_extension(extension).map_err(reason),
            );
        }
        let languages = req
            .languages
            .as_ref()
            .map(|l| languages_of(&mut violations, &l.values));
        let skills = req
            .skills
            .as_ref()
            .map(|s| skills_of(&mut violations, &s.values));
        violations.finish()?;
        svc.reachable(&identity, &reach, id).await?;
        let change = ProfileChange {
            name: req.name,
            email: req.email,
            phone: req.phone,
            extension: req.extension,
            languages,
            skills,
        };
        Ok(Response::new(to_proto(
            &svc.agents.update_agent(&identity, id, change).await?,
        )))
    }
    .instrument(span)
    .await
}

pub(super) async fn update_agent_status(
    svc: &AgentsGrpc,
    request: Request<v1::UpdateAgentStatusRequest>,
) -> Result<Response<v1::Agent>, Status> {
    let span = span("UpdateAgentStatus", &request);
    async move {
        let (identity, reach) = svc.caller(&request, Permission::AgentsStatus).await?;
        let req = request.into_inner();
        let id = parse_id("id", &req.id)?;
        let status = state_from_proto(req.status)
            .ok_or_else(|| ApiError::invalid("status", "one of available, break, away, offline"))?;
        svc.reachable(&identity, &reach, id).await?;
        let reason = (!req.reason.is_empty()).then_some(req.reason);
        Ok(Response::new(to_proto(
            &svc.agents.set_status(&identity, id, status, reason).await?,
        )))
    }
    .instrument(span)
    .await
}

pub(super) async fn issue_softphone_token(
    svc: &AgentsGrpc,
    request: Request<v1::IssueSoftphoneTokenRequest>,
) -> Result<Response<v1::SoftphoneToken>, Status> {
    let span = span("IssueSoftphoneToken", &request);
    async move {
        let (identity, reach) = svc.caller(&request, Permission::AgentsSoftphone).await?;
        let req = request.into_inner();
        let id = parse_id("agent_id", &req.agent_id)?;
        let carrier = crate::softphones::parse_carrier(&req.carrier)?;
        // Unknown in the organization: 404. Known but someone else's: 403, as the token takes
        // the agent's calls and the caller is refused the token, not kept from the agent.
        let agent = svc.agents.get_agent(&identity, id).await?;
        if svc.reachable(&identity, &reach, id).await.is_err() {
            return Err(ApiError::new(
                ErrorKind::PermissionDenied,
                "only the agent themselves, their team's supervisor or an administrator may get their softphone token",
            )
            .into());
        }
        let issued = svc
            .softphones
            .issue(
                &identity.org_id,
                carrier,
                &id.to_string(),
                &agent.value.profile.name,
            )
            .await?;
        Ok(Response::new(softphone_token(issued)))
    }
    .instrument(span)
    .await
}

/// A supervisor's or administrator's own softphone token: its identity their user id, the
/// client a call they monitor rings.
pub(super) async fn issue_my_softphone_token(
    svc: &AgentsGrpc,
    request: Request<v1::IssueMySoftphoneTokenRequest>,
) -> Result<Response<v1::SoftphoneToken>, Status> {
    let span = span("IssueMySoftphoneToken", &request);
    async move {
        let (identity, _) = svc.caller(&request, Permission::AgentsSupervise).await?;
        let carrier = crate::softphones::parse_carrier(&request.get_ref().carrier)?;
        let issued = svc
            .softphones
            .issue(
                &identity.org_id,
                carrier,
                &identity.user_id,
                &identity.user_id,
            )
            .await?;
        Ok(Response::new(softphone_token(issued)))
    }
    .instrument(span)
    .await
}

fn softphone_token(issued: crate::softphones::SoftphoneToken) -> v1::SoftphoneToken {
    v1::SoftphoneToken {
        carrier: issued.carrier.as_str().into(),
        identity: issued.identity,
        token: issued.token,
        expires_at: Some(comms_proto::time::to_timestamp(issued.expires_at)),
    }
}
