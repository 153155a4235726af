//! Forged, stale and misused tokens: each is refused with 401.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use comms_auth::tokens::Lifetimes;
use comms_auth::{Identity, KeyRing, PrivateKey, Role, TokenKind, Tokens};
use comms_proto::ErrorKind;
use jsonwebtoken::{Algorithm, EncodingKey, Header};

fn tokens() -> Tokens {
    Tokens::new(
        KeyRing::new(PrivateKey::generate(), vec![]),
        Lifetimes::default(),
    )
}

fn alice() -> Identity {
    Identity::new("org_a", "alice", Role::Admin).unwrap()
}

fn refused(tokens: &Tokens, token: &str, kinds: &[TokenKind]) -> String {
    let error = tokens
        .verify(token, kinds)
        .expect_err("the token must be refused");
    assert_eq!(error.kind, ErrorKind::Unauthenticated);
    error.message
}

fn b64(json: serde_json::Value) -> String {
    URL_SAFE_NO_PAD.encode(json.to_string())
}

#[test]
fn a_fresh_access_token_is_accepted() {
    let tokens = tokens();
    let token = tokens.access_token(&alice()).unwrap();
    let claims = tokens.verify(&token, &[TokenKind::Access]).unwrap();
    assert_eq!(claims.identity().unwrap(), alice());
}

#[test]
fn alg_none_is_refused() {
    let tokens = tokens();
    let claims = tokens.claims(&alice(), TokenKind::Access, Lifetimes::default().access);
    let kid = &tokens.keys().signing().unwrap().public.kid;
    for alg in ["none", "None", "NONE"] {
        let token = format!(
            "{}.{}.",
            b64(serde_json::json!({"alg": alg, "typ": "JWT", "kid": kid})),
            b64(serde_json::to_value(&claims).unwrap())
        );
        refused(&tokens, &token, &[TokenKind::Access]);
    }
}

#[test]
fn hs256_signed_with_the_public_key_is_refused() {
    let tokens = tokens();
    let public = &tokens.keys().signing().unwrap().public;
    let claims = tokens.claims(&alice(), TokenKind::Access, Lifetimes::default().access);
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(public.kid.clone());
    for secret in [
        public.to_pem().into_bytes(),
        public.jwk()["x"].as_str().unwrap().as_bytes().to_vec(),
    ] {
        let token =
            jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(&secret)).unwrap();
        let reason = refused(&tokens, &token, &[TokenKind::Access]);
        assert!(reason.contains("HS256"), "{reason}");
    }
}

#[test]
fn expired_and_not_yet_valid_tokens_are_refused() {
    let tokens = tokens();
    let now = chrono::Utc::now().timestamp();
    let mut expired = tokens.claims(&alice(), TokenKind::Access, Lifetimes::default().access);
    (expired.iat, expired.nbf, expired.exp) = (now - 1000, now - 1000, now - 100);
    refused(
        &tokens,
        &tokens.sign(&expired).unwrap(),
        &[TokenKind::Access],
    );
    let mut early = tokens.claims(&alice(), TokenKind::Access, Lifetimes::default().access);
    (early.nbf, early.exp) = (now + 600, now + 1200);
    refused(&tokens, &tokens.sign(&early).unwrap(), &[TokenKind::Access]);
}

#[test]
fn unknown_kid_and_missing_kid_are_refused() {
    let tokens = tokens();
    let claims = tokens.claims(&alice(), TokenKind::Access, Lifetimes::default().access);
    let key = PrivateKey::generate();
    let ours = PrivateKey::from_pem(&key.to_pem()).unwrap();
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some("no-such-key".into());
    let signer = EncodingKey::from_ed_der(&pkcs8(&ours));
    refused(
        &tokens,
        &jsonwebtoken::encode(&header, &claims, &signer).unwrap(),
        &[TokenKind::Access],
    );
    header.kid = None;
    refused(
        &tokens,
        &jsonwebtoken::encode(&header, &claims, &signer).unwrap(),
        &[TokenKind::Access],
    );
}

#[test]
fn a_tampered_payload_is_refused() {
    let tokens = tokens();
    let token = tokens
        .access_token(&Identity::new("org_a", "alice", Role::Agent).unwrap())
        .unwrap();
    let parts: Vec<&str> = token.split('.').collect();
    let mut claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    claims["org"] = "org_b".into();
    claims["role"] = "admin".into();
    let forged = format!("{}.{}.{}", parts[0], b64(claims), parts[2]);
    refused(&tokens, &forged, &[TokenKind::Access]);
}

#[test]
fn a_token_signed_by_another_key_under_our_kid_is_refused() {
    let tokens = tokens();
    let claims = tokens.claims(&alice(), TokenKind::Access, Lifetimes::default().access);
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(tokens.keys().signing().unwrap().public.kid.clone());
    let stranger = PrivateKey::generate();
    let token = jsonwebtoken::encode(
        &header,
        &claims,
        &EncodingKey::from_ed_der(&pkcs8(&stranger)),
    )
    .unwrap();
    refused(&tokens, &token, &[TokenKind::Access]);
}

#[test]
fn tokens_only_work_where_their_kind_is_accepted() {
    let tokens = tokens();
    let refresh = tokens
        .sign(&tokens.claims(&alice(), TokenKind::Refresh, Lifetimes::default().refresh))
        .unwrap();
    let access = tokens.access_token(&alice()).unwrap();
    let internal = tokens.internal_token(&alice()).unwrap();
    refused(&tokens, &refresh, &[TokenKind::Access]);
    refused(&tokens, &access, &[TokenKind::Refresh]);
    refused(&tokens, &access, &[TokenKind::Internal, TokenKind::Service]);
    refused(&tokens, &internal, &[TokenKind::Access]);
    // A claimed `typ` that disagrees with the audience is refused too.
    let mut mixed = tokens.claims(&alice(), TokenKind::Refresh, Lifetimes::default().refresh);
    mixed.kind = TokenKind::Access;
    refused(&tokens, &tokens.sign(&mixed).unwrap(), &[TokenKind::Access]);
}

#[test]
fn rotated_out_keys_still_verify_and_the_newest_signs() {
    let old = PrivateKey::generate();
    let old_tokens = Tokens::new(KeyRing::new(old.clone(), vec![]), Lifetimes::default());
    let issued_before = old_tokens.access_token(&alice()).unwrap();
    let new = PrivateKey::generate();
    let rotated = Tokens::new(
        KeyRing::new(new.clone(), vec![old.public.clone()]),
        Lifetimes::default(),
    );
    assert!(rotated.verify(&issued_before, &[TokenKind::Access]).is_ok());
    let issued_after = rotated.access_token(&alice()).unwrap();
    let kid = jsonwebtoken::decode_header(&issued_after)
        .unwrap()
        .kid
        .unwrap();
    assert_eq!(kid, new.public.kid);
    // Once the old key is dropped from the ring, its tokens stop working.
    let retired = Tokens::new(KeyRing::new(new, vec![]), Lifetimes::default());
    refused(&retired, &issued_before, &[TokenKind::Access]);
}

fn pkcs8(key: &PrivateKey) -> Vec<u8> {
    let pem = key.to_pem();
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap()
}
