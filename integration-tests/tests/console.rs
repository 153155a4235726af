//! The web console at `/console`: served from the binary with a CSP of its own, and used in a
//! real browser (Debian's chromium driven by playwright-core: `integration-tests/browser/`,
//! installed by scripts/test) against the whole fleet. Screenshots land in
//! `integration-tests/browser/screenshots/`.

mod support;

use std::path::Path;

use reqwest::StatusCode;
use serde_json::json;

use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_console_is_served_from_the_binary_with_its_own_policy() {
    let fleet = Fleet::start("600000").await;
    let page = fleet.http.get(fleet.url("/console")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let headers = page.headers().clone();
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    let policy = headers["content-security-policy"].to_str().unwrap();
    assert!(policy.contains("default-src 'self'"), "{policy}");
    assert!(!policy.contains("unsafe-inline"), "{policy}");
    assert!(page.text().await.unwrap().contains("/console/app.js"));
    let script = fleet
        .http
        .get(fleet.url("/console/app.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        script.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    let missing = fleet
        .http
        .get(fleet.url("/console/nothing.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_supervisor_and_an_agent_use_the_console_in_chromium() {
    // Calls ring for a second and a half, so the wallboard sees one ring, then answer; answered
    // calls are heard as the simulated conversation (its caller upset, then pleased), a line
    // every second and a half.
    let fleet = Fleet::start_with(
        "1500",
        &[
            ("METRICS_INTERVAL_SECONDS", "1"),
            ("TRANSCRIBER", "simulated"),
            ("SIM_TRANSCRIPT_LINE_MS", "1500"),
        ],
    )
    .await;
    // Ines, an agent who logs in, available.
    let email = format!("ines.{}@acme.test", uuid::Uuid::new_v4().simple());
    let user = json_of(fleet.post("/api/communications/users").json(&json!({
        "email": email, "password": PASSWORD, "role": "agent"
    })))
    .await;
    let id = user["id"].as_str().unwrap();
    available_agent_as(
        &fleet,
        json!({ "name": "Ines Agent", "email": email, "languages": ["en"], "user_id": id }),
    )
    .await;
    // A caller waits on the billing line: nobody has the skill (the supervisor pulls the call
    // to Ines from the team view).
    waiting_caller(&fleet, "+14155550123", &["billing"], "+14155550199").await;
    // Another waits on the claims line (nobody has the skill either); the supervisor sends them
    // to German returns.
    waiting_caller(&fleet, "+14155550124", &["claims"], "+14155550188").await;

    let browser = Path::new(env!("CARGO_MANIFEST_DIR")).join("browser");
    assert!(
        browser.join("node_modules/playwright-core").exists(),
        "playwright-core is missing: scripts/test installs it (npm ci in integration-tests/browser)"
    );
    let output = tokio::process::Command::new("node")
        .arg("console.test.mjs")
        .current_dir(&browser)
        .env("BASE_URL", format!("http://{}", fleet.fleet.edge))
        .env("ADMIN_EMAIL", ADMIN_EMAIL)
        .env("ADMIN_PASSWORD", PASSWORD)
        .env("AGENT_EMAIL", &email)
        .env("AGENT_PASSWORD", PASSWORD)
        .env("AGENT_NAME", "Ines Agent")
        .env("SCREENSHOT_DIR", browser.join("screenshots"))
        .output()
        .await
        .expect("node runs (scripts/test checks it is installed)");
    assert!(
        output.status.success(),
        "the browser test failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    for shot in [
        "wallboard",
        "desk",
        "team",
        "desk-on-a-call",
        "team-monitoring",
        "wallboard-ja",
        "wallboard-de",
    ] {
        let path = browser.join("screenshots").join(format!("{shot}.png"));
        assert!(path.exists(), "{shot}.png was not saved");
    }
    fleet.stop().await;
}
