//! Streaming calls' audio to the transcription service (`ENABLE_TRANSCRIPTION`): once a call is
//! answered, its carrier is asked to stream both parties to the service's media socket for the
//! call, whose URL carries a token signed for the call (`MEDIA_TOKEN_SECRET`).

use std::time::Duration;

use comms_auth::media_tokens::MediaTokens;
use comms_runtime::{ConfigError, Env};
use uuid::Uuid;

use super::Carrier;

/// Its tokens print without their key.
#[derive(Debug, Clone)]
pub struct MediaStreaming {
    /// `MEDIA_BASE_URL`: where carriers reach the media sockets, e.g. `wss://comms.example.com`.
    base_url: String,
    tokens: MediaTokens,
    /// How long a token is good for: the longest a call may last, and a margin.
    lifetime: Duration,
}

impl MediaStreaming {
    /// `None` unless `ENABLE_TRANSCRIPTION`; then `MEDIA_BASE_URL` and `MEDIA_TOKEN_SECRET` are
    /// required. `longest_call` is `MAX_CALL_SECONDS`.
    pub fn from_env(env: &Env, longest_call: Duration) -> Result<Option<Self>, ConfigError> {
        if !env.bool("ENABLE_TRANSCRIPTION", false)? {
            return Ok(None);
        }
        let missing = |variable: &str, reason: &str| ConfigError {
            variable: variable.into(),
            value: String::new(),
            reason: reason.into(),
        };
        if env.get("MEDIA_BASE_URL").is_none() {
            return Err(missing(
                "MEDIA_BASE_URL",
                "required with ENABLE_TRANSCRIPTION: where carriers reach the transcription service's media sockets, e.g. wss://comms.example.com",
            ));
        }
        let base_url = env.url("MEDIA_BASE_URL", "", &["wss", "ws"])?;
        Ok(Some(Self {
            base_url: base_url.trim_end_matches('/').to_owned(),
            tokens: MediaTokens::from_env(env, "with ENABLE_TRANSCRIPTION")?,
            lifetime: longest_call + Duration::from_secs(600),
        }))
    }

    /// The media socket for `party`'s audio of `org`'s call on `carrier`, with a token good
    /// from `now` (unix seconds) for as long as the call may last. Vonage streams one party a
    /// socket, named in the path; Twilio both on one (`party` is then the caller's, the call's).
    pub fn url(&self, carrier: Carrier, org: &str, call: Uuid, party: Party, now: i64) -> String {
        let expires = now + self.lifetime.as_secs() as i64;
        let token = self.tokens.sign(org, call, expires);
        let base = &self.base_url;
        match carrier {
            Carrier::Vonage => format!(
                "{base}/media/vonage/{org}/{call}/{}/{token}",
                party.as_str()
            ),
            other => format!("{base}/media/{}/{org}/{call}/{token}", other.as_str()),
        }
    }
}

/// Whose audio a media socket carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Party {
    Caller,
    Agent,
}

impl Party {
    pub fn as_str(self) -> &'static str {
        match self {
            Party::Caller => "caller",
            Party::Agent => "agent",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::from_pairs(pairs.iter().copied())
    }

    #[test]
    fn off_unless_enabled_then_each_missing_setting_is_named() {
        let hours = Duration::from_secs(3_600);
        assert!(
            MediaStreaming::from_env(&env(&[]), hours)
                .unwrap()
                .is_none()
        );
        let secret = "s".repeat(32);
        let on = [("ENABLE_TRANSCRIPTION", "true")];
        for (extra, variable) in [
            (
                vec![("MEDIA_TOKEN_SECRET", secret.as_str())],
                "MEDIA_BASE_URL",
            ),
            (
                vec![
                    ("MEDIA_BASE_URL", "https://x"),
                    ("MEDIA_TOKEN_SECRET", secret.as_str()),
                ],
                "MEDIA_BASE_URL",
            ),
            (vec![("MEDIA_BASE_URL", "wss://x")], "MEDIA_TOKEN_SECRET"),
            (
                vec![
                    ("MEDIA_BASE_URL", "wss://x"),
                    ("MEDIA_TOKEN_SECRET", "short"),
                ],
                "MEDIA_TOKEN_SECRET",
            ),
        ] {
            let pairs: Vec<_> = on.iter().copied().chain(extra).collect();
            let error = MediaStreaming::from_env(&env(&pairs), hours).unwrap_err();
            assert_eq!(error.variable, variable);
            assert!(
                !error.to_string().contains("short"),
                "never echoes a secret"
            );
        }
        let pairs = [
            on[0],
            ("MEDIA_BASE_URL", "wss://media.example/"),
            ("MEDIA_TOKEN_SECRET", &secret),
        ];
        let media = MediaStreaming::from_env(&env(&pairs), hours)
            .unwrap()
            .unwrap();
        let call = Uuid::new_v4();
        let url = media.url(Carrier::Twilio, "org_a", call, Party::Caller, 1_000);
        let token = url
            .strip_prefix(&format!("wss://media.example/media/twilio/org_a/{call}/"))
            .unwrap();
        let agents = media.url(Carrier::Vonage, "org_a", call, Party::Agent, 1_000);
        assert!(agents.starts_with(&format!(
            "wss://media.example/media/vonage/org_a/{call}/agent/"
        )));
        // Good for the longest call and ten minutes more.
        let tokens = MediaTokens::new(secret.as_bytes());
        assert!(
            tokens
                .verify(token, "org_a", call, 1_000 + 3_600 + 600)
                .is_ok()
        );
        assert!(
            tokens
                .verify(token, "org_a", call, 1_000 + 3_600 + 601)
                .is_err()
        );
    }
}
