//! The agents service over gRPC against the real PostgreSQL: routing under concurrency, the
//! queue's order, next states, lapsed reservations, bad input and other organizations.

use std::time::Duration;

use comms_agents::{Config, run};
use comms_auth::{AuthConfig, Identity, Role, Tokens};
use comms_proto::v1::agents_service_client::AgentsServiceClient;
use comms_proto::v1::{self, AgentState};
use comms_runtime::{Env, Shutdown, ShutdownTrigger};
use comms_testkit::{TestDatabase, amqp_url, unique_name};
use sqlx::PgPool;
use tonic::Code;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use uuid::Uuid;

type Client = AgentsServiceClient<InterceptedService<Channel, Bearer>>;

#[derive(Clone)]
struct Bearer(String);

impl tonic::service::Interceptor for Bearer {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        comms_auth::service::attach(request.metadata_mut(), &self.0);
        Ok(request)
    }
}

struct Service {
    pool: PgPool,
    channel: Channel,
    tokens: Tokens,
    _stop: ShutdownTrigger,
}

impl Service {
    async fn start(reservation_seconds: &str) -> Self {
        let db = TestDatabase::new().await;
        let (amqp, exchange, queue) = (
            amqp_url(),
            unique_name("test.events"),
            unique_name("test.agents"),
        );
        let env = Env::from_pairs([
            ("DATABASE_URL", db.url.as_str()),
            ("RABBITMQ_URL", amqp.as_str()),
            ("EVENTS_EXCHANGE", exchange.as_str()),
            ("AGENTS_QUEUE", queue.as_str()),
            ("DATABASE_POOL_SIZE", "20"),
            ("RESERVATION_TIMEOUT_SECONDS", reservation_seconds),
            ("WRAP_UP_SECONDS", "1"),
        ]);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, shutdown) = Shutdown::new();
        let tokens = AuthConfig::ephemeral().tokens;
        tokio::spawn(run(
            Config::from_env(&env).unwrap(),
            tokens.clone(),
            listener,
            shutdown,
        ));
        let channel = Channel::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect_lazy();
        Self {
            pool: db.pool,
            channel,
            tokens,
            _stop: stop,
        }
    }

    fn client_as(&self, org: &str, user: &str, role: Role) -> Client {
        let token = self
            .tokens
            .internal_token(&Identity::new(org, user, role).unwrap())
            .unwrap();
        AgentsServiceClient::with_interceptor(self.channel.clone(), Bearer(token))
    }

    /// The calls service's view: a service token with routing rights.
    fn admin(&self, org: &str) -> Client {
        self.client_as(org, "admin", Role::Admin)
    }

    async fn event_count(&self) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM events")
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }
}

fn new_agent(name: &str, skills: &[(&str, u32)], languages: &[&str]) -> v1::CreateAgentRequest {
    v1::CreateAgentRequest {
        name: name.into(),
        email: format!("{}@example.com", name.to_lowercase()),
        languages: languages.iter().map(|l| (*l).to_owned()).collect(),
        skills: skills
            .iter()
            .map(|(n, p)| v1::Skill {
                name: (*n).into(),
                proficiency: *p,
            })
            .collect(),
        ..Default::default()
    }
}

async fn available(client: &mut Client, request: v1::CreateAgentRequest) -> v1::Agent {
    let agent = client.create_agent(request).await.unwrap().into_inner();
    assert_eq!(agent.state(), AgentState::Offline);
    set_status(client, &agent.id, AgentState::Available, "")
        .await
        .unwrap()
}

async fn set_status(
    client: &mut Client,
    id: &str,
    status: AgentState,
    reason: &str,
) -> Result<v1::Agent, tonic::Status> {
    client
        .update_agent_status(v1::UpdateAgentStatusRequest {
            id: id.into(),
            status: status as i32,
            reason: reason.into(),
        })
        .await
        .map(|r| r.into_inner())
}

