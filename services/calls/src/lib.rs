//! The calls service: calls as event-sourced aggregates, a gRPC API, a read model kept in the
//! append transaction, and a telephony provider that moves calls along.

pub mod agent_feed;
pub mod app;
pub mod domain;
pub mod grpc;
pub mod ivr;
pub mod messages;
pub mod notifications;
pub mod numbers;
mod stream;
pub mod telephony;
pub mod view;
pub mod watchdog;

use comms_bus::ConsumerConfig;
use comms_events::Event;
use comms_events::agent::OnCall;
use comms_events::platform::{ProjectEvent, TaskEvent};
use comms_eventstore::EventStore;
use comms_proto::v1::agents_service_client::AgentsServiceClient;
use comms_proto::v1::calls_service_server::CallsServiceServer;
use comms_proto::v1::campaigns_service_client::CampaignsServiceClient;
use comms_proto::v1::messages_service_server::MessagesServiceServer;
use comms_runtime::config::Common;
use comms_runtime::{ConfigError, Env, Shutdown};
use tokio::net::TcpListener;

pub use app::Calls;
pub use telephony::{SimulationConfig, TelephonyConfig};
pub use watchdog::WatchdogConfig;

/// The schemes a service's URL may have.
const GRPC: [&str; 2] = ["http", "https"];

#[derive(Debug, Clone)]
pub struct Config {
    pub common: Common,
    /// The provider that carries calls and its settings.
    pub telephony: TelephonyConfig,
    /// The carrier dials fail over to, if any.
    pub failover: Option<TelephonyConfig>,
    /// `ENABLE_RECORDING`: calls whose campaign or number sets no recording policy are
    /// recorded from the answer (default false: on demand).
    pub record_calls: bool,
    /// `COMMS_ENCRYPTION_KEY`, which opens the accounts organizations stored (as the edge
    /// sealed them); without it, every call is carried on the fleet's own accounts.
    pub encryption_key: Option<std::sync::Arc<comms_auth::secrets::Sealer>>,
    pub watchdog: WatchdogConfig,
    /// `ENABLE_TRANSCRIPTION`: answered calls' audio is streamed to the transcription service.
    pub media: Option<telephony::MediaStreaming>,
    /// The durable queue of routing events the service follows; `CALLS_QUEUE`.
    pub queue: String,
    /// The durable queue of the platform's task and project events it notifies people of;
    /// `CALLS_NOTIFICATIONS_QUEUE`, by default `CALLS_QUEUE` followed by `.notifications` (so a
    /// fleet that names its own queue has its own of these too).
    pub notifications_queue: String,
    /// The agents and campaigns services, which vouch for the `agent_id` and `campaign_id` of a
    /// new call; `AGENTS_GRPC_URL`, `CAMPAIGNS_GRPC_URL`.
    pub agents_url: String,
    pub campaigns_url: String,
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let telephony = TelephonyConfig::from_env(env)?;
        let watchdog = WatchdogConfig::from_env(env)?;
        Ok(Self {
            media: telephony::MediaStreaming::from_env(env, watchdog.longest)?,
            common: Common::from_env(env)?,
            failover: TelephonyConfig::failover_from_env(env, &telephony)?,
            record_calls: env.bool("ENABLE_RECORDING", false)?,
            encryption_key: comms_auth::secrets::Sealer::from_env(env)?,
            telephony,
            watchdog,
            queue: env.string("CALLS_QUEUE", "comms.calls"),
            notifications_queue: env.string(
                "CALLS_NOTIFICATIONS_QUEUE",
                &format!("{}.notifications", env.string("CALLS_QUEUE", "comms.calls")),
            ),
            agents_url: env.url("AGENTS_GRPC_URL", "http://127.0.0.1:50053", &GRPC)?,
            campaigns_url: env.url("CAMPAIGNS_GRPC_URL", "http://127.0.0.1:50054", &GRPC)?,
        })
    }

    /// The queue, bindings and consumer identity the agent feed consumes with.
    pub fn consumer(&self) -> ConsumerConfig {
        ConsumerConfig {
            amqp_url: self.common.rabbitmq_url.clone(),
            exchange: self.common.events_exchange.clone(),
            queue: self.queue.clone(),
            bindings: vec![<OnCall as Event>::TYPE.into()],
            consumer_name: "calls.agents".into(),
            prefetch: 100,
            queue_type: self.common.queue_type,
            retry: comms_bus::RetryPolicy::default(),
            publishers: self.common.event_publishers.clone(),
        }
    }

    /// The queue and bindings the notifications are scheduled from.
    pub fn notifications_consumer(&self) -> ConsumerConfig {
        ConsumerConfig {
            queue: self.notifications_queue.clone(),
            bindings: vec![TaskEvent::BINDING.into(), ProjectEvent::BINDING.into()],
            consumer_name: "calls.notifications".into(),
            ..self.consumer()
        }
    }
}

