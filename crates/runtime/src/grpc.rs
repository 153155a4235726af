//! Serving a gRPC service the fleet's way: gRPC health and reflection (v1 and v1alpha) beside it,
//! not serving once shutdown begins, then draining in-flight calls up to the drain timeout.

use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::server::NamedService;
use tonic::service::Routes;

use std::time::Duration;

use crate::Shutdown;
use crate::shutdown::Drain;

const STREAM_END_MARGIN: Duration = Duration::from_secs(1);

/// Serves `routes` (one service, named by `S`) on `listener` until `shutdown`; calls and streams
/// still open when the drain is over (and [`STREAM_END_MARGIN`] after) are cut off.
pub async fn serve<S: NamedService>(
    listener: TcpListener,
    routes: Routes,
    shutdown: Shutdown,
    drain: Drain,
) -> anyhow::Result<()> {
    serve_named(listener, routes, &[S::NAME], shutdown, drain).await
}

/// [`serve`] for a port that serves several services (`names`).
pub async fn serve_named(
    listener: TcpListener,
    routes: Routes,
    names: &'static [&'static str],
    shutdown: Shutdown,
    drain: Drain,
) -> anyhow::Result<()> {
    let (reporter, health) = tonic_health::server::health_reporter();
    for name in names {
        reporter
            .set_service_status(*name, tonic_health::ServingStatus::Serving)
            .await;
    }
    reporter
        .set_service_status("", tonic_health::ServingStatus::Serving)
        .await;
    // Reflection lists what this port serves, not every service the descriptors describe.
    let reflection = || {
        let builder = names.iter().fold(
            tonic_reflection::server::Builder::configure(),
            |builder, name| builder.with_service_name(*name),
        );
        builder
            .register_encoded_file_descriptor_set(comms_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .with_service_name(tonic_health::pb::health_server::SERVICE_NAME)
            .with_service_name(tonic_reflection::pb::v1::server_reflection_server::SERVICE_NAME)
            .with_service_name(
                tonic_reflection::pb::v1alpha::server_reflection_server::SERVICE_NAME,
            )
    };
    // v1 for current clients, v1alpha for grpcurl and Python's grpcio-reflection.
    let reflection_v1 = reflection().build_v1()?;
    let reflection_v1alpha = reflection().build_v1alpha()?;
    let routes = routes
        .add_service(health)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha);

    // Streams are told to end when the drain is over (`Shutdown::after_drain`); they get a
    // moment to send their final status before connections are cut.
    let cut = shutdown.clone();
    let drained = async move {
        cut.drained(drain).await;
        tokio::time::sleep(STREAM_END_MARGIN).await;
    };
    let closing = shutdown.clone().closing(drain);
    let draining = async move {
        shutdown.wait().await;
        for name in names {
            reporter
                .set_service_status(*name, tonic_health::ServingStatus::NotServing)
                .await;
        }
        reporter
            .set_service_status("", tonic_health::ServingStatus::NotServing)
            .await;
        closing.await;
    };
    let server = tonic::transport::Server::builder()
        .add_routes(routes)
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), draining);
    tokio::select! {
        result = server => Ok(result?),
        () = drained => {
            tracing::warn!("drain timeout passed; closing remaining calls");
            Ok(())
        }
    }
}
