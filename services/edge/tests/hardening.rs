//! The edge alone, in front of a calls service that never answers: the request deadline turns a
//! hung backend into a prompt 504 problem, not a hung client.

use std::time::{Duration, Instant};

use comms_auth::{AuthConfig, Identity, PrivateKey, Role};
use comms_runtime::{Env, Shutdown};
use comms_testkit::TestDatabase;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_past_its_deadline_is_answered_504() {
    let db = TestDatabase::new().await;
    // Accepts connections and says nothing: a stuck pod.
    let black_hole = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let calls_url = format!("http://{}", black_hole.local_addr().unwrap());
    let pem = PrivateKey::generate().to_pem();
    let env = Env::from_pairs([
        ("DATABASE_URL", db.url.as_str()),
        ("CALLS_GRPC_URL", calls_url.as_str()),
        ("JWT_PRIVATE_KEY", pem.as_str()),
        ("REQUEST_TIMEOUT_SECONDS", "1"),
        ("BCRYPT_COST", "4"),
    ]);
    let token = AuthConfig::from_env(&env)
        .unwrap()
        .tokens
        .access_token(&Identity::new("org_a", "u", Role::Admin).unwrap())
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/api/communications/calls",
        listener.local_addr().unwrap()
    );
    let (_stop, shutdown) = Shutdown::new();
    tokio::spawn(comms_edge::run(
        comms_edge::Config::from_env(&env).unwrap(),
        listener,
        shutdown,
    ));

    let http = comms_runtime::http::client(std::time::Duration::from_secs(120));
    let started = Instant::now();
    let response = loop {
        match http.get(&url).bearer_auth(&token).send().await {
            Ok(response) => break response,
            Err(_) if started.elapsed() < Duration::from_secs(10) => {
                tokio::time::sleep(Duration::from_millis(50)).await
            }
            Err(e) => panic!("the edge did not start: {e}"),
        }
    };
    assert_eq!(response.status(), 504);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["detail"], "the request took longer than 1 s");
    drop(black_hole);
}
