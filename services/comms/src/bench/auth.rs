//! What authentication adds to each REST request: the edge verifies the caller's access token
//! and signs a service token, and the service verifies that; each the first time, and when
//! remembered. Measured in-process, beside an HS256 sign-and-verify of the same claims (the
//! cheapest JWT there is) as the baseline; and the bcrypt cost a login pays.

use std::time::{Duration, Instant};

use comms_auth::tokens::Lifetimes;
use comms_auth::{Identity, KeyRing, PrivateKey, Role, TokenKind, Tokens};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{Value, json};

use super::stats::{round, times};
use super::{Options, heading};

fn micros(d: Duration) -> f64 {
    round(d.as_secs_f64() * 1e6)
}

pub fn run(options: &Options) -> anyhow::Result<Value> {
    heading("auth: token work per REST request, beside HS256; bcrypt per login");
    let n: u32 = if options.cell < Duration::from_secs(1) {
        50
    } else {
        5_000
    };
    let tokens = Tokens::new(
        KeyRing::new(PrivateKey::generate(), vec![]),
        Lifetimes::default(),
    );
    let error = |e: comms_proto::ApiError| anyhow::anyhow!(e.message);
    // Distinct callers, so the first pass meets every token (and signs every service token)
    // anew, and the second finds them remembered, as a client's later requests do.
    let callers: Vec<Identity> = (0..n)
        .map(|i| Identity::new("org_bench", &format!("user{i}"), Role::Agent))
        .collect::<Result<_, _>>()
        .map_err(error)?;
    let access: Vec<String> = callers
        .iter()
        .map(|c| tokens.access_token(c))
        .collect::<Result<_, _>>()
        .map_err(error)?;
    let pass = |op: &dyn Fn(usize)| {
        let started = Instant::now();
        (0..n as usize).for_each(op);
        started.elapsed() / n
    };
    let verify_access = |i: usize| {
        tokens
            .verify(&access[i], &[TokenKind::Access])
            .expect("valid");
    };
    let service_token = |i: usize| {
        let token = tokens.internal_token(&callers[i]).expect("signs");
        tokens
            .verify(&token, &[TokenKind::Internal])
            .expect("valid");
    };
    let (access_first, access_again) = (pass(&verify_access), pass(&verify_access));
    let (service_first, service_again) = (pass(&service_token), pass(&service_token));

    let claims = tokens.claims(&callers[0], TokenKind::Access, Duration::from_secs(900));
    let (secret, mut validation) = (
        b"a-32-byte-secret-for-the-baseline",
        Validation::new(Algorithm::HS256),
    );
    validation.set_audience(&["comms-api"]);
    let hs256 = pass(&|_| {
        let token = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(secret),
        )
        .expect("signs");
        jsonwebtoken::decode::<Value>(&token, &DecodingKey::from_secret(secret), &validation)
            .expect("valid");
    });
    let bcrypt_12 = {
        let started = Instant::now();
        bcrypt::hash("a password of some length", 12)?;
        started.elapsed()
    };

    println!("{:>40} {:>9} {:>10}", "operation", "µs/op", "× HS256");
    let rows = [
        ("verify an access token, first time", access_first),
        ("verify an access token, remembered", access_again),
        ("sign + verify a service token, first", service_first),
        ("sign + verify a service token, reused", service_again),
        (
            "per REST request, first of a caller",
            access_first + service_first,
        ),
        ("per REST request, steady", access_again + service_again),
        ("HS256 sign + verify (baseline)", hs256),
    ];
    let mut report = Vec::new();
    for (name, took) in rows {
        let ratio = times(took, hs256);
        println!("{name:>40} {:>9.1} {:>9.2}x", micros(took), ratio);
        report.push(json!({ "operation": name, "micros": micros(took), "vs_hs256": round(ratio * 100.0) / 100.0 }));
    }
    println!(
        "{:>40} {:>9.1} ms",
        "bcrypt hash, cost 12 (a login)",
        bcrypt_12.as_secs_f64() * 1e3
    );
    Ok(json!({ "tokens": report, "bcrypt_cost_12_ms": round(bcrypt_12.as_secs_f64() * 1e3) }))
}
