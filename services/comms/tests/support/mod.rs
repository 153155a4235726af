//! A fleet of `comms serve …` processes on one machine, as Kubernetes runs them: one PostgreSQL
//! database and one RabbitMQ exchange shared by every instance, each instance on its own ports.

#![allow(dead_code)] // each test file uses part of it

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use comms_testkit::{TestDatabase, free_port, unique_name};
use lapin::options::BasicGetOptions;
use serde_json::{Value, json};
use uuid::Uuid;

pub const ORG: &str = "acme";
const ADMIN_EMAIL: &str = "admin@acme.test";
const ADMIN_PASSWORD: &str = "correct horse battery staple";

pub struct Cluster {
    pub db: TestDatabase,
    env: Vec<(String, String)>,
    _keys: tempfile::TempDir,
}

impl Cluster {
    /// A fresh database and exchange, migrated (`comms migrate`) with a first administrator
    /// (`comms create-admin`), as the migrations Job leaves a deployment.
    pub async fn new() -> Self {
        let db = TestDatabase::new().await;
        let keys = tempfile::tempdir().unwrap();
        let env = [
            ("DATABASE_URL", db.url.clone()),
            ("RABBITMQ_URL", comms_testkit::amqp_url()),
            ("EVENTS_EXCHANGE", unique_name("test.events")),
            ("ANALYTICS_QUEUE", unique_name("test.analytics")),
            ("AGENTS_QUEUE", unique_name("test.agents")),
            ("CALLS_QUEUE", unique_name("test.calls")),
            ("CAMPAIGNS_QUEUE", unique_name("test.campaigns")),
            ("TRANSCRIPT_SEARCH_QUEUE", unique_name("test.search")),
            (
                "COMMS_KEY_DIR",
                keys.path().join("keys").display().to_string(),
            ),
            ("BIND_HOST", "127.0.0.1".into()),
            // As production declares them.
            ("RABBITMQ_QUEUE_TYPE", "quorum".into()),
            ("DATABASE_POOL_SIZE", "4".into()),
            ("BCRYPT_COST", "4".into()),
            ("DRAIN_TIMEOUT_SECONDS", "10".into()),
            // Rate limits are not what these tests measure.
            ("RATE_LIMIT_PER_MINUTE", "1000000".into()),
            // Simulated calls that finish within a second.
            ("SIM_RING_MS", "30".into()),
            ("SIM_ANSWER_MS", "60".into()),
            ("SIM_TALK_MS", "200".into()),
            ("RUST_LOG", "info".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let cluster = Self {
            db,
            env,
            _keys: keys,
        };
        cluster.run(&["migrate"]);
        cluster.run(&["create-admin", "--email", ADMIN_EMAIL, "--org", ORG]);
        cluster
    }

    fn command(&self) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_comms"));
        command.envs(self.env.iter().map(|(k, v)| (k, v)));
        command.env("COMMS_ADMIN_PASSWORD", ADMIN_PASSWORD);
        command
    }

    /// Runs a one-off `comms …` command to completion and returns what it printed.
    pub fn run(&self, args: &[&str]) -> String {
        let output = self.command().args(args).output().unwrap();
        assert!(
            output.status.success(),
            "comms {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    pub fn exchange(&self) -> &str {
        self.var("EVENTS_EXCHANGE")
    }

    pub fn var(&self, name: &str) -> &str {
        self.env
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap()
    }

    /// Starts `comms serve <service>` with `extra` settings on top of the cluster's.
    pub fn start(&self, service: &str, extra: &[(&str, String)]) -> Instance {
        let (port, admin_port) = (free_port(), free_port());
        let mut command = self.command();
        command
            .args(["serve", service])
            .env("GRPC_PORT", port.to_string())
            .env("PORT", port.to_string())
            .env("ADMIN_PORT", admin_port.to_string())
            .envs(extra.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = command.spawn().unwrap();
        let logs = Arc::new(Mutex::new(Vec::new()));
        let stdout = child.stdout.take().unwrap();
        let sink = logs.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        // Every service serves /health and /metrics on its admin port.
        let health_port = admin_port;
        Instance {
            name: service.to_owned(),
            child: Mutex::new(child),
            port,
            health: format!("http://127.0.0.1:{health_port}"),
            logs,
        }
    }

    /// Calls, analytics, agents and campaigns, then an edge in front of them: one "side" of
    /// the fleet.
    pub async fn start_side(&self) -> Side {
        let calls = self.start("calls", &[]);
        let analytics = self.start("analytics", &[]);
        let agents = self.start("agents", &[]);
        let campaigns = self.start(
            "campaigns",
            &[
                ("CALLS_GRPC_URL", calls.grpc_url()),
                ("AGENTS_GRPC_URL", agents.grpc_url()),
            ],
        );
        let edge = self.start(
            "edge",
            &[
                ("CALLS_GRPC_URL", calls.grpc_url()),
                ("ANALYTICS_GRPC_URL", analytics.grpc_url()),
                ("AGENTS_GRPC_URL", agents.grpc_url()),
                ("CAMPAIGNS_GRPC_URL", campaigns.grpc_url()),
            ],
        );
        for instance in [&calls, &analytics, &agents, &campaigns, &edge] {
            instance.ready().await;
        }
        Side {
            calls,
            analytics,
            agents,
            campaigns,
            edge,
        }
    }

    /// A service token for the organization's administrator, as another platform module holds.
    pub fn service_token(&self) -> String {
        self.run(&[
            "keys",
            "service-token",
            "--org",
            ORG,
            "--name",
            "loadtest",
            "--role",
            "admin",
        ])
        .trim()
        .to_owned()
    }

    /// A queue bound to every `comms.*` event of the exchange, declared before anything
    /// publishes: what reaches the broker, counted by message id.
    pub async fn tap(&self) -> Tap {
        let connection = comms_testkit::amqp_connection().await;
        let channel = connection.create_channel().await.unwrap();
        let queue = unique_name("test.tap");
        comms_bus::declare_events_exchange(&channel, self.exchange())
            .await
            .unwrap();
        comms_bus::declare_queue(
            &channel,
            self.exchange(),
            &queue,
            &["comms.#".to_owned()],
            Default::default(),
        )
        .await
        .unwrap();
        Tap {
            _connection: connection,
            channel,
            queue,
            seen: HashMap::new(),
        }
    }
}

pub struct Side {
    pub calls: Instance,
    pub analytics: Instance,
    pub agents: Instance,
    pub campaigns: Instance,
    pub edge: Instance,
}

pub struct Instance {
    pub name: String,
    child: Mutex<Child>,
    port: u16,
    health: String,
    logs: Arc<Mutex<Vec<String>>>,
}

impl Instance {
    pub fn grpc_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The edge's REST base URL.
    pub fn rest(&self) -> String {
        format!("http://127.0.0.1:{}/api/communications", self.port)
    }

    pub fn health_url(&self) -> String {
        format!("{}/health", self.health)
    }

    /// Waits until `/health` answers 200 (the readiness probe), failing if the process exits.
    pub async fn ready(&self) {
        let http = comms_runtime::http::client(std::time::Duration::from_secs(120));
        let started = Instant::now();
        loop {
            if let Ok(response) = http.get(self.health_url()).send().await
                && response.status().is_success()
            {
                return;
            }
            let exited = self.child.lock().unwrap().try_wait().unwrap();
            assert!(
                exited.is_none() && started.elapsed() < Duration::from_secs(30),
                "{} never became ready ({exited:?}):\n{}",
                self.name,
                self.logs().join("\n")
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The instance's Prometheus metrics, as text.
    pub async fn metrics(&self) -> String {
        comms_runtime::http::client(Duration::from_secs(30))
            .get(format!("{}/metrics", self.health))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// A metric's value summed over the label sets that include each of `labels` (`key="value"`);
    /// 0 when absent.
    pub async fn metric(&self, name: &str, labels: &[&str]) -> f64 {
        self.metrics()
            .await
            .lines()
            .filter(|line| line.starts_with(name) && labels.iter().all(|l| line.contains(l)))
            .filter(|line| line[name.len()..].starts_with([' ', '{']))
            .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().unwrap().clone()
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.child.lock().unwrap().id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// SIGTERM: what Kubernetes sends a pod it is replacing.
    pub fn terminate(&self) {
        self.signal("-TERM");
    }

    /// SIGKILL: a crash, a node lost; nothing runs after it.
    pub fn kill(&self) {
        self.signal("-KILL");
        self.child.lock().unwrap().wait().unwrap();
    }

    /// Waits for the process to exit, at most `limit`.
    pub async fn exited(&self, limit: Duration) -> ExitStatus {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.lock().unwrap().try_wait().unwrap() {
                return status;
            }
            assert!(
                started.elapsed() < limit,
                "{} did not exit within {limit:?}; it logged:\n{}",
                self.name,
                self.logs().join("\n")
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let child = self.child.get_mut().unwrap();
        let _ = child.kill();
        let _ = child.wait();
    }
}

pub struct Tap {
    _connection: lapin::Connection,
    channel: lapin::Channel,
    queue: String,
    /// How many times each message id arrived.
    pub seen: HashMap<Uuid, usize>,
}

impl Tap {
    /// Takes what has arrived, until every id of `expected` has been seen (or `limit` passes).
    pub async fn collect_until(&mut self, expected: &[Uuid], limit: Duration) {
        let started = Instant::now();
        while started.elapsed() < limit {
            match self
                .channel
                .basic_get(self.queue.as_str().into(), BasicGetOptions { no_ack: true })
                .await
                .unwrap()
            {
                Some(message) => {
                    let id = message.properties.message_id().as_ref().unwrap();
                    *self.seen.entry(id.as_str().parse().unwrap()).or_default() += 1;
                }
                None if expected.iter().all(|id| self.seen.contains_key(id)) => return,
                None => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    }

    pub fn duplicates(&self) -> usize {
        self.seen.values().map(|n| n - 1).sum()
    }
}

/// Logs in through `edge` and returns an access token.
pub async fn login(http: &reqwest::Client, edge: &Instance) -> String {
    let response: Value = http
        .post(format!("{}/auth/login", edge.rest()))
        .json(&json!({ "email": ADMIN_EMAIL, "password": ADMIN_PASSWORD }))
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .json()
        .await
        .unwrap();
    response["access_token"].as_str().unwrap().to_owned()
}

/// The ready instances of one component, as Kubernetes' endpoints see them: each instance's
/// readiness probe polled every [`PROBE_PERIOD`], unready ones out of rotation.
#[derive(Clone, Default)]
pub struct Endpoints(Arc<Mutex<Vec<Endpoint>>>);

struct Endpoint {
    address: String,
    ready: bool,
}

pub const PROBE_PERIOD: Duration = Duration::from_millis(100);

impl Endpoints {
    /// Adds `instance` (at `address`), probing it for as long as the test runs.
    pub fn add(&self, instance: &Instance, address: String) {
        let index = {
            let mut endpoints = self.0.lock().unwrap();
            endpoints.push(Endpoint {
                address,
                ready: false,
            });
            endpoints.len() - 1
        };
        let (endpoints, health) = (self.0.clone(), instance.health_url());
        tokio::spawn(async move {
            let http = comms_runtime::http::builder()
                .timeout(Duration::from_millis(500))
                .build()
                .unwrap();
            loop {
                let ready =
                    matches!(http.get(&health).send().await, Ok(r) if r.status().is_success());
                endpoints.lock().unwrap()[index].ready = ready;
                tokio::time::sleep(PROBE_PERIOD).await;
            }
        });
    }

    /// A ready endpoint's address, taking turns.
    pub fn pick(&self, turn: usize) -> Option<String> {
        let endpoints = self.0.lock().unwrap();
        let ready: Vec<&Endpoint> = endpoints.iter().filter(|e| e.ready).collect();
        (!ready.is_empty()).then(|| ready[turn % ready.len()].address.clone())
    }

    /// Waits until `n` endpoints are ready.
    pub async fn ready(&self, n: usize) {
        let started = Instant::now();
        while self.0.lock().unwrap().iter().filter(|e| e.ready).count() < n {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "endpoints never ready"
            );
            tokio::time::sleep(PROBE_PERIOD).await;
        }
    }

    /// A TCP listener spreading connections over the ready endpoints, as a Service's virtual IP
    /// does (kube-proxy balances connections, not requests). Returns its `http://` URL.
    pub async fn service(&self) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let endpoints = self.clone();
        tokio::spawn(async move {
            for turn in 0.. {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                let Some(address) = endpoints.pick(turn) else {
                    continue; // no endpoint: the connection is refused
                };
                tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(&address).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
        url
    }
}
