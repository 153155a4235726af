//! The binary as Kubernetes runs it: `comms dev` starts, and on SIGTERM drains and exits 0.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn sigterm_drains_and_exits_cleanly() {
    let db = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(comms_testkit::TestDatabase::new());
    let exchange = comms_testkit::unique_name("test.events");
    let queue = comms_testkit::unique_name("test.analytics");
    let keys = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_comms"))
        .arg("dev")
        .env("DATABASE_URL", &db.url)
        .env("RABBITMQ_URL", comms_testkit::amqp_url())
        .env("EVENTS_EXCHANGE", &exchange)
        .env("ANALYTICS_QUEUE", &queue)
        .env("AGENTS_QUEUE", comms_testkit::unique_name("test.agents"))
        .env("CALLS_QUEUE", comms_testkit::unique_name("test.calls"))
        .env(
            "CAMPAIGNS_QUEUE",
            comms_testkit::unique_name("test.campaigns"),
        )
        .env(
            "TRANSCRIPTION_QUEUE",
            comms_testkit::unique_name("test.transcription"),
        )
        .env(
            "TRANSCRIPT_SEARCH_QUEUE",
            comms_testkit::unique_name("test.search"),
        )
        .env("TRANSCRIPTION_PORT", "0")
        .env("PORT", "0")
        .env("ADMIN_PORT", "0")
        .env("COMMS_KEY_DIR", keys.path().join("keys"))
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();

    // Wait for the fleet to say it is up and where each part listens (JSON logs on stdout).
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let said: Vec<String> = lines
        .by_ref()
        .take(200)
        .map_while(Result::ok)
        .take_while(|line| !line.contains("/health and /metrics"))
        .collect();
    assert!(
        said.iter().any(|line| line.contains("fleet is up")),
        "comms dev did not report that the fleet is up: {said:?}"
    );
    let ports = said
        .iter()
        .find(|line| line.contains("gRPC services"))
        .expect("comms dev names its gRPC services' ports");
    for service in ["calls", "analytics", "agents", "campaigns"] {
        assert!(
            ports.contains(&format!("\"{service}\":\"127.0.0.1:")),
            "{ports}"
        );
    }

    let sent = Instant::now();
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        assert!(
            sent.elapsed() < Duration::from_secs(30),
            "comms dev did not exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "comms dev exited with {exit}");
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(
        rest.iter()
            .any(|l| l.contains("shutdown requested; draining")),
        "{rest:?}"
    );
}
