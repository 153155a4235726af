//! The organization's phone numbers: each decision appended to the number's stream and written
//! to the read model (`numbers_view`) in one transaction, where the rule that a number belongs
//! to one organization at a time is kept (a unique index over the numbers in use).

pub mod domain;

use chrono::Utc;
use comms_auth::Identity;
use comms_events::number::{NumberEvent, NumberSettings};
use comms_eventstore::{EventStore, NewEvent, StreamName, in_transaction};
use comms_proto::{ApiError, ErrorKind, PhoneNumber};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use domain::Command;
pub use domain::Number;

use crate::domain::DomainError;

const STREAM_CATEGORY: &str = "number";
/// More numbers than any organization holds; a list is never cut short in practice.
const MAX_LISTED: i64 = 1000;

#[derive(Clone)]
pub struct Numbers {
    store: EventStore,
}

fn refused(id: Uuid, number: Option<&PhoneNumber>, error: DomainError) -> ApiError {
    match error {
        DomainError::NotFound => ApiError::not_found("number", &id.to_string()),
        DomainError::AlreadyExists => in_use(number),
        DomainError::Invalid { field, reason } => ApiError::invalid(field, reason),
        other => ApiError::new(ErrorKind::FailedPrecondition, other.to_string()),
    }
}

fn in_use(number: Option<&PhoneNumber>) -> ApiError {
    let number = number.map_or("the number", PhoneNumber::as_str);
    ApiError::new(
        ErrorKind::AlreadyExists,
        format!("{number} is assigned already; release it before assigning it again"),
    )
}

impl Numbers {
    pub fn new(store: EventStore) -> Self {
        Self { store }
    }

    /// Gives `number` to the caller's organization.
    pub async fn assign(
        &self,
        identity: &Identity,
        number: PhoneNumber,
        settings: NumberSettings,
    ) -> Result<Number, ApiError> {
        let id = Uuid::now_v7();
        self.decide(identity, id, || Command::Assign {
            number_id: id,
            number: number.clone(),
            settings: settings.clone(),
            at: Utc::now(),
        })
        .await
    }

    pub async fn update(
        &self,
        identity: &Identity,
        id: Uuid,
        settings: NumberSettings,
    ) -> Result<Number, ApiError> {
        self.decide(identity, id, || Command::Update {
            settings: settings.clone(),
            at: Utc::now(),
        })
        .await
    }

    pub async fn release(&self, identity: &Identity, id: Uuid) -> Result<Number, ApiError> {
        self.decide(identity, id, || Command::Release { at: Utc::now() })
            .await
    }

    /// The organization's number `id`, unless released.
    pub async fn get(&self, org: &str, id: Uuid) -> Result<Number, ApiError> {
        let found: Option<sqlx::types::Json<Number>> = sqlx::query_scalar(
            "SELECT state FROM numbers_view
             WHERE number_id = $1 AND organization_id = $2 AND NOT released",
        )
        .bind(id)
        .bind(org)
        .fetch_optional(self.pool())
        .await
        .map_err(comms_eventstore::unit_of_work::api_error)?;
        found
            .map(|json| json.0)
            .ok_or_else(|| ApiError::not_found("number", &id.to_string()))
    }

    /// The organization's number `number` in use, if it has it: where its calls go.
    pub async fn find(&self, org: &str, number: &PhoneNumber) -> Result<Option<Number>, ApiError> {
        let found: Option<sqlx::types::Json<Number>> = sqlx::query_scalar(
            "SELECT state FROM numbers_view
             WHERE number = $1 AND organization_id = $2 AND NOT released",
        )
        .bind(number.as_str())
        .bind(org)
        .fetch_optional(self.pool())
        .await
        .map_err(comms_eventstore::unit_of_work::api_error)?;
        Ok(found.map(|json| json.0))
    }

