//! The edge: REST under `/api/communications`, translated to the services' gRPC. Errors are
//! problem+json from the one error table; OpenAPI 3.1 at `/openapi.json`, Swagger UI at `/docs`.

mod auth;
mod carriers;
mod console;
pub mod contacts_csv; // public for its fuzz target (fuzz/)
mod hardening;
mod json;
pub mod live;
pub mod openapi;
mod problem;
mod query_parameters;
mod routes;
mod state;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use comms_auth::AuthConfig;
use comms_auth::secrets::Sealer;
use comms_eventstore::EventStore;
use comms_proto::{ApiError, ErrorKind};
use comms_runtime::{ConfigError, Env, Shutdown};
use tokio::net::TcpListener;
use tracing::Instrument as _;
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use utoipa_swagger_ui::SwaggerUi;

use crate::auth::Auth;
use crate::problem::ProblemResponse;
use crate::state::{AppState, Probes};

pub use crate::auth::accounts::{Accounts, NewUser};

/// The first administrator, created on start when absent (`COMMS_ADMIN_*`).
#[derive(Clone)]
pub struct AdminBootstrap {
    pub org_id: String,
    pub email: String,
    pub password: String,
}

impl std::fmt::Debug for AdminBootstrap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "AdminBootstrap({} in {}, password redacted)",
            self.email, self.org_id
        )
    }
}

impl AdminBootstrap {
    /// From `COMMS_ADMIN_EMAIL`, `COMMS_ADMIN_PASSWORD` and `COMMS_ADMIN_ORG` (default
    /// `default`); none when the email is unset.
    pub fn from_env(env: &Env) -> Result<Option<Self>, ConfigError> {
        let Some(email) = env.get("COMMS_ADMIN_EMAIL").filter(|e| !e.is_empty()) else {
            return Ok(None);
        };
        let invalid = |variable: &str, reason: String| ConfigError {
            variable: variable.to_owned(),
            value: if variable.ends_with("PASSWORD") {
                "<redacted>".into()
            } else {
                env.string(variable, "")
            },
            reason,
        };
        auth::accounts::check_email(email).map_err(|r| invalid("COMMS_ADMIN_EMAIL", r))?;
        let password = env.string("COMMS_ADMIN_PASSWORD", "");
        auth::accounts::check_password(&password)
            .map_err(|r| invalid("COMMS_ADMIN_PASSWORD", r))?;
        let org_id = env.string("COMMS_ADMIN_ORG", "default");
        if !comms_auth::identity::valid_id(&org_id) {
            return Err(invalid(
                "COMMS_ADMIN_ORG",
                "1-128 letters, digits or _-.:@".into(),
            ));
        }
        Ok(Some(Self {
            org_id,
            email: email.to_owned(),
            password,
        }))
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub common: comms_runtime::config::Common,
    pub port: u16,
    pub calls_url: String,
    pub analytics_url: String,
    pub agents_url: String,
    pub campaigns_url: String,
    pub transcription_url: String,
    pub auth: AuthConfig,
    pub admin: Option<AdminBootstrap>,
    /// bcrypt cost of new password hashes (12; lower only in tests).
    pub bcrypt_cost: u32,
    /// Seals provider credentials; without it they cannot be stored.
    pub encryption_key: Option<Arc<Sealer>>,
    /// Longest a request may take before it is answered 504.
    pub request_timeout: Duration,
    /// Requests per minute per organization (also the burst).
    pub rate_limit_per_minute: u32,
    /// Origins allowed to call from browsers; none means same-origin only.
    pub cors_origins: Vec<http::HeaderValue>,
    /// Take the client's address from the last `X-Forwarded-For` entry (behind a proxy).
    pub trust_forwarded_for: bool,
    /// Where carriers call back and the keys their signatures use.
    pub carriers: comms_runtime::carriers::Accounts,
    pub live: live::LiveConfig,
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let encryption_key = Sealer::from_env(env)?;
        let bcrypt_cost: u32 = env.parse("BCRYPT_COST", 12)?;
        if !(4..=31).contains(&bcrypt_cost) {
            return Err(ConfigError {
                variable: "BCRYPT_COST".into(),
                value: bcrypt_cost.to_string(),
                reason: "must be 4-31 (12 in production)".into(),
            });
        }
        let cors_origins = env
            .string("CORS_ALLOWED_ORIGINS", "")
            .split(',')
            .map(str::trim)
            .filter(|o| !o.is_empty())
            .map(|origin| {
                let valid = (origin.starts_with("https://") || origin.starts_with("http://"))
                    && !origin.ends_with('/');
                http::HeaderValue::from_str(origin)
                    .ok()
                    .filter(|_| valid)
                    .ok_or_else(|| ConfigError {
                        variable: "CORS_ALLOWED_ORIGINS".into(),
                        value: origin.to_owned(),
                        reason: "expected comma-separated origins like https://app.example.com"
                            .into(),
                    })
            })
            .collect::<Result<_, _>>()?;
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
            agents_url: env.url(
                "AGENTS_GRPC_URL",
                "http://127.0.0.1:50053",
                &["http", "https"],
            )?,
            campaigns_url: env.url(
                "CAMPAIGNS_GRPC_URL",
                "http://127.0.0.1:50054",
                &["http", "https"],
            )?,
            transcription_url: env.url(
                "TRANSCRIPTION_GRPC_URL",
                "http://127.0.0.1:50055",
                &["http", "https"],
            )?,
            auth: AuthConfig::from_env(env)?.serving_outside_requests(env)?,
            admin: AdminBootstrap::from_env(env)?,
            bcrypt_cost,
            encryption_key,
            request_timeout: Duration::from_secs(env.parse("REQUEST_TIMEOUT_SECONDS", 30)?),
            rate_limit_per_minute: env.parse("RATE_LIMIT_PER_MINUTE", 6000)?,
            cors_origins,
            trust_forwarded_for: env.bool("TRUST_X_FORWARDED_FOR", false)?,
            carriers: carriers::accounts_from_env(env)?,
            live: live::LiveConfig::from_env(env)?,
        })
    }
}

