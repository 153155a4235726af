//! Deepgram's live speech to text: one socket per call, both parties as two channels
//! (<https://developers.deepgram.com/reference/speech-to-text-api/listen-streaming>).

mod client;
mod protocol;

pub use client::{Finished, Heard, LiveTranscription, Segment, TranscriptionError};
pub use protocol::{Options, ServerMessage, Word, listen_url};
