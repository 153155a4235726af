//! The operator's commands: `comms keys …`, `comms create-admin`, `comms simulate-dialer`,
//! `comms dead-letters …`, and `comms serve` refusing a configuration it cannot run with.

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

#[test]
fn serving_transcription_without_its_settings_names_the_one_missing() {
    for (env, variable) in [
        (vec![], "DEEPGRAM_API_KEY"),
        (vec![("DEEPGRAM_API_KEY", "dg")], "MEDIA_TOKEN_SECRET"),
        (
            vec![
                ("DEEPGRAM_API_KEY", "dg"),
                ("MEDIA_TOKEN_SECRET", "too short"),
            ],
            "MEDIA_TOKEN_SECRET",
        ),
    ] {
        let mut env = env;
        // Nothing else would be reached: the configuration is read first.
        env.extend([("ADMIN_PORT", "0"), ("PORT", "0")]);
        let refused = comms(&["serve", "transcription"], &env);
        assert!(!refused.status.success());
        let said = String::from_utf8_lossy(&refused.stderr);
        assert!(said.contains(variable), "{said}");
        assert!(
            !said.contains("too short"),
            "a secret is never echoed: {said}"
        );
    }
}

/// A dead letter as a consumer leaves it: the envelope's id and type, and why.
fn dead_letter(id: Option<uuid::Uuid>, headers: &[(&str, &str)]) -> lapin::BasicProperties {
    let mut table = lapin::types::FieldTable::default();
    for (key, value) in headers {
        table.insert(
            (*key).into(),
            lapin::types::AMQPValue::LongString((*value).into()),
        );
    }
    let properties = lapin::BasicProperties::default().with_headers(table);
    match id {
        Some(id) => properties
            .with_message_id(id.to_string().into())
            .with_type("comms.agent.busy".into()),
        None => properties,
    }
}

#[tokio::test]
async fn dead_letters_are_listed_with_their_reasons_and_replayed_onto_their_queue() {
    let names = [
        ("EVENTS_EXCHANGE", comms_testkit::unique_name("test.events")),
        ("CALLS_QUEUE", comms_testkit::unique_name("test.calls")),
        ("AGENTS_QUEUE", comms_testkit::unique_name("test.agents")),
        (
            "CAMPAIGNS_QUEUE",
            comms_testkit::unique_name("test.campaigns"),
        ),
        (
            "ANALYTICS_QUEUE",
            comms_testkit::unique_name("test.analytics"),
        ),
        (
            "TRANSCRIPT_SEARCH_QUEUE",
            comms_testkit::unique_name("test.search"),
        ),
        ("RABBITMQ_URL", comms_testkit::amqp_url()),
    ];
    let env: Vec<(&str, &str)> = names.iter().map(|(k, v)| (*k, v.as_str())).collect();
    comms_fleet::fleet::declare_topology(&Env::from_pairs(env.iter().copied()))
        .await
        .unwrap();
    let queue = names[1].1.clone();
    let dead_letters = comms_bus::dead_letter_queue(&queue);
    let amqp = comms_testkit::amqp_connection().await;
    let channel = amqp.create_channel().await.unwrap();
    let (first, second) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
    let letters = [
        dead_letter(
            Some(first),
            &[
                (
                    "x-comms-dead-letter-reason",
                    "gave up after 10 attempts: no call",
                ),
                ("x-comms-consumer", "calls"),
                ("x-comms-original-routing-key", "comms.agent.busy"),
            ],
        ),
        dead_letter(
            Some(second),
            &[("x-comms-dead-letter-reason", "data.call_id: not a UUID")],
        ),
        // Dead-lettered by the broker itself (a quorum queue's delivery limit), not by us.
        dead_letter(None, &[("x-first-death-reason", "delivery_limit")]),
    ];
    for properties in letters {
        channel
            .basic_publish(
                "".into(),
                dead_letters.as_str().into(),
                Default::default(),
                b"{}",
                properties,
            )
            .await
            .unwrap()
            .await
            .unwrap();
    }
    let count = |queue: String| {
        let channel = channel.clone();
        async move {
            let passive = lapin::options::QueueDeclareOptions {
                passive: true,
                ..Default::default()
            };
            channel
                .queue_declare(queue.as_str().into(), passive, Default::default())
                .await
                .unwrap()
                .message_count()
        }
    };

    let listed = stdout(&comms(&["dead-letters", "list", "--queue", &queue], &env));
    assert_eq!(
        listed.lines().collect::<Vec<_>>(),
        [
            format!("{dead_letters}: 3 message(s)"),
            format!("  {first}  comms.agent.busy  gave up after 10 attempts: no call"),
            format!("  {second}  comms.agent.busy  data.call_id: not a UUID"),
            "  (no message id)  (no type)  dead-lettered by the broker: delivery_limit".into(),
        ]
    );
    assert_eq!(
        count(dead_letters.clone()).await,
        3,
        "listing took nothing away"
    );

    let unknown = uuid::Uuid::new_v4();
    let refused = comms(
        &["dead-letters", "replay", "--id", &unknown.to_string()],
        &env,
    );
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr)
            .contains(&format!("--id: no dead letter {unknown}")),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let wrong_queue = comms(&["dead-letters", "list", "--queue", "nope"], &env);
    assert!(
        String::from_utf8_lossy(&wrong_queue.stderr).contains("--queue nope: not a consumer queue"),
        "{}",
        String::from_utf8_lossy(&wrong_queue.stderr)
    );

    stdout(&comms(
        &["dead-letters", "replay", "--id", &first.to_string()],
        &env,
    ));
    assert_eq!(count(dead_letters.clone()).await, 2);
    let options = lapin::options::BasicGetOptions { no_ack: true };
    let replayed = channel
        .basic_get(queue.as_str().into(), options)
        .await
        .unwrap()
        .expect("the replayed message is back on its queue");
    assert_eq!(
        replayed.properties.message_id().as_ref().unwrap().as_str(),
        first.to_string()
    );
    let headers = replayed.properties.headers().clone().unwrap();
    assert!(!headers.contains_key("x-comms-dead-letter-reason"));
    assert!(headers.contains_key("x-comms-original-routing-key"));

    let all = stdout(&comms(&["dead-letters", "replay"], &env));
    assert!(
        all.contains(&format!("{dead_letters}: 2 message(s) replayed to {queue}")),
        "{all}"
    );
    assert_eq!(count(dead_letters).await, 0);
    assert_eq!(count(queue).await, 2);
}
