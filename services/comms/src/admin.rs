//! The admin listener every `comms serve` (and `comms dev`) runs on `ADMIN_PORT`: `/health` for
//! probes, `/metrics` for Prometheus. Metrics are never on the edge's public port: their labels
//! name organizations and campaigns.

use axum::Router;
use axum::routing::get;
use comms_runtime::Shutdown;
use tokio::net::TcpListener;

pub async fn serve(listener: TcpListener, shutdown: Shutdown) -> anyhow::Result<()> {
    let draining = shutdown.clone();
    let app = Router::new()
        .route(
            "/health",
            get(move || {
                let draining = draining.is_triggered();
                async move {
                    if draining {
                        (http::StatusCode::SERVICE_UNAVAILABLE, "draining")
                    } else {
                        (http::StatusCode::OK, "ok")
                    }
                }
            }),
        )
        .route(
            "/metrics",
            get(|| async {
                (
                    [(http::header::CONTENT_TYPE, "text/plain; version=0.0.4")],
                    comms_telemetry::prometheus().render(),
                )
            }),
        );
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.wait())
        .await?;
    Ok(())
}
