//! The transcripts' events as the API shows them.

use comms_bus::decode_recorded;
use comms_events::call::{CallEvent, Sentiment, SentimentScope, Summarized};
use comms_eventstore::RecordedEvent;
use comms_proto::v1;
use uuid::Uuid;

/// The transcript its events tell, in the order recorded.
pub fn transcript(id: Uuid, events: &[RecordedEvent]) -> v1::Transcript {
    let mut transcript = v1::Transcript {
        call_id: id.to_string(),
        ..Default::default()
    };
    // The caller's trend, by the utterances each window covered.
    let mut windows: Vec<(u32, String)> = Vec::new();
    for event in events {
        transcript.updated_at = Some(comms_proto::time::to_timestamp(event.recorded_at));
        let Ok(event) = decode_recorded::<CallEvent>(event) else {
            continue;
        };
        match event {
            CallEvent::Utterance(u) => {
                transcript.language = u.language.as_str().to_owned();
                transcript.transcriber = enum_name(&u.transcriber);
                transcript.utterances.push(v1::TranscriptUtterance {
                    speaker: enum_name(&u.speaker),
                    text: u.text,
                    start_seconds: u.start_seconds,
                    end_seconds: u.end_seconds,
                    confidence: u.confidence,
                    sentiment: String::new(),
                });
            }
            CallEvent::Sentiment(s) if s.scope == SentimentScope::Window => {
                windows.push((s.utterances, s.label.as_str().to_owned()));
            }
            CallEvent::Sentiment(s) => transcript.sentiment = Some(sentiment(&s)),
            CallEvent::SentimentAlert(_) => transcript.sentiment_alerts += 1,
            // Its words were erased from the log with it: none to show.
            CallEvent::TranscriptDeleted(d) => {
                transcript.utterances.clear();
                transcript.deleted = Some(v1::TranscriptDeletion {
                    reason: enum_name(&d.reason),
                    deleted_by: d.deleted_by.unwrap_or_default(),
                    deleted_at: Some(comms_proto::time::to_timestamp(d.deleted_at)),
                });
            }
            CallEvent::Transcribed(t) => {
                transcript.complete = true;
                transcript.seconds = t.seconds;
                transcript.language = t.language.as_str().to_owned();
                transcript.transcriber = enum_name(&t.transcriber);
            }
            _ => {}
        }
    }
    for (n, utterance) in transcript.utterances.iter_mut().enumerate() {
        let said = n as u32 + 1;
        if let Some((_, label)) = windows.iter().rev().find(|(covered, _)| *covered <= said) {
            utterance.sentiment = label.clone();
        }
    }
    transcript
}

pub fn sentiment(s: &Sentiment) -> v1::TranscriptSentiment {
    v1::TranscriptSentiment {
        label: s.label.as_str().to_owned(),
        score: s.score,
        reason: s.reason.clone(),
        scorer: enum_name(&s.scorer),
        model: s.model.clone().unwrap_or_default(),
    }
}

pub fn summary(call: Uuid, s: Summarized) -> v1::CallSummary {
    v1::CallSummary {
        call_id: call.to_string(),
        summary: s.summary,
        suggested_disposition: s.suggested_disposition.unwrap_or_default(),
        summarizer: enum_name(&s.summarizer),
        model: s.model.unwrap_or_default(),
        language: s.language.as_str().to_owned(),
        written_at: Some(comms_proto::time::to_timestamp(s.at)),
    }
}

/// A snake_case enum's wire name (`caller`, `deepgram`, `openai`).
pub fn enum_name(value: &impl serde::Serialize) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

pub fn hit(h: crate::search::Hit) -> v1::TranscriptHit {
    v1::TranscriptHit {
        call_id: h.call_id.to_string(),
        speaker: h.speaker,
        text: h.text,
        language: h.language,
        said_at: Some(comms_proto::time::to_timestamp(h.said_at)),
        start_seconds: h.start_seconds,
    }
}

pub fn retention(r: crate::retention::Retention) -> v1::TranscriptRetention {
    v1::TranscriptRetention {
        days: r.days.unwrap_or(0),
        updated_at: r.updated_at.map(comms_proto::time::to_timestamp),
        updated_by: r.updated_by,
    }
}

pub fn sentiment_now(now: crate::current_sentiment::Now) -> v1::CallSentimentNow {
    v1::CallSentimentNow {
        call_id: now.call_id.to_string(),
        label: now.label,
        score: now.score,
        alerts: now.alerts,
        at: Some(comms_proto::time::to_timestamp(now.at)),
    }
}

pub fn note(n: crate::knowledge::Note) -> v1::KnowledgeNote {
    v1::KnowledgeNote {
        id: n.note_id.to_string(),
        title: n.title,
        body: n.body,
        language: n.language.unwrap_or_default(),
        keywords: n.keywords,
        updated_at: Some(comms_proto::time::to_timestamp(n.updated_at)),
        updated_by: n.updated_by,
    }
}

pub fn snippet(h: crate::knowledge::Heard) -> v1::KnowledgeSnippet {
    v1::KnowledgeSnippet {
        note_id: h.note_id.to_string(),
        title: h.title,
        body: h.body,
        heard: h.keyword,
    }
}
