//! Starting services: one by name, or the whole fleet on loopback.

use std::net::SocketAddr;

use anyhow::Context as _;
use comms_auth::AuthConfig;
use comms_bus::{ConsumerConfig, Relay, RelayConfig};
use comms_eventstore::EventStore;
use comms_runtime::config::Common;
use comms_runtime::{Env, Shutdown};
use tokio::net::TcpListener;
use tokio::task::JoinSet;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Service {
    Calls,
    Analytics,
    Agents,
    Campaigns,
    Edge,
    /// Calls' audio in (the carriers' media sockets on `PORT`, 3019), their transcripts out
    /// (gRPC on `GRPC_PORT`, 50055).
    Transcription,
    /// Publishes the event log to RabbitMQ; run two for a hot standby.
    Relay,
}

impl Service {
    /// The port a service listens on when `GRPC_PORT` (or the edge's and the transcription
    /// service's media `PORT`) is not set.
    fn default_port(self) -> u16 {
        match self {
            Self::Calls => 50051,
            Self::Analytics => 50052,
            Self::Agents => 50053,
            Self::Campaigns => 50054,
            Self::Edge => 3018,
            Self::Transcription => 3019,
            Self::Relay => 0,
        }
    }
}

async fn bind(host: &str, port: u16) -> anyhow::Result<TcpListener> {
    TcpListener::bind((host, port))
        .await
        .with_context(|| format!("cannot listen on {host}:{port}"))
}

/// Runs one service until `shutdown`: what each Kubernetes Deployment runs.
pub async fn serve(service: Service, env: &Env, shutdown: Shutdown) -> anyhow::Result<()> {
    let host = env.string("BIND_HOST", "0.0.0.0");
    let admin_port: u16 = env.parse("ADMIN_PORT", 9090)?;
    let mut tasks = JoinSet::new();
    let admin = bind(&host, admin_port).await?;
    tasks.spawn(crate::admin::serve(admin, shutdown.clone()));
    match service {
        Service::Calls => {
            let config = comms_calls::Config::from_env(env)?;
            let tokens = AuthConfig::from_env(env)?.tokens;
            let listener = bind(&host, env.parse("GRPC_PORT", service.default_port())?).await?;
            tasks.spawn(comms_calls::run(config, tokens, listener, shutdown));
        }
        Service::Analytics => {
            let config = comms_analytics::Config::from_env(env)?;
            let tokens = AuthConfig::from_env(env)?.tokens;
            let listener = bind(&host, env.parse("GRPC_PORT", service.default_port())?).await?;
            tasks.spawn(comms_analytics::run(config, tokens, listener, shutdown));
        }
        Service::Agents => {
            let config = comms_agents::Config::from_env(env)?;
            let tokens = AuthConfig::from_env(env)?.tokens;
            let listener = bind(&host, env.parse("GRPC_PORT", service.default_port())?).await?;
            tasks.spawn(comms_agents::run(config, tokens, listener, shutdown));
        }
        Service::Campaigns => {
            let config = comms_campaigns::Config::from_env(env)?;
            // The dialer signs its calls to the calls and agents services: the signing key.
            let tokens = AuthConfig::from_env(env)?.tokens;
            let listener = bind(&host, env.parse("GRPC_PORT", service.default_port())?).await?;
            tasks.spawn(comms_campaigns::run(config, tokens, listener, shutdown));
        }
        Service::Edge => {
            let config = comms_edge::Config::from_env(env)?;
            let listener = bind(&host, config.port).await?;
            tasks.spawn(comms_edge::run(config, listener, shutdown));
        }
        Service::Transcription => {
            let config = comms_transcription::Config::from_env(env)?;
            let tokens = AuthConfig::from_env(env)?.tokens;
            let media = bind(&host, env.parse("PORT", service.default_port())?).await?;
            let grpc = bind(&host, env.parse("GRPC_PORT", 50055)?).await?;
            tasks.spawn(comms_transcription::run(
                config, tokens, media, grpc, shutdown,
            ));
        }
        Service::Relay => {
            let common = Common::from_env(env)?;
            declare_topology(env).await?;
            tasks.spawn(run_relay(common, shutdown));
        }
    }
    while let Some(result) = tasks.join_next().await {
        result??;
    }
    Ok(())
}

/// Declares the events exchange and every queue the fleet consumes from. Runs before anything
/// publishes (`comms migrate`, `comms dev`, and the relay at start-up): an event published before
/// its consumers' queues exist would reach no one.
pub async fn declare_topology(env: &Env) -> anyhow::Result<()> {
    let consumers = consumers(env)?;
    let url = &consumers[0].amqp_url;
    let connection = comms_bus::connect(url)
        .await
        .with_context(|| format!("cannot reach RabbitMQ at RABBITMQ_URL={url}"))?;
    let channel = connection.create_channel().await?;
    for consumer in &consumers {
        comms_bus::declare_consumer(&channel, consumer).await?;
    }
    connection.close(200, "topology declared".into()).await?;
    Ok(())
}

/// The consumers of the fleet, as configured by `env`.
pub fn consumers(env: &Env) -> anyhow::Result<Vec<ConsumerConfig>> {
    let mut consumers = vec![
        comms_analytics::Config::from_env(env)?.consumer(),
        comms_agents::Config::from_env(env)?.consumer(),
        comms_calls::Config::from_env(env)?.consumer(),
        comms_campaigns::Config::from_env(env)?.consumer(),
    ];
    consumers.push(comms_transcription::search_consumer(env)?);
    // A simulated transcriber follows calls on the bus too.
    if let Some(simulation) = comms_transcription::Simulation::from_env(env)? {
        consumers.push(simulation.consumer);
    }
    Ok(consumers)
}

