//! A JSON body extractor whose errors say which field is wrong and why, as problem+json.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use comms_proto::{ApiError, ErrorKind};
use serde::de::DeserializeOwned;

use crate::problem::ProblemResponse;

/// The largest body any endpoint accepts.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

pub struct Json<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Json<T> {
    type Rejection = ProblemResponse;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = request
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|mime| {
                let mime = mime.trim();
                mime == "application/json" || mime.ends_with("+json")
            });
        if !is_json {
            return Err(ApiError::new(
                ErrorKind::UnsupportedMediaType,
                "send the body as JSON with Content-Type: application/json",
            )
            .into());
        }
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == http::StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::new(
                        ErrorKind::PayloadTooLarge,
                        format!("the body exceeds {MAX_BODY_BYTES} bytes"),
                    )
                } else {
                    ApiError::new(
                        ErrorKind::InvalidArgument,
                        format!("could not read the body: {rejection}"),
                    )
                }
            })?;
        parse(&bytes).map(Json).map_err(ProblemResponse)
    }
}

/// Query parameters, rejected as problem+json when the query string cannot be read.
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> axum::extract::FromRequestParts<S> for Query<T> {
    type Rejection = ProblemResponse;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        axum::extract::Query::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| Query(value))
            .map_err(|rejection| {
                ApiError::new(ErrorKind::InvalidArgument, rejection.body_text()).into()
            })
    }
}

/// For a field where `null` means something (clear it): absent → `None`; `null` →
/// `Some(None)`; a value → `Some(Some(value))`. Use with `#[serde(default)]`.
pub fn nullable<'de, D: serde::Deserializer<'de>, T: serde::Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<Option<T>>, D::Error> {
    <Option<T> as serde::Deserialize>::deserialize(deserializer).map(Some)
}

/// For an optional field where `null` would mean nothing: refused as the wrong type, so an
/// update's `{"name": null}` is an error naming the field rather than a change of nothing.
/// Use with `#[serde(default)]` and `#[schema(nullable = false)]`.
pub fn not_null<'de, D: serde::Deserializer<'de>, T: serde::Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<T>, D::Error> {
    T::deserialize(deserializer).map(Some)
}

/// Deserialises `bytes`, naming the field at fault. A whole number written with a fraction
/// (`2.0`) is an integer, as JSON Schema counts it, so integer fields take it.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut value: serde_json::Value = serde_json::from_slice(bytes).map_err(|inner| {
        ApiError::new(
            ErrorKind::InvalidArgument,
            format!("malformed JSON: {inner}"),
        )
    })?;
    whole_numbers_as_integers(&mut value);
    match serde_path_to_error::deserialize(value) {
        Ok(value) => Ok(value),
        Err(error) => {
            let path = error.path().to_string();
            let inner = error.into_inner();
            let message = strip_position(&inner.to_string());
            let field =
                named_field(&message).unwrap_or(if path == "." { "body".to_owned() } else { path });
            Err(ApiError::invalid(field, message))
        }
    }
}

fn whole_numbers_as_integers(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::Number(number) if number.is_f64() => {
            let float = number.as_f64().expect("a float");
            // Only where the integer is exact: |x| < 2^53.
            if float.fract() == 0.0 && float.abs() < 9_007_199_254_740_992.0 {
                *value = Value::from(float as i64);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(whole_numbers_as_integers),
        Value::Object(fields) => fields.values_mut().for_each(whole_numbers_as_integers),
        _ => {}
    }
}

/// serde names missing and unknown fields only in its message: "missing field `to`".
fn named_field(message: &str) -> Option<String> {
    let rest = message
        .strip_prefix("missing field `")
        .or_else(|| message.strip_prefix("unknown field `"))?;
    rest.split('`').next().map(str::to_owned)
}

/// Drops serde's " at line 1 column 9": the field name says more.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(index) => message[..index].to_owned(),
        None => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::parse;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        to: String,
        tags: Option<Vec<String>>,
    }

    fn field_of(body: &str) -> String {
        parse::<Body>(body.as_bytes()).unwrap_err().violations[0]
            .field
            .clone()
    }

    #[test]
    fn names_the_field_at_fault() {
        assert_eq!(field_of(r#"{}"#), "to");
        assert_eq!(field_of(r#"{"to": 5}"#), "to");
        assert_eq!(field_of(r#"{"to": "+1", "too": 1}"#), "too");
        assert_eq!(field_of(r#"{"to": "+1", "tags": ["a", 2]}"#), "tags[1]");
        assert_eq!(field_of(r#"{"to": 2.0}"#), "to");
        // A whole number written with a fraction is an integer; a fraction is not.
        let counts = parse::<std::collections::BTreeMap<String, u32>>(br#"{"n": 2.0}"#);
        assert_eq!(counts.unwrap()["n"], 2);
        assert!(parse::<std::collections::BTreeMap<String, u32>>(br#"{"n": 2.5}"#).is_err());
        let err = parse::<Body>(br#"{"to": "#).unwrap_err();
        assert!(err.violations.is_empty());
        assert!(err.message.starts_with("malformed JSON"), "{}", err.message);
        assert_eq!(
            parse::<Body>(b"[]").unwrap_err().violations[0].field,
            "body"
        );
    }
}
