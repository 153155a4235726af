//! The one permission table: which role may do what, and over which rows. Services check it on
//! every RPC (a service-account token skips the edge, not the check); the edge checks it for the
//! endpoints it serves itself. OpenAPI lists each operation's permission, from the same names.

use std::collections::HashMap;

use comms_proto::{ApiError, ErrorKind};

use crate::{Identity, Role};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    CallsRead,
    CallsWrite,
    AnalyticsRead,
    UsersManage,
    CredentialsManage,
    AgentsRead,
    /// Create agents and change their profiles and teams.
    AgentsManage,
    /// Set an agent's status (available, break, away, offline).
    AgentsStatus,
    /// Rename and staff teams.
    TeamsManage,
    /// Create teams and assign their supervisors.
    TeamsAdmin,
    /// Reserve agents for calls, accept and release: what the calls and campaigns services do.
    Routing,
    /// See campaigns, their contacts' progress, and contacts.
    CampaignsRead,
    /// Create, change, start, pause and cancel campaigns; import and change contacts.
    CampaignsManage,
    /// Add numbers to and remove them from the organization's do-not-call lists.
    DoNotCallManage,
    /// See, accept or skip the contact a preview campaign shows an agent.
    CampaignsPreview,
    /// Report a carrier's verified callbacks on a call: what the edge does for carriers.
    CallsCarrier,
    /// Get a softphone token for an agent (it takes their calls).
    AgentsSoftphone,
    /// See the organization's phone numbers.
    NumbersRead,
    /// Assign, change and release the organization's phone numbers.
    NumbersManage,
    /// Delete calls' recordings, at the carrier too.
    RecordingsDelete,
    /// See the organization's IVR flows and simulate them.
    IvrRead,
    /// Create, change, publish and delete IVR flows.
    IvrManage,
    /// See the organization's text conversations and messages.
    MessagesRead,
    /// Send texts from the organization's numbers.
    MessagesSend,
    /// Say how the platform's notifications reach a user.
    NotificationsManage,
    /// Supervisor controls: force an agent's state (with a reason) and pull a waiting call to
    /// an agent.
    AgentsSupervise,
    /// Read calls' transcripts (their utterances and the caller's sentiment).
    TranscriptsRead,
    /// Delete calls' transcripts and say how long the organization keeps them.
    TranscriptsManage,
    /// Read the organization's knowledge notes (agent assist shows them during calls).
    KnowledgeRead,
    /// Write and delete the organization's knowledge notes.
    KnowledgeManage,
}

impl Permission {
    pub const ALL: [Self; 30] = [
        Self::CallsRead,
        Self::CallsWrite,
        Self::AnalyticsRead,
        Self::UsersManage,
        Self::CredentialsManage,
        Self::AgentsRead,
        Self::AgentsManage,
        Self::AgentsStatus,
        Self::TeamsManage,
        Self::TeamsAdmin,
        Self::Routing,
        Self::CampaignsRead,
        Self::CampaignsManage,
        Self::DoNotCallManage,
        Self::CampaignsPreview,
        Self::CallsCarrier,
        Self::AgentsSoftphone,
        Self::NumbersRead,
        Self::NumbersManage,
        Self::RecordingsDelete,
        Self::IvrRead,
        Self::IvrManage,
        Self::MessagesRead,
        Self::MessagesSend,
        Self::NotificationsManage,
        Self::AgentsSupervise,
        Self::TranscriptsRead,
        Self::TranscriptsManage,
        Self::KnowledgeRead,
        Self::KnowledgeManage,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::CallsRead => "calls:read",
            Self::CallsWrite => "calls:write",
            Self::AnalyticsRead => "analytics:read",
            Self::UsersManage => "users:manage",
            Self::CredentialsManage => "credentials:manage",
            Self::AgentsRead => "agents:read",
            Self::AgentsManage => "agents:manage",
            Self::AgentsStatus => "agents:status",
            Self::TeamsManage => "teams:manage",
            Self::TeamsAdmin => "teams:admin",
            Self::Routing => "routing",
            Self::CampaignsRead => "campaigns:read",
            Self::CampaignsManage => "campaigns:manage",
            Self::DoNotCallManage => "do_not_call:manage",
            Self::CampaignsPreview => "campaigns:preview",
            Self::CallsCarrier => "calls:carrier",
            Self::AgentsSoftphone => "agents:softphone",
            Self::NumbersRead => "numbers:read",
            Self::NumbersManage => "numbers:manage",
            Self::RecordingsDelete => "calls:recordings:delete",
            Self::IvrRead => "ivr:read",
            Self::IvrManage => "ivr:manage",
            Self::MessagesRead => "messages:read",
            Self::MessagesSend => "messages:send",
            Self::NotificationsManage => "notifications:manage",
            Self::AgentsSupervise => "agents:supervise",
            Self::TranscriptsRead => "transcripts:read",
            Self::TranscriptsManage => "transcripts:manage",
            Self::KnowledgeRead => "knowledge:read",
            Self::KnowledgeManage => "knowledge:manage",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == value)
    }
}

