//! Phone numbers in E.164: `+`, a country code, at most 15 digits in all.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PhoneNumber(String);

impl PhoneNumber {
    /// Accepts `+` followed by 8 to 15 digits, the first not 0. Spaces, dashes, dots and
    /// parentheses people type are not accepted: callers send the canonical form.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let Some(digits) = raw.strip_prefix('+') else {
            return Err(format!(
                "{raw:?} is not an E.164 number: it must start with + and the country code, e.g. +14155550100"
            ));
        };
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!(
                "{raw:?} is not an E.164 number: only digits may follow the +"
            ));
        }
        if digits.starts_with('0') {
            return Err(format!(
                "{raw:?} is not an E.164 number: country codes do not start with 0"
            ));
        }
        if !(8..=15).contains(&digits.len()) {
            return Err(format!(
                "{raw:?} is not an E.164 number: it must have 8 to 15 digits"
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for PhoneNumber {
    type Error = String;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<PhoneNumber> for String {
    fn from(number: PhoneNumber) -> Self {
        number.0
    }
}

/// The schema says what [`PhoneNumber::parse`] accepts.
impl schemars::JsonSchema for PhoneNumber {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "PhoneNumber".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^\\+[1-9][0-9]{7,14}$",
            "description": "E.164: + and the country code, 8 to 15 digits in all."
        })
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::PhoneNumber;

    #[test]
    fn accepts_e164() {
        for ok in [
            "+14155550100",
            "+447911123456",
            "+4930123456",
            "+861012345678901",
        ] {
            assert!(PhoneNumber::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn rejects_everything_else_saying_why() {
        for bad in [
            "14155550100",
            "+1 415 555 0100",
            "+0123456789",
            "+1234567",
            "+1234567890123456",
            "",
            "+",
            "+1415555abcd",
        ] {
            let err = PhoneNumber::parse(bad).unwrap_err();
            assert!(err.contains("E.164"), "{bad}: {err}");
        }
    }
}
