//! The media sockets carriers stream calls' audio to. Each URL names the organization and the
//! call and carries the call's media token; a socket whose token does not verify is refused
//! (403) before it is upgraded, so no audio is ever read from it.
//!
//! - `GET /media/twilio/{org}/{call_id}/{token}`: a Twilio Media Stream with both tracks (the
//!   caller inbound, the agent outbound); the call's language in the stream's `language`
//!   parameter.
//! - `GET /media/vonage/{org}/{call_id}/{speaker}/{token}`: one party's Vonage audio socket
//!   (`caller` or `agent`); the call's language in the connect action's `language` header. The
//!   call's transcription ends when both of its sockets have.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use comms_proto::Language;
use tracing::{info, warn};
use uuid::Uuid;

use crate::Speaker;
use crate::deepgram::Options;
use crate::media::{twilio, vonage};
use crate::session::{CallTranscription, Settings};
use comms_auth::media_tokens::MediaTokens;

/// WebSocket close code for a message that is not what the protocol says (RFC 6455: 1007).
const INVALID_PAYLOAD: u16 = 1007;
/// The largest message a carrier sends is 20 ms of audio (Twilio's JSON about 400 bytes,
/// Vonage's frame 640): anything far larger is not a carrier's, and is refused unread.
const LARGEST_MESSAGE: usize = 16 * 1024;

#[derive(Clone)]
pub struct Media {
    settings: Arc<Settings>,
    deepgram: Options,
    tokens: MediaTokens,
    /// Calls whose audio arrives on more than one socket (Vonage's parties): their
    /// transcription and how many of their sockets are open.
    shared: Arc<Mutex<HashMap<Uuid, Shared>>>,
}

type Shared = (Arc<tokio::sync::Mutex<Option<CallTranscription>>>, usize);

impl Media {
    pub fn new(settings: Arc<Settings>, deepgram: Options, tokens: MediaTokens) -> Self {
        Self {
            settings,
            deepgram,
            tokens,
            shared: Arc::default(),
        }
    }

    pub fn router(self) -> axum::Router {
        axum::Router::new()
            .route("/media/twilio/{org}/{call_id}/{token}", get(twilio_stream))
            .route(
                "/media/vonage/{org}/{call_id}/{speaker}/{token}",
                get(vonage_socket),
            )
            .with_state(self)
    }

    /// The call the URL names, if its token verifies; why not.
    fn admit(&self, org: &str, call_id: &str, token: &str) -> Result<Uuid, &'static str> {
        let call = Uuid::parse_str(call_id).map_err(|_| "the call id is not a UUID")?;
        let now = chrono::Utc::now().timestamp();
        self.tokens.verify(token, org, call, now)?;
        Ok(call)
    }
}

async fn twilio_stream(
    State(media): State<Media>,
    Path((org, call_id, token)): Path<(String, String, String)>,
    upgrade: WebSocketUpgrade,
) -> Response {
    match media.admit(&org, &call_id, &token) {
        Ok(call) => upgrade
            .max_message_size(LARGEST_MESSAGE)
            .on_upgrade(move |socket| read_twilio(media, org, call, socket)),
        Err(why) => refuse(&org, &call_id, why),
    }
}

async fn read_twilio(media: Media, org: String, call: Uuid, mut socket: WebSocket) {
    let mut transcription: Option<CallTranscription> = None;
    let mut problem = None;
    while let Some(Ok(message)) = socket.recv().await {
        let text = match message {
            Message::Text(text) => text,
            Message::Close(_) => break,
            Message::Binary(_) => {
                problem = Some("Twilio sends text frames only".to_owned());
                break;
            }
            _ => continue,
        };
        match twilio::parse(&text) {
            Ok(twilio::Message::Start {
                custom_parameters, ..
            }) if transcription.is_none() => {
                let language = custom_parameters
                    .get("language")
                    .and_then(|l| Language::parse(l).ok())
                    .unwrap_or(Language::En);
                info!(%call, language = language.as_str(), "a call's Twilio media stream started");
                transcription = Some(CallTranscription::start(
                    media.settings.clone(),
                    &media.deepgram,
                    &org,
                    call,
                    language,
                    twilio::SAMPLE_RATE,
                ));
            }
            Ok(twilio::Message::Media {
                speaker, samples, ..
            }) => match &mut transcription {
                Some(transcription) => transcription.hear(speaker, &samples).await,
                None => {
                    problem = Some("media before start".to_owned());
                    break;
                }
            },
            Ok(twilio::Message::Stop) => break,
            Ok(_) => {}
            Err(error) => {
                problem = Some(error);
                break;
            }
        }
    }
    close(socket, problem).await;
    if let Some(transcription) = transcription {
        transcription.finish().await;
    }
}

