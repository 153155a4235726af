//! Test harness for the fleet: each test gets its own database and its own broker names, so
//! tests run in parallel against the real PostgreSQL and RabbitMQ without seeing each other.

mod fault_proxy;

pub use fault_proxy::{FaultProxy, Link};

use sqlx::{Connection, PgConnection, PgPool};
use uuid::Uuid;

/// The server tests create their databases on; `TEST_DATABASE_URL` overrides it.
pub fn admin_database_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// The broker tests use; `TEST_RABBITMQ_URL` overrides it.
pub fn amqp_url() -> String {
    std::env::var("TEST_RABBITMQ_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned())
}

/// `prefix` plus a random suffix: exchange, queue and consumer names no other test uses.
pub fn unique_name(prefix: &str) -> String {
    format!("{prefix}.{}", Uuid::new_v4().simple())
}

/// A port free now for a process a test starts, below the kernel's ephemeral range (32768 and
/// up on Linux): a port the kernel hands out for `bind(0)` is also one it may give any other
/// test's outgoing connection before that process binds it ("Address already in use"). Never
/// the same port twice in one test process (an instance's two ports are asked one after the
/// other before it binds either), nor one another test process still running took: a port is
/// claimed by creating `<temp>/comms-test-ports/<port>` holding the claiming process's id, and a
/// claim whose process is gone is taken over.
pub fn free_port() -> u16 {
    static HANDED_OUT: std::sync::Mutex<std::collections::BTreeSet<u16>> =
        std::sync::Mutex::new(std::collections::BTreeSet::new());
    loop {
        let port = 20_000 + (Uuid::new_v4().as_u128() % 12_000) as u16;
        let mut handed_out = HANDED_OUT.lock().expect("not poisoned");
        if !handed_out.contains(&port)
            && claim_port(port)
            && std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
        {
            handed_out.insert(port);
            return port;
        }
    }
}

/// Whether this process now holds the claim on `port` (see [`free_port`]).
fn claim_port(port: u16) -> bool {
    use std::io::Write as _;
    let dir = std::env::temp_dir().join("comms-test-ports");
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join(port.to_string());
    let ours = std::process::id().to_string();
    for _ in 0..2 {
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(mut file) => return file.write_all(ours.as_bytes()).is_ok(),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                // Someone's claim: kept while its process runs (a claim being written reads
                // empty, and is kept too); a finished process's is removed and tried again.
                let holder = std::fs::read_to_string(&path).unwrap_or_default();
                let alive =
                    holder.is_empty() || std::path::Path::new("/proc").join(holder.trim()).exists();
                if alive || holder.trim() == ours {
                    return false;
                }
                let _ = std::fs::remove_file(&path);
            }
            // No place to claim in: the bind check alone, as before.
            Err(_) => return true,
        }
    }
    false
}

/// A freshly created, migrated database of this test's own, named `comms_test_<pid>_<random>`
/// after the process that made it: `scripts/test` drops those whose process is gone, never
/// another run's that is still going.
pub struct TestDatabase {
    pub url: String,
    pub pool: PgPool,
}

impl TestDatabase {
    pub async fn new() -> Self {
        let admin_url = admin_database_url();
        let name = format!(
            "comms_test_{}_{}",
            std::process::id(),
            Uuid::new_v4().simple()
        );
        let mut admin = PgConnection::connect(&admin_url)
            .await
            .expect("PostgreSQL is reachable at TEST_DATABASE_URL (run scripts/test)");
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .expect("create test database");
        let url = replace_database(&admin_url, &name);
        let pool = comms_runtime::db::connect(&url, 20)
            .await
            .expect("connect to test database");
        comms_runtime::db::migrate(&pool)
            .await
            .expect("migrate test database");
        Self { url, pool }
    }

    /// A pool of this database whose connections go through `proxy`, so a test can cut them.
    pub async fn pool_through(&self, proxy: &FaultProxy) -> PgPool {
        comms_runtime::db::connect(&proxy.url(&self.url), 5)
            .await
            .expect("connect through the fault proxy")
    }
}

fn replace_database(url: &str, database: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let base = base.rsplit_once('/').map_or(base, |(server, _)| server);
    match query {
        Some(query) => format!("{base}/{database}?{query}"),
        None => format!("{base}/{database}"),
    }
}

/// A connection to the test broker.
pub async fn amqp_connection() -> lapin::Connection {
    lapin::Connection::connect(&amqp_url(), lapin::ConnectionProperties::default())
        .await
        .expect("RabbitMQ is reachable at TEST_RABBITMQ_URL (run scripts/test)")
}

/// A connection to the test broker as `comms-test-outsider`, a user playing another platform
/// module (`scripts/test` creates it).
pub async fn outsider_amqp_connection() -> lapin::Connection {
    let url = amqp_url();
    let (scheme, rest) = url.split_once("://").expect("a URL with a scheme");
    let server = rest.rsplit_once('@').map_or(rest, |(_, server)| server);
    let outsider = format!("{scheme}://comms-test-outsider:outsider@{server}");
    lapin::Connection::connect(&outsider, lapin::ConnectionProperties::default())
        .await
        .expect("the RabbitMQ user comms-test-outsider exists (scripts/test creates it)")
}

#[cfg(test)]
mod tests {
    #[test]
    fn replaces_the_database_keeping_the_query() {
        assert_eq!(
            super::replace_database("postgres://u@h:5432/postgres?sslmode=disable", "x"),
            "postgres://u@h:5432/x?sslmode=disable"
        );
        assert_eq!(
            super::replace_database("postgres://u@h/db", "x"),
            "postgres://u@h/x"
        );
    }

    #[test]
    fn a_port_another_running_process_claimed_is_not_claimed_again_unlike_a_finished_ones() {
        let dir = std::env::temp_dir().join("comms-test-ports");
        let port = super::free_port();
        let claim = dir.join(port.to_string());
        assert_eq!(
            std::fs::read_to_string(&claim).unwrap(),
            std::process::id().to_string()
        );
        // Process 1 runs as long as the machine does.
        std::fs::write(&claim, "1").unwrap();
        assert!(!super::claim_port(port));
        // No process has this id (above Linux's largest, 2^22).
        std::fs::write(&claim, "4194305").unwrap();
        assert!(super::claim_port(port));
        assert_eq!(
            std::fs::read_to_string(&claim).unwrap(),
            std::process::id().to_string()
        );
    }
}
