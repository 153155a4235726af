//! The `comms.v1.AgentsService` gRPC API: identify the caller, check the permission and its
//! reach (a supervisor reaches their teams' agents, an agent themselves), run the use case, map
//! errors through the one table. An agent out of reach is as unknown as another organization's.

use comms_auth::{Identity, Permission, Scope, Tokens};
use comms_proto::v1::agents_service_server::AgentsService;
use comms_proto::v1::{self};
use comms_proto::{ApiError, Language, Violations};
use tonic::{Request, Response, Status};
use tracing::Instrument as _;
use uuid::Uuid;

use crate::app::Agents;
use crate::convert::{state_from_proto, team_to_proto, to_proto};
use crate::domain::{Profile, ProfileChange, TeamCommand, profile};
use crate::listing::{self, AgentFilter};
use crate::routing::{Need, Reservation};

pub struct AgentsGrpc {
    agents: Agents,
    tokens: Tokens,
    /// Ends watch streams when the service drains.
    shutdown: comms_runtime::Shutdown,
}

/// Who may be reached under a permission.
enum Reach {
    Organization,
    /// The teams this user supervises.
    Teams(Vec<Uuid>),
    /// Only the agent whose id is the caller's user id.
    Myself(Option<Uuid>),
}

fn span<T>(name: &'static str, request: &Request<T>) -> tracing::Span {
    let span = tracing::info_span!(
        "rpc",
        rpc.service = "comms.v1.AgentsService",
        rpc.method = name,
        org_id = tracing::field::Empty
    );
    comms_telemetry::continue_trace(&span, comms_telemetry::grpc_traceparent(request.metadata()));
    span
}

fn parse_id(field: &str, value: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(value).map_err(|_| ApiError::invalid(field, format!("{value:?} is not a UUID")))
}

fn optional_id(violations: &mut Violations, field: &str, value: &str) -> Option<Uuid> {
    if value.is_empty() {
        return None;
    }
    violations.check(
        field,
        Uuid::parse_str(value).map_err(|_| format!("{value:?} is not a UUID")),
    )
}

impl AgentsGrpc {
    pub fn new(agents: Agents, tokens: Tokens, shutdown: comms_runtime::Shutdown) -> Self {
        Self {
            agents,
            tokens,
            shutdown,
        }
    }

    async fn caller<T>(
        &self,
        request: &Request<T>,
        permission: Permission,
    ) -> Result<(Identity, Reach), Status> {
        let identity = comms_auth::service::identify(&self.tokens, request.metadata())?;
        tracing::Span::current().record("org_id", identity.org_id.as_str());
        let reach = match identity.require(permission)? {
            Scope::Organization => Reach::Organization,
            Scope::Team => {
                Reach::Teams(listing::supervised_teams(self.agents.pool(), &identity).await?)
            }
            Scope::Own => Reach::Myself(Uuid::parse_str(&identity.user_id).ok()),
        };
        Ok((identity, reach))
    }

    /// The agent, if the caller's reach covers them.
    async fn reachable(
        &self,
        identity: &Identity,
        reach: &Reach,
        id: Uuid,
    ) -> Result<crate::store::Versioned<crate::domain::Agent>, Status> {
        let agent = self.agents.get_agent(identity, id).await?;
        let covered = match reach {
            Reach::Organization => true,
            Reach::Teams(teams) => agent.value.team_id.is_some_and(|t| teams.contains(&t)),
            Reach::Myself(me) => *me == Some(id),
        };
        if covered {
            Ok(agent)
        } else {
            Err(ApiError::not_found("agent", &id.to_string()).into())
        }
    }

    fn team_covered(reach: &Reach, team: Uuid) -> Result<(), Status> {
        match reach {
            Reach::Organization => Ok(()),
            Reach::Teams(teams) if teams.contains(&team) => Ok(()),
            _ => Err(ApiError::not_found("team", &team.to_string()).into()),
        }
    }
}

fn skills_of(violations: &mut Violations, skills: &[v1::Skill]) -> Vec<profile::Skill> {
    let skills: Vec<profile::Skill> = skills
        .iter()
        .map(|s| profile::Skill {
            name: s.name.clone(),
            proficiency: u8::try_from(s.proficiency).unwrap_or(u8::MAX),
        })
        .collect();
    violations.check(
        "skills",
        profile::check_skills(&skills).map_err(|e| e.to_string()),
    );
    skills
}

fn languages_of(violations: &mut Violations, codes: &[String]) -> Vec<Language> {
    violations
        .check(
            "languages",
            profile::parse_languages(codes).map_err(|e| e.to_string()),
        )
        .unwrap_or_default()
}

/// The reason of a domain check, without its field prefix (the field is named separately).
fn reason(error: crate::domain::DomainError) -> String {
    match error {
        crate::domain::DomainError::Invalid { reason, .. } => reason,
        other => other.to_string(),
    }
}

type AgentStream =
    std::pin::Pin<Box<dyn tokio_stream::Stream<Item = Result<v1::Agent, Status>> + Send>>;

