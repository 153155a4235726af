//! Who may publish what. Consumers act for the organization an envelope names, so an event is
//! believed only from a publisher allowed to send its type: ours (`comms.*`) only from the
//! fleet, other modules' from the RabbitMQ users `EVENT_PUBLISHERS` names for them.
//!
//! RabbitMQ vouches for the publisher: a message's `user_id` property must be the user its
//! publisher connected as, or the broker refuses the publish. So `user_id` is the one property a
//! publisher cannot forge (`app_id` it can), and a message without it is refused. When the fleet
//! itself re-publishes a message (to a dead-letter queue, or replaying one from there), the
//! message carries the fleet's user and keeps its original publisher in the
//! `x-comms-original-user-id` header, which is believed only from the fleet's own user.

use lapin::BasicProperties;
use lapin::types::{AMQPValue, LongString, ShortString};

/// The header a message re-published by the fleet keeps its first publisher in.
pub const ORIGINAL_USER_HEADER: &str = "x-comms-original-user-id";

/// The allow-list: the fleet's own RabbitMQ user, and the users allowed per foreign prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publishers {
    own: String,
    /// `(prefix, users)`, e.g. `("crm.", ["crm"])`; the longest matching prefix decides.
    foreign: Vec<(String, Vec<String>)>,
}

/// The default for `EVENT_PUBLISHERS`: each platform module publishes as the user of its name.
pub const DEFAULT_EVENT_PUBLISHERS: &str = "crm.*=crm,planning.*=planning,tasks.*=tasks";

impl Publishers {
    /// `own` is the fleet's RabbitMQ user; `spec` is `EVENT_PUBLISHERS`: comma-separated
    /// `<prefix>.*=<user>[|<user>…]`, e.g. `crm.*=crm,planning.*=planning|planning-sync`.
    pub fn parse(own: &str, spec: &str) -> Result<Self, String> {
        let mut foreign = Vec::new();
        for entry in spec.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (pattern, users) = entry
                .split_once('=')
                .ok_or_else(|| format!("{entry:?}: expected <prefix>.*=<user>[|<user>]"))?;
            let prefix = pattern
                .trim()
                .strip_suffix('*')
                .filter(|p| p.ends_with('.') && p.len() > 1)
                .ok_or_else(|| format!("{pattern:?}: expected a prefix like crm.*"))?;
            if prefix == "comms." {
                return Err("comms.* is published by the fleet alone; it cannot be granted".into());
            }
            let users: Vec<String> = users
                .split('|')
                .map(str::trim)
                .filter(|u| !u.is_empty())
                .map(str::to_owned)
                .collect();
            if users.is_empty() {
                return Err(format!("{pattern}: name at least one RabbitMQ user"));
            }
            foreign.push((prefix.to_owned(), users));
        }
        Ok(Self {
            own: own.to_owned(),
            foreign,
        })
    }

    /// The fleet's own RabbitMQ user.
    pub fn own(&self) -> &str {
        &self.own
    }

    /// Whether a message of `event_type` with these properties comes from a publisher allowed
    /// to send it; if not, why (the dead-letter reason).
    pub fn check(&self, event_type: &str, properties: &BasicProperties) -> Result<(), String> {
        let Some(publisher) = self.publisher(properties) else {
            return Err(format!(
                "{event_type} without user_id: the publisher is unknown (set user_id to the RabbitMQ user you connect as)"
            ));
        };
        let allowed: &[String] = if event_type.starts_with("comms.") {
            std::slice::from_ref(&self.own)
        } else {
            self.foreign
                .iter()
                .filter(|(prefix, _)| event_type.starts_with(prefix.as_str()))
                .max_by_key(|(prefix, _)| prefix.len())
                .map_or(&[], |(_, users)| users.as_slice())
        };
        if allowed.contains(&publisher) {
            return Ok(());
        }
        Err(if allowed.is_empty() {
            format!(
                "{event_type} from {publisher}: no publisher is allowed for it (EVENT_PUBLISHERS)"
            )
        } else {
            format!(
                "{event_type} from {publisher}: only {} may publish it",
                allowed.join(" or ")
            )
        })
    }

    /// Who published the message: its `user_id`, or for a message the fleet re-published, the
    /// original publisher it kept.
    fn publisher(&self, properties: &BasicProperties) -> Option<String> {
        let user = properties.user_id().as_ref()?.to_string();
        if user == self.own
            && let Some(original) = crate::header_text(properties, ORIGINAL_USER_HEADER)
        {
            return Some(original);
        }
        Some(user)
    }

    /// `properties` for the fleet to publish the message again: its own user as `user_id` (the
    /// broker accepts no other from it), the first publisher kept in the header.
    pub fn republished(&self, properties: &BasicProperties) -> BasicProperties {
        let mut headers = properties.headers().clone().unwrap_or_default();
        let original = properties.user_id().as_ref().map(ToString::to_string);
        if let Some(original) = original.filter(|user| *user != self.own)
            && !headers.contains_key(ORIGINAL_USER_HEADER)
        {
            headers.insert(
                ORIGINAL_USER_HEADER.into(),
                AMQPValue::LongString(LongString::from(original)),
            );
        }
        properties
            .clone()
            .with_headers(headers)
            .with_user_id(ShortString::from(self.own.as_str()))
    }
}

