//! The transcription service's settings, from the environment.

use std::time::Duration;

use comms_runtime::config::Common;
use comms_runtime::{ConfigError, Env};

use comms_auth::media_tokens::MediaTokens;

use crate::assist::AnthropicOptions;
use crate::deepgram::Options;
use crate::redact::Redactor;
use crate::sentiment::OpenAiOptions;

#[derive(Debug, Clone)]
pub struct Config {
    pub common: Common,
    pub engine: Engine,
    /// `TRANSCRIPT_REDACT_PATTERNS`: regular expressions, one per line, redacted from every
    /// utterance besides card numbers.
    pub redact_patterns: Vec<String>,
    /// Who judges callers' sentiment: OpenAI with `OPENAI_API_KEY`, the built-in lexicon without.
    pub openai: Option<OpenAiOptions>,
    /// Who writes calls' wrap-up summaries: Anthropic with `ANTHROPIC_API_KEY`, the extractive
    /// summary without.
    pub anthropic: Option<AnthropicOptions>,
    /// The least time between two of a call's assist suggestions (`ASSIST_INTERVAL_SECONDS`, 10).
    pub assist_interval: Duration,
    /// The agents service (`AGENTS_GRPC_URL`): whether a supervisor leads a call's agent.
    pub agents_url: String,
    /// The queue transcript search's tables are kept from.
    pub search: comms_bus::ConsumerConfig,
    /// How often transcripts past their organization's retention are looked for and deleted
    /// (`RETENTION_SWEEP_SECONDS`, 3600).
    pub retention_sweep: Duration,
}

/// The consumer that keeps transcript search's tables (`TRANSCRIPT_SEARCH_QUEUE`,
/// `comms.transcription.search`): utterances, calls' agents, and transcripts' deletions.
pub fn search_consumer(env: &Env) -> Result<comms_bus::ConsumerConfig, ConfigError> {
    use comms_events::Event as _;
    use comms_events::call::{AgentAssigned, Started, TranscriptDeleted, Utterance};
    let common = Common::from_env(env)?;
    Ok(comms_bus::ConsumerConfig {
        amqp_url: common.rabbitmq_url.clone(),
        exchange: common.events_exchange.clone(),
        queue: env.string("TRANSCRIPT_SEARCH_QUEUE", "comms.transcription.search"),
        bindings: [
            Utterance::TYPE,
            Started::TYPE,
            AgentAssigned::TYPE,
            TranscriptDeleted::TYPE,
        ]
        .map(str::to_owned)
        .to_vec(),
        consumer_name: "transcription.search".into(),
        prefetch: 100,
        queue_type: common.queue_type,
        retry: comms_bus::RetryPolicy::default(),
        publishers: common.event_publishers.clone(),
    })
}

/// What turns calls' speech into text (`TRANSCRIBER`).
#[derive(Debug, Clone)]
pub enum Engine {
    /// `deepgram` (the default): calls' audio from the carriers' media sockets, to Deepgram.
    Deepgram {
        options: Options,
        /// `MEDIA_TOKEN_SECRET`: verifies calls' media tokens (the calls service signs them).
        media_tokens: MediaTokens,
    },
    /// `simulated`: each answered call heard as a scripted conversation in its language, for a
    /// fleet without a carrier or Deepgram (`comms dev`). No audio is read.
    Simulated(Simulation),
    /// `off`: nothing is transcribed; the transcripts recorded are served.
    Off,
}

/// The simulated.engine's settings.
#[derive(Debug, Clone)]
pub struct Simulation {
    /// The queue it follows calls' answers and ends on (`TRANSCRIPTION_QUEUE`).
    pub consumer: comms_bus::ConsumerConfig,
    /// Time between a conversation's lines (`SIM_TRANSCRIPT_LINE_MS`, 3000).
    pub line_every: Duration,
}

