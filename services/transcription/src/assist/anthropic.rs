//! Anthropic's Messages API, streamed (<https://docs.anthropic.com/en/api/messages-streaming>):
//! `POST /v1/messages` with `x-api-key` and `anthropic-version`, `stream: true`, read as
//! server-sent events — `message_start`, `content_block_start`, `content_block_delta`
//! (`text_delta`), `content_block_stop`, `message_delta` (the stop reason, output tokens),
//! `message_stop`; `ping` ignored, `error` raised. Each text delta is handed on as it arrives.

use std::time::Duration;

use serde_json::{Value, json};

const VERSION: &str = "2023-06-01";

#[derive(Debug, Clone)]
pub struct AnthropicOptions {
    /// `ANTHROPIC_BASE_URL`, `https://api.anthropic.com`.
    pub base_url: String,
    /// `ANTHROPIC_API_KEY`.
    pub api_key: String,
    /// `ANTHROPIC_MODEL`, `claude-haiku-4-5`.
    pub model: String,
    /// Tries after a rate limit, an overload or a server error before giving up (2).
    pub retries: u32,
    /// The longest wait between tries, whatever `retry-after` asks (5 s).
    pub longest_wait: Duration,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum AnthropicError {
    #[error("Anthropic answered {status} ({kind}): {message}")]
    Status {
        status: u16,
        kind: String,
        message: String,
    },
    #[error("Anthropic's stream failed ({kind}): {message}")]
    Stream { kind: String, message: String },
    #[error("Anthropic refused")]
    Refused,
    #[error("Anthropic's stream is not the documented one: {0}")]
    Malformed(String),
    #[error("Anthropic could not be reached: {0}")]
    Unreachable(String),
}

/// A whole reply.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub text: String,
    /// `end_turn`, `max_tokens` (the text is cut short), `stop_sequence`, …
    pub stop_reason: String,
}

pub struct Anthropic {
    options: AnthropicOptions,
    http: reqwest::Client,
}

impl Anthropic {
    pub fn new(options: AnthropicOptions) -> Self {
        Self {
            options,
            http: comms_runtime::http::client(Duration::from_secs(60)),
        }
    }

    pub fn model(&self) -> &str {
        &self.options.model
    }

    /// Asks `user` under `system`, handing each piece of the reply's text to `on_text` as it
    /// streams in; the whole reply at the end.
    pub async fn stream(
        &self,
        system: &str,
        user: &str,
        max_tokens: u32,
        mut on_text: impl FnMut(&str),
    ) -> Result<Reply, AnthropicError> {
        let url = format!(
            "{}/v1/messages",
            self.options.base_url.trim_end_matches('/')
        );
        let body = json!({
            "model": self.options.model,
            "max_tokens": max_tokens,
            "system": system,
            "messages": [{"role": "user", "content": user}],
            "stream": true,
        });
        let mut tries = 0;
        let mut response = loop {
            tries += 1;
            let response = self
                .http
                .post(&url)
                .header("x-api-key", &self.options.api_key)
                .header("anthropic-version", VERSION)
                .json(&body)
                .send()
                .await
                .map_err(|e| AnthropicError::Unreachable(e.to_string()))?;
            let status = response.status();
            if status.is_success() {
                break response;
            }
            let wait = crate::retry_after(response.headers());
            let error: Value = response.json().await.unwrap_or(Value::Null);
            let failure = AnthropicError::Status {
                status: status.as_u16(),
                kind: error["error"]["type"]
                    .as_str()
                    .unwrap_or("unknown")
                    .to_owned(),
                message: error["error"]["message"].as_str().unwrap_or("").to_owned(),
            };
            // 429 rate limited, 529 overloaded, 5xx: worth another try.
            let retryable = status.as_u16() == 429 || status.is_server_error();
            if !retryable || tries > self.options.retries {
                return Err(failure);
            }
            let wait = wait
                .unwrap_or(Duration::from_millis(500) * tries)
                .min(self.options.longest_wait);
            tokio::time::sleep(wait).await;
        };
        let mut events = Events::default();
        let mut reply = Reply {
            text: String::new(),
            stop_reason: String::new(),
        };
        loop {
            let chunk = response
                .chunk()
                .await
                .map_err(|e| AnthropicError::Unreachable(e.to_string()))?;
            let Some(chunk) = chunk else {
                return Err(AnthropicError::Malformed(
                    "the stream ended before message_stop".into(),
                ));
            };
            events.push(&chunk);
            while let Some((event, data)) = events.next() {
                if self.take(&event, &data, &mut reply, &mut on_text)? {
                    return Ok(reply);
                }
            }
        }
    }

