//! The platform's event envelope: a JSON body plus AMQP properties and a `traceparent` header.

use chrono::{DateTime, Utc};
use comms_events::{DecodeError, EventSet};
use comms_eventstore::{NewEvent, RecordedEvent};
use lapin::BasicProperties;
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

/// Version of the envelope format in `metadata.version`.
pub const ENVELOPE_VERSION: &str = "1.0.0";
const SOURCE: &str = "communications";
const MODULE: &str = "cc-lite";
/// Where a stored event's metadata keeps the version of its data.
const EVENT_VERSION: &str = "eventVersion";

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

/// A typed event as the log stores it: its type, payload and version; who caused it (a user's
/// id, or `system:<component>` when the fleet acted on its own: every event names one); the
/// request it belongs to; and the current trace, so the relay carries it onto the bus.
pub fn new_event<E: EventSet>(event: &E, user_id: &str, correlation_id: Option<&str>) -> NewEvent {
    let mut metadata = json!({ "userId": user_id, EVENT_VERSION: event.version() });
    let optional = [
        ("correlationId", correlation_id.map(str::to_owned)),
        ("traceparent", comms_telemetry::current_traceparent()),
    ];
    for (key, value) in optional {
        if let Some(value) = value {
            metadata[key] = Value::String(value);
        }
    }
    NewEvent::new(event.event_type(), event.to_data(), metadata)
}

/// Reads a stored event back as one of `E`'s events, at the version it was stored at.
pub fn decode_recorded<E: EventSet>(event: &RecordedEvent) -> Result<E, DecodeError> {
    E::decode(&event.event_type, stored_version(event), &event.data)
}

/// The version a stored event was written at; events stored before versions were recorded
/// are version 1.
fn stored_version(event: &RecordedEvent) -> u32 {
    event
        .metadata
        .get(EVENT_VERSION)
        .and_then(Value::as_u64)
        .map_or(1, |v| v as u32)
}

fn metadata_str(event: &RecordedEvent, key: &str) -> Option<String> {
    event
        .metadata
        .get(key)
        .and_then(Value::as_str)
        .map(str::to_owned)
}

impl Envelope {
    /// The envelope of a stored event.
    pub fn from_recorded(event: &RecordedEvent) -> Self {
        Self {
            id: event.event_id,
            event_type: event.event_type.clone(),
            source: SOURCE.to_owned(),
            timestamp: event.recorded_at,
            organization_id: event.tenant_id.clone(),
            user_id: metadata_str(event, "userId"),
            data: event.data.clone(),
            metadata: EnvelopeMetadata {
                version: ENVELOPE_VERSION.to_owned(),
                module: MODULE.to_owned(),
                stream: Some(event.stream_name.clone()),
                stream_position: Some(event.stream_position),
                correlation_id: metadata_str(event, "correlationId"),
                causation_id: metadata_str(event, "causationId"),
                event_version: Some(stored_version(event)),
            },
        }
    }

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

    /// AMQP properties: persistent, JSON, `message_id` = event id, `type` = event type, the
    /// event's timestamp, and the trace context as a `traceparent` header.
    pub fn amqp_properties(&self, traceparent: Option<&str>) -> BasicProperties {
        let mut headers = FieldTable::default();
        if let Some(traceparent) = traceparent {
            headers.insert(
                "traceparent".into(),
                AMQPValue::LongString(LongString::from(traceparent.as_bytes())),
            );
        }
        BasicProperties::default()
            .with_message_id(ShortString::from(self.id.to_string()))
            .with_type(ShortString::from(self.event_type.as_str()))
            .with_content_type("application/json".into())
            .with_app_id(SOURCE.into())
            .with_timestamp(self.timestamp.timestamp().max(0) as u64)
            .with_delivery_mode(2)
            .with_headers(headers)
    }
}

/// The `traceparent` header of a delivery, if any.
pub(crate) fn traceparent_header(properties: &BasicProperties) -> Option<String> {
    header_text(properties, "traceparent")
}

/// A message's header `name` as text, if it has one (a long or short string).
pub fn header_text(properties: &BasicProperties, name: &str) -> Option<String> {
    match properties.headers().as_ref()?.inner().get(name)? {
        AMQPValue::LongString(value) => {
            Some(String::from_utf8_lossy(value.as_bytes()).into_owned())
        }
        AMQPValue::ShortString(value) => Some(value.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_it_writes_and_keeps_camel_case() {
        let envelope = Envelope {
            id: Uuid::new_v4(),
            event_type: "comms.call.started".into(),
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
            event_type: <comms_events::call::Updated as comms_events::Event>::TYPE.into(),
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
