//! The contact aggregate (`contact-<uuid>`): who a campaign calls. Created and updated alike
//! from the CRM's events, a CSV import, a gRPC stream or the API; an update that changes
//! nothing records nothing, so syncing the same contact twice is harmless.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use comms_events::contact::{
    ContactChanged, ContactCreated, ContactEvent, ContactFields, ContactUpdated,
};

use super::time_zones;
use super::{DomainError, invalid};

const MAX_NAME: usize = 200;
const MAX_PHONES: usize = 5;
/// How many text fields a contact or a trigger may hold.
pub const MAX_FIELDS: usize = 50;
const MAX_FIELD_NAME: usize = 64;
const MAX_FIELD_VALUE: usize = 1000;
const MAX_EXTERNAL_ID: usize = 128;

/// Whether the fields may be a contact's: each is named in the error.
pub fn validate(fields: &ContactFields) -> Result<(), DomainError> {
    let name = fields.name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME || has_control(&fields.name) {
        return Err(invalid(
            "name",
            format!("1 to {MAX_NAME} characters, no control characters"),
        ));
    }
    if fields.phones.is_empty() || fields.phones.len() > MAX_PHONES {
        return Err(invalid("phones", format!("1 to {MAX_PHONES} numbers")));
    }
    if let Some(zone) = &fields.time_zone {
        time_zones::parse_zone(zone).map_err(|reason| invalid("time_zone", reason))?;
    }
    if fields.custom_fields.len() > MAX_FIELDS {
        return Err(invalid(
            "custom_fields",
            format!("at most {MAX_FIELDS} fields"),
        ));
    }
    for (key, value) in &fields.custom_fields {
        check_text_field(key, value).map_err(|reason| invalid("custom_fields", reason))?;
    }
    if let Some(id) = &fields.external_id
        && (id.is_empty() || id.chars().count() > MAX_EXTERNAL_ID || has_control(id))
    {
        return Err(invalid(
            "external_id",
            format!("1 to {MAX_EXTERNAL_ID} characters, no control characters"),
        ));
    }
    Ok(())
}

/// A named text field (a contact's custom field, a trigger's matching): a name of 1 to 64
/// characters and a value of at most 1000, which may span lines (a CSV cell can); other control
/// characters, NUL above all (which the log's JSON cannot hold), are refused.
pub fn check_text_field(name: &str, value: &str) -> Result<(), String> {
    if name.is_empty() || name.chars().count() > MAX_FIELD_NAME || has_control(name) {
        return Err(format!(
            "{name:?}: names are 1 to {MAX_FIELD_NAME} characters, no control characters"
        ));
    }
    let unprintable = value
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'));
    if value.chars().count() > MAX_FIELD_VALUE || unprintable {
        return Err(format!(
            "{name:?}: values are at most {MAX_FIELD_VALUE} characters, no control characters but tabs and line breaks"
        ));
    }
    Ok(())
}

fn has_control(text: &str) -> bool {
    text.chars().any(char::is_control)
}

