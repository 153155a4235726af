//! One active instance of a role across the fleet (the relay, the dialer): whichever holds a
//! PostgreSQL session advisory lock. The others stand by and take over when it is released.
//!
//! A process that dies closes its session and the lock goes at once. A node that vanishes
//! without closing its sockets is the hard case: the server would keep the session, and the
//! lock, until the operating system's keepalive gives up (two hours by default). So the lock's
//! session carries `idle_session_timeout`: the holder pings every [`PING_EVERY`], and a holder
//! gone silent loses its session, and the lock, [`SILENT_HOLDER_TIMEOUT`] after its last ping.
//! The holder, for its part, gives up the role when a ping goes unanswered for
//! [`PING_TIMEOUT`]: it stops acting at most `PING_EVERY + PING_TIMEOUT` after its last good
//! ping, well before the server hands the lock to anyone else.

use std::time::Duration;

use sqlx::{PgConnection, PgPool};

/// How often the holder proves, to itself and to the server, that it still holds the lock.
pub const PING_EVERY: Duration = Duration::from_secs(2);
/// A ping unanswered this long means the holder can no longer vouch for its lock.
pub const PING_TIMEOUT: Duration = Duration::from_secs(3);
/// The server ends a holder's session this long after its last query, releasing the lock.
pub const SILENT_HOLDER_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a holder gave up its role.
#[derive(Debug, thiserror::Error)]
pub enum LockLost {
    #[error("the lock's session is gone: {0}")]
    SessionGone(sqlx::Error),
    #[error("the lock's session did not answer within {0:?}")]
    Unanswered(Duration),
}

/// The held lock of role `name`. Dropping it closes the session and releases the lock.
pub struct LeaderLock {
    conn: PgConnection,
}

impl LeaderLock {
    /// Takes the lock if no one holds it. The session is detached from the pool: it lives
    /// exactly as long as the lock.
    pub async fn try_acquire(pool: &PgPool, name: &str) -> Result<Option<Self>, sqlx::Error> {
        let mut conn = pool.acquire().await?.detach();
        let timeout = format!("{}s", SILENT_HOLDER_TIMEOUT.as_secs());
        sqlx::query("SELECT set_config('idle_session_timeout', $1, false)")
            .bind(timeout)
            .execute(&mut conn)
            .await?;
        let acquired: bool =
            sqlx::query_scalar("SELECT pg_try_advisory_lock(hashtextextended($1, 0))")
                .bind(name)
                .fetch_one(&mut conn)
                .await?;
        Ok(acquired.then_some(Self { conn }))
    }

    /// Pings the lock's session until the lock can no longer be vouched for, then says why.
    /// Run the role's work alongside it and stop the work when it resolves (`tokio::select!`).
    pub async fn lost(&mut self) -> LockLost {
        loop {
            tokio::time::sleep(PING_EVERY).await;
            let ping = sqlx::query("SELECT 1").execute(&mut self.conn);
            match tokio::time::timeout(PING_TIMEOUT, ping).await {
                Ok(Ok(_)) => {}
                Ok(Err(error)) => return LockLost::SessionGone(error),
                Err(_) => return LockLost::Unanswered(PING_TIMEOUT),
            }
        }
    }

    /// Releases the lock by closing its session, without waiting on a server that may be gone.
    pub async fn release(self) {
        use sqlx::Connection as _;
        let _ = tokio::time::timeout(PING_TIMEOUT, self.conn.close()).await;
    }
}
