//! What the edge's handlers share: authentication, gRPC clients of the services, health probes.

use std::sync::Arc;
use std::time::Duration;

use comms_proto::v1::agents_service_client::AgentsServiceClient;
use comms_proto::v1::analytics_service_client::AnalyticsServiceClient;
use comms_proto::v1::calls_service_client::CallsServiceClient;
use comms_runtime::Shutdown;
use sqlx::PgPool;
use tokio::sync::Mutex;
use tonic::transport::{Channel, Endpoint};

#[derive(Clone)]
pub struct AppState {
    pub auth: Arc<crate::auth::Auth>,
    pub request_timeout: Duration,
    pub cors_origins: Vec<http::HeaderValue>,
    pub trust_forwarded_for: bool,
    pub calls: CallsServiceClient<Channel>,
    pub analytics: AnalyticsServiceClient<Channel>,
    pub agents: AgentsServiceClient<Channel>,
    pub probes: Arc<Probes>,
    pub shutdown: Shutdown,
}

/// Lazily connected checks of the fleet's database and broker for `/health/*`.
pub struct Probes {
    pub db: PgPool,
    pub rabbitmq_url: String,
    pub rabbitmq: Mutex<Option<lapin::Connection>>,
}

pub fn channel(url: &str) -> anyhow::Result<Channel> {
    Ok(Endpoint::from_shared(url.to_owned())?
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(10))
        .connect_lazy())
}