    /// The organization's numbers in use, in the order of their digits.
    pub async fn list(&self, org: &str) -> Result<Vec<Number>, ApiError> {
        let rows: Vec<sqlx::types::Json<Number>> = sqlx::query_scalar(
            "SELECT state FROM numbers_view WHERE organization_id = $1 AND NOT released
             ORDER BY number LIMIT $2",
        )
        .bind(org)
        .bind(MAX_LISTED)
        .fetch_all(self.pool())
        .await
        .map_err(comms_eventstore::unit_of_work::api_error)?;
        Ok(rows.into_iter().map(|json| json.0).collect())
    }

    fn pool(&self) -> &PgPool {
        self.store.pool()
    }

    async fn decide(
        &self,
        identity: &Identity,
        id: Uuid,
        command: impl Fn() -> Command,
    ) -> Result<Number, ApiError> {
        let stream = StreamName::new(STREAM_CATEGORY, id);
        let org = identity.org_id.as_str();
        in_transaction!(self.store, |tx| {
            let (state, expected) =
                crate::stream::load(&mut *tx, org, &stream, "number", domain::apply).await?;
            let command = command();
            let assigning = match &command {
                Command::Assign { number, .. } => Some(number.clone()),
                _ => None,
            };
            let events = domain::handle(state.as_ref(), command)
                .map_err(|e| refused(id, assigning.as_ref(), e))?;
            if let Some(number) = &assigning
                && in_use_anywhere(&mut *tx, number).await?
            {
                return Err(in_use(Some(number)));
            }
            if let Some(flow) = events.iter().find_map(flow_given) {
                crate::ivr::published_for_number(&mut *tx, org, flow).await?;
            }
            if events.is_empty() {
                return state.ok_or_else(|| ApiError::not_found("number", &id.to_string()));
            }
            let number = events
                .iter()
                .fold(state, |state, event| Some(domain::apply(state, event)))
                .expect("a command that succeeds leaves a number");
            let new_events: Vec<NewEvent> = events
                .iter()
                .map(|e| comms_bus::new_event(e, &identity.user_id, None))
                .collect();
            let appended =
                comms_eventstore::append_in(&mut *tx, org, &stream, expected, new_events)
                    .await
                    .map_err(comms_eventstore::unit_of_work::api_error)?;
            upsert(&mut *tx, org, &number, appended.next_expected_version)
                .await
                .map_err(|e| match &e {
                    // A concurrent assignment of the same number won.
                    sqlx::Error::Database(d) if d.is_unique_violation() => {
                        in_use(Some(&number.number))
                    }
                    _ => comms_eventstore::unit_of_work::api_error(e),
                })?;
            Ok(number)
        })
    }
}

/// The IVR flow a number is given (or keeps) by `event`.
fn flow_given(event: &NumberEvent) -> Option<Uuid> {
    match event {
        NumberEvent::Assigned(e) => e.settings.ivr_flow_id,
        NumberEvent::Updated(e) => e.settings.ivr_flow_id,
        NumberEvent::Released(_) => None,
    }
}

async fn in_use_anywhere(tx: &mut PgConnection, number: &PhoneNumber) -> Result<bool, ApiError> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM numbers_view WHERE number = $1 AND NOT released)",
    )
    .bind(number.as_str())
    .fetch_one(tx)
    .await
    .map_err(comms_eventstore::unit_of_work::api_error)
}

async fn upsert(
    tx: &mut PgConnection,
    org: &str,
    number: &Number,
    version: u64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO numbers_view (number_id, organization_id, number, released, created_at,
                                   version, state)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (number_id) DO UPDATE
         SET released = EXCLUDED.released, version = EXCLUDED.version, state = EXCLUDED.state",
    )
    .bind(number.id)
    .bind(org)
    .bind(number.number.as_str())
    .bind(number.released)
    .bind(number.created_at)
    .bind(version as i64)
    .bind(sqlx::types::Json(number))
    .execute(tx)
    .await?;
    Ok(())
}
