//! The event contract: every event the fleet publishes or consumes, as a Rust type.
//!
//! Each event is a payload struct implementing [`Event`]: its routing key (`TYPE`), its version
//! and when it happens. The events of one stream form an event set ([`event_set!`]), which
//! producers encode through and consumers decode into, so nothing else in the fleet spells their
//! types. The JSON schemas in `docs/events/` are generated from these types ([`catalog`]), and
//! `tests/schemas.rs` fails when they drift or change incompatibly (see docs/events/README.md).
//! The sets: calls, numbers, IVR flows, text messages and conversations, notification
//! preferences, agents, teams, campaigns, contacts, do-not-call lists, accounts, and the
//! platform's events we consume.

pub mod account;
pub mod agent;
pub mod call;
pub mod campaign;
pub mod compat;
pub mod contact;
pub mod envelope;
pub mod ivr;
pub mod metrics;
pub mod notification;
pub mod number;
pub mod platform;
pub mod sms;
pub mod transcription;

use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// One event type on the wire.
pub trait Event: Serialize + DeserializeOwned + JsonSchema {
    /// The event type, which is also its routing key on the exchange.
    const TYPE: &'static str;
    /// Its version: 1 until an incompatible change makes a new one (docs/events/README.md).
    const VERSION: u32;
    /// When it happens, for the catalog.
    const WHEN: &'static str;
}

/// The events of one stream, or those a consumer reads: encode, decode by type and version.
/// Implemented by [`event_set!`].
pub trait EventSet: Sized {
    fn event_type(&self) -> &'static str;
    fn version(&self) -> u32;
    fn to_data(&self) -> Value;
    /// Reads an event of `event_type` at `version` back from its payload.
    fn decode(event_type: &str, version: u32, data: &Value) -> Result<Self, DecodeError>;
    /// Whether `event_type` belongs to this set (at any version).
    fn contains(event_type: &str) -> bool;
}

/// Why a payload is not an event this code can read; the reason names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot read {event_type} (version {version}): {reason}")]
pub struct DecodeError {
    pub event_type: String,
    pub version: u32,
    pub reason: String,
}

/// Decodes one payload, naming the field that does not parse.
pub fn decode<E: Event>(version: u32, data: &Value) -> Result<E, DecodeError> {
    let error = |reason: String| DecodeError {
        event_type: E::TYPE.to_owned(),
        version,
        reason,
    };
    if version != E::VERSION {
        return Err(error(format!(
            "version {version} is not known here (this code reads version {})",
            E::VERSION
        )));
    }
    serde_path_to_error::deserialize(data).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." {
            error(inner.to_string())
        } else {
            error(format!("data.{path}: {inner}"))
        }
    })
}

/// Encodes one payload.
pub fn to_data<E: Event>(event: &E) -> Value {
    serde_json::to_value(event).expect("an event payload always serialises")
}

/// Declares an event set: an enum with one variant per [`Event`] payload type, bound on the
/// exchange with one topic pattern, and its [`EventSet`] implementation.
#[macro_export]
macro_rules! event_set {
    (
        $(#[$meta:meta])* $vis:vis enum $name:ident bound as $binding:literal {
            $($variant:ident($payload:ty)),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq)]
        $vis enum $name {
            $($variant($payload)),+
        }

        impl $name {
            /// The topic pattern a queue binds to receive the set's events.
            pub const BINDING: &'static str = $binding;

            /// The catalog entries of the set's events.
            pub fn catalog() -> Vec<$crate::CatalogEntry> {
                vec![$($crate::CatalogEntry::of::<$payload>()),+]
            }

            // Inherent, so callers need no trait in scope; the trait is for generic code.
            pub fn event_type(&self) -> &'static str {
                match self {
                    $(Self::$variant(_) => <$payload as $crate::Event>::TYPE),+
                }
            }

            pub fn version(&self) -> u32 {
                match self {
                    $(Self::$variant(_) => <$payload as $crate::Event>::VERSION),+
                }
            }

            pub fn to_data(&self) -> serde_json::Value {
                match self {
                    $(Self::$variant(event) => $crate::to_data(event)),+
                }
            }

            /// Reads an event of `event_type` at `version` back from its payload.
            pub fn decode(
                event_type: &str,
                version: u32,
                data: &serde_json::Value,
            ) -> Result<Self, $crate::DecodeError> {
                $(
                    if event_type == <$payload as $crate::Event>::TYPE {
                        return $crate::decode::<$payload>(version, data).map(Self::$variant);
                    }
                )+
                Err($crate::DecodeError {
                    event_type: event_type.to_owned(),
                    version,
                    reason: "unknown event type".to_owned(),
                })
            }

            /// Whether `event_type` belongs to this set (at any version).
            pub fn contains(event_type: &str) -> bool {
                [$(<$payload as $crate::Event>::TYPE),+].contains(&event_type)
            }
        }

        impl $crate::EventSet for $name {
            fn event_type(&self) -> &'static str {
                self.event_type()
            }

            fn version(&self) -> u32 {
                self.version()
            }

            fn to_data(&self) -> serde_json::Value {
                self.to_data()
            }

            fn decode(
                event_type: &str,
                version: u32,
                data: &serde_json::Value,
            ) -> Result<Self, $crate::DecodeError> {
                Self::decode(event_type, version, data)
            }

            fn contains(event_type: &str) -> bool {
                Self::contains(event_type)
            }
        }

        $(
            impl From<$payload> for $name {
                fn from(event: $payload) -> Self {
                    Self::$variant(event)
                }
            }
        )+
    };
}

