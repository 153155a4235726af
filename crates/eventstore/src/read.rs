//! Reading a stream forward, and `$all` or a category forward from a checkpoint.

use sqlx::PgConnection;

use crate::{Checkpoint, EventStore, RecordedEvent, Result, StreamName};

/// The columns of [`RecordedEvent`]; a macro so queries stay `&'static str`. The output column
/// `tx_id` is a cast, so ordering must name `events.tx_id` to use the index.
macro_rules! select_events {
    ($($rest:expr),*) => {
        concat!(
            "SELECT global_position, tx_id::text::bigint AS tx_id, event_id, stream_name,
                    stream_position, event_type, tenant_id, data, metadata, recorded_at
             FROM events ",
            $($rest),*
        )
    };
}

/// Rows visible to a global-order reader: after the checkpoint, and committed by a transaction
/// older than every running one that appends.
macro_rules! visible_after_checkpoint {
    () => {
        "(tx_id, global_position) > ($1::bigint::text::xid8, $2)
         AND tx_id < (SELECT comms_read_horizon())"
    };
}

/// Which part of the global order to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    /// `$all`: every event.
    All,
    /// One stream category, e.g. `call`.
    Category(String),
}

/// Events of `stream` from position `from` on, at most `max` of them, read on `conn` (in the
/// caller's transaction, as a unit of work loads its aggregate).
pub async fn read_stream_in(
    conn: &mut PgConnection,
    stream: &StreamName,
    from: u64,
    max: usize,
) -> Result<Vec<RecordedEvent>> {
    let sql = select_events!(
        "WHERE stream_name = $1 AND stream_position >= $2 ORDER BY stream_position LIMIT $3"
    );
    Ok(sqlx::query_as(sql)
        .bind(stream.as_str())
        .bind(from as i64)
        .bind(max as i64)
        .fetch_all(conn)
        .await?)
}

impl EventStore {
    /// Events of `stream` from position `from` on, at most `max` of them.
    pub async fn read_stream(
        &self,
        stream: &StreamName,
        from: u64,
        max: usize,
    ) -> Result<Vec<RecordedEvent>> {
        read_stream_in(&mut *self.pool.acquire().await?, stream, from, max).await
    }

    /// Events after `after` in the global order, at most `max`.
    ///
    /// Only transactions older than every running one that appends are read (`tx_id` below
    /// `comms_read_horizon()`, migrations/0020), so an event whose transaction is still open
    /// cannot be passed over: it will sort after `after` once committed. Transactions that do
    /// not append (a projection's, however long) hold nothing back.
    pub async fn read_all(
        &self,
        after: Checkpoint,
        filter: &Filter,
        max: usize,
    ) -> Result<Vec<RecordedEvent>> {
        let (category, sql) = match filter {
            Filter::All => (
                None,
                select_events!(
                    "WHERE ",
                    visible_after_checkpoint!(),
                    " ORDER BY events.tx_id, events.global_position LIMIT $3"
                ),
            ),
            Filter::Category(category) => (
                Some(category.as_str()),
                select_events!(
                    "WHERE stream_category = $4 AND ",
                    visible_after_checkpoint!(),
                    " ORDER BY events.tx_id, events.global_position LIMIT $3"
                ),
            ),
        };
        let mut query = sqlx::query_as(sql)
            .bind(after.tx_id)
            .bind(after.global_position)
            .bind(max as i64);
        if let Some(category) = category {
            query = query.bind(category);
        }
        Ok(query.fetch_all(&self.pool).await?)
    }
}