/// The route table: every REST route with its OpenAPI operation, so none goes undocumented.
pub fn api() -> OpenApiRouter<AppState> {
    use routes::{
        agents, analytics, api_keys, auth, calls, campaigns, contacts, credentials, health,
        ivr_flows, knowledge, live, messages, numbers, recordings, supervision, teams, transcripts,
        users,
    };
    // CSV imports take larger bodies than the 64 KiB every other endpoint allows.
    let imports = OpenApiRouter::new()
        .routes(routes!(contacts::import_contacts))
        .routes(routes!(contacts::import_into_campaign))
        .layer(DefaultBodyLimit::max(contacts::MAX_CSV_BYTES));
    let flows = OpenApiRouter::new()
        .routes(routes!(ivr_flows::list, ivr_flows::create))
        .routes(routes!(
            ivr_flows::get,
            ivr_flows::update,
            ivr_flows::delete
        ))
        .routes(routes!(ivr_flows::validate))
        .routes(routes!(ivr_flows::publish))
        .routes(routes!(ivr_flows::version))
        .routes(routes!(ivr_flows::simulate))
        .routes(routes!(ivr_flows::report))
        .layer(DefaultBodyLimit::max(ivr_flows::MAX_FLOW_BYTES));
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(calls::list, calls::create))
        .routes(routes!(calls::get, calls::update, calls::end))
        .routes(routes!(
            recordings::get,
            recordings::control,
            recordings::delete
        ))
        .routes(routes!(transcripts::get, transcripts::delete))
        .routes(routes!(transcripts::retention, transcripts::set_retention))
        .routes(routes!(transcripts::summary))
        .routes(routes!(transcripts::assist))
        .routes(routes!(transcripts::search))
        .routes(routes!(transcripts::sentiments))
        .routes(routes!(knowledge::list, knowledge::create))
        .routes(routes!(
            knowledge::get,
            knowledge::update,
            knowledge::delete
        ))
        .routes(routes!(numbers::list, numbers::assign))
        .routes(routes!(numbers::get, numbers::update, numbers::release))
        .routes(routes!(numbers::simulate_call))
        .routes(routes!(agents::list, agents::create))
        .routes(routes!(agents::get, agents::update))
        .routes(routes!(agents::set_status))
        .routes(routes!(supervision::force_status))
        .routes(routes!(supervision::monitor_call))
        .routes(routes!(supervision::pull_call))
        .routes(routes!(supervision::reroute_call))
        .routes(routes!(agents::softphone_token))
        .routes(routes!(agents::my_softphone_token))
        .routes(routes!(teams::list, teams::create))
        .routes(routes!(teams::get, teams::update))
        .routes(routes!(teams::add_member))
        .routes(routes!(teams::remove_member))
        .routes(routes!(campaigns::list, campaigns::create))
        .routes(routes!(campaigns::get, campaigns::update))
        .routes(routes!(campaigns::start))
        .routes(routes!(campaigns::pause))
        .routes(routes!(campaigns::resume))
        .routes(routes!(campaigns::cancel))
        .routes(routes!(campaigns::list_contacts, campaigns::add_contacts))
        .routes(routes!(campaigns::preview))
        .routes(routes!(campaigns::accept_preview))
        .routes(routes!(campaigns::skip_preview))
        .routes(routes!(contacts::list, contacts::upsert))
        .routes(routes!(contacts::get))
        .routes(routes!(
            contacts::list_do_not_call,
            contacts::add_do_not_call
        ))
        .routes(routes!(contacts::remove_do_not_call))
        .routes(routes!(messages::send))
        .routes(routes!(messages::get))
        .routes(routes!(messages::list_conversations))
        .routes(routes!(messages::get_conversation))
        .routes(routes!(messages::list_messages))
        .routes(routes!(
            messages::get_preferences,
            messages::set_preferences
        ))
        .merge(imports)
        .merge(flows)
        .routes(routes!(analytics::dashboard))
        .routes(routes!(analytics::agents))
        .routes(routes!(analytics::campaigns))
        .routes(routes!(analytics::calls))
        .routes(routes!(analytics::queue_measures::queues))
        .routes(routes!(live::feed))
        .routes(routes!(live::ticket))
        .routes(routes!(auth::login))
        .routes(routes!(auth::refresh))
        .routes(routes!(auth::logout))
        .routes(routes!(auth::me))
        .routes(routes!(auth::jwks))
        .routes(routes!(users::list, users::create))
        .routes(routes!(users::get))
        .routes(routes!(credentials::list))
        .routes(routes!(credentials::put_twilio, credentials::remove_twilio))
        .routes(routes!(credentials::put_vonage, credentials::remove_vonage))
        .routes(routes!(
            credentials::put_deepgram,
            credentials::remove_deepgram
        ))
        .routes(routes!(credentials::put_openai, credentials::remove_openai))
        .routes(routes!(
            credentials::put_anthropic,
            credentials::remove_anthropic
        ))
        // Providers we do not know answer 404 naming those we do; undocumented.
        .route(
            "/api/communications/credentials/{provider}",
            axum::routing::put(credentials::put_unknown).delete(credentials::remove_unknown),
        )
        .routes(routes!(api_keys::list, api_keys::create))
        .routes(routes!(api_keys::revoke))
        .routes(routes!(health::live))
        .routes(routes!(health::db))
        .routes(routes!(health::rabbitmq))
        // Carriers' callbacks, verified by their signatures rather than a caller's credentials.
        .routes(routes!(carriers::twilio::status))
        .routes(routes!(carriers::twilio::agent_status))
        .routes(routes!(carriers::twilio::supervisor_status))
        .routes(routes!(carriers::twilio::machine))
        .routes(routes!(carriers::twilio::answer))
        .routes(routes!(carriers::twilio::recording))
        .routes(routes!(carriers::twilio::ivr))
        .routes(routes!(carriers::vonage::event))
        .routes(routes!(carriers::vonage::agent_event))
        .routes(routes!(carriers::vonage::supervisor_event))
        .routes(routes!(carriers::vonage::audio_event))
        .routes(routes!(carriers::vonage::answer))
        .routes(routes!(carriers::vonage::ivr))
        .routes(routes!(carriers::vonage::recording))
        .routes(routes!(carriers::twilio::inbound_voice))
        .routes(routes!(carriers::twilio::inbound_status))
        .routes(routes!(carriers::vonage::inbound_answer))
        .routes(routes!(carriers::vonage::inbound_event))
        .routes(routes!(carriers::messages::twilio_inbound))
        .routes(routes!(carriers::messages::twilio_status))
        .routes(routes!(
            carriers::messages::vonage_inbound,
            carriers::messages::vonage_inbound_get
        ))
        .routes(routes!(
            carriers::messages::vonage_status,
            carriers::messages::vonage_status_get
        ))
        .routes(routes!(carriers::health::twilio))
        .routes(routes!(carriers::health::vonage))
}

