//! The transcription service: a call's audio as the carriers stream it (Twilio Media Streams,
//! Vonage's audio socket) made into one two-channel stream (the caller, the agent), transcribed
//! live by Deepgram over one socket per call, and assembled into utterances with the numbers a
//! caller should never see stored (card numbers, configured patterns) redacted; the caller's
//! sentiment judged beside them (OpenAI, or a lexicon), the wrap-up summary written at the end
//! (Anthropic, or extractive); transcripts read, searched and followed by the call's agent
//! (assist) over gRPC.
//!
//! ```text
//! carrier frames ─► media (decode) ─► stereo (interleave) ─► deepgram (live socket, reconnects)
//!                                                              │ segments
//!                                                              ▼
//!            session: utterances (assemble) ─► redact ─► utterance ─► sentiment (beside)
//!                                                              │ at the end: assist (summary)
//!                                                              ▼
//!                       transcript-<call> stream ─► grpc (read, search via search, assist)
//! ```

pub mod assist;
mod config;
pub mod current_sentiment;
pub mod deepgram;
pub mod grpc;
pub mod knowledge;
pub mod media;
pub mod redact;
pub mod retention;
pub mod search;
pub mod sentiment;
pub mod server;
pub mod session;
pub mod simulated;
pub mod stereo;
pub mod utterances;

pub use comms_events::call::Speaker;
pub use config::{Config, Engine, Simulation, search_consumer};

use std::sync::Arc;

use comms_proto::v1::agents_service_client::AgentsServiceClient;
use comms_proto::v1::transcription_service_server::TranscriptionServiceServer;
use comms_runtime::Shutdown;
use tokio::net::TcpListener;

/// Serves the transcription service until `shutdown`: calls' transcripts over gRPC
/// (`TranscriptionService`) on `grpc`, for callers whose service tokens `tokens` verifies, and
/// on `media`: with Deepgram, the media sockets, calls' audio in, their utterances recorded in
/// their transcript streams (a socket open when draining ends is cut; its transcript ends with
/// what was heard). Simulated: answered calls heard as scripted conversations, followed on the
/// bus; the media sockets answer 503, as they do with transcription off.
pub async fn run(
    config: Config,
    tokens: comms_auth::Tokens,
    media: TcpListener,
    grpc: TcpListener,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    let pool = comms_runtime::db::connect(
        &config.common.database_url,
        config.common.database_pool_size,
    )
    .await?;
    let store = comms_eventstore::EventStore::new(pool.clone());
    let settings = Arc::new(session::Settings {
        store: store.clone(),
        redactor: redact::Redactor::new(&config.redact_patterns).map_err(anyhow::Error::msg)?,
        sentiment: match config.openai {
            Some(options) => sentiment::Scorer::OpenAi(sentiment::OpenAi::new(options)),
            None => sentiment::Scorer::Lexicon,
        },
        assistant: match config.anthropic {
            Some(options) => {
                assist::Assistant::Anthropic(Arc::new(assist::Anthropic::new(options)))
            }
            None => assist::Assistant::Extractive,
        },
    });
    let live_assist = Arc::new(assist::live::LiveAssist::new(
        store.clone(),
        settings.assistant.anthropic(),
        config.assist_interval,
    ));
    let (app, simulation) = match config.engine {
        config::Engine::Deepgram {
            options,
            media_tokens,
        } => (
            server::Media::new(settings, options, media_tokens).router(),
            None,
        ),
        config::Engine::Simulated(simulation) => {
            let transcriber = simulated::SimulatedTranscriber::new(settings, simulation.line_every);
            let consuming = tokio::spawn(comms_bus::run_consumer(
                pool.clone(),
                simulation.consumer,
                transcriber,
                shutdown.clone().wait(),
            ));
            (server::no_audio(), Some(consuming))
        }
        config::Engine::Off => (server::no_audio(), None),
    };
    let indexing = tokio::spawn(comms_bus::run_consumer(
        pool.clone(),
        config.search,
        search::SearchIndexer,
        shutdown.clone().wait(),
    ));
    let sweeping = tokio::spawn(retention::keep_swept(
        store.clone(),
        config.retention_sweep,
        shutdown.clone(),
    ));
    let agents = AgentsServiceClient::new(comms_runtime::client::channel(&config.agents_url)?);
    let routes = tonic::service::Routes::new(TranscriptionServiceServer::new(
        grpc::TranscriptionGrpc::new(store, pool.clone(), tokens, agents, live_assist),
    ));
    let drain = config.common.drain;
    let serving_grpc = tokio::spawn(comms_runtime::grpc::serve::<
        TranscriptionServiceServer<grpc::TranscriptionGrpc>,
    >(grpc, routes, shutdown.clone(), drain));
    tracing::info!(addr = %media.local_addr()?, simulated = simulation.is_some(), "transcription service listening");
    let server = axum::serve(media, app)
        .with_graceful_shutdown(shutdown.clone().closing(drain))
        .into_future();
    let served = tokio::select! {
        result = server => result.map_err(anyhow::Error::from),
        () = shutdown.drained(drain) => {
            tracing::warn!("drain timeout passed; closing the media sockets still open");
            Ok(())
        }
    };
    if let Some(consuming) = simulation {
        consuming.await?;
    }
    serving_grpc.await??;
    indexing.await?;
    sweeping.await?;
    served
}

/// The parties in channel order: the caller on channel 0, the agent on 1.
pub const SPEAKERS: [Speaker; 2] = [Speaker::Caller, Speaker::Agent];

/// The speaker's channel in the call's two-channel stream.
pub fn channel(speaker: Speaker) -> usize {
    match speaker {
        Speaker::Caller => 0,
        Speaker::Agent => 1,
    }
}

/// The speaker of a channel.
pub fn speaker_of(channel: usize) -> Option<Speaker> {
    SPEAKERS.get(channel).copied()
}

/// How long an AI provider asks us to wait before trying again: `retry-after-ms` (OpenAI's), else
/// `retry-after` in seconds (both providers').
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<std::time::Duration> {
    let number = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|v| v.is_finite() && *v >= 0.0)
    };
    number("retry-after-ms")
        .map(|ms| std::time::Duration::from_secs_f64(ms / 1_000.0))
        .or_else(|| number("retry-after").map(std::time::Duration::from_secs_f64))
}
