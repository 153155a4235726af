//! Serving a gRPC service the fleet's way: gRPC health and reflection (v1 and v1alpha) beside it,
//! not serving once shutdown begins, then draining in-flight calls.

use std::time::Duration;

use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::server::NamedService;
use tonic::service::Routes;

use crate::Shutdown;

/// How long to keep answering "not serving" before refusing connections, so load balancers and
/// kubelets see the change before the listener closes.
pub const NOT_READY_GRACE: Duration = Duration::from_millis(500);

/// Serves `routes` (one service, named by `S`) on `listener` until `shutdown`.
pub async fn serve<S: NamedService>(
    listener: TcpListener,
    routes: Routes,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter
        .set_service_status(S::NAME, tonic_health::ServingStatus::Serving)
        .await;
    reporter
        .set_service_status("", tonic_health::ServingStatus::Serving)
        .await;
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(comms_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    // v1 for current clients, v1alpha for grpcurl and Python's grpcio-reflection.
    let reflection_v1 = reflection().build_v1()?;
    let reflection_v1alpha = reflection().build_v1alpha()?;
    let routes = routes
        .add_service(health)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha);

    let draining = async move {
        shutdown.wait().await;
        reporter
            .set_service_status(S::NAME, tonic_health::ServingStatus::NotServing)
            .await;
        reporter
            .set_service_status("", tonic_health::ServingStatus::NotServing)
            .await;
        tokio::time::sleep(NOT_READY_GRACE).await;
    };
    tonic::transport::Server::builder()
        .add_routes(routes)
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), draining)
        .await?;
    Ok(())
}
