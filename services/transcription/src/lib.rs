//! The transcription service's speech-to-text core: a call's audio as the carriers stream it
//! (Twilio Media Streams, Vonage's audio socket) made into one two-channel stream (the caller,
//! the agent), transcribed live by Deepgram over one socket per call, and assembled into
//! utterances with the numbers a caller should never see stored (card numbers, configured
//! patterns) redacted.
//!
//! ```text
//! carrier frames ─► media (decode) ─► stereo (interleave) ─► deepgram (live socket, reconnects)
//!                                                              │ segments
//!                                                              ▼
//!                                          utterances (assemble) ─► redact ─► utterance
//! ```

pub mod deepgram;
pub mod media;
pub mod redact;
pub mod stereo;
pub mod utterances;

/// Who is speaking: each is a channel of the call's audio (the caller 0, the agent 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Speaker {
    Caller,
    Agent,
}

impl Speaker {
    pub const ALL: [Speaker; 2] = [Speaker::Caller, Speaker::Agent];

    /// The speaker's channel in the two-channel stream.
    pub fn channel(self) -> usize {
        match self {
            Self::Caller => 0,
            Self::Agent => 1,
        }
    }

    pub fn of_channel(channel: usize) -> Option<Self> {
        Self::ALL.get(channel).copied()
    }
}
