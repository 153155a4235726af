//! Positions in the global order, saved by name in the same transaction as the effect they guard.

use sqlx::PgConnection;

/// A point in the global order `(tx_id, global_position)`. Readers return events after it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Checkpoint {
    pub tx_id: i64,
    pub global_position: i64,
}

impl Checkpoint {
    /// Before every event.
    pub const START: Self = Self {
        tx_id: 0,
        global_position: 0,
    };

    /// The checkpoint saved under `name`, or [`Checkpoint::START`].
    pub async fn load(conn: &mut PgConnection, name: &str) -> Result<Self, sqlx::Error> {
        let row: Option<(i64, i64)> =
            sqlx::query_as("SELECT tx_id, global_position FROM checkpoints WHERE name = $1")
                .bind(name)
                .fetch_optional(conn)
                .await?;
        Ok(row.map_or(Self::START, |(tx_id, global_position)| Self {
            tx_id,
            global_position,
        }))
    }

    /// The last event every reader can see now: reading from here yields only what comes next
    /// (and, at worst, events whose effects are already visible elsewhere, never a gap).
    pub async fn visible_head(conn: &mut PgConnection) -> Result<Self, sqlx::Error> {
        let row: Option<(i64, i64)> = sqlx::query_as(
            "SELECT tx_id::text::bigint, global_position FROM events
             WHERE tx_id < (SELECT comms_read_horizon())
             ORDER BY events.tx_id DESC, events.global_position DESC LIMIT 1",
        )
        .fetch_optional(conn)
        .await?;
        Ok(row.map_or(Self::START, |(tx_id, global_position)| Self {
            tx_id,
            global_position,
        }))
    }

    /// Saves the checkpoint; call it inside the transaction that applied the events.
    pub async fn save(self, conn: &mut PgConnection, name: &str) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO checkpoints (name, tx_id, global_position) VALUES ($1, $2, $3)
             ON CONFLICT (name) DO UPDATE
             SET tx_id = EXCLUDED.tx_id, global_position = EXCLUDED.global_position, updated_at = now()",
        )
        .bind(name)
        .bind(self.tx_id)
        .bind(self.global_position)
        .execute(conn)
        .await?;
        Ok(())
    }
}
