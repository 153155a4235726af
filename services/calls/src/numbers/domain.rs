//! A phone number of the organization (stream `number-<uuid>`): assigned with the language its
//! callers hear and the skills its agents need, changed, and released.

use chrono::{DateTime, Utc};
use comms_events::number::{
    NumberAssigned, NumberChanged, NumberEvent, NumberReleased, NumberSettings, NumberUpdated,
};
use comms_proto::PhoneNumber;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use comms_events::agent::check_required_skills;

use crate::domain::DomainError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Number {
    pub id: Uuid,
    pub number: PhoneNumber,
    pub settings: NumberSettings,
    pub released: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub enum Command {
    Assign {
        number_id: Uuid,
        number: PhoneNumber,
        settings: NumberSettings,
        at: DateTime<Utc>,
    },
    Update {
        settings: NumberSettings,
        at: DateTime<Utc>,
    },
    Release {
        at: DateTime<Utc>,
    },
}

pub fn handle(state: Option<&Number>, command: Command) -> Result<Vec<NumberEvent>, DomainError> {
    let invalid = |reason: String| DomainError::Invalid {
        field: "skills",
        reason,
    };
    match (state, command) {
        (
            None,
            Command::Assign {
                number_id,
                number,
                settings,
                at,
            },
        ) => {
            check_required_skills(&settings.skills).map_err(invalid)?;
            Ok(vec![NumberEvent::Assigned(NumberAssigned(NumberChanged {
                number_id,
                number,
                settings,
                at,
            }))])
        }
        (Some(_), Command::Assign { .. }) => Err(DomainError::AlreadyExists),
        (None, _) => Err(DomainError::NotFound),
        (Some(number), _) if number.released => Err(DomainError::NotFound),
        (Some(number), Command::Update { settings, at }) => {
            check_required_skills(&settings.skills).map_err(invalid)?;
            if settings == number.settings {
                return Ok(vec![]);
            }
            Ok(vec![NumberEvent::Updated(NumberUpdated(NumberChanged {
                number_id: number.id,
                number: number.number.clone(),
                settings,
                at,
            }))])
        }
        (Some(number), Command::Release { at }) => {
            Ok(vec![NumberEvent::Released(NumberReleased {
                number_id: number.id,
                number: number.number.clone(),
                at,
            })])
        }
    }
}

pub fn apply(state: Option<Number>, event: &NumberEvent) -> Number {
    match (state, event) {
        (_, NumberEvent::Assigned(NumberAssigned(e))) => Number {
            id: e.number_id,
            number: e.number.clone(),
            settings: e.settings.clone(),
            released: false,
            created_at: e.at,
            updated_at: e.at,
        },
        (Some(number), NumberEvent::Updated(NumberUpdated(e))) => Number {
            settings: e.settings.clone(),
            updated_at: e.at,
            ..number
        },
        (Some(number), NumberEvent::Released(e)) => Number {
            released: true,
            updated_at: e.at,
            ..number
        },
        (None, other) => panic!("{} before the number was assigned", other.event_type()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use comms_proto::Language;

    fn settings(skills: &[&str]) -> NumberSettings {
        NumberSettings {
            language: Language::Es,
            skills: skills.iter().map(|s| (*s).to_owned()).collect(),
            recording: None,
            ivr_flow_id: None,
        }
    }

    #[test]
    fn a_number_is_assigned_changed_and_released_once() {
        let at = Utc::now();
        let assign = || Command::Assign {
            number_id: Uuid::nil(),
            number: PhoneNumber::parse("+14155550100").unwrap(),
            settings: settings(&["billing"]),
            at,
        };
        let events = handle(None, assign()).unwrap();
        let number = apply(None, &events[0]);
        assert!(matches!(
            handle(Some(&number), assign()),
            Err(DomainError::AlreadyExists)
        ));
        let same = Command::Update {
            settings: settings(&["billing"]),
            at,
        };
        assert_eq!(handle(Some(&number), same).unwrap(), vec![]);
        let bad = Command::Update {
            settings: settings(&["Billing Dept"]),
            at,
        };
        assert!(matches!(
            handle(Some(&number), bad),
            Err(DomainError::Invalid {
                field: "skills",
                ..
            })
        ));
        let released = handle(Some(&number), Command::Release { at }).unwrap();
        let number = apply(Some(number), &released[0]);
        assert!(matches!(
            handle(Some(&number), Command::Release { at }),
            Err(DomainError::NotFound)
        ));
    }
}
