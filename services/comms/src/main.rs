//! `comms`: the one binary of the communications fleet.

use clap::{Parser, Subcommand};
use comms_fleet::{Service, fleet};
use comms_runtime::{Env, Shutdown};

#[derive(Parser)]
#[command(name = "comms", version, about = "The Ocelot communications fleet")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run one service, as each Kubernetes Deployment does.
    Serve { service: Service },
    /// Run the whole fleet in one process (migrates first). REST on PORT (3018).
    Dev,
    /// Apply database migrations, declare the exchange and queues, and exit.
    Migrate,
    /// Rebuild the analytics read models (calls, agents, campaigns) from the event store.
    Replay,
    /// Messages the consumers could not apply: list them with the reasons, replay them.
    DeadLetters {
        #[command(subcommand)]
        command: comms_fleet::dead_letters::DeadLettersCommand,
    },
    /// Signing keys: list, rotate, print the JWKS, mint service tokens.
    Keys {
        #[command(subcommand)]
        command: comms_fleet::keys::KeysCommand,
    },
    /// Create an administrator (standalone mode) unless the email exists. The password comes
    /// from COMMS_ADMIN_PASSWORD or standard input.
    CreateAdmin {
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "default")]
        org: String,
    },
    /// Simulate a dialing shift on a virtual clock with the real pacer: progressive and
    /// predictive side by side.
    SimulateDialer(comms_fleet::simulate::Options),
    /// Measure the backbone against its ceilings on the local PostgreSQL and RabbitMQ.
    Bench {
        /// A smoke run with tiny sizes (CI): checks that every section runs.
        #[arg(long)]
        quick: bool,
        /// Where to write the figures as JSON.
        #[arg(long, default_value = "bench-results.json")]
        json: std::path::PathBuf,
        /// Only these sections: append, relay, lag, rest (with memory), callbacks, replay,
        /// routing, auth, live, transcription.
        #[arg(long, value_delimiter = ',', value_parser = ["append", "relay", "lag", "rest", "callbacks", "replay", "routing", "auth", "live", "transcription"])]
        only: Vec<String>,
    },
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    let service_name = match &cli.command {
        Command::Serve { service } => format!("comms-{service:?}").to_lowercase(),
        _ => "comms".to_owned(),
    };
    // `comms bench` and `simulate-dialer` print tables, so only warnings by default. The
    // OpenTelemetry SDK's start-up notice and PostgreSQL's notices during migrations ("… does
    // not exist, skipping") are routine: not worth a line on every command.
    let default_log_level = match &cli.command {
        Command::Bench { .. } | Command::SimulateDialer(_) => "warn,sqlx::query=error",
        _ => "info,opentelemetry=warn,sqlx::postgres::notice=warn",
    };
    let mut settings = comms_telemetry::Settings::from_env(&service_name, default_log_level);
    // What these print is their result (a token, a JWKS, figures); logs stay out of the way.
    settings.logs_to_stderr = matches!(
        cli.command,
        Command::Keys { .. }
            | Command::DeadLetters { .. }
            | Command::CreateAdmin { .. }
            | Command::Bench { .. }
            | Command::SimulateDialer(_)
    );
    let telemetry = match comms_telemetry::init_with(settings) {
        Ok(guard) => guard,
        Err(error) => exit_with(&error),
    };
    let result = run(cli.command).await;
    telemetry.shutdown();
    if let Err(error) = result {
        exit_with(&error);
    }
}

fn exit_with(error: &anyhow::Error) -> ! {
    eprintln!("comms: {error:#}");
    std::process::exit(1);
}

async fn run(command: Command) -> anyhow::Result<()> {
    let env = Env::from_process();
    let (trigger, shutdown) = Shutdown::new();
    tokio::spawn(async move {
        comms_runtime::shutdown::signal().await;
        tracing::info!("shutdown requested; draining");
        trigger.trigger();
    });
    match command {
        Command::Serve { service } => fleet::serve(service, &env, shutdown).await,
        Command::Dev => {
            // Without Deepgram, answered calls are heard as scripted conversations.
            let mut env = env;
            if env.get("DEEPGRAM_API_KEY").is_none() && env.get("TRANSCRIBER").is_none() {
                env.set("TRANSCRIBER", "simulated");
            }
            let fleet = comms_fleet::start_dev(&env, shutdown).await?;
            tracing::info!(url = %format!("http://{}", fleet.edge), "fleet is up; REST docs at /docs/");
            tracing::info!(
                calls = %fleet.calls,
                analytics = %fleet.analytics,
                agents = %fleet.agents,
                campaigns = %fleet.campaigns,
                transcription = %fleet.transcription,
                "gRPC services (reflection and gRPC health on each)"
            );
            tracing::info!(url = %format!("ws://{}/media/", fleet.media), "transcription's media sockets (simulated without DEEPGRAM_API_KEY)");
            tracing::info!(url = %format!("http://{}", fleet.admin), "/health and /metrics");
            fleet.wait().await
        }
        Command::Migrate => {
            let common = comms_runtime::config::Common::from_env(&env)?;
            let pool = comms_runtime::db::connect(&common.database_url, 2).await?;
            comms_runtime::db::migrate(&pool).await?;
            tracing::info!("migrations applied");
            fleet::declare_topology(&env).await?;
            tracing::info!("exchange and queues declared");
            Ok(())
        }
        Command::Bench { quick, json, only } => {
            let binary = std::env::current_exe()?;
            let mut options = if quick {
                comms_fleet::bench::Options::quick(binary)
            } else {
                comms_fleet::bench::Options::full(binary)
            };
            options.only = only;
            let report = comms_fleet::bench::run(&options).await?;
            std::fs::write(&json, serde_json::to_string_pretty(&report)?)?;
            println!("\nfigures written to {}", json.display());
            Ok(())
        }
        Command::Keys { command } => comms_fleet::keys::run(command, &env),
        Command::DeadLetters { command } => comms_fleet::dead_letters::run(command, &env).await,
        Command::SimulateDialer(options) => comms_fleet::simulate::run(&options),
        Command::CreateAdmin { email, org } => {
            comms_fleet::keys::create_admin(&env, &org, &email).await
        }
        Command::Replay => {
            let common = comms_runtime::config::Common::from_env(&env)?;
            let pool = comms_runtime::db::connect(&common.database_url, 4).await?;
            let store = comms_eventstore::EventStore::new(pool);
            let report = comms_analytics::rebuild::rebuild(&store, |n| {
                tracing::info!(events = n, "replaying calls")
            })
            .await?;
            tracing::info!(
                replayed = report.events_replayed,
                skipped = report.events_skipped,
                "call analytics rebuilt"
            );
            let consumer = comms_analytics::Config::from_env(&env)?.consumer();
            let report = comms_analytics::rebuild::rebuild_read_models(
                &store,
                &consumer.consumer_name,
                |n| tracing::info!(events = n, "replaying agents, campaigns and transcripts"),
            )
            .await?;
            tracing::info!(
                replayed = report.events_replayed,
                skipped = report.events_skipped,
                "agent, campaign and sentiment analytics rebuilt"
            );
            Ok(())
        }
    }
}