/// Implements [`Event`] for payload types: `Payload => "type", version 1, "when it happens";`.
macro_rules! events {
    ($($payload:ty => $type:literal, version $version:literal, $when:literal;)+) => {
        $(
            impl $crate::Event for $payload {
                const TYPE: &'static str = $type;
                const VERSION: u32 = $version;
                const WHEN: &'static str = $when;
            }
        )+
    };
}
pub(crate) use events;

/// Declares events that carry the same fields as their own types (a type is what names an
/// event): `Shared => /// doc Name; /// doc Other;`, each a transparent newtype that derefs to
/// the shared struct.
macro_rules! same_fields {
    ($shared:ty => $($(#[$doc:meta])* $name:ident;)+) => {
        $(
            $(#[$doc])*
            #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
            #[serde(transparent)]
            pub struct $name(pub $shared);

            impl std::ops::Deref for $name {
                type Target = $shared;

                fn deref(&self) -> &$shared {
                    &self.0
                }
            }
        )+
    };
}
pub(crate) use same_fields;

/// One event of the catalog: what `docs/events/` is generated from.
#[derive(Debug, Clone)]
pub struct CatalogEntry {
    pub event_type: &'static str,
    pub version: u32,
    pub when: &'static str,
    /// The JSON schema (draft 2020-12) of its `data`, self-contained.
    pub schema: Value,
}

impl CatalogEntry {
    pub fn of<E: Event>() -> Self {
        let mut schema = schema_of::<E>();
        let object = schema.as_object_mut().expect("a schema object");
        object.insert("$id".into(), format!("{}.schema.json", E::TYPE).into());
        object.insert("title".into(), E::TYPE.into());
        object.insert("x-version".into(), E::VERSION.into());
        Self {
            event_type: E::TYPE,
            version: E::VERSION,
            when: E::WHEN,
            schema,
        }
    }
}

/// The JSON schema (draft 2020-12) of `T`, self-contained: what the catalog publishes, and
/// what the edge's OpenAPI document says of the types it takes as they are (an IVR flow).
pub fn schema_of<T: JsonSchema>() -> Value {
    let settings = schemars::generate::SchemaSettings::draft2020_12().with(|s| {
        s.inline_subschemas = true;
    });
    settings
        .into_generator()
        .into_root_schema_for::<T>()
        .to_value()
}

/// Whether `event_type` matches the AMQP topic `pattern` (`*` is one word, `#` any number).
pub fn topic_matches(pattern: &str, event_type: &str) -> bool {
    fn matches(pattern: &[&str], words: &[&str]) -> bool {
        match (pattern.split_first(), words.split_first()) {
            (None, None) => true,
            (Some((&"#", rest)), _) => {
                matches(rest, words) || (!words.is_empty() && matches(pattern, &words[1..]))
            }
            (Some((&"*", rest)), Some((_, more))) => matches(rest, more),
            (Some((word, rest)), Some((actual, more))) => word == actual && matches(rest, more),
            _ => false,
        }
    }
    let pattern: Vec<&str> = pattern.split('.').collect();
    let words: Vec<&str> = event_type.split('.').collect();
    matches(&pattern, &words)
}

/// The events the fleet consumes from other platform modules, with the schema of what it reads.
pub fn consumed_catalog() -> Vec<CatalogEntry> {
    [
        platform::CrmContactEvent::catalog(),
        platform::PlanningEvent::catalog(),
        platform::TaskEvent::catalog(),
        platform::ProjectEvent::catalog(),
    ]
    .concat()
}

/// Every event the fleet publishes, in the order docs/events/README.md lists them.
pub fn catalog() -> Vec<CatalogEntry> {
    [
        call::CallEvent::catalog(),
        number::NumberEvent::catalog(),
        ivr::IvrFlowEvent::catalog(),
        sms::MessageEvent::catalog(),
        sms::ConversationEvent::catalog(),
        notification::NotificationPreferencesEvent::catalog(),
        transcription::TranscriptRetentionEvent::catalog(),
        transcription::KnowledgeNoteEvent::catalog(),
        agent::AgentEvent::catalog(),
        agent::TeamEvent::catalog(),
        campaign::CampaignEvent::catalog(),
        contact::ContactEvent::catalog(),
        contact::DoNotCallEvent::catalog(),
        metrics::MetricsEvent::catalog(),
        account::UserEvent::catalog(),
        account::SessionEvent::catalog(),
        account::CredentialsEvent::catalog(),
        account::ApiKeyEvent::catalog(),
    ]
    .concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_set_binds_every_event_it_holds_and_no_other_sets() {
        let sets = [
            (call::CallEvent::BINDING, call::CallEvent::catalog()),
            (number::NumberEvent::BINDING, number::NumberEvent::catalog()),
            (sms::MessageEvent::BINDING, sms::MessageEvent::catalog()),
            (
                notification::NotificationPreferencesEvent::BINDING,
                notification::NotificationPreferencesEvent::catalog(),
            ),
            (
                transcription::TranscriptRetentionEvent::BINDING,
                transcription::TranscriptRetentionEvent::catalog(),
            ),
            (
                transcription::KnowledgeNoteEvent::BINDING,
                transcription::KnowledgeNoteEvent::catalog(),
            ),
            (
                sms::ConversationEvent::BINDING,
                sms::ConversationEvent::catalog(),
            ),
            (agent::AgentEvent::BINDING, agent::AgentEvent::catalog()),
            (agent::TeamEvent::BINDING, agent::TeamEvent::catalog()),
            (
                metrics::MetricsEvent::BINDING,
                metrics::MetricsEvent::catalog(),
            ),
            (
                campaign::CampaignEvent::BINDING,
                campaign::CampaignEvent::catalog(),
            ),
            (
                contact::ContactEvent::BINDING,
                contact::ContactEvent::catalog(),
            ),
            (
                contact::DoNotCallEvent::BINDING,
                contact::DoNotCallEvent::catalog(),
            ),
            (account::UserEvent::BINDING, account::UserEvent::catalog()),
            (
                account::SessionEvent::BINDING,
                account::SessionEvent::catalog(),
            ),
            (
                account::CredentialsEvent::BINDING,
                account::CredentialsEvent::catalog(),
            ),
            (
                account::ApiKeyEvent::BINDING,
                account::ApiKeyEvent::catalog(),
            ),
            (
                platform::CrmContactEvent::BINDING,
                platform::CrmContactEvent::catalog(),
            ),
            (
                platform::PlanningEvent::BINDING,
                platform::PlanningEvent::catalog(),
            ),
            (platform::TaskEvent::BINDING, platform::TaskEvent::catalog()),
            (
                platform::ProjectEvent::BINDING,
                platform::ProjectEvent::catalog(),
            ),
        ];
        for (binding, entries) in &sets {
            for entry in entries {
                assert!(
                    topic_matches(binding, entry.event_type),
                    "{binding} misses {}",
                    entry.event_type
                );
            }
            for (other, other_entries) in &sets {
                if other != binding {
                    assert!(
                        other_entries
                            .iter()
                            .all(|e| !topic_matches(binding, e.event_type))
                    );
                }
            }
        }
        assert!(topic_matches("comms.#", "comms.call.ended"));
        assert!(!topic_matches("comms.call.*", "comms.call.ended.v2"));
        assert!(!topic_matches("comms.call.*", "comms.agent.busy"));
    }
}
