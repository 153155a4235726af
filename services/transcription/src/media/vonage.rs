//! Vonage's audio socket: a first text frame (`websocket:connected`, the audio's
//! `content-type` and the headers the call's `connect` action gave), then binary frames of
//! 16-bit signed little-endian PCM, mono, 20 ms each
//! (<https://developer.vonage.com/en/voice/voice-api/concepts/websockets>). One socket carries
//! one party: the call's `connect` names which in its headers.

use std::collections::BTreeMap;

use serde_json::Value;

/// What the first frame says: the audio's rate and the headers the socket was opened with.
#[derive(Debug, Clone, PartialEq)]
pub struct Connected {
    pub sample_rate: u32,
    pub headers: BTreeMap<String, String>,
}

/// Reads the first text frame.
pub fn parse_connected(text: &str) -> Result<Connected, String> {
    let message: Value =
        serde_json::from_str(text).map_err(|e| format!("not a JSON message: {e}"))?;
    let Value::Object(fields) = message else {
        return Err("the first frame: a JSON object is required".into());
    };
    if fields.get("event").and_then(Value::as_str) != Some("websocket:connected") {
        return Err(format!(
            "event: websocket:connected first, not {}",
            fields.get("event").unwrap_or(&Value::Null)
        ));
    }
    let content_type = fields
        .get("content-type")
        .and_then(Value::as_str)
        .ok_or("content-type: a string is required")?;
    let sample_rate = match content_type {
        "audio/l16;rate=16000" => 16_000,
        "audio/l16;rate=8000" => 8_000,
        other => {
            return Err(format!(
                "content-type: audio/l16;rate=16000 or audio/l16;rate=8000, not {other:?}"
            ));
        }
    };
    // Every other string field is a header the call's connect action set.
    let headers = fields
        .iter()
        .filter(|(name, _)| !matches!(name.as_str(), "event" | "content-type"))
        .filter_map(|(name, value)| Some((name.clone(), value.as_str()?.to_owned())))
        .collect();
    Ok(Connected {
        sample_rate,
        headers,
    })
}

/// One binary frame's samples; an odd byte count is not 16-bit audio.
pub fn samples(frame: &[u8]) -> Result<Vec<i16>, String> {
    if !frame.len().is_multiple_of(2) {
        return Err(format!(
            "a frame of {} bytes: 16-bit samples come in pairs of bytes",
            frame.len()
        ));
    }
    Ok(frame
        .chunks_exact(2)
        .map(|pair| i16::from_le_bytes([pair[0], pair[1]]))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_frame_gives_the_rate_and_the_headers() {
        let connected = parse_connected(
            r#"{"event":"websocket:connected","content-type":"audio/l16;rate=16000","token":"t0k","speaker":"agent"}"#,
        )
        .unwrap();
        assert_eq!(connected.sample_rate, 16_000);
        assert_eq!(connected.headers["token"], "t0k");
        assert_eq!(connected.headers["speaker"], "agent");
        assert!(
            parse_connected(r#"{"event":"websocket:connected","content-type":"audio/mp3"}"#)
                .unwrap_err()
                .contains("content-type")
        );
        assert!(
            parse_connected(r#"{"event":"websocket:cleared"}"#)
                .unwrap_err()
                .contains("event")
        );
    }

    #[test]
    fn frames_are_little_endian_samples() {
        assert_eq!(
            samples(&[0x01, 0x00, 0xFF, 0x7F, 0x00, 0x80]),
            Ok(vec![1, 32_767, -32_768])
        );
        assert!(samples(&[0x01]).is_err());
    }
}
