//! Routing: how fast concurrent `ReserveAgent` requests are served when agents are free, beside
//! a bare "pick one free row and mark it" transaction (`SELECT … FOR UPDATE SKIP LOCKED`, then
//! `UPDATE`) on a plain table with the same number of rows and clients: the least any
//! atomic agent-picking can cost on this PostgreSQL. Each reservation also matches skills and
//! language, appends an event and writes the read model.

use std::sync::Arc;
use std::time::{Duration, Instant};

use comms_agents::routing::Need;
use comms_agents::{Agents, Timeouts};
use comms_auth::{Identity, Role};
use comms_eventstore::EventStore;
use serde_json::{Value, json};
use uuid::Uuid;

use super::setup::BenchDatabase;
use super::stats::{Samples, ms, percent};
use super::{Options, heading};

const CLIENTS: [usize; 2] = [1, 16];

pub async fn run(options: &Options) -> anyhow::Result<Value> {
    heading("routing: ReserveAgent beside a bare pick-and-mark transaction");
    let agents_per_round = if options.cell < Duration::from_secs(1) {
        40
    } else {
        1_000
    };
    let db = BenchDatabase::create(&options.admin_database_url, 24).await?;
    let agents = Agents::new(
        EventStore::new(db.pool.clone()),
        Timeouts {
            reservation: Duration::from_secs(3600),
            wrap_up: Duration::from_secs(30),
        },
    );
    sqlx::query("CREATE TABLE bench_pick (id uuid PRIMARY KEY, state text NOT NULL, since timestamptz NOT NULL)")
        .execute(&db.pool)
        .await?;
    println!(
        "{:>8} {:>14} {:>8} {:>8} {:>7} | {:>14} {:>8} | {:>7}",
        "clients",
        "reservations/s",
        "p50 ms",
        "p99 ms",
        "queued",
        "bare picks/s",
        "p50 ms",
        "ratio"
    );
    let mut rows = Vec::new();
    for clients in CLIENTS {
        // A fresh organization per round, so every round starts with all agents free.
        let org = format!("org_{}", Uuid::new_v4().simple());
        let admin =
            Identity::new(&org, "bench", Role::Admin).map_err(|e| anyhow::anyhow!(e.message))?;
        for n in 0..agents_per_round {
            let profile = comms_agents::domain::Profile {
                name: format!("Agent {n}"),
                email: format!("agent{n}@bench.test"),
                phone: String::new(),
                extension: String::new(),
                languages: vec![comms_proto::Language::En],
                skills: vec![comms_agents::domain::Skill {
                    name: "billing".into(),
                    proficiency: (n % 5 + 1) as u8,
                }],
            };
            let agent = agents
                .create_agent(&admin, Uuid::now_v7(), profile, None)
                .await
                .map_err(|e| anyhow::anyhow!(e.message))?;
            agents
                .set_status(
                    &admin,
                    agent.value.id,
                    comms_agents::domain::AgentState::Available,
                    None,
                )
                .await
                .map_err(|e| anyhow::anyhow!(e.message))?;
        }
        sqlx::query("TRUNCATE bench_pick").execute(&db.pool).await?;
        sqlx::query("INSERT INTO bench_pick SELECT gen_random_uuid(), 'available', now() FROM generate_series(1, $1)")
            .bind(agents_per_round as i64)
            .execute(&db.pool)
            .await?;

        let reserved = load(clients, agents_per_round, {
            let (agents, admin) = (agents.clone(), admin.clone());
            move || {
                let (agents, admin) = (agents.clone(), admin.clone());
                async move {
                    let need = Need {
                        call_id: Uuid::now_v7(),
                        skills: vec!["billing".into()],
                        language: Some(comms_proto::Language::En),
                        priority: 0,
                    };
                    agents
                        .reserve(&admin, need, false)
                        .await
                        .map(|_| ())
                        .map_err(|e| anyhow::anyhow!(e.message))
                }
            }
        })
        .await?;
        let bare = load(clients, agents_per_round, {
            let pool = db.pool.clone();
            move || {
                let pool = pool.clone();
                async move {
                    let mut tx = pool.begin().await?;
                    let id: Uuid = sqlx::query_scalar(
                        "SELECT id FROM bench_pick WHERE state = 'available' ORDER BY since, id LIMIT 1 FOR UPDATE SKIP LOCKED",
                    )
                    .fetch_one(&mut *tx)
                    .await?;
                    sqlx::query("UPDATE bench_pick SET state = 'reserved' WHERE id = $1").bind(id).execute(&mut *tx).await?;
                    tx.commit().await?;
                    anyhow::Ok(())
                }
            }
        })
        .await?;
        // Near a round's end a request can find every free agent locked by others in flight;
        // its call then waits (and the next sweep offers it). Reported, not hidden.
        let queued: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM routing_queue WHERE org_id = $1 AND offered_to IS NULL",
        )
        .bind(&org)
        .fetch_one(&db.pool)
        .await?;
        let ratio = percent(reserved.rate(), bare.rate());
        println!(
            "{clients:>8} {:>14.0} {:>8.2} {:>8.2} {queued:>7} | {:>14.0} {:>8.2} | {:>6.0}%",
            reserved.rate(),
            ms(reserved.percentile(0.5)),
            ms(reserved.percentile(0.99)),
            bare.rate(),
            ms(bare.percentile(0.5)),
            ratio
        );
        rows.push(
            json!({ "clients": clients, "agents": agents_per_round, "reserve": reserved.to_json(),
                          "queued": queued, "bare_pick": bare.to_json(), "ratio_percent": ratio }),
        );
    }
    db.drop_now().await?;
    Ok(Value::Array(rows))
}

/// Runs `total` operations over `clients` concurrent tasks.
async fn load<F, Fut>(clients: usize, total: usize, operation: F) -> anyhow::Result<Samples>
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send,
{
    let remaining = Arc::new(std::sync::atomic::AtomicUsize::new(total));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (operation, remaining) = (operation.clone(), remaining.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while remaining
                .fetch_update(
                    std::sync::atomic::Ordering::SeqCst,
                    std::sync::atomic::Ordering::SeqCst,
                    |n| n.checked_sub(1),
                )
                .is_ok()
            {
                let began = Instant::now();
                operation().await?;
                latencies.push(began.elapsed());
            }
            anyhow::Ok(latencies)
        }));
    }
    Samples::join(tasks, started).await
}
