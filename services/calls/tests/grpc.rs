//! The calls service over gRPC against the real PostgreSQL.

use std::time::Duration;

use comms_auth::{AuthConfig, Identity, Role, Tokens};
use comms_calls::{Config, run};
use comms_proto::ApiError;
use comms_proto::v1::agents_service_client::AgentsServiceClient;
use comms_proto::v1::calls_service_client::CallsServiceClient;
use comms_proto::v1::campaigns_service_client::CampaignsServiceClient;
use comms_proto::v1::{self, CallStatus};
use comms_runtime::{Env, Shutdown, ShutdownTrigger};
use comms_testkit::TestDatabase;
use sqlx::PgPool;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use tonic::{Code, Request, Status};

type Client = CallsServiceClient<InterceptedService<Channel, Credentials>>;

/// What a caller sends: a service token, or (to attack) bare identity metadata.
#[derive(Clone)]
enum Credentials {
    Token(String),
    Metadata(&'static str),
    Nothing,
}

impl tonic::service::Interceptor for Credentials {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        match self {
            Self::Token(token) => comms_auth::service::attach(request.metadata_mut(), token),
            Self::Metadata(org) => {
                request
                    .metadata_mut()
                    .insert("x-org-id", org.parse().unwrap());
                request
                    .metadata_mut()
                    .insert("x-user-role", "admin".parse().unwrap());
            }
            Self::Nothing => {}
        }
        Ok(request)
    }
}

struct Service {
    pool: PgPool,
    channel: Channel,
    agents: Channel,
    campaigns: Channel,
    tokens: Tokens,
    exchange: String,
    _stop: ShutdownTrigger,
}

impl Service {
    /// Starts the service with a simulated provider: ring after 20 ms, answer 30 ms later, talk
    /// `talk_ms`, always answered.
    async fn start(talk_ms: u64) -> Self {
        Self::start_with(talk_ms, &[]).await
    }

