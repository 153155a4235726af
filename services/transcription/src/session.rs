//! One call's transcription: its parties' audio in, one utterance event at a time out, to the
//! call's transcript stream (`transcript-<call uuid>`), then `comms.call.transcribed` when its
//! audio ends. Utterances are redacted before they are recorded: nothing unredacted is stored
//! or published. The caller's sentiment is judged beside it (`sentiment`), in the same stream.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use comms_events::call::{CallEvent, Summarized, Transcribed, Transcriber, Utterance};
use comms_eventstore::{EventStore, StreamName};
use comms_proto::Language;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{error, warn};
use uuid::Uuid;

use crate::Speaker;
use crate::assist::Assistant;
use crate::deepgram::{LiveTranscription, Options};
use crate::redact::Redactor;
use crate::sentiment::{CallSentiment, Scorer};
use crate::stereo::Stereo;
use crate::utterances::Assembler;

/// Who the transcription service records its events as.
pub(crate) const ACTOR: &str = "system:transcription";

/// What every call's transcription shares, whatever transcribes it.
pub struct Settings {
    pub store: EventStore,
    pub redactor: Redactor,
    pub sentiment: Scorer,
    pub assistant: Assistant,
}

pub struct CallTranscription {
    stereo: Stereo,
    live: LiveTranscription,
    recorder: JoinHandle<Transcript>,
    call_id: Uuid,
    /// Bytes of two-channel audio sent, and when each send went.
    sent: u64,
    bytes_per_second: f64,
    clock: AudioClock,
}

impl CallTranscription {
    pub fn start(
        settings: Arc<Settings>,
        deepgram: &Options,
        org: &str,
        call_id: Uuid,
        language: Language,
        sample_rate: u32,
    ) -> Self {
        let (heard, mut hearing) = mpsc::unbounded_channel();
        let live =
            LiveTranscription::start(deepgram.clone(), language.as_str(), sample_rate, heard);
        let clock = AudioClock::default();
        let recorder = {
            let org = org.to_owned();
            let clock = clock.clone();
            tokio::spawn(async move {
                let mut transcript =
                    Transcript::new(settings, &org, call_id, language, Transcriber::Deepgram);
                transcript.clock = Some(clock);
                while let Some(heard) = hearing.recv().await {
                    transcript.hear(heard).await;
                }
                transcript
            })
        };
        Self {
            // A party is silent after two seconds without audio from them (their socket not
            // open yet), or thirty behind the other.
            stereo: Stereo::new(Duration::from_secs(2), sample_rate as usize * 30),
            live,
            recorder,
            call_id,
            sent: 0,
            bytes_per_second: f64::from(sample_rate) * 4.0,
            clock,
        }
    }

    pub async fn hear(&mut self, speaker: Speaker, samples: &[i16]) {
        let now = Instant::now();
        self.stereo.push(speaker, samples, now);
        let audio = self.stereo.take(now);
        if audio.is_empty() {
            return;
        }
        let bytes = audio.len() as u64;
        if self.live.send(audio).await.is_err() {
            warn!(call_id = %self.call_id, "the call's transcription has stopped; its audio is dropped");
            return;
        }
        self.sent += bytes;
        self.clock
            .sent(self.sent as f64 / self.bytes_per_second, now);
    }

    /// The call's audio ended: the last utterances, then `comms.call.transcribed`.
    pub async fn finish(mut self) {
        let rest = self.stereo.finish();
        if !rest.is_empty() {
            let _ = self.live.send(rest).await;
        }
        let seconds = match self.live.finish().await {
            Ok(finished) => finished.seconds,
            Err(error) => {
                error!(call_id = %self.call_id, %error, "the call's transcription failed");
                0.0
            }
        };
        match self.recorder.await {
            Ok(transcript) => transcript.complete(seconds).await,
            Err(error) => error!(call_id = %self.call_id, %error, "the call's transcript was lost"),
        }
    }
}

/// A call's transcript as it is heard: segments assembled into utterances, each redacted and
/// recorded as it ends, the caller's sentiment judged beside them; at the end the wrap-up
/// summary, then `comms.call.transcribed`. Every transcriber records through it.
pub struct Transcript {
    recorder: Recorder,
    language: Language,
    transcriber: Transcriber,
    assembler: Assembler,
    sentiment: CallSentiment,
    /// When the call's audio arrived (Deepgram's), to time each utterance from its last audio.
    clock: Option<AudioClock>,
    /// What was said, redacted, for the wrap-up summary.
    said: Vec<(Speaker, String)>,
    recorded: u32,
}

