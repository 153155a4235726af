//! The bus's side of the platform's event envelope (`comms_events::envelope`): a stored event's
//! envelope, and the AMQP properties and headers it travels with.

use comms_events::envelope::{ENVELOPE_VERSION, Envelope, EnvelopeMetadata, MODULE, SOURCE};
use comms_events::{DecodeError, EventSet};
use comms_eventstore::{NewEvent, RecordedEvent};
use lapin::BasicProperties;
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use serde_json::{Value, json};

/// Where a stored event's metadata keeps the version of its data.
const EVENT_VERSION: &str = "eventVersion";

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

/// The envelope of a stored event.
pub fn envelope_of(event: &RecordedEvent) -> Envelope {
    Envelope {
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

/// An envelope's AMQP properties: persistent, JSON, `message_id` = event id, `type` = event
/// type, the event's timestamp, and the trace context as a `traceparent` header.
pub fn amqp_properties(envelope: &Envelope, traceparent: Option<&str>) -> BasicProperties {
    let mut headers = FieldTable::default();
    if let Some(traceparent) = traceparent {
        headers.insert(
            "traceparent".into(),
            AMQPValue::LongString(LongString::from(traceparent.as_bytes())),
        );
    }
    BasicProperties::default()
        .with_message_id(ShortString::from(envelope.id.to_string()))
        .with_type(ShortString::from(envelope.event_type.as_str()))
        .with_content_type("application/json".into())
        .with_app_id(SOURCE.into())
        .with_timestamp(envelope.timestamp.timestamp().max(0) as u64)
        .with_delivery_mode(2)
        .with_headers(headers)
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
