//! The call's two parties as one two-channel stream (the caller on channel 0, the agent on 1),
//! as Deepgram transcribes them over one socket (`multichannel=true&channels=2`): samples
//! interleaved, 16-bit little-endian.
//!
//! The parties' audio arrives separately (Twilio's tracks, Vonage's sockets). Samples leave in
//! pairs; a party that falls silent on the wire (a socket not open yet, a track that stopped)
//! is filled with silence once the other is `max_lag` ahead, so the stream never waits on it.

use std::collections::VecDeque;

use crate::Speaker;

pub struct Stereo {
    queues: [VecDeque<i16>; 2],
    max_lag: usize,
}

impl Stereo {
    /// `max_lag`: how many samples one party may run ahead before the other is filled.
    pub fn new(max_lag: usize) -> Self {
        Self {
            queues: [VecDeque::new(), VecDeque::new()],
            max_lag,
        }
    }

    pub fn push(&mut self, speaker: Speaker, samples: &[i16]) {
        self.queues[speaker.channel()].extend(samples);
    }

    /// The interleaved audio both parties have given, as little-endian bytes (empty when there
    /// is none yet).
    pub fn take(&mut self) -> Vec<u8> {
        let [caller, agent] = &self.queues;
        let (long, short) = if caller.len() >= agent.len() {
            (0, 1)
        } else {
            (1, 0)
        };
        let lag = self.queues[long].len() - self.queues[short].len();
        if lag > self.max_lag {
            self.queues[short].extend(std::iter::repeat_n(0, lag - self.max_lag));
        }
        let pairs = self.queues[0].len().min(self.queues[1].len());
        self.drain(pairs)
    }

    /// Everything left, the shorter party filled with silence.
    pub fn finish(&mut self) -> Vec<u8> {
        let pairs = self.queues[0].len().max(self.queues[1].len());
        for queue in &mut self.queues {
            queue.resize(pairs, 0);
        }
        self.drain(pairs)
    }

    fn drain(&mut self, pairs: usize) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(pairs * 4);
        let [caller, agent] = &mut self.queues;
        for (c, a) in caller.drain(..pairs).zip(agent.drain(..pairs)) {
            bytes.extend(c.to_le_bytes());
            bytes.extend(a.to_le_bytes());
        }
        bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples(bytes: &[u8]) -> Vec<i16> {
        bytes
            .chunks_exact(2)
            .map(|p| i16::from_le_bytes([p[0], p[1]]))
            .collect()
    }

    #[test]
    fn the_parties_leave_in_pairs_caller_first() {
        let mut stereo = Stereo::new(100);
        stereo.push(Speaker::Caller, &[1, 2, 3]);
        assert!(stereo.take().is_empty(), "the agent has given nothing yet");
        stereo.push(Speaker::Agent, &[-1, -2]);
        assert_eq!(samples(&stereo.take()), [1, -1, 2, -2]);
        assert_eq!(samples(&stereo.finish()), [3, 0]);
    }

    #[test]
    fn a_silent_party_is_filled_once_the_other_is_too_far_ahead() {
        let mut stereo = Stereo::new(2);
        stereo.push(Speaker::Agent, &[5, 6, 7, 8, 9]);
        // Three ahead of a lag of two: one sample of silence for the caller.
        assert_eq!(samples(&stereo.take()), [0, 5, 0, 6, 0, 7]);
        stereo.push(Speaker::Caller, &[1, 2]);
        assert_eq!(samples(&stereo.take()), [1, 8, 2, 9]);
    }
}
