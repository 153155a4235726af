//! The analytics service: consumes `comms.call.*` from RabbitMQ into read models, serves the
//! dashboard over gRPC, and rebuilds its projections from the event store on demand.

pub mod agents;
pub mod campaigns;
pub mod dashboard;
pub mod grpc;
pub mod intervals;
pub mod live_figures;
pub mod projection;
pub mod queues;
pub mod rebuild;
pub mod sentiment;
pub mod volumes;

use comms_bus::{ConsumerConfig, Envelope, HandleError, Handler};
use comms_events::agent::AgentEvent;
use comms_events::call::CallEvent;
use comms_events::campaign::CampaignEvent;
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
    /// How often changed live figures are published (`comms.metrics.updated`);
    /// `METRICS_INTERVAL_SECONDS`.
    pub metrics_interval: std::time::Duration,
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            common: Common::from_env(env)?,
            queue: env.string("ANALYTICS_QUEUE", "comms.analytics"),
            metrics_interval: std::time::Duration::from_secs(
                env.parse::<u64>("METRICS_INTERVAL_SECONDS", 10)?.max(1),
            ),
        })
    }

    /// The queue, bindings and consumer identity analytics consumes with.
    pub fn consumer(&self) -> ConsumerConfig {
        ConsumerConfig {
            amqp_url: self.common.rabbitmq_url.clone(),
            exchange: self.common.events_exchange.clone(),
            queue: self.queue.clone(),
            bindings: vec![
                CallEvent::BINDING.into(),
                AgentEvent::BINDING.into(),
                CampaignEvent::BINDING.into(),
            ],
            // The name keys the de-duplication records; it predates agent analytics.
            consumer_name: "analytics.calls".into(),
            prefetch: 100,
            queue_type: self.common.queue_type,
            retry: comms_bus::RetryPolicy::default(),
            publishers: self.common.event_publishers.clone(),
        }
    }
}

/// Applies consumed call events to the live calls projection (and callers' sentiment to theirs),
/// agent events to the agent
/// analytics and campaign events to the campaign results; then refreshes the gauges of what
/// changed (utilization per organization, success rate per campaign).
pub struct Projector {
    pub pool: sqlx::PgPool,
}

fn is_agent_event(envelope: &Envelope) -> bool {
    comms_events::topic_matches(AgentEvent::BINDING, &envelope.event_type)
}

impl Handler for Projector {
    /// Read models only: a slow batch holds back no one's events.
    const APPENDS: bool = false;

    async fn handle(
        &self,
        conn: &mut PgConnection,
        envelope: &Envelope,
    ) -> Result<(), HandleError> {
        self.handle_batch(conn, std::slice::from_ref(envelope))
            .await
    }

    async fn handle_batch(
        &self,
        conn: &mut PgConnection,
        envelopes: &[Envelope],
    ) -> Result<(), HandleError> {
        let (campaign_events, others): (Vec<Envelope>, Vec<Envelope>) = envelopes
            .iter()
            .cloned()
            .partition(|e| CampaignEvent::contains(&e.event_type));
        let (agent_events, call_events): (Vec<Envelope>, Vec<Envelope>) =
            others.into_iter().partition(is_agent_event);
        if !call_events.is_empty() {
            projection::apply_batch(conn, projection::Table::Live, &call_events).await?;
        }
        for envelope in call_events.iter().filter(|e| sentiment::takes(e)) {
            sentiment::apply(conn, envelope).await?;
        }
        let mut organizations = std::collections::BTreeSet::new();
        for envelope in &agent_events {
            agents::apply(conn, envelope).await?;
            organizations.insert(envelope.organization_id.clone());
        }
        let mut touched = std::collections::BTreeSet::new();
        for envelope in &campaign_events {
            let campaign = campaigns::apply(conn, envelope).await?;
            touched.insert((envelope.organization_id.clone(), campaign));
        }
        // Outside this transaction, so the figures may lag by one batch; they are gauges.
        for org in organizations {
            if let Err(error) = agents::refresh_utilization(&self.pool, &org).await {
                tracing::warn!(%error, "agent utilization not refreshed");
            }
        }
        for (org, campaign) in touched {
            campaigns::refresh_success_rate(conn, &org, campaign)
                .await
                .map_err(HandleError::from)?;
        }
        Ok(())
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
        Projector { pool: pool.clone() },
        shutdown.clone().wait(),
    ));
    let figures = tokio::spawn(live_figures::run(
        comms_eventstore::EventStore::new(pool.clone()),
        config.metrics_interval,
        shutdown.clone(),
    ));
    tracing::info!(addr = %listener.local_addr()?, queue = %config.queue, "analytics service listening");
    let routes = tonic::service::Routes::new(AnalyticsServiceServer::new(
        grpc::AnalyticsGrpc::new(pool, tokens),
    ));
    let served = comms_runtime::grpc::serve::<AnalyticsServiceServer<grpc::AnalyticsGrpc>>(
        listener,
        routes,
        shutdown,
        config.common.drain,
    )
    .await;
    consumer.await?;
    figures.await?;
    served
}