    /// Takes one event of the stream; whether the message is over.
    fn take(
        &self,
        event: &str,
        data: &str,
        reply: &mut Reply,
        on_text: &mut impl FnMut(&str),
    ) -> Result<bool, AnthropicError> {
        let data: Value = serde_json::from_str(data)
            .map_err(|e| AnthropicError::Malformed(format!("{event}: {e}")))?;
        match event {
            "message_start" => self.count("input", &data["message"]["usage"]["input_tokens"]),
            "content_block_delta" if data["delta"]["type"] == "text_delta" => {
                let text = data["delta"]["text"].as_str().unwrap_or_default();
                reply.text.push_str(text);
                on_text(text);
            }
            "message_delta" => {
                if let Some(reason) = data["delta"]["stop_reason"].as_str() {
                    reply.stop_reason = reason.to_owned();
                }
                self.count("output", &data["usage"]["output_tokens"]);
            }
            "message_stop" => {
                return match reply.stop_reason.as_str() {
                    "refusal" => Err(AnthropicError::Refused),
                    _ => Ok(true),
                };
            }
            "error" => {
                return Err(AnthropicError::Stream {
                    kind: data["error"]["type"]
                        .as_str()
                        .unwrap_or("unknown")
                        .to_owned(),
                    message: data["error"]["message"].as_str().unwrap_or("").to_owned(),
                });
            }
            // ping, content_block_start and _stop, and events added later.
            _ => {}
        }
        Ok(false)
    }

    fn count(&self, kind: &'static str, tokens: &Value) {
        if let Some(tokens) = tokens.as_u64() {
            metrics::counter!("comms_ai_tokens_total", "provider" => "anthropic", "model" => self.options.model.clone(), "kind" => kind)
                .increment(tokens);
        }
    }
}

/// Server-sent events as they arrive: an event ends at a blank line; `event:` names it and its
/// `data:` lines are joined with newlines (<https://html.spec.whatwg.org/multipage/server-sent-events.html>).
#[derive(Default)]
struct Events {
    buffer: String,
    pending: Vec<u8>,
}

impl Events {
    fn push(&mut self, chunk: &[u8]) {
        // A chunk may end inside a character: keep the bytes until it is whole.
        self.pending.extend_from_slice(chunk);
        let valid = match std::str::from_utf8(&self.pending) {
            Ok(text) => text.len(),
            Err(error) => error.valid_up_to(),
        };
        self.buffer
            .push_str(&String::from_utf8_lossy(&self.pending[..valid]));
        self.pending.drain(..valid);
    }

    /// The next whole event: its name (`message` when unnamed) and data.
    fn next(&mut self) -> Option<(String, String)> {
        // Lines may end in CRLF; a CR whose LF has not arrived waits for it.
        if self.buffer.contains("\r\n") {
            self.buffer = self.buffer.replace("\r\n", "\n");
        }
        loop {
            let end = self.buffer.find("\n\n")?;
            let block: String = self.buffer.drain(..end + 2).collect();
            let mut event = "message".to_owned();
            let mut data: Vec<&str> = Vec::new();
            for line in block.lines() {
                if let Some(name) = line.strip_prefix("event:") {
                    event = name.trim().to_owned();
                } else if let Some(value) = line.strip_prefix("data:") {
                    data.push(value.strip_prefix(' ').unwrap_or(value));
                }
            }
            if !data.is_empty() {
                return Some((event, data.join("\n")));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_read_across_chunks_and_characters() {
        let mut events = Events::default();
        let stream = "event: ping\r\ndata: {\"type\": \"ping\"}\r\n\r\nevent: content_block_delta\ndata: {\"delta\":{\"type\":\"text_delta\",\"text\":\"¿Hola?\"}}\n\n: a comment\n\n";
        let bytes = stream.as_bytes();
        let mut seen = Vec::new();
        // One byte at a time: the inverted question mark is split across chunks.
        for byte in bytes {
            events.push(std::slice::from_ref(byte));
            while let Some(event) = events.next() {
                seen.push(event);
            }
        }
        assert_eq!(seen.len(), 2);
        assert_eq!(seen[0].0, "ping");
        assert_eq!(seen[1].0, "content_block_delta");
        assert!(seen[1].1.contains("¿Hola?"));
    }
}
