//! Liveness and dependency checks. (Metrics are on the admin port: `comms::admin`.)

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::json;

use crate::state::AppState;

const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

pub(crate) fn report(
    ok: bool,
    component: &str,
    detail: Option<String>,
) -> (StatusCode, axum::Json<serde_json::Value>) {
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let mut body =
        json!({ "status": if ok { "ok" } else { "unavailable" }, "component": component });
    if let Some(detail) = detail {
        body["detail"] = json!(detail);
    }
    (status, axum::Json(body))
}

/// The process is up; 503 once it is draining for shutdown, so it leaves the load balancer first.
#[utoipa::path(get, path = "/health", tag = "health", security(()), responses((status = 200), (status = 503)))]
pub async fn live(State(state): State<AppState>) -> impl IntoResponse {
    let draining = state.shutdown.is_triggered();
    report(
        !draining,
        "edge",
        draining.then(|| "shutting down".to_owned()),
    )
}

/// PostgreSQL answers a query.
#[utoipa::path(get, path = "/health/db", tag = "health", security(()), responses((status = 200), (status = 503)))]
pub async fn db(State(state): State<AppState>) -> impl IntoResponse {
    let probe = tokio::time::timeout(
        PROBE_TIMEOUT,
        sqlx::query("SELECT 1").execute(&state.probes.db),
    )
    .await;
    match probe {
        Ok(Ok(_)) => report(true, "postgresql", None),
        Ok(Err(error)) => report(false, "postgresql", Some(error.to_string())),
        Err(_) => report(false, "postgresql", Some("timed out".into())),
    }
}

/// RabbitMQ accepts a connection (kept open and reused between probes).
#[utoipa::path(get, path = "/health/rabbitmq", tag = "health", security(()), responses((status = 200), (status = 503)))]
pub async fn rabbitmq(State(state): State<AppState>) -> impl IntoResponse {
    let mut connection = state.probes.rabbitmq.lock().await;
    if connection.as_ref().is_some_and(|c| c.status().connected()) {
        return report(true, "rabbitmq", None);
    }
    match tokio::time::timeout(
        PROBE_TIMEOUT,
        comms_bus::connect(&state.probes.rabbitmq_url),
    )
    .await
    {
        Ok(Ok(fresh)) => {
            *connection = Some(fresh);
            report(true, "rabbitmq", None)
        }
        Ok(Err(error)) => report(false, "rabbitmq", Some(error.to_string())),
        Err(_) => report(false, "rabbitmq", Some("timed out".into())),
    }
}
