//! Deepgram's live wire format: the listen URL's parameters, the control messages a client
//! sends in text frames, and the messages the server answers with.

use std::time::Duration;

use serde::Deserialize;

/// How to reach Deepgram and what to ask of it (`DEEPGRAM_*`).
#[derive(Debug, Clone)]
pub struct Options {
    /// `wss://api.deepgram.com/v1/listen` (tests point it at a fake).
    pub url: String,
    pub api_key: String,
    /// `nova-3`: the model that speaks all eight of the platform's languages.
    pub model: String,
    /// Further query parameters (`DEEPGRAM_OPTIONS`, e.g. `keyterm=Ocelot`), after ours.
    pub extra: Vec<(String, String)>,
    /// A silent socket is sent `KeepAlive` this often (Deepgram closes one after 10 s
    /// without data).
    pub keep_alive: Duration,
    /// Pauses between attempts to open the socket again after it dropped mid-call.
    pub reconnect_pauses: Vec<Duration>,
}

impl Options {
    pub fn new(url: impl Into<String>, api_key: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            api_key: api_key.into(),
            model: "nova-3".into(),
            extra: Vec::new(),
            keep_alive: Duration::from_secs(3),
            reconnect_pauses: [100, 250, 500, 1_000, 2_000, 4_000]
                .map(Duration::from_millis)
                .into(),
        }
    }
}

/// The listen URL for a call in `language` (`en`, `es`, … `ja`) at `sample_rate`: raw 16-bit
/// audio (which needs `encoding` and `sample_rate`), the two parties as channels, interim
/// results (which `UtteranceEnd` needs) and a conversation's endpointing.
pub fn listen_url(options: &Options, language: &str, sample_rate: u32) -> String {
    let rate = sample_rate.to_string();
    let mut query: Vec<(&str, &str)> = vec![
        ("model", &options.model),
        ("language", language),
        ("encoding", "linear16"),
        ("sample_rate", &rate),
        ("channels", "2"),
        ("multichannel", "true"),
        ("interim_results", "true"),
        ("utterance_end_ms", "1000"),
        ("endpointing", "300"),
        ("vad_events", "true"),
        ("punctuate", "true"),
        ("smart_format", "true"),
    ];
    query.extend(options.extra.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let query = serde_urlencoded::to_string(&query).expect("pairs of strings encode");
    format!("{}?{query}", options.url)
}

/// `{"type":"KeepAlive"}`: the socket stays open through silence.
pub const KEEP_ALIVE: &str = r#"{"type":"KeepAlive"}"#;
/// `{"type":"CloseStream"}`: Deepgram finishes what it has, says `Metadata`, and closes.
pub const CLOSE_STREAM: &str = r#"{"type":"CloseStream"}"#;

/// What the server says, by its `type`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type")]
pub enum ServerMessage {
    Results(Results),
    UtteranceEnd(UtteranceEnd),
    SpeechStarted {},
    Metadata {},
    /// A message this client does not act on.
    #[serde(other)]
    Other,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Results {
    /// `[channel, channels]`.
    pub channel_index: Vec<usize>,
    /// Seconds from the socket's first audio.
    pub start: f64,
    pub duration: f64,
    #[serde(default)]
    pub is_final: bool,
    #[serde(default)]
    pub speech_final: bool,
    pub channel: Channel,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Channel {
    pub alternatives: Vec<Alternative>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Alternative {
    pub transcript: String,
    pub confidence: f64,
    #[serde(default)]
    pub words: Vec<Word>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Word {
    pub word: String,
    /// Seconds from the socket's first audio.
    pub start: f64,
    pub end: f64,
    #[serde(default)]
    pub punctuated_word: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct UtteranceEnd {
    /// `[channel, channels]`.
    pub channel: Vec<usize>,
    pub last_word_end: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_asks_for_two_channels_of_raw_audio_in_the_calls_language() {
        let mut options = Options::new("wss://api.deepgram.com/v1/listen", "key");
        options.extra.push(("keyterm".into(), "Ocelot".into()));
        let url = listen_url(&options, "ja", 8_000);
        assert!(url.starts_with("wss://api.deepgram.com/v1/listen?model=nova-3&language=ja&encoding=linear16&sample_rate=8000&channels=2&multichannel=true&interim_results=true&utterance_end_ms=1000"), "{url}");
        assert!(url.ends_with("&keyterm=Ocelot"), "{url}");
    }

    #[test]
    fn the_documented_messages_are_read() {
        let results: ServerMessage = serde_json::from_str(
            r#"{"type":"Results","channel_index":[1,2],"duration":1.5,"start":2.25,"is_final":true,
            "speech_final":false,"channel":{"alternatives":[{"transcript":"hello there","confidence":0.98,
            "words":[{"word":"hello","start":2.3,"end":2.6,"confidence":0.99}]}]},
            "metadata":{"request_id":"r","model_uuid":"m","model_info":{"name":"n","version":"v","arch":"a"}}}"#,
        )
        .unwrap();
        let ServerMessage::Results(results) = results else {
            panic!()
        };
        assert_eq!(
            (results.channel_index[0], results.start, results.is_final),
            (1, 2.25, true)
        );
        assert_eq!(results.channel.alternatives[0].transcript, "hello there");
        let end: ServerMessage =
            serde_json::from_str(r#"{"type":"UtteranceEnd","channel":[0,2],"last_word_end":3.1}"#)
                .unwrap();
        assert_eq!(
            end,
            ServerMessage::UtteranceEnd(UtteranceEnd {
                channel: vec![0, 2],
                last_word_end: 3.1
            })
        );
        let metadata: ServerMessage = serde_json::from_str(
            r#"{"type":"Metadata","transaction_key":"deprecated","request_id":"r","sha256":"s","created":"c","duration":4.0,"channels":2}"#,
        )
        .unwrap();
        assert_eq!(metadata, ServerMessage::Metadata {});
        let other: ServerMessage =
            serde_json::from_str(r#"{"type":"Warning","description":"x"}"#).unwrap();
        assert_eq!(other, ServerMessage::Other);
    }
}