    /// As `start`, with `extra` settings over those.
    async fn start_with(talk_ms: u64, extra: &[(&str, &str)]) -> Self {
        let db = TestDatabase::new().await;
        let talk = talk_ms.to_string();
        let (amqp, exchange, queue, agents_queue, campaigns_queue) = (
            comms_testkit::amqp_url(),
            comms_testkit::unique_name("test.events"),
            comms_testkit::unique_name("test.calls"),
            comms_testkit::unique_name("test.agents"),
            comms_testkit::unique_name("test.campaigns"),
        );
        // The agents and campaigns services vouch for the agent and campaign named on a new
        // call: real ones, on the same database.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let agents_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let campaigns_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = |listener: &tokio::net::TcpListener| {
            format!("http://{}", listener.local_addr().unwrap())
        };
        let (calls_url, agents_url, campaigns_url) = (
            url(&listener),
            url(&agents_listener),
            url(&campaigns_listener),
        );
        let env = Env::from_pairs([
            ("DATABASE_URL", db.url.as_str()),
            ("RABBITMQ_URL", amqp.as_str()),
            ("EVENTS_EXCHANGE", exchange.as_str()),
            ("CALLS_QUEUE", queue.as_str()),
            ("AGENTS_QUEUE", agents_queue.as_str()),
            ("CAMPAIGNS_QUEUE", campaigns_queue.as_str()),
            ("CALLS_GRPC_URL", calls_url.as_str()),
            ("AGENTS_GRPC_URL", agents_url.as_str()),
            ("CAMPAIGNS_GRPC_URL", campaigns_url.as_str()),
            ("SIM_RING_MS", "20"),
            ("SIM_ANSWER_MS", "30"),
            ("SIM_TALK_MS", talk.as_str()),
            ("SIM_OUTCOMES", "answered=1"),
        ]);
        let mut env = env;
        for (key, value) in extra {
            env.set(key, *value);
        }
        // The queue exists before anything publishes, as `comms migrate` ensures in a deployment.
        let consumer = Config::from_env(&env).unwrap().consumer();
        let amqp_channel = comms_testkit::amqp_connection()
            .await
            .create_channel()
            .await
            .unwrap();
        comms_bus::declare_consumer(&amqp_channel, &consumer)
            .await
            .unwrap();
        let (stop, shutdown) = Shutdown::new();
        let tokens = AuthConfig::ephemeral().tokens;
        tokio::spawn(comms_agents::run(
            comms_agents::Config::from_env(&env).unwrap(),
            tokens.clone(),
            agents_listener,
            shutdown.clone(),
        ));
        tokio::spawn(comms_campaigns::run(
            comms_campaigns::Config::from_env(&env).unwrap(),
            tokens.clone(),
            campaigns_listener,
            shutdown.clone(),
        ));
        tokio::spawn(run(
            Config::from_env(&env).unwrap(),
            tokens.clone(),
            listener,
            shutdown,
        ));
        let agents = Channel::from_shared(agents_url).unwrap().connect_lazy();
        let campaigns = Channel::from_shared(campaigns_url).unwrap().connect_lazy();
        let channel = Channel::from_shared(calls_url).unwrap().connect_lazy();
        Self {
            pool: db.pool,
            channel,
            agents,
            campaigns,
            tokens,
            exchange,
            _stop: stop,
        }
    }

    /// A request on behalf of `org`'s administrator.
    fn as_admin<T>(&self, org: &str, message: T) -> Request<T> {
        let admin = Identity::new(org, "user_1", Role::Admin).unwrap();
        let token = self.tokens.internal_token(&admin).unwrap();
        let mut request = Request::new(message);
        comms_auth::service::attach(request.metadata_mut(), &token);
        request
    }

    /// A new draft campaign of `org`; returns its id.
    async fn campaign_of(&self, org: &str) -> String {
        let settings = v1::CampaignSettings {
            name: Some("Renewals".into()),
            ..Default::default()
        };
        let request = self.as_admin(
            org,
            v1::CreateCampaignRequest {
                settings: Some(settings),
            },
        );
        CampaignsServiceClient::new(self.campaigns.clone())
            .create_campaign(request)
            .await
            .unwrap()
            .into_inner()
            .id
    }

    /// A new agent of `org`, created by its administrator; returns the agent's id.
    async fn agent_of(&self, org: &str) -> String {
        let request = self.as_admin(
            org,
            v1::CreateAgentRequest {
                name: "Ada".into(),
                email: "ada@example.com".into(),
                languages: vec!["en".into()],
                ..Default::default()
            },
        );
        AgentsServiceClient::new(self.agents.clone())
            .create_agent(request)
            .await
            .unwrap()
            .into_inner()
            .id
    }

    /// A client acting for an administrator of `org` (a supervisor would do as well).
    fn client(&self, org: &str) -> Client {
        self.client_as(Identity::new(org, "user_1", Role::Admin).unwrap())
    }

    fn client_as(&self, identity: Identity) -> Client {
        let token = self.tokens.internal_token(&identity).unwrap();
        self.client_with(Credentials::Token(token))
    }

    fn client_with(&self, credentials: Credentials) -> Client {
        CallsServiceClient::with_interceptor(self.channel.clone(), credentials)
    }

    async fn event_count(&self) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM events")
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }
}

fn initiate(to: &str) -> v1::InitiateCallRequest {
    v1::InitiateCallRequest {
        to: to.into(),
        ..Default::default()
    }
}

