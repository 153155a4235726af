//! Configuration from environment variables, readable from a map in tests, and the carriers'
//! settings (Twilio, Vonage, the simulator) read from it. A bad value stops start-up with one
//! line naming the variable. Apart from the services' runtime (`comms-runtime`, which
//! re-exports it) so that what only reads settings, such as `comms-auth` and the fuzz targets,
//! builds without the servers.

use std::collections::HashMap;
use std::str::FromStr;

pub mod carriers;

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

#[cfg(test)]
mod tests {
    use super::*;

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
