//! The Deepgram live client against a fake Deepgram on loopback: utterances with speakers and
//! times, a socket dropped mid-call reopened with nothing lost or given twice, and silence kept
//! open with KeepAlive.

mod support;

use std::time::Duration;

use comms_transcription::Speaker;
use comms_transcription::deepgram::{LiveTranscription, Options};
use comms_transcription::utterances::{Assembler, Utterance};
use support::fake_deepgram::{self, Behaviour, FakeDeepgram, Word};
use tokio::sync::mpsc;

fn script() -> Vec<Word> {
    let word = |channel, start, text, pause_after| Word {
        channel,
        start,
        end: start + 0.3,
        text,
        pause_after,
    };
    vec![
        word(0, 0.2, "Hello,", false),
        word(0, 0.6, "I", false),
        word(0, 1.1, "have", false),
        word(0, 1.5, "a", false),
        word(0, 2.2, "question.", true),
        word(1, 2.6, "Of", false),
        word(1, 3.1, "course,", false),
        word(1, 3.4, "go", false),
        word(1, 4.2, "ahead.", true),
        word(0, 5.3, "Thank", false),
        word(0, 5.6, "you.", false),
    ]
}

/// A fake saying the script, dropping its first socket after `drop_first_after` seconds of
/// audio if asked, and closing a socket silent for `idle`.
async fn fake(drop_first_after: Option<f64>, idle: Duration) -> FakeDeepgram {
    FakeDeepgram::start(Behaviour {
        script: script(),
        drop_first_after,
        idle,
        rate: fake_deepgram::RATE,
        marked: true,
    })
    .await
}

fn options(fake: &FakeDeepgram) -> Options {
    let mut options = Options::new(&fake.url, fake_deepgram::KEY);
    options.keep_alive = Duration::from_millis(200);
    options.reconnect_pauses = vec![Duration::from_millis(50); 3];
    options
}

/// Sends six seconds of the call's audio (pausing as `silence_after` says), finishes, and
/// gathers the utterances heard, with how many times the socket was opened again.
async fn transcribe(
    fake: &FakeDeepgram,
    silence_after: Option<(usize, Duration)>,
) -> (Vec<Utterance>, u32) {
    let (heard, mut hearing) = mpsc::unbounded_channel();
    let live = LiveTranscription::start(options(fake), "en", fake_deepgram::RATE, heard);
    let frames = fake_deepgram::audio(0, 300);
    for (n, frame) in frames.into_iter().enumerate() {
        if let Some((at, pause)) = silence_after
            && n == at
        {
            tokio::time::sleep(pause).await;
        }
        live.send(frame).await.unwrap();
    }
    let finished = live.finish().await.unwrap();
    assert!((finished.seconds - 6.0).abs() < 1e-9, "{finished:?}");
    let mut assembler = Assembler::new("en");
    let mut utterances = Vec::new();
    while let Some(heard) = hearing.recv().await {
        utterances.extend(assembler.hear(heard));
    }
    utterances.extend(assembler.finish());
    (utterances, finished.reconnects)
}

fn expected() -> Vec<(Speaker, &'static str, f64, f64)> {
    vec![
        (Speaker::Caller, "Hello, I have a question.", 0.0, 3.0),
        (Speaker::Agent, "Of course, go ahead.", 2.0, 5.0),
        (Speaker::Caller, "Thank you.", 5.0, 6.0),
    ]
}

fn summary(utterances: &[Utterance]) -> Vec<(Speaker, &str, f64, f64)> {
    utterances
        .iter()
        .map(|u| (u.speaker, u.text.as_str(), u.start, u.end))
        .collect()
}

#[tokio::test]
async fn a_calls_audio_becomes_its_parties_utterances() {
    let fake = fake(None, Duration::from_secs(5)).await;
    let (utterances, reconnects) = transcribe(&fake, None).await;
    assert_eq!(summary(&utterances), expected());
    assert_eq!(reconnects, 0);
    let seen = fake.seen.lock().unwrap();
    assert_eq!((seen.sockets, seen.close_streams), (1, 1));
    assert!(
        seen.queries[0].contains("model=nova-3&language=en"),
        "{}",
        seen.queries[0]
    );
}

#[tokio::test]
async fn a_socket_dropped_mid_call_is_reopened_with_nothing_lost_or_given_twice() {
    // Dropped at 3.5 s: finals were given to 3 s; the half second after is heard again.
    let fake = fake(Some(3.5), Duration::from_secs(5)).await;
    let (utterances, reconnects) = transcribe(&fake, None).await;
    assert_eq!(reconnects, 1);
    assert_eq!(summary(&utterances), expected());
    assert_eq!(fake.seen.lock().unwrap().sockets, 2);
}

#[tokio::test]
async fn silence_is_kept_open_with_keep_alive() {
    // The fake closes a socket silent for 600 ms; the call pauses for 2 s at 2 s.
    let fake = fake(None, Duration::from_millis(600)).await;
    let (utterances, reconnects) = transcribe(&fake, Some((100, Duration::from_secs(2)))).await;
    assert_eq!(reconnects, 0, "the socket stayed open");
    assert_eq!(summary(&utterances), expected());
    assert!(fake.seen.lock().unwrap().keep_alives >= 3);
}

#[tokio::test]
async fn a_wrong_key_is_refused_and_said_so() {
    let fake = fake(None, Duration::from_secs(5)).await;
    let mut options = options(&fake);
    options.api_key = "wrong".into();
    let (heard, _hearing) = mpsc::unbounded_channel();
    let live = LiveTranscription::start(options, "en", fake_deepgram::RATE, heard);
    let error = live.finish().await.unwrap_err();
    assert!(error.to_string().contains("401"), "{error}");
    assert_eq!(fake.seen.lock().unwrap().refused, 4);
}
