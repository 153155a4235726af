//! Who campaigns call: contacts (stream `contact-<uuid>`, published as `comms.contact.*`) and the
//! organization's do-not-call lists (`donotcall-<uuid>`, `comms.do_not_call.*`), both kept by
//! the campaigns service.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use comms_proto::{Language, PhoneNumber};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

crate::event_set! {
    /// Every event of a contact's stream.
    pub enum ContactEvent bound as "comms.contact.*" {
        Created(ContactCreated),
        Updated(ContactUpdated),
    }
}

impl ContactEvent {
    /// The contact as the event leaves it.
    pub fn change(&self) -> &ContactChanged {
        match self {
            Self::Created(created) => &created.0,
            Self::Updated(updated) => &updated.0,
        }
    }
}

crate::event_set! {
    /// Every event of a do-not-call list's stream.
    pub enum DoNotCallEvent bound as "comms.do_not_call.*" {
        Added(NumbersAdded),
        Removed(NumbersRemoved),
    }
}

/// What a contact is: everything but its id and times. No personal data beyond what campaigns
/// need.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ContactFields {
    #[schemars(length(min = 1, max = 200))]
    pub name: String,
    /// E.164 numbers; the first is the one dialed.
    #[schemars(length(min = 1, max = 5))]
    pub phones: Vec<PhoneNumber>,
    pub language: Language,
    /// An IANA zone; when absent, the zones of the first number's prefix are used.
    pub time_zone: Option<String>,
    #[serde(default)]
    pub custom_fields: BTreeMap<String, String>,
    /// Consent to be called: `false` (withdrawn) is never dialed; unknown (null) is.
    pub consent: Option<bool>,
    /// The contact asked never to be called.
    #[serde(default)]
    pub do_not_call: bool,
    /// The CRM's id for this contact, if it came from (or is known to) the CRM.
    #[schemars(length(min = 1, max = 128))]
    pub external_id: Option<String>,
}

/// A contact as it now is: what both contact events carry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ContactChanged {
    pub contact_id: Uuid,
    #[serde(flatten)]
    pub fields: ContactFields,
    pub at: DateTime<Utc>,
}

crate::same_fields! { ContactChanged =>
    /// A contact was created (import, API or CRM sync).
    ContactCreated;
    /// A contact changed; these are its fields now.
    ContactUpdated;
}

/// Numbers joined or left one of the organization's do-not-call lists.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ListChanged {
    /// The list's name, as in URLs: `internal`, `us-federal`, `state_tx`.
    #[schemars(regex(pattern = r"^[a-z0-9_-]{1,64}$"))]
    pub list: String,
    pub numbers: Vec<PhoneNumber>,
    pub at: DateTime<Utc>,
}

crate::same_fields! { ListChanged =>
    /// Numbers were added to a do-not-call list.
    NumbersAdded;
    /// Numbers were removed from a do-not-call list.
    NumbersRemoved;
}

crate::events! {
    ContactCreated => "comms.contact.created", version 1, "a contact was created (import, API, CRM sync)";
    ContactUpdated => "comms.contact.updated", version 1, "a contact changed";
    NumbersAdded => "comms.do_not_call.added", version 1, "numbers joined a do-not-call list";
    NumbersRemoved => "comms.do_not_call.removed", version 1, "numbers left a do-not-call list";
}
