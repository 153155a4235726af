//! The campaigns service: contacts, campaigns and the dialer that calls them within the law.

pub mod app;
mod convert;
pub mod dialer;
pub mod domain;
pub mod feed;
pub mod grpc;
pub mod lock_order;
pub mod preview;
pub mod simulation;
pub mod store;

use std::time::Duration;

use comms_bus::ConsumerConfig;
use comms_eventstore::EventStore;
use comms_proto::v1::agents_service_client::AgentsServiceClient;
use comms_proto::v1::calls_service_client::CallsServiceClient;
use comms_proto::v1::campaigns_service_server::CampaignsServiceServer;
use comms_runtime::config::Common;
use comms_runtime::{ConfigError, Env, Shutdown};
use tokio::net::TcpListener;

pub use app::Campaigns;
pub use dialer::{Dialer, DialerConfig};

#[derive(Debug, Clone)]
pub struct Config {
    pub common: Common,
    /// The durable queue of call outcomes, CRM contacts and planning triggers; `CAMPAIGNS_QUEUE`.
    pub queue: String,
    pub calls_url: String,
    pub agents_url: String,
    pub dialer: DialerConfig,
    /// The shortest retry delay a campaign may set (`MIN_RETRY_DELAY_SECONDS`, 60).
    pub min_retry_delay: u32,
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let grpc = ["http", "https"];
        Ok(Self {
            common: Common::from_env(env)?,
            queue: env.string("CAMPAIGNS_QUEUE", "comms.campaigns"),
            calls_url: env.url("CALLS_GRPC_URL", "http://127.0.0.1:50051", &grpc)?,
            agents_url: env.url("AGENTS_GRPC_URL", "http://127.0.0.1:50053", &grpc)?,
            dialer: DialerConfig {
                tick: Duration::from_millis(env.parse("DIALER_TICK_MS", 500)?),
                hold: Duration::from_millis(env.parse("ABANDON_HOLD_MS", 2000)?),
                preview_timeout: Duration::from_secs(env.parse("PREVIEW_TIMEOUT_SECONDS", 30)?),
            },
            min_retry_delay: env.parse("MIN_RETRY_DELAY_SECONDS", 60)?,
        })
    }

    /// The queue, bindings and consumer identity the feed consumes with.
    pub fn consumer(&self) -> ConsumerConfig {
        ConsumerConfig {
            amqp_url: self.common.rabbitmq_url.clone(),
            exchange: self.common.events_exchange.clone(),
            queue: self.queue.clone(),
            bindings: feed::BINDINGS.iter().map(|b| (*b).to_owned()).collect(),
            consumer_name: "campaigns".into(),
            prefetch: 100,
            queue_type: self.common.queue_type,
            retry: comms_bus::RetryPolicy::default(),
            publishers: self.common.event_publishers.clone(),
        }
    }
}

/// Serves the campaigns service on `listener` until `shutdown`, dialing and following the bus
/// meanwhile. `tokens` verifies callers and signs the dialer's calls to the calls and agents
/// services (so it needs the signing key).
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
    let filled = store::contacts::fill_missing_zones(&pool).await?;
    if filled > 0 {
        tracing::info!(
            contacts = filled,
            "filled in the time zones of existing contacts"
        );
    }
    let campaigns = Campaigns::new(EventStore::new(pool.clone()));
    let dialer = Dialer::new(
        campaigns.clone(),
        CallsServiceClient::new(comms_runtime::client::channel(&config.calls_url)?),
        AgentsServiceClient::new(comms_runtime::client::channel(&config.agents_url)?),
        tokens.clone(),
        config.dialer,
    );
    let feed = tokio::spawn(comms_bus::run_consumer(
        pool,
        config.consumer(),
        feed::Feed(dialer.clone()),
        shutdown.clone().wait(),
    ));
    let dialing = tokio::spawn(dialer.clone().run(shutdown.clone()));
    let service = CampaignsServiceServer::new(grpc::CampaignsGrpc::new(
        dialer,
        tokens,
        config.min_retry_delay,
    ));
    tracing::info!(addr = %listener.local_addr()?, queue = %config.queue, "campaigns service listening");
    let routes = tonic::service::Routes::new(service);
    let served = comms_runtime::grpc::serve::<CampaignsServiceServer<grpc::CampaignsGrpc>>(
        listener,
        routes,
        shutdown,
        config.common.drain,
    )
    .await;
    dialing.await?;
    feed.await?;
    served
}
