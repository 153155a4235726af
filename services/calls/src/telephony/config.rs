//! Which provider carries the calls (`comms_runtime::carriers::Provider`), with its account,
//! and the carrier dials fail over to (`TELEPHONY_FAILOVER_PROVIDER`).

use comms_runtime::carriers::Provider;
use comms_runtime::{ConfigError, Env};

use super::{SimulationConfig, TwilioConfig, VonageConfig};

#[derive(Debug, Clone)]
pub enum TelephonyConfig {
    Simulated(SimulationConfig),
    Twilio(TwilioConfig),
    /// The application's private key checked: it signs every request.
    Vonage(VonageConfig),
}

impl TelephonyConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Self::of(Provider::from_env(env)?, env)
    }

    /// `TELEPHONY_FAILOVER_PROVIDER=twilio|vonage`: the carrier a dial goes to when the primary
    /// cannot take it; unset for none. Both must be carriers, and not the same one.
    pub fn failover_from_env(env: &Env, primary: &Self) -> Result<Option<Self>, ConfigError> {
        let Some(named) = env.get("TELEPHONY_FAILOVER_PROVIDER") else {
            return Ok(None);
        };
        let invalid = |reason: &str| ConfigError {
            variable: "TELEPHONY_FAILOVER_PROVIDER".into(),
            value: named.into(),
            reason: reason.into(),
        };
        let secondary = match named {
            "twilio" => Provider::Twilio,
            "vonage" => Provider::Vonage,
            _ => return Err(invalid("expected twilio or vonage")),
        };
        match (primary, secondary) {
            (Self::Simulated(_), _) => Err(invalid(
                "failover needs a carrier as TELEPHONY_PROVIDER, not the simulator",
            )),
            (Self::Twilio(_), Provider::Twilio) | (Self::Vonage(_), Provider::Vonage) => {
                Err(invalid("the same carrier as TELEPHONY_PROVIDER"))
            }
            _ => Self::of(secondary, env).map(Some),
        }
    }

    fn of(provider: Provider, env: &Env) -> Result<Self, ConfigError> {
        match provider {
            Provider::Simulated => Ok(Self::Simulated(SimulationConfig::from_env(env)?)),
            Provider::Twilio => Ok(Self::Twilio(TwilioConfig::from_env(env)?)),
            Provider::Vonage => {
                let config = VonageConfig::from_env(env)?;
                comms_auth::carriers::vonage_signing_key(&config)?;
                Ok(Self::Vonage(config))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_simulator_unless_a_carrier_is_named_or_has_credentials() {
        let simulated = TelephonyConfig::from_env(&Env::default()).unwrap();
        assert!(matches!(simulated, TelephonyConfig::Simulated(_)));
        let error = TelephonyConfig::from_env(&Env::from_pairs([(
            "TWILIO_ACCOUNT_SID",
            "AC00000000000000000000000000000000",
        )]))
        .unwrap_err();
        assert_eq!(error.variable, "TWILIO_AUTH_TOKEN", "{error}");
        let error = TelephonyConfig::from_env(&Env::from_pairs([("TELEPHONY_PROVIDER", "sip")]))
            .unwrap_err();
        assert_eq!(error.variable, "TELEPHONY_PROVIDER");
    }

    #[test]
    fn failover_is_to_another_carrier() {
        let twilio = [
            ("TWILIO_ACCOUNT_SID", "AC0123456789abcdef0123456789abcdef"),
            ("TWILIO_AUTH_TOKEN", "f00dbabe0123456789abcdef01234567"),
            ("TWILIO_PHONE_NUMBER", "+14155550100"),
            ("PUBLIC_BASE_URL", "https://comms.example.com"),
        ];
        let env = Env::from_pairs(twilio);
        let primary = TelephonyConfig::from_env(&env).unwrap();
        assert!(
            TelephonyConfig::failover_from_env(&env, &primary)
                .unwrap()
                .is_none()
        );
        for (named, reason) in [
            ("twilio", "the same carrier"),
            ("sip", "expected twilio or vonage"),
            ("vonage", "VONAGE_API_KEY"),
        ] {
            let mut env = Env::from_pairs(twilio);
            env.set("TELEPHONY_FAILOVER_PROVIDER", named);
            let error = TelephonyConfig::failover_from_env(&env, &primary).unwrap_err();
            assert!(error.to_string().contains(reason), "{error}");
        }
        let simulated = TelephonyConfig::from_env(&Env::default()).unwrap();
        let env = Env::from_pairs([("TELEPHONY_FAILOVER_PROVIDER", "twilio")]);
        let error = TelephonyConfig::failover_from_env(&env, &simulated).unwrap_err();
        assert!(error.to_string().contains("simulator"), "{error}");
    }
}
