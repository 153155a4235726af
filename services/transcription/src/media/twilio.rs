//! Twilio Media Streams: JSON text frames (`connected`, `start`, `media`, `dtmf`, `mark`,
//! `stop`), audio as base64 μ-law at 8 kHz, each track in its own `media` message
//! (<https://www.twilio.com/docs/voice/media-streams/websocket-messages>).
//!
//! On the caller's leg, `inbound` is what Twilio hears from the caller and `outbound` what it
//! plays to them: the agent.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde_json::Value;

use super::mulaw;
use crate::Speaker;

/// Twilio's streams are 8 kHz.
pub const SAMPLE_RATE: u32 = 8_000;

#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    Connected,
    /// Once, first after `connected`: the stream, the call, and the `<Parameter>`s the stream
    /// was started with (where the call's token travels).
    Start {
        stream_sid: String,
        call_sid: String,
        custom_parameters: BTreeMap<String, String>,
    },
    /// 20 ms of one track; `timestamp_ms` from the stream's start.
    Media {
        speaker: Speaker,
        timestamp_ms: u64,
        samples: Vec<i16>,
    },
    Dtmf {
        digit: String,
    },
    Mark {
        name: String,
    },
    Stop,
}

/// Reads one text frame; the error names the field that is wrong.
pub fn parse(text: &str) -> Result<Message, String> {
    let message: Value =
        serde_json::from_str(text).map_err(|e| format!("not a JSON message: {e}"))?;
    let string = |value: &Value, path: &str| -> Result<String, String> {
        value
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("{path}: a string is required"))
    };
    match message["event"].as_str() {
        Some("connected") => Ok(Message::Connected),
        Some("start") => {
            let start = &message["start"];
            if start.get("mediaFormat").is_some_and(|format| {
                format["encoding"] != "audio/x-mulaw" || format["sampleRate"] != SAMPLE_RATE
            }) {
                return Err(format!(
                    "start.mediaFormat: audio/x-mulaw at {SAMPLE_RATE} Hz is read, not {}",
                    start["mediaFormat"]
                ));
            }
            let custom_parameters = match &start["customParameters"] {
                Value::Null => BTreeMap::new(),
                Value::Object(parameters) => parameters
                    .iter()
                    .map(|(name, value)| {
                        string(value, &format!("start.customParameters.{name}"))
                            .map(|value| (name.clone(), value))
                    })
                    .collect::<Result<_, _>>()?,
                _ => return Err("start.customParameters: an object is required".into()),
            };
            Ok(Message::Start {
                stream_sid: string(&start["streamSid"], "start.streamSid")?,
                call_sid: string(&start["callSid"], "start.callSid")?,
                custom_parameters,
            })
        }
        Some("media") => {
            let media = &message["media"];
            let speaker = match media["track"].as_str() {
                Some("inbound") => Speaker::Caller,
                Some("outbound") => Speaker::Agent,
                other => {
                    return Err(format!("media.track: inbound or outbound, not {other:?}"));
                }
            };
            // Twilio writes numbers as strings here.
            let timestamp_ms = string(&media["timestamp"], "media.timestamp")?
                .parse()
                .map_err(|_| "media.timestamp: milliseconds, as a string of digits".to_owned())?;
            let payload = base64::engine::general_purpose::STANDARD
                .decode(string(&media["payload"], "media.payload")?)
                .map_err(|e| format!("media.payload: not base64: {e}"))?;
            Ok(Message::Media {
                speaker,
                timestamp_ms,
                samples: payload.into_iter().map(mulaw::decode).collect(),
            })
        }
        Some("dtmf") => Ok(Message::Dtmf {
            digit: string(&message["dtmf"]["digit"], "dtmf.digit")?,
        }),
        Some("mark") => Ok(Message::Mark {
            name: string(&message["mark"]["name"], "mark.name")?,
        }),
        Some("stop") => Ok(Message::Stop),
        other => Err(format!(
            "event: connected, start, media, dtmf, mark or stop, not {other:?}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_messages_are_read() {
        assert_eq!(
            parse(r#"{"event":"connected","protocol":"Call","version":"1.0.0"}"#),
            Ok(Message::Connected)
        );
        let start = parse(
            r#"{"event":"start","sequenceNumber":"1","streamSid":"MZ1","start":{"streamSid":"MZ1",
            "accountSid":"AC1","callSid":"CA1","tracks":["inbound","outbound"],
            "customParameters":{"token":"t0k"},
            "mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1}}}"#,
        )
        .unwrap();
        let Message::Start {
            call_sid,
            custom_parameters,
            ..
        } = start
        else {
            panic!("{start:?}")
        };
        assert_eq!(
            (call_sid.as_str(), custom_parameters["token"].as_str()),
            ("CA1", "t0k")
        );
        // 0xFF is silence, 0x80 the loudest positive code.
        let media = parse(
            r#"{"event":"media","sequenceNumber":"3","streamSid":"MZ1","media":{"track":"outbound",
            "chunk":"1","timestamp":"40","payload":"/4A="}}"#,
        );
        assert_eq!(
            media,
            Ok(Message::Media {
                speaker: Speaker::Agent,
                timestamp_ms: 40,
                samples: vec![0, 32_124],
            })
        );
        assert_eq!(
            parse(
                r#"{"event":"stop","streamSid":"MZ1","stop":{"accountSid":"AC1","callSid":"CA1"}}"#
            ),
            Ok(Message::Stop)
        );
    }

    #[test]
    fn a_bad_message_names_its_field() {
        for (text, field) in [
            ("nope", "JSON"),
            (
                r#"{"event":"media","media":{"track":"both","timestamp":"0","payload":""}}"#,
                "media.track",
            ),
            (
                r#"{"event":"media","media":{"track":"inbound","timestamp":0,"payload":""}}"#,
                "media.timestamp",
            ),
            (
                r#"{"event":"media","media":{"track":"inbound","timestamp":"0","payload":"%%"}}"#,
                "media.payload",
            ),
            (
                r#"{"event":"start","start":{"streamSid":"MZ1","callSid":"CA1","mediaFormat":{"encoding":"audio/l16","sampleRate":16000}}}"#,
                "mediaFormat",
            ),
            (r#"{"event":"hello"}"#, "event"),
        ] {
            let error = parse(text).unwrap_err();
            assert!(error.contains(field), "{text}: {error}");
        }
    }
}
