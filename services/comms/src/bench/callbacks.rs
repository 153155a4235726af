//! Carriers' callbacks through the edge: signed Twilio status callbacks per second, each
//! verified, handed to the calls service and recorded as the call's `comms.call.answered`, beside
//! an unsigned no-op route of the same edge (`GET /health`) in the same run; and how long from a
//! callback's request to its event on the exchange.
//!
//! The services run as separate processes carried by "Twilio": a loopback stand-in that takes
//! the calls the bench places and names them, as Twilio's API does.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use comms_proto::v1::InitiateCallRequest;
use comms_proto::v1::calls_service_client::CallsServiceClient;
use serde_json::{Value, json};

use super::arrivals::{Arrivals, Times};
use super::rest::{self, grpc};
use super::setup::BenchDatabase;
use super::stats::{Samples, ms, percent};
use super::{Options, heading};

const CLIENTS: usize = 16;
const ACCOUNT_SID: &str = "AC00000000000000000000000000000000";
const AUTH_TOKEN: &str = "bench-auth-token-0123456789abcdef";
/// Where "Twilio" believes the edge is (an ingress in front of it); signatures cover this URL.
const PUBLIC_BASE_URL: &str = "https://comms.bench.test";

/// Calls "Twilio" has taken: each call's id (from its callback URL) and the SID it was given.
type Placed = Arc<Mutex<Vec<(String, String)>>>;

/// `POST /2010-04-01/Accounts/{sid}/Calls.json`: names the call, answers 201.
async fn create_call(State(placed): State<Placed>, form: String) -> (http::StatusCode, String) {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(&form).unwrap_or_default();
    let callback = pairs
        .iter()
        .find(|(k, _)| k == "StatusCallback")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let call_id = callback.rsplit('/').nth(1).unwrap_or_default().to_owned();
    let mut placed = placed.lock().expect("not poisoned");
    let sid = format!("CA{:032x}", placed.len() + 1);
    placed.push((call_id, sid.clone()));
    let body = json!({ "sid": sid, "status": "queued" }).to_string();
    (http::StatusCode::CREATED, body)
}

