//! Who is calling: the organization, user and role, carried to services in gRPC metadata.
//! Every query and command is scoped to `org_id`.

use comms_proto::ApiError;
use tonic::metadata::{MetadataMap, MetadataValue};

pub const ORG_ID: &str = "x-org-id";
pub const USER_ID: &str = "x-user-id";
pub const USER_ROLE: &str = "x-user-role";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub org_id: String,
    pub user_id: Option<String>,
    pub role: Option<String>,
}

impl Identity {
    /// Checks an organization id: 1–128 characters of letters, digits, `_`, `-`, `.` or `:`.
    pub fn new(org_id: &str, user_id: Option<&str>, role: Option<&str>) -> Result<Self, ApiError> {
        let valid_id = |id: &str| {
            !id.is_empty()
                && id.len() <= 128
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_-.:@".contains(&b))
        };
        if !valid_id(org_id) {
            return Err(ApiError::new(
                comms_proto::ErrorKind::Unauthenticated,
                format!("{ORG_ID} must be 1-128 letters, digits or _-.:@"),
            ));
        }
        if let Some(user) = user_id.filter(|u| !valid_id(u)) {
            return Err(ApiError::new(
                comms_proto::ErrorKind::Unauthenticated,
                format!("{USER_ID} {user:?} must be 1-128 letters, digits or _-.:@"),
            ));
        }
        Ok(Self {
            org_id: org_id.to_owned(),
            user_id: user_id.map(str::to_owned),
            role: role.map(str::to_owned),
        })
    }

    /// The identity in a request's metadata; a request without an organization is refused.
    pub fn from_metadata(metadata: &MetadataMap) -> Result<Self, ApiError> {
        let get = |key| {
            metadata
                .get(key)
                .and_then(|v| v.to_str().ok())
                .filter(|v| !v.is_empty())
        };
        let org_id = get(ORG_ID).ok_or_else(|| {
            ApiError::new(
                comms_proto::ErrorKind::Unauthenticated,
                format!("missing caller identity ({ORG_ID})"),
            )
        })?;
        Self::new(org_id, get(USER_ID), get(USER_ROLE))
    }

    /// Writes the identity into outgoing metadata.
    pub fn insert_into(&self, metadata: &mut MetadataMap) {
        let mut put = |key: &'static str, value: &str| {
            if let Ok(value) = MetadataValue::try_from(value) {
                metadata.insert(key, value);
            }
        };
        put(ORG_ID, &self.org_id);
        if let Some(user) = &self.user_id {
            put(USER_ID, user);
        }
        if let Some(role) = &self.role {
            put(USER_ROLE, role);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_metadata() {
        let identity = Identity::new("org_1", Some("user_1"), Some("admin")).unwrap();
        let mut metadata = MetadataMap::new();
        identity.insert_into(&mut metadata);
        assert_eq!(Identity::from_metadata(&metadata).unwrap(), identity);
    }

    #[test]
    fn refuses_missing_or_malformed_organizations() {
        assert!(Identity::from_metadata(&MetadataMap::new()).is_err());
        assert!(Identity::new("org 1", None, None).is_err());
        assert!(Identity::new(&"a".repeat(129), None, None).is_err());
    }
}
