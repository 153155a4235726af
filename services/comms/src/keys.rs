//! `comms keys …` and `comms users create-admin`: managing signing keys and the first
//! administrator from the command line.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use comms_auth::{AuthConfig, Identity, KeyRing, Role, TokenKind};
use comms_runtime::Env;

#[derive(Debug, clap::Subcommand)]
pub enum KeysCommand {
    /// Show the keys of COMMS_KEY_DIR (generating the first if there is none), newest first.
    List,
    /// Add a newer key to COMMS_KEY_DIR. It signs once processes restart; older keys keep
    /// verifying until their files are removed.
    Rotate,
    /// Print the JWKS document of the configured keys.
    Jwks,
    /// Mint a service token for another platform module to call our gRPC services directly.
    ServiceToken {
        /// The organization the module acts in.
        #[arg(long)]
        org: String,
        /// Who the module is, e.g. `planning`; tokens name it as `service:<name>`.
        #[arg(long)]
        name: String,
        #[arg(long, value_parser = ["admin", "supervisor", "agent"], default_value = "supervisor")]
        role: String,
        /// Lifetime; keep it short and mint again.
        #[arg(long, default_value_t = 3600)]
        ttl_seconds: u64,
    },
}

fn key_dir(env: &Env) -> PathBuf {
    PathBuf::from(env.string("COMMS_KEY_DIR", comms_auth::config::DEFAULT_KEY_DIR))
}

pub fn run(command: KeysCommand, env: &Env) -> anyhow::Result<()> {
    match command {
        KeysCommand::List => {
            let ring = KeyRing::load_or_generate(&key_dir(env))?;
            let signing = ring.signing().map(|k| k.public.kid.clone());
            for key in ring.public_keys() {
                let role = if Some(&key.kid) == signing.as_ref() {
                    "signs and verifies"
                } else {
                    "verifies"
                };
                println!("{}  {role}", key.kid);
            }
        }
        KeysCommand::Rotate => {
            let key = KeyRing::rotate(&key_dir(env))?;
            println!("{}  added; restart the fleet to sign with it", key.kid);
        }
        KeysCommand::Jwks => {
            let auth = AuthConfig::from_env(env)?;
            println!(
                "{}",
                serde_json::to_string_pretty(&auth.tokens.keys().jwks())?
            );
        }
        KeysCommand::ServiceToken {
            org,
            name,
            role,
            ttl_seconds,
        } => {
            let auth = AuthConfig::from_env(env)?;
            let role = Role::parse(&role).expect("clap checked the role");
            let identity = Identity::new(&org, &format!("service:{name}"), role)
                .map_err(|e| anyhow::anyhow!("{}", e.message))?;
            let claims = auth.tokens.claims(
                &identity,
                TokenKind::Service,
                Duration::from_secs(ttl_seconds),
            );
            let token = auth
                .tokens
                .sign(&claims)
                .map_err(|e| anyhow::anyhow!("{}", e.message))?;
            println!("{token}");
        }
    }
    Ok(())
}

/// Creates an administrator: email from the flag, password from `COMMS_ADMIN_PASSWORD` or the
/// first line of standard input (so it stays out of the shell's history).
pub async fn create_admin(env: &Env, org: &str, email: &str) -> anyhow::Result<()> {
    let password = match env.get("COMMS_ADMIN_PASSWORD").filter(|p| !p.is_empty()) {
        Some(password) => password.to_owned(),
        None => {
            eprintln!("password (12-256 characters), then Enter:");
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .context("reading the password")?;
            line.trim_end_matches(['\r', '\n']).to_owned()
        }
    };
    let config = comms_edge::Config::from_env(env)?;
    let pool = comms_runtime::db::connect(&config.common.database_url, 2).await?;
    comms_runtime::db::migrate(&pool)
        .await
        .context("migrating the database")?;
    let store = comms_eventstore::EventStore::new(pool);
    let accounts = comms_edge::Accounts::new(store, config.auth.tokens, config.bcrypt_cost);
    let created = accounts
        .ensure_admin(org, email, &password)
        .await
        .map_err(|e| {
            let fields: Vec<String> = e
                .violations
                .iter()
                .map(|v| format!("{}: {}", v.field, v.description))
                .collect();
            anyhow::anyhow!("{} {}", e.message, fields.join("; "))
        })?;
    if created {
        println!("created administrator {email} in organization {org}");
    } else {
        println!("a user with email {email} already exists; nothing changed");
    }
    Ok(())
}
