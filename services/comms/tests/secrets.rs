//! A whole run of the binary, with every secret the fleet handles passing through it, logged at
//! debug level: no password, token, key or provider credential appears in its output, the
//! signing key is generated into a private directory, and the stored credential is ciphertext.

use std::io::Read as _;
use std::os::unix::fs::PermissionsExt as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use comms_testkit::free_port;
use serde_json::{Value, json};

const PASSWORD: &str = "a password nobody may log";
const ENCRYPTION_KEY: &str = "8J+UkCBub3QgaW4gdGhlIGxvZ3MsIHBsZWFzZSEhISE=";
const TWILIO_TOKEN: &str = "twilio-auth-token-never-logged";

#[test]
fn secrets_never_reach_the_logs_or_the_database_in_the_clear() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let db = runtime.block_on(comms_testkit::TestDatabase::new());
    let keys = tempfile::tempdir().unwrap();
    let key_dir = keys.path().join("keys");
    let output = tempfile::NamedTempFile::new().unwrap();
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_comms"))
        .arg("dev")
        .env("DATABASE_URL", &db.url)
        .env("RABBITMQ_URL", comms_testkit::amqp_url())
        .env("EVENTS_EXCHANGE", comms_testkit::unique_name("test.events"))
        .env(
            "ANALYTICS_QUEUE",
            comms_testkit::unique_name("test.analytics"),
        )
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
        .env("PORT", port.to_string())
        .env("ADMIN_PORT", "0")
        .env("COMMS_KEY_DIR", &key_dir)
        .env("COMMS_ADMIN_EMAIL", "root@example.com")
        .env("COMMS_ADMIN_PASSWORD", PASSWORD)
        .env("COMMS_ENCRYPTION_KEY", ENCRYPTION_KEY)
        .env("BCRYPT_COST", "4")
        .env("RUST_LOG", "debug")
        .stdout(Stdio::from(output.reopen().unwrap()))
        .stderr(Stdio::from(output.reopen().unwrap()))
        .spawn()
        .unwrap();

    let base = format!("http://127.0.0.1:{port}/api/communications");
    let secrets = runtime.block_on(async {
        let http = comms_runtime::http::client(std::time::Duration::from_secs(120));
        let started = Instant::now();
        while http
            .get(format!("http://127.0.0.1:{port}/health"))
            .send()
            .await
            .is_err()
        {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the fleet did not start"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let post = |path: &str, body: Value| http.post(format!("{base}{path}")).json(&body).send();
        let wrong = post(
            "/auth/login",
            json!({"email": "root@example.com", "password": "not the password!"}),
        );
        assert_eq!(wrong.await.unwrap().status(), 401);
        let login: Value = post(
            "/auth/login",
            json!({"email": "root@example.com", "password": PASSWORD}),
        )
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        let refreshed: Value = post(
            "/auth/refresh",
            json!({"refresh_token": login["refresh_token"]}),
        )
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        let access = refreshed["access_token"].as_str().unwrap().to_owned();
        let stored = http
            .put(format!("{base}/credentials/twilio"))
            .bearer_auth(&access)
            .json(&json!({"account_sid": "AC0123456789abcdef0123456789abcdef", "auth_token": TWILIO_TOKEN}))
            .send()
            .await
            .unwrap();
        assert_eq!(stored.status(), 200);
        let key: Value = http
            .post(format!("{base}/api-keys"))
            .bearer_auth(&access)
            .json(&json!({"name": "export", "role": "supervisor"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let api_key = key["key"].as_str().unwrap().to_owned();
        let calls = http
            .get(format!("{base}/calls"))
            .bearer_auth(&api_key)
            .send()
            .await
            .unwrap();
        assert_eq!(calls.status(), 200, "the API key works");
        let sealed: Vec<u8> = sqlx::query_scalar("SELECT sealed FROM provider_credentials")
            .fetch_one(&db.pool)
            .await
            .unwrap();
        assert!(
            !sealed
                .windows(TWILIO_TOKEN.len())
                .any(|w| w == TWILIO_TOKEN.as_bytes()),
            "the stored credential is ciphertext"
        );
        let hash: String = sqlx::query_scalar("SELECT password_hash FROM users")
            .fetch_one(&db.pool)
            .await
            .unwrap();
        assert!(
            hash.starts_with("sha256:$2b$04$"),
            "bcrypt of the password's SHA-256, with the configured cost"
        );
        vec![
            login["access_token"].as_str().unwrap().to_owned(),
            login["refresh_token"].as_str().unwrap().to_owned(),
            access,
            refreshed["refresh_token"].as_str().unwrap().to_owned(),
            api_key,
        ]
    });

    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(child.wait().unwrap().success());
    let mut logs = String::new();
    output.reopen().unwrap().read_to_string(&mut logs).unwrap();
    assert!(logs.contains("generated the first signing key"), "{logs}");
    assert!(logs.contains("created the first administrator"));

    let mode =
        |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&key_dir), 0o700);
    let key_file = key_dir.join("ed25519-0001.pem");
    assert_eq!(mode(&key_file), 0o600);
    let pem = std::fs::read_to_string(&key_file).unwrap();
    let private_key_body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();

    let mut forbidden = secrets;
    forbidden.extend([
        PASSWORD.into(),
        ENCRYPTION_KEY.into(),
        TWILIO_TOKEN.into(),
        private_key_body,
    ]);
    for secret in &forbidden {
        // A JWT's signature alone would identify it; check the whole and its last part.
        let tail = secret.rsplit('.').next().unwrap();
        assert!(
            !logs.contains(secret.as_str()) && !logs.contains(tail),
            "a secret is in the logs: {secret}"
        );
    }
}
