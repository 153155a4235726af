//! Verifying providers' webhook signatures, always in constant time (`ring::hmac::verify`).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use comms_config::carriers::VonageSignatureMethod;
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

/// What a Twilio webhook carried: form parameters (signed with the URL), or a raw body (JSON)
/// whose SHA-256 the URL's `bodySHA256` parameter carries, the URL alone being signed.
pub enum TwilioBody<'a> {
    Form(&'a [(String, String)]),
    Raw(&'a [u8]),
}

/// Checks a webhook's `X-Twilio-Signature` as twilio-python's `RequestValidator.validate` does:
/// `url` is the URL Twilio was given, tried with and without its port (Twilio adds or drops
/// `:443` inconsistently); a raw body must match the URL's `bodySHA256`.
pub fn verify_twilio_request(
    auth_token: &str,
    url: &str,
    body: TwilioBody<'_>,
    header: &str,
) -> bool {
    let params = match body {
        TwilioBody::Form(params) => params.to_vec(),
        TwilioBody::Raw(raw) => {
            let hash = hex(ring::digest::digest(&ring::digest::SHA256, raw).as_ref());
            let claimed = url
                .split_once('?')
                .map(|(_, query)| query)
                .and_then(|query| serde_urlencoded::from_str::<Vec<(String, String)>>(query).ok())
                .and_then(|pairs| pairs.into_iter().find(|(k, _)| k == "bodySHA256"))
                .map(|(_, v)| v);
            if claimed.as_deref() != Some(hash.as_str()) {
                return false;
            }
            Vec::new()
        }
    };
    [without_port(url), with_port(url)]
        .iter()
        .any(|candidate| verify_twilio(auth_token, candidate, &params, header))
}

/// The URL's authority part: after `scheme://`, up to the path.
fn split_authority(url: &str) -> Option<(&str, &str, &str)> {
    let (scheme, rest) = url.split_once("://")?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    Some((scheme, &rest[..end], &rest[end..]))
}

/// The host and its explicit port, if any (a bracketed IPv6 host keeps its colons).
fn host_and_port(authority: &str) -> (&str, Option<&str>) {
    match authority.rsplit_once(':') {
        Some((host, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => {
            (host, Some(port))
        }
        _ => (authority, None),
    }
}

fn without_port(url: &str) -> String {
    match split_authority(url) {
        Some((scheme, authority, rest)) => {
            format!("{scheme}://{}{rest}", host_and_port(authority).0)
        }
        None => url.to_owned(),
    }
}

fn with_port(url: &str) -> String {
    match split_authority(url) {
        Some((scheme, authority, rest)) if host_and_port(authority).1.is_none() => {
            let port = if scheme == "https" { 443 } else { 80 };
            format!("{scheme}://{authority}:{port}{rest}")
        }
        _ => url.to_owned(),
    }
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

/// The `sig` Vonage computes over a signed webhook's parameters: every parameter but `sig`,
/// sorted by name, each as `&name=value` with `&` and `=` inside values replaced by `_`; hashed
/// with `secret` by `method`; lowercase hex. The SDKs differ on parameters with a blank value:
/// Python's and PHP's sign them, Java's (`RequestSigning`) leaves them out (`skip_blank`).
pub fn vonage_sms_signature(
    method: VonageSignatureMethod,
    secret: &str,
    params: &[(String, String)],
    skip_blank: bool,
) -> String {
    use ::hmac::{KeyInit as _, Mac as _};
    let mut signed: Vec<&(String, String)> = params
        .iter()
        .filter(|(name, value)| name != "sig" && !(skip_blank && value.trim().is_empty()))
        .collect();
    signed.sort();
    let clean = |text: &str| text.replace(['&', '='], "_");
    let message: String = signed
        .iter()
        .map(|(name, value)| format!("&{}={}", clean(name), clean(value)))
        .collect();
    let ring_hmac = |algorithm| {
        let key = hmac::Key::new(algorithm, secret.as_bytes());
        hex(hmac::sign(&key, message.as_bytes()).as_ref())
    };
    match method {
        VonageSignatureMethod::Md5Hash => {
            use md5::Digest as _;
            hex(&md5::Md5::digest(format!("{message}{secret}").as_bytes()))
        }
        VonageSignatureMethod::HmacMd5 => {
            let mut mac = ::hmac::Hmac::<md5::Md5>::new_from_slice(secret.as_bytes())
                .expect("HMAC takes a key of any length");
            mac.update(message.as_bytes());
            hex(&mac.finalize().into_bytes())
        }
        VonageSignatureMethod::HmacSha1 => ring_hmac(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY),
        VonageSignatureMethod::HmacSha256 => ring_hmac(hmac::HMAC_SHA256),
        VonageSignatureMethod::HmacSha512 => ring_hmac(hmac::HMAC_SHA512),
    }
}

/// Why a Vonage SMS webhook is not trusted, if it is not: its `sig` must match
/// ([`vonage_sms_signature`], compared in constant time, any case) and its `timestamp` (Unix
/// seconds) be within five minutes of `now`, so a captured request cannot be replayed later.
pub fn verify_vonage_sms(
    method: VonageSignatureMethod,
    secret: &str,
    params: &[(String, String)],
    now: i64,
) -> Result<(), &'static str> {
    let value = |name: &str| {
        params
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    };
    let claimed = value("sig").ok_or("missing sig: signed webhooks are expected")?;
    let timestamp: i64 = value("timestamp")
        .and_then(|t| t.trim().parse().ok())
        .ok_or("missing or malformed timestamp")?;
    let claimed = claimed.to_ascii_lowercase();
    // Every byte compared whatever the first difference: no timing tells how much matched.
    let matches = |expected: String| {
        let differences = expected
            .bytes()
            .zip(claimed.bytes())
            .fold(0u8, |found, (a, b)| found | (a ^ b));
        expected.len() == claimed.len() && differences == 0
    };
    let signed = [false, true]
        .into_iter()
        .any(|skip_blank| matches(vonage_sms_signature(method, secret, params, skip_blank)));
    if !signed {
        return Err("sig does not match these parameters under the signature secret");
    }
    if (now - timestamp).abs() > 300 {
        return Err("signed more than 5 minutes from now (a replay?)");
    }
    Ok(())
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

    /// An inbound text's parameters; the expected signatures were computed independently with
    /// Python's hashlib/hmac, following the Java SDK's `RequestSigning`.
    fn inbound_text() -> Vec<(String, String)> {
        [
            ("msisdn", "447700900001"),
            ("to", "447700900000"),
            ("messageId", "0A0000000123ABCD1"),
            ("text", "Hello & welcome=yes"),
            ("type", "text"),
            ("keyword", "HELLO"),
            ("message-timestamp", "2020-01-01 12:00:00"),
            ("timestamp", "1577880000"),
            ("nonce", "aaaaaaaa-bbbb-cccc-dddd-0123456789ab"),
            ("concat-ref", ""),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    #[test]
    fn vonage_sms_signatures_by_each_method() {
        use VonageSignatureMethod::*;
        let secret = "my-signature-secret-123";
        for (method, expected) in [
            (Md5Hash, "4775e1ec837b9d202f49d9fab443220e"),
            (HmacMd5, "f34fb76ca9b549e13cdc0610725add9b"),
            (HmacSha1, "ca735afa09118e6136f1fbb0c120a1af3977f276"),
            (
                HmacSha256,
                "99cd1252d823bad76153be2570af8f70790928270ebf07a51c890976035477fc",
            ),
            (
                HmacSha512,
                "07f3148a8b652c7f33031bcc45e1ce741f34eb3c0cac8f26fd04a504d29f382dcb57a0d61ba70f51d8c79f8088ff236026efc2a1e896fdd47b850722ea4aa17d",
            ),
        ] {
            assert_eq!(
                vonage_sms_signature(method, secret, &inbound_text(), true),
                expected
            );
            let mut signed = inbound_text();
            signed.push(("sig".into(), expected.to_ascii_uppercase()));
            assert_eq!(
                verify_vonage_sms(method, secret, &signed, 1_577_880_100),
                Ok(())
            );
            assert!(
                verify_vonage_sms(method, "another-secret-000", &signed, 1_577_880_100).is_err()
            );
            let stale = verify_vonage_sms(method, secret, &signed, 1_577_880_000 + 301);
            assert!(stale.unwrap_err().contains("replay"));
            signed[3].1 = "Hello & welcome=no".into();
            assert!(verify_vonage_sms(method, secret, &signed, 1_577_880_100).is_err());
        }
        let unsigned = inbound_text();
        let missing = verify_vonage_sms(Md5Hash, secret, &unsigned, 1_577_880_000);
        assert!(missing.unwrap_err().contains("missing sig"));
    }

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

    #[test]
    fn twilio_requests_verify_with_or_without_the_port_and_by_body_hash() {
        let params = vec![("CallSid".to_owned(), "CA1".to_owned())];
        let signed = twilio_signature("12345", "https://example.com:443/hook?x=1", &params);
        for url in [
            "https://example.com/hook?x=1",
            "https://example.com:443/hook?x=1",
        ] {
            assert!(
                verify_twilio_request("12345", url, TwilioBody::Form(&params), &signed),
                "{url}"
            );
        }
        assert!(!verify_twilio_request(
            "12345",
            "https://example.com/hook?x=2",
            TwilioBody::Form(&params),
            &signed
        ));
        let body = br#"{"CallSid":"CA1"}"#;
        let hash = hex(ring::digest::digest(&ring::digest::SHA256, body).as_ref());
        let url = format!("https://example.com/hook?bodySHA256={hash}");
        let signed = twilio_signature("12345", &url, &[]);
        assert!(verify_twilio_request(
            "12345",
            &url,
            TwilioBody::Raw(body),
            &signed
        ));
        assert!(!verify_twilio_request(
            "12345",
            &url,
            TwilioBody::Raw(br#"{"CallSid":"CA2"}"#),
            &signed
        ));
        assert_eq!(without_port("http://[::1]:8080/x"), "http://[::1]/x");
        assert_eq!(with_port("http://[::1]/x"), "http://[::1]:80/x");
    }
}