async fn twilio() -> anyhow::Result<(String, Placed)> {
    let placed = Placed::default();
    let app = axum::Router::new()
        .route(
            "/2010-04-01/Accounts/{account}/Calls.json",
            axum::routing::post(create_call),
        )
        .route(
            "/2010-04-01/Accounts/{account}",
            axum::routing::get(|| async { r#"{"status":"active"}"# }),
        )
        .with_state(placed.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((url, placed))
}

/// Places `n` calls through the calls service and waits until "Twilio" has named each.
async fn place(
    fleet: &rest::Fleet,
    placed: &Placed,
    n: usize,
) -> anyhow::Result<Vec<(String, String)>> {
    let mut tasks = Vec::new();
    for client in 0..CLIENTS {
        let mut calls = CallsServiceClient::new(fleet.calls.clone());
        let token = fleet.grpc_token.clone();
        tasks.push(tokio::spawn(async move {
            for _ in (client..n).step_by(CLIENTS) {
                let request = InitiateCallRequest {
                    to: "+14155550100".into(),
                    ..Default::default()
                };
                calls.initiate_call(grpc(&token, request)).await?;
            }
            anyhow::Ok(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    for _ in 0..600 {
        if placed.lock().expect("not poisoned").len() >= n {
            return Ok(placed.lock().expect("not poisoned").clone());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    anyhow::bail!("Twilio was asked for fewer than {n} calls")
}

/// `GET /health` from [`CLIENTS`] loops for `duration`.
async fn no_op(edge: &str, duration: Duration) -> anyhow::Result<Samples> {
    let http = comms_runtime::http::client(Duration::from_secs(30));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        let (http, url) = (http.clone(), format!("{edge}/health"));
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while started.elapsed() < duration {
                let began = Instant::now();
                let response = http.get(&url).send().await?;
                anyhow::ensure!(
                    response.status() == 200,
                    "/health answered {}",
                    response.status()
                );
                latencies.push(began.elapsed());
            }
            anyhow::Ok(latencies)
        }));
    }
    Samples::join(tasks, started).await
}

/// One signed `in-progress` callback per call, from [`CLIENTS`] loops, until the calls run out
/// or `duration` passes, as fast as they are answered or at `rate` a second; notes when each
/// was sent.
async fn callbacks(
    edge: &str,
    calls: Vec<(String, String)>,
    duration: Duration,
    rate: Option<f64>,
    sent: Times<String>,
) -> anyhow::Result<Samples> {
    let http = comms_runtime::http::client(Duration::from_secs(30));
    let queue = Arc::new(Mutex::new(calls));
    let started = Instant::now();
    let mut tasks = Vec::new();
    // Paced: each loop sends every CLIENTS / rate seconds, the loops spread over that period.
    let period = rate.map(|r| Duration::from_secs_f64(CLIENTS as f64 / r));
    for client in 0..CLIENTS {
        let (http, edge, queue, sent) =
            (http.clone(), edge.to_owned(), queue.clone(), sent.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let offset = period.map_or(Duration::ZERO, |p| p / CLIENTS as u32 * client as u32);
            let mut next = started + offset;
            while started.elapsed() < duration {
                if let Some(period) = period {
                    tokio::time::sleep_until(next.into()).await;
                    next += period;
                }
                let Some((call_id, sid)) = queue.lock().expect("not poisoned").pop() else {
                    break;
                };
                let path = format!("/webhooks/twilio/org_bench/calls/{call_id}/status");
                let params: Vec<(String, String)> = [
                    ("AccountSid", ACCOUNT_SID),
                    ("ApiVersion", "2010-04-01"),
                    ("CallSid", sid.as_str()),
                    ("CallStatus", "in-progress"),
                    ("Direction", "outbound-api"),
                    ("To", "+14155550100"),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
                let signature = comms_auth::webhook::twilio_signature(
                    AUTH_TOKEN,
                    &format!("{PUBLIC_BASE_URL}{path}"),
                    &params,
                );
                let began = Instant::now();
                sent.lock().expect("not poisoned").insert(call_id, began);
                let response = http
                    .post(format!("{edge}{path}"))
                    .header("content-type", "application/x-www-form-urlencoded")
                    .header("x-twilio-signature", signature)
                    .body(serde_urlencoded::to_string(&params)?)
                    .send()
                    .await?;
                anyhow::ensure!(
                    response.status() == 204,
                    "a status callback answered {}",
                    response.status()
                );
                latencies.push(began.elapsed());
            }
            anyhow::Ok(latencies)
        }));
    }
    Samples::join(tasks, started).await
}

pub async fn run(options: &Options) -> anyhow::Result<Value> {
    heading("signed carrier callbacks through the edge, against an unsigned no-op route");
    let (twilio_url, placed) = twilio().await?;
    let db = BenchDatabase::create(&options.admin_database_url, 2).await?;
    let carrier = [
        ("TELEPHONY_PROVIDER", "twilio".to_owned()),
        ("TWILIO_ACCOUNT_SID", ACCOUNT_SID.to_owned()),
        ("TWILIO_AUTH_TOKEN", AUTH_TOKEN.to_owned()),
        ("TWILIO_PHONE_NUMBER", "+14155550111".to_owned()),
        ("TWILIO_API_URL", twilio_url),
        ("PUBLIC_BASE_URL", PUBLIC_BASE_URL.to_owned()),
        // The bench measures callbacks, not the account's dialing limit.
        ("TWILIO_CALLS_PER_SECOND", "1000".to_owned()),
    ];
    let mut fleet = rest::start_fleet(options, &db, &carrier).await?;

    // Our own queue of the answers the relay publishes, read as they arrive.
    let answered = Arrivals::tap(
        &options.amqp_url,
        &fleet.exchange,
        <comms_events::call::Answered as comms_events::Event>::TYPE,
        |envelope| envelope["data"]["call_id"].as_str().map(str::to_owned),
    )
    .await?;

    // Enough calls for a cell as fast as the edge answers, then one at a steady 100 a second.
    const FAST: f64 = 1500.0;
    const STEADY: f64 = 100.0;
    let cell = options.cell.as_secs_f64();
    let mut calls = place(&fleet, &placed, (cell * (FAST + STEADY)).ceil() as usize).await?;
    let baseline = no_op(&fleet.edge, options.cell).await?;
    let mut phases = Vec::new();
    for (name, rate, per_second) in [
        ("as fast as answered", None, FAST),
        ("steady 100/s", Some(STEADY), STEADY),
    ] {
        let share = calls.split_off(
            calls
                .len()
                .saturating_sub((cell * per_second).ceil() as usize),
        );
        let sent = Times::<String>::default();
        let signed = callbacks(&fleet.edge, share, options.cell, rate, sent.clone()).await?;
        let lag = answered.since(&sent, "answered calls").await?;
        phases.push((name, signed, lag));
    }

    println!(
        "{:>42} | {:>7} {:>7} {:>7} | {:>8} | {:>12} {:>12}",
        "route", "per s", "p50 ms", "p99 ms", "of no-op", "event p50 ms", "event p99 ms"
    );
    println!(
        "{:>42} | {:>7.0} {:>7.2} {:>7.2} | {:>7.0}% |",
        "GET /health (unsigned, no-op)",
        baseline.rate(),
        ms(baseline.percentile(0.5)),
        ms(baseline.percentile(0.99)),
        100.0
    );
    let mut report = json!({ "no_op": baseline.to_json() });
    for (name, signed, lag) in &phases {
        let share = percent(signed.rate(), baseline.rate());
        println!(
            "{:>42} | {:>7.0} {:>7.2} {:>7.2} | {:>7.0}% | {:>12.2} {:>12.2}",
            format!("signed status callback, {name}"),
            signed.rate(),
            ms(signed.percentile(0.5)),
            ms(signed.percentile(0.99)),
            share,
            ms(lag.percentile(0.5)),
            ms(lag.percentile(0.99)),
        );
        report[*name] = json!({
            "signed_callbacks": signed.to_json(),
            "share_of_no_op_percent": share,
            "callback_to_exchange": lag.to_json(),
        });
    }
    answered.stop().await?;
    fleet.stop(options).await?;
    db.drop_now().await?;
    Ok(report)
}
