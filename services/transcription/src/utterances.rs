//! Utterances from Deepgram's final segments: a party's segments are joined until Deepgram
//! hears them pause (`speech_final`) or stop (`UtteranceEnd`), whichever comes first
//! (Deepgram's advice: endpointing alone misses ends in noise, `UtteranceEnd` alone is late).

use crate::Speaker;
use crate::deepgram::{Heard, Segment};

/// One party's whole turn, in seconds from the call's first audio.
#[derive(Debug, Clone, PartialEq)]
pub struct Utterance {
    pub speaker: Speaker,
    pub start: f64,
    pub end: f64,
    pub text: String,
    /// The segments' confidence, weighted by their length.
    pub confidence: f64,
}

/// Segments waiting for their utterance's end, per party.
pub struct Assembler {
    pending: [Vec<Segment>; 2],
    separator: &'static str,
}

impl Assembler {
    /// For a call in `language`: words are joined with spaces, but in Chinese and Japanese.
    pub fn new(language: &str) -> Self {
        Self {
            pending: [Vec::new(), Vec::new()],
            separator: if matches!(language, "zh" | "ja") {
                ""
            } else {
                " "
            },
        }
    }

    /// The utterance `heard` ends, if it ends one.
    pub fn hear(&mut self, heard: Heard) -> Option<Utterance> {
        match heard {
            Heard::Segment(segment) => {
                let (speaker, ends) = (segment.speaker, segment.speech_final);
                if !segment.text.is_empty() {
                    self.pending[crate::channel(speaker)].push(segment);
                }
                if ends { self.take(speaker) } else { None }
            }
            Heard::UtteranceEnd { speaker, .. } => self.take(speaker),
        }
    }

    /// What each party has said and not finished (the call ended), in the order said.
    pub fn finish(&mut self) -> Vec<Utterance> {
        let mut left: Vec<Utterance> = crate::SPEAKERS
            .into_iter()
            .filter_map(|s| self.take(s))
            .collect();
        left.sort_by(|a, b| a.start.total_cmp(&b.start));
        left
    }

    fn take(&mut self, speaker: Speaker) -> Option<Utterance> {
        let segments = std::mem::take(&mut self.pending[crate::channel(speaker)]);
        let (first, last) = (segments.first()?, segments.last()?);
        let length: f64 = segments.iter().map(|s| s.end - s.start).sum();
        let confidence = if length > 0.0 {
            segments
                .iter()
                .map(|s| s.confidence * (s.end - s.start))
                .sum::<f64>()
                / length
        } else {
            segments.iter().map(|s| s.confidence).sum::<f64>() / segments.len() as f64
        };
        Some(Utterance {
            speaker,
            start: first.start,
            end: last.end,
            text: segments
                .iter()
                .map(|s| s.text.as_str())
                .collect::<Vec<_>>()
                .join(self.separator),
            confidence,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment(speaker: Speaker, start: f64, end: f64, text: &str, speech_final: bool) -> Heard {
        Heard::Segment(Segment {
            speaker,
            start,
            end,
            text: text.into(),
            confidence: if speaker == Speaker::Caller { 0.9 } else { 0.6 },
            speech_final,
        })
    }

    #[test]
    fn segments_join_until_the_party_pauses_or_stops() {
        let mut assembler = Assembler::new("en");
        assert_eq!(
            assembler.hear(segment(Speaker::Caller, 0.0, 1.0, "I would like", false)),
            None
        );
        // The agent's words do not end the caller's.
        assert_eq!(
            assembler.hear(segment(Speaker::Agent, 0.5, 1.5, "Sure", false)),
            None
        );
        let caller = assembler
            .hear(segment(Speaker::Caller, 1.0, 3.0, "to pay my bill.", true))
            .unwrap();
        assert_eq!(
            (caller.text.as_str(), caller.start, caller.end),
            ("I would like to pay my bill.", 0.0, 3.0)
        );
        assert!((caller.confidence - 0.9).abs() < 1e-9);
        // No pause heard, but UtteranceEnd: the agent's turn is over.
        let agent = assembler
            .hear(Heard::UtteranceEnd {
                speaker: Speaker::Agent,
                last_word_end: 1.5,
            })
            .unwrap();
        assert_eq!(agent.text, "Sure");
        // Both fired: the second finds nothing.
        assert_eq!(
            assembler.hear(Heard::UtteranceEnd {
                speaker: Speaker::Caller,
                last_word_end: 3.0
            }),
            None
        );
        assert_eq!(
            assembler.hear(segment(Speaker::Caller, 3.0, 3.2, "", true)),
            None
        );
    }

    #[test]
    fn chinese_and_japanese_join_without_spaces_and_the_end_gives_what_is_left() {
        let mut assembler = Assembler::new("ja");
        assembler.hear(segment(Speaker::Agent, 2.0, 3.0, "お電話", false));
        assembler.hear(segment(Speaker::Caller, 1.0, 2.0, "もしもし", false));
        assembler.hear(segment(
            Speaker::Agent,
            3.0,
            4.0,
            "ありがとうございます",
            false,
        ));
        let left = assembler.finish();
        assert_eq!(left.len(), 2);
        assert_eq!(
            (left[0].speaker, left[0].text.as_str()),
            (Speaker::Caller, "もしもし")
        );
        assert_eq!(left[1].text, "お電話ありがとうございます");
        assert!(assembler.finish().is_empty());
    }
}
