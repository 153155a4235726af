//! Contacts: `contact-<uuid>` streams and `contacts_view`. A new contact's id is derived from its
//! organization and identity key, so two imports racing to create the same person append to the
//! same stream and one of them finds the other's.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use comms_eventstore::unit_of_work::Failure;
use sqlx::PgConnection;
use sqlx::types::Json;
use uuid::Uuid;

use super::{Result, Versioned, append, expected, refused};
use crate::domain::contact::{self, Contact, ContactFields};

pub const STREAMS: &str = "contact";

const ID_NAMESPACE: Uuid = Uuid::from_u128(0x6f1c_2b4e_7a3d_4c59_9e08_5d2a_41b7_c3e6);

fn derived_id(org: &str, identity_key: &str) -> Uuid {
    Uuid::new_v5(&ID_NAMESPACE, format!("{org}\n{identity_key}").as_bytes())
}

/// What an upsert did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upserted {
    Created,
    Updated,
    Unchanged,
}

type Row = (i64, Json<Contact>);

fn versioned((version, contact): Row) -> Versioned<Contact> {
    Versioned {
        value: contact.0,
        version: version as u64,
    }
}

pub async fn get(conn: &mut PgConnection, org: &str, id: Uuid) -> Result<Versioned<Contact>> {
    let row: Option<Row> = sqlx::query_as(
        "SELECT version, contact FROM contacts_view WHERE contact_id = $1 AND org_id = $2",
    )
    .bind(id)
    .bind(org)
    .fetch_optional(conn)
    .await?;
    row.map(versioned)
        .ok_or_else(|| Failure::not_found("contact", id))
}

/// The organization's contacts among `ids`, by id.
pub async fn get_many(
    conn: &mut PgConnection,
    org: &str,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, Contact>> {
    let rows: Vec<(Json<Contact>,)> = sqlx::query_as(
        "SELECT contact FROM contacts_view WHERE org_id = $1 AND contact_id = ANY($2)",
    )
    .bind(org)
    .bind(ids)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|(c,)| (c.0.id, c.0)).collect())
}

/// A contact of the organization with `number` among its phones (the oldest, if several).
pub async fn find_by_phone(
    conn: &mut PgConnection,
    org: &str,
    number: &comms_proto::PhoneNumber,
) -> Result<Option<Contact>> {
    let row: Option<(Json<Contact>,)> = sqlx::query_as(
        "SELECT contact FROM contacts_view WHERE org_id = $1 AND contact -> 'phones' ? $2
         ORDER BY created_at, contact_id LIMIT 1",
    )
    .bind(org)
    .bind(number.as_str())
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|(c,)| c.0))
}

/// The contact the CRM knows by `external_id`.
pub async fn find_by_external_id(
    conn: &mut PgConnection,
    org: &str,
    external_id: &str,
) -> Result<Option<Contact>> {
    let row: Option<(Json<Contact>,)> =
        sqlx::query_as("SELECT contact FROM contacts_view WHERE org_id = $1 AND external_id = $2")
            .bind(org)
            .bind(external_id)
            .fetch_optional(conn)
            .await?;
    Ok(row.map(|(c,)| c.0))
}