impl Simulation {
    /// `None` unless `TRANSCRIBER=simulated`.
    pub fn from_env(env: &Env) -> Result<Option<Self>, ConfigError> {
        match env.string("TRANSCRIBER", "deepgram").as_str() {
            "deepgram" | "off" => Ok(None),
            "simulated" => {
                use comms_events::Event as _;
                use comms_events::call::{Answered, Canceled, Ended, Failed};
                let common = Common::from_env(env)?;
                let bindings = [Answered::TYPE, Ended::TYPE, Failed::TYPE, Canceled::TYPE];
                Ok(Some(Self {
                    consumer: comms_bus::ConsumerConfig {
                        amqp_url: common.rabbitmq_url.clone(),
                        exchange: common.events_exchange.clone(),
                        queue: env.string("TRANSCRIPTION_QUEUE", "comms.transcription"),
                        bindings: bindings.map(str::to_owned).to_vec(),
                        consumer_name: "transcription.simulated".into(),
                        prefetch: 100,
                        queue_type: common.queue_type,
                        retry: comms_bus::RetryPolicy::default(),
                        publishers: common.event_publishers.clone(),
                    },
                    line_every: Duration::from_millis(
                        env.parse("SIM_TRANSCRIPT_LINE_MS", 3_000)?.max(1),
                    ),
                }))
            }
            other => Err(ConfigError {
                variable: "TRANSCRIBER".into(),
                value: other.into(),
                reason: "deepgram, simulated or off".into(),
            }),
        }
    }
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let engine = match Simulation::from_env(env)? {
            Some(simulation) => Engine::Simulated(simulation),
            None if env.string("TRANSCRIBER", "deepgram") == "off" => Engine::Off,
            None => Self::deepgram(env)?,
        };
        let patterns = env.string("TRANSCRIPT_REDACT_PATTERNS", "");
        let redact_patterns: Vec<String> = patterns
            .lines()
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect();
        Redactor::new(&redact_patterns).map_err(|reason| ConfigError {
            variable: "TRANSCRIPT_REDACT_PATTERNS".into(),
            value: patterns.clone(),
            reason,
        })?;
        Ok(Self {
            common: Common::from_env(env)?,
            engine,
            redact_patterns,
            openai: Self::openai(env)?,
            anthropic: Self::anthropic(env)?,
            assist_interval: Duration::from_secs_f64(
                env.parse::<f64>("ASSIST_INTERVAL_SECONDS", 10.0)?.max(0.0),
            ),
            agents_url: env.url(
                "AGENTS_GRPC_URL",
                "http://127.0.0.1:50053",
                &["http", "https"],
            )?,
            search: search_consumer(env)?,
            retention_sweep: Duration::from_secs_f64(
                env.parse::<f64>("RETENTION_SWEEP_SECONDS", 3600.0)?
                    .max(1.0),
            ),
        })
    }

    fn anthropic(env: &Env) -> Result<Option<AnthropicOptions>, ConfigError> {
        let api_key = match env.get("ANTHROPIC_API_KEY") {
            Some(key) if !key.trim().is_empty() => key.trim().to_owned(),
            _ => return Ok(None),
        };
        Ok(Some(AnthropicOptions {
            base_url: env.url(
                "ANTHROPIC_BASE_URL",
                "https://api.anthropic.com",
                &["https", "http"],
            )?,
            api_key,
            model: env.string("ANTHROPIC_MODEL", "claude-haiku-4-5"),
            retries: 2,
            longest_wait: Duration::from_secs(5),
        }))
    }

    fn openai(env: &Env) -> Result<Option<OpenAiOptions>, ConfigError> {
        let api_key = match env.get("OPENAI_API_KEY") {
            Some(key) if !key.trim().is_empty() => key.trim().to_owned(),
            _ => return Ok(None),
        };
        Ok(Some(OpenAiOptions {
            base_url: env.url(
                "OPENAI_BASE_URL",
                "https://api.openai.com/v1",
                &["https", "http"],
            )?,
            api_key,
            model: env.string("OPENAI_SENTIMENT_MODEL", "gpt-4o-mini"),
            retries: 2,
            longest_wait: Duration::from_secs(5),
        }))
    }

    fn deepgram(env: &Env) -> Result<Engine, ConfigError> {
        let api_key = match env.get("DEEPGRAM_API_KEY") {
            Some(key) if !key.trim().is_empty() => key.to_owned(),
            _ => {
                return Err(ConfigError {
                    variable: "DEEPGRAM_API_KEY".into(),
                    value: String::new(),
                    reason: "required: the Deepgram API key calls are transcribed with".into(),
                });
            }
        };
        let mut deepgram = Options::new(
            env.url(
                "DEEPGRAM_URL",
                "wss://api.deepgram.com/v1/listen",
                &["wss", "ws"],
            )?,
            api_key,
        );
        deepgram.model = env.string("DEEPGRAM_MODEL", "nova-3");
        let options = env.string("DEEPGRAM_OPTIONS", "");
        deepgram.extra = serde_urlencoded::from_str(&options).map_err(|e| ConfigError {
            variable: "DEEPGRAM_OPTIONS".into(),
            value: options.clone(),
            reason: format!("a query string, e.g. keyterm=Ocelot&numerals=true: {e}"),
        })?;
        deepgram.keep_alive =
            Duration::from_secs(env.parse("DEEPGRAM_KEEP_ALIVE_SECONDS", 3)?.max(1));
        let media_tokens = MediaTokens::from_env(env, "to serve transcription")?;
        Ok(Engine::Deepgram {
            options: deepgram,
            media_tokens,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::from_pairs(pairs.iter().copied())
    }

    #[test]
    fn each_missing_or_bad_setting_is_named() {
        let secret = "s".repeat(32);
        let good = [
            ("DEEPGRAM_API_KEY", "dg"),
            ("MEDIA_TOKEN_SECRET", secret.as_str()),
        ];
        let config = Config::from_env(&env(&good)).unwrap();
        let Engine::Deepgram { options, .. } = &config.engine else {
            panic!("{config:?}")
        };
        assert_eq!(options.url, "wss://api.deepgram.com/v1/listen");
        assert_eq!(options.model, "nova-3");
        for (drop, variable) in [
            ("DEEPGRAM_API_KEY", "DEEPGRAM_API_KEY"),
            ("MEDIA_TOKEN_SECRET", "MEDIA_TOKEN_SECRET"),
        ] {
            let pairs: Vec<_> = good.iter().copied().filter(|(k, _)| *k != drop).collect();
            assert_eq!(
                Config::from_env(&env(&pairs)).unwrap_err().variable,
                variable
            );
        }
        for (bad, variable) in [
            (("MEDIA_TOKEN_SECRET", "short"), "MEDIA_TOKEN_SECRET"),
            (("DEEPGRAM_URL", "https://api.deepgram.com"), "DEEPGRAM_URL"),
            (
                ("TRANSCRIPT_REDACT_PATTERNS", "ok\n(unclosed"),
                "TRANSCRIPT_REDACT_PATTERNS",
            ),
        ] {
            let mut pairs = good.to_vec();
            pairs.retain(|(k, _)| *k != bad.0);
            pairs.push(bad);
            assert_eq!(
                Config::from_env(&env(&pairs)).unwrap_err().variable,
                variable
            );
        }
        let mut pairs = good.to_vec();
        pairs.push(("DEEPGRAM_OPTIONS", "keyterm=Ocelot&numerals=true"));
        let config = Config::from_env(&env(&pairs)).unwrap();
        let Engine::Deepgram { options, .. } = &config.engine else {
            panic!("{config:?}")
        };
        assert_eq!(options.extra.len(), 2);
        assert!(config.openai.is_none(), "the lexicon without a key");
        let mut pairs = good.to_vec();
        pairs.push(("OPENAI_API_KEY", "sk-test"));
        let config = Config::from_env(&env(&pairs)).unwrap();
        let openai = config.openai.unwrap();
        assert_eq!(
            (openai.base_url.as_str(), openai.model.as_str()),
            ("https://api.openai.com/v1", "gpt-4o-mini")
        );
        assert!(
            config.anthropic.is_none(),
            "the extractive summary without a key"
        );
        pairs.push(("ANTHROPIC_API_KEY", "sk-ant-test"));
        let anthropic = Config::from_env(&env(&pairs)).unwrap().anthropic.unwrap();
        assert_eq!(
            (anthropic.base_url.as_str(), anthropic.model.as_str()),
            ("https://api.anthropic.com", "claude-haiku-4-5")
        );
        pairs.push(("OPENAI_BASE_URL", "ftp://openai"));
        assert_eq!(
            Config::from_env(&env(&pairs)).unwrap_err().variable,
            "OPENAI_BASE_URL"
        );
        // Simulated, neither Deepgram nor a media secret is needed; nothing else is a transcriber.
        let simulated = Config::from_env(&env(&[("TRANSCRIBER", "simulated")])).unwrap();
        assert!(matches!(simulated.engine, Engine::Simulated(_)));
        let off = Config::from_env(&env(&[("TRANSCRIBER", "off")])).unwrap();
        assert!(matches!(off.engine, Engine::Off));
        let error = Config::from_env(&env(&[("TRANSCRIBER", "whisper")])).unwrap_err();
        assert_eq!(error.variable, "TRANSCRIBER");
    }
}
