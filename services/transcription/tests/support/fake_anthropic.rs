//! A fake Anthropic Messages endpoint on loopback, written from Anthropic's API reference
//! (<https://docs.anthropic.com/en/api/messages>, `.../messages-streaming`) and its Python SDK
//! (`_client.py`, `_streaming.py`, `types/raw_*_event.py`): `POST /v1/messages` with `x-api-key`,
//! `anthropic-version: 2023-06-01` and a JSON body (`model`, `max_tokens`, `messages` of
//! `role`/`content`, `system`, `stream`); a streamed answer as server-sent events —
//! `message_start`, `content_block_start`, `ping`, `content_block_delta` with `text_delta`s,
//! `content_block_stop`, `message_delta` (stop reason, usage), `message_stop` — sent in small
//! chunks that cut events and characters; an `error` event mid-stream; errors as
//! `{"type":"error","error":{type,message}}`, an overload as 529.
//!
//! It answers requests in order from a script, and keeps each request's user message and what it
//! found wrong with any request.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

pub const KEY: &str = "sk-ant-test-key";
pub const MODEL: &str = "claude-test-summary";

#[derive(Debug, Clone)]
pub enum Reply {
    /// The text, streamed in these pieces.
    Text(Vec<&'static str>),
    /// Some text, then an `error` event of this type.
    FailsMidway(&'static str),
    /// 529 overloaded_error.
    Overloaded,
}

#[derive(Default)]
struct Script {
    replies: VecDeque<Reply>,
    asked: Vec<Value>,
    problems: Vec<String>,
}

pub struct FakeAnthropic {
    /// `ANTHROPIC_BASE_URL`.
    pub base_url: String,
    script: Arc<Mutex<Script>>,
}

impl FakeAnthropic {
    pub async fn start(replies: Vec<Reply>) -> Self {
        let script = Arc::new(Mutex::new(Script {
            replies: replies.into(),
            ..Script::default()
        }));
        let app = axum::Router::new()
            .route("/v1/messages", post(messages))
            .with_state(script.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { base_url, script }
    }

    /// The requests' bodies so far.
    pub fn asked(&self) -> Vec<Value> {
        self.script.lock().unwrap().asked.clone()
    }

    pub fn problems(&self) -> Vec<String> {
        self.script.lock().unwrap().problems.clone()
    }
}

fn error(status: StatusCode, kind: &str, message: &str) -> Response {
    let body = json!({"type": "error", "error": {"type": kind, "message": message}});
    (status, Json(body)).into_response()
}

/// One server-sent event.
fn event(name: &str, data: Value) -> String {
    format!("event: {name}\ndata: {data}\n\n")
}

async fn messages(
    State(script): State<Arc<Mutex<Script>>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    if header("x-api-key") != KEY {
        return error(
            StatusCode::UNAUTHORIZED,
            "authentication_error",
            "invalid x-api-key",
        );
    }
    let mut script = script.lock().unwrap();
    let request: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    let mut problems = Vec::new();
    let mut must = |ok: bool, problem: &str| {
        if !ok {
            problems.push(problem.to_owned());
        }
    };
    must(
        header("anthropic-version") == "2023-06-01",
        "anthropic-version is not 2023-06-01",
    );
    must(
        header("content-type").starts_with("application/json"),
        "content-type is not JSON",
    );
    must(request["model"] == MODEL, "model is not the configured one");
    must(
        request["max_tokens"].as_u64().is_some_and(|m| m > 0),
        "max_tokens is required",
    );
    must(request["stream"] == true, "not streamed");
    must(request["system"].is_string(), "system is not text");
    let messages = request["messages"].as_array().cloned().unwrap_or_default();
    must(!messages.is_empty(), "no messages");
    for message in &messages {
        must(
            ["user", "assistant"].contains(&message["role"].as_str().unwrap_or("")),
            "a message's role is neither user nor assistant",
        );
        must(
            message["content"].is_string(),
            "a message's content is not text",
        );
    }
    script.asked.push(request.clone());
    if !problems.is_empty() {
        let message = problems.join("; ");
        script.problems.extend(problems);
        return error(StatusCode::BAD_REQUEST, "invalid_request_error", &message);
    }
    let Some(reply) = script.replies.pop_front() else {
        script
            .problems
            .push("a request after the script ended".into());
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "api_error",
            "the script has ended",
        );
    };
    let (pieces, failure) = match reply {
        Reply::Overloaded => {
            return error(
                StatusCode::from_u16(529).unwrap(),
                "overloaded_error",
                "Overloaded",
            );
        }
        Reply::Text(pieces) => (pieces, None),
        Reply::FailsMidway(kind) => (vec!["Disposition: res"], Some(kind)),
    };
    let mut stream = event(
        "message_start",
        json!({"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant",
            "content": [], "model": request["model"], "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": 250, "output_tokens": 1}}}),
    );
    stream += &event(
        "content_block_start",
        json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
    );
    stream += &event("ping", json!({"type": "ping"}));
    for piece in pieces {
        stream += &event(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": piece}}),
        );
    }
    match failure {
        Some(kind) => {
            stream += &event(
                "error",
                json!({"type": "error", "error": {"type": kind, "message": "Overloaded"}}),
            );
        }
        None => {
            stream += &event(
                "content_block_stop",
                json!({"type": "content_block_stop", "index": 0}),
            );
            stream += &event(
                "message_delta",
                json!({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": null},
                    "usage": {"output_tokens": 42}}),
            );
            stream += &event("message_stop", json!({"type": "message_stop"}));
        }
    }
    // Chunks of 7 bytes: events, and characters, cut across chunks.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = stream
        .into_bytes()
        .chunks(7)
        .map(|c| Ok(c.to_vec()))
        .collect();
    Response::builder()
        .header("content-type", "text/event-stream")
        .header("cache-control", "no-cache")
        .body(Body::from_stream(futures::stream::iter(chunks)))
        .unwrap()
}
