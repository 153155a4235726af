//! Transcription: how long from the audio frame that completes a caller's words on a call's
//! media socket (Twilio Media Streams, real-time 20 ms frames of both parties) to the
//! `comms.call.utterance` on the exchange, p50/p99, beside the fake Deepgram's own delay (from
//! its receipt of the audio that completes a second to its final `Results` for it sent) measured
//! in the same run — the difference is what the fleet adds (reading the socket, joining the
//! parties, the Deepgram socket, recording, the relay). At rising numbers of concurrent calls,
//! to read how many one service instance transcribes before its latency doubles.
//!
//! The transcription service and the relay run as separate `comms serve` processes; the callers
//! and the fake Deepgram run in the bench, on the same cores.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use comms_auth::PrivateKey;
use comms_auth::media_tokens::MediaTokens;
use futures::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

use super::arrivals::{Arrivals, Times};
use super::rest::{self, ORG, free_port};
use super::setup::{BenchDatabase, unique};
use super::stats::{Samples, ms};
use super::{Options, heading};

const DEEPGRAM_KEY: &str = "bench-deepgram-key";
const MEDIA_SECRET: &str = "bench-media-token-secret-0123456789abcdef";

/// When each of a call's seconds was completed by the bench: by call and second.
type Sent = Times<(Uuid, u32)>;

