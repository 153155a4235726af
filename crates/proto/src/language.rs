//! The languages the platform supports for calls, transcription and agents: part of the API
//! contract, so every service validates against the same list.

use serde::{Deserialize, Serialize};

/// The languages the platform supports for calls, transcription and agents.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Language {
    En,
    Es,
    Fr,
    De,
    It,
    Pt,
    Zh,
    Ja,
}

impl Language {
    pub const ALL: [(Self, &'static str); 8] = [
        (Self::En, "en"),
        (Self::Es, "es"),
        (Self::Fr, "fr"),
        (Self::De, "de"),
        (Self::It, "it"),
        (Self::Pt, "pt"),
        (Self::Zh, "zh"),
        (Self::Ja, "ja"),
    ];

    pub fn parse(value: &str) -> Result<Self, String> {
        Self::ALL
            .iter()
            .find(|(_, code)| *code == value)
            .map(|(language, _)| *language)
            .ok_or_else(|| {
                format!("{value:?} is not supported; use one of en, es, fr, de, it, pt, zh, ja")
            })
    }

    pub fn as_str(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(l, _)| *l == self)
            .map(|(_, c)| *c)
            .expect("listed")
    }
}