/// Serves the calls service on `listener` until `shutdown`, then drains in-flight calls.
/// `tokens` verifies the service tokens callers present.
pub async fn run(
    config: Config,
    tokens: comms_auth::Tokens,
    listener: TcpListener,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    let pool = comms_runtime::db::connect(
        &config.common.database_url,
        config.common.database_pool_size,
    )
    .await?;
    let store = EventStore::new(pool.clone());
    let (sink, reports) = tokio::sync::mpsc::unbounded_channel();
    let consumer = config.consumer();
    let notifications_consumer = config.notifications_consumer();
    let primary = telephony::provider(config.telephony, sink.clone())?;
    let secondary = config
        .failover
        .map(|failover| telephony::provider(failover, sink.clone()))
        .transpose()?;
    tracing::info!(
        carrier = primary.carrier().as_str(),
        failover = secondary.as_ref().map(|s| s.carrier().as_str()),
        "calls are carried by this provider"
    );
    let mut telephony = telephony::Providers::new(primary, secondary, sink);
    if let Some(sealer) = config.encryption_key {
        telephony = telephony.with_org_accounts(telephony::OrgAccounts {
            pool: pool.clone(),
            sealer,
        });
    }
    let numbers = numbers::Numbers::new(store.clone());
    let flows = ivr::IvrFlows::new(store.clone());
    let (store_for_messages, telephony_for_messages) = (store.clone(), telephony.clone());
    let calls = Calls::new(store, telephony, config.record_calls).streaming_media(config.media);
    tokio::spawn(calls.clone().follow_progress(reports));
    tokio::spawn(watchdog::run(
        calls.clone(),
        config.watchdog,
        shutdown.clone(),
    ));
    let feed = tokio::spawn(comms_bus::run_consumer(
        pool.clone(),
        consumer,
        agent_feed::AgentFeed(calls.clone()),
        shutdown.clone().wait(),
    ));
    let agents = AgentsServiceClient::new(comms_runtime::client::channel(&config.agents_url)?);
    let campaigns =
        CampaignsServiceClient::new(comms_runtime::client::channel(&config.campaigns_url)?);
    let texts = messages::Messages::new(
        store_for_messages.clone(),
        numbers.clone(),
        telephony_for_messages,
    );
    let notifications =
        notifications::Notifications::new(store_for_messages, texts.clone(), calls.clone());
    tokio::spawn(notifications.clone().send_due(shutdown.clone()));
    let notices = tokio::spawn(comms_bus::run_consumer(
        pool.clone(),
        notifications_consumer,
        notifications::NotificationFeed,
        shutdown.clone().wait(),
    ));
    let messages = MessagesServiceServer::new(grpc::MessagesGrpc::new(
        texts,
        notifications,
        tokens.clone(),
    ));
    let service = CallsServiceServer::new(grpc::CallsGrpc::new(
        calls, numbers, flows, agents, campaigns, tokens,
    ));
    tracing::info!(addr = %listener.local_addr()?, "calls service listening");
    let routes = tonic::service::Routes::new(service).add_service(messages);
    let served = comms_runtime::grpc::serve_named(
        listener,
        routes,
        &[
            <CallsServiceServer<grpc::CallsGrpc> as tonic::server::NamedService>::NAME,
            <MessagesServiceServer<grpc::MessagesGrpc> as tonic::server::NamedService>::NAME,
        ],
        shutdown,
        config.common.drain,
    )
    .await;
    feed.await?;
    notices.await?;
    served
}
