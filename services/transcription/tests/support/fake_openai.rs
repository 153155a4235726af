//! A fake OpenAI chat completions endpoint on loopback, written from OpenAI's API reference
//! (<https://platform.openai.com/docs/api-reference/chat/create>) and its Python SDK's types
//! (`types/chat/chat_completion.py`, `shared_params/response_format_json_schema.py`):
//! `POST /v1/chat/completions` with `Authorization: Bearer <key>`; a structured-output request
//! (`response_format.type` `json_schema`, a `name` of at most 64 letters, digits, `_` or `-`,
//! `strict: true` with every property required and no others allowed); answers a
//! `chat.completion` whose message's `content` is the JSON string, or whose `refusal` says no,
//! `finish_reason` `stop` or `length`, with `usage`; errors as `{"error": {message, type, code}}`,
//! a rate limit as 429 with `retry-after-ms`.
//!
//! It answers requests in order from a script, and keeps each request's user message and what it
//! found wrong with any request.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

pub const KEY: &str = "sk-test-openai-key";
pub const MODEL: &str = "gpt-test-sentiment";

/// One scripted answer.
#[derive(Debug, Clone)]
pub enum Reply {
    Verdict {
        label: &'static str,
        score: f64,
        reason: &'static str,
    },
    Refusal(&'static str),
    /// Cut off at `max_completion_tokens`: half a JSON object, `finish_reason: length`.
    Truncated,
    /// 429, try again after this many milliseconds.
    RateLimited(u64),
}

#[derive(Default)]
struct Script {
    replies: VecDeque<Reply>,
    /// Each request's user message, in order.
    asked: Vec<String>,
    /// What was wrong with any request.
    problems: Vec<String>,
}

pub struct FakeOpenAi {
    /// `OPENAI_BASE_URL`.
    pub base_url: String,
    script: Arc<Mutex<Script>>,
}

impl FakeOpenAi {
    pub async fn start(replies: Vec<Reply>) -> Self {
        let script = Arc::new(Mutex::new(Script {
            replies: replies.into(),
            ..Script::default()
        }));
        let app = axum::Router::new()
            .route("/v1/chat/completions", post(complete))
            .with_state(script.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base_url = format!("http://{}/v1", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { base_url, script }
    }

    /// The user messages of the requests so far.
    pub fn asked(&self) -> Vec<String> {
        self.script.lock().unwrap().asked.clone()
    }

    pub fn problems(&self) -> Vec<String> {
        self.script.lock().unwrap().problems.clone()
    }

    pub fn replies_left(&self) -> usize {
        self.script.lock().unwrap().replies.len()
    }

    /// Waits until `n` requests have been made.
    pub async fn wait_for(&self, n: usize) {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
        while self.asked().len() < n {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{} requests of {n} in 30 s",
                self.asked().len()
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }
}

fn error(status: StatusCode, message: &str, kind: &str, code: &str) -> Response {
    let body = json!({"error": {"message": message, "type": kind, "param": null, "code": code}});
    (status, Json(body)).into_response()
}

async fn complete(
    State(script): State<Arc<Mutex<Script>>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(&format!("Bearer {KEY}"))
    {
        return error(
            StatusCode::UNAUTHORIZED,
            "Incorrect API key provided.",
            "invalid_request_error",
            "invalid_api_key",
        );
    }
    let mut script = script.lock().unwrap();
    let request: Value = match serde_json::from_str(&body) {
        Ok(request) => request,
        Err(e) => {
            script.problems.push(format!("not JSON: {e}"));
            return error(
                StatusCode::BAD_REQUEST,
                "We could not parse the JSON body of your request.",
                "invalid_request_error",
                "invalid_json",
            );
        }
    };
    let problems = check(&request, &headers);
    let user = request["messages"]
        .as_array()
        .and_then(|m| m.iter().find(|m| m["role"] == "user"))
        .and_then(|m| m["content"].as_str())
        .unwrap_or_default()
        .to_owned();
    script.asked.push(user);
    if !problems.is_empty() {
        let message = problems.join("; ");
        script.problems.extend(problems);
        return error(
            StatusCode::BAD_REQUEST,
            &message,
            "invalid_request_error",
            "invalid_request",
        );
    }
    let Some(reply) = script.replies.pop_front() else {
        script
            .problems
            .push("a request after the script ended".into());
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "The script has ended.",
            "server_error",
            "server_error",
        );
    };
    let model = request["model"].clone();
    let (content, refusal, finish) = match reply {
        Reply::Verdict {
            label,
            score,
            reason,
        } => {
            let verdict = json!({"label": label, "score": score, "reason": reason});
            (json!(verdict.to_string()), Value::Null, "stop")
        }
        Reply::Refusal(why) => (Value::Null, json!(why), "stop"),
        Reply::Truncated => (
            json!("{\"label\":\"negative\",\"score\":-0.7,\"rea"),
            Value::Null,
            "length",
        ),
        Reply::RateLimited(ms) => {
            let mut response = error(
                StatusCode::TOO_MANY_REQUESTS,
                "Rate limit reached for requests per min (RPM).",
                "requests",
                "rate_limit_exceeded",
            );
            let headers = response.headers_mut();
            headers.insert("retry-after-ms", ms.to_string().parse().unwrap());
            headers.insert("x-ratelimit-remaining-requests", "0".parse().unwrap());
            return response;
        }
    };
    Json(json!({
        "id": format!("chatcmpl-{}", script.asked.len()),
        "object": "chat.completion",
        "created": chrono::Utc::now().timestamp(),
        "model": model,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": content, "refusal": refusal, "annotations": []},
            "logprobs": null,
            "finish_reason": finish,
        }],
        "usage": {"prompt_tokens": 120, "completion_tokens": 20, "total_tokens": 140},
        "service_tier": "default",
    }))
    .into_response()
}

/// What is wrong with a structured-output chat completion request.
fn check(request: &Value, headers: &HeaderMap) -> Vec<String> {
    let mut problems = Vec::new();
    let mut must = |ok: bool, problem: &str| {
        if !ok {
            problems.push(problem.to_owned());
        }
    };
    must(
        headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json")),
        "content-type is not application/json",
    );
    must(request["model"] == MODEL, "model is not the configured one");
    let messages = request["messages"].as_array().cloned().unwrap_or_default();
    must(!messages.is_empty(), "no messages");
    for message in &messages {
        let role = message["role"].as_str().unwrap_or_default();
        must(
            ["system", "developer", "user", "assistant"].contains(&role),
            "a message's role is unknown",
        );
        must(
            message["content"].is_string(),
            "a message's content is not text",
        );
    }
    let format = &request["response_format"];
    must(
        format["type"] == "json_schema",
        "response_format.type is not json_schema",
    );
    let json_schema = &format["json_schema"];
    let name = json_schema["name"].as_str().unwrap_or_default();
    must(
        (1..=64).contains(&name.len())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'),
        "json_schema.name is not 1-64 of a-z, A-Z, 0-9, _ and -",
    );
    must(
        json_schema["strict"] == true,
        "json_schema.strict is not true",
    );
    let schema = &json_schema["schema"];
    must(schema["type"] == "object", "the schema is not an object's");
    must(
        schema["additionalProperties"] == false,
        "strict needs additionalProperties: false",
    );
    let properties: Vec<&String> = schema["properties"]
        .as_object()
        .map(|p| p.keys().collect())
        .unwrap_or_default();
    let required: Vec<&str> = schema["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    must(
        !properties.is_empty() && properties.iter().all(|p| required.contains(&p.as_str())),
        "strict needs every property required",
    );
    for field in ["label", "score", "reason"] {
        must(
            properties.iter().any(|p| *p == field),
            "the schema lacks a verdict's field",
        );
    }
    if let Some(max) = request.get("max_completion_tokens") {
        must(
            max.as_u64().is_some_and(|m| m > 0),
            "max_completion_tokens is not a positive integer",
        );
    }
    problems
}
