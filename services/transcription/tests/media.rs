//! The transcription service against real PostgreSQL and RabbitMQ (through the relay) and a fake
//! Deepgram: a Twilio media stream (mu-law frames of a real WAV) and Vonage's two audio sockets
//! become `comms.call.utterance` events on the exchange, with speakers, times and card numbers
//! redacted, then one `comms.call.transcribed`; all valid against their schemas. A socket
//! without this call's token is refused before any audio is read.

mod support;

use std::time::Duration;

use base64::Engine as _;
use comms_auth::media_tokens::MediaTokens;
use comms_events::Event as _;
use comms_events::call::{Transcribed, Utterance};
use comms_transcription::media::mulaw;
use futures::SinkExt as _;
use serde_json::{Value, json};
use support::bus::Bus;
use support::fake_deepgram::{self, Behaviour, FakeDeepgram, Word};
use support::schemas::validator;
use support::wav;
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

const SECRET: &str = "a media token secret of 32 chars";
const ORG: &str = "org_media";

/// What the fake hears: a caller giving a card number, an agent asking them to wait.
fn script() -> Vec<Word> {
    let word = |channel, start, text, pause_after| Word {
        channel,
        start,
        end: start + 0.25,
        text,
        pause_after,
    };
    vec![
        word(0, 0.2, "Mi", false),
        word(0, 0.5, "tarjeta", false),
        word(0, 0.8, "es", false),
        word(0, 1.1, "4111", false),
        word(0, 1.4, "1111", false),
        word(0, 1.7, "1111", false),
        word(0, 2.1, "1111.", true),
        word(1, 2.6, "Gracias,", false),
        word(1, 3.1, "un", false),
        word(1, 3.4, "momento.", true),
        word(0, 4.3, "Vale.", false),
    ]
}

struct Service {
    addr: std::net::SocketAddr,
    tokens: MediaTokens,
    bus: Bus,
    fake: FakeDeepgram,
}

impl Service {
    async fn start(rate: u32) -> Self {
        let bus = Bus::start().await;
        let fake = FakeDeepgram::start(Behaviour {
            script: script(),
            drop_first_after: None,
            idle: Duration::from_secs(5),
            rate,
            marked: false,
        })
        .await;
        let env = bus.env(&[
            ("DEEPGRAM_URL", fake.url.as_str()),
            ("DEEPGRAM_API_KEY", fake_deepgram::KEY),
            ("MEDIA_TOKEN_SECRET", SECRET),
        ]);
        let config = comms_transcription::Config::from_env(&env).unwrap();
        let addr = bus.serve(config).await.media;
        Self {
            addr,
            tokens: MediaTokens::new(SECRET.as_bytes()),
            bus,
            fake,
        }
    }

    fn token(&self, call: Uuid) -> String {
        self.tokens
            .sign(ORG, call, chrono::Utc::now().timestamp() + 3_600)
    }

    /// The events on the tap until the call's transcript is complete.
    async fn transcript(&self) -> Vec<Value> {
        let mut seen = Vec::new();
        loop {
            let envelope = self.bus.next().await;
            let done = envelope["type"] == Transcribed::TYPE;
            seen.push(envelope);
            if done {
                return seen;
            }
        }
    }
}

/// Checks every event against its schema and gives (speaker, text, start, end) of the
/// utterances, and the transcribed event's data.
fn read(
    service: &Service,
    call: Uuid,
    events: &[Value],
) -> (Vec<(String, String, f64, f64)>, Value) {
    let utterance = validator(Utterance::TYPE);
    let transcribed = validator(Transcribed::TYPE);
    let mut said = Vec::new();
    for envelope in events {
        assert_eq!(envelope["organizationId"], ORG);
        let data = &envelope["data"];
        assert_eq!(data["call_id"], json!(call));
        let schema = if envelope["type"] == Utterance::TYPE {
            &utterance
        } else {
            &transcribed
        };
        let errors: Vec<String> = schema.iter_errors(data).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{data}: {errors:?}");
        if envelope["type"] == Utterance::TYPE {
            said.push((
                data["speaker"].as_str().unwrap().to_owned(),
                data["text"].as_str().unwrap().to_owned(),
                data["start_seconds"].as_f64().unwrap(),
                data["end_seconds"].as_f64().unwrap(),
            ));
        }
    }
    let _ = service;
    (said, events.last().unwrap()["data"].clone())
}

