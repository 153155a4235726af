//! The dialer against real calls and agents services on the real PostgreSQL and RabbitMQ, with
//! the keys as deployed (it signs its calls with a key for service tokens only): it holds no
//! transaction id while it waits on the calls service, and the campaigns service's consumer
//! applies a call's events at once, whether the dialer placed the call or not.

use std::time::{Duration, Instant};

use comms_auth::{Identity, KeyRing, Lifetimes, PrivateKey, Role, Tokens};
use comms_proto::v1::agents_service_client::AgentsServiceClient;
use comms_proto::v1::calls_service_client::CallsServiceClient;
use comms_proto::v1::campaigns_service_client::CampaignsServiceClient;
use comms_proto::v1::{self, AgentState};
use comms_runtime::{Env, Shutdown, ShutdownTrigger};
use comms_testkit::{FaultProxy, Link, TestDatabase, amqp_url, unique_name};
use sqlx::PgPool;
use tokio::net::TcpListener;
use tonic::Request;
use tonic::transport::Channel;

const ORG: &str = "org_a";

struct Fleet {
    db: TestDatabase,
    pool: PgPool,
    calls: Channel,
    agents: Channel,
    campaigns: Channel,
    /// Between the campaigns services and the calls service.
    to_calls: FaultProxy,
    /// The calls service's way to the campaigns service, as a Kubernetes Service would be.
    to_campaigns: FaultProxy,
    tokens: Tokens,
    /// The campaigns services' settings and keys, to start more of them.
    env: Env,
    dialing: Tokens,
    shutdown: Shutdown,
    /// Where the first campaigns service will listen ([`Self::campaigns`] points there).
    first_campaigns: std::sync::Mutex<Option<TcpListener>>,
    _stop: ShutdownTrigger,
}

fn url_of(listener: &TcpListener) -> String {
    format!("http://{}", listener.local_addr().unwrap())
}

impl Fleet {
    /// The calls and agents services, and one campaigns service.
    async fn start() -> Self {
        let fleet = Self::start_with(&[]).await;
        fleet.start_campaigns(&fleet.db.url).await;
        fleet
    }

