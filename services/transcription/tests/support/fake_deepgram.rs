//! A fake Deepgram live endpoint on loopback, written from Deepgram's documentation of the
//! protocol (<https://developers.deepgram.com/reference/speech-to-text-api/listen-streaming>):
//! `Authorization: Token <key>`, raw audio needing `encoding` and `sample_rate`, binary audio
//! frames, `KeepAlive` and `CloseStream` text messages, `Results` with `is_final` and
//! `speech_final`, `UtteranceEnd`, `Metadata`, times in seconds from the socket's first audio,
//! and a socket with no data for a while closed (Deepgram's 10 s, scaled to `idle`).
//!
//! It cannot hear, so it says the script's words whose time falls in each second of audio it
//! finalizes. A socket's times start at its first audio; to know where in the call that is after
//! a reconnect, `marked` tests mark each 20 ms frame's first caller sample with the frame's
//! number in the call (unmarked audio starts at the call's start).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{SinkExt as _, StreamExt as _};
use serde_json::json;
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::http::StatusCode;

pub const KEY: &str = "dg-test-key";
pub const RATE: u32 = 8_000;
/// Bytes of a 20 ms two-channel frame at `RATE`.
pub const FRAME_BYTES: usize = (RATE / 50) as usize * 4;

/// A scripted word: who says it, when in the call (seconds), and whether the speaker pauses
/// after it (Deepgram's `speech_final`).
#[derive(Debug, Clone)]
pub struct Word {
    pub channel: usize,
    pub start: f64,
    pub end: f64,
    pub text: &'static str,
    pub pause_after: bool,
}

#[derive(Debug, Default)]
pub struct Seen {
    pub sockets: usize,
    pub queries: Vec<String>,
    pub keep_alives: usize,
    pub close_streams: usize,
    pub refused: usize,
}

pub struct FakeDeepgram {
    pub url: String,
    pub seen: Arc<Mutex<Seen>>,
}

/// How the fake behaves.
#[derive(Clone)]
pub struct Behaviour {
    pub script: Vec<Word>,
    /// Close the first socket abruptly (no close frame) once it has this many seconds of audio.
    pub drop_first_after: Option<f64>,
    pub idle: Duration,
    /// The audio's sample rate the socket must ask for.
    pub rate: u32,
    /// Frames carry their number in the call (see above).
    pub marked: bool,
}

impl FakeDeepgram {
    pub async fn start(behaviour: Behaviour) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("ws://{}/v1/listen", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Seen::default()));
        let state = seen.clone();
        tokio::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                let (seen, behaviour) = (state.clone(), behaviour.clone());
                tokio::spawn(async move { serve(stream, seen, behaviour).await });
            }
        });
        Self { url, seen }
    }
}

