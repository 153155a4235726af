//! REST through the edge against the same operations as direct gRPC calls to the services, at
//! 16 and 64 concurrent clients; and each service's resident memory, idle and under that load.
//! The services run as separate `comms serve` processes, as in a deployment.

use std::collections::HashMap;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use comms_auth::tokens::Lifetimes;
use comms_auth::{Identity, KeyRing, PrivateKey, Role, TokenKind, Tokens};
use comms_proto::v1::analytics_service_client::AnalyticsServiceClient;
use comms_proto::v1::calls_service_client::CallsServiceClient;
use comms_proto::v1::{GetCallRequest, GetDashboardRequest, InitiateCallRequest};
use serde_json::{Value, json};
use tokio::process::{Child, Command};
use tokio::sync::Mutex;
use tonic::transport::Channel;

use super::setup::{BenchDatabase, resident_mib, unique};
use super::stats::{Samples, ms, round, times};
use super::{Options, heading};

pub(super) const ORG: &str = "org_bench";
const SERVICES: [&str; 4] = ["calls", "analytics", "relay", "edge"];

pub(super) struct Fleet {
    children: Vec<(&'static str, Child)>,
    /// `Authorization` values: a user's access token for REST, a service token for gRPC.
    pub rest_authorization: String,
    pub grpc_token: String,
    pub exchange: String,
    /// The analytics, calls and agents queues, deleted afterwards.
    queues: Vec<String>,
    pub edge: String,
    pub calls: Channel,
    analytics: Channel,
}

pub(super) fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Starts the services as separate processes, with `extra` settings (a carrier's). The ports
/// are picked free but bound only by the services: one another process took meanwhile stops a
/// service at once, and the fleet is started again on other ports.
pub(super) async fn start_fleet(
    options: &Options,
    db: &BenchDatabase,
    extra: &[(&str, String)],
) -> anyhow::Result<Fleet> {
    for _ in 0..3 {
        if let Some(fleet) = try_start_fleet(options, db, extra).await? {
            return Ok(fleet);
        }
    }
    anyhow::bail!(
        "the fleet did not start; see {}",
        std::env::temp_dir().join("comms-bench-*.log").display()
    )
}

/// The fleet, or `None` when a service stopped before it was ready (a port taken).
async fn try_start_fleet(
    options: &Options,
    db: &BenchDatabase,
    extra: &[(&str, String)],
) -> anyhow::Result<Option<Fleet>> {
    let (calls_port, analytics_port, edge_port) = (free_port()?, free_port()?, free_port()?);
    let calls_url = format!("http://127.0.0.1:{calls_port}");
    let analytics_url = format!("http://127.0.0.1:{analytics_port}");
    let exchange = unique("bench.events");
    let queues = queues();
    // One key for the fleet, so the bench can mint the tokens a logged-in user would hold.
    let key = PrivateKey::generate();
    let tokens = Tokens::new(KeyRing::new(key.clone(), vec![]), Lifetimes::default());
    let admin = Identity::new(ORG, "bench", Role::Admin).map_err(|e| anyhow::anyhow!(e.message))?;
    let token = |kind| {
        tokens
            .sign(&tokens.claims(&admin, kind, Duration::from_secs(6 * 3600)))
            .map_err(|e| anyhow::anyhow!(e.message))
    };
    let (rest_authorization, grpc_token) = (
        format!("Bearer {}", token(TokenKind::Access)?),
        token(TokenKind::Service)?,
    );
    let mut children = Vec::new();
    for service in SERVICES {
        let mut command = service_command(options, service, &db.url, &exchange, &queues, &key)?;
        command
            // The bench measures the edge, not its per-organization limiter.
            .env("RATE_LIMIT_PER_MINUTE", "1000000000")
            // The simulated provider stays quiet: the load is the API, not call progress.
            .env("SIM_RING_MS", "3600000")
            .env("CALLS_GRPC_URL", &calls_url)
            .env("ANALYTICS_GRPC_URL", &analytics_url)
            .env("PORT", edge_port.to_string())
            .env(
                "GRPC_PORT",
                match service {
                    "calls" => calls_port,
                    "analytics" => analytics_port,
                    _ => 0,
                }
                .to_string(),
            )
            .envs(extra.iter().map(|(k, v)| (*k, v.as_str())));
        children.push((service, command.spawn()?));
    }
    let edge = format!("http://127.0.0.1:{edge_port}");
    let http = comms_runtime::http::client(std::time::Duration::from_secs(120));
    for _ in 0..300 {
        let ready = http
            .get(format!("{edge}/health"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
            && tokio::net::TcpStream::connect(("127.0.0.1", calls_port))
                .await
                .is_ok()
            && tokio::net::TcpStream::connect(("127.0.0.1", analytics_port))
                .await
                .is_ok();
        if ready {
            return Ok(Some(Fleet {
                children,
                rest_authorization,
                grpc_token,
                exchange,
                queues: queues.into_iter().map(|(_, queue)| queue).collect(),
                edge,
                calls: Channel::from_shared(calls_url)?.connect().await?,
                analytics: Channel::from_shared(analytics_url)?.connect().await?,
            }));
        }
        let stopped = children
            .iter_mut()
            .any(|(_, child)| child.try_wait().ok().flatten().is_some());
        if stopped {
            eprintln!("a service of the bench's fleet stopped while starting; trying other ports");
            return Ok(None);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(None)
}

impl Fleet {
    /// The process id of `service`'s process.
    pub(super) fn pid(&self, service: &str) -> Option<u32> {
        self.children
            .iter()
            .find(|(name, _)| *name == service)
            .and_then(|(_, child)| child.id())
    }

    /// Stops the processes and deletes the queues and exchange they used.
    pub(super) async fn stop(&mut self, options: &Options) -> anyhow::Result<()> {
        for (_, child) in &mut self.children {
            child.start_kill().ok();
            child.wait().await.ok();
        }
        delete_topology(options, &self.queues, &self.exchange).await
    }
}

/// The queues the fleet's consumers read, each the bench's own (the relay declares every one):
/// their variables and names.
pub(super) fn queues() -> Vec<(&'static str, String)> {
    [
        ("ANALYTICS_QUEUE", "bench.analytics"),
        ("CALLS_QUEUE", "bench.calls"),
        ("AGENTS_QUEUE", "bench.agents"),
        ("CAMPAIGNS_QUEUE", "bench.campaigns"),
        ("TRANSCRIPT_SEARCH_QUEUE", "bench.search"),
    ]
    .into_iter()
    .map(|(variable, prefix)| (variable, unique(prefix)))
    .collect()
}

/// `comms serve <service>` on `database_url` and `exchange`, with `queues`, signing with `key`,
/// logging warnings to a file of the temporary directory; stopped when dropped.
pub(super) fn service_command(
    options: &Options,
    service: &str,
    database_url: &str,
    exchange: &str,
    queues: &[(&'static str, String)],
    key: &PrivateKey,
) -> anyhow::Result<Command> {
    let mut command = Command::new(&options.binary);
    command
        .args(["serve", service])
        .env("DATABASE_URL", database_url)
        .env("RABBITMQ_URL", &options.amqp_url)
        .env("EVENTS_EXCHANGE", exchange)
        .envs(queues.iter().map(|(k, v)| (*k, v.as_str())))
        .env("BIND_HOST", "127.0.0.1")
        .env("ADMIN_PORT", free_port()?.to_string())
        .env("DATABASE_POOL_SIZE", "32")
        .env("JWT_PRIVATE_KEY", key.to_pem())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::from(std::fs::File::create(
            std::env::temp_dir().join(format!("comms-bench-{service}.log")),
        )?))
        .kill_on_drop(true);
    Ok(command)
}

/// Deletes `queues` (and their dead-letter queues) and `exchange`.
pub(super) async fn delete_topology(
    options: &Options,
    queues: &[String],
    exchange: &str,
) -> anyhow::Result<()> {
    let connection = comms_bus::connect(&options.amqp_url).await?;
    let channel = connection.create_channel().await?;
    for queue in queues
        .iter()
        .flat_map(|q| [q.clone(), comms_bus::dead_letter_queue(q)])
    {
        channel
            .queue_delete(queue.as_str().into(), Default::default())
            .await?;
    }
    channel
        .exchange_delete(exchange.into(), Default::default())
        .await?;
    Ok(())
}

pub(super) fn grpc<T>(token: &str, message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    comms_auth::service::attach(request.metadata_mut(), token);
    request
}

#[derive(Clone, Copy, Debug)]
enum Operation {
    PostCall,
    GetCall,
    Dashboard,
}

impl Operation {
    fn name(self) -> &'static str {
        match self {
            Self::PostCall => "POST /calls",
            Self::GetCall => "GET /calls/{id}",
            Self::Dashboard => "GET /analytics/dashboard",
        }
    }
}

/// Runs `operation` from `clients` concurrent loops for `duration`, via REST or gRPC.
async fn load(
    fleet: &Fleet,
    operation: Operation,
    clients: usize,
    rest: bool,
    duration: Duration,
    ids: &Arc<Mutex<Vec<String>>>,
) -> anyhow::Result<Samples> {
    let http = comms_runtime::http::builder()
        .pool_max_idle_per_host(clients)
        .build()?;
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::new();
    for client in 0..clients {
        let (http, edge, ids) = (http.clone(), fleet.edge.clone(), ids.clone());
        let (authorization, token) = (fleet.rest_authorization.clone(), fleet.grpc_token.clone());
        let mut calls = CallsServiceClient::new(fleet.calls.clone());
        let mut analytics = AnalyticsServiceClient::new(fleet.analytics.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut n = client;
            while Instant::now() < deadline {
                let id = {
                    let ids = ids.lock().await;
                    ids.get(n % ids.len().max(1)).cloned().unwrap_or_default()
                };
                n += clients;
                let began = Instant::now();
                match (operation, rest) {
                    (Operation::PostCall, true) => {
                        let response = http
                            .post(format!("{edge}/api/communications/calls"))
                            .header("authorization", &authorization)
                            .json(&json!({ "to": "+14155550100" }))
                            .send()
                            .await?;
                        anyhow::ensure!(
                            response.status() == 201,
                            "POST /calls answered {}",
                            response.status()
                        );
                        let call: Value = response.json().await?;
                        latencies.push(began.elapsed());
                        ids.lock()
                            .await
                            .push(call["id"].as_str().unwrap_or_default().to_owned());
                        continue;
                    }
                    (Operation::PostCall, false) => {
                        let call = calls
                            .initiate_call(grpc(
                                &token,
                                InitiateCallRequest {
                                    to: "+14155550100".into(),
                                    ..Default::default()
                                },
                            ))
                            .await?;
                        latencies.push(began.elapsed());
                        ids.lock().await.push(call.into_inner().id);
                        continue;
                    }
                    (Operation::GetCall, true) => {
                        let response = http
                            .get(format!("{edge}/api/communications/calls/{id}"))
                            .header("authorization", &authorization)
                            .send()
                            .await?;
                        anyhow::ensure!(
                            response.status() == 200,
                            "GET /calls/{{id}} answered {}",
                            response.status()
                        );
                        response.bytes().await?;
                    }
                    (Operation::GetCall, false) => {
                        calls.get_call(grpc(&token, GetCallRequest { id })).await?;
                    }
                    (Operation::Dashboard, true) => {
                        let response = http
                            .get(format!("{edge}/api/communications/analytics/dashboard"))
                            .header("authorization", &authorization)
                            .send()
                            .await?;
                        anyhow::ensure!(
                            response.status() == 200,
                            "dashboard answered {}",
                            response.status()
                        );
                        response.bytes().await?;
                    }
                    (Operation::Dashboard, false) => {
                        analytics
                            .get_dashboard(grpc(&token, GetDashboardRequest {}))
                            .await?;
                    }
                }
                latencies.push(began.elapsed());
            }
            anyhow::Ok(latencies)
        }));
    }
    Samples::join(tasks, started).await
}

fn resident(fleet: &Fleet) -> HashMap<&'static str, f64> {
    fleet
        .children
        .iter()
        .filter_map(|(name, child)| Some((*name, resident_mib(child.id()?)?)))
        .collect()
}

pub async fn run(options: &Options) -> anyhow::Result<(Value, Value)> {
    heading("REST through the edge against direct gRPC (services as separate processes)");
    anyhow::ensure!(
        Path::new(&options.binary).exists(),
        "no comms binary at {}",
        options.binary.display()
    );
    let db = BenchDatabase::create(&options.admin_database_url, 2).await?;
    let mut fleet = start_fleet(options, &db, &[]).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle = resident(&fleet);

    // Sample memory throughout the load; keep each process's peak.
    let peak: Arc<Mutex<HashMap<&'static str, f64>>> = Arc::default();
    let pids: Vec<(&'static str, u32)> = fleet
        .children
        .iter()
        .filter_map(|(n, c)| Some((*n, c.id()?)))
        .collect();
    let sampler = {
        let peak = peak.clone();
        tokio::spawn(async move {
            loop {
                for (name, pid) in &pids {
                    if let Some(mib) = resident_mib(*pid) {
                        let mut peak = peak.lock().await;
                        let entry = peak.entry(*name).or_insert(0.0);
                        *entry = entry.max(mib);
                    }
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };

    println!(
        "{:>25} {:>7} | {:>9} {:>8} {:>8} {:>8} | {:>9} {:>8} | {:>8}",
        "operation",
        "clients",
        "REST/s",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "gRPC/s",
        "p50 ms",
        "overhead"
    );
    let ids: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut rows = Vec::new();
    for operation in [
        Operation::PostCall,
        Operation::GetCall,
        Operation::Dashboard,
    ] {
        // One client shows the edge's own cost per request, with no queueing behind it.
        for clients in [1, 16, 64] {
            let rest = load(&fleet, operation, clients, true, options.cell, &ids).await?;
            let direct = load(&fleet, operation, clients, false, options.cell, &ids).await?;
            let overhead = times(rest.percentile(0.5), direct.percentile(0.5));
            println!(
                "{:>25} {clients:>7} | {:>9.0} {:>8.2} {:>8.2} {:>8.2} | {:>9.0} {:>8.2} | {:>7.2}x",
                operation.name(),
                rest.rate(),
                ms(rest.percentile(0.5)),
                ms(rest.percentile(0.95)),
                ms(rest.percentile(0.99)),
                direct.rate(),
                ms(direct.percentile(0.5)),
                overhead
            );
            rows.push(json!({ "operation": operation.name(), "clients": clients, "rest": rest.to_json(), "grpc": direct.to_json(), "edge_overhead_p50": round(overhead * 100.0) / 100.0 }));
        }
    }
    sampler.abort();
    let peak = peak.lock().await.clone();
    println!(
        "\n{:>10} | {:>9} | {:>15}",
        "service", "idle MiB", "under load MiB"
    );
    let mut memory = Vec::new();
    for service in SERVICES {
        let (idle, loaded) = (
            idle.get(service).copied().unwrap_or_default(),
            peak.get(service).copied().unwrap_or_default(),
        );
        println!("{service:>10} | {idle:>9.1} | {loaded:>15.1}");
        memory.push(json!({ "service": service, "idle_mib": idle, "under_load_mib": loaded }));
    }
    fleet.stop(options).await?;
    db.drop_now().await?;
    Ok((Value::Array(rows), Value::Array(memory)))
}
