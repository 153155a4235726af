//! Spans reach an OTLP collector: a fake one on loopback receives what `init_with` exports, in
//! the caller's trace and under the service's name.

use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use tokio::sync::mpsc;

struct Collector(mpsc::UnboundedSender<ExportTraceServiceRequest>);

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let _ = self.0.send(request.into_inner());
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_are_exported_in_the_callers_trace() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (sender, mut received) = mpsc::unbounded_channel();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(Collector(sender)))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );

    let guard = comms_telemetry::init_with(comms_telemetry::Settings {
        service_name: "comms-otlp-test".into(),
        default_log_filter: "warn".into(),
        otlp_endpoint: Some(format!("http://{addr}")),
        logs_to_stderr: false,
    })
    .unwrap();
    let caller = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let span = tracing::info_span!("handle.request");
    comms_telemetry::continue_trace(&span, Some(caller));
    let propagated = span.in_scope(comms_telemetry::current_traceparent).unwrap();
    drop(span);
    // Shutting down flushes the batch exporter, as `comms` does at the end of `main`.
    guard.shutdown();

    let request = tokio::time::timeout(Duration::from_secs(10), received.recv())
        .await
        .expect("a span was exported")
        .unwrap();
    let resource = request.resource_spans[0].resource.as_ref().unwrap();
    let service = resource
        .attributes
        .iter()
        .find(|kv| kv.key == "service.name")
        .unwrap();
    assert_eq!(
        service.value.as_ref().unwrap().value,
        Some(Value::StringValue("comms-otlp-test".into()))
    );
    let spans: Vec<_> = request
        .resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .flat_map(|s| &s.spans)
        .collect();
    let exported = spans
        .iter()
        .find(|s| s.name == "handle.request")
        .expect("our span");
    let trace_id: String = exported
        .trace_id
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        trace_id, "4bf92f3577b34da6a3ce929d0e0e4736",
        "the caller's trace continues"
    );
    assert_eq!(
        comms_telemetry::trace_id_of(&propagated),
        Some(trace_id.as_str())
    );
}
