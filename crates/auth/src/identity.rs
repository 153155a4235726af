//! Who is calling: an organization, a user and a role. Every query and command is scoped to the
//! organization; what the caller may do follows from the role (see [`crate::permissions`]).

use comms_proto::{ApiError, ErrorKind};

/// The fleet's roles, part of the event contract (they appear in account events).
pub use comms_events::account::Role;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Identity {
    pub org_id: String,
    pub user_id: String,
    pub role: Role,
}

/// Organization and user ids: 1–128 letters, digits or `_-.:@`.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.:@".contains(&b))
}

impl Identity {
    pub fn new(org_id: &str, user_id: &str, role: Role) -> Result<Self, ApiError> {
        for (name, value) in [("organization", org_id), ("user", user_id)] {
            if !valid_id(value) {
                return Err(ApiError::new(
                    ErrorKind::Unauthenticated,
                    format!("the {name} id must be 1-128 letters, digits or _-.:@"),
                ));
            }
        }
        Ok(Self {
            org_id: org_id.to_owned(),
            user_id: user_id.to_owned(),
            role,
        })
    }

    /// The fleet itself acting inside an organization (a provider's report moving a call along).
    /// Never built from a request.
    pub fn system(org_id: &str, component: &str) -> Self {
        Self {
            org_id: org_id.to_owned(),
            user_id: format!("system:{component}"),
            role: Role::Admin,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_malformed_ids() {
        assert!(Identity::new("org_1", "user_1", Role::Agent).is_ok());
        assert!(Identity::new("org 1", "user_1", Role::Agent).is_err());
        assert!(Identity::new("org_1", "", Role::Agent).is_err());
        assert!(Identity::new(&"a".repeat(129), "u", Role::Agent).is_err());
    }

    #[test]
    fn roles_round_trip_by_name() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("root"), None);
    }
}
