//! Rolling updates as Kubernetes performs them, with processes on one machine: under steady REST
//! and gRPC load, a new instance surges in, the old one gets SIGTERM, turns not-ready, finishes
//! what is in flight and exits 0 — and no request fails. Watch streams keep flowing through the
//! drain and end with UNAVAILABLE, so clients watch again elsewhere.

mod support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use comms_proto::v1::agents_service_client::AgentsServiceClient;
use comms_proto::v1::calls_service_client::CallsServiceClient;
use comms_proto::v1::{self};
use serde_json::{Value, json};
use support::{Cluster, Endpoints, Instance, login};
use tonic::Request;

/// The not-ready grace the tests run with: well over the probe period, as production's should be
/// over the time endpoint changes take to reach every proxy.
const GRACE_MS: &str = "1000";

#[derive(Default)]
struct Tally {
    ok: AtomicUsize,
    failures: Mutex<Vec<String>>,
}

impl Tally {
    fn record(&self, outcome: Result<(), String>) {
        match outcome {
            Ok(()) => {
                self.ok.fetch_add(1, Ordering::Relaxed);
            }
            Err(failure) => self.failures.lock().unwrap().push(failure),
        }
    }

    /// Waits until `more` further requests have succeeded: each phase of the rollout is judged
    /// over a number of requests, however fast or slow the machine runs them.
    async fn more(&self, more: usize) {
        let target = self.ok.load(Ordering::Relaxed) + more;
        let deadline = Instant::now() + Duration::from_secs(120);
        while self.ok.load(Ordering::Relaxed) < target {
            assert!(
                Instant::now() < deadline,
                "the load stalled: {:?}",
                self.failures.lock().unwrap()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Requests of each kind that must succeed before the rollout starts and after each step.
const REQUESTS_PER_PHASE: usize = 30;

fn authorized<T>(message: T, token: &str) -> Request<T> {
    let mut request = Request::new(message);
    comms_auth::service::attach(request.metadata_mut(), token);
    request
}

/// REST through "the gateway": each request to a ready edge, in turn.
async fn rest_load(gateway: Endpoints, token: String, stop: Arc<AtomicBool>, tally: Arc<Tally>) {
    let http = comms_runtime::http::client(std::time::Duration::from_secs(120));
    let mut last_call = None::<String>;
    for turn in 0.. {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let Some(edge) = gateway.pick(turn) else {
            tally.record(Err("no edge was ready".into()));
            continue;
        };
        let base = format!("http://{edge}/api/communications");
        let request = match (turn % 3, &last_call) {
            (1, Some(id)) => http.get(format!("{base}/calls/{id}")),
            (2, _) => http.get(format!("{base}/calls?page_size=5")),
            _ => http
                .post(format!("{base}/calls"))
                .json(&json!({ "to": "+14155550123" })),
        };
        let outcome = match request.bearer_auth(&token).send().await {
            Ok(response) if response.status().is_success() => {
                if turn % 3 == 0 {
                    let call: Value = response.json().await.unwrap();
                    last_call = call["id"].as_str().map(str::to_owned);
                }
                Ok(())
            }
            Ok(response) => Err(format!(
                "REST {}: {}",
                response.status(),
                response.text().await.unwrap_or_default()
            )),
            Err(error) => Err(format!("REST {error:?}")),
        };
        tally.record(outcome);
    }
}

/// gRPC straight to the calls service's virtual IP, as another platform module calls it.
async fn grpc_load(service: String, token: String, stop: Arc<AtomicBool>, tally: Arc<Tally>) {
    // The fleet's own client: it replays, once, a request a draining server never processed.
    let mut calls = CallsServiceClient::new(comms_runtime::client::channel(&service).unwrap());
    while !stop.load(Ordering::Relaxed) {
        let placed = calls
            .initiate_call(authorized(
                v1::InitiateCallRequest {
                    to: "+14155550124".into(),
                    ..Default::default()
                },
                &token,
            ))
            .await;
        let outcome = match placed {
            Ok(call) => {
                let id = call.into_inner().id;
                calls
                    .get_call(authorized(v1::GetCallRequest { id }, &token))
                    .await
                    .map(drop)
                    .map_err(|status| format!("gRPC GetCall {status:?}"))
            }
            Err(status) => Err(format!("gRPC InitiateCall {status:?}")),
        };
        tally.record(outcome);
    }
}

/// SIGTERM, then the exit: 0, within the drain.
async fn retire(instance: &Instance) -> Duration {
    let started = Instant::now();
    instance.terminate();
    let status = instance.exited(Duration::from_secs(30)).await;
    assert!(
        status.success(),
        "{} exited with {status}:\n{}",
        instance.name,
        instance.logs().join("\n")
    );
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolling_the_calls_service_and_the_edge_under_load_fails_no_request() {
    let cluster = Cluster::new().await;
    let grace = [("NOT_READY_GRACE_MS", GRACE_MS.to_owned())];
    let _relay = cluster.start("relay", &[]);
    let analytics = cluster.start("analytics", &grace);
    let agents = cluster.start("agents", &grace);

    // The calls service behind its virtual IP, the edges behind the gateway.
    let calls_endpoints = Endpoints::default();
    let old_calls = cluster.start("calls", &grace);
    let other_calls = cluster.start("calls", &grace);
    for calls in [&old_calls, &other_calls] {
        calls_endpoints.add(calls, format!("127.0.0.1:{}", calls.port()));
    }
    let calls_service = calls_endpoints.service().await;
    let start_edge = || {
        cluster.start(
            "edge",
            &[
                grace[0].clone(),
                ("CALLS_GRPC_URL", calls_service.clone()),
                ("ANALYTICS_GRPC_URL", analytics.grpc_url()),
                ("AGENTS_GRPC_URL", agents.grpc_url()),
            ],
        )
    };
    let gateway = Endpoints::default();
    let old_edge = start_edge();
    let other_edge = start_edge();
    for edge in [&old_edge, &other_edge] {
        gateway.add(edge, format!("127.0.0.1:{}", edge.port()));
    }
    calls_endpoints.ready(2).await;
    gateway.ready(2).await;

    let http = comms_runtime::http::client(std::time::Duration::from_secs(120));
    let token = login(&http, &old_edge).await;
    let service_token = cluster.service_token();
    let (stop, rest, grpc) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(Tally::default()),
        Arc::new(Tally::default()),
    );
    let mut load = Vec::new();
    for _ in 0..2 {
        load.push(tokio::spawn(rest_load(
            gateway.clone(),
            token.clone(),
            stop.clone(),
            rest.clone(),
        )));
        load.push(tokio::spawn(grpc_load(
            calls_service.clone(),
            service_token.clone(),
            stop.clone(),
            grpc.clone(),
        )));
    }
    let phase = || async {
        rest.more(REQUESTS_PER_PHASE).await;
        grpc.more(REQUESTS_PER_PHASE).await;
    };
    phase().await;

    // Roll the calls service: surge a new instance, then retire an old one.
    let new_calls = cluster.start("calls", &grace);
    new_calls.ready().await;
    calls_endpoints.add(&new_calls, format!("127.0.0.1:{}", new_calls.port()));
    calls_endpoints.ready(3).await;
    let calls_drain = retire(&old_calls).await;
    phase().await;

    // Roll the edge the same way.
    let new_edge = start_edge();
    new_edge.ready().await;
    gateway.add(&new_edge, format!("127.0.0.1:{}", new_edge.port()));
    gateway.ready(3).await;
    let edge_drain = retire(&old_edge).await;
    phase().await;

    stop.store(true, Ordering::Relaxed);
    for task in load {
        task.await.unwrap();
    }
    let (rest_ok, grpc_ok) = (
        rest.ok.load(Ordering::Relaxed),
        grpc.ok.load(Ordering::Relaxed),
    );
    let failures: Vec<String> = [&rest, &grpc]
        .iter()
        .flat_map(|tally| tally.failures.lock().unwrap().clone())
        .collect();
    eprintln!(
        "rollout: {rest_ok} REST and {grpc_ok} gRPC requests succeeded, {} failed; \
         the old calls instance exited 0 after {calls_drain:?}, the old edge after {edge_drain:?}",
        failures.len()
    );
    assert!(failures.is_empty(), "{failures:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_stream_flows_through_the_drain_then_ends_unavailable() {
    let cluster = Cluster::new().await;
    let settings = [
        ("NOT_READY_GRACE_MS", "300".to_owned()),
        ("DRAIN_TIMEOUT_SECONDS", "2".to_owned()),
    ];
    let leaving = cluster.start("agents", &settings);
    let staying = cluster.start("agents", &[]);
    leaving.ready().await;
    staying.ready().await;
    let token = cluster.service_token();
    let connect = |instance: &Instance| {
        AgentsServiceClient::new(
            tonic::transport::Endpoint::from_shared(instance.grpc_url())
                .unwrap()
                .connect_lazy(),
        )
    };
    let mut watch = connect(&leaving)
        .watch_agents(authorized(v1::WatchAgentsRequest::default(), &token))
        .await
        .unwrap()
        .into_inner();

    let terminated = Instant::now();
    leaving.terminate();
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Past the grace, the leaving instance takes no new calls; the other one does.
    connect(&staying)
        .create_agent(authorized(
            v1::CreateAgentRequest {
                name: "Grace Hopper".into(),
                email: "grace@acme.test".into(),
                languages: vec!["en".into()],
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap();

    // The draining instance's stream still delivers it.
    let agent = tokio::time::timeout(Duration::from_secs(2), watch.message())
        .await
        .expect("the watch went quiet during the drain")
        .unwrap()
        .expect("the watch ended early");
    assert_eq!(agent.name, "Grace Hopper");
    // Then, at the drain timeout, it ends with UNAVAILABLE (watch again), and the process exits 0.
    let ended = tokio::time::timeout(Duration::from_secs(10), watch.message())
        .await
        .expect("the watch outlived the drain");
    assert_eq!(ended.unwrap_err().code(), tonic::Code::Unavailable);
    let status = leaving.exited(Duration::from_secs(10)).await;
    assert!(status.success(), "{status}");
    let drained = terminated.elapsed();
    assert!(
        drained >= Duration::from_millis(2300),
        "cut off early: {drained:?}"
    );
}
