//! Any text as a webhook or gateway signature header (Twilio's, Vonage's SMS `sig`, the
//! gateway's): never a panic, and never accepted unless it carries the real signature.
#![no_main]

use comms_auth::platform::{self, Gateway, GatewayHeaders, SignedRequest};
use comms_auth::webhook;
use comms_config::carriers::VonageSignatureMethod::*;
use libfuzzer_sys::fuzz_target;

const SECRET: &str = "a-shared-secret-of-at-least-32-characters";

fuzz_target!(|input: (&str, &[u8])| {
    let (header, body) = input;
    let real = webhook::hex(&hmac_sha256(SECRET.as_bytes(), body));
    let accepted = webhook::verify_hmac_sha256(SECRET.as_bytes(), body, header);
    let stripped = header.trim();
    let stripped = stripped.strip_prefix("sha256=").unwrap_or(stripped);
    if accepted {
        let as_hex = stripped.eq_ignore_ascii_case(&real);
        let as_base64 = webhook::unhex(&real).is_some_and(|tag| {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD
                .decode(stripped)
                .ok()
                == Some(tag)
        });
        assert!(
            as_hex || as_base64,
            "accepted a signature that is not the real one"
        );
    }
    assert!(webhook::verify_hmac_sha256(SECRET.as_bytes(), body, &real));

    let params = vec![(
        "Body".to_owned(),
        String::from_utf8_lossy(body).into_owned(),
    )];
    let url = "https://comms.example.com/webhooks/twilio";
    let twilio = webhook::twilio_signature(SECRET, url, &params);
    assert!(webhook::verify_twilio(SECRET, url, &params, &twilio));
    if webhook::verify_twilio(SECRET, url, &params, header) {
        assert_eq!(header.trim(), twilio, "accepted another Twilio signature");
    }

    // Vonage's SMS webhooks: the real `sig` verifies by every method; any other is refused.
    let mut vonage = vec![
        ("text".to_owned(), String::from_utf8_lossy(body).into_owned()),
        ("timestamp".to_owned(), "1800000000".to_owned()),
    ];
    for method in [Md5Hash, HmacMd5, HmacSha1, HmacSha256, HmacSha512] {
        vonage.retain(|(key, _)| key != "sig");
        let real = webhook::vonage_sms_signature(method, SECRET, &vonage, false);
        vonage.push(("sig".to_owned(), header.to_owned()));
        let verified = webhook::verify_vonage_sms(method, SECRET, &vonage, 1_800_000_000);
        if verified.is_ok() {
            let skipped = webhook::vonage_sms_signature(method, SECRET, &vonage, true);
            let claimed = header.to_ascii_lowercase();
            assert!(claimed == real || claimed == skipped, "accepted a forged sig");
        }
        vonage.retain(|(key, _)| key != "sig");
        vonage.push(("sig".to_owned(), real));
        assert!(webhook::verify_vonage_sms(method, SECRET, &vonage, 1_800_000_000).is_ok());
    }

    let gateway = Gateway::new(Default::default(), Some(SECRET));
    let digest = platform::body_sha256(body);
    let request = SignedRequest {
        method: "POST",
        path_and_query: "/api/communications/calls",
        body_sha256: &digest,
    };
    let headers = |signature| GatewayHeaders {
        org: Some("org_1"),
        user: Some("u1"),
        role: Some("admin"),
        signature: Some(signature),
    };
    let now = 1_800_000_000;
    let good = platform::sign(SECRET, now, request, ["org_1", "u1", "admin"]);
    assert!(gateway.identify(headers(&good), request, now).is_ok());
    if gateway.identify(headers(header), request, now).is_ok() {
        assert!(
            header.contains(good.split_once("v2=").unwrap().1),
            "accepted a forged signature"
        );
    }
});

fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    ring::hmac::sign(&key, message).as_ref().to_vec()
}
