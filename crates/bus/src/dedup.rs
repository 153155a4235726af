//! The consumers' record of the messages they applied (`processed_messages`), which makes a
//! redelivery harmless, is kept for a week and pruned after, so it does not grow forever. A week
//! is far longer than any redelivery can come: the broker's, of a message left unacknowledged
//! (within its consumer timeout, 30 minutes); the relay's republished tail after a takeover
//! (seconds). A dead-lettered message was never recorded, so replaying it later applies it.

use std::time::Duration;

use sqlx::PgPool;
use tracing::{info, warn};

/// How long a consumer remembers a message it applied.
pub const DEDUP_WINDOW: Duration = Duration::from_secs(7 * 24 * 3600);
/// How often each consumer prunes its older records.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);
/// Records deleted per statement, so a large backlog never holds a long transaction.
const PRUNE_BATCH: i64 = 10_000;

/// Deletes `consumer`'s records of messages applied more than `older_than` ago, a batch at a
/// time; returns how many it deleted.
pub async fn prune_processed(
    pool: &PgPool,
    consumer: &str,
    older_than: Duration,
) -> Result<u64, sqlx::Error> {
    let mut deleted = 0;
    loop {
        let batch = sqlx::query(
            "DELETE FROM processed_messages WHERE ctid IN (
                 SELECT ctid FROM processed_messages
                 WHERE consumer = $1 AND processed_at < now() - make_interval(secs => $2)
                 LIMIT $3)",
        )
        .bind(consumer)
        .bind(older_than.as_secs_f64())
        .bind(PRUNE_BATCH)
        .execute(pool)
        .await?
        .rows_affected();
        deleted += batch;
        if batch < PRUNE_BATCH as u64 {
            return Ok(deleted);
        }
    }
}

/// Prunes `consumer`'s records now and every hour after; never returns.
pub(crate) async fn keep_pruning(pool: &PgPool, consumer: &str) {
    loop {
        match prune_processed(pool, consumer, DEDUP_WINDOW).await {
            Ok(0) => {}
            Ok(deleted) => info!(
                consumer,
                deleted, "pruned records of messages applied over a week ago"
            ),
            Err(error) => {
                warn!(consumer, %error, "pruning processed messages failed; trying again later")
            }
        }
        tokio::time::sleep(PRUNE_EVERY).await;
    }
}
