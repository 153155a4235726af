//! The calls service: calls as event-sourced aggregates, a gRPC API, a read model kept in the
//! append transaction, and a telephony provider that moves calls along.

pub mod app;
pub mod domain;
pub mod grpc;
pub mod telephony;
pub mod view;

use std::sync::Arc;

use comms_eventstore::EventStore;
use comms_proto::v1::calls_service_server::CallsServiceServer;
use comms_runtime::config::Common;
use comms_runtime::{ConfigError, Env, Shutdown};
use tokio::net::TcpListener;

pub use app::Calls;
pub use telephony::SimulationConfig;

#[derive(Debug, Clone)]
pub struct Config {
    pub common: Common,
    pub simulation: SimulationConfig,
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            common: Common::from_env(env)?,
            simulation: SimulationConfig::from_env(env)?,
        })
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
    let store = EventStore::new(pool);
    let (sink, reports) = tokio::sync::mpsc::unbounded_channel();
    let telephony = telephony::SimulatedTelephony::new(config.simulation, sink);
    let calls = Calls::new(store, Arc::new(telephony));
    tokio::spawn(calls.clone().follow_progress(reports));
    let service = CallsServiceServer::new(grpc::CallsGrpc::new(calls, tokens));
    tracing::info!(addr = %listener.local_addr()?, "calls service listening");
    let routes = tonic::service::Routes::new(service);
    comms_runtime::grpc::serve::<CallsServiceServer<grpc::CallsGrpc>>(listener, routes, shutdown)
        .await
}