/// The OpenAPI document of [`api`], as a standalone edge serves it.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    let mut document = api().split_for_parts().1;
    openapi::finish(&mut document);
    document
}

pub fn router(state: AppState) -> Router {
    let (api, mut document) = api().split_for_parts();
    openapi::finish(&mut document);
    let config = &state.auth.config;
    if config.platform_mode {
        document = openapi::for_platform_mode(document, config.gateway.signed());
    }
    let declared = query_parameters::Declared::of(&document);
    let cors = hardening::cors(&state.cors_origins);
    let timeout = state.request_timeout;
    let mut app = api
        .merge(SwaggerUi::new("/docs").url("/openapi.json", document))
        .merge(console::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn(move |request, next| {
            query_parameters::refuse_undeclared(declared.clone(), request, next)
        }));
    if config.platform_mode && config.gateway.signed() {
        app = app.layer(axum::middleware::from_fn(auth::digest_body));
    }
    app.layer(DefaultBodyLimit::max(json::MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(move |request, next| {
            hardening::timeout(timeout, request, next)
        }))
        .layer(axum::middleware::from_fn(hardening::security_headers))
        .layer(cors)
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            hardening::panic_response,
        ))
        .layer(axum::middleware::from_fn(observe))
        .with_state(state)
}

async fn not_found() -> ProblemResponse {
    ApiError::new(ErrorKind::NotFound, "no such endpoint; see /docs").into()
}

