//! Any text as a phone number: never a panic; what is accepted is E.164 (a `+` and 8 to 15
//! digits, the first not 0) and reads back as itself.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|raw: &str| {
    let Ok(number) = comms_proto::PhoneNumber::parse(raw) else {
        return;
    };
    let text = number.as_str();
    let digits = text.strip_prefix('+').expect("E.164 starts with +");
    assert!(digits.chars().all(|c| c.is_ascii_digit()), "{text}");
    assert!((8..=15).contains(&digits.len()), "{text}");
    assert!(!digits.starts_with('0'), "{text}");
    let again = comms_proto::PhoneNumber::parse(text).expect("an accepted number reads back");
    assert_eq!(again.as_str(), text);
});