#[tonic::async_trait]
impl AgentsService for AgentsGrpc {
    type WatchAgentsStream = AgentStream;

    async fn watch_agents(
        &self,
        request: Request<v1::WatchAgentsRequest>,
    ) -> Result<Response<AgentStream>, Status> {
        let span = span("WatchAgents", &request);
        let (identity, reach) = self
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
            crate::watch::Watch::start(self.agents.clone(), identity.org_id.clone(), filter)
                .await?;
        let stream = watch.stream(self.shutdown.clone());
        Ok(Response::new(Box::pin(stream)))
    }

    async fn create_agent(
        &self,
        request: Request<v1::CreateAgentRequest>,
    ) -> Result<Response<v1::Agent>, Status> {
        let span = span("CreateAgent", &request);
        async move {
            let (identity, reach) = self.caller(&request, Permission::AgentsManage).await?;
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
                (Reach::Teams(_), Some(team)) => Self::team_covered(&reach, team)?,
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
            let agent = self
                .agents
                .create_agent(&identity, id, profile, team_id)
                .await?;
            Ok(Response::new(to_proto(&agent)))
        }
        .instrument(span)
        .await
    }

    async fn get_agent(
        &self,
        request: Request<v1::GetAgentRequest>,
    ) -> Result<Response<v1::Agent>, Status> {
        let span = span("GetAgent", &request);
        async move {
            let (identity, reach) = self.caller(&request, Permission::AgentsRead).await?;
            let id = parse_id("id", &request.get_ref().id)?;
            Ok(Response::new(to_proto(
                &self.reachable(&identity, &reach, id).await?,
            )))
        }
        .instrument(span)
        .await
    }

