//! The published contract, checked from outside as an integrator would check it: schemathesis
//! (installed by `scripts/test`) generates requests from the OpenAPI document the edge serves,
//! sends them to a fleet in standalone mode (with a token) and in platform mode (with the
//! gateway's headers), and fails on any finding: a server error, a response or status the
//! document does not describe, a request the schema forbids accepted or one it allows refused,
//! a request without authentication accepted, a created resource not found.
//!
//! The run is bounded by examples per operation (the examples, fuzzing and stateful phases;
//! the exhaustive coverage phase takes ten minutes of generation on two cores and is left to
//! manual runs) and a fixed seed, so it does not depend on the machine's speed.
//! `integration-tests/python/schemathesis_hooks.py` says what is not generated, and why.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::Fleet;

/// Examples generated per operation and phase.
const MAX_EXAMPLES: &str = "25";

fn python_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("python")
}

/// The schemathesis beside the interpreter `scripts/test` prepares.
fn schemathesis() -> PathBuf {
    let python = std::env::var("TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python"));
    python.with_file_name("schemathesis")
}

/// Runs schemathesis against the fleet's edge with `headers` on every request; panics with its
/// report unless it finds nothing.
async fn assert_schemathesis_finds_nothing(fleet: &Fleet, headers: Vec<String>) {
    let url = fleet.url("");
    let run = tokio::task::spawn_blocking(move || {
        let mut command = Command::new(schemathesis());
        command
            .current_dir(python_dir())
            .env("SCHEMATHESIS_HOOKS", "schemathesis_hooks")
            .args(["--config-file", "schemathesis.toml", "--no-color", "run"])
            .arg(format!("{url}/openapi.json"))
            .args(["--url", &url])
            .args(["--checks", "all"])
            .args(["--phases", "examples,fuzzing,stateful"])
            .args([
                "--max-examples",
                MAX_EXAMPLES,
                "--seed",
                "1",
                "--workers",
                "2",
            ])
            .args(["--request-timeout", "30"]);
        for header in &headers {
            command.args(["--header", header]);
        }
        command
            .output()
            .unwrap_or_else(|e| panic!("cannot run schemathesis ({e}); scripts/test installs it"))
    })
    .await
    .unwrap();
    let report = String::from_utf8_lossy(&run.stdout);
    // The counts, in the test's output either way.
    for line in report
        .lines()
        .filter(|l| l.contains("generated") || (l.starts_with('=') && l.contains(" in ")))
    {
        println!("{line}");
    }
    assert!(
        run.status.success(),
        "schemathesis found what the document does not say:\n{report}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn schemathesis_finds_nothing_in_standalone_mode() {
    // Thousands of requests from one organization: more than its default rate allows a minute.
    let fleet = Fleet::start_with("600000", &[("RATE_LIMIT_PER_MINUTE", "1000000")]).await;
    let token = format!("Authorization: Bearer {}", fleet.admin.access_token);
    assert_schemathesis_finds_nothing(&fleet, vec![token]).await;
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn schemathesis_finds_nothing_in_platform_mode() {
    let fleet = Fleet::start_with(
        "600000",
        &[
            ("RATE_LIMIT_PER_MINUTE", "1000000"),
            ("PLATFORM_MODE", "true"),
            ("PLATFORM_TRUST_UNSIGNED_HEADERS", "true"),
        ],
    )
    .await;
    let document: serde_json::Value = fleet
        .http
        .get(fleet.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // The document describes the mode: the gateway's headers, no bearer tokens, no logins.
    let schemes = document["components"]["securitySchemes"]
        .as_object()
        .unwrap();
    assert!(
        schemes.contains_key("gateway_user") && !schemes.contains_key("bearer"),
        "{schemes:?}"
    );
    assert!(
        document["paths"]
            .get("/api/communications/auth/login")
            .is_none()
    );
    let headers = vec![
        "X-User-Id: user-schemathesis".to_owned(),
        format!("X-Org-Id: {}", support::ORG),
        "X-User-Role: admin".to_owned(),
    ];
    assert_schemathesis_finds_nothing(&fleet, headers).await;
    fleet.stop().await;
}