    /// The calls and agents services with `settings` over the defaults; campaigns services
    /// come with [`Self::start_campaigns`].
    async fn start_with(settings: &[(&str, &str)]) -> Self {
        let db = TestDatabase::new().await;
        let bind = || TcpListener::bind("127.0.0.1:0");
        let (calls, agents, campaigns) = (
            bind().await.unwrap(),
            bind().await.unwrap(),
            bind().await.unwrap(),
        );
        let (calls_url, agents_url) = (url_of(&calls), url_of(&agents));
        let to_calls = FaultProxy::to(&calls_url).await;
        let to_campaigns = FaultProxy::to(&url_of(&campaigns)).await;
        let (amqp, exchange) = (amqp_url(), unique_name("test.events"));
        let queues = [
            ("CALLS_QUEUE", unique_name("test.calls")),
            ("AGENTS_QUEUE", unique_name("test.agents")),
            ("CAMPAIGNS_QUEUE", unique_name("test.campaigns")),
        ];
        let mut env = Env::from_pairs([
            ("DATABASE_URL", db.url.as_str()),
            ("RABBITMQ_URL", amqp.as_str()),
            ("EVENTS_EXCHANGE", exchange.as_str()),
            ("CALLS_GRPC_URL", calls_url.as_str()),
            ("AGENTS_GRPC_URL", agents_url.as_str()),
            (
                "CAMPAIGNS_GRPC_URL",
                to_campaigns.url(&url_of(&campaigns)).as_str(),
            ),
            ("DIALER_TICK_MS", "100"),
            ("SIM_RING_MS", "20"),
            ("SIM_ANSWER_MS", "30"),
            ("SIM_TALK_MS", "60000"),
            ("SIM_OUTCOMES", "answered=1"),
        ]);
        for (key, value) in &queues {
            env.set(key, value.as_str());
        }
        for (key, value) in settings {
            env.set(key, *value);
        }
        // The queues exist before anything publishes, as `comms migrate` ensures in a deployment.
        let consumers = [
            comms_calls::Config::from_env(&env).unwrap().consumer(),
            comms_agents::Config::from_env(&env).unwrap().consumer(),
            comms_campaigns::Config::from_env(&env).unwrap().consumer(),
        ];
        let broker = comms_testkit::amqp_connection().await;
        let topology = broker.create_channel().await.unwrap();
        for consumer in &consumers {
            comms_bus::declare_consumer(&topology, consumer)
                .await
                .unwrap();
        }
        let (stop, shutdown) = Shutdown::new();
        // Keys as deployed: the edge (here, the test) signs users' tokens; the campaigns
        // service holds only a key for service tokens, which the calls and agents services
        // verify and trust for nothing else.
        let (users, services) = (PrivateKey::generate(), PrivateKey::generate());
        let lifetimes = Lifetimes::default();
        let tokens = Tokens::new(KeyRing::new(users.clone(), vec![]), lifetimes);
        let verifying = || KeyRing::verify_only(vec![users.public.clone()]);
        let called = Tokens::new(verifying(), lifetimes)
            .with_service_keys(KeyRing::verify_only(vec![services.public.clone()]));
        let dialing =
            Tokens::new(verifying(), lifetimes).with_service_keys(KeyRing::new(services, vec![]));
        // The relay carries the calls service's events to the campaigns service's consumer.
        let relay = comms_bus::Relay::new(
            comms_eventstore::EventStore::new(db.pool.clone()),
            comms_bus::RelayConfig::new(amqp.clone(), exchange),
        );
        tokio::spawn(relay.run(shutdown.clone().wait()));
        tokio::spawn(comms_calls::run(
            comms_calls::Config::from_env(&env).unwrap(),
            called.clone(),
            calls,
            shutdown.clone(),
        ));
        tokio::spawn(comms_agents::run(
            comms_agents::Config::from_env(&env).unwrap(),
            called,
            agents,
            shutdown.clone(),
        ));
        // Only the campaigns services reach the calls service through the proxy.
        env.set("CALLS_GRPC_URL", to_calls.url(&calls_url));
        let channel = |url: String| Channel::from_shared(url).unwrap().connect_lazy();
        Self {
            pool: db.pool.clone(),
            db,
            calls: channel(calls_url),
            agents: channel(agents_url),
            campaigns: channel(url_of(&campaigns)),
            to_calls,
            to_campaigns,
            tokens,
            env,
            dialing,
            shutdown,
            first_campaigns: std::sync::Mutex::new(Some(campaigns)),
            _stop: stop,
        }
    }

    /// Starts a campaigns service reaching the database at `database_url`; returns its URL.
    /// The first one started serves [`Self::campaigns`] and the calls service.
    async fn start_campaigns(&self, database_url: &str) -> String {
        let first = self.first_campaigns.lock().unwrap().take();
        let listener = match first {
            Some(listener) => listener,
            None => TcpListener::bind("127.0.0.1:0").await.unwrap(),
        };
        let url = url_of(&listener);
        let mut env = self.env.clone();
        env.set("DATABASE_URL", database_url);
        tokio::spawn(comms_campaigns::run(
            comms_campaigns::Config::from_env(&env).unwrap(),
            self.dialing.clone(),
            listener,
            self.shutdown.clone(),
        ));
        url
    }

    fn as_admin<T>(&self, message: T) -> Request<T> {
        let admin = Identity::new(ORG, "user_1", Role::Admin).unwrap();
        let token = self.tokens.internal_token(&admin).unwrap();
        let mut request = Request::new(message);
        comms_auth::service::attach(request.metadata_mut(), &token);
        request
    }

    fn campaigns(&self) -> CampaignsServiceClient<Channel> {
        CampaignsServiceClient::new(self.campaigns.clone())
    }

    async fn available_agent(&self, name: &str) {
        let mut agents = AgentsServiceClient::new(self.agents.clone());
        let new = v1::CreateAgentRequest {
            name: name.into(),
            email: format!("{}@example.com", name.to_lowercase()),
            languages: vec!["en".into()],
            ..Default::default()
        };
        let agent = agents
            .create_agent(self.as_admin(new))
            .await
            .unwrap()
            .into_inner();
        let status = v1::UpdateAgentStatusRequest {
            id: agent.id,
            status: AgentState::Available as i32,
            ..Default::default()
        };
        agents
            .update_agent_status(self.as_admin(status))
            .await
            .unwrap();
    }

