//! Whether each configured carrier answers, with the fleet's credentials: `/health/twilio`,
//! `/health/vonage`, and `comms_carrier_up{carrier}` in `/metrics`, refreshed every minute and
//! at each probe.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use comms_runtime::Shutdown;
use comms_runtime::carriers::{TwilioConfig, VonageConfig};

use comms_runtime::carriers::Accounts;

use crate::routes::health::report;
use crate::state::AppState;

const EVERY: Duration = Duration::from_secs(60);

/// Twilio reachable and the account's credentials accepted (`GET /2010-04-01/Accounts/{sid}.json`);
/// 404 when the fleet has no Twilio account.
#[utoipa::path(get, path = "/health/twilio", tag = "health", security(()), responses(
    (status = 200, description = "Twilio answers and accepts the credentials"),
    (status = 404, description = "No Twilio account is configured"),
    (status = 503, description = "Twilio is unreachable or refuses the credentials"),
))]
pub async fn twilio(State(state): State<AppState>) -> impl IntoResponse {
    let Some(config) = &state.carriers.twilio else {
        let (_, body) = report(false, "twilio", Some("not configured".into()));
        return (StatusCode::NOT_FOUND, body);
    };
    let probed = probe_twilio(&state.probes.http, config).await;
    report(probed.is_ok(), "twilio", probed.err())
}

/// Asks Twilio for the account itself, which needs valid credentials and nothing else.
pub async fn probe_twilio(http: &reqwest::Client, config: &TwilioConfig) -> Result<(), String> {
    let url = format!(
        "{}/2010-04-01/Accounts/{}.json",
        config.api_url, config.account_sid
    );
    let answer = http
        .get(url)
        .basic_auth(&config.account_sid, Some(&config.auth_token))
        .send()
        .await;
    let result = match answer {
        Ok(response) if response.status().is_success() => Ok(()),
        Ok(response) if matches!(response.status().as_u16(), 401 | 403) => Err(format!(
            "Twilio refuses the credentials of {} (HTTP {})",
            config.account_sid,
            response.status()
        )),
        Ok(response) => Err(format!("Twilio answered HTTP {}", response.status())),
        Err(error) => Err(format!("Twilio is unreachable: {}", error.without_url())),
    };
    up("twilio", &result);
    result
}

/// The Voice application reachable and its key accepted (`GET /v1/calls?page_size=1`); 404 when
/// the fleet has no Vonage application.
#[utoipa::path(get, path = "/health/vonage", tag = "health", security(()), responses(
    (status = 200, description = "Vonage answers and accepts the application's JWT"),
    (status = 404, description = "No Vonage application is configured"),
    (status = 503, description = "Vonage is unreachable or refuses the application's JWT"),
))]
pub async fn vonage(State(state): State<AppState>) -> impl IntoResponse {
    let Some(config) = &state.carriers.vonage else {
        let (_, body) = report(false, "vonage", Some("not configured".into()));
        return (StatusCode::NOT_FOUND, body);
    };
    let probed = probe_vonage(&state.probes.http, config).await;
    report(probed.is_ok(), "vonage", probed.err())
}

/// Lists one call, which needs a valid application JWT and nothing else.
pub async fn probe_vonage(http: &reqwest::Client, config: &VonageConfig) -> Result<(), String> {
    let result = async {
        let key = comms_auth::carriers::vonage_signing_key(config).map_err(|e| e.to_string())?;
        let token =
            comms_auth::carriers::vonage_application_token(&config.application_id, &key, 60)
                .map_err(|e| format!("the application's JWT cannot be signed: {e}"))?;
        let answer = http
            .get(format!("{}/v1/calls?page_size=1", config.api_url))
            .bearer_auth(token)
            .send()
            .await;
        match answer {
            Ok(response) if response.status().is_success() => Ok(()),
            Ok(response) if matches!(response.status().as_u16(), 401 | 403) => Err(format!(
                "Vonage refuses the JWT of application {} (HTTP {})",
                config.application_id,
                response.status()
            )),
            Ok(response) => Err(format!("Vonage answered HTTP {}", response.status())),
            Err(error) => Err(format!("Vonage is unreachable: {}", error.without_url())),
        }
    }
    .await;
    up("vonage", &result);
    result
}

fn up(carrier: &'static str, result: &Result<(), String>) {
    let value = if result.is_ok() { 1.0 } else { 0.0 };
    metrics::gauge!("comms_carrier_up", "carrier" => carrier).set(value);
}

/// Probes each configured carrier every minute until `shutdown`, so `/metrics` says how they are.
pub async fn watch(http: reqwest::Client, carriers: Accounts, shutdown: Shutdown) {
    let mut stopped = std::pin::pin!(shutdown.wait());
    loop {
        if let Some(twilio) = &carriers.twilio
            && let Err(problem) = probe_twilio(&http, twilio).await
        {
            tracing::warn!(%problem, "Twilio is not healthy");
        }
        if let Some(vonage) = &carriers.vonage
            && let Err(problem) = probe_vonage(&http, vonage).await
        {
            tracing::warn!(%problem, "Vonage is not healthy");
        }
        tokio::select! {
            () = &mut stopped => return,
            () = tokio::time::sleep(EVERY) => {}
        }
    }
}
