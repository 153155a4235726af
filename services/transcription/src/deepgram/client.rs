//! The live client: one task per call owns the socket. Audio goes out as binary frames as it
//! comes; a socket silent for `keep_alive` is sent `KeepAlive`; the end is `CloseStream`, then
//! what Deepgram still had, then its close.
//!
//! A socket that drops mid-call is opened again and given the audio since the last final
//! result of either party (kept until both have a final past it), so nothing is lost. The new
//! socket's clock starts at that audio, so its times are moved onto the call's; what it hears
//! again of words already given is dropped, so nothing is given twice.

use std::collections::VecDeque;
use std::time::Duration;

use futures::{SinkExt as _, StreamExt as _};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tracing::{debug, warn};

use super::protocol::{CLOSE_STREAM, KEEP_ALIVE, Options, Results, ServerMessage, listen_url};
use crate::Speaker;

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The longest stretch of audio kept for a reconnect: beyond it the oldest goes (a party with
/// no final results for a minute says nothing worth replaying).
const MAX_REPLAY_SECONDS: f64 = 60.0;
/// How long Deepgram may take to finish after `CloseStream`.
const CLOSING_GRACE: Duration = Duration::from_secs(10);
/// Times closer than this are the same instant (Deepgram's times are milliseconds).
const EPSILON: f64 = 0.000_5;

/// A final stretch of one party's speech, in seconds from the call's first audio.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    pub speaker: Speaker,
    pub start: f64,
    pub end: f64,
    pub text: String,
    pub confidence: f64,
    /// Deepgram heard the party pause: their utterance ends here.
    pub speech_final: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Heard {
    Segment(Segment),
    /// Deepgram heard no more words from the party for a while after `last_word_end`.
    UtteranceEnd {
        speaker: Speaker,
        last_word_end: f64,
    },
}

/// How a call's transcription went.
#[derive(Debug, Clone, PartialEq)]
pub struct Finished {
    /// Seconds of audio sent.
    pub seconds: f64,
    /// Times the socket was opened again after it dropped.
    pub reconnects: u32,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum TranscriptionError {
    #[error("Deepgram could not be reached: {0}")]
    Unreachable(String),
    #[error("the call's transcription has ended")]
    Ended,
}

enum Input {
    Audio(Vec<u8>),
    Finish,
}

/// One call's live transcription.
pub struct LiveTranscription {
    input: mpsc::Sender<Input>,
    task: JoinHandle<Result<Finished, TranscriptionError>>,
}

impl LiveTranscription {
    /// Opens the call's socket (in the background: audio sent meanwhile waits for it) for a
    /// call in `language` at `sample_rate`; what Deepgram hears arrives on `heard`.
    pub fn start(
        options: Options,
        language: &str,
        sample_rate: u32,
        heard: mpsc::UnboundedSender<Heard>,
    ) -> Self {
        comms_runtime::http::install_tls_provider();
        let url = listen_url(&options, language, sample_rate);
        // Two channels of 16-bit samples.
        let bytes_per_second = f64::from(sample_rate) * 4.0;
        let joins_words = !matches!(language, "zh" | "ja");
        // 20 s of 20 ms frames: the call's audio waits, rather than is lost, while a socket
        // is opened again.
        let (input, receiver) = mpsc::channel(1_000);
        let call = Call {
            options,
            url,
            bytes_per_second,
            joins_words,
            heard,
            origin: 0.0,
            received: 0,
            replay: VecDeque::new(),
            finals_end: [0.0; 2],
            reconnects: 0,
        };
        Self {
            input,
            task: tokio::spawn(call.run(receiver)),
        }
    }

    /// Sends interleaved two-channel audio (see [`crate::stereo`]).
    pub async fn send(&self, audio: Vec<u8>) -> Result<(), TranscriptionError> {
        self.input
            .send(Input::Audio(audio))
            .await
            .map_err(|_| TranscriptionError::Ended)
    }

    /// Ends the call's audio and waits for Deepgram's last results.
    pub async fn finish(self) -> Result<Finished, TranscriptionError> {
        let _ = self.input.send(Input::Finish).await;
        self.task.await.map_err(|_| TranscriptionError::Ended)?
    }
}

struct Call {
    options: Options,
    url: String,
    bytes_per_second: f64,
    /// Words are joined with spaces, but in Chinese and Japanese.
    joins_words: bool,
    heard: mpsc::UnboundedSender<Heard>,
    /// Where the current socket's clock starts, in the call's seconds.
    origin: f64,
    /// Bytes of audio received so far (counted, not summed in seconds, so times stay exact).
    received: u64,
    /// The audio since the last final result both parties have, with the byte each starts at.
    replay: VecDeque<(u64, Vec<u8>)>,
    /// Where each party's last final result ends.
    finals_end: [f64; 2],
    reconnects: u32,
}

impl Call {
    async fn run(
        mut self,
        mut input: mpsc::Receiver<Input>,
    ) -> Result<Finished, TranscriptionError> {
        let mut socket = self.open().await?;
        let mut keep_alive = tokio::time::interval(self.options.keep_alive);
        let mut last_sent = Instant::now();
        let mut closing: Option<Instant> = None;
        loop {
            tokio::select! {
                next = input.recv(), if closing.is_none() => match next {
                    Some(Input::Audio(audio)) => {
                        let start = self.received;
                        self.received += audio.len() as u64;
                        self.replay.push_back((start, audio.clone()));
                        self.bound_replay();
                        // A failed send shows as the socket's end, read below.
                        let _ = socket.send(Message::Binary(audio.into())).await;
                        last_sent = Instant::now();
                    }
                    Some(Input::Finish) | None => {
                        let _ = socket.send(Message::text(CLOSE_STREAM)).await;
                        closing = Some(Instant::now() + CLOSING_GRACE);
                    }
                },
                message = socket.next() => match message {
                    Some(Ok(Message::Text(text))) => self.hear(&text),
                    Some(Ok(Message::Close(frame))) if closing.is_some() => {
                        debug!(?frame, "Deepgram closed the call's socket");
                        return Ok(self.finished());
                    }
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => {
                        warn!(seconds = self.seconds(self.received), "the call's Deepgram socket dropped; opening it again");
                        socket = self.reopen().await?;
                        if closing.is_some() {
                            let _ = socket.send(Message::text(CLOSE_STREAM)).await;
                        }
                        last_sent = Instant::now();
                    }
                    Some(Ok(_)) => {}
                },
                _ = keep_alive.tick(), if closing.is_none() => {
                    if last_sent.elapsed() >= self.options.keep_alive {
                        let _ = socket.send(Message::text(KEEP_ALIVE)).await;
                        last_sent = Instant::now();
                    }
                }
                _ = tokio::time::sleep_until(closing.unwrap_or_else(Instant::now)), if closing.is_some() => {
                    warn!("Deepgram did not close the call's socket after CloseStream");
                    return Ok(self.finished());
                }
            }
        }
    }

    fn finished(&self) -> Finished {
        Finished {
            seconds: self.seconds(self.received),
            reconnects: self.reconnects,
        }
    }

    async fn connect(&self) -> Result<Socket, String> {
        let mut request = self
            .url
            .as_str()
            .into_client_request()
            .map_err(|e| e.to_string())?;
        let token = format!("Token {}", self.options.api_key)
            .parse()
            .map_err(|_| "DEEPGRAM_API_KEY is not a valid header value".to_owned())?;
        request.headers_mut().insert("authorization", token);
        let (socket, _) = tokio_tungstenite::connect_async(request)
            .await
            .map_err(|e| e.to_string())?;
        Ok(socket)
    }

    /// The first socket, tried as a dropped one is.
    async fn open(&mut self) -> Result<Socket, TranscriptionError> {
        match self.connect().await {
            Ok(socket) => Ok(socket),
            Err(error) => {
                warn!(%error, "Deepgram did not open the call's socket; trying again");
                self.reopen().await
            }
        }
    }

    /// A new socket, given the audio since the last final result of both parties.
    async fn reopen(&mut self) -> Result<Socket, TranscriptionError> {
        let mut last_error = String::new();
        for pause in self.options.reconnect_pauses.clone() {
            tokio::time::sleep(pause).await;
            match self.replayed().await {
                Ok(socket) => {
                    self.reconnects += 1;
                    return Ok(socket);
                }
                Err(error) => last_error = error,
            }
        }
        Err(TranscriptionError::Unreachable(last_error))
    }

    /// A socket given the audio kept for a reconnect; its clock starts there.
    async fn replayed(&mut self) -> Result<Socket, String> {
        let mut socket = self.connect().await?;
        let start = self
            .replay
            .front()
            .map_or(self.received, |(start, _)| *start);
        self.origin = self.seconds(start);
        for (_, audio) in &self.replay {
            socket
                .send(Message::Binary(audio.clone().into()))
                .await
                .map_err(|e| e.to_string())?;
        }
        Ok(socket)
    }

    fn hear(&mut self, text: &str) {
        let message = match serde_json::from_str::<ServerMessage>(text) {
            Ok(message) => message,
            Err(error) => {
                warn!(%error, "a message from Deepgram that does not parse");
                return;
            }
        };
        match message {
            ServerMessage::Results(results) if results.is_final => self.final_result(results),
            ServerMessage::UtteranceEnd(end) => {
                if let Some(speaker) = end.channel.first().and_then(|c| crate::speaker_of(*c)) {
                    let _ = self.heard.send(Heard::UtteranceEnd {
                        speaker,
                        last_word_end: self.origin + end.last_word_end,
                    });
                }
            }
            _ => {}
        }
    }

    fn final_result(&mut self, results: Results) {
        let Some(speaker) = results
            .channel_index
            .first()
            .and_then(|c| crate::speaker_of(*c))
        else {
            return;
        };
        let channel = crate::channel(speaker);
        let (start, end) = (
            self.origin + results.start,
            self.origin + results.start + results.duration,
        );
        let heard_up_to = self.finals_end[channel];
        if end <= heard_up_to + EPSILON {
            // Heard before the socket dropped.
            return;
        }
        self.finals_end[channel] = end;
        self.trim_replay();
        let Some(best) = results.channel.alternatives.first() else {
            return;
        };
        // Straddling what was heard before: only the words after it are new.
        let (start, text) = if start + EPSILON < heard_up_to {
            let words: Vec<&super::protocol::Word> = best
                .words
                .iter()
                .filter(|w| self.origin + w.start + EPSILON >= heard_up_to)
                .collect();
            let Some(first) = words.first() else {
                return;
            };
            let separator = if self.joins_words { " " } else { "" };
            let text = words
                .iter()
                .map(|w| w.punctuated_word.as_deref().unwrap_or(&w.word))
                .collect::<Vec<_>>()
                .join(separator);
            (self.origin + first.start, text)
        } else {
            (start, best.transcript.trim().to_owned())
        };
        if text.is_empty() && !results.speech_final {
            return;
        }
        let _ = self.heard.send(Heard::Segment(Segment {
            speaker,
            start,
            end,
            text,
            confidence: best.confidence,
            speech_final: results.speech_final,
        }));
    }

    /// Frames both parties' final results have passed are no longer needed.
    fn trim_replay(&mut self) {
        let both_heard = self.finals_end[0].min(self.finals_end[1]);
        while let Some((start, audio)) = self.replay.front() {
            if self.seconds(start + audio.len() as u64) > both_heard + EPSILON {
                break;
            }
            self.replay.pop_front();
        }
    }

    fn bound_replay(&mut self) {
        while let Some((start, _)) = self.replay.front() {
            if self.seconds(self.received - start) <= MAX_REPLAY_SECONDS {
                break;
            }
            self.replay.pop_front();
        }
    }

    /// Bytes of two-channel audio as seconds.
    fn seconds(&self, bytes: u64) -> f64 {
        bytes as f64 / self.bytes_per_second
    }
}
