//! Do-not-call lists: `donotcall-<uuid>` streams (one per organization and list; the id derived
//! from both) folded into the `do_not_call` table.

use chrono::{DateTime, Utc};
use comms_events::contact::{DoNotCallEvent, ListChanged, NumbersAdded, NumbersRemoved};
use comms_eventstore::ExpectedVersion;
use comms_eventstore::unit_of_work::Failure;
use comms_proto::PhoneNumber;
use sqlx::PgConnection;
use uuid::Uuid;

use super::{Result, append};
pub use crate::domain::do_not_call::OPTED_OUT;

pub const STREAMS: &str = "donotcall";

const ID_NAMESPACE: Uuid = Uuid::from_u128(0x0b7e_93c1_58d2_4f6a_a1c4_27e9_d05b_8f13);

/// The list's stream: its category and id.
fn stream(org: &str, list: &str) -> (&'static str, Uuid) {
    (
        STREAMS,
        Uuid::new_v5(&ID_NAMESPACE, format!("{org}\n{list}").as_bytes()),
    )
}

/// Adds `numbers` to the list; returns how many were not on it already.
pub async fn add(
    tx: &mut PgConnection,
    org: &str,
    actor: &str,
    list: &str,
    numbers: &[PhoneNumber],
    at: DateTime<Utc>,
) -> Result<u64> {
    let change = ListChanged {
        list: list.to_owned(),
        numbers: numbers.to_vec(),
        at,
    };
    append(
        tx,
        org,
        actor,
        stream(org, list),
        ExpectedVersion::Any,
        &[DoNotCallEvent::from(NumbersAdded(change))],
    )
    .await?;
    let numbers: Vec<&str> = numbers.iter().map(PhoneNumber::as_str).collect();
    let added = sqlx::query(
        "INSERT INTO do_not_call (org_id, list, phone, added_at)
         SELECT $1, $2, phone, $4 FROM UNNEST($3::text[]) AS phone
         ON CONFLICT DO NOTHING",
    )
    .bind(org)
    .bind(list)
    .bind(&numbers)
    .bind(at)
    .execute(&mut *tx)
    .await?;
    Ok(added.rows_affected())
}

/// Removes `numbers` from the list; returns how many were on it.
pub async fn remove(
    tx: &mut PgConnection,
    org: &str,
    actor: &str,
    list: &str,
    numbers: &[PhoneNumber],
    at: DateTime<Utc>,
) -> Result<u64> {
    let change = ListChanged {
        list: list.to_owned(),
        numbers: numbers.to_vec(),
        at,
    };
    append(
        tx,
        org,
        actor,
        stream(org, list),
        ExpectedVersion::Any,
        &[DoNotCallEvent::from(NumbersRemoved(change))],
    )
    .await?;
    let numbers: Vec<&str> = numbers.iter().map(PhoneNumber::as_str).collect();
    let removed =
        sqlx::query("DELETE FROM do_not_call WHERE org_id = $1 AND list = $2 AND phone = ANY($3)")
            .bind(org)
            .bind(list)
            .bind(&numbers)
            .execute(&mut *tx)
            .await?;
    Ok(removed.rows_affected())
}

/// The lists a campaign naming `lists` honours: those, and the numbers that opted out
/// themselves ([`OPTED_OUT`]), which every campaign honours.
fn honoured(lists: &[String]) -> Vec<&str> {
    let mut honoured: Vec<&str> = lists.iter().map(String::as_str).collect();
    honoured.push(OPTED_OUT);
    honoured
}

/// Which of `lists` (and [`OPTED_OUT`]) hold `phone`, by name.
pub async fn lists_holding(
    conn: &mut PgConnection,
    org: &str,
    phone: &PhoneNumber,
    lists: &[String],
) -> Result<Vec<String>> {
    sqlx::query_scalar(
        "SELECT list FROM do_not_call WHERE org_id = $1 AND phone = $2 AND list = ANY($3) ORDER BY list",
    )
    .bind(org)
    .bind(phone.as_str())
    .bind(honoured(lists))
    .fetch_all(conn)
    .await
    .map_err(Failure::from)
}

/// The list's numbers with when each was added, in order, after `after`, at most `limit`.
pub async fn numbers(
    conn: &mut PgConnection,
    org: &str,
    list: &str,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<(String, DateTime<Utc>)>> {
    sqlx::query_as(
        "SELECT phone, added_at FROM do_not_call WHERE org_id = $1 AND list = $2 AND ($3::text IS NULL OR phone > $3)
         ORDER BY phone LIMIT $4",
    )
    .bind(org)
    .bind(list)
    .bind(after)
    .bind(limit)
    .fetch_all(conn)
    .await
    .map_err(Failure::from)
}

/// For each of `phones` on one of `lists` (or [`OPTED_OUT`]), the first such list (by name).
pub async fn lists_holding_any(
    conn: &mut PgConnection,
    org: &str,
    phones: &[&str],
    lists: &[String],
) -> Result<std::collections::HashMap<String, String>> {
    if phones.is_empty() {
        return Ok(Default::default());
    }
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT DISTINCT ON (phone) phone, list FROM do_not_call
         WHERE org_id = $1 AND phone = ANY($2) AND list = ANY($3) ORDER BY phone, list",
    )
    .bind(org)
    .bind(phones)
    .bind(honoured(lists))
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().collect())
}
