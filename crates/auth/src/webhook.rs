//! Verifying providers' webhook signatures, always in constant time (`ring::hmac::verify`).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ring::hmac;

/// Checks a hex or base64 HMAC-SHA256 of `body` under `secret` (the common webhook scheme:
/// Vonage signed callbacks, Deepgram, most platforms). A `sha256=` prefix is allowed.
pub fn verify_hmac_sha256(secret: &[u8], body: &[u8], signature: &str) -> bool {
    let signature = signature.trim();
    let signature = signature.strip_prefix("sha256=").unwrap_or(signature);
    let Some(tag) = unhex(signature).or_else(|| STANDARD.decode(signature).ok()) else {
        return false;
    };
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    hmac::verify(&key, body, &tag).is_ok()
}

/// Twilio's `X-Twilio-Signature`: base64 HMAC-SHA1, keyed by the account's auth token, over the
/// full URL Twilio requested followed by each POST parameter's name and value, sorted by name.
pub fn twilio_signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, auth_token.as_bytes());
    STANDARD.encode(hmac::sign(&key, &twilio_message(url, params)).as_ref())
}

pub fn verify_twilio(
    auth_token: &str,
    url: &str,
    params: &[(String, String)],
    header: &str,
) -> bool {
    let Ok(tag) = STANDARD.decode(header.trim()) else {
        return false;
    };
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, auth_token.as_bytes());
    hmac::verify(&key, &twilio_message(url, params), &tag).is_ok()
}

fn twilio_message(url: &str, params: &[(String, String)]) -> Vec<u8> {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    let mut message = url.as_bytes().to_vec();
    for (name, value) in sorted {
        message.extend_from_slice(name.as_bytes());
        message.extend_from_slice(value.as_bytes());
    }
    message
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_sha256_in_hex_or_base64() {
        // RFC 4231 test case 2.
        let tag = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
        assert!(verify_hmac_sha256(
            b"Jefe",
            b"what do ya want for nothing?",
            tag
        ));
        assert!(verify_hmac_sha256(
            b"Jefe",
            b"what do ya want for nothing?",
            &format!("sha256={tag}")
        ));
        let b64 = STANDARD.encode(unhex(tag).unwrap());
        assert!(verify_hmac_sha256(
            b"Jefe",
            b"what do ya want for nothing?",
            &b64
        ));
        assert!(!verify_hmac_sha256(
            b"Jefe",
            b"what do ya want for something?",
            tag
        ));
        assert!(!verify_hmac_sha256(b"Jefe", b"x", "not a signature"));
    }

    #[test]
    fn twilio_signature_matches_twilio_python() {
        // The parameters of Twilio's request-validation docs; the signature as twilio-python
        // 9.13's `RequestValidator("12345").compute_signature(url, params)` computes it.
        let params: Vec<(String, String)> = [
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+12349013030"),
            ("Digits", "1234"),
            ("From", "+12349013030"),
            ("To", "+18005551212"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let url = "https://mycompany.com/myapp";
        let signature = twilio_signature("12345", url, &params);
        assert_eq!(signature, "3KI2uRuYyAdhZIJXcpU0izDUzWI=");
        assert!(verify_twilio("12345", url, &params, &signature));
        assert!(!verify_twilio(
            "12345",
            "https://example.com/other",
            &params,
            &signature
        ));
        assert!(!verify_twilio("wrong", url, &params, &signature));
    }
}
