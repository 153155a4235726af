//! What the transcript tests build their calls from: a call's first event (whose agent decides
//! who reaches its transcript), the session's settings, and a party's turn as Deepgram finalizes
//! it.

use std::sync::Arc;

use comms_events::call::{CallEvent, Direction, Started};
use comms_eventstore::{EventStore, ExpectedVersion, StreamName};
use comms_proto::{Language, PhoneNumber};
use comms_transcription::Speaker;
use comms_transcription::assist::Assistant;
use comms_transcription::deepgram::{Heard, Segment};
use comms_transcription::redact::Redactor;
use comms_transcription::sentiment::Scorer;
use comms_transcription::session::Settings;
use uuid::Uuid;

/// Records that `org`'s call started with `agent`, as the calls service does.
pub async fn started(store: &EventStore, org: &str, call: Uuid, agent: Uuid) {
    let started = CallEvent::Started(Started {
        call_id: call,
        direction: Direction::Inbound,
        to: PhoneNumber::parse("+14155550100").unwrap(),
        from: None,
        agent_id: Some(agent),
        campaign_id: None,
        language: Language::En,
        started_at: chrono::Utc::now(),
        detect_machines: false,
        recording: Default::default(),
        ivr_flow: None,
        announcement: None,
    });
    store
        .append(
            org,
            &StreamName::new("call", call),
            ExpectedVersion::Any,
            vec![comms_bus::new_event(&started, "test", None)],
        )
        .await
        .unwrap();
}

/// A session's settings on `store`, redacting card numbers only.
pub fn settings(store: EventStore, sentiment: Scorer, assistant: Assistant) -> Arc<Settings> {
    Arc::new(Settings {
        store,
        redactor: Redactor::new::<&str>(&[]).unwrap(),
        sentiment,
        assistant,
    })
}

/// The `n`th turn of a call, three seconds apart, final and followed by a pause.
pub fn said(n: usize, speaker: Speaker, text: &str) -> Heard {
    Heard::Segment(Segment {
        speaker,
        start: n as f64 * 3.0,
        end: n as f64 * 3.0 + 2.5,
        text: text.into(),
        confidence: 0.9,
        speech_final: true,
    })
}
