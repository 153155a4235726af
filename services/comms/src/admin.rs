//! The small HTTP listener of the gRPC-only services: `/health` for probes, `/metrics` for
//! Prometheus. (The edge serves both on its own port.)

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
            get(|| async { comms_telemetry::prometheus().render() }),
        );
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.wait())
        .await?;
    Ok(())
}