async fn vonage_socket(
    State(media): State<Media>,
    Path((org, call_id, speaker, token)): Path<(String, String, String, String)>,
    upgrade: WebSocketUpgrade,
) -> Response {
    let speaker = match speaker.as_str() {
        "caller" => Speaker::Caller,
        "agent" => Speaker::Agent,
        _ => return (StatusCode::NOT_FOUND, "caller or agent\n").into_response(),
    };
    match media.admit(&org, &call_id, &token) {
        Ok(call) => upgrade
            .max_message_size(LARGEST_MESSAGE)
            .on_upgrade(move |socket| read_vonage(media, org, call, speaker, socket)),
        Err(why) => refuse(&org, &call_id, why),
    }
}

async fn read_vonage(
    media: Media,
    org: String,
    call: Uuid,
    speaker: Speaker,
    mut socket: WebSocket,
) {
    // The first frame says the audio's rate and the call's language.
    let connected = match socket.recv().await {
        Some(Ok(Message::Text(text))) => vonage::parse_connected(&text),
        _ => Err("the first frame: websocket:connected, as text".to_owned()),
    };
    let connected = match connected {
        Ok(connected) => connected,
        Err(problem) => return close(socket, Some(problem)).await,
    };
    let language = connected
        .headers
        .get("language")
        .and_then(|l| Language::parse(l).ok())
        .unwrap_or(Language::En);
    let transcription = {
        let mut shared = media.shared.lock().expect("not poisoned");
        let (transcription, sockets) = shared.entry(call).or_insert_with(|| {
            let started = CallTranscription::start(
                media.settings.clone(),
                &media.deepgram,
                &org,
                call,
                language,
                connected.sample_rate,
            );
            (Arc::new(tokio::sync::Mutex::new(Some(started))), 0)
        });
        *sockets += 1;
        transcription.clone()
    };
    let mut problem = None;
    while let Some(Ok(message)) = socket.recv().await {
        match message {
            Message::Binary(frame) => match vonage::samples(&frame) {
                Ok(samples) => {
                    if let Some(transcription) = transcription.lock().await.as_mut() {
                        transcription.hear(speaker, &samples).await;
                    }
                }
                Err(error) => {
                    problem = Some(error);
                    break;
                }
            },
            Message::Close(_) => break,
            // websocket:dtmf and the like.
            _ => {}
        }
    }
    close(socket, problem).await;
    let last = {
        let mut shared = media.shared.lock().expect("not poisoned");
        let entry = shared.get_mut(&call).expect("registered above");
        entry.1 -= 1;
        let last = entry.1 == 0;
        if last {
            shared.remove(&call);
        }
        last
    };
    if last && let Some(transcription) = transcription.lock().await.take() {
        transcription.finish().await;
    }
}

/// The media sockets of a simulated transcriber, which reads no audio: 503, saying so.
pub fn no_audio() -> axum::Router {
    axum::Router::new().route(
        "/media/{*rest}",
        get(|| async {
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "the simulated transcriber reads no audio (TRANSCRIBER=simulated)\n",
            )
        }),
    )
}

/// 403 before the upgrade: no audio is read from a socket without its call's token.
fn refuse(org: &str, call_id: &str, why: &str) -> Response {
    warn!(org, call_id, why, "a media socket was refused");
    (StatusCode::FORBIDDEN, format!("{why}\n")).into_response()
}

/// Closes the socket, saying what was wrong with what it sent, if anything.
async fn close(mut socket: WebSocket, problem: Option<String>) {
    let frame = problem.map(|reason| {
        warn!(%reason, "a media socket sent what its protocol does not");
        CloseFrame {
            code: INVALID_PAYLOAD,
            reason: reason.chars().take(120).collect::<String>().into(),
        }
    });
    let _ = socket.send(Message::Close(frame)).await;
}
