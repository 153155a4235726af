//! The platform's event envelope: how an event travels on the bus, as JSON (the bus adds AMQP
//! properties and a `traceparent` header; `comms_bus`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::{DecodeError, EventSet};

/// Version of the envelope format in `metadata.version`.
pub const ENVELOPE_VERSION: &str = "1.0.0";
/// Who published it: `source` and the AMQP `app_id`.
pub const SOURCE: &str = "communications";
/// The platform module it comes from: `metadata.module`.
pub const MODULE: &str = "cc-lite";

/// The message body on the bus. Top-level keys are camelCase, as across the platform.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Envelope {
    pub id: Uuid,
    #[serde(rename = "type")]
    pub event_type: String,
    pub source: String,
    pub timestamp: DateTime<Utc>,
    pub organization_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    pub data: Value,
    #[serde(default)]
    pub metadata: EnvelopeMetadata,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvelopeMetadata {
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub module: String,
    /// The stream and position the event was stored at; absent on other modules' events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_position: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub causation_id: Option<String>,
    /// The version of the event's `data` (docs/events/README.md, Versioning); absent means 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_version: Option<u32>,
}

/// Why a message body is not an envelope we can process.
#[derive(Debug, thiserror::Error)]
pub enum EnvelopeError {
    #[error("body is not a valid event envelope: {0}")]
    Malformed(#[from] serde_json::Error),
    #[error("envelope field {0} is empty")]
    Empty(&'static str),
}

impl Envelope {
    /// The envelope's `data` as one of `E`'s events, at the version it was published at.
    pub fn decode<E: EventSet>(&self) -> Result<E, DecodeError> {
        E::decode(
            &self.event_type,
            self.metadata.event_version.unwrap_or(1),
            &self.data,
        )
    }

    /// Parses and checks a message body.
    pub fn parse(body: &[u8]) -> Result<Self, EnvelopeError> {
        let envelope: Self = serde_json::from_slice(body)?;
        if envelope.event_type.is_empty() {
            return Err(EnvelopeError::Empty("type"));
        }
        if envelope.organization_id.is_empty() {
            return Err(EnvelopeError::Empty("organizationId"));
        }
        Ok(envelope)
    }

    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("an envelope always serialises")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_what_it_writes_and_keeps_camel_case() {
        let envelope = Envelope {
            id: Uuid::new_v4(),
            event_type: <crate::call::Started as crate::Event>::TYPE.into(),
            source: SOURCE.into(),
            timestamp: Utc::now(),
            organization_id: "org_1".into(),
            user_id: Some("user_1".into()),
            data: json!({ "call_id": "c" }),
            metadata: EnvelopeMetadata {
                version: ENVELOPE_VERSION.into(),
                module: MODULE.into(),
                stream: Some("call-x".into()),
                stream_position: Some(3),
                ..Default::default()
            },
        };
        let body = envelope.to_json();
        let json: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["organizationId"], "org_1");
        assert_eq!(json["metadata"]["streamPosition"], 3);
        assert_eq!(Envelope::parse(&body).unwrap(), envelope);
    }

    #[test]
    fn a_number_in_the_data_reads_back_as_the_same_number() {
        // Found by the envelope fuzz target: without serde_json's float_roundtrip, this
        // 7.777777e74 came back as 7.777776999999999e74.
        let data = r#"{"notes":777777700000000000000000000000000000000000000000000000000000000000156416525}"#;
        let envelope = Envelope {
            id: Uuid::new_v4(),
            event_type: <crate::call::Updated as crate::Event>::TYPE.into(),
            source: SOURCE.into(),
            timestamp: Utc::now(),
            organization_id: "org_1".into(),
            user_id: None,
            data: serde_json::from_str(data).unwrap(),
            metadata: EnvelopeMetadata::default(),
        };
        assert_eq!(Envelope::parse(&envelope.to_json()).unwrap(), envelope);
    }

    #[test]
    fn rejects_bodies_that_are_not_envelopes() {
        assert!(Envelope::parse(b"not json").is_err());
        assert!(Envelope::parse(br#"{"id":"x"}"#).is_err());
        let no_org = json!({ "id": Uuid::new_v4(), "type": "a.b", "source": "s",
            "timestamp": "2025-10-05T10:00:00Z", "organizationId": "", "data": {} });
        let err = Envelope::parse(no_org.to_string().as_bytes()).unwrap_err();
        assert_eq!(err.to_string(), "envelope field organizationId is empty");
    }
}
