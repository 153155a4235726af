//! What a transcript must never keep: card numbers (13 to 19 digits, spaced or dashed as
//! people say them, that pass the Luhn check) and the organization's configured patterns
//! (`TRANSCRIPT_REDACT_PATTERNS`). Each is replaced before an utterance is stored or published.

use regex::Regex;

/// What a redacted stretch reads as.
pub const REDACTED: &str = "[redacted]";

#[derive(Debug)]
pub struct Redactor {
    digit_runs: Regex,
    patterns: Vec<Regex>,
}

impl Redactor {
    /// With the configured patterns (regular expressions); the error names the one that does
    /// not compile.
    pub fn new<S: AsRef<str>>(patterns: &[S]) -> Result<Self, String> {
        let patterns = patterns
            .iter()
            .map(|p| Regex::new(p.as_ref()).map_err(|e| format!("pattern {:?}: {e}", p.as_ref())))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            digit_runs: Regex::new(r"[0-9](?:[ -]?[0-9])*").expect("a fixed pattern compiles"),
            patterns,
        })
    }

    pub fn redact(&self, text: &str) -> String {
        let cards = self
            .digit_runs
            .replace_all(text, |found: &regex::Captures| {
                let run = &found[0];
                let digits: Vec<u32> = run.chars().filter_map(|c| c.to_digit(10)).collect();
                if (13..=19).contains(&digits.len()) && luhn(&digits) {
                    REDACTED.to_owned()
                } else {
                    run.to_owned()
                }
            });
        self.patterns
            .iter()
            .fold(cards.into_owned(), |text, pattern| {
                pattern.replace_all(&text, REDACTED).into_owned()
            })
    }
}

/// The Luhn check card numbers carry in their last digit.
fn luhn(digits: &[u32]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| match i % 2 {
            0 => d,
            _ if d * 2 > 9 => d * 2 - 9,
            _ => d * 2,
        })
        .sum();
    sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn card_numbers_go_however_they_are_spaced_and_other_numbers_stay() {
        let redactor = Redactor::new::<&str>(&[]).unwrap();
        for said in [
            "my card is 4111 1111 1111 1111 thanks",
            "my card is 4111-1111-1111-1111 thanks",
            "my card is 4111111111111111 thanks",
            "my card is 3782 822463 10005 thanks",
        ] {
            assert_eq!(
                redactor.redact(said),
                "my card is [redacted] thanks",
                "{said}"
            );
        }
        // Not Luhn-valid, or too short: an order number, a phone number, a date.
        for kept in [
            "order 4111 1111 1111 1112",
            "call me on 415 555 0123",
            "on 2026-12-07 at 10",
        ] {
            assert_eq!(redactor.redact(kept), kept);
        }
        assert_eq!(
            redactor.redact("カード番号は4111111111111111です"),
            "カード番号は[redacted]です"
        );
    }

    #[test]
    fn configured_patterns_go_too_and_a_bad_one_is_named() {
        let redactor =
            Redactor::new(&[r"\b[0-9]{3}-[0-9]{2}-[0-9]{4}\b", r"(?i)password is \S+"]).unwrap();
        assert_eq!(
            redactor.redact("SSN 123-45-6789, password is hunter2"),
            "SSN [redacted], [redacted]"
        );
        assert!(
            Redactor::new(&["(unclosed"])
                .unwrap_err()
                .contains("(unclosed")
        );
    }
}