/// Over which rows a granted permission reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Everything in the caller's organization.
    Organization,
    /// The teams the caller supervises, and their agents.
    Team,
    /// Only what is the caller's own: an agent's own calls and profile (the agent's id, or a
    /// call's `agent_id`, is the user's id).
    Own,
}

/// The table. A `match`, so a new permission or role without a row does not compile.
#[rustfmt::skip]
pub fn grant(role: Role, permission: Permission) -> Option<Scope> {
    use Permission::*;
    use Role::*;
    use Scope::*;
    match (permission, role) {
        (CallsRead | CallsWrite,   Admin | Supervisor) => Some(Organization),
        (CallsRead | CallsWrite,   Agent)              => Some(Own),
        (AnalyticsRead,            Admin | Supervisor) => Some(Organization),
        (AnalyticsRead,            Agent)              => None,
        (UsersManage,              Admin)              => Some(Organization),
        (UsersManage,              Supervisor | Agent) => None,
        (CredentialsManage,        Admin)              => Some(Organization),
        (CredentialsManage,        Supervisor | Agent) => None,
        (AgentsRead | AgentsStatus, Admin)             => Some(Organization),
        (AgentsRead | AgentsStatus, Supervisor)        => Some(Team),
        (AgentsRead | AgentsStatus, Agent)             => Some(Own),
        (AgentsManage | TeamsManage, Admin)            => Some(Organization),
        (AgentsManage | TeamsManage, Supervisor)       => Some(Team),
        (AgentsManage | TeamsManage, Agent)            => None,
        (TeamsAdmin,               Admin)              => Some(Organization),
        (TeamsAdmin,               Supervisor | Agent) => None,
        (Routing,                  Admin | Supervisor) => Some(Organization),
        (Routing,                  Agent)              => None,
        (CampaignsRead | CampaignsManage, Admin | Supervisor) => Some(Organization),
        (CampaignsRead | CampaignsManage, Agent)       => None,
        (DoNotCallManage,          Admin)              => Some(Organization),
        (DoNotCallManage,          Supervisor | Agent) => None,
        (CampaignsPreview,         Admin | Supervisor) => Some(Organization),
        (CampaignsPreview,         Agent)              => Some(Own),
        (CallsCarrier,             Admin)              => Some(Organization),
        (CallsCarrier,             Supervisor | Agent) => None,
        // A softphone token takes the agent's calls: the agent, their supervisor (and the
        // administrator, who may make themselves anyone's supervisor).
        (AgentsSoftphone,          Admin)              => Some(Organization),
        (AgentsSoftphone,          Supervisor)         => Some(Team),
        (AgentsSoftphone,          Agent)              => Some(Own),
        (NumbersRead,              Admin | Supervisor) => Some(Organization),
        (NumbersRead,              Agent)              => None,
        (NumbersManage,            Admin)              => Some(Organization),
        (NumbersManage,            Supervisor | Agent) => None,
        // Recordings can be evidence: only the administrator deletes them.
        (RecordingsDelete,         Admin)              => Some(Organization),
        (RecordingsDelete,         Supervisor | Agent) => None,
        // What every caller to the organization hears: the administrator changes it.
        (IvrRead,                  Admin | Supervisor) => Some(Organization),
        (IvrRead,                  Agent)              => None,
        (IvrManage,                Admin)              => Some(Organization),
        (IvrManage,                Supervisor | Agent) => None,
        // Conversations hold customers' words: the supervisors and the administrator.
        (MessagesRead | MessagesSend, Admin | Supervisor) => Some(Organization),
        (MessagesRead | MessagesSend, Agent)           => None,
        // Everyone says how they are told; the administrator, for anyone.
        (NotificationsManage,      Admin)              => Some(Organization),
        (NotificationsManage,      Supervisor | Agent) => Some(Own),
        // Over the agents a supervisor leads; an agent never supervises.
        (AgentsSupervise,          Admin)              => Some(Organization),
        (AgentsSupervise,          Supervisor)         => Some(Team),
        (AgentsSupervise,          Agent)              => None,
        // Customers' own words: an agent their calls', a supervisor their teams' agents' calls.
        (TranscriptsRead,          Admin)              => Some(Organization),
        (TranscriptsRead,          Supervisor)         => Some(Team),
        (TranscriptsRead,          Agent)              => Some(Own),
        // Erasing customers' words for good, now or by a policy: the administrator.
        (TranscriptsManage,        Admin)              => Some(Organization),
        (TranscriptsManage,        Supervisor | Agent) => None,
        // What agents are told to say: everyone reads it, supervisors and the administrator
        // write it.
        (KnowledgeRead,            Admin | Supervisor | Agent) => Some(Organization),
        (KnowledgeManage,          Admin | Supervisor) => Some(Organization),
        (KnowledgeManage,          Agent)              => None,
    }
}

