//! The caller's sentiment through a call: each window of their latest utterances judged as they
//! are said (by OpenAI, or the built-in lexicon), recorded when its label changes, an alert when
//! it turns negative (once per turn), and the whole call's when its transcript completes.
//!
//! Judging runs beside the transcript, never in its way: an utterance is recorded before its
//! window is judged, and windows said while OpenAI is answering are judged together, as one.

pub mod lexicon;
pub mod openai;

use chrono::Utc;
use comms_events::call::{
    CallEvent, Sentiment, SentimentAlert, SentimentLabel, SentimentScope, SentimentScorer,
};
use comms_proto::Language;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::warn;

use crate::Speaker;
use crate::session::Recorder;
pub use openai::{OpenAi, OpenAiError, OpenAiOptions};

/// The caller's utterances a window holds.
pub const WINDOW: usize = 3;

/// The most of a call's caller text sent to be judged as a whole: its last 8,000 characters.
const CALL_TEXT: usize = 8_000;

/// The longest reason an event carries, in characters.
const REASON: usize = 500;

/// What judges sentiment: OpenAI's model with the lexicon to fall back on, or the lexicon alone.
pub enum Scorer {
    OpenAi(OpenAi),
    Lexicon,
}

/// A judgement, and what made it.
#[derive(Debug, Clone, PartialEq)]
pub struct Judgement {
    pub label: SentimentLabel,
    pub score: f64,
    pub reason: String,
    pub scorer: SentimentScorer,
    pub model: Option<String>,
}

impl Scorer {
    /// The caller's sentiment in `text`. When OpenAI cannot say (refused, cut off, rate limited,
    /// unreachable), the lexicon judges, and its reason says why.
    pub async fn judge(&self, language: Language, text: &str) -> Judgement {
        let failure = match self {
            Self::Lexicon => None,
            Self::OpenAi(openai) => match openai.judge(language, text).await {
                Ok(verdict) => {
                    return Judgement {
                        label: verdict.label,
                        score: verdict.score,
                        reason: clip(&verdict.reason, REASON),
                        scorer: SentimentScorer::Openai,
                        model: Some(clip(openai.model(), 100)),
                    };
                }
                Err(error) => {
                    warn!(%error, "sentiment judged by the lexicon instead");
                    Some(error)
                }
            },
        };
        let reading = lexicon::read(language, text);
        let reason = match failure {
            Some(error) => format!("{error}; {}", reading.reason),
            None => reading.reason,
        };
        Judgement {
            label: reading.label,
            score: reading.score,
            reason: clip(&reason, REASON),
            scorer: SentimentScorer::Lexicon,
            model: None,
        }
    }
}

/// The first `max` characters of `text`.
fn clip(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

/// One call's sentiment, judged as its utterances are recorded.
pub struct CallSentiment {
    said: mpsc::UnboundedSender<Said>,
    judging: JoinHandle<()>,
}

struct Said {
    speaker: Speaker,
    text: String,
    /// The transcript's utterances recorded, this one included.
    utterances: u32,
}

impl CallSentiment {
    pub fn start(recorder: Recorder, language: Language) -> Self {
        let (said, hearing) = mpsc::unbounded_channel();
        let judging = tokio::spawn(follow(recorder, language, hearing));
        Self { said, judging }
    }

    /// An utterance was recorded, the transcript's `utterances`th.
    pub fn said(&self, speaker: Speaker, text: &str, utterances: u32) {
        let _ = self.said.send(Said {
            speaker,
            text: text.to_owned(),
            utterances,
        });
    }

    /// The transcript is complete: the windows still to judge, then the whole call's sentiment.
    pub async fn finish(self) {
        drop(self.said);
        if let Err(error) = self.judging.await {
            warn!(%error, "the call's sentiment was lost");
        }
    }
}

async fn follow(
    recorder: Recorder,
    language: Language,
    mut hearing: mpsc::UnboundedReceiver<Said>,
) {
    let scorer = &recorder.settings().sentiment;
    let mut caller: Vec<String> = Vec::new();
    let mut utterances = 0;
    let mut trend: Option<SentimentLabel> = None;
    while let Some(first) = hearing.recv().await {
        // What was said while the last window was judged is judged with this one.
        let mut caller_spoke = false;
        let mut next = Some(first);
        while let Some(said) = next {
            utterances = said.utterances;
            if said.speaker == Speaker::Caller {
                caller.push(said.text);
                caller_spoke = true;
            }
            next = hearing.try_recv().ok();
        }
        if !caller_spoke {
            continue;
        }
        let window = caller[caller.len().saturating_sub(WINDOW)..].join("\n");
        let judged = scorer.judge(language, &window).await;
        if trend == Some(judged.label) {
            continue;
        }
        let turned_negative = judged.label == SentimentLabel::Negative;
        trend = Some(judged.label);
        let recorded = recorder
            .record(sentiment(
                &recorder,
                SentimentScope::Window,
                &judged,
                utterances,
                language,
            ))
            .await;
        if recorded && turned_negative {
            metrics::counter!("comms_sentiment_negative_total").increment(1);
            let alert = CallEvent::SentimentAlert(SentimentAlert {
                call_id: recorder.call_id(),
                score: judged.score,
                reason: judged.reason.clone(),
                scorer: judged.scorer,
                utterances,
                at: Utc::now(),
            });
            recorder.record(alert).await;
        }
    }
    if caller.is_empty() {
        return;
    }
    let whole = caller.join("\n");
    let start = whole
        .char_indices()
        .rev()
        .nth(CALL_TEXT - 1)
        .map_or(0, |(i, _)| i);
    let judged = scorer.judge(language, &whole[start..]).await;
    recorder
        .record(sentiment(
            &recorder,
            SentimentScope::Call,
            &judged,
            utterances,
            language,
        ))
        .await;
}

fn sentiment(
    recorder: &Recorder,
    scope: SentimentScope,
    judged: &Judgement,
    utterances: u32,
    language: Language,
) -> CallEvent {
    CallEvent::Sentiment(Sentiment {
        call_id: recorder.call_id(),
        scope,
        label: judged.label,
        score: judged.score,
        reason: judged.reason.clone(),
        scorer: judged.scorer,
        model: judged.model.clone(),
        utterances,
        language,
        at: Utc::now(),
    })
}
