//! What the edge's handlers share: authentication, gRPC clients of the services, health probes.

use std::sync::Arc;
use std::time::Duration;

use comms_proto::v1::agents_service_client::AgentsServiceClient;
use comms_proto::v1::analytics_service_client::AnalyticsServiceClient;
use comms_proto::v1::calls_service_client::CallsServiceClient;
use comms_proto::v1::campaigns_service_client::CampaignsServiceClient;
use comms_proto::v1::messages_service_client::MessagesServiceClient;
use comms_proto::v1::transcription_service_client::TranscriptionServiceClient;
use comms_runtime::Shutdown;
use comms_runtime::client::Channel;
use sqlx::PgPool;
use tokio::sync::Mutex;

#[derive(Clone)]
pub struct AppState {
    pub auth: Arc<crate::auth::Auth>,
    pub request_timeout: Duration,
    pub cors_origins: Vec<http::HeaderValue>,
    pub trust_forwarded_for: bool,
    pub calls: CallsServiceClient<Channel>,
    pub messages: MessagesServiceClient<Channel>,
    pub analytics: AnalyticsServiceClient<Channel>,
    pub agents: AgentsServiceClient<Channel>,
    pub campaigns: CampaignsServiceClient<Channel>,
    pub transcription: TranscriptionServiceClient<Channel>,
    pub probes: Arc<Probes>,
    /// The live feed's reader of the log, shared by every socket.
    pub live: Arc<crate::live::Live>,
    pub carriers: Arc<comms_runtime::carriers::Accounts>,
    /// Fetches recordings from carriers to stream them on: no limit on the whole download (a
    /// long call's audio takes a while), only on connecting and on each read.
    pub media: reqwest::Client,
    pub shutdown: Shutdown,
}

/// Lazily connected checks of the fleet's database and broker for `/health/*`.
pub struct Probes {
    pub db: PgPool,
    /// Asks carriers' APIs whether they answer.
    pub http: reqwest::Client,
    pub rabbitmq_url: String,
    pub rabbitmq: Mutex<Option<lapin::Connection>>,
}