impl Identity {
    /// The scope the caller holds `permission` in, or 403 naming the missing permission.
    pub fn require(&self, permission: Permission) -> Result<Scope, ApiError> {
        grant(self.role, permission).ok_or_else(|| {
            ApiError::new(
                ErrorKind::PermissionDenied,
                format!(
                    "missing permission {} (role {})",
                    permission.as_str(),
                    self.role
                ),
            )
        })
    }
}

/// How the platform's role names map onto ours (`PLATFORM_ROLE_MAP=owner=admin,member=agent`).
/// Our own role names always map to themselves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoleMap(HashMap<String, Role>);

impl RoleMap {
    /// Parses `platform=ours` pairs separated by commas.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let mut map = HashMap::new();
        for pair in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (platform, ours) = pair
                .split_once('=')
                .ok_or_else(|| format!("{pair:?} is not platform_role=role"))?;
            let role = Role::parse(ours.trim())
                .ok_or_else(|| format!("{ours:?} is not a role (admin, supervisor or agent)"))?;
            map.insert(platform.trim().to_ascii_lowercase(), role);
        }
        Ok(Self(map))
    }

    pub fn resolve(&self, platform_role: &str) -> Option<Role> {
        let key = platform_role.trim().to_ascii_lowercase();
        self.0.get(&key).copied().or_else(|| Role::parse(&key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn denial_names_the_missing_permission() {
        let agent = Identity::new("org", "u", Role::Agent).unwrap();
        let error = agent.require(Permission::AnalyticsRead).unwrap_err();
        assert_eq!(error.kind, ErrorKind::PermissionDenied);
        assert!(
            error.message.contains("analytics:read"),
            "{}",
            error.message
        );
        assert_eq!(agent.require(Permission::CallsWrite).unwrap(), Scope::Own);
    }

    #[test]
    fn admins_hold_every_permission_across_the_organization() {
        for permission in Permission::ALL {
            assert_eq!(grant(Role::Admin, permission), Some(Scope::Organization));
            assert_eq!(Permission::parse(permission.as_str()), Some(permission));
        }
    }

    #[test]
    fn platform_roles_map_by_configuration() {
        let map = RoleMap::parse("Owner=admin, member=agent").unwrap();
        assert_eq!(map.resolve("owner"), Some(Role::Admin));
        assert_eq!(map.resolve("MEMBER"), Some(Role::Agent));
        assert_eq!(map.resolve("supervisor"), Some(Role::Supervisor));
        assert_eq!(map.resolve("guest"), None);
        assert!(RoleMap::parse("owner").is_err());
        assert!(RoleMap::parse("owner=root").is_err());
    }
}
