//! Which provider carries the calls: `TELEPHONY_PROVIDER=simulated|twilio|vonage`, by default a
//! carrier whose credentials are set, else the simulator (so `scripts/dev` works offline).

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
        let provider = match env.get("TELEPHONY_PROVIDER") {
            Some(named) => named.to_owned(),
            None if env.get("TWILIO_ACCOUNT_SID").is_some() => "twilio".into(),
            None if env.get("VONAGE_API_KEY").is_some() => "vonage".into(),
            None => "simulated".into(),
        };
        match provider.as_str() {
            "simulated" => Ok(Self::Simulated(SimulationConfig::from_env(env)?)),
            "twilio" => Ok(Self::Twilio(TwilioConfig::from_env(env)?)),
            "vonage" => {
                let config = VonageConfig::from_env(env)?;
                comms_auth::carriers::vonage_signing_key(&config)?;
                Ok(Self::Vonage(config))
            }
            _ => Err(ConfigError {
                variable: "TELEPHONY_PROVIDER".into(),
                value: provider,
                reason: "expected simulated, twilio or vonage".into(),
            }),
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
}
