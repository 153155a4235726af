//! The operator's commands: `comms keys …`, `comms create-admin`, `comms simulate-dialer`.

use std::process::{Command, Output};

use comms_auth::{AuthConfig, TokenKind};
use comms_runtime::Env;

fn comms(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_comms"))
        .args(args)
        .envs(env.iter().copied())
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

#[test]
fn keys_are_listed_rotated_published_and_mint_service_tokens() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("keys");
    let dir_str = dir.to_str().unwrap();
    let env = [("COMMS_KEY_DIR", dir_str)];
    let first = stdout(&comms(&["keys", "list"], &env));
    assert!(first.trim().ends_with("signs and verifies"), "{first}");
    let added = stdout(&comms(&["keys", "rotate"], &env));
    let new_kid = added.split_whitespace().next().unwrap().to_owned();
    let listed = stdout(&comms(&["keys", "list"], &env));
    let lines: Vec<&str> = listed.lines().collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0], format!("{new_kid}  signs and verifies"));
    assert!(lines[1].ends_with("  verifies"));
    let jwks: serde_json::Value =
        serde_json::from_str(&stdout(&comms(&["keys", "jwks"], &env))).unwrap();
    assert_eq!(jwks["keys"][0]["kid"], new_kid.as_str());
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 2);

    let token = stdout(&comms(
        &[
            "keys",
            "service-token",
            "--org",
            "org_a",
            "--name",
            "planning",
        ],
        &env,
    ));
    let config = AuthConfig::from_env(&Env::from_pairs(env)).unwrap();
    let claims = config
        .tokens
        .verify(token.trim(), &[TokenKind::Service])
        .unwrap();
    assert_eq!(
        (claims.org.as_str(), claims.sub.as_str()),
        ("org_a", "service:planning")
    );
}

#[test]
fn create_admin_creates_once_and_names_bad_input() {
    let db = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(comms_testkit::TestDatabase::new());
    let root = tempfile::tempdir().unwrap();
    let keys = root.path().join("keys");
    let env = [
        ("DATABASE_URL", db.url.as_str()),
        ("COMMS_KEY_DIR", keys.to_str().unwrap()),
        ("COMMS_ADMIN_PASSWORD", "a long enough password"),
        ("BCRYPT_COST", "4"),
    ];
    let args = [
        "create-admin",
        "--email",
        "root@example.com",
        "--org",
        "org_x",
    ];
    assert!(
        stdout(&comms(&args, &env))
            .contains("created administrator root@example.com in organization org_x")
    );
    assert!(stdout(&comms(&args, &env)).contains("already exists"));

    let mut short = env;
    short[2] = ("COMMS_ADMIN_PASSWORD", "short");
    let refused = comms(&["create-admin", "--email", "other@example.com"], &short);
    assert!(!refused.status.success());
    let message = String::from_utf8_lossy(&refused.stderr);
    assert!(
        message.contains("password") && message.contains("at least 12"),
        "{message}"
    );
    assert!(
        !message.contains("short\""),
        "the password is not echoed: {message}"
    );
}

#[test]
fn the_dialer_simulation_compares_the_modes_and_refuses_nonsense() {
    let out = tempfile::tempdir().unwrap();
    let json = out.path().join("dialer.json");
    let table = stdout(&comms(
        &[
            "simulate-dialer",
            "--hours",
            "2",
            "--shifts",
            "3",
            "--json",
            json.to_str().unwrap(),
        ],
        &[],
    ));
    assert!(
        table.contains("progressive") && table.contains("predictive"),
        "{table}"
    );
    let figures: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let (progressive, predictive) = (&figures[0], &figures[1]);
    assert_eq!(progressive["mode"], "progressive");
    assert_eq!(progressive["abandon_rate"], 0.0);
    assert!(predictive["peak_abandon_rate"].as_f64().unwrap() <= 0.03);
    assert!(predictive["occupancy"].as_f64().unwrap() > progressive["occupancy"].as_f64().unwrap());

    let refused = comms(&["simulate-dialer", "--answer-rate", "1.5"], &[]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--answer-rate"));
}