/// What identifies the contact within an organization, so a second import or sync of the same
/// person finds them: the CRM's id when known, else the first number.
pub fn identity_key(fields: &ContactFields) -> String {
    match &fields.external_id {
        Some(id) => format!("ext:{id}"),
        None => format!("tel:{}", fields.phones[0]),
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    pub id: Uuid,
    #[serde(flatten)]
    pub fields: ContactFields,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Contact {
    /// The zones the contact may be in: their own, or those of their number's prefix.
    pub fn zones(&self) -> Vec<Tz> {
        match self.fields.time_zone.as_deref().map(time_zones::parse_zone) {
            Some(Ok(zone)) => vec![zone],
            _ => time_zones::zones_of(&self.fields.phones[0]).to_vec(),
        }
    }

    /// Why the contact must never be called, from their own record.
    pub fn own_do_not_call(&self) -> Option<String> {
        if self.fields.do_not_call {
            Some("the contact asked not to be called".into())
        } else if self.fields.consent == Some(false) {
            Some("the contact withdrew consent".into())
        } else {
            None
        }
    }
}

/// Creates the contact, or updates it when `fields` differ; `None` when nothing changes.
pub fn upsert(
    current: Option<&Contact>,
    contact_id: Uuid,
    fields: ContactFields,
    at: DateTime<Utc>,
) -> Result<Option<ContactEvent>, DomainError> {
    validate(&fields)?;
    let change = ContactChanged {
        contact_id,
        fields,
        at,
    };
    Ok(match current {
        Some(contact) if contact.fields == change.fields => None,
        Some(_) => Some(ContactUpdated(change).into()),
        None => Some(ContactCreated(change).into()),
    })
}

/// Folds `event` into the contact.
pub fn apply(current: Option<Contact>, event: &ContactEvent) -> Contact {
    let change = event.change();
    match current {
        Some(contact) => Contact {
            fields: change.fields.clone(),
            updated_at: change.at,
            ..contact
        },
        None => Contact {
            id: change.contact_id,
            fields: change.fields.clone(),
            created_at: change.at,
            updated_at: change.at,
        },
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use comms_proto::{Language, PhoneNumber};

    use super::*;

    fn fields() -> ContactFields {
        ContactFields {
            name: "Ada Lovelace".into(),
            phones: vec![PhoneNumber::parse("+14155550100").unwrap()],
            language: Language::En,
            time_zone: None,
            custom_fields: BTreeMap::new(),
            consent: None,
            do_not_call: false,
            external_id: None,
        }
    }

    fn at() -> DateTime<Utc> {
        "2026-07-15T17:00:00Z".parse().unwrap()
    }

    #[test]
    fn the_same_fields_twice_change_nothing() {
        let id = Uuid::new_v4();
        let created = upsert(None, id, fields(), at()).unwrap().unwrap();
        assert!(matches!(created, ContactEvent::Created(_)));
        let contact = apply(None, &created);
        assert!(
            upsert(Some(&contact), id, fields(), at())
                .unwrap()
                .is_none()
        );
        let mut renamed = fields();
        renamed.name = "Augusta Ada King".into();
        let updated = upsert(Some(&contact), id, renamed, at()).unwrap().unwrap();
        assert!(matches!(updated, ContactEvent::Updated(_)));
    }

    #[test]
    fn the_zone_is_the_contacts_own_or_their_numbers() {
        let id = Uuid::new_v4();
        let contact = apply(None, &upsert(None, id, fields(), at()).unwrap().unwrap());
        assert_eq!(contact.zones()[0].name(), "America/Los_Angeles");
        let mut moved = fields();
        moved.time_zone = Some("Europe/Madrid".into());
        let contact = apply(None, &upsert(None, id, moved, at()).unwrap().unwrap());
        assert_eq!(contact.zones()[0].name(), "Europe/Madrid");
    }

    #[test]
    fn bad_fields_are_named() {
        let mut bad = fields();
        bad.time_zone = Some("Moon/Tranquility".into());
        let err = upsert(None, Uuid::new_v4(), bad, at()).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("time_zone: \"Moon/Tranquility\" is not an IANA")
        );
        let mut bad = fields();
        bad.phones.clear();
        assert!(
            upsert(None, Uuid::new_v4(), bad, at())
                .unwrap_err()
                .to_string()
                .starts_with("phones:")
        );
        // NUL cannot be kept in the log's JSON: it is refused up front, not a storage error.
        let field_of = |change: fn(&mut ContactFields)| {
            let mut bad = fields();
            change(&mut bad);
            let error = upsert(None, Uuid::new_v4(), bad, at())
                .unwrap_err()
                .to_string();
            error.split(':').next().unwrap().to_owned()
        };
        assert_eq!(field_of(|f| f.name = "Ada\u{9b}".into()), "name");
        assert_eq!(
            field_of(|f| {
                f.custom_fields.insert("note".into(), "a\0b".into());
            }),
            "custom_fields"
        );
        assert_eq!(
            field_of(|f| f.external_id = Some("crm\u{1}42".into())),
            "external_id"
        );
        let mut multiline = fields();
        multiline
            .custom_fields
            .insert("note".into(), "line one\r\nline two\tend".into());
        assert!(upsert(None, Uuid::new_v4(), multiline, at()).is_ok());
    }

    #[test]
    fn do_not_call_and_withdrawn_consent_are_reasons() {
        let mut flagged = fields();
        flagged.consent = Some(false);
        let contact = apply(
            None,
            &upsert(None, Uuid::new_v4(), flagged, at())
                .unwrap()
                .unwrap(),
        );
        assert_eq!(
            contact.own_do_not_call().unwrap(),
            "the contact withdrew consent"
        );
    }
}
