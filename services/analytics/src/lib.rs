//! The analytics service: consumes `comms.call.*` from RabbitMQ into read models, serves the
//! dashboard over gRPC, and rebuilds its projections from the event store on demand.

pub mod dashboard;
pub mod grpc;
pub mod projection;
pub mod rebuild;

use comms_bus::{ConsumerConfig, Envelope, HandleError, Handler};
use comms_proto::v1::analytics_service_server::AnalyticsServiceServer;
use comms_runtime::config::Common;
use comms_runtime::{ConfigError, Env, Shutdown};
use sqlx::PgConnection;
use tokio::net::TcpListener;

#[derive(Debug, Clone)]
pub struct Config {
    pub common: Common,
    /// The durable queue analytics consumes from; `ANALYTICS_QUEUE`.
    pub queue: String,
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            common: Common::from_env(env)?,
            queue: env.string("ANALYTICS_QUEUE", "comms.analytics"),
        })
    }

    /// The queue, bindings and consumer identity analytics consumes with.
    pub fn consumer(&self) -> ConsumerConfig {
        ConsumerConfig {
            amqp_url: self.common.rabbitmq_url.clone(),
            exchange: self.common.events_exchange.clone(),
            queue: self.queue.clone(),
            bindings: vec!["comms.call.*".into()],
            consumer_name: "analytics.calls".into(),
            prefetch: 100,
        }
    }
}

/// Applies consumed call events to the live projection.
pub struct CallsProjector;

impl Handler for CallsProjector {
    async fn handle(
        &self,
        conn: &mut PgConnection,
        envelope: &Envelope,
    ) -> Result<(), HandleError> {
        projection::apply(conn, projection::Table::Live, envelope).await
    }

    async fn handle_batch(
        &self,
        conn: &mut PgConnection,
        envelopes: &[Envelope],
    ) -> Result<(), HandleError> {
        projection::apply_batch(conn, projection::Table::Live, envelopes).await
    }
}

/// Consumes and serves on `listener` until `shutdown`; the message in hand is finished first.
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
    let consumer = tokio::spawn(comms_bus::run_consumer(
        pool.clone(),
        config.consumer(),
        CallsProjector,
        shutdown.clone().wait(),
    ));
    tracing::info!(addr = %listener.local_addr()?, queue = %config.queue, "analytics service listening");
    let routes = tonic::service::Routes::new(AnalyticsServiceServer::new(
        grpc::AnalyticsGrpc::new(pool, tokens),
    ));
    let served = comms_runtime::grpc::serve::<AnalyticsServiceServer<grpc::AnalyticsGrpc>>(
        listener, routes, shutdown,
    )
    .await;
    consumer.await?;
    served
}