/// One party's Vonage audio socket for `call`, past its first frame.
async fn vonage_socket(
    service: &Service,
    call: Uuid,
    speaker: &str,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    let url = format!(
        "ws://{}/media/vonage/{ORG}/{call}/{speaker}/{}",
        service.addr,
        service.token(call)
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let connected = json!({ "event": "websocket:connected", "content-type": "audio/l16;rate=16000", "language": "es" });
    socket
        .send(Message::text(connected.to_string()))
        .await
        .unwrap();
    socket
}

fn expected() -> Vec<(String, String, f64, f64)> {
    [
        ("caller", "Mi tarjeta es [redacted].", 0.0, 3.0),
        ("agent", "Gracias, un momento.", 2.0, 4.0),
        ("caller", "Vale.", 4.0, 5.0),
    ]
    .map(|(s, t, a, b)| (s.to_owned(), t.to_owned(), a, b))
    .to_vec()
}

/// Nothing the store keeps says the card number, as text or as a word of its own
/// (not a bare `4111`, which an id or a time may contain).
async fn never_stored(service: &Service) {
    let found: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events WHERE data::text LIKE '%4111 1111%' OR data::text LIKE '%\"4111\"%'",
    )
    .fetch_one(&service.bus.db.pool)
            .await
            .unwrap();
    assert_eq!(found, 0, "the card number was stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_twilio_media_stream_becomes_the_calls_utterances_on_the_exchange() {
    // This test's process has the fleet's metrics recorder: each utterance's latency is timed.
    let metrics = comms_telemetry::prometheus();
    let service = Service::start(8_000).await;
    let call = Uuid::new_v4();
    // The parties' voices, as real WAV files read back.
    let (caller, rate) = wav::read(&wav::tone(440.0, 6.0, 8_000));
    let (agent, _) = wav::read(&wav::tone(330.0, 6.0, 8_000));
    assert_eq!(rate, 8_000);

    // Without this call's token, refused before anything is read.
    let other_call = service.token(Uuid::new_v4());
    for path in [
        format!("/media/twilio/{ORG}/{call}/{other_call}"),
        format!("/media/twilio/org_other/{call}/{}", service.token(call)),
        format!("/media/twilio/{ORG}/{call}/123.forged"),
    ] {
        let refused =
            tokio_tungstenite::connect_async(format!("ws://{}{path}", service.addr)).await;
        let Err(tokio_tungstenite::tungstenite::Error::Http(response)) = refused else {
            panic!("{path} was not refused: {refused:?}");
        };
        assert_eq!(response.status(), 403);
    }

    let url = format!(
        "ws://{}/media/twilio/{ORG}/{call}/{}",
        service.addr,
        service.token(call)
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let send = |value: Value| Message::text(value.to_string());
    socket
        .send(send(
            json!({ "event": "connected", "protocol": "Call", "version": "1.0.0" }),
        ))
        .await
        .unwrap();
    socket.send(send(json!({ "event": "start", "sequenceNumber": "1", "streamSid": "MZ1",
        "start": { "streamSid": "MZ1", "accountSid": "AC1", "callSid": "CA1", "tracks": ["inbound", "outbound"],
                   "customParameters": { "language": "es" },
                   "mediaFormat": { "encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1 } } }))).await.unwrap();
    let frames = caller.chunks(160).zip(agent.chunks(160));
    for (n, (caller, agent)) in frames.enumerate() {
        for (track, samples) in [("inbound", caller), ("outbound", agent)] {
            let payload: Vec<u8> = samples.iter().map(|s| mulaw::encode(*s)).collect();
            socket.send(send(json!({ "event": "media", "sequenceNumber": (n * 2 + 2).to_string(), "streamSid": "MZ1",
                "media": { "track": track, "chunk": (n + 1).to_string(), "timestamp": (n * 20).to_string(),
                           "payload": base64::engine::general_purpose::STANDARD.encode(payload) } }))).await.unwrap();
        }
    }
    socket
        .send(send(
            json!({ "event": "stop", "sequenceNumber": "999", "streamSid": "MZ1",
        "stop": { "accountSid": "AC1", "callSid": "CA1" } }),
        ))
        .await
        .unwrap();

    let events = service.transcript().await;
    let (said, transcribed) = read(&service, call, &events);
    assert_eq!(said, expected());
    assert_eq!(transcribed["transcript"], format!("transcript-{call}"));
    assert_eq!(
        (
            transcribed["utterances"].as_u64(),
            transcribed["seconds"].as_f64()
        ),
        (Some(3), Some(6.0))
    );
    assert_eq!(
        (
            transcribed["language"].as_str(),
            transcribed["transcriber"].as_str()
        ),
        (Some("es"), Some("deepgram"))
    );
    never_stored(&service).await;
    // Each utterance timed from the arrival of its last audio to its recording.
    let rendered = metrics.render();
    assert!(
        rendered.contains("comms_transcription_latency_seconds_count 3"),
        "{rendered}"
    );
    let seen = service.fake.seen.lock().unwrap();
    assert!(
        seen.queries[0].contains("language=es"),
        "{:?}",
        seen.queries
    );
    assert_eq!(
        (seen.sockets, seen.refused),
        (1, 0),
        "refused sockets never reached Deepgram"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn vonages_two_audio_sockets_become_one_transcript() {
    let service = Service::start(16_000).await;
    let call = Uuid::new_v4();
    let (caller, _) = wav::read(&wav::tone(440.0, 6.0, 16_000));
    let (agent, _) = wav::read(&wav::tone(330.0, 6.0, 16_000));
    let mut sockets = Vec::new();
    for speaker in ["caller", "agent"] {
        sockets.push(vonage_socket(&service, call, speaker).await);
    }
    // 20 ms frames of 320 samples, the parties interleaved in time as Vonage sends them.
    for (caller, agent) in caller.chunks(320).zip(agent.chunks(320)) {
        for (socket, samples) in sockets.iter_mut().zip([caller, agent]) {
            let frame: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
            socket.send(Message::Binary(frame.into())).await.unwrap();
        }
    }
    for mut socket in sockets {
        socket.close(None).await.unwrap();
    }
    let events = service.transcript().await;
    let (said, transcribed) = read(&service, call, &events);
    assert_eq!(said, expected());
    assert_eq!(
        (
            transcribed["utterances"].as_u64(),
            transcribed["seconds"].as_f64()
        ),
        (Some(3), Some(6.0))
    );
    never_stored(&service).await;
    // A frame that is not 16-bit audio closes the socket saying so (1007).
    let mut socket = vonage_socket(&service, Uuid::nil(), "caller").await;
    socket
        .send(Message::Binary(vec![1u8, 2, 3].into()))
        .await
        .unwrap();
    use futures::StreamExt as _;
    let closed = loop {
        match socket.next().await {
            Some(Ok(Message::Close(frame))) => break frame,
            Some(Ok(_)) => continue,
            other => panic!("{other:?}"),
        }
    };
    let frame = closed.expect("a close frame with a reason");
    assert_eq!(u16::from(frame.code), 1007);
    assert!(frame.reason.contains("16-bit"), "{}", frame.reason);
    // A message far larger than 20 ms of audio ends the socket.
    let mut socket = vonage_socket(&service, Uuid::nil(), "agent").await;
    let _ = socket
        .send(Message::Binary(vec![0u8; 1 << 20].into()))
        .await;
    loop {
        match socket.next().await {
            Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
            Some(Ok(_)) => continue,
        }
    }
}