    async fn campaign(&self, window: Option<v1::CallingWindow>) -> String {
        let settings = v1::CampaignSettings {
            name: Some("Renewals".into()),
            window,
            ..Default::default()
        };
        let create = v1::CreateCampaignRequest {
            settings: Some(settings),
        };
        self.campaigns()
            .create_campaign(self.as_admin(create))
            .await
            .unwrap()
            .into_inner()
            .id
    }

    /// A running campaign, open all day, with `contacts` contacts; returns its id.
    async fn running_campaign(&self, contacts: usize) -> String {
        let every_day = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"].map(String::from);
        let id = self
            .campaign(Some(v1::CallingWindow {
                start: "00:00".into(),
                end: "23:59".into(),
                days: every_day.to_vec(),
            }))
            .await;
        let mut contact_ids = Vec::new();
        for n in 0..contacts {
            let fields = v1::ContactFields {
                name: format!("Contact {n}"),
                phones: vec![format!("+1415555{n:04}")],
                time_zone: "Etc/UTC".into(),
                ..Default::default()
            };
            let upsert = v1::UpsertContactRequest {
                fields: Some(fields),
            };
            let contact = self
                .campaigns()
                .upsert_contact(self.as_admin(upsert))
                .await
                .unwrap()
                .into_inner();
            contact_ids.push(contact.id);
        }
        let add = v1::AddCampaignContactsRequest {
            id: id.clone(),
            contact_ids,
            priority: 0,
        };
        self.campaigns()
            .add_campaign_contacts(self.as_admin(add))
            .await
            .unwrap();
        let start = v1::CampaignRequest { id: id.clone() };
        self.campaigns()
            .start_campaign(self.as_admin(start))
            .await
            .unwrap();
        id
    }

