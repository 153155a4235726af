//! Tracing, OpenTelemetry export, Prometheus metrics, and W3C trace-context propagation across
//! HTTP, gRPC metadata, event metadata and AMQP headers — so one request is one trace.

mod metrics_registry;
mod propagation;

pub use metrics_registry::prometheus;
pub use propagation::{
    GrpcTraceInterceptor, continue_trace, current_traceparent, grpc_traceparent, inject_grpc,
    trace_id_of,
};

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::writer::BoxMakeWriter;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer as _};

/// Flushes pending spans when dropped (or on [`Guard::shutdown`]), so a graceful exit loses none.
pub struct Guard {
    provider: Option<SdkTracerProvider>,
}

impl Guard {
    pub fn shutdown(mut self) {
        self.flush();
    }

    fn flush(&mut self) {
        if let Some(provider) = self.provider.take()
            && let Err(error) = provider.shutdown()
        {
            eprintln!("telemetry: flushing spans failed: {error}");
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.flush();
    }
}

/// How telemetry is set up: the service name spans are exported under, the log filter used when
/// `RUST_LOG` is unset, and where to export spans (OTLP over gRPC), if anywhere.
#[derive(Debug, Clone)]
pub struct Settings {
    pub service_name: String,
    pub default_log_filter: String,
    pub otlp_endpoint: Option<String>,
    /// Logs go to standard error instead of standard output: for commands whose output is their
    /// result (`comms keys service-token`), so `$(…)` captures the result alone.
    pub logs_to_stderr: bool,
}

impl Settings {
    /// Exports to `OTEL_EXPORTER_OTLP_ENDPOINT` when it is set and not empty.
    pub fn from_env(service_name: &str, default_log_filter: &str) -> Self {
        Self {
            service_name: service_name.to_owned(),
            default_log_filter: default_log_filter.to_owned(),
            otlp_endpoint: std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT")
                .ok()
                .filter(|e| !e.is_empty()),
            logs_to_stderr: false,
        }
    }
}

/// Installs JSON logs (filtered by `RUST_LOG`, default `info`), an OpenTelemetry layer that
/// exports over OTLP/gRPC when `OTEL_EXPORTER_OTLP_ENDPOINT` is set, and the W3C propagator.
///
/// Spans get trace ids even without an exporter, so trace context still propagates. Calling it
/// again in the same process (as tests do) keeps the first subscriber.
pub fn init(service_name: &str) -> anyhow::Result<Guard> {
    init_with(Settings::from_env(service_name, "info"))
}

pub fn init_with(settings: Settings) -> anyhow::Result<Guard> {
    // Install the metrics recorder first: anything recorded before it would be lost.
    prometheus();
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let resource = Resource::builder()
        .with_service_name(settings.service_name.clone())
        .build();
    let mut builder = SdkTracerProvider::builder().with_resource(resource);
    if let Some(endpoint) = settings.otlp_endpoint {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(endpoint)
            .build()
            .map_err(|e| anyhow::anyhow!("OTEL_EXPORTER_OTLP_ENDPOINT: {e}"))?;
        builder = builder.with_batch_exporter(exporter);
    }
    let provider = builder.build();
    let tracer = provider.tracer("comms");

    // `RUST_LOG` filters the logs only: traces keep every info span whatever the log level, so
    // trace context still propagates when logging is quiet.
    let log_filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(&settings.default_log_filter));
    let writer = if settings.logs_to_stderr {
        BoxMakeWriter::new(std::io::stderr)
    } else {
        BoxMakeWriter::new(std::io::stdout)
    };
    let installed = tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(writer)
                .json()
                .flatten_event(true)
                .with_filter(log_filter),
        )
        .with(
            tracing_opentelemetry::layer()
                .with_tracer(tracer)
                .with_filter(LevelFilter::INFO),
        )
        .try_init()
        .is_ok();
    if installed {
        opentelemetry::global::set_tracer_provider(provider.clone());
    }
    Ok(Guard {
        provider: installed.then_some(provider),
    })
}