impl Transcript {
    pub fn new(
        settings: Arc<Settings>,
        org: &str,
        call_id: Uuid,
        language: Language,
        transcriber: Transcriber,
    ) -> Self {
        let recorder = Recorder {
            settings,
            org: org.to_owned(),
            call_id,
        };
        Self {
            sentiment: CallSentiment::start(recorder.clone(), language),
            recorder,
            language,
            transcriber,
            assembler: Assembler::new(language.as_str()),
            clock: None,
            said: Vec::new(),
            recorded: 0,
        }
    }

    pub async fn hear(&mut self, heard: crate::deepgram::Heard) {
        if let Some(utterance) = self.assembler.hear(heard) {
            self.record(utterance).await;
        }
    }

    /// The call's audio ended after `seconds`: what was still being said, the caller's
    /// sentiment in the whole call, the wrap-up summary, then `comms.call.transcribed`.
    pub async fn complete(mut self, seconds: f64) {
        for utterance in self.assembler.finish() {
            self.record(utterance).await;
        }
        self.sentiment.finish().await;
        let call_id = self.recorder.call_id;
        let assistant = &self.recorder.settings().assistant;
        if let Some(summary) = assistant.summarize(self.language, &self.said).await {
            let summarized = CallEvent::Summarized(Summarized {
                call_id,
                summary: summary.text,
                suggested_disposition: summary.suggested_disposition,
                summarizer: summary.summarizer,
                model: summary.model,
                language: self.language,
                at: Utc::now(),
            });
            self.recorder.record(summarized).await;
        }
        let transcribed = CallEvent::Transcribed(Transcribed {
            call_id,
            transcript: StreamName::new("transcript", call_id).as_str().to_owned(),
            utterances: self.recorded,
            seconds,
            language: self.language,
            transcriber: self.transcriber,
            transcribed_at: Utc::now(),
        });
        self.recorder.record(transcribed).await;
    }

    /// Records one utterance, redacted.
    async fn record(&mut self, utterance: crate::utterances::Utterance) {
        let text = self.recorder.settings.redactor.redact(&utterance.text);
        let event = CallEvent::Utterance(Utterance {
            call_id: self.recorder.call_id,
            speaker: utterance.speaker,
            text: text.clone(),
            start_seconds: utterance.start,
            end_seconds: utterance.end,
            confidence: utterance.confidence.clamp(0.0, 1.0),
            language: self.language,
            transcriber: self.transcriber,
            at: Utc::now(),
        });
        if self.recorder.record(event).await {
            if let Some(arrived) = self.clock.as_ref().and_then(|c| c.when(utterance.end)) {
                metrics::histogram!("comms_transcription_latency_seconds")
                    .record(arrived.elapsed().as_secs_f64());
            }
            self.recorded += 1;
            self.sentiment.said(utterance.speaker, &text, self.recorded);
            self.said.push((utterance.speaker, text));
        }
    }
}

/// When a call's audio was sent to be transcribed: how far into the call each send reached, and
/// when. An utterance's latency runs from the arrival of its last audio to its recording.
#[derive(Clone, Default)]
struct AudioClock(Arc<std::sync::Mutex<std::collections::VecDeque<(f64, Instant)>>>);

impl AudioClock {
    /// Sends kept: a minute of 20 ms frames.
    const KEPT: usize = 3_000;

    fn sent(&self, through: f64, at: Instant) {
        let mut sends = self.0.lock().expect("not poisoned");
        sends.push_back((through, at));
        if sends.len() > Self::KEPT {
            sends.pop_front();
        }
    }

    /// When the audio up to `seconds` into the call had been sent.
    fn when(&self, seconds: f64) -> Option<Instant> {
        let sends = self.0.lock().expect("not poisoned");
        sends
            .iter()
            .find(|(through, _)| *through + 1e-3 >= seconds)
            .map(|(_, at)| *at)
    }
}

/// Records a call's events in its transcript stream.
#[derive(Clone)]
pub struct Recorder {
    settings: Arc<Settings>,
    org: String,
    call_id: Uuid,
}

impl Recorder {
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn call_id(&self) -> Uuid {
        self.call_id
    }

    /// Appends to the call's transcript stream, in the order heard, unless the transcript was
    /// deleted meanwhile; whether it was recorded.
    pub async fn record(&self, event: CallEvent) -> bool {
        let call_id = self.call_id;
        let new = comms_bus::new_event(&event, ACTOR, Some(&call_id.to_string()));
        let store = &self.settings.store;
        match crate::retention::recorded_unless_deleted(store, &self.org, call_id, new).await {
            Ok(true) => true,
            Ok(false) => {
                tracing::info!(%call_id, event = event.event_type(), "the transcript was deleted: not recorded");
                false
            }
            Err(error) => {
                error!(%call_id, %error, event = event.event_type(), "the transcript could not be recorded");
                false
            }
        }
    }
}