async fn method_not_allowed() -> Response {
    problem::method_not_allowed()
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

/// Serves REST on `listener` until `shutdown`; in-flight requests get the drain timeout to finish.
pub async fn run(config: Config, listener: TcpListener, shutdown: Shutdown) -> anyhow::Result<()> {
    comms_telemetry::prometheus();
    let db = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(Duration::from_secs(2))
        .connect_lazy(&config.common.database_url)?;
    let pool = comms_runtime::db::connect(
        &config.common.database_url,
        config.common.database_pool_size,
    )
    .await?;
    let store = EventStore::new(pool);
    let auth = Arc::new(Auth::start(&config, store.clone()).await?);
    let live = live::Live::start(
        store,
        config.live.clone(),
        shutdown.clone(),
        config.common.drain,
    )
    .await?;
    let state = AppState {
        auth,
        request_timeout: config.request_timeout,
        cors_origins: config.cors_origins.clone(),
        trust_forwarded_for: config.trust_forwarded_for,
        calls: comms_proto::v1::calls_service_client::CallsServiceClient::new(
            comms_runtime::client::channel(&config.calls_url)?,
        ),
        // Served by the calls service, on its port.
        messages: comms_proto::v1::messages_service_client::MessagesServiceClient::new(
            comms_runtime::client::channel(&config.calls_url)?,
        ),
        analytics: comms_proto::v1::analytics_service_client::AnalyticsServiceClient::new(
            comms_runtime::client::channel(&config.analytics_url)?,
        ),
        agents: comms_proto::v1::agents_service_client::AgentsServiceClient::new(
            comms_runtime::client::channel(&config.agents_url)?,
        ),
        campaigns: comms_proto::v1::campaigns_service_client::CampaignsServiceClient::new(
            comms_runtime::client::channel(&config.campaigns_url)?,
        ),
        transcription:
            comms_proto::v1::transcription_service_client::TranscriptionServiceClient::new(
                comms_runtime::client::channel(&config.transcription_url)?,
            ),
        probes: Arc::new(Probes {
            db,
            http: comms_runtime::http::client(Duration::from_secs(5)),
            rabbitmq_url: config.common.rabbitmq_url.clone(),
            rabbitmq: Default::default(),
        }),
        live,
        carriers: Arc::new(config.carriers.clone()),
        media: comms_runtime::http::builder()
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(Duration::from_secs(30))
            .build()
            .expect("an HTTP client with rustls builds"),
        shutdown: shutdown.clone(),
    };
    if config.carriers.twilio.is_some() || config.carriers.vonage.is_some() {
        let (http, carriers) = (state.probes.http.clone(), config.carriers.clone());
        tokio::spawn(carriers::health::watch(http, carriers, shutdown.clone()));
    }
    tracing::info!(addr = %listener.local_addr()?, "edge listening");
    let closing = shutdown.clone().closing(config.common.drain);
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        // Answer /health with 503 a moment before closing, so the load balancer stops routing here.
        closing.await;
    });
    let server = std::pin::pin!(server.into_future());
    tokio::select! {
        result = server => Ok(result?),
        () = shutdown.drained(config.common.drain) => {
            tracing::warn!("drain timeout passed; closing remaining connections");
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        let pem = comms_auth::PrivateKey::generate().to_pem();
        let mut env = Env::from_pairs(pairs.iter().copied());
        env.set("JWT_PRIVATE_KEY", pem);
        env
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let config = Config::from_env(&env(&[])).unwrap();
        assert_eq!(config.bcrypt_cost, 12);
        assert_eq!(config.auth.tokens.lifetimes.access.as_secs(), 900);
        assert_eq!(
            config.auth.tokens.lifetimes.refresh.as_secs(),
            7 * 24 * 3600
        );
        assert!(!config.auth.platform_mode);
        assert!(
            config.encryption_key.is_none()
                && config.admin.is_none()
                && config.cors_origins.is_empty()
        );
        assert_eq!(config.request_timeout.as_secs(), 30);
    }

    #[test]
    fn bad_security_settings_name_the_variable_and_hide_secrets() {
        let error = |pairs: &[(&str, &str)]| Config::from_env(&env(pairs)).unwrap_err();
        let e = error(&[("COMMS_ENCRYPTION_KEY", "too-short-secret")]);
        assert_eq!(e.variable, "COMMS_ENCRYPTION_KEY");
        assert!(!e.to_string().contains("too-short-secret"), "{e}");
        let e = error(&[
            ("COMMS_ADMIN_EMAIL", "root@example.com"),
            ("COMMS_ADMIN_PASSWORD", "hunter2"),
        ]);
        assert_eq!(e.variable, "COMMS_ADMIN_PASSWORD");
        assert!(!e.to_string().contains("hunter2"), "{e}");
        assert_eq!(error(&[("BCRYPT_COST", "3")]).variable, "BCRYPT_COST");
        assert_eq!(
            error(&[("CORS_ALLOWED_ORIGINS", "app.example.com")]).variable,
            "CORS_ALLOWED_ORIGINS"
        );
        // An edge believing unsigned identity headers is refused unless trust is explicit.
        assert_eq!(
            error(&[("PLATFORM_MODE", "true")]).variable,
            "GATEWAY_SHARED_SECRET"
        );
        let trusted = [
            ("PLATFORM_MODE", "true"),
            ("PLATFORM_TRUST_UNSIGNED_HEADERS", "true"),
        ];
        assert!(Config::from_env(&env(&trusted)).is_ok());
    }

    #[test]
    fn a_half_set_carrier_account_stops_start_up_naming_the_variable() {
        let token = ("TWILIO_AUTH_TOKEN", "f00dbabe0123456789abcdef01234567");
        let e = Config::from_env(&env(&[token])).unwrap_err();
        assert_eq!(e.variable, "TWILIO_ACCOUNT_SID");
        let sid = ("TWILIO_ACCOUNT_SID", "AC0123456789abcdef0123456789abcdef");
        let number = ("TWILIO_PHONE_NUMBER", "+14155550100");
        let e = Config::from_env(&env(&[token, sid, number])).unwrap_err();
        assert_eq!(e.variable, "PUBLIC_BASE_URL");
        assert!(!e.to_string().contains("f00dbabe"), "{e}");
        let base = ("PUBLIC_BASE_URL", "https://comms.example.com");
        assert!(Config::from_env(&env(&[token, sid, number, base])).is_ok());
    }
}
