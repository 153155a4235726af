//! Tickets: how a browser opens the live feed without putting a long-lived token in a URL. A
//! signed-in client asks for one (`POST /live/ticket`) and opens the socket with
//! `?ticket=lt_…` within [`LIFETIME`]; the first socket to present it uses it up.

use std::time::Duration;

use chrono::{DateTime, Utc};
use comms_auth::{Identity, Role};
use comms_proto::{ApiError, ErrorKind};
use sqlx::PgPool;

pub const LIFETIME: Duration = Duration::from_secs(30);
pub const PREFIX: &str = "lt_";

/// A new ticket for `identity`: the ticket and when it expires.
pub async fn issue(
    pool: &PgPool,
    identity: &Identity,
) -> Result<(String, DateTime<Utc>), ApiError> {
    let (ticket, digest) = comms_auth::secrets::new_secret(PREFIX);
    let expires_at = Utc::now() + LIFETIME;
    // Expired tickets go as new ones come: the table holds at most a minute's worth.
    sqlx::query("DELETE FROM live_tickets WHERE expires_at < now() - interval '1 minute'")
        .execute(pool)
        .await
        .map_err(crate::auth::store_error)?;
    sqlx::query(
        "INSERT INTO live_tickets (digest, org_id, user_id, role, expires_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&digest)
    .bind(&identity.org_id)
    .bind(&identity.user_id)
    .bind(identity.role.as_str())
    .bind(expires_at)
    .execute(pool)
    .await
    .map_err(crate::auth::store_error)?;
    Ok((ticket, expires_at))
}

/// Who `ticket` was issued to, using it up; 401 if it is unknown, used or expired.
pub async fn redeem(pool: &PgPool, ticket: &str) -> Result<Identity, ApiError> {
    let digest = comms_auth::secrets::secret_digest(ticket);
    let row: Option<(String, String, String, bool)> = sqlx::query_as(
        "DELETE FROM live_tickets WHERE digest = $1
         RETURNING org_id, user_id, role, expires_at > now()",
    )
    .bind(&digest)
    .fetch_optional(pool)
    .await
    .map_err(crate::auth::store_error)?;
    let refused = || {
        ApiError::new(
            ErrorKind::Unauthenticated,
            "the ticket is unknown, used or expired: ask POST /api/communications/live/ticket for a new one",
        )
    };
    let (org, user, role, _) = row.filter(|row| row.3).ok_or_else(refused)?;
    Identity::new(&org, &user, Role::parse(&role).ok_or_else(refused)?)
}