pub async fn run(options: &Options) -> anyhow::Result<Value> {
    heading(
        "transcription: audio frame in → utterance on the exchange, against the fake Deepgram's own delay",
    );
    let deepgram = FakeDeepgram::start().await?;
    let db = BenchDatabase::create(&options.admin_database_url, 2).await?;
    let (exchange, queues, key) = (
        unique("bench.events"),
        rest::queues(),
        PrivateKey::generate(),
    );
    let media_port = free_port()?;
    let mut children = Vec::new();
    for service in ["relay", "transcription"] {
        let mut command =
            rest::service_command(options, service, &db.url, &exchange, &queues, &key)?;
        command
            .env("TRANSCRIBER", "deepgram")
            .env("DEEPGRAM_API_KEY", DEEPGRAM_KEY)
            .env("DEEPGRAM_URL", &deepgram.url)
            .env("MEDIA_TOKEN_SECRET", MEDIA_SECRET)
            .env("PORT", media_port.to_string())
            .env("GRPC_PORT", free_port()?.to_string());
        children.push(command.spawn()?);
    }
    let mut ready = false;
    for _ in 0..300 {
        if tokio::net::TcpStream::connect(("127.0.0.1", media_port))
            .await
            .is_ok()
        {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::ensure!(
        ready,
        "the transcription service did not start; see {}",
        std::env::temp_dir()
            .join("comms-bench-transcription.log")
            .display()
    );

    // Our own queue of the utterances the relay publishes, read as they arrive: each under its
    // call and the second it starts in.
    let utterances = Arrivals::tap(
        &options.amqp_url,
        &exchange,
        <comms_events::call::Utterance as comms_events::Event>::TYPE,
        |envelope| {
            let data = &envelope["data"];
            let call = Uuid::parse_str(data["call_id"].as_str()?).ok()?;
            Some((call, data["start_seconds"].as_f64()?.floor() as u32))
        },
    )
    .await?;

    let media = format!("ws://127.0.0.1:{media_port}");
    let tokens = MediaTokens::new(MEDIA_SECRET.as_bytes());
    println!(
        "{:>6} | {:>9} | {:>12} {:>12} | {:>14} {:>14} | {:>12}",
        "calls",
        "utterances",
        "fleet p50 ms",
        "fleet p99 ms",
        "deepgram p50 ms",
        "deepgram p99 ms",
        "adds p99 ms"
    );
    let mut rows = Vec::new();
    for &calls in &options.transcription_calls {
        let seconds = options
            .transcription_seconds
            .max(options.transcription_utterances.div_ceil(calls as u32));
        deepgram.delays.lock().expect("not poisoned").clear();
        let sent = Sent::default();
        let mut tasks = Vec::new();
        for n in 0..calls {
            let (media, sent) = (media.clone(), sent.clone());
            let call = Uuid::new_v4();
            let token = tokens.sign(ORG, call, chrono::Utc::now().timestamp() + 3_600);
            // Calls start spread over a second, as they would.
            let offset = Duration::from_secs_f64(n as f64 / calls as f64);
            tasks.push(tokio::spawn(async move {
                tokio::time::sleep(offset).await;
                stream_call(&media, call, &token, seconds, &sent).await
            }));
        }
        for task in tasks {
            task.await??;
        }
        let lags = utterances.since(&sent, "utterances").await?;
        let own = Samples::new(
            deepgram.delays.lock().expect("not poisoned").clone(),
            Duration::from_secs(1),
        );
        let adds = lags.percentile(0.99).saturating_sub(own.percentile(0.99));
        println!(
            "{:>6} | {:>9} | {:>12.2} {:>12.2} | {:>14.2} {:>14.2} | {:>12.2}",
            calls,
            lags.count(),
            ms(lags.percentile(0.5)),
            ms(lags.percentile(0.99)),
            ms(own.percentile(0.5)),
            ms(own.percentile(0.99)),
            ms(adds),
        );
        rows.push((calls, seconds, lags, own));
    }

    // The most concurrent calls whose p99 stayed within twice that of one call. Not the first
    // level past it: more calls can mean less latency (the relay finds events at every poll), so
    // the figures are not monotonic, and one noisy level must not hide the levels above it.
    let single = rows.first().map(|(_, _, lags, _)| lags.percentile(0.99));
    let within = rows
        .iter()
        .filter(|(_, _, lags, _)| single.is_some_and(|s| lags.percentile(0.99) <= s * 2))
        .map(|(calls, _, _, _)| *calls)
        .max();
    match within {
        Some(calls) if calls == rows.last().map_or(0, |r| r.0) => {
            println!("latency had not doubled at {calls} concurrent calls, the most measured")
        }
        Some(calls) => println!("p99 within twice one call's up to {calls} concurrent calls"),
        None => {}
    }
    let report = json!({
        "levels": rows.iter().map(|(calls, seconds, lags, own)| json!({
            "calls": calls,
            "seconds_per_call": seconds,
            "frame_to_exchange": lags.to_json(),
            "deepgram_own": own.to_json(),
            "fleet_adds_p99_ms": ms(lags.percentile(0.99).saturating_sub(own.percentile(0.99))),
        })).collect::<Vec<_>>(),
        "calls_before_latency_doubles_at_least": within,
    });
    utterances.stop().await?;
    for child in &mut children {
        child.start_kill().ok();
        child.wait().await.ok();
    }
    let queues: Vec<String> = queues.into_iter().map(|(_, queue)| queue).collect();
    rest::delete_topology(options, &queues, &exchange).await?;
    db.drop_now().await?;
    Ok(report)
}

/// One call's media stream as Twilio sends it: `connected`, `start`, then both tracks' 20 ms
/// μ-law frames in real time for `seconds`, then `stop`; notes when each second was completed.
async fn stream_call(
    media: &str,
    call: Uuid,
    token: &str,
    seconds: u32,
    sent: &Sent,
) -> anyhow::Result<()> {
    let url = format!("{media}/media/twilio/{ORG}/{call}/{token}");
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await?;
    let text = |value: Value| Message::text(value.to_string());
    socket
        .send(text(
            json!({ "event": "connected", "protocol": "Call", "version": "1.0.0" }),
        ))
        .await?;
    socket
        .send(text(json!({ "event": "start", "sequenceNumber": "1", "streamSid": "MZbench",
            "start": { "streamSid": "MZbench", "accountSid": "ACbench", "callSid": "CAbench",
                       "tracks": ["inbound", "outbound"], "customParameters": { "language": "en" },
                       "mediaFormat": { "encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1 } } })))
        .await?;
    // μ-law silence: the fake Deepgram does not listen.
    let payload = base64::engine::general_purpose::STANDARD.encode([0xFFu8; 160]);
    let started = tokio::time::Instant::now();
    for frame in 0..seconds * 50 {
        tokio::time::sleep_until(started + Duration::from_millis(u64::from(frame) * 20)).await;
        for (n, track) in ["inbound", "outbound"].into_iter().enumerate() {
            let sequence = (frame * 2 + 2 + n as u32).to_string();
            socket
                .send(text(
                    json!({ "event": "media", "sequenceNumber": sequence, "streamSid": "MZbench",
                    "media": { "track": track, "chunk": (frame + 1).to_string(),
                               "timestamp": (frame * 20).to_string(), "payload": payload } }),
                ))
                .await?;
        }
        if (frame + 1) % 50 == 0 {
            let second = (frame + 1) / 50 - 1;
            sent.lock()
                .expect("not poisoned")
                .insert((call, second), Instant::now());
        }
    }
    socket
        .send(text(
            json!({ "event": "stop", "sequenceNumber": "0", "streamSid": "MZbench",
            "stop": { "accountSid": "ACbench", "callSid": "CAbench" } }),
        ))
        .await?;
    socket.close(None).await.ok();
    Ok(())
}

/// A loopback Deepgram live endpoint, as documented
/// (<https://developers.deepgram.com/reference/speech-to-text-api/listen-streaming>):
/// `Authorization: Token <key>`, raw two-channel `linear16` audio at the query's `sample_rate`,
/// `KeepAlive` and `CloseStream` text messages. It cannot hear: as each second of audio
/// completes, the caller's channel says one final result for it (`speech_final`, a word in the
/// middle of the second), which the service makes an utterance starting in that second.
struct FakeDeepgram {
    url: String,
    /// Its own delay per result: from the audio completing the second to the result sent.
    delays: Arc<Mutex<Vec<Duration>>>,
}

impl FakeDeepgram {
    async fn start() -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("ws://{}/v1/listen", listener.local_addr()?);
        let delays: Arc<Mutex<Vec<Duration>>> = Arc::default();
        let kept = delays.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(listen(stream, kept.clone()));
            }
        });
        Ok(Self { url, delays })
    }
}

// The handshake's callback returns tungstenite's own (large) refusal type.
#[allow(clippy::result_large_err)]
async fn listen(stream: tokio::net::TcpStream, delays: Arc<Mutex<Vec<Duration>>>) {
    use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
    let mut rate = 0u32;
    let check = |request: &Request, response: Response| {
        let query = request.uri().query().unwrap_or_default();
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap_or_default();
        let value = |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        rate = value("sample_rate")
            .and_then(|r| r.parse().ok())
            .unwrap_or(0);
        let authorized = request
            .headers()
            .get("authorization")
            .is_some_and(|v| v == format!("Token {DEEPGRAM_KEY}").as_str());
        let described = value("encoding") == Some("linear16") && value("channels") == Some("2");
        if !authorized || !described || rate == 0 {
            let mut refusal = ErrorResponse::new(None);
            *refusal.status_mut() = http::StatusCode::BAD_REQUEST;
            return Err(refusal);
        }
        Ok(response)
    };
    let Ok(mut socket) = tokio_tungstenite::accept_hdr_async(stream, check).await else {
        return;
    };
    let bytes_per_second = rate as usize * 4;
    let (mut bytes, mut finalized) = (0usize, 0u32);
    while let Some(Ok(message)) = socket.next().await {
        match message {
            Message::Binary(audio) => {
                let received = Instant::now();
                bytes += audio.len();
                while bytes >= (finalized as usize + 1) * bytes_per_second {
                    let start = f64::from(finalized);
                    let result = json!({
                        "type": "Results", "channel_index": [0, 2], "start": start, "duration": 1.0,
                        "is_final": true, "speech_final": true, "from_finalize": false,
                        "channel": { "alternatives": [{ "transcript": "hello", "confidence": 0.9,
                            "words": [{ "word": "hello", "start": start + 0.2, "end": start + 0.8,
                                        "confidence": 0.9, "punctuated_word": "Hello." }] }] },
                        "metadata": { "request_id": "bench", "model_uuid": "bench",
                                      "model_info": { "name": "nova-3", "version": "bench", "arch": "nova-3" } }
                    });
                    if socket
                        .send(Message::text(result.to_string()))
                        .await
                        .is_err()
                    {
                        return;
                    }
                    delays
                        .lock()
                        .expect("not poisoned")
                        .push(received.elapsed());
                    finalized += 1;
                }
            }
            Message::Text(text) if text.contains("CloseStream") => {
                let metadata = json!({ "type": "Metadata", "request_id": "bench", "created": "2026-12-07T00:00:00Z",
                    "duration": bytes as f64 / bytes_per_second.max(1) as f64, "channels": 2 });
                socket.send(Message::text(metadata.to_string())).await.ok();
                socket.close(None).await.ok();
                return;
            }
            _ => {}
        }
    }
}
