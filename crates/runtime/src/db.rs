//! The PostgreSQL pool every service uses, and the fleet's migrations.

use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

/// Every migration of the fleet (`migrations/`), embedded in the binary for `comms migrate`.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");

/// A transaction left idle this long is killed: a stuck transaction holds back the snapshot
/// horizon and so stalls every reader of the log.
const IDLE_IN_TRANSACTION_TIMEOUT: &str = "10s";

/// A query whose client has gone (a consumer that gave up on a transaction its database did not
/// answer in time) is ended by the server within this, rather than when it would have finished,
/// so it stops holding locks and rows others wait for.
const CLIENT_CHECK_INTERVAL: &str = "5s";

/// The server probes an idle connection after 10 s, every 5 s, and drops it after 3 unanswered
/// probes or 30 s of unacknowledged data: a session whose node vanished without closing its
/// socket is ended in under a minute, not after the operating system's two hours. (The leader
/// locks need less than a minute; `comms_eventstore::leadership` bounds them by itself.)
const SERVER_KEEPALIVE: [(&str, &str); 4] = [
    ("tcp_keepalives_idle", "10"),
    ("tcp_keepalives_interval", "5"),
    ("tcp_keepalives_count", "3"),
    ("tcp_user_timeout", "30000"),
];

/// Connects a pool of up to `max_connections` to `url`.
pub async fn connect(url: &str, max_connections: u32) -> Result<PgPool, sqlx::Error> {
    let options: PgConnectOptions = url.parse()?;
    let options = options
        .application_name("comms")
        .options([
            (
                "idle_in_transaction_session_timeout",
                IDLE_IN_TRANSACTION_TIMEOUT,
            ),
            ("client_connection_check_interval", CLIENT_CHECK_INTERVAL),
        ])
        .options(SERVER_KEEPALIVE);
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(5))
        .connect_with(options)
        .await
}

/// Applies the migrations that have not run yet.
pub async fn migrate(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    MIGRATOR.run(pool).await
}