    async fn list_agents(
        &self,
        request: Request<v1::ListAgentsRequest>,
    ) -> Result<Response<v1::ListAgentsResponse>, Status> {
        let span = span("ListAgents", &request);
        async move {
            let (identity, reach) = self.caller(&request, Permission::AgentsRead).await?;
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
                listing::agents(self.agents.pool(), &identity.org_id, &filter, after, size).await?;
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

    async fn update_agent(
        &self,
        request: Request<v1::UpdateAgentRequest>,
    ) -> Result<Response<v1::Agent>, Status> {
        let span = span("UpdateAgent", &request);
        async move {
            let (identity, reach) = self.caller(&request, Permission::AgentsManage).await?;
            let req = request.into_inner();
            let id = parse_id("id", &req.id)?;
            let mut violations = Violations::default();
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
            self.reachable(&identity, &reach, id).await?;
            let change = ProfileChange {
                name: req.name,
                email: req.email,
                phone: req.phone,
                extension: req.extension,
                languages,
                skills,
            };
            Ok(Response::new(to_proto(
                &self.agents.update_agent(&identity, id, change).await?,
            )))
        }
        .instrument(span)
        .await
    }

    async fn update_agent_status(
        &self,
        request: Request<v1::UpdateAgentStatusRequest>,
    ) -> Result<Response<v1::Agent>, Status> {
        let span = span("UpdateAgentStatus", &request);
        async move {
            let (identity, reach) = self.caller(&request, Permission::AgentsStatus).await?;
            let req = request.into_inner();
            let id = parse_id("id", &req.id)?;
            let status = state_from_proto(req.status).ok_or_else(|| {
                ApiError::invalid("status", "one of available, break, away, offline")
            })?;
            self.reachable(&identity, &reach, id).await?;
            let reason = (!req.reason.is_empty()).then_some(req.reason);
            Ok(Response::new(to_proto(
                &self
                    .agents
                    .set_status(&identity, id, status, reason)
                    .await?,
            )))
        }
        .instrument(span)
        .await
    }

    async fn create_team(
        &self,
        request: Request<v1::CreateTeamRequest>,
    ) -> Result<Response<v1::Team>, Status> {
        let span = span("CreateTeam", &request);
        async move {
            let (identity, _) = self.caller(&request, Permission::TeamsAdmin).await?;
            let req = request.into_inner();
            let supervisor = (!req.supervisor_id.is_empty()).then_some(req.supervisor_id);
            let id = Uuid::now_v7();
            let team = self
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

    async fn get_team(
        &self,
        request: Request<v1::GetTeamRequest>,
    ) -> Result<Response<v1::Team>, Status> {
        let span = span("GetTeam", &request);
        async move {
            let (identity, reach) = self.caller(&request, Permission::AgentsRead).await?;
            let id = parse_id("id", &request.get_ref().id)?;
            if matches!(reach, Reach::Myself(_)) {
                return Err(ApiError::not_found("team", &id.to_string()).into());
            }
            Self::team_covered(&reach, id)?;
            Ok(Response::new(team_to_proto(
                &self.agents.get_team(&identity, id).await?,
            )))
        }
        .instrument(span)
        .await
    }

    async fn list_teams(
        &self,
        request: Request<v1::ListTeamsRequest>,
    ) -> Result<Response<v1::ListTeamsResponse>, Status> {
        let span = span("ListTeams", &request);
        async move {
            let (identity, reach) = self.caller(&request, Permission::AgentsRead).await?;
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
                self.agents.pool(),
                &identity.org_id,
                only.as_deref(),
                after,
                size,
            )
            .await?;
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

    async fn update_team(
        &self,
        request: Request<v1::UpdateTeamRequest>,
    ) -> Result<Response<v1::Team>, Status> {
        let span = span("UpdateTeam", &request);
        async move {
            let (identity, reach) = self.caller(&request, Permission::TeamsManage).await?;
            let req = request.into_inner();
            let id = parse_id("id", &req.id)?;
            Self::team_covered(&reach, id)?;
            if req.supervisor_id.is_some() {
                identity.require(Permission::TeamsAdmin)?;
            }
            let mut team = self.agents.get_team(&identity, id).await?;
            if let Some(name) = req.name {
                team = self
                    .agents
                    .team_command(&identity, id, || TeamCommand::Rename {
                        name: name.clone(),
                        at: chrono::Utc::now(),
                    })
                    .await?;
            }
            if let Some(supervisor) = req.supervisor_id {
                let supervisor = (!supervisor.is_empty()).then_some(supervisor);
                team = self
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

    async fn add_team_member(
        &self,
        request: Request<v1::TeamMemberRequest>,
    ) -> Result<Response<v1::Agent>, Status> {
        let span = span("AddTeamMember", &request);
        async move {
            let (identity, reach) = self.caller(&request, Permission::TeamsManage).await?;
            let req = request.into_inner();
            let team = parse_id("id", &req.id)?;
            let agent = parse_id("agent_id", &req.agent_id)?;
            Self::team_covered(&reach, team)?;
            self.agents.get_team(&identity, team).await?;
            // A supervisor may take in agents of no team, or move them between their own teams.
            let current = self.agents.get_agent(&identity, agent).await?;
            if let (Reach::Teams(teams), Some(from)) = (&reach, current.value.team_id) {
                if !teams.contains(&from) {
                    return Err(ApiError::not_found("agent", &agent.to_string()).into());
                }
            }
            Ok(Response::new(to_proto(
                &self.agents.set_team(&identity, agent, Some(team)).await?,
            )))
        }
        .instrument(span)
        .await
    }

    async fn remove_team_member(
        &self,
        request: Request<v1::TeamMemberRequest>,
    ) -> Result<Response<v1::Agent>, Status> {
        let span = span("RemoveTeamMember", &request);
        async move {
            let (identity, reach) = self.caller(&request, Permission::TeamsManage).await?;
            let req = request.into_inner();
            let team = parse_id("id", &req.id)?;
            let agent = parse_id("agent_id", &req.agent_id)?;
            Self::team_covered(&reach, team)?;
            self.agents.get_team(&identity, team).await?;
            let current = self.agents.get_agent(&identity, agent).await?;
            if current.value.team_id != Some(team) {
                return Err(ApiError::invalid("agent_id", "the agent is not in this team").into());
            }
            Ok(Response::new(to_proto(
                &self.agents.set_team(&identity, agent, None).await?,
            )))
        }
        .instrument(span)
        .await
    }

    async fn reserve_agent(
        &self,
        request: Request<v1::ReserveAgentRequest>,
    ) -> Result<Response<v1::Reservation>, Status> {
        let span = span("ReserveAgent", &request);
        async move {
            let (identity, _) = self.caller(&request, Permission::Routing).await?;
            let req = request.into_inner();
            let mut violations = Violations::default();
            let call_id = violations.check(
                "call_id",
                Uuid::parse_str(&req.call_id)
                    .map_err(|_| format!("{:?} is not a UUID", req.call_id)),
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
            let reservation = self.agents.reserve(&identity, need).await?;
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

    async fn accept_reservation(
        &self,
        request: Request<v1::AcceptReservationRequest>,
    ) -> Result<Response<v1::Agent>, Status> {
        let span = span("AcceptReservation", &request);
        async move {
            let (identity, _) = self.caller(&request, Permission::Routing).await?;
            let req = request.into_inner();
            let agent = parse_id("agent_id", &req.agent_id)?;
            let call = parse_id("call_id", &req.call_id)?;
            Ok(Response::new(to_proto(
                &self.agents.accept(&identity, agent, call).await?,
            )))
        }
        .instrument(span)
        .await
    }

    async fn release_agent(
        &self,
        request: Request<v1::ReleaseAgentRequest>,
    ) -> Result<Response<v1::Agent>, Status> {
        let span = span("ReleaseAgent", &request);
        async move {
            let (identity, _) = self.caller(&request, Permission::Routing).await?;
            let call = parse_id("call_id", &request.get_ref().call_id)?;
            let released = self.agents.release(&identity, call).await?;
            Ok(Response::new(
                released.as_ref().map(to_proto).unwrap_or_default(),
            ))
        }
        .instrument(span)
        .await
    }
}
