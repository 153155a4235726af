//! Any bytes as a message body: never a panic; an accepted envelope writes out and reads back
//! as itself.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    let Ok(envelope) = comms_events::envelope::Envelope::parse(body) else {
        return;
    };
    let again = comms_events::envelope::Envelope::parse(&envelope.to_json()).expect("what we write, we read");
    assert_eq!(again, envelope);
});
