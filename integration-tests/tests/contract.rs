//! The published contracts, checked from outside as an integrator and a newcomer would check
//! them. The README's walkthrough runs as written against a fresh fleet. And schemathesis
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

use serde_json::{Value, json};
use support::{ADMIN_EMAIL, Fleet, PASSWORD};

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
    let document = support::json_of(fleet.http.get(fleet.url("/openapi.json"))).await;
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

/// The README's "Try it" commands, as written.
fn walkthrough() -> String {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
            .unwrap();
    let section = readme
        .split("## Try it")
        .nth(1)
        .expect("the README has a Try it section");
    let block = section.split("```sh\n").nth(1).expect("with a sh block");
    block.split("\n```").next().unwrap().to_owned()
}

/// The role in the bearer token among `args` ("" without one).
fn role_of(args: &str) -> String {
    use base64::Engine as _;
    let Some(token) = args
        .split("Bearer ")
        .nth(1)
        .and_then(|t| t.split_whitespace().next())
    else {
        return String::new();
    };
    let payload = token.split('.').nth(1).unwrap_or_default();
    let claims: Value = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()
        .and_then(|json| serde_json::from_slice(&json).ok())
        .unwrap_or_default();
    claims["role"].as_str().unwrap_or_default().to_owned()
}

/// Each curl of the walkthrough: its arguments, status and body, as a wrapper recorded them.
struct Answer {
    args: String,
    status: u16,
    body: String,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_readme_walkthrough_runs_as_written() {
    let fleet = Fleet::start("500").await;
    // Only where it lives differs from `scripts/dev`: this fleet's ports and administrator.
    let mut script = walkthrough();
    for (written, here) in [
        ("http://127.0.0.1:3018", fleet.url("")),
        ("http://127.0.0.1:9090", fleet.admin_url("")),
        ("admin@example.com", ADMIN_EMAIL.to_owned()),
    ] {
        assert!(
            script.contains(written),
            "the walkthrough no longer uses {written}"
        );
        script = script.replace(written, &here);
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(".comms")).unwrap();
    std::fs::write(dir.path().join(".comms/admin-password"), PASSWORD).unwrap();
    let answers = dir.path().join("answers");
    std::fs::create_dir(&answers).unwrap();
    // Every curl is recorded (arguments, status, body) and its body printed as usual.
    // (Numbered through a file: a curl inside `$(...)` runs in a subshell of its own.)
    let wrapper = r#"set -euo pipefail
curl() {
  local n out
  n=$(( $(cat "$ANSWERS/count" 2>/dev/null || echo 0) + 1 ))
  echo "$n" > "$ANSWERS/count"
  out=$(command curl -w '\n%{http_code}' "$@")
  printf '%s' "${out%$'\n'*}" > "$ANSWERS/$n.body"
  printf '%s' "${out##*$'\n'}" > "$ANSWERS/$n.status"
  printf '%s' "$*" > "$ANSWERS/$n.args"
  printf '%s\n' "${out%$'\n'*}"
}
"#;
    let path = dir.path().to_owned();
    let full = format!("{wrapper}{script}");
    let run = tokio::task::spawn_blocking(move || {
        Command::new("bash")
            .arg("-c")
            .arg(full)
            .current_dir(&path)
            .env("ANSWERS", path.join("answers"))
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        run.status.success(),
        "the walkthrough failed:\n{}\n{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    let count: usize = std::fs::read_to_string(answers.join("count"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let answers: Vec<Answer> = (1..=count)
        .map(|n| {
            let read =
                |ext: &str| std::fs::read_to_string(answers.join(format!("{n}.{ext}"))).unwrap();
            Answer {
                args: read("args"),
                status: read("status").parse().unwrap(),
                body: read("body"),
            }
        })
        .collect();
    assert!(answers.len() >= 25, "only {} requests", answers.len());
    let find = |needle: &str| -> &Answer {
        answers
            .iter()
            .find(|a| a.args.contains(needle))
            .unwrap_or_else(|| panic!("the walkthrough no longer asks {needle}"))
    };
    // What the README says goes wrong, goes wrong that way; everything else succeeds.
    let expected_refusals = [("555-0100", 400), ("limit=2", 400)];
    for answer in &answers {
        let refusal = expected_refusals
            .iter()
            .find(|(needle, _)| answer.args.contains(needle));
        let ok = match refusal {
            Some((_, status)) => answer.status == *status,
            None if answer.args.contains("/analytics/") && role_of(&answer.args) == "agent" => {
                answer.status == 403
            }
            None if answer.args.starts_with("-s -X DELETE") => [200, 409].contains(&answer.status),
            None if answer.args.ends_with("/api/communications/calls") => answer.status == 401,
            None => (200..300).contains(&answer.status),
        };
        assert!(
            ok,
            "{} answered {}: {}",
            answer.args, answer.status, answer.body
        );
    }
    // And what it says comes back, does.
    let contacts = find("/contacts -H");
    assert!(
        contacts.body.contains("outside window: "),
        "{}",
        contacts.body
    );
    // The analytics follow the events, so they may be a moment behind the walkthrough.
    serde_json::from_str::<Value>(&find("/analytics/agents").body).unwrap();
    support::until(
        std::time::Duration::from_secs(30),
        || support::json_of(fleet.get("/api/communications/analytics/agents")),
        |report| {
            report["data"]
                .as_array()
                .unwrap()
                .iter()
                .any(|row| row["name"] == "Ada")
        },
    )
    .await;
    let page: Value = serde_json::from_str(&find("do-not-call/internal?page_size=1").body).unwrap();
    assert_eq!(page["data"].as_array().unwrap().len(), 1, "{page}");
    assert!(page["next_page_token"].is_string(), "{page}");
    let simulated: Value = serde_json::from_str(&find("/simulate").body).unwrap();
    assert_eq!(simulated["outcome"]["kind"], "queue", "{simulated}");
    assert_eq!(
        simulated["outcome"]["skills"],
        json!(["billing"]),
        "{simulated}"
    );
    assert!(find("/docs").body.contains("Swagger UI"));
    fleet.stop().await;
}