/// The RabbitMQ user an `amqp://user:password@host/vhost` URL connects as (`guest` when it
/// names none, as the broker's default).
pub fn user_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    let user = authority
        .rsplit_once('@')
        .map(|(userinfo, _)| userinfo.split(':').next().unwrap_or_default());
    match user {
        Some(user) if !user.is_empty() => percent_decode(user),
        _ => "guest".to_owned(),
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(user: Option<&str>, original: Option<&str>) -> BasicProperties {
        let mut properties = BasicProperties::default();
        if let Some(user) = user {
            properties = properties.with_user_id(user.into());
        }
        if let Some(original) = original {
            let mut headers = lapin::types::FieldTable::default();
            headers.insert(
                ORIGINAL_USER_HEADER.into(),
                AMQPValue::LongString(original.into()),
            );
            properties = properties.with_headers(headers);
        }
        properties
    }

    #[test]
    fn each_prefix_is_believed_only_from_its_publishers() {
        let publishers =
            Publishers::parse("comms", "crm.*=crm|crm-sync,crm.billing.*=billing").unwrap();
        let check = |event: &str, user: Option<&str>, original: Option<&str>| {
            publishers.check(event, &from(user, original))
        };
        assert!(check("comms.call.ended", Some("comms"), None).is_ok());
        assert_eq!(
            check("comms.call.ended", Some("crm"), None).unwrap_err(),
            "comms.call.ended from crm: only comms may publish it"
        );
        assert!(check("crm.contact.updated", Some("crm-sync"), None).is_ok());
        assert!(check("crm.contact.updated", Some("planning"), None).is_err());
        // The longest prefix decides.
        assert!(check("crm.billing.paid", Some("billing"), None).is_ok());
        assert!(check("crm.billing.paid", Some("crm"), None).is_err());
        assert!(
            check("planning.task.completed", Some("planning"), None)
                .unwrap_err()
                .contains("no publisher is allowed")
        );
        assert!(
            check("crm.contact.updated", None, None)
                .unwrap_err()
                .contains("without user_id")
        );
        // A message the fleet re-published keeps its first publisher; only the fleet may say so.
        assert!(check("crm.contact.updated", Some("comms"), Some("crm")).is_ok());
        assert!(check("crm.contact.updated", Some("comms"), Some("planning")).is_err());
        assert!(check("crm.contact.updated", Some("planning"), Some("crm")).is_err());
    }

    #[test]
    fn republishing_keeps_the_first_publisher() {
        let publishers = Publishers::parse("comms", "crm.*=crm").unwrap();
        let again = publishers.republished(&from(Some("crm"), None));
        assert_eq!(again.user_id().as_ref().unwrap().as_str(), "comms");
        assert!(publishers.check("crm.contact.updated", &again).is_ok());
        let twice = publishers.republished(&again);
        assert!(publishers.check("crm.contact.updated", &twice).is_ok());
    }

    #[test]
    fn the_specification_is_checked() {
        for bad in ["crm=crm", "crm.*", "crm.*=", "*=crm", "comms.*=evil"] {
            assert!(Publishers::parse("comms", bad).is_err(), "{bad}");
        }
        assert!(Publishers::parse("comms", DEFAULT_EVENT_PUBLISHERS).is_ok());
        assert!(Publishers::parse("comms", "").is_ok());
    }

    #[test]
    fn the_user_comes_from_the_url() {
        assert_eq!(user_of("amqp://guest:guest@127.0.0.1:5672/%2f"), "guest");
        assert_eq!(
            user_of("amqps://comms%40prod:s3cret@mq:5671/%2f"),
            "comms@prod"
        );
        assert_eq!(user_of("amqp://mq:5672"), "guest");
    }
}
