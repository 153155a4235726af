//! The edge: REST under `/api/communications`, translated to the services' gRPC. Errors are
//! problem+json from the one error table; OpenAPI 3.1 at `/openapi.json`, Swagger UI at `/docs`.

mod caller;
mod json;
pub mod openapi;
mod problem;
mod routes;
mod state;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use comms_proto::{ApiError, ErrorKind};
use comms_runtime::{ConfigError, Env, Shutdown};
use tokio::net::TcpListener;
use tracing::Instrument as _;
use utoipa::OpenApi as _;
use utoipa_swagger_ui::SwaggerUi;

use crate::problem::ProblemResponse;
use crate::state::{AppState, Probes};

#[derive(Debug, Clone)]
pub struct Config {
    pub common: comms_runtime::config::Common,
    pub port: u16,
    pub calls_url: String,
    pub analytics_url: String,
    /// How long in-flight requests may take to finish once shutdown begins.
    pub drain_timeout: Duration,
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            common: comms_runtime::config::Common::from_env(env)?,
            port: env.parse("PORT", 3018)?,
            calls_url: env.url(
                "CALLS_GRPC_URL",
                "http://127.0.0.1:50051",
                &["http", "https"],
            )?,
            analytics_url: env.url(
                "ANALYTICS_GRPC_URL",
                "http://127.0.0.1:50052",
                &["http", "https"],
            )?,
            drain_timeout: Duration::from_secs(env.parse("DRAIN_TIMEOUT_SECONDS", 20)?),
        })
    }
}

pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route(
            "/calls",
            get(routes::calls::list).post(routes::calls::create),
        )
        .route(
            "/calls/{id}",
            get(routes::calls::get)
                .put(routes::calls::update)
                .delete(routes::calls::end),
        )
        .route("/analytics/dashboard", get(routes::analytics::dashboard));
    Router::new()
        .nest("/api/communications", api)
        .route("/health", get(routes::health::live))
        .route("/health/db", get(routes::health::db))
        .route("/health/rabbitmq", get(routes::health::rabbitmq))
        .route("/metrics", get(routes::health::metrics))
        .merge(SwaggerUi::new("/docs").url("/openapi.json", openapi::ApiDoc::openapi()))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(json::MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(observe))
        .with_state(state)
}

async fn not_found() -> ProblemResponse {
    ApiError::new(ErrorKind::NotFound, "no such endpoint; see /docs").into()
}

async fn method_not_allowed() -> Response {
    let mut response = ProblemResponse(ApiError::new(
        ErrorKind::InvalidArgument,
        "method not allowed on this endpoint; see /docs",
    ))
    .into_response();
    *response.status_mut() = http::StatusCode::METHOD_NOT_ALLOWED;
    response
}

/// One span per request, continuing the caller's `traceparent`, and a latency histogram.
async fn observe(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().as_str().to_owned();
    let span = tracing::info_span!("http", http.method = %method, http.route = %route, http.status = tracing::field::Empty);
    let traceparent = request
        .headers()
        .get("traceparent")
        .and_then(|v| v.to_str().ok());
    comms_telemetry::continue_trace(&span, traceparent);
    let started = Instant::now();
    let response = next.run(request).instrument(span.clone()).await;
    let status = response.status().as_u16().to_string();
    span.record("http.status", status.as_str());
    metrics::histogram!("comms_http_request_duration_seconds", "method" => method, "route" => route, "status" => status)
        .record(started.elapsed().as_secs_f64());
    response
}

/// Serves REST on `listener` until `shutdown`; in-flight requests get `drain_timeout` to finish.
pub async fn run(config: Config, listener: TcpListener, shutdown: Shutdown) -> anyhow::Result<()> {
    comms_telemetry::prometheus();
    let db = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(Duration::from_secs(2))
        .connect_lazy(&config.common.database_url)?;
    let state = AppState {
        calls: comms_proto::v1::calls_service_client::CallsServiceClient::new(state::channel(
            &config.calls_url,
        )?),
        analytics: comms_proto::v1::analytics_service_client::AnalyticsServiceClient::new(
            state::channel(&config.analytics_url)?,
        ),
        probes: Arc::new(Probes {
            db,
            rabbitmq_url: config.common.rabbitmq_url.clone(),
            rabbitmq: Default::default(),
        }),
        shutdown: shutdown.clone(),
    };
    tracing::info!(addr = %listener.local_addr()?, "edge listening");
    let draining = shutdown.clone().wait();
    let server = axum::serve(listener, router(state)).with_graceful_shutdown(async move {
        draining.await;
        // Answer /health with 503 a moment before closing, so the load balancer stops routing here.
        tokio::time::sleep(comms_runtime::grpc::NOT_READY_GRACE).await;
    });
    let drain_timeout = config.drain_timeout;
    let server = std::pin::pin!(server.into_future());
    tokio::select! {
        result = server => Ok(result?),
        () = async { shutdown.wait().await; tokio::time::sleep(drain_timeout + comms_runtime::grpc::NOT_READY_GRACE).await } => {
            tracing::warn!("drain timeout passed; closing remaining connections");
            Ok(())
        }
    }
}
