//! One call's transcription: its parties' audio in, one utterance event at a time out, to the
//! call's transcript stream (`transcript-<call uuid>`), then `comms.call.transcribed` when its
//! audio ends. Utterances are redacted before they are recorded: nothing unredacted is stored
//! or published.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use comms_events::call::{CallEvent, Transcribed, Transcriber, Utterance};
use comms_eventstore::{EventStore, ExpectedVersion, StreamName};
use comms_proto::Language;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{error, warn};
use uuid::Uuid;

use crate::Speaker;
use crate::deepgram::{LiveTranscription, Options};
use crate::redact::Redactor;
use crate::stereo::Stereo;
use crate::utterances::Assembler;

/// Who the transcription service records its events as.
const ACTOR: &str = "system:transcription";

/// What every call's transcription shares.
pub struct Settings {
    pub store: EventStore,
    pub deepgram: Options,
    pub redactor: Redactor,
}

pub struct CallTranscription {
    stereo: Stereo,
    live: LiveTranscription,
    recorder: JoinHandle<u32>,
    settings: Arc<Settings>,
    org: String,
    call_id: Uuid,
    language: Language,
}

impl CallTranscription {
    pub fn start(
        settings: Arc<Settings>,
        org: &str,
        call_id: Uuid,
        language: Language,
        sample_rate: u32,
    ) -> Self {
        let (heard, mut hearing) = mpsc::unbounded_channel();
        let live = LiveTranscription::start(
            settings.deepgram.clone(),
            language.as_str(),
            sample_rate,
            heard,
        );
        let recorder = {
            let (settings, org) = (settings.clone(), org.to_owned());
            tokio::spawn(async move {
                let mut assembler = Assembler::new(language.as_str());
                let mut recorded = 0;
                while let Some(heard) = hearing.recv().await {
                    if let Some(utterance) = assembler.hear(heard) {
                        recorded += record(&settings, &org, call_id, language, utterance).await;
                    }
                }
                for utterance in assembler.finish() {
                    recorded += record(&settings, &org, call_id, language, utterance).await;
                }
                recorded
            })
        };
        Self {
            // A party is silent after two seconds without audio from them (their socket not
            // open yet), or thirty behind the other.
            stereo: Stereo::new(Duration::from_secs(2), sample_rate as usize * 30),
            live,
            recorder,
            settings,
            org: org.to_owned(),
            call_id,
            language,
        }
    }

    pub async fn hear(&mut self, speaker: Speaker, samples: &[i16]) {
        let now = Instant::now();
        self.stereo.push(speaker, samples, now);
        let audio = self.stereo.take(now);
        if !audio.is_empty() && self.live.send(audio).await.is_err() {
            warn!(call_id = %self.call_id, "the call's transcription has stopped; its audio is dropped");
        }
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
        let utterances = self.recorder.await.unwrap_or_default();
        let stream = StreamName::new("transcript", self.call_id);
        let transcribed = CallEvent::Transcribed(Transcribed {
            call_id: self.call_id,
            transcript: stream.as_str().to_owned(),
            utterances,
            seconds,
            language: self.language,
            transcriber: Transcriber::Deepgram,
            transcribed_at: Utc::now(),
        });
        append(&self.settings, &self.org, self.call_id, transcribed).await;
    }
}

/// Records one utterance, redacted; 1 when recorded.
async fn record(
    settings: &Settings,
    org: &str,
    call_id: Uuid,
    language: Language,
    utterance: crate::utterances::Utterance,
) -> u32 {
    let event = CallEvent::Utterance(Utterance {
        call_id,
        speaker: utterance.speaker,
        text: settings.redactor.redact(&utterance.text),
        start_seconds: utterance.start,
        end_seconds: utterance.end,
        confidence: utterance.confidence.clamp(0.0, 1.0),
        language,
        transcriber: Transcriber::Deepgram,
        at: Utc::now(),
    });
    u32::from(append(settings, org, call_id, event).await)
}

/// Appends to the call's transcript stream, in the order heard; whether it was recorded.
async fn append(settings: &Settings, org: &str, call_id: Uuid, event: CallEvent) -> bool {
    let stream = StreamName::new("transcript", call_id);
    let new = comms_bus::new_event(&event, ACTOR, Some(&call_id.to_string()));
    match settings
        .store
        .append(org, &stream, ExpectedVersion::Any, vec![new])
        .await
    {
        Ok(_) => true,
        Err(error) => {
            error!(%call_id, %error, event = event.event_type(), "the transcript could not be recorded");
            false
        }
    }
}
