//! The settings every service shares (how settings are read is `comms_config`).

use comms_config::{ConfigError, Env};

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
}