async fn wait_for_status(client: &mut Client, id: &str, status: CallStatus) -> v1::Call {
    for _ in 0..200 {
        let call = client
            .get_call(v1::GetCallRequest { id: id.into() })
            .await
            .unwrap()
            .into_inner();
        if call.status() == status {
            return call;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("call {id} never reached {status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_rings_is_answered_and_ends_through_the_simulated_provider() {
    let service = Service::start(1_200).await;
    let mut client = service.client("org_a");
    let call = client
        .initiate_call(initiate("+14155550100"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(call.status(), CallStatus::Initiated);
    assert_eq!(
        (
            call.to.as_str(),
            call.language.as_str(),
            call.organization_id.as_str()
        ),
        ("+14155550100", "en", "org_a")
    );

    let answered = wait_for_status(&mut client, &call.id, CallStatus::Answered).await;
    assert!(answered.answered_at.is_some());
    let ended = wait_for_status(&mut client, &call.id, CallStatus::Ended).await;
    // Talk time is whole seconds from answer to the simulated hang-up (1.2 s after the answer).
    let (answered_at, ended_at) = (ended.answered_at.unwrap(), ended.ended_at.unwrap());
    assert_eq!(
        ended.duration_seconds,
        ended_at.seconds - answered_at.seconds - i64::from(ended_at.nanos < answered_at.nanos)
    );
    assert!(ended.duration_seconds >= 1);
    assert_eq!(ended.end_reason, "remote hang-up");

    let types: Vec<String> =
        sqlx::query_scalar("SELECT event_type FROM events ORDER BY stream_position")
            .fetch_all(&service.pool)
            .await
            .unwrap();
    assert_eq!(
        types,
        [
            "comms.call.started",
            "comms.call.ringing",
            "comms.call.answered",
            "comms.call.ended"
        ]
    );
    let tenants: Vec<String> = sqlx::query_scalar("SELECT DISTINCT tenant_id FROM events")
        .fetch_all(&service.pool)
        .await
        .unwrap();
    assert_eq!(tenants, ["org_a"]);
}

#[tokio::test]
async fn hanging_up_updates_and_bad_input_are_answered_precisely_and_append_nothing() {
    let service = Service::start(60_000).await;
    let mut client = service.client("org_a");
    let call = client
        .initiate_call(initiate("+447911123456"))
        .await
        .unwrap()
        .into_inner();
    wait_for_status(&mut client, &call.id, CallStatus::Answered).await;
    let ended = client
        .end_call(v1::EndCallRequest {
            id: call.id.clone(),
            reason: String::new(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ended.status(), CallStatus::Ended);
    let updated = client
        .update_call(v1::UpdateCallRequest {
            id: call.id.clone(),
            disposition: Some("sale".into()),
            tags: Some(v1::TagList {
                values: vec!["vip".into()],
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (updated.disposition.as_str(), updated.tags.clone()),
        ("sale", vec!["vip".to_string()])
    );
    assert_eq!(updated.notes, "", "unset fields are unchanged");
    let before = service.event_count().await;

    let err = client
        .end_call(v1::EndCallRequest {
            id: call.id.clone(),
            reason: String::new(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert_eq!(err.message(), "cannot end a call that is ended");

    let err = client
        .initiate_call(initiate("0044 7911 123456"))
        .await
        .unwrap_err();
    let api = ApiError::from_status(&err);
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(api.violations[0].field, "to");
    assert!(api.violations[0].description.contains("E.164"));

    let bad = v1::InitiateCallRequest {
        to: String::new(),
        from: "123".into(),
        agent_id: "agent-7".into(),
        language: "klingon".into(),
        ..Default::default()
    };
    let fields: Vec<String> = ApiError::from_status(&client.initiate_call(bad).await.unwrap_err())
        .violations
        .into_iter()
        .map(|v| v.field)
        .collect();
    assert_eq!(
        fields,
        ["to", "from", "agent_id", "language"],
        "every bad field is named"
    );

    let unknown = uuid::Uuid::new_v4().to_string();
    assert_eq!(
        client
            .get_call(v1::GetCallRequest {
                id: unknown.clone()
            })
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );
    assert_eq!(
        client
            .end_call(v1::EndCallRequest {
                id: unknown,
                reason: String::new(),
                ..Default::default()
            })
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );
    let err = client
        .get_call(v1::GetCallRequest {
            id: "call-1".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(ApiError::from_status(&err).violations[0].field, "id");
    let empty_update = v1::UpdateCallRequest {
        id: call.id.clone(),
        ..Default::default()
    };
    assert_eq!(
        client.update_call(empty_update).await.unwrap_err().code(),
        Code::InvalidArgument
    );

    // A carrier's report is about one leg: the agent's or a supervisor's, not both.
    let both = client
        .report_carrier_callback(v1::ReportCarrierCallbackRequest {
            call_id: call.id.clone(),
            carrier: "twilio".into(),
            carrier_call_id: "CA0123456789abcdef0123456789abcdef".into(),
            status: "in-progress".into(),
            agent_leg: true,
            supervisor_leg: true,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(both.code(), Code::InvalidArgument);
    assert_eq!(
        ApiError::from_status(&both).violations[0].field,
        "supervisor_leg"
    );

    assert_eq!(
        service.event_count().await,
        before,
        "rejected requests appended nothing"
    );
}

#[tokio::test]
async fn another_organization_cannot_see_or_touch_a_call_and_anonymous_callers_are_refused() {
    let service = Service::start(60_000).await;
    let call = service
        .client("org_a")
        .initiate_call(initiate("+14155550100"))
        .await
        .unwrap()
        .into_inner();
    let mut other = service.client("org_b");
    assert_eq!(
        other
            .get_call(v1::GetCallRequest {
                id: call.id.clone()
            })
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );
    let err = other
        .end_call(v1::EndCallRequest {
            id: call.id.clone(),
            reason: String::new(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let listed = other
        .list_calls(v1::ListCallsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(listed.calls.is_empty());
}

#[tokio::test]
async fn callers_without_a_valid_service_token_are_unauthenticated() {
    let service = Service::start(60_000).await;
    let mut client = service.client("org_a");
    let call = client
        .initiate_call(initiate("+14155550100"))
        .await
        .unwrap()
        .into_inner();
    // Let the simulated provider finish its steps, so only the attempts below could append.
    wait_for_status(&mut client, &call.id, CallStatus::Answered).await;
    let before = service.event_count().await;
    let org_a = Identity::new("org_a", "user_1", Role::Admin).unwrap();
    let stranger = AuthConfig::ephemeral()
        .tokens
        .internal_token(&org_a)
        .unwrap();
    let users_access_token = service.tokens.access_token(&org_a).unwrap();
    for credentials in [
        Credentials::Nothing,
        // Identity metadata alone is what a pod reached around the edge would be sent.
        Credentials::Metadata("org_a"),
        Credentials::Token(stranger),
        Credentials::Token(users_access_token),
        Credentials::Token("not.a.jwt".into()),
    ] {
        let err = service
            .client_with(credentials)
            .get_call(v1::GetCallRequest {
                id: call.id.clone(),
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::Unauthenticated, "{err:?}");
    }
    assert_eq!(
        service.event_count().await,
        before,
        "the refused requests appended nothing"
    );
}

#[tokio::test]
async fn agents_reach_only_their_own_calls() {
    let service = Service::start(60_000).await;
    let me = uuid::Uuid::new_v4();
    let mut agent =
        service.client_as(Identity::new("org_a", &me.to_string(), Role::Agent).unwrap());
    let mut admin = service.client("org_a");
    let mine = agent
        .initiate_call(initiate("+14155550100"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        mine.agent_id,
        me.to_string(),
        "an agent's call is assigned to them"
    );
    let colleague = service.agent_of("org_a").await;
    let theirs = admin
        .initiate_call(v1::InitiateCallRequest {
            to: "+14155550101".into(),
            agent_id: colleague,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();

    let listed = agent
        .list_calls(v1::ListCallsRequest::default())
        .await
        .unwrap()
        .into_inner();
    let ids: Vec<&str> = listed.calls.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, [mine.id.as_str()]);
    let asked_for_other = v1::ListCallsRequest {
        agent_id: theirs.agent_id.clone(),
        ..Default::default()
    };
    assert!(
        agent
            .list_calls(asked_for_other)
            .await
            .unwrap()
            .into_inner()
            .calls
            .is_empty()
    );
    let code = agent
        .get_call(v1::GetCallRequest {
            id: theirs.id.clone(),
        })
        .await
        .unwrap_err()
        .code();
    assert_eq!(code, Code::NotFound);
    let code = agent
        .end_call(v1::EndCallRequest {
            id: theirs.id.clone(),
            reason: String::new(),
            ..Default::default()
        })
        .await
        .unwrap_err()
        .code();
    assert_eq!(code, Code::NotFound);
    let denied = agent
        .initiate_call(v1::InitiateCallRequest {
            to: "+14155550102".into(),
            agent_id: theirs.agent_id.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    assert!(
        denied.message().contains("calls:write"),
        "{}",
        denied.message()
    );
    // The admin sees both; the agent's own call is theirs to end.
    assert_eq!(
        admin
            .list_calls(v1::ListCallsRequest::default())
            .await
            .unwrap()
            .into_inner()
            .calls
            .len(),
        2
    );
    agent
        .end_call(v1::EndCallRequest {
            id: mine.id,
            reason: String::new(),
            ..Default::default()
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn an_idempotency_key_returns_the_same_call_and_dials_once() {
    let service = Service::start(60_000).await;
    let mut client = service.client("org_a");
    let request = v1::InitiateCallRequest {
        to: "+14155550100".into(),
        idempotency_key: "order-42".into(),
        ..Default::default()
    };
    let first = client
        .initiate_call(request.clone())
        .await
        .unwrap()
        .into_inner();
    let second = client.initiate_call(request).await.unwrap().into_inner();
    assert_eq!(first.id, second.id);
    let starts: i64 =
        sqlx::query_scalar("SELECT count(*) FROM events WHERE event_type = 'comms.call.started'")
            .fetch_one(&service.pool)
            .await
            .unwrap();
    assert_eq!(starts, 1);
    // The same key in another organization is another call.
    let theirs = service
        .client("org_b")
        .initiate_call(v1::InitiateCallRequest {
            to: "+14155550100".into(),
            idempotency_key: "order-42".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_ne!(theirs.id, first.id);
}

#[tokio::test]
async fn list_filters_and_pages_newest_first_without_gaps_or_repeats() {
    let service = Service::start(60_000).await;
    let mut client = service.client("org_a");
    let campaign = service.campaign_of("org_a").await;
    let mut created = Vec::new();
    for n in 0..7 {
        let mut request = initiate("+14155550100");
        if n % 2 == 0 {
            request.campaign_id = campaign.clone();
        }
        created.push(client.initiate_call(request).await.unwrap().into_inner().id);
    }
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = v1::PageRequest {
            page_size: 3,
            page_token: token,
        };
        let response = client
            .list_calls(v1::ListCallsRequest {
                page: Some(page),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert!(response.calls.len() <= 3);
        seen.extend(response.calls.into_iter().map(|c| c.id));
        token = response.page.unwrap().next_page_token;
        if token.is_empty() {
            break;
        }
    }
    created.reverse();
    assert_eq!(seen, created);

    let in_campaign = client
        .list_calls(v1::ListCallsRequest {
            campaign_id: campaign,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(in_campaign.calls.len(), 4);
    let ended = client
        .list_calls(v1::ListCallsRequest {
            statuses: vec![CallStatus::Ended as i32],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(ended.calls.is_empty());
    let bad_token = v1::ListCallsRequest {
        page: Some(v1::PageRequest {
            page_size: 3,
            page_token: "garbage!".into(),
        }),
        ..Default::default()
    };
    assert_eq!(
        ApiError::from_status(&client.list_calls(bad_token).await.unwrap_err()).violations[0].field,
        "page_token"
    );
}

#[tokio::test]
async fn a_new_call_names_only_agents_and_campaigns_of_the_callers_organization() {
    let service = Service::start(60_000).await;
    let mut admin = service.client("org_b");
    let ours = service.agent_of("org_b").await;
    let call = admin
        .initiate_call(v1::InitiateCallRequest {
            to: "+14155550100".into(),
            agent_id: ours.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(call.agent_id, ours);

    let (their_agent, their_campaign) = (
        service.agent_of("org_a").await,
        service.campaign_of("org_a").await,
    );
    let unknown = || uuid::Uuid::new_v4().to_string();
    for (agent_id, campaign_id) in [(their_agent, their_campaign), (unknown(), unknown())] {
        let err = admin
            .initiate_call(v1::InitiateCallRequest {
                to: "+14155550101".into(),
                agent_id: agent_id.clone(),
                campaign_id: campaign_id.clone(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        // Not found naming the fields: an unknown reference (422 over REST), not a bad path.
        assert_eq!(err.code(), Code::NotFound, "{}", err.message());
        let error = ApiError::from_status(&err);
        assert_eq!(error.kind, comms_proto::ErrorKind::UnknownReference);
        let violations = error.violations;
        let named: Vec<(&str, &str)> = violations
            .iter()
            .map(|v| (v.field.as_str(), v.description.as_str()))
            .collect();
        assert_eq!(named.len(), 2, "{named:?}");
        assert_eq!(named[0].0, "agent_id");
        assert!(named[0].1.contains(&format!("no agent {agent_id}")));
        assert_eq!(named[1].0, "campaign_id");
        assert!(named[1].1.contains(&format!("no campaign {campaign_id}")));
    }
    let campaign = service.campaign_of("org_b").await;
    let in_campaign = admin
        .initiate_call(v1::InitiateCallRequest {
            to: "+14155550102".into(),
            campaign_id: campaign.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(in_campaign.campaign_id, campaign);
    let calls: i64 = sqlx::query_scalar(
        "SELECT count(DISTINCT stream_name) FROM events WHERE stream_category = 'call'",
    )
    .fetch_one(&service.pool)
    .await
    .unwrap();
    assert_eq!(calls, 2, "the refused calls appended nothing");
}

#[tokio::test]
async fn routing_reporting_the_agent_already_on_a_call_is_applied_as_a_no_op() {
    let service = Service::start(60_000).await;
    let agent = service.agent_of("org_a").await;
    let call = service
        .client("org_a")
        .initiate_call(v1::InitiateCallRequest {
            to: "+14155550100".into(),
            agent_id: agent.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let assignments = || async {
        sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM events
             WHERE stream_name = $1 AND event_type = 'comms.call.agent_assigned'",
        )
        .bind(format!("call-{}", call.id))
        .fetch_one(&service.pool)
        .await
        .unwrap()
    };
    let assigned_before = assignments().await;

    // Routing reports the agent busy on the call they were placed with (twice: a redelivery).
    let amqp = comms_testkit::amqp_connection().await;
    let channel = amqp.create_channel().await.unwrap();
    let mut ids = Vec::new();
    for _ in 0..2 {
        let envelope = comms_bus::Envelope {
            id: uuid::Uuid::new_v4(),
            event_type: "comms.agent.busy".into(),
            source: "comms-agents".into(),
            timestamp: chrono::Utc::now(),
            organization_id: "org_a".into(),
            user_id: None,
            data: serde_json::json!({ "agent_id": agent, "call_id": call.id, "at": chrono::Utc::now() }),
            metadata: Default::default(),
        };
        ids.push(envelope.id);
        channel
            .basic_publish(
                service.exchange.as_str().into(),
                "comms.agent.busy".into(),
                Default::default(),
                &envelope.to_json(),
                // As the fleet publishes: the broker vouches for its user.
                comms_bus::amqp_properties(&envelope, None).with_user_id(
                    comms_bus::user_of(&comms_testkit::amqp_url())
                        .as_str()
                        .into(),
                ),
            )
            .await
            .unwrap();
    }
    // Both are applied (recorded as processed) at the first attempt, not retried forever.
    let mut processed = 0_i64;
    for _ in 0..200 {
        processed = sqlx::query_scalar(
            "SELECT count(*) FROM processed_messages WHERE message_id = ANY($1)",
        )
        .bind(&ids)
        .fetch_one(&service.pool)
        .await
        .unwrap();
        if processed == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(processed, 2, "the calls service applied both reports");
    let unchanged = service
        .client("org_a")
        .get_call(v1::GetCallRequest {
            id: call.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(unchanged.agent_id, agent);
    assert_eq!(
        assignments().await,
        assigned_before,
        "no assignment was appended"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_watchdog_settles_calls_the_provider_stopped_reporting_on() {
    // The provider rings, then says nothing for a minute; the watchdog gives up after 1 s.
    let silent = Service::start_with(
        60_000,
        &[
            ("SIM_ANSWER_MS", "60000"),
            ("UNANSWERED_TIMEOUT_SECONDS", "1"),
        ],
    )
    .await;
    let mut client = silent.client("org_a");
    let call = client
        .initiate_call(initiate("+14155550100"))
        .await
        .unwrap()
        .into_inner();
    let failed = wait_for_status(&mut client, &call.id, CallStatus::Failed).await;
    assert_eq!(
        failed.end_reason,
        "no answer or outcome reported by the provider within 1 s"
    );

    // An answered call talks for a minute; the longest allowed is 1 s.
    let endless = Service::start_with(60_000, &[("MAX_CALL_SECONDS", "1")]).await;
    let mut client = endless.client("org_a");
    let call = client
        .initiate_call(initiate("+14155550100"))
        .await
        .unwrap()
        .into_inner();
    let ended = wait_for_status(&mut client, &call.id, CallStatus::Ended).await;
    assert_eq!(
        ended.end_reason,
        "longer than the longest call allowed (1 s)"
    );
    assert!(ended.duration_seconds >= 1);
}
