//! The agents service: agents and teams as event-sourced aggregates, and routing calls to the
//! best free agent (ACD) with a waiting queue, over gRPC.

pub mod app;
pub mod call_feed;
pub mod convert;
pub mod domain;
pub mod grpc;
pub mod listing;
mod lock_order;
mod queue;
pub mod routing;
pub mod softphones;
pub mod store;
pub mod watch;

use std::time::Duration;

use comms_bus::ConsumerConfig;
use comms_events::call::CallEvent;
use comms_eventstore::EventStore;
use comms_proto::v1::agents_service_server::AgentsServiceServer;
use comms_runtime::config::Common;
use comms_runtime::{ConfigError, Env, Shutdown};
use tokio::net::TcpListener;

pub use app::{Agents, Timeouts};

/// How often routing sweeps for lapsed reservations, ended wrap-ups and waiting calls, beside
/// the immediate offers made whenever an agent is freed.
const SWEEP_INTERVAL: Duration = Duration::from_millis(500);

#[derive(Debug, Clone)]
pub struct Config {
    pub common: Common,
    pub timeouts: Timeouts,
    /// The durable queue of call events the service follows; `AGENTS_QUEUE`.
    pub queue: String,
    /// The carriers' accounts softphone tokens are signed with.
    pub softphones: softphones::Softphones,
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            common: Common::from_env(env)?,
            timeouts: Timeouts {
                reservation: Duration::from_secs(env.parse("RESERVATION_TIMEOUT_SECONDS", 15)?),
                wrap_up: Duration::from_secs(env.parse("WRAP_UP_SECONDS", 30)?),
            },
            queue: env.string("AGENTS_QUEUE", "comms.agents"),
            softphones: softphones::Softphones::from_env(env)?,
        })
    }

    /// The queue, bindings and consumer identity the call feed consumes with.
    pub fn consumer(&self) -> ConsumerConfig {
        ConsumerConfig {
            amqp_url: self.common.rabbitmq_url.clone(),
            exchange: self.common.events_exchange.clone(),
            queue: self.queue.clone(),
            bindings: vec![CallEvent::BINDING.into()],
            consumer_name: "agents.calls".into(),
            prefetch: 100,
            queue_type: self.common.queue_type,
            retry: comms_bus::RetryPolicy::default(),
            publishers: self.common.event_publishers.clone(),
        }
    }
}

/// Serves the agents service on `listener` until `shutdown`, sweeping routing and following
/// calls on the bus meanwhile.
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
    let softphones = config.softphones.clone().with_pool(pool.clone());
    let agents = Agents::new(EventStore::new(pool), config.timeouts);
    let sweeper = tokio::spawn(agents.clone().run_sweeper(SWEEP_INTERVAL, shutdown.clone()));
    let feed = tokio::spawn(comms_bus::run_consumer(
        agents.pool().clone(),
        config.consumer(),
        call_feed::CallFeed(agents.clone()),
        shutdown.clone().wait(),
    ));
    let drain = config.common.drain;
    let service = AgentsServiceServer::new(grpc::AgentsGrpc::new(
        agents,
        softphones,
        tokens,
        shutdown.after_drain(drain),
    ));
    tracing::info!(addr = %listener.local_addr()?, "agents service listening");
    let routes = tonic::service::Routes::new(service);
    let served = comms_runtime::grpc::serve::<AgentsServiceServer<grpc::AgentsGrpc>>(
        listener, routes, shutdown, drain,
    )
    .await;
    sweeper.await?;
    feed.await?;
    served
}
