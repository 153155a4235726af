//! The `comms.v1.AgentsService` gRPC API, one file per part (agents, teams, routing): identify
//! the caller, check the permission and its reach (a supervisor reaches their teams' agents, an
//! agent themselves), run the use case, map errors through the one table. An agent out of reach
//! is as unknown as another organization's.

use comms_auth::{Identity, Permission, Scope, Tokens};
use comms_proto::v1::agents_service_server::AgentsService;
use comms_proto::v1::{self};
use comms_proto::{ApiError, ErrorKind, Language, Violations};
use tonic::{Request, Response, Status};
use tracing::Instrument as _;
use uuid::Uuid;

use crate::app::Agents;
use crate::convert::{state_from_proto, team_to_proto, to_proto};
use crate::domain::{DomainError, Profile, ProfileChange, TeamCommand, profile};
use crate::listing::{self, AgentFilter};
use crate::routing::{Need, Reservation};

mod agents;
mod routing;
mod supervision;
mod teams;

pub struct AgentsGrpc {
    agents: Agents,
    softphones: crate::softphones::Softphones,
    tokens: Tokens,
    /// Ends watch streams when the service's draining is over.
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

/// The domain's refusals in the API's terms: the service's error table, with the store's failures
/// (`From<Failure<DomainError>> for ApiError`, shared by the fleet) and `ApiError`'s own mapping
/// to gRPC status codes and HTTP problems.
impl From<DomainError> for ApiError {
    fn from(error: DomainError) -> Self {
        match &error {
            DomainError::AlreadyExists { .. } => {
                ApiError::new(ErrorKind::AlreadyExists, error.to_string())
            }
            DomainError::NotFound { .. } => ApiError::new(ErrorKind::NotFound, error.to_string()),
            DomainError::IllegalTransition { .. } => {
                ApiError::new(ErrorKind::FailedPrecondition, error.to_string())
            }
            DomainError::Invalid { field, reason } => ApiError::invalid(*field, reason.clone()),
        }
    }
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
    pub fn new(
        agents: Agents,
        softphones: crate::softphones::Softphones,
        tokens: Tokens,
        shutdown: comms_runtime::Shutdown,
    ) -> Self {
        Self {
            agents,
            softphones,
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
            Scope::Team => Reach::Teams(
                listing::supervised_teams(self.agents.pool(), &identity)
                    .await
                    .map_err(ApiError::from)?,
            ),
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

    async fn issue_softphone_token(
        &self,
        request: Request<v1::IssueSoftphoneTokenRequest>,
    ) -> Result<Response<v1::SoftphoneToken>, Status> {
        agents::issue_softphone_token(self, request).await
    }

    async fn issue_my_softphone_token(
        &self,
        request: Request<v1::IssueMySoftphoneTokenRequest>,
    ) -> Result<Response<v1::SoftphoneToken>, Status> {
        agents::issue_my_softphone_token(self, request).await
    }

    async fn force_agent_state(
        &self,
        request: Request<v1::ForceAgentStateRequest>,
    ) -> Result<Response<v1::Agent>, Status> {
        supervision::force_agent_state(self, request).await
    }

    async fn pull_waiting_call(
        &self,
        request: Request<v1::PullWaitingCallRequest>,
    ) -> Result<Response<v1::Agent>, Status> {
        supervision::pull_waiting_call(self, request).await
    }

    async fn watch_agents(
        &self,
        request: Request<v1::WatchAgentsRequest>,
    ) -> Result<Response<AgentStream>, Status> {
        agents::watch_agents(self, request).await
    }

    async fn create_agent(
        &self,
        request: Request<v1::CreateAgentRequest>,
    ) -> Result<Response<v1::Agent>, Status> {
        agents::create_agent(self, request).await
    }

    async fn get_agent(
        &self,
        request: Request<v1::GetAgentRequest>,
    ) -> Result<Response<v1::Agent>, Status> {
        agents::get_agent(self, request).await
    }

    async fn list_agents(
        &self,
        request: Request<v1::ListAgentsRequest>,
    ) -> Result<Response<v1::ListAgentsResponse>, Status> {
        agents::list_agents(self, request).await
    }

    async fn update_agent(
        &self,
        request: Request<v1::UpdateAgentRequest>,
    ) -> Result<Response<v1::Agent>, Status> {
        agents::update_agent(self, request).await
    }

    async fn update_agent_status(
        &self,
        request: Request<v1::UpdateAgentStatusRequest>,
    ) -> Result<Response<v1::Agent>, Status> {
        agents::update_agent_status(self, request).await
    }

    async fn create_team(
        &self,
        request: Request<v1::CreateTeamRequest>,
    ) -> Result<Response<v1::Team>, Status> {
        teams::create_team(self, request).await
    }

    async fn get_team(
        &self,
        request: Request<v1::GetTeamRequest>,
    ) -> Result<Response<v1::Team>, Status> {
        teams::get_team(self, request).await
    }

    async fn list_teams(
        &self,
        request: Request<v1::ListTeamsRequest>,
    ) -> Result<Response<v1::ListTeamsResponse>, Status> {
        teams::list_teams(self, request).await
    }

    async fn update_team(
        &self,
        request: Request<v1::UpdateTeamRequest>,
    ) -> Result<Response<v1::Team>, Status> {
        teams::update_team(self, request).await
    }

    async fn add_team_member(
        &self,
        request: Request<v1::TeamMemberRequest>,
    ) -> Result<Response<v1::Agent>, Status> {
        teams::add_team_member(self, request).await
    }

    async fn remove_team_member(
        &self,
        request: Request<v1::TeamMemberRequest>,
    ) -> Result<Response<v1::Agent>, Status> {
        teams::remove_team_member(self, request).await
    }

    async fn reserve_agent(
        &self,
        request: Request<v1::ReserveAgentRequest>,
    ) -> Result<Response<v1::Reservation>, Status> {
        routing::reserve_agent(self, request).await
    }

    async fn accept_reservation(
        &self,
        request: Request<v1::AcceptReservationRequest>,
    ) -> Result<Response<v1::Agent>, Status> {
        routing::accept_reservation(self, request).await
    }

    async fn release_agent(
        &self,
        request: Request<v1::ReleaseAgentRequest>,
    ) -> Result<Response<v1::Agent>, Status> {
        routing::release_agent(self, request).await
    }
}
