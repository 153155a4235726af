//! Configuration from environment variables, readable from a map in tests. A bad value stops
//! start-up with one line naming the variable.

use std::collections::HashMap;
use std::str::FromStr;

#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {variable}={value:?}: {reason}")]
pub struct ConfigError {
    pub variable: String,
    pub value: String,
    pub reason: String,
}

/// A snapshot of the variables a service reads.
#[derive(Debug, Clone, Default)]
pub struct Env(HashMap<String, String>);

impl Env {
    pub fn from_process() -> Self {
        Self(std::env::vars().collect())
    }

    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Self(
            pairs
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        )
    }

    pub fn set(&mut self, key: &str, value: impl Into<String>) {
        self.0.insert(key.to_owned(), value.into());
    }

    /// The variable's value; unset and empty both count as absent.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    pub fn string(&self, key: &str, default: &str) -> String {
        self.get(key).unwrap_or(default).to_owned()
    }

    /// Parses the variable, or returns `default` when it is absent.
    pub fn parse<T: FromStr>(&self, key: &str, default: T) -> Result<T, ConfigError>
    where
        T::Err: std::fmt::Display,
    {
        match self.get(key) {
            None => Ok(default),
            Some(value) => value.parse().map_err(|e: T::Err| ConfigError {
                variable: key.to_owned(),
                value: value.to_owned(),
                reason: e.to_string(),
            }),
        }
    }

    pub fn bool(&self, key: &str, default: bool) -> Result<bool, ConfigError> {
        match self.get(key).map(str::to_ascii_lowercase).as_deref() {
            None => Ok(default),
            Some("true" | "1" | "yes") => Ok(true),
            Some("false" | "0" | "no") => Ok(false),
            Some(other) => Err(ConfigError {
                variable: key.to_owned(),
                value: other.to_owned(),
                reason: "expected true or false".to_owned(),
            }),
        }
    }

    /// A URL that must start with one of `schemes`.
    pub fn url(&self, key: &str, default: &str, schemes: &[&str]) -> Result<String, ConfigError> {
        let value = self.string(key, default);
        if schemes
            .iter()
            .any(|s| value.starts_with(&format!("{s}://")))
        {
            return Ok(value);
        }
        Err(ConfigError {
            variable: key.to_owned(),
            value: value.clone(),
            reason: format!("expected a {} URL", schemes.join(" or ")),
        })
    }
}

/// `PUBLIC_BASE_URL`: the edge's address as carriers reach it. Every callback URL is built from
/// it (never from a request's Host header), and signatures are checked against it.
pub fn public_base_url(env: &Env) -> Result<String, ConfigError> {
    let invalid = |value: &str, reason: &str| ConfigError {
        variable: "PUBLIC_BASE_URL".into(),
        value: value.to_owned(),
        reason: reason.to_owned(),
    };
    let Some(value) = env.get("PUBLIC_BASE_URL") else {
        return Err(invalid(
            "",
            "required with a carrier: the edge's external URL that the carrier calls back, e.g. https://comms.example.com",
        ));
    };
    let base = value.trim_end_matches('/');
    let Some((scheme, rest)) = base.split_once("://") else {
        return Err(invalid(value, "expected an http or https URL"));
    };
    if !matches!(scheme, "http" | "https") {
        return Err(invalid(value, "expected an http or https URL"));
    }
    if rest.is_empty() || rest.contains(['?', '#', ' ']) || rest.starts_with('/') {
        return Err(invalid(
            value,
            "expected scheme://host[:port][/path] without a query or fragment",
        ));
    }
    Ok(base.to_owned())
}

/// Settings every service shares.
#[derive(Debug, Clone)]
pub struct Common {
    pub database_url: String,
    pub rabbitmq_url: String,
    pub events_exchange: String,
    pub database_pool_size: u32,
    /// `RABBITMQ_QUEUE_TYPE`: classic (default) or quorum (replicated; production).
    pub queue_type: comms_bus::QueueType,
    pub drain: crate::shutdown::Drain,
    /// `EVENT_PUBLISHERS`, and the fleet's own user from `RABBITMQ_URL`: who consumers
    /// believe each event from.
    pub event_publishers: comms_bus::Publishers,
}

impl Common {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let rabbitmq_url = env.url(
            "RABBITMQ_URL",
            "amqp://guest:guest@127.0.0.1:5672/%2f",
            &["amqp", "amqps"],
        )?;
        let publishers = env.string("EVENT_PUBLISHERS", comms_bus::DEFAULT_EVENT_PUBLISHERS);
        let event_publishers =
            comms_bus::Publishers::parse(&comms_bus::user_of(&rabbitmq_url), &publishers).map_err(
                |reason| ConfigError {
                    variable: "EVENT_PUBLISHERS".into(),
                    value: publishers.clone(),
                    reason,
                },
            )?;
        Ok(Self {
            database_url: env.url(
                "DATABASE_URL",
                "postgres://postgres@127.0.0.1:5432/comms",
                &["postgres", "postgresql"],
            )?,
            rabbitmq_url,
            events_exchange: env.string("EVENTS_EXCHANGE", "platform.events"),
            database_pool_size: env.parse("DATABASE_POOL_SIZE", 10)?,
            queue_type: env.parse("RABBITMQ_QUEUE_TYPE", comms_bus::QueueType::Classic)?,
            drain: crate::shutdown::Drain::from_env(env)?,
            event_publishers,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_value_names_the_variable() {
        let env = Env::from_pairs([("PORT", "eighty"), ("DATABASE_URL", "mysql://x")]);
        let err = env.parse::<u16>("PORT", 3018).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid configuration: PORT=\"eighty\": invalid digit found in string"
        );
        let err = Common::from_env(&env).unwrap_err();
        assert_eq!(err.variable, "DATABASE_URL");
    }

    #[test]
    fn absent_and_empty_values_take_the_default() {
        let env = Env::from_pairs([("PORT", "")]);
        assert_eq!(env.parse::<u16>("PORT", 3018).unwrap(), 3018);
        assert!(!env.bool("PLATFORM_MODE", false).unwrap());
        assert_eq!(
            Common::from_env(&env).unwrap().events_exchange,
            "platform.events"
        );
    }

    #[test]
    fn the_public_base_url_is_an_origin_and_path() {
        let read = |v| public_base_url(&Env::from_pairs([("PUBLIC_BASE_URL", v)]));
        assert_eq!(
            read("https://comms.example.com/").unwrap(),
            "https://comms.example.com"
        );
        assert_eq!(
            read("https://example.com/comms").unwrap(),
            "https://example.com/comms"
        );
        for bad in [
            "comms.example.com",
            "ftp://x",
            "https://",
            "https://x?a=1",
            "https:///x",
        ] {
            assert_eq!(read(bad).unwrap_err().variable, "PUBLIC_BASE_URL", "{bad}");
        }
        assert!(public_base_url(&Env::default()).is_err());
    }
}