/// Creates the contact `fields` identify, or brings it up to date; an identical contact
/// changes nothing and records nothing.
pub async fn upsert(
    tx: &mut PgConnection,
    org: &str,
    actor: &str,
    fields: ContactFields,
    at: DateTime<Utc>,
) -> Result<(Versioned<Contact>, Upserted)> {
    let key = contact::identity_key(&fields);
    let row: Option<Row> = sqlx::query_as(
        "SELECT version, contact FROM contacts_view WHERE org_id = $1 AND identity_key = $2 FOR UPDATE",
    )
    .bind(org)
    .bind(&key)
    .fetch_optional(&mut *tx)
    .await
    ?;
    let current = row.map(versioned);
    let id = current
        .as_ref()
        .map_or_else(|| derived_id(org, &key), |c| c.value.id);
    let change = contact::upsert(current.as_ref().map(|c| &c.value), id, fields, at)
        .map_err(|e| refused(e, "contact", id))?;
    let Some(event) = change else {
        let current = current.expect("only an existing contact can be unchanged");
        return Ok((current, Upserted::Unchanged));
    };
    let upserted = if current.is_some() {
        Upserted::Updated
    } else {
        Upserted::Created
    };
    let version = append(
        tx,
        org,
        actor,
        (STREAMS, id),
        expected(current.as_ref().map(|c| c.version)),
        std::slice::from_ref(&event),
    )
    .await?;
    let contact = contact::apply(current.map(|c| c.value), &event);
    sqlx::query(
        "INSERT INTO contacts_view (contact_id, org_id, identity_key, external_id, name, contact, created_at, version, zones)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (contact_id) DO UPDATE
         SET identity_key = $3, external_id = $4, name = $5, contact = $6, version = $8, zones = $9",
    )
    .bind(contact.id)
    .bind(org)
    .bind(contact::identity_key(&contact.fields))
    .bind(&contact.fields.external_id)
    .bind(&contact.fields.name)
    .bind(Json(&contact))
    .bind(contact.created_at)
    .bind(version as i64)
    .bind(zone_names(&contact))
    .execute(&mut *tx)
    .await
    ?;
    Ok((
        Versioned {
            value: contact,
            version,
        },
        upserted,
    ))
}

/// The names of the zones the contact may be in, as `contacts_view.zones` keeps them.
fn zone_names(contact: &Contact) -> Vec<&'static str> {
    contact.zones().iter().map(|zone| zone.name()).collect()
}

/// Fills in the zones of contacts written before they were kept (migration 0017), a batch at a
/// time; returns how many it filled. Safe to run from several replicas at once.
pub async fn fill_missing_zones(pool: &sqlx::PgPool) -> std::result::Result<u64, sqlx::Error> {
    let mut filled = 0;
    loop {
        let rows: Vec<(Uuid, Json<Contact>)> = sqlx::query_as(
            "SELECT contact_id, contact FROM contacts_view WHERE zones IS NULL LIMIT 500",
        )
        .fetch_all(pool)
        .await?;
        if rows.is_empty() {
            return Ok(filled);
        }
        for (id, contact) in rows {
            sqlx::query(
                "UPDATE contacts_view SET zones = $2 WHERE contact_id = $1 AND zones IS NULL",
            )
            .bind(id)
            .bind(zone_names(&contact.0))
            .execute(pool)
            .await?;
            filled += 1;
        }
    }
}

/// A page of the organization's contacts, newest first, after the cursor `(created_at, id)`.
pub async fn list(
    conn: &mut PgConnection,
    org: &str,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<Contact>> {
    let (at, id) = after.unzip();
    let rows: Vec<(Json<Contact>,)> = sqlx::query_as(
        "SELECT contact FROM contacts_view
         WHERE org_id = $1 AND ($2::timestamptz IS NULL OR (created_at, contact_id) < ($2, $3))
         ORDER BY created_at DESC, contact_id DESC LIMIT $4",
    )
    .bind(org)
    .bind(at)
    .bind(id)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|(c,)| c.0).collect())
}

/// [`upsert`] for the CRM's event of `crm_at`: one older than the last applied changes nothing
/// (events may arrive late or out of order).
pub async fn sync_from_crm(
    tx: &mut PgConnection,
    org: &str,
    fields: ContactFields,
    crm_at: DateTime<Utc>,
) -> Result<Upserted> {
    let external_id = fields.external_id.clone().unwrap_or_default();
    let synced: Option<Option<DateTime<Utc>>> = sqlx::query_scalar(
        "SELECT crm_synced_at FROM contacts_view WHERE org_id = $1 AND external_id = $2 FOR UPDATE",
    )
    .bind(org)
    .bind(&external_id)
    .fetch_optional(&mut *tx)
    .await?;
    if synced.flatten().is_some_and(|last| last > crm_at) {
        return Ok(Upserted::Unchanged);
    }
    let (contact, upserted) = upsert(tx, org, CRM_ACTOR, fields, Utc::now()).await?;
    sqlx::query("UPDATE contacts_view SET crm_synced_at = $2 WHERE contact_id = $1")
        .bind(contact.value.id)
        .bind(crm_at)
        .execute(&mut *tx)
        .await?;
    Ok(upserted)
}

/// Who contact changes from the CRM's events are recorded as.
pub const CRM_ACTOR: &str = "system:crm-sync";