// The handshake's callback returns tungstenite's own (large) refusal type.
#[allow(clippy::result_large_err)]
async fn serve(stream: tokio::net::TcpStream, seen: Arc<Mutex<Seen>>, behaviour: Behaviour) {
    let mut query = String::new();
    let check = |request: &Request, response: Response| {
        query = request.uri().query().unwrap_or_default().to_owned();
        let authorized = request
            .headers()
            .get("authorization")
            .is_some_and(|v| v == format!("Token {KEY}").as_str());
        let raw_audio_described = query.contains("encoding=linear16")
            && query.contains(&format!("sample_rate={}", behaviour.rate))
            && query.contains("channels=2")
            && query.contains("multichannel=true");
        if !authorized || !raw_audio_described {
            let mut refusal =
                tokio_tungstenite::tungstenite::handshake::server::ErrorResponse::new(None);
            *refusal.status_mut() = if authorized {
                StatusCode::BAD_REQUEST
            } else {
                StatusCode::UNAUTHORIZED
            };
            return Err(refusal);
        }
        Ok(response)
    };
    let Ok(mut socket) = tokio_tungstenite::accept_hdr_async(stream, check).await else {
        seen.lock().unwrap().refused += 1;
        return;
    };
    let first = {
        let mut seen = seen.lock().unwrap();
        seen.sockets += 1;
        seen.queries.push(query);
        seen.sockets == 1
    };
    // The call's time of this socket's first audio, read from the first frame's mark.
    let mut origin: Option<f64> = None;
    let mut bytes = 0usize;
    let mut finalized = 0.0f64;
    let bytes_per_second = behaviour.rate as usize * 4;
    loop {
        let message = match tokio::time::timeout(behaviour.idle, socket.next()).await {
            Err(_) => {
                // No data for too long: Deepgram's NET-0001.
                let _ = socket.close(None).await;
                return;
            }
            Ok(None | Some(Err(_))) => return,
            Ok(Some(Ok(message))) => message,
        };
        match message {
            Message::Binary(audio) => {
                origin.get_or_insert(match behaviour.marked {
                    true => f64::from(i16::from_le_bytes([audio[0], audio[1]])) / 50.0,
                    false => 0.0,
                });
                bytes += audio.len();
                let heard = bytes as f64 / bytes_per_second as f64;
                // Each whole second of audio is finalized for both channels.
                while heard >= finalized + 1.0 {
                    say(
                        &mut socket,
                        &behaviour.script,
                        origin.unwrap(),
                        finalized,
                        finalized + 1.0,
                    )
                    .await;
                    finalized += 1.0;
                }
                if first
                    && behaviour
                        .drop_first_after
                        .is_some_and(|after| heard >= after)
                {
                    // Abruptly: no close frame.
                    return;
                }
            }
            Message::Text(text) => {
                let control: serde_json::Value = serde_json::from_str(&text).unwrap();
                match control["type"].as_str() {
                    Some("KeepAlive") => seen.lock().unwrap().keep_alives += 1,
                    Some("CloseStream") => {
                        seen.lock().unwrap().close_streams += 1;
                        let heard = bytes as f64 / bytes_per_second as f64;
                        if heard > finalized {
                            say(
                                &mut socket,
                                &behaviour.script,
                                origin.unwrap_or(0.0),
                                finalized,
                                heard,
                            )
                            .await;
                        }
                        for channel in 0..2 {
                            let end = json!({ "type": "UtteranceEnd", "channel": [channel, 2], "last_word_end": heard });
                            socket.send(Message::text(end.to_string())).await.unwrap();
                        }
                        let metadata = json!({ "type": "Metadata", "transaction_key": "deprecated", "request_id": "r",
                            "sha256": "0", "created": "2026-12-07T00:00:00Z", "duration": heard, "channels": 2 });
                        socket
                            .send(Message::text(metadata.to_string()))
                            .await
                            .unwrap();
                        let _ = socket.close(None).await;
                        return;
                    }
                    other => panic!("an unknown control message {other:?}"),
                }
            }
            _ => {}
        }
    }
}

/// The final results of socket seconds [from, to) for both channels: the script's words whose
/// call time falls there, in socket time.
async fn say<S>(socket: &mut S, script: &[Word], origin: f64, from: f64, to: f64)
where
    S: futures::Sink<Message> + Unpin,
    S::Error: std::fmt::Debug,
{
    for channel in 0..2 {
        let words: Vec<&Word> = script
            .iter()
            .filter(|w| w.channel == channel && w.start - origin >= from && w.start - origin < to)
            .collect();
        let transcript = words.iter().map(|w| w.text).collect::<Vec<_>>().join(" ");
        let result = json!({
            "type": "Results", "channel_index": [channel, 2], "start": from, "duration": to - from,
            "is_final": true, "speech_final": words.last().is_some_and(|w| w.pause_after),
            "channel": { "alternatives": [{ "transcript": transcript, "confidence": 0.9,
                "words": words.iter().map(|w| json!({ "word": w.text, "start": w.start - origin,
                    "end": w.end - origin, "confidence": 0.9, "punctuated_word": w.text })).collect::<Vec<_>>() }] },
            "metadata": { "request_id": "r", "model_uuid": "m", "model_info": { "name": "nova-3", "version": "1", "arch": "nova-3" } }
        });
        socket
            .send(Message::text(result.to_string()))
            .await
            .unwrap();
    }
}

/// `seconds` of two-channel audio from `from_frame`, each frame marked with its number.
pub fn audio(from_frame: usize, frames: usize) -> Vec<Vec<u8>> {
    (from_frame..from_frame + frames)
        .map(|n| {
            let mut frame = vec![0u8; FRAME_BYTES];
            frame[..2].copy_from_slice(&(n as i16).to_le_bytes());
            frame
        })
        .collect()
}