fn reserve(call: Uuid, priority: i32) -> v1::ReserveAgentRequest {
    v1::ReserveAgentRequest {
        call_id: call.to_string(),
        priority,
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_reservations_for_five_agents_book_each_agent_once() {
    let service = Service::start("60").await;
    let mut admin = service.admin("org_a");
    let mut agents = Vec::new();
    for n in 0..5 {
        agents.push(
            available(&mut admin, new_agent(&format!("Agent{n}"), &[], &["en"]))
                .await
                .id,
        );
    }
    let calls: Vec<Uuid> = (0..50).map(|_| Uuid::now_v7()).collect();
    let requests = calls.iter().enumerate().map(|(n, call)| {
        let mut client = service.admin("org_a");
        let call = *call;
        async move {
            client
                .reserve_agent(reserve(call, (n % 3) as i32))
                .await
                .unwrap()
                .into_inner()
        }
    });
    let answers = futures::future::join_all(requests).await;
    let mut booked: Vec<String> = answers
        .iter()
        .filter_map(|a| a.agent.as_ref().map(|agent| agent.id.clone()))
        .collect();
    booked.sort();
    let mut expected = agents.clone();
    expected.sort();
    assert_eq!(booked, expected, "exactly the five agents, each once");
    let queued: Vec<u32> = answers
        .iter()
        .filter(|a| a.agent.is_none())
        .map(|a| a.queue_position)
        .collect();
    assert_eq!(queued.len(), 45);
    assert!(queued.iter().all(|p| (1..=45).contains(p)));

    // As agents free up, the waiting calls are offered highest priority first, then oldest.
    let waiting: Vec<(Uuid, i32)> = sqlx::query_as(
        "SELECT call_id, priority FROM routing_queue WHERE offered_to IS NULL ORDER BY priority DESC, enqueued_at, call_id",
    )
    .fetch_all(&service.pool)
    .await
    .unwrap();
    assert_eq!(waiting.len(), 45);
    // Every agent takes their call and hangs up; as each wrap-up (1 s) ends, the agent is offered
    // the head of the queue at that moment.
    for answer in answers.iter().filter(|a| a.agent.is_some()) {
        let agent_id = answer.agent.as_ref().unwrap().id.clone();
        let call_id = answer.call_id.clone();
        admin
            .accept_reservation(v1::AcceptReservationRequest {
                agent_id,
                call_id: call_id.clone(),
            })
            .await
            .unwrap();
        admin
            .release_agent(v1::ReleaseAgentRequest { call_id })
            .await
            .unwrap();
    }
    let mut offered: Vec<String> = Vec::new();
    for _ in 0..200 {
        offered.clear();
        for id in &agents {
            let agent = admin
                .get_agent(v1::GetAgentRequest { id: id.clone() })
                .await
                .unwrap()
                .into_inner();
            if agent.state() == AgentState::Reserved {
                offered.push(agent.call_id);
            }
        }
        if offered.len() == agents.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    offered.sort();
    let mut head: Vec<String> = waiting[..5]
        .iter()
        .map(|(call, _)| call.to_string())
        .collect();
    head.sort();
    assert_eq!(
        offered, head,
        "the five highest-priority, oldest calls, and no others"
    );
    let left: i64 =
        sqlx::query_scalar("SELECT count(*) FROM routing_queue WHERE offered_to IS NULL")
            .fetch_one(&service.pool)
            .await
            .unwrap();
    assert_eq!(left, 40);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_best_match_wins_skills_and_language_then_proficiency_then_idle_time() {
    let service = Service::start("60").await;
    let mut admin = service.admin("org_a");
    let spanish_expert = available(
        &mut admin,
        new_agent("Sofia", &[("billing", 5)], &["es", "en"]),
    )
    .await;
    let english_expert = available(&mut admin, new_agent("Ann", &[("billing", 5)], &["en"])).await;
    let spanish_novice =
        available(&mut admin, new_agent("Pablo", &[("billing", 2)], &["es"])).await;
    let no_skill = available(&mut admin, new_agent("Zed", &[], &["es"])).await;

    let ask = |skills: &[&str], language: &str| v1::ReserveAgentRequest {
        call_id: Uuid::now_v7().to_string(),
        required_skills: skills.iter().map(|s| (*s).to_owned()).collect(),
        language: language.into(),
        priority: 0,
        connect: false,
    };
    let got = |r: v1::Reservation| r.agent.map(|a| a.id);
    assert_eq!(
        got(admin
            .reserve_agent(ask(&["billing"], "es"))
            .await
            .unwrap()
            .into_inner()),
        Some(spanish_expert.id)
    );
    assert_eq!(
        got(admin
            .reserve_agent(ask(&["billing"], "es"))
            .await
            .unwrap()
            .into_inner()),
        Some(spanish_novice.id)
    );
    // Nobody left speaks Spanish with billing: the call waits.
    let waiting = admin
        .reserve_agent(ask(&["billing"], "es"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((waiting.agent.is_none(), waiting.queue_position), (true, 1));
    // The caller hangs up while waiting: the call leaves the queue, and releasing it again is 404.
    let release = |call: String| v1::ReleaseAgentRequest { call_id: call };
    let left = admin
        .release_agent(release(waiting.call_id.clone()))
        .await
        .unwrap()
        .into_inner();
    assert!(left.id.is_empty(), "no agent was on it");
    let still: i64 = sqlx::query_scalar("SELECT count(*) FROM routing_queue")
        .fetch_one(&service.pool)
        .await
        .unwrap();
    assert_eq!(still, 2, "only the two reserved calls remain");
    let again = admin
        .release_agent(release(waiting.call_id.clone()))
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::NotFound);
    assert_eq!(
        got(admin
            .reserve_agent(ask(&["billing"], ""))
            .await
            .unwrap()
            .into_inner()),
        Some(english_expert.id)
    );
    // Without requirements, the longest idle of those left.
    assert_eq!(
        got(admin
            .reserve_agent(ask(&[], ""))
            .await
            .unwrap()
            .into_inner()),
        Some(no_skill.id)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_break_asked_for_during_a_call_follows_its_wrap_up_instead_of_available() {
    let service = Service::start("60").await;
    let mut admin = service.admin("org_a");
    let agent = available(&mut admin, new_agent("Ada", &[], &["en"])).await;
    let call = Uuid::now_v7();
    admin.reserve_agent(reserve(call, 0)).await.unwrap();
    admin
        .accept_reservation(v1::AcceptReservationRequest {
            agent_id: agent.id.clone(),
            call_id: call.to_string(),
        })
        .await
        .unwrap();
    let busy = set_status(&mut admin, &agent.id, AgentState::Break, "lunch")
        .await
        .unwrap();
    assert_eq!(
        (busy.state(), busy.next_state()),
        (AgentState::Busy, AgentState::Break)
    );
    let wrapping = admin
        .release_agent(v1::ReleaseAgentRequest {
            call_id: call.to_string(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(wrapping.state(), AgentState::WrapUp);
    let mut states = Vec::new();
    for _ in 0..60 {
        let now = admin
            .get_agent(v1::GetAgentRequest {
                id: agent.id.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        states.push(now.state());
        if now.state() != AgentState::WrapUp {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(states.last(), Some(&AgentState::Break));
    assert!(!states.contains(&AgentState::Available), "{states:?}");
    let types: Vec<String> = sqlx::query_scalar(
        "SELECT event_type FROM events WHERE stream_name = $1 ORDER BY stream_position",
    )
    .bind(format!("agent-{}", agent.id))
    .fetch_all(&service.pool)
    .await
    .unwrap();
    assert_eq!(
        types,
        [
            "comms.agent.created",
            "comms.agent.available",
            "comms.agent.reserved",
            "comms.agent.busy",
            "comms.agent.next_state_requested",
            "comms.agent.wrap_up",
            "comms.agent.break"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unaccepted_reservation_lapses_and_the_call_keeps_its_place() {
    let service = Service::start("1").await;
    let mut admin = service.admin("org_a");
    let first = available(&mut admin, new_agent("Ada", &[], &["en"])).await;
    let (call, later) = (Uuid::now_v7(), Uuid::now_v7());
    let offered = admin
        .reserve_agent(reserve(call, 0))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(offered.agent.unwrap().id, first.id);
    let queued = admin
        .reserve_agent(reserve(later, 0))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(queued.queue_position, 1);
    // The lapse frees the agent, and the first call, back in its place ahead of the later one,
    // is offered again.
    let lapsed = || async {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM events WHERE event_type = 'comms.agent.available' AND data->>'reason' = 'reservation_expired'",
        )
        .fetch_one(&service.pool)
        .await
        .unwrap();
        n
    };
    let mut agent = v1::Agent::default();
    for _ in 0..100 {
        agent = admin
            .get_agent(v1::GetAgentRequest {
                id: first.id.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        if lapsed().await >= 1 && agent.state() == AgentState::Reserved {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(lapsed().await >= 1, "the reservation lapsed");
    assert_eq!(agent.state(), AgentState::Reserved);
    assert_eq!(
        agent.call_id,
        call.to_string(),
        "the first call keeps its place"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_break_asked_for_while_reserved_is_taken_when_the_reservation_lapses() {
    let service = Service::start("1").await;
    let mut admin = service.admin("org_a");
    let ada = available(&mut admin, new_agent("Ada", &[], &["en"])).await;
    let call = Uuid::now_v7();
    admin.reserve_agent(reserve(call, 0)).await.unwrap();
    let reserved = set_status(&mut admin, &ada.id, AgentState::Break, "lunch")
        .await
        .unwrap();
    assert_eq!(
        (reserved.state(), reserved.next_state()),
        (AgentState::Reserved, AgentState::Break)
    );
    let mut now = reserved;
    for _ in 0..100 {
        now = admin
            .get_agent(v1::GetAgentRequest { id: ada.id.clone() })
            .await
            .unwrap()
            .into_inner();
        if now.state() != AgentState::Reserved {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        (now.state(), now.reason.as_str()),
        (AgentState::Break, "lunch"),
        "on the break asked for, not offered calls again"
    );
    // The call the lapse gave back waits for the next free agent.
    let grace = available(&mut admin, new_agent("Grace", &[], &["en"])).await;
    let mut offered = String::new();
    for _ in 0..100 {
        offered = admin
            .get_agent(v1::GetAgentRequest {
                id: grace.id.clone(),
            })
            .await
            .unwrap()
            .into_inner()
            .call_id;
        if !offered.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(offered, call.to_string());
}

/// A reservation that connects the agent at once, as for an answered call.
fn connect(call: Uuid) -> v1::ReserveAgentRequest {
    v1::ReserveAgentRequest {
        connect: true,
        ..reserve(call, 0)
    }
}

async fn state_of(admin: &mut Client, id: &str) -> AgentState {
    let request = v1::GetAgentRequest { id: id.to_owned() };
    admin.get_agent(request).await.unwrap().into_inner().state()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reservation_racing_the_calls_end_waits_for_it_and_is_refused() {
    let service = Service::start("60").await;
    let mut admin = service.admin("org_a");
    let ada = available(&mut admin, new_agent("Ada", &[], &["en"])).await;
    let call = Uuid::now_v7();
    // The call's end is being followed: its routing row written, not yet committed (the first
    // the service hears of this call).
    let mut ending = service.pool.begin().await.unwrap();
    sqlx::query(
        "INSERT INTO routing_calls (call_id, org_id, ended_at) VALUES ($1, 'org_a', now())",
    )
    .bind(call)
    .execute(&mut *ending)
    .await
    .unwrap();
    let mut reserving_client = admin.clone();
    let reserving =
        tokio::spawn(async move { reserving_client.reserve_agent(connect(call)).await });
    // The reservation must wait for the end (a lock wait), not pass it by.
    let mut waited = false;
    for _ in 0..400 {
        if reserving.is_finished() {
            break;
        }
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity
             WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .fetch_one(&service.pool)
        .await
        .unwrap();
        if waiting > 0 {
            waited = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    ending.commit().await.unwrap();
    let refused = reserving.await.unwrap().unwrap_err();
    assert!(waited, "the reservation did not wait for the call's end");
    assert_eq!(
        refused.code(),
        Code::FailedPrecondition,
        "{}",
        refused.message()
    );
    assert_eq!(state_of(&mut admin, &ada.id).await, AgentState::Available);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_left_busy_on_a_call_that_ended_is_released_by_reconciliation() {
    let service = Service::start("60").await;
    let mut admin = service.admin("org_a");
    let ada = available(&mut admin, new_agent("Ada", &[], &["en"])).await;
    let call = Uuid::now_v7();
    admin.reserve_agent(connect(call)).await.unwrap();
    assert_eq!(state_of(&mut admin, &ada.id).await, AgentState::Busy);
    // The call's end was followed, and its release of Ada somehow missed.
    sqlx::query(
        "UPDATE routing_calls SET ended_at = now() - interval '1 minute' WHERE call_id = $1",
    )
    .bind(call)
    .execute(&service.pool)
    .await
    .unwrap();
    let mut state = AgentState::Busy;
    for _ in 0..200 {
        state = state_of(&mut admin, &ada.id).await;
        if state != AgentState::Busy {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(state, AgentState::WrapUp, "released into wrap-up");
}

#[tokio::test]
async fn bad_input_is_named_and_appends_nothing() {
    let service = Service::start("60").await;
    let mut admin = service.admin("org_a");
    let agent = admin
        .create_agent(new_agent("Ada", &[], &["en"]))
        .await
        .unwrap()
        .into_inner();
    let before = service.event_count().await;
    let fields = |status: tonic::Status| -> Vec<String> {
        let error = comms_proto::ApiError::from_status(&status);
        error.violations.into_iter().map(|v| v.field).collect()
    };
    let mut bad = new_agent("", &[("billing", 6)], &["xx"]);
    bad.email = "not-an-email".into();
    bad.phone = "555-0100".into();
    let status = admin.create_agent(bad).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(
        fields(status),
        ["name", "email", "phone", "languages", "skills"]
    );

    let status = set_status(&mut admin, &agent.id, AgentState::Busy, "")
        .await
        .unwrap_err();
    assert_eq!(
        (status.code(), fields(status)),
        (Code::InvalidArgument, vec!["status".to_owned()])
    );
    // Offline cannot go on break; an offline agent cannot accept a call.
    let status = set_status(&mut admin, &agent.id, AgentState::Break, "lunch")
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    let status = admin
        .accept_reservation(v1::AcceptReservationRequest {
            agent_id: agent.id.clone(),
            call_id: Uuid::now_v7().to_string(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    let unknown = Uuid::now_v7().to_string();
    assert_eq!(
        admin
            .get_agent(v1::GetAgentRequest {
                id: unknown.clone()
            })
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );
    assert_eq!(
        set_status(&mut admin, &unknown, AgentState::Available, "")
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );
    let status = admin
        .create_agent(v1::CreateAgentRequest {
            team_id: Uuid::now_v7().to_string(),
            ..new_agent("Bo", &[], &["en"])
        })
        .await
        .unwrap_err();
    assert_eq!(fields(status), ["team_id"]);
    assert_eq!(service.event_count().await, before, "nothing appended");
}

#[tokio::test]
async fn other_organizations_agents_and_teams_are_not_found() {
    let service = Service::start("60").await;
    let mut theirs = service.admin("org_b");
    let agent = theirs
        .create_agent(new_agent("Bea", &[], &["en"]))
        .await
        .unwrap()
        .into_inner();
    let team = theirs
        .create_team(v1::CreateTeamRequest {
            name: "B team".into(),
            supervisor_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let before = service.event_count().await;
    let mut ours = service.admin("org_a");
    let codes = [
        ours.get_agent(v1::GetAgentRequest {
            id: agent.id.clone(),
        })
        .await
        .unwrap_err()
        .code(),
        set_status(&mut ours, &agent.id, AgentState::Available, "")
            .await
            .unwrap_err()
            .code(),
        ours.get_team(v1::GetTeamRequest {
            id: team.id.clone(),
        })
        .await
        .unwrap_err()
        .code(),
        ours.update_team(v1::UpdateTeamRequest {
            id: team.id.clone(),
            name: Some("mine".into()),
            supervisor_id: None,
        })
        .await
        .unwrap_err()
        .code(),
    ];
    assert!(codes.iter().all(|c| *c == Code::NotFound), "{codes:?}");
    // Our agent cannot join their team either: the team is unknown here.
    let ours_agent = ours
        .create_agent(new_agent("Al", &[], &["en"]))
        .await
        .unwrap()
        .into_inner();
    let status = ours
        .add_team_member(v1::TeamMemberRequest {
            id: team.id.clone(),
            agent_id: ours_agent.id,
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    let listed = ours
        .list_agents(v1::ListAgentsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(listed.agents.iter().all(|a| a.organization_id == "org_a"));
    let events_of_b: i64 =
        sqlx::query_scalar("SELECT count(*) FROM events WHERE tenant_id = 'org_b'")
            .fetch_one(&service.pool)
            .await
            .unwrap();
    assert_eq!(events_of_b, before, "nothing of B's changed");
}

#[tokio::test]
async fn supervisors_reach_their_teams_agents_and_agents_themselves() {
    let service = Service::start("60").await;
    let mut admin = service.admin("org_a");
    let team = admin
        .create_team(v1::CreateTeamRequest {
            name: "Blue".into(),
            supervisor_id: "sup_1".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let member = admin
        .create_agent(v1::CreateAgentRequest {
            team_id: team.id.clone(),
            ..new_agent("Mia", &[], &["en"])
        })
        .await
        .unwrap()
        .into_inner();
    let user = Uuid::now_v7();
    let outsider = admin
        .create_agent(v1::CreateAgentRequest {
            user_id: user.to_string(),
            ..new_agent("Oli", &[], &["en"])
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        outsider.id,
        user.to_string(),
        "an agent who logs in has the user's id"
    );

    let mut supervisor = service.client_as("org_a", "sup_1", Role::Supervisor);
    let listed = supervisor
        .list_agents(v1::ListAgentsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        listed
            .agents
            .iter()
            .map(|a| a.id.as_str())
            .collect::<Vec<_>>(),
        [member.id.as_str()]
    );
    assert!(
        set_status(&mut supervisor, &member.id, AgentState::Available, "")
            .await
            .is_ok()
    );
    assert_eq!(
        set_status(&mut supervisor, &outsider.id, AgentState::Available, "")
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );
    let denied = supervisor
        .create_team(v1::CreateTeamRequest {
            name: "Mine".into(),
            supervisor_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);

    let mut agent = service.client_as("org_a", &user.to_string(), Role::Agent);
    assert_eq!(
        set_status(&mut agent, &outsider.id, AgentState::Available, "")
            .await
            .unwrap()
            .state(),
        AgentState::Available
    );
    assert_eq!(
        set_status(&mut agent, &member.id, AgentState::Offline, "")
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );
    let denied = agent
        .reserve_agent(reserve(Uuid::now_v7(), 0))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    assert!(denied.message().contains("routing"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watching_agents_gives_their_state_now_then_each_change_and_nothing_of_others() {
    let service = Service::start("60").await;
    let mut admin = service.admin("org_a");
    let ada = admin
        .create_agent(new_agent("Ada", &[], &["en"]))
        .await
        .unwrap()
        .into_inner();
    let mut watch = service
        .admin("org_a")
        .watch_agents(v1::WatchAgentsRequest::default())
        .await
        .unwrap()
        .into_inner();
    let first = next_update(&mut watch).await;
    assert_eq!(
        (first.id.as_str(), first.state()),
        (ada.id.as_str(), AgentState::Offline)
    );

    // Another organization's agent changes: nothing arrives for it.
    let mut theirs = service.admin("org_b");
    let bea = available(&mut theirs, new_agent("Bea", &[], &["en"])).await;
    set_status(&mut admin, &ada.id, AgentState::Available, "")
        .await
        .unwrap();
    until_state(&mut watch, &ada.id, AgentState::Available).await;
    set_status(&mut admin, &ada.id, AgentState::Break, "lunch")
        .await
        .unwrap();
    let update = until_state(&mut watch, &ada.id, AgentState::Break).await;
    assert_eq!(update.reason, "lunch");
    assert_ne!(update.id, bea.id);

    let refused = service
        .client_as("org_a", "someone", Role::Agent)
        .watch_agents(v1::WatchAgentsRequest {
            team_id: "x".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
}

async fn next_update(watch: &mut tonic::Streaming<v1::Agent>) -> v1::Agent {
    use tokio_stream::StreamExt as _;
    tokio::time::timeout(Duration::from_secs(5), watch.next())
        .await
        .expect("an update in time")
        .unwrap()
        .unwrap()
}

/// Reads updates until `id` is in `state`; a watch may repeat a state it already sent.
async fn until_state(
    watch: &mut tonic::Streaming<v1::Agent>,
    id: &str,
    state: AgentState,
) -> v1::Agent {
    for _ in 0..10 {
        let update = next_update(watch).await;
        assert_eq!(update.id, id, "only our organization's agent");
        if update.state() == state {
            return update;
        }
    }
    panic!("{id} never reported {state:?}");
}

#[tokio::test]
async fn a_call_whose_end_was_followed_gets_no_agent() {
    use comms_bus::Handler as _;
    let service = Service::start("60").await;
    let mut admin = service.admin("org_a");
    let ada = available(&mut admin, new_agent("Ada", &[], &["en"])).await;
    // The callee hangs up, and the agents service follows the end before anyone asks for an
    // agent for the call (a dialer connecting one a moment too late).
    let call = Uuid::now_v7();
    let ended: comms_bus::Envelope = serde_json::from_value(serde_json::json!({
        "id": Uuid::now_v7(), "type": "comms.call.ended", "source": "comms",
        "timestamp": chrono::Utc::now(), "organizationId": "org_a",
        "data": { "call_id": call, "duration": 0, "outcome": "completed",
                  "reason": "remote hang-up", "ended_at": chrono::Utc::now() },
    }))
    .unwrap();
    let timeouts = comms_agents::Timeouts {
        reservation: Duration::from_secs(60),
        wrap_up: Duration::from_secs(1),
    };
    let store = comms_eventstore::EventStore::new(service.pool.clone());
    let feed = comms_agents::call_feed::CallFeed(comms_agents::Agents::new(store, timeouts));
    let mut conn = service.pool.acquire().await.unwrap();
    feed.handle(&mut conn, &ended).await.unwrap();

    let mut connect = reserve(call, 0);
    connect.connect = true;
    let refused = admin.reserve_agent(connect).await.unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert!(
        refused.message().contains("has already ended"),
        "{}",
        refused.message()
    );
    let ada = admin
        .get_agent(v1::GetAgentRequest { id: ada.id })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ada.state(), AgentState::Available, "Ada is still free");
}