async fn run_relay(common: Common, shutdown: Shutdown) -> anyhow::Result<()> {
    let pool = comms_runtime::db::connect(&common.database_url, 4).await?;
    let config = RelayConfig::new(common.rabbitmq_url, common.events_exchange);
    Relay::new(EventStore::new(pool), config)
        .run(shutdown.wait())
        .await;
    Ok(())
}

/// The whole fleet in one process, each service on its own loopback port.
pub struct DevFleet {
    pub edge: SocketAddr,
    /// `/health` and `/metrics` of the whole fleet (`ADMIN_PORT`, 9090).
    pub admin: SocketAddr,
    pub calls: SocketAddr,
    pub analytics: SocketAddr,
    pub agents: SocketAddr,
    pub campaigns: SocketAddr,
    /// The transcription service's media sockets, and its gRPC API.
    pub media: SocketAddr,
    pub transcription: SocketAddr,
    pub tasks: JoinSet<anyhow::Result<()>>,
}

impl DevFleet {
    /// Waits for every service to stop (after shutdown), reporting the first failure.
    pub async fn wait(mut self) -> anyhow::Result<()> {
        while let Some(result) = self.tasks.join_next().await {
            result??;
        }
        Ok(())
    }
}

/// Migrates, then starts every service and the relay. The services find each other over gRPC on
/// loopback, exactly as they would across pods. The edge listens on `PORT` (3018), the admin
/// listener (`/health`, `/metrics`) on `ADMIN_PORT` (9090).
pub async fn start_dev(env: &Env, shutdown: Shutdown) -> anyhow::Result<DevFleet> {
    let common = Common::from_env(env)?;
    let pool = comms_runtime::db::connect(&common.database_url, 2)
        .await
        .with_context(|| {
            format!(
                "cannot reach PostgreSQL at DATABASE_URL={}",
                common.database_url
            )
        })?;
    comms_runtime::db::migrate(&pool)
        .await
        .context("migrating the database")?;
    pool.close().await;
    declare_topology(env).await?;

    let calls = bind("127.0.0.1", 0).await?;
    let analytics = bind("127.0.0.1", 0).await?;
    let agents = bind("127.0.0.1", 0).await?;
    let campaigns = bind("127.0.0.1", 0).await?;
    let transcription = bind("127.0.0.1", 0).await?;
    let (calls_addr, analytics_addr, agents_addr, campaigns_addr, transcription_addr) = (
        calls.local_addr()?,
        analytics.local_addr()?,
        agents.local_addr()?,
        campaigns.local_addr()?,
        transcription.local_addr()?,
    );
    let mut env = env.clone();
    env.set("CALLS_GRPC_URL", format!("http://{calls_addr}"));
    env.set("ANALYTICS_GRPC_URL", format!("http://{analytics_addr}"));
    env.set("AGENTS_GRPC_URL", format!("http://{agents_addr}"));
    env.set("CAMPAIGNS_GRPC_URL", format!("http://{campaigns_addr}"));
    env.set(
        "TRANSCRIPTION_GRPC_URL",
        format!("http://{transcription_addr}"),
    );
    // Without Deepgram or a simulated transcriber, the recorded transcripts are still served.
    if env.get("DEEPGRAM_API_KEY").is_none() && env.get("TRANSCRIBER").is_none() {
        env.set("TRANSCRIBER", "off");
    }
    // One key ring for the whole process: the edge signs what the services verify.
    let edge_config = comms_edge::Config::from_env(&env)?;
    let auth = edge_config.auth.clone();
    let host = env.string("BIND_HOST", "127.0.0.1");
    let edge = bind(&host, edge_config.port).await?;
    let edge_addr = edge.local_addr()?;
    let admin = bind(&host, env.parse("ADMIN_PORT", 9090)?).await?;
    let admin_addr = admin.local_addr()?;

    let mut tasks = JoinSet::new();
    tasks.spawn(crate::admin::serve(admin, shutdown.clone()));
    tasks.spawn(comms_calls::run(
        comms_calls::Config::from_env(&env)?,
        auth.tokens.clone(),
        calls,
        shutdown.clone(),
    ));
    tasks.spawn(comms_analytics::run(
        comms_analytics::Config::from_env(&env)?,
        auth.tokens.clone(),
        analytics,
        shutdown.clone(),
    ));
    tasks.spawn(comms_agents::run(
        comms_agents::Config::from_env(&env)?,
        auth.tokens.clone(),
        agents,
        shutdown.clone(),
    ));
    tasks.spawn(comms_campaigns::run(
        comms_campaigns::Config::from_env(&env)?,
        auth.tokens.clone(),
        campaigns,
        shutdown.clone(),
    ));
    let media = bind(&host, env.parse("TRANSCRIPTION_PORT", 3019)?).await?;
    let media_addr = media.local_addr()?;
    tasks.spawn(comms_transcription::run(
        comms_transcription::Config::from_env(&env)?,
        auth.tokens.clone(),
        media,
        transcription,
        shutdown.clone(),
    ));
    tasks.spawn(run_relay(common, shutdown.clone()));
    tasks.spawn(comms_edge::run(edge_config, edge, shutdown));
    Ok(DevFleet {
        edge: edge_addr,
        admin: admin_addr,
        calls: calls_addr,
        analytics: analytics_addr,
        agents: agents_addr,
        campaigns: campaigns_addr,
        media: media_addr,
        transcription: transcription_addr,
        tasks,
    })
}
