//! `comms bench`: the backbone measured against its own ceiling, on the local PostgreSQL and
//! RabbitMQ. Every figure is printed beside a baseline measured in the same run (a bare INSERT,
//! a bare publish loop, direct gRPC), because on a shared machine absolute numbers drift.
//! Results go to stdout as tables and to a JSON file.

mod append;
mod arrivals;
mod auth;
mod callbacks;
mod lag;
mod live;
mod relay;
mod replay;
mod rest;
mod routing;
mod setup;
mod stats;
mod transcription;

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};

/// What to run and how long.
#[derive(Debug, Clone)]
pub struct Options {
    /// Seconds per measured cell (append, REST).
    pub cell: Duration,
    pub relay_events: usize,
    pub lag_seconds: f64,
    pub burst_events: usize,
    pub replay_events: usize,
    /// Events appended per cell of the live feed's, and the sockets of each cell.
    pub live_events: usize,
    pub live_sockets: Vec<usize>,
    /// Concurrent calls of each cell of the transcription section, seconds of each call, and
    /// the fewest utterances a cell times (its calls last longer when few).
    pub transcription_calls: Vec<usize>,
    pub transcription_seconds: u32,
    pub transcription_utterances: u32,
    /// The `comms` binary, started once per service for the REST and memory sections.
    pub binary: PathBuf,
    pub admin_database_url: String,
    pub amqp_url: String,
    /// Run only these sections (append, relay, lag, rest, callbacks, replay, routing, auth,
    /// live, transcription); all when empty.
    pub only: Vec<String>,
}

impl Options {
    /// The full run: about five minutes on two cores.
    pub fn full(binary: PathBuf) -> Self {
        Self {
            cell: Duration::from_secs(3),
            relay_events: 50_000,
            lag_seconds: 10.0,
            burst_events: 20_000,
            replay_events: 1_000_000,
            live_events: 150,
            live_sockets: vec![1, 100, 1000],
            transcription_calls: vec![1, 10, 50, 100, 200, 400],
            transcription_seconds: 6,
            transcription_utterances: 30,
            binary,
            admin_database_url: setup::admin_database_url(),
            amqp_url: setup::amqp_url(),
            only: Vec::new(),
        }
    }

    /// A smoke run for CI: every section, tiny sizes; its figures mean nothing.
    pub fn quick(binary: PathBuf) -> Self {
        Self {
            cell: Duration::from_millis(200),
            relay_events: 1_000,
            lag_seconds: 0.5,
            burst_events: 1_000,
            replay_events: 4_000,
            live_events: 10,
            live_sockets: vec![1, 10],
            transcription_calls: vec![1, 3],
            transcription_seconds: 2,
            transcription_utterances: 2,
            ..Self::full(binary)
        }
    }
}

/// Runs every section, printing each table as it completes; returns the whole report.
pub async fn run(options: &Options) -> anyhow::Result<Value> {
    let started = chrono::Utc::now();
    let mut report = json!({
        "date": started.to_rfc3339(),
        "machine": setup::machine(),
        "options": { "cell_seconds": options.cell.as_secs_f64(), "relay_events": options.relay_events,
                     "lag_seconds": options.lag_seconds, "burst_events": options.burst_events,
                     "replay_events": options.replay_events, "live_events": options.live_events },
    });
    let wanted =
        |section: &str| options.only.is_empty() || options.only.iter().any(|s| s == section);
    if wanted("append") {
        report["append"] = append::run(options).await?;
    }
    if wanted("relay") {
        report["relay"] = relay::run(options).await?;
    }
    if wanted("lag") {
        report["lag"] = lag::run(options).await?;
    }
    if wanted("rest") {
        let (rest, memory) = rest::run(options).await?;
        report["rest"] = rest;
        report["memory"] = memory;
    }
    if wanted("callbacks") {
        report["callbacks"] = callbacks::run(options).await?;
    }
    if wanted("replay") {
        report["replay"] = replay::run(options).await?;
    }
    if wanted("routing") {
        report["routing"] = routing::run(options).await?;
    }
    if wanted("live") {
        report["live"] = live::run(options).await?;
    }
    if wanted("transcription") {
        report["transcription"] = transcription::run(options).await?;
    }
    if wanted("auth") {
        report["auth"] = auth::run(options)?;
    }
    Ok(report)
}

/// A call's first event, as the calls service stores it.
fn call_started(call_id: uuid::Uuid) -> comms_eventstore::NewEvent {
    use comms_events::call::{CallEvent, Direction, Started};
    let started = CallEvent::Started(Started {
        call_id,
        direction: Direction::Outbound,
        to: comms_proto::PhoneNumber::parse("+14155550100").expect("a valid number"),
        from: None,
        agent_id: None,
        campaign_id: None,
        language: comms_proto::Language::En,
        started_at: chrono::Utc::now(),
        detect_machines: false,
        recording: Default::default(),
        ivr_flow: None,
        announcement: None,
    });
    comms_bus::new_event(&started, "bench", None)
}

/// A section heading, printed before the section's table.
fn heading(title: &str) {
    println!("\n== {title}");
}