    /// Waits until `query` (a count, given `bind` as $1) reaches `n` (up to 30 s: the bus reads
    /// the log below every open transaction on the server, and other tests stage silent links
    /// whose transactions stay open up to 10 s).
    async fn until_count(&self, query: &'static str, bind: &str, n: i64) {
        let mut seen = 0;
        for _ in 0..600 {
            seen = sqlx::query_scalar(query)
                .bind(bind)
                .fetch_one(&self.pool)
                .await
                .unwrap();
            if seen >= n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{query} ({bind}) stayed at {seen}, short of {n}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_dialer_holds_no_transaction_id_while_the_calls_service_is_slow() {
    let fleet = Fleet::start().await;
    fleet.available_agent("Ada").await;
    // The calls service stops answering the campaigns service.
    fleet.to_calls.set(Link::Silent);
    let campaign = fleet.running_campaign(1).await;

    // The dialer is waiting on the calls service inside its transaction (its last statement
    // read the contact's do-not-call lists: the `opted-out` list is read for every campaign).
    let waiting = "SELECT count(*) FROM pg_stat_activity
                   WHERE datname = current_database() AND state = 'idle in transaction'
                     AND query LIKE '%FROM do_not_call%' AND $1 <> ''";
    fleet.until_count(waiting, "the dialer", 1).await;
    let with_id: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity
         WHERE datname = current_database() AND state = 'idle in transaction'
           AND query LIKE '%FROM do_not_call%' AND backend_xid IS NOT NULL",
    )
    .fetch_one(&fleet.pool)
    .await
    .unwrap();
    assert_eq!(
        with_id, 0,
        "a transaction id held while waiting stalls every reader of the log"
    );

    // The calls service answers again: the call is placed, recorded once, and followed.
    fleet.to_calls.set(Link::Up);
    let answered = "SELECT count(*) FROM campaign_calls
                    WHERE campaign_id = $1::uuid AND answered_at IS NOT NULL";
    fleet.until_count(answered, &campaign, 1).await;
    let placed: i64 =
        sqlx::query_scalar("SELECT count(*) FROM campaign_calls WHERE campaign_id = $1::uuid")
            .bind(&campaign)
            .fetch_one(&fleet.pool)
            .await
            .unwrap();
    assert_eq!(placed, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_call_naming_a_campaign_that_did_not_place_it_is_applied_at_once_not_retried() {
    let fleet = Fleet::start().await;
    let campaign = fleet.campaign(None).await;
    // Someone places a call through the API naming the campaign; the dialer never recorded it.
    let initiate = v1::InitiateCallRequest {
        to: "+14155550123".into(),
        campaign_id: campaign,
        ..Default::default()
    };
    let call = CallsServiceClient::new(fleet.calls.clone())
        .initiate_call(fleet.as_admin(initiate))
        .await
        .unwrap()
        .into_inner();
    // The campaigns service applies its answer (as nothing of the campaign's) at the first
    // attempt, instead of holding it for a minute of retries.
    let applied = "SELECT count(*) FROM processed_messages p
                   JOIN events e ON e.event_id = p.message_id
                   WHERE p.consumer = 'campaigns' AND e.stream_name = 'call-' || $1
                     AND e.event_type = 'comms.call.answered'";
    fleet.until_count(applied, &call.id, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn when_the_dialers_node_goes_silent_a_standby_dials_on_and_no_contact_is_dialed_twice() {
    // Short calls and wrap-ups, so the campaign keeps dialing while the test watches.
    let fleet = Fleet::start_with(&[("SIM_TALK_MS", "300"), ("WRAP_UP_SECONDS", "1")]).await;
    // Dialer A reaches the database through a link the test controls; B, started later,
    // directly.
    let link = FaultProxy::to(&fleet.db.url).await;
    fleet.start_campaigns(&link.url(&fleet.db.url)).await;
    for name in ["Ada", "Grace", "Hedy"] {
        fleet.available_agent(name).await;
    }
    let campaign = fleet.running_campaign(60).await;
    let placed = "SELECT count(*) FROM campaign_calls WHERE campaign_id = $1::uuid";
    fleet.until_count(placed, &campaign, 3).await;
    let standby = fleet.start_campaigns(&fleet.db.url).await;

    // A's node vanishes: nothing it sends reaches the database, nothing is refused; and the
    // calls service's requests to the campaigns service go to B, as a Service's would once
    // A's endpoint is gone.
    link.set(Link::Silent);
    fleet.to_campaigns.redirect(&standby).await;
    let silent = Instant::now();
    let placed_since = "SELECT count(*) FROM campaign_calls
                        WHERE campaign_id = $1::uuid AND placed_at > now() - interval '2 seconds'";
    let mut took_over = None;
    for _ in 0..300 {
        let recent: i64 = sqlx::query_scalar(placed_since)
            .bind(&campaign)
            .fetch_one(&fleet.pool)
            .await
            .unwrap();
        // Calls A placed just before the link went silent are older than 2 s by now.
        if silent.elapsed() > Duration::from_secs(3) && recent > 0 {
            took_over = Some(silent.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let took_over = took_over.expect("the standby dialer took over");
    assert!(
        took_over < Duration::from_secs(20),
        "dialing resumed {took_over:?} after the leader went silent"
    );

    eprintln!("the standby dialer placed a call {took_over:?} after the leader went silent");

    // No contact was ever called twice at once, nor twice for one attempt: each contact's calls
    // (as the calls service placed them) follow one another.
    let calls: Vec<(
        String,
        chrono::DateTime<chrono::Utc>,
        Option<chrono::DateTime<chrono::Utc>>,
    )> = sqlx::query_as(
        "SELECT state->>'to', created_at, (state->>'ended_at')::timestamptz
               FROM calls_view ORDER BY 1, 2",
    )
    .fetch_all(&fleet.pool)
    .await
    .unwrap();
    assert!(calls.len() > 3, "the standby placed calls of its own");
    for pair in calls.windows(2) {
        let ((to, _, ended), (next_to, next_started, _)) = (&pair[0], &pair[1]);
        if to == next_to {
            assert!(
                ended.is_some_and(|ended| ended <= *next_started),
                "{to} was dialed again while a call to it was in progress"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn contacts_written_before_their_zones_were_kept_get_them_filled_in() {
    let fleet = Fleet::start().await;
    fleet.running_campaign(2).await;
    // As a row written before migration 0017: no zones yet.
    sqlx::query("UPDATE contacts_view SET zones = NULL")
        .execute(&fleet.pool)
        .await
        .unwrap();
    let filled = comms_campaigns::store::contacts::fill_missing_zones(&fleet.pool)
        .await
        .unwrap();
    assert_eq!(filled, 2);
    let zones: Vec<Vec<String>> = sqlx::query_scalar("SELECT zones FROM contacts_view")
        .fetch_all(&fleet.pool)
        .await
        .unwrap();
    assert_eq!(zones, vec![vec!["Etc/UTC".to_owned()]; 2]);
    let again = comms_campaigns::store::contacts::fill_missing_zones(&fleet.pool)
        .await
        .unwrap();
    assert_eq!(again, 0, "nothing left to fill");
}
